"""PostgreSQL rows passed through to a PostgreSQL-wire client, on Trio, without libpq.

A PostgreSQL-wire client asking a PostgreSQL cluster for rows in text wants what the
server already wrote: the same RowDescription, the same DataRow bytes. Taking them
through psycopg (a worker thread, a Python object per value, an Arrow column per batch,
then text again) cost most of a point query's time in the proxy. Here the engine speaks
the protocol itself (`qflux.protocols.pgwire_client`) on pooled Trio connections, and the
frontend forwards runs of DataRow messages as they arrived, without decoding a value.

Each connection matches the asking session's TimeZone before a query (SET when it
differs), as timestamptz text depends on it; DateStyle and IntervalStyle are fixed at
startup to what the frontend reports. A query that is cancelled (or abandoned before its
last row) gets a CancelRequest on a side connection, and its connection is closed, never
reused. A connection the server ended while it sat idle is noticed (it has become
readable) and replaced before use.

Only what libpq's connection string means here can be honoured, so an endpoint with any
other setting (multiple hosts, client certificates, a service file, Kerberos) is left to
psycopg: `WireEndpoint.from_params` says why.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import attrs
import pyarrow as pa
import scramp
import structlog
import trio

from qflux.core import ErrorCode, PgRows, QueryError, Result
from qflux.protocols import pgwire as pg
from qflux.protocols import pgwire_client as wire
from qflux.protocols.common import NEED_DATA
from qflux.stream_io import receive_some, send_all

log = structlog.get_logger("qflux.engines.postgres")

RECEIVE_BYTES = 65_536
#: An idle pass-through connection unused this long is closed (PgBouncer's default).
MAX_IDLE_SECS = 600.0
CANCEL_TIMEOUT_SECS = 5.0
#: conninfo keys this client honours; the last three are psycopg's own, not libpq's.
_KNOWN_KEYS = frozenset(
    {
        "host", "port", "user", "password", "dbname", "sslmode", "sslrootcert", "options",
        "application_name", "connect_timeout", "autocommit", "prepare_threshold", "context",
    }
)  # fmt: skip
_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})


class WireError(Exception):
    """The connection failed (not the statement): it is closed and not reused."""


class WireUnsupported(WireError):
    """The server wants what only libpq offers here (a password from a password file,
    Kerberos ...): the engine leaves its queries to psycopg."""


@attrs.frozen
class WireEndpoint:
    """Where and as whom to connect, from libpq connection parameters."""

    host: str
    port: int
    user: str
    password: str | None
    sslmode: str
    sslrootcert: str | None
    connect_timeout: float
    startup: Mapping[str, str]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> WireEndpoint | str:
        """The endpoint, or why these parameters need libpq."""
        unknown = sorted(set(params) - _KNOWN_KEYS)
        if unknown:
            return f"the endpoint sets {', '.join(unknown)}"
        host = str(params.get("host") or os.environ.get("PGHOST") or "")
        if not host or "," in host:
            return "the endpoint names no single host"
        sslmode = str(params.get("sslmode") or os.environ.get("PGSSLMODE") or "prefer")
        if sslmode not in _SSLMODES:
            return f"sslmode {sslmode!r}"
        port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
        if not port.isdigit():
            return "the endpoint names several ports"
        user = str(params.get("user") or os.environ.get("PGUSER") or getpass.getuser())
        startup = {
            "user": user,
            "database": str(params.get("dbname") or os.environ.get("PGDATABASE") or user),
            "client_encoding": "UTF8",
            "application_name": str(params.get("application_name") or ""),
            "options": str(params.get("options") or ""),
        }
        password = params.get("password") or os.environ.get("PGPASSWORD")
        return cls(
            host=host,
            port=int(port),
            user=user,
            password=str(password) if password else None,
            sslmode="disable" if host.startswith("/") else sslmode,
            sslrootcert=params.get("sslrootcert"),
            connect_timeout=float(params.get("connect_timeout") or 10),
            startup={k: v for k, v in startup.items() if v},
        )

    async def open(self) -> trio.SocketStream:
        """A socket to the server: a Unix socket in the `host` directory, or TCP."""
        if self.host.startswith("/"):
            return await trio.open_unix_socket(f"{self.host}/.s.PGSQL.{self.port}")
        return await trio.open_tcp_stream(self.host, self.port)

    def ssl_context(self) -> ssl.SSLContext:
        if self.sslmode in ("verify-ca", "verify-full"):
            root = self.sslrootcert
            context = ssl.create_default_context(cafile=None if root == "system" else root)
            context.check_hostname = self.sslmode == "verify-full"
            return context
        context = ssl.create_default_context()  # prefer, require: encrypted, unverified
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context


class WireConnection:
    """One server connection, idle between statements."""

    def __init__(self, stream: trio.abc.Stream, sock: trio.socket.SocketType) -> None:
        self.stream = stream
        self.socket = sock
        self.machine = wire.PgClientConnection()
        self.parameters: dict[str, str] = {}
        self.process_id = 0
        self.secret = b""
        self.busy = False  # a statement is sent and its ReadyForQuery not yet read
        self.idle_since = 0.0
        self._drained = False  # nothing is left to read: the next read waits first

    def close(self) -> None:
        """At once, without Terminate or a TLS goodbye: the server needs neither."""
        self.socket.close()

    def buffered_event(self) -> Any:
        """The server's next message if it is already here, else None. ParameterStatus
        is taken in here (the connection keeps the server's settings)."""
        machine = self.machine
        try:
            while True:
                event: Any = machine.next_event()
                if event is NEED_DATA:
                    return None
                kind = type(event)
                if kind is pg.ParameterStatus:
                    self.parameters[event.name] = event.value
                    continue
                if kind is pg.ReadyForQuery:
                    self.busy = False
                return event
        except wire.ServerProtocolError as exc:
            raise WireError(str(exc)) from exc

    async def event(self) -> Any:
        """The server's next message, read from the socket when not already here."""
        while (event := self.buffered_event()) is None:
            try:
                data = await receive_some(self.stream, RECEIVE_BYTES, ready=not self._drained)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise WireError(f"connection failed: {exc}") from exc
            self._drained = len(data) < RECEIVE_BYTES
            self.machine.receive_data(data)
        return event

    async def send(self, data: bytes) -> None:
        self._drained = True  # the answer takes a round trip
        try:
            await send_all(self.stream, data)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise WireError(f"connection failed: {exc}") from exc

    async def until_ready(self) -> pg.ErrorResponse | None:
        """Read to ReadyForQuery; the first error on the way, if any."""
        error = None
        while True:
            event = await self.event()
            if type(event) is pg.ReadyForQuery:
                return error
            if type(event) is pg.ErrorResponse and error is None:
                error = event


async def connect(endpoint: WireEndpoint) -> WireConnection:
    """A connection that has authenticated and is ready for a statement."""
    sock: trio.socket.SocketType | None = None
    try:
        with trio.fail_after(endpoint.connect_timeout):
            tcp = await endpoint.open()
            sock = tcp.socket
            conn = WireConnection(await _negotiate_tls(tcp, endpoint), sock)
            await conn.send(wire.startup_message(endpoint.startup))
            await _authenticate(conn, endpoint)
            while True:
                event = await conn.event()
                if type(event) is pg.BackendKeyData:
                    conn.process_id, conn.secret = event.process_id, event.secret_key
                elif type(event) is pg.ErrorResponse:
                    raise WireError(_message(event))
                elif type(event) is pg.ReadyForQuery:
                    sock = None  # handed over
                    return conn
    except trio.TooSlowError:
        raise WireError(f"no connection within {endpoint.connect_timeout:g}s") from None
    except (OSError, ssl.SSLError, trio.BrokenResourceError) as exc:
        raise WireError(f"cannot connect: {exc}") from exc
    finally:
        if sock is not None:
            sock.close()


async def _negotiate_tls(tcp: trio.SocketStream, endpoint: WireEndpoint) -> trio.abc.Stream:
    if endpoint.sslmode in ("disable", "allow"):
        return tcp
    await send_all(tcp, wire.ssl_request())
    answer = await receive_some(tcp, 1)
    if answer == b"S":
        stream = trio.SSLStream(tcp, endpoint.ssl_context(), server_hostname=endpoint.host)
        await stream.do_handshake()
        return stream
    if answer == b"N" and endpoint.sslmode == "prefer":
        return tcp
    raise WireError(f"the server does not offer TLS (sslmode {endpoint.sslmode})")


async def _authenticate(conn: WireConnection, endpoint: WireEndpoint) -> None:
    scram: scramp.ScramClient | None = None
    while True:
        event = await conn.event()
        kind = type(event)
        if kind is pg.AuthenticationOk:
            return
        if kind is pg.ErrorResponse:
            raise WireError(_message(event))
        if kind is wire.Unsupported:
            raise WireUnsupported(f"the server asks for authentication method {event.detail}")
        password = endpoint.password
        if password is None:
            raise WireUnsupported("the server asks for a password and the endpoint has none")
        if kind is pg.AuthenticationCleartextPassword:
            await conn.send(wire.password_message(password.encode() + b"\0"))
        elif kind is pg.AuthenticationMD5Password:
            inner = hashlib.md5((password + endpoint.user).encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + event.salt).hexdigest()
            await conn.send(wire.password_message(b"md5" + outer.encode() + b"\0"))
        elif kind is pg.AuthenticationSASL:
            if "SCRAM-SHA-256" not in event.mechanisms:
                raise WireUnsupported(f"no supported SASL mechanism in {list(event.mechanisms)}")
            scram = scramp.ScramClient(["SCRAM-SHA-256"], endpoint.user, password)
            first = scram.get_client_first().encode()
            await conn.send(wire.sasl_initial_response("SCRAM-SHA-256", first))
        elif kind is pg.AuthenticationSASLContinue and scram is not None:
            scram.set_server_first(event.data.decode())
            await conn.send(wire.password_message(scram.get_client_final().encode()))
        elif kind is pg.AuthenticationSASLFinal and scram is not None:
            try:
                scram.set_server_final(event.data.decode())
            except scramp.ScramException as exc:
                raise WireError(f"the server failed SCRAM verification: {exc}") from exc
        else:
            raise WireError(f"unexpected {kind.__name__} while authenticating")


def _message(error: pg.ErrorResponse) -> str:
    return error.fields.get("M", "unknown error")


class WirePool:
    """Up to `size` connections to one endpoint, reused while they stay clean.

    The most recently used idle connection is taken first, so after a burst the
    connections it opened age at the far end of the idle list; one idle for
    `max_idle_secs` is closed when the pool is next used, as a server-side pooler's
    idle timeout would, so the server gets its backends back."""

    def __init__(
        self, endpoint: WireEndpoint, size: int, max_idle_secs: float = MAX_IDLE_SECS
    ) -> None:
        self.endpoint = endpoint
        self.max_idle_secs = max_idle_secs
        self._idle: list[WireConnection] = []  # oldest first
        self._slots = trio.Semaphore(size)
        self.closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def acquire(self) -> WireConnection:
        """A live connection, holding one of the pool's slots until `release`/`discard`."""
        try:
            self._slots.acquire_nowait()  # the common case, without a scheduler trip
        except trio.WouldBlock:
            await self._slots.acquire()
        try:
            self._close_stale()
            while self._idle:
                conn = self._idle.pop()
                if not conn.socket.is_readable():  # readable while idle: the server ended it
                    return conn
                conn.close()
            return await connect(self.endpoint)
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: WireConnection) -> None:
        if self.closed:
            conn.close()
        else:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        self._slots.release()

    def _close_stale(self) -> None:
        stale_before = time.monotonic() - self.max_idle_secs
        while self._idle and self._idle[0].idle_since < stale_before:
            self._idle.pop(0).close()

    async def give_back(self, conn: WireConnection) -> None:
        """Release `conn`, or, if left mid-statement, cancel the statement and close it."""
        if conn.busy:
            await self.cancel(conn)
            self.discard(conn)
        else:
            self.release(conn)

    def discard(self, conn: WireConnection) -> None:
        conn.close()
        self._slots.release()

    def close(self) -> None:
        self.closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def cancel(self, conn: WireConnection) -> None:
        """Ask the server to stop what `conn` runs (a CancelRequest on a side connection)."""
        endpoint = self.endpoint
        with trio.move_on_after(CANCEL_TIMEOUT_SECS) as scope:
            scope.shield = True
            try:
                async with await endpoint.open() as side:
                    await side.send_all(wire.cancel_request(conn.process_id, conn.secret))
                    await side.receive_some(1)  # the server closes once it has acted
            except (OSError, trio.BrokenResourceError) as exc:
                log.info("cancel request failed", error=str(exc))


_NO_COLUMNS = pa.schema([])


class PassthroughResult(Result):
    """One statement's rows as the server sent them: `pg_row_description`, then
    `pg_rows()`. What the server had sent by the time the description was read is
    taken at once, so a small result is complete before the frontend asks for it."""

    def __init__(self, conn: WireConnection, description: bytes, notices: list[PgRows]) -> None:
        self.schema = _NO_COLUMNS
        self.pg_row_description = description
        self.conn = conn
        self.done = False  # read to ReadyForQuery
        self._rows = notices  # what goes out before the next message read
        self._error: pg.ErrorResponse | None = None
        while not self.done and (event := conn.buffered_event()) is not None:
            self.done = self._take(event)

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        raise QueryError(ErrorCode.INTERNAL, "pass-through rows have no Arrow form")
        yield  # pragma: no cover

    async def pg_rows(self) -> AsyncIterator[PgRows]:
        while True:
            rows, self._rows = self._rows, []
            for batch in rows:
                yield batch
            if self.done:
                break
            self.done = self._take(await self.conn.event())
        if self._error is not None:
            raise server_error(self._error)

    def _take(self, event: Any) -> bool:
        """Note one message of the response; True once it is the last."""
        kind = type(event)
        if kind is wire.DataRowBatch:
            self._rows.append(PgRows(event.encoded, event.count))
        elif kind is wire.NoticeMessage:  # RAISE NOTICE: the client sees it among the rows
            self._rows.append(PgRows(event.encoded, 0))
        elif kind is pg.CommandComplete:
            self.command_tag = event.tag
        elif kind is pg.ErrorResponse:
            self._error = self._error or event
        elif kind is pg.ReadyForQuery:
            return True
        elif kind is wire.Unsupported:
            raise WireError(f"unexpected message {event.kind!r} in a result")
        return False


async def start(conn: WireConnection, sql: str, timezone: str | None) -> PassthroughResult:
    """Send `sql` (after matching the session's TimeZone) and read up to its rows."""
    if timezone and conn.parameters.get("TimeZone") != timezone:
        literal = "'" + timezone.replace("'", "''") + "'"
        conn.busy = True
        await conn.send(wire.simple_query(f"SET TimeZone TO {literal}"))
        error = await conn.until_ready()
        if error is not None:
            raise server_error(error)
    conn.busy = True
    # Without a semicolon the text is one statement, and a simple Query costs the
    # server less than Parse/Bind/Execute (pgbench -S: 6% more TPS); with one, the
    # extended protocol has the server refuse a second statement rather than run it.
    await conn.send(wire.simple_query(sql) if ";" not in sql else wire.statement(sql))
    notices: list[PgRows] = []
    while True:
        event = await conn.event()
        kind = type(event)
        if kind is wire.RowDescriptionMessage:
            return PassthroughResult(conn, event.encoded, notices)
        if kind is pg.NoData:
            return PassthroughResult(conn, b"", notices)
        if kind is pg.CommandComplete:  # a simple Query's statement without rows
            result = PassthroughResult(conn, b"", notices)
            result.command_tag = event.tag
            return result
        if kind is pg.ErrorResponse:
            await conn.until_ready()
            raise server_error(event)
        if kind is wire.NoticeMessage:
            notices.append(PgRows(event.encoded, 0))
        elif kind not in (pg.ParseComplete, pg.BindComplete):
            raise WireError(f"unexpected {kind.__name__} before a result")


class PassthroughStatement:
    """`async with` one statement on a pooled connection. Leaving it mid-statement
    (cancelled, abandoned) cancels the statement and closes the connection; a broken
    connection is closed and reported as the cluster's. A class rather than a
    generator-based context manager: this is on every passed-through query's path."""

    def __init__(
        self,
        pool: WirePool,
        sql: str,
        timezone: str | None,
        cluster: str,
        fallback: Callable[[WireUnsupported], AbstractAsyncContextManager[Result]],
    ) -> None:
        self._pool = pool
        self._sql = sql
        self._timezone = timezone
        self._cluster = cluster
        self._fallback = fallback
        self._instead: AbstractAsyncContextManager[Result] | None = None
        self._conn: WireConnection | None = None

    async def __aenter__(self) -> Result:
        try:
            self._conn = await self._pool.acquire()
        except WireUnsupported as exc:  # what only libpq can do: psycopg runs it
            self._instead = self._fallback(exc)
            return await self._instead.__aenter__()
        except WireError as exc:
            raise QueryError(
                ErrorCode.ENGINE_ERROR, f"cannot connect to cluster {self._cluster!r}: {exc}"
            ) from exc
        try:
            return await start(self._conn, self._sql, self._timezone)
        except BaseException as exc:
            await self._leave(exc)
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        if self._instead is not None:
            return await self._instead.__aexit__(kind, exc, tb)
        await self._leave(exc)
        return None

    async def _leave(self, exc: BaseException | None) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        if isinstance(exc, WireError):
            self._pool.discard(conn)  # broken: nothing to cancel, nothing to reuse
            raise QueryError(
                ErrorCode.ENGINE_ERROR, f"connection to cluster {self._cluster!r} lost: {exc}"
            ) from exc
        await self._pool.give_back(conn)


_ERROR_STATES = {
    "42601": ErrorCode.SYNTAX_ERROR,
    "42P01": ErrorCode.NOT_FOUND,  # undefined table
    "42703": ErrorCode.NOT_FOUND,  # undefined column
    "42883": ErrorCode.NOT_FOUND,  # undefined function
    "42704": ErrorCode.NOT_FOUND,  # undefined object (a type ...)
    "3F000": ErrorCode.NOT_FOUND,  # invalid schema name
    "0A000": ErrorCode.NOT_SUPPORTED,
    "57014": ErrorCode.CANCELLED,  # query_canceled (also statement_timeout)
}
_ERROR_CLASSES = {
    "22": ErrorCode.INVALID_ARGUMENT,  # data exception
    "23": ErrorCode.SEMANTIC_ERROR,  # integrity constraint violation
    "42": ErrorCode.SEMANTIC_ERROR,  # syntax error or access rule violation
}


def error_code(sqlstate: str) -> ErrorCode | None:
    """The client-facing code for a PostgreSQL SQLSTATE, where one says more than
    ENGINE_ERROR (both the psycopg path and this one map errors through it)."""
    return _ERROR_STATES.get(sqlstate) or _ERROR_CLASSES.get(sqlstate[:2])


def server_error(error: pg.ErrorResponse) -> QueryError:
    """The statement's error, keeping PostgreSQL's message."""
    code = error_code(error.sqlstate or "") or ErrorCode.ENGINE_ERROR
    return QueryError(code, _message(error), cause_type="ErrorResponse", sqlstate=error.sqlstate)
