"""PostgreSQL wire frontend: sockets <-> the sans-IO machine <-> dispatch.

One task per connection. A query runs inside that task (PostgreSQL clients wait for
each answer), and the same task reads the client's next messages between queries. A
query still running after `WATCH_AFTER_SECS` gets a read-ahead task on the socket: a
client that pipelines its next messages is buffered, and one that hangs up cancels the
query at once. Most queries end sooner, and a task handing each message on to the
session cost every point query a trip through the scheduler. A CancelRequest on
another connection, matched by process id and secret, cancels the running query of
that session; a wrong key does nothing and says nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hmac
import math
import secrets
import ssl
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import pyarrow as pa
import structlog
import trio
from sqlglot import exp
from sqlglot.tokens import Tokenizer, TokenType

from qflux.core import (
    CancelReason,
    ErrorCode,
    FrontendProtocol,
    PgRows,
    QueryError,
    Session,
    unwrap_group,
)
from qflux.dispatch import Dispatcher, QueryHandle
from qflux.frontends.net import peer_address
from qflux.frontends.pg_auth import Authenticator, AuthFailed
from qflux.frontends.pg_catalog import (
    SERVER_STARTED,
    CatalogAnswers,
    SessionFacts,
    catalog_tree,
)
from qflux.frontends.pg_copy import CopyOut, is_copy, parse_copy
from qflux.frontends.pg_params import (
    TEXT_OID,
    StatementBinder,
    bind_parameters,
    parameter_count,
    parameter_types,
    tables_named,
)
from qflux.frontends.pg_params import parse as parse_statement
from qflux.frontends.pg_session import REPORTED, PgSessionState, command_tag
from qflux.frontends.pg_types import (
    COPY_BINARY_HEADER,
    PgEncoder,
    cached_encoder,
    decode_parameter,
)
from qflux.frontends.timers import Timers
from qflux.protocols import pgwire as pg
from qflux.protocols import pgwire_client as wire
from qflux.stream_io import receive_some, send_all

if TYPE_CHECKING:
    from qflux.config import AuthConfig, PostgresWireConfig

log = structlog.get_logger("qflux.postgres")

RECEIVE_BYTES = 65_536
#: Queued replies are written once the client waits for them, or at this size.
FLUSH_BYTES = 65_536
#: Read ahead at most this much of the client's next messages (more only to complete
#: one message the session is waiting for).
READ_AHEAD_BYTES = 1 << 20
#: A query still running after this long gets a task reading the client's socket.
WATCH_AFTER_SECS = 0.02
TIMER_RESOLUTION_SECS = 0.005

#: SQLSTATE for each protocol-neutral error class.
SQLSTATES = {code: code.sqlstate for code in ErrorCode}

_DDL = ("CREATE", "DROP", "ALTER", "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY")
_DML = ("INSERT", "UPDATE", "DELETE", "MERGE")
_SCHEMA_CHANGES = ("CREATE", "DROP", "ALTER", "ATTACH", "DETACH")
#: Server settings `current_setting()` and pg_settings report besides the session's.
_SERVER_SETTINGS = {
    "max_identifier_length": "63",
    "max_index_keys": "32",
    "block_size": "8192",
    "lc_collate": "C",
    "lc_ctype": "C",
    "search_path": '"$user", public',
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed",
    "statement_timeout": "0",
    "extra_float_digits": "1",
}


@attrs.define
class _Statement:
    sql: str
    param_types: tuple[int, ...]
    param_count: int
    binder: StatementBinder  # its values into its SQL per Bind, from the tree parsed once
    #: The row description its portals had, by result formats: a later portal's
    #: Describe answers from it and its query runs at Execute, like a simple query.
    described: dict[tuple[int, ...], tuple[Any, ...]] = attrs.Factory(dict)


@attrs.define
class _Portal:
    sql: str
    result_formats: tuple[int, ...]
    cursor: _Cursor | None = None  # set once an Execute with a row limit started it
    statement: _Statement | None = None
    described: tuple[Any, ...] | None = None  # what its Describe sent, if from the statement


@attrs.define(eq=False)
class _Cursor:
    """A portal read in pieces: its query runs in a task, one batch ahead of the client.
    Batches are Arrow (written with `encoder`) or a PostgreSQL cluster's own DataRows
    (described by `pg_fields`)."""

    handle: QueryHandle | None  # None for a result answered by the proxy
    receive: trio.MemoryReceiveChannel[pa.RecordBatch | PgRows]
    encoder: PgEncoder | None = None
    pg_fields: tuple[Any, ...] | None = None
    pending: pa.RecordBatch | PgRows | None = None
    error: QueryError | None = None
    command_tag: str | None = None  # a PostgreSQL cluster's own, once its rows are read

    @property
    def fields(self) -> tuple[Any, ...] | None:
        """The rows' description, once the query has started."""
        if self.pg_fields is not None:
            return self.pg_fields
        return None if self.encoder is None else _fields(self.encoder)

    def cancel(self, reason: CancelReason) -> None:
        if self.handle is not None:
            self.handle.cancel(reason)


@attrs.define(eq=False)
class _Connection:
    """One client connection's session."""

    stream: trio.abc.Stream
    conn: pg.PgServerConnection
    process_id: int
    secret: bytes
    state: PgSessionState
    user: str | None = None
    database: str | None = None
    peer: str | None = None
    running: QueryHandle | None = None
    nursery: trio.Nursery | None = None  # a read-ahead's and suspended portals' tasks
    reader: trio.CancelScope | None = None  # the read-ahead task's, while one runs
    receiving: bool = False  # the session's own task is reading the socket
    drained: bool = False  # the last read took all there was: the next one waits first
    arrived: trio.lowlevel.ParkingLot = attrs.Factory(trio.lowlevel.ParkingLot)
    room: trio.lowlevel.ParkingLot = attrs.Factory(trio.lowlevel.ParkingLot)
    waiting: bool = False  # the session needs more bytes to go on
    hung_up: bool = False  # the client's side of the connection ended
    statements: dict[str, _Statement] = attrs.field(factory=dict)
    portals: dict[str, _Portal] = attrs.field(factory=dict)
    connected_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    out: bytearray = attrs.field(factory=bytearray)  # replies not yet written
    writing: trio.StrictFIFOLock = attrs.Factory(trio.StrictFIFOLock)

    async def send(self, *events: Any) -> None:
        """Queue messages; they leave together when the client waits for them (`flush`)
        or once a page's worth is queued. One write per reply, not one per message."""
        for event in events:
            self.out += self.conn.send(event)
        if len(self.out) >= FLUSH_BYTES:
            await self.flush()

    async def write(self, data: bytes) -> None:
        """Queue messages encoded elsewhere (DataRows, CopyData)."""
        self.out += data
        if len(self.out) >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued. A queued-query notice is written by a task of its own
        while the session may be writing replies: the lock keeps the two writes whole
        and in the order they were taken (a stream allows one writer at a time)."""
        if self.out:
            data = bytes(self.out)
            self.out.clear()
            try:
                self.writing.acquire_nowait()  # the usual case, without a checkpoint
            except trio.WouldBlock:
                await self.writing.acquire()
            try:
                await send_all(self.stream, data)
            finally:
                self.writing.release()

    async def send_now(self, *events: Any) -> None:
        await self.send(*events)
        await self.flush()

    def facts(self, sql: str) -> SessionFacts:
        """The session as the emulated catalog reports it."""
        parameters = self.state.parameters
        settings = {**_SERVER_SETTINGS, **{k.lower(): v for k, v in parameters.items()}}
        version = parameters.get("server_version", "")
        major, _, minor = version.partition(" ")[0].partition(".")
        if major.isdigit():
            settings["server_version_num"] = str(int(major) * 10_000 + int(minor or 0))
        return SessionFacts(
            user=self.user or "",
            settings=settings,
            process_id=self.process_id,
            version=self.state.version(),
            started_at=SERVER_STARTED,
            connected_at=self.connected_at,
            sql=sql,
        )

    def session(self, pg_rows: bool = False) -> Session:
        return Session(
            protocol=FrontendProtocol.POSTGRES_WIRE,
            user=self.user,
            database=self.database,
            properties=dict(self.state.parameters),
            client_address=self.peer,
            pg_rows=pg_rows,
        )


class PostgresWireFrontend:
    def __init__(
        self, dispatcher: Dispatcher, config: PostgresWireConfig, auth: AuthConfig
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config
        self.connections: dict[int, _Connection] = {}
        self.catalog = CatalogAnswers(dispatcher)
        self._tls = _tls_context(config) if config.tls is not None else None
        self._auth_required = auth.required
        self._timers = Timers(resolution=TIMER_RESOLUTION_SECS)
        method = config.auth_method or ("scram-sha-256" if auth.provider == "static" else "trust")
        if config.enabled:  # SCRAM verifiers are derived up front: slow by design
            self.authenticator = Authenticator(
                method, {name: user.password for name, user in auth.users.items()}
            )

    async def serve(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._timers.run)
            task_status.started(await nursery.start(trio.serve_listeners, self._handle, listeners))

    # -- connection life ---------------------------------------------------------

    async def _handle(self, stream: trio.SocketStream) -> None:
        conn = pg.PgServerConnection(max_message_bytes=self.config.max_message_bytes)
        session: _Connection | None = None
        try:
            session = await self._startup(stream, conn)
            if session is not None:
                await self._serve(session)
        except pg.RemoteProtocolError as exc:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(conn.send(pg.error(exc.sqlstate, exc.message, "FATAL")))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:  # a bug must cost one connection, never the server
            log.exception("postgres connection failed")
        finally:
            if session is not None:
                self.connections.pop(session.process_id, None)
                if session.running is not None:
                    session.running.cancel(CancelReason.CLIENT_DISCONNECT)
            with trio.CancelScope(shield=True), contextlib.suppress(Exception):
                await stream.aclose()

    async def _next(self, stream: trio.abc.Stream, conn: pg.PgServerConnection) -> Any:
        while True:
            event = conn.next_event()
            if event is not pg.NEED_DATA:
                return event
            conn.receive_data(await stream.receive_some(RECEIVE_BYTES))

    async def _startup(
        self, stream: trio.SocketStream, conn: pg.PgServerConnection
    ) -> _Connection | None:
        tls: trio.SSLStream[trio.SocketStream] | None = None
        while True:
            event = await self._next(tls or stream, conn)
            if isinstance(event, pg.SSLRequest):
                accept = self._tls is not None and tls is None
                await stream.send_all(conn.send(pg.SSLResponse(accept)))
                if accept:
                    assert self._tls is not None
                    tls = trio.SSLStream(stream, self._tls, server_side=True)
                    await tls.do_handshake()
            elif isinstance(event, pg.GSSENCRequest):
                await stream.send_all(conn.send(pg.GSSENCResponse(False)))
            elif isinstance(event, pg.CancelRequest):
                self._cancel(event.process_id, event.secret_key)
                return None
            elif isinstance(event, pg.StartupMessage):
                return await self._accept(tls or stream, conn, event, encrypted=tls is not None)
            else:
                return None

    async def _accept(
        self, stream: trio.abc.Stream, conn: pg.PgServerConnection, startup: Any, *, encrypted: bool
    ) -> _Connection | None:
        params = dict(startup.parameters)
        process_id = self._new_process_id()
        state = PgSessionState(
            parameters=self._initial_parameters(params),
            database=params.get("database") or params.get("user", ""),
        )
        state.apply_startup(params)
        session = _Connection(
            stream=stream,
            conn=conn,
            process_id=process_id,
            secret=secrets.token_bytes(4),
            state=state,
            user=params.get("user"),
            database=params.get("database") or params.get("user"),
            peer=peer_address(stream) if isinstance(stream, trio.SocketStream) else None,
        )
        negotiation = startup.negotiation()  # we speak 3.0 and no _pq_ options
        if negotiation is not None:
            await session.send(negotiation)
        if not await self._authenticate(session, encrypted=encrypted):
            return None
        events: list[Any] = [pg.AuthenticationOk()]
        events += [pg.ParameterStatus(name, state.parameters[name]) for name in REPORTED]
        events += [pg.BackendKeyData(process_id, session.secret), pg.ReadyForQuery("I")]
        await session.send(*events)
        self.connections[process_id] = session
        return session

    async def _authenticate(self, session: _Connection, *, encrypted: bool) -> bool:
        """Run the configured exchange; on failure send a FATAL error and say so."""
        method = self.authenticator.method
        refusal = None
        if self._auth_required and not session.user:
            refusal = pg.error("28000", "a user name is required", "FATAL")
        elif (
            method == "cleartext" and not encrypted and not self.config.allow_cleartext_without_tls
        ):
            refusal = pg.error("28000", "cleartext passwords need a TLS connection", "FATAL")
        if refusal is not None:
            await session.send_now(refusal)
            return False

        async def exchange(request: Any) -> Any:
            await session.send_now(request)
            return await self._next(session.stream, session.conn)

        try:
            await self.authenticator.authenticate(session.user, exchange, session.send)
        except AuthFailed as exc:
            log.warning("authentication failed", user=session.user, peer=session.peer)
            await session.send_now(pg.error("28P01", str(exc), "FATAL"))
            return False
        return True

    def _initial_parameters(self, startup: dict[str, str]) -> dict[str, str]:
        return {
            "application_name": startup.get("application_name", ""),
            "client_encoding": "UTF8",
            "DateStyle": "ISO, MDY",
            "default_transaction_read_only": "off",
            "in_hot_standby": "off",
            "integer_datetimes": "on",
            "IntervalStyle": "postgres",
            "is_superuser": "on",
            "server_encoding": "UTF8",
            "server_version": self.config.server_version,
            "session_authorization": startup.get("user", ""),
            "standard_conforming_strings": "on",
            "TimeZone": "UTC",
        }

    def _new_process_id(self) -> int:
        while True:
            process_id = secrets.randbelow(2**31 - 1) + 1
            if process_id not in self.connections:
                return process_id

    def _cancel(self, process_id: int, secret: bytes) -> None:
        session = self.connections.get(process_id)
        if session is None or not hmac.compare_digest(session.secret, secret):
            return  # reveals nothing
        if session.running is not None:
            session.running.cancel(CancelReason.CLIENT_CANCEL)

    # -- messages ------------------------------------------------------------------

    async def _serve(self, session: _Connection) -> None:
        try:
            async with trio.open_nursery() as nursery:
                session.nursery = nursery
                try:
                    await self._messages(session)
                finally:
                    session.nursery = None  # no read-ahead starts from now on
                    if session.reader is not None:
                        session.reader.cancel()
                    for portal in session.portals.values():
                        if portal.cursor is not None:
                            portal.cursor.cancel(CancelReason.CLIENT_DISCONNECT)
        except BaseExceptionGroup as group:  # a protocol violation gets its FATAL reply
            raise unwrap_group(group) from None

    async def _receive(self, session: _Connection) -> Any:
        """The client's next message, read by this task, or by the read-ahead task
        while one runs."""
        while True:
            event = session.conn.next_event()
            if event is not pg.NEED_DATA:
                return event
            if session.reader is None:
                await self._read(session)
                continue
            session.waiting = True
            session.room.unpark_all()
            try:
                await session.arrived.park()
            finally:
                session.waiting = False

    async def _read(self, session: _Connection) -> None:
        session.receiving = True
        try:
            data = await receive_some(session.stream, RECEIVE_BYTES, ready=not session.drained)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""  # a broken connection ends the session as EOF does
        finally:
            session.receiving = False
        session.drained = len(data) < RECEIVE_BYTES
        session.conn.receive_data(data)
        if not data:
            session.hung_up = True

    def _running(self, session: _Connection, handle: QueryHandle) -> None:
        """`handle` is the session's query now; cancelled at once if the client is gone,
        and watched for a hang-up if it is still running after WATCH_AFTER_SECS."""
        session.running = handle
        if session.hung_up:
            handle.cancel(CancelReason.CLIENT_DISCONNECT)
        elif session.reader is None:
            watch = functools.partial(self._read_ahead_if_running, session, handle)
            self._timers.call_at(trio.current_time() + WATCH_AFTER_SECS, watch)

    def _read_ahead_if_running(self, session: _Connection, handle: QueryHandle) -> None:
        if (
            session.running is handle
            and session.reader is None
            and not session.receiving
            and session.nursery is not None
        ):
            session.reader = trio.CancelScope()
            session.nursery.start_soon(self._read_ahead, session, session.reader)

    async def _read_ahead(self, session: _Connection, scope: trio.CancelScope) -> None:
        """Read the client's socket while a long query runs: buffer what the client
        pipelines, and cancel the query when the client hangs up. Ends after the first
        read once no query runs; the session's task reads for itself from then on.
        Reading stops at READ_AHEAD_BYTES of unread input unless the session waits
        for the rest of a message, so a pipelining client is held back by its socket.
        """
        conn = session.conn
        try:
            with scope:
                try:
                    while True:
                        while conn.buffered_bytes >= READ_AHEAD_BYTES and not session.waiting:
                            await session.room.park()
                        data = await receive_some(
                            session.stream, RECEIVE_BYTES, ready=not session.drained
                        )
                        session.drained = len(data) < RECEIVE_BYTES
                        conn.receive_data(data)
                        session.arrived.unpark_all()
                        if not data:
                            break
                        if session.running is None:
                            return
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    conn.receive_data(b"")  # a broken connection ends the session as EOF does
                    session.arrived.unpark_all()
                session.hung_up = True
                if session.running is not None:
                    session.running.cancel(CancelReason.CLIENT_DISCONNECT)
        finally:
            session.reader = None

    async def _messages(self, session: _Connection) -> None:
        while True:
            event = session.conn.next_event()
            if event is pg.NEED_DATA:  # the client has sent all it had: it waits for us
                await session.flush()
                event = await self._receive(session)
            if isinstance(event, pg.Terminate | pg.ConnectionClosed):
                if isinstance(event, pg.Terminate):
                    await session.flush()
                return
            if isinstance(event, pg.Query):
                await self._simple_query(session, event.sql)
                await session.send(pg.ReadyForQuery(session.state.status))
            elif isinstance(event, pg.Sync):  # after an error the machine skipped to here
                await self._close_unnamed_portal(session)
                await session.send(pg.ReadyForQuery(session.state.status))
            elif isinstance(event, pg.Flush):
                await session.flush()
            else:
                try:
                    await self._extended(session, event)
                except QueryError as exc:
                    await self._report(session, exc)

    async def _report(self, session: _Connection, error: QueryError) -> None:
        if session.state.in_transaction:
            session.state.failed_transaction = True
        await session.send(pg.error(error.sqlstate or SQLSTATES[error.code], error.message))

    # -- simple query --------------------------------------------------------------

    async def _simple_query(self, session: _Connection, sql: str) -> None:
        statements = split_statements(sql)
        if not statements:
            await session.send(pg.EmptyQueryResponse())
            return
        for statement in statements:
            try:
                await self._run(session, statement, formats=(), describe=True)
            except QueryError as exc:
                await self._report(session, exc)
                return

    async def _run(
        self,
        session: _Connection,
        sql: str,
        *,
        formats: tuple[int, ...],
        describe: bool,
        portal: _Portal | None = None,
    ) -> None:
        """Run one statement to completion, streaming its rows; raises QueryError.
        A `portal` whose description was sent already gets rows only of that shape."""
        answer = session.state.answer(sql)
        if answer is not None:
            if answer.tag in ("COMMIT", "ROLLBACK"):  # a transaction's portals end with it
                for name in [n for n, p in session.portals.items() if p.cursor is not None]:
                    await self._close_portal(session, name)
            await self._send_local(session, answer, describe)
            return
        if session.state.failed_transaction:
            raise QueryError(
                ErrorCode.SEMANTIC_ERROR,
                "current transaction is aborted, commands ignored until end of transaction block",
            )
        copy = parse_copy(sql) if is_copy(sql) else None
        if copy is not None:
            await self._copy_out(session, copy)
            return
        # Text rows (a simple query's, or a portal's asking text only) may be a
        # PostgreSQL cluster's own DataRows, passed through.
        async with self._query(session, sql, _text_only(formats)) as result:
            await self._stream(session, sql, result, formats, describe, portal)
        if _first_word(sql) in _SCHEMA_CHANGES:
            self.catalog.forget()  # the next \dt should see the change

    def _query(
        self, session: _Connection, sql: str, pg_rows: bool = False
    ) -> AbstractAsyncContextManager[Any]:
        """Submit and run a query; a hang-up cancels it (see `_running`).

        Catalog queries (pg_catalog, information_schema) are answered by the proxy.
        """
        return _SessionQuery(self, session, sql, pg_rows)

    async def _stream(
        self,
        session: _Connection,
        sql: str,
        result: Any,
        formats: tuple[int, ...],
        describe: bool,
        portal: _Portal | None = None,
    ) -> None:
        if result.pg_row_description is not None:
            await self._pass_rows(session, result, describe, portal)
            return
        schema: pa.Schema = result.schema
        if _is_row_count(sql, schema):
            if portal is not None:
                _keep_to_description(portal, ())
            count = 0
            async for batch in result:
                count += int(batch.column(0)[0].as_py()) if batch.num_rows else 0
            if result.update_count is not None:  # engines that report it beside the rows
                count = result.update_count
            await session.send(pg.CommandComplete(command_tag(sql, 0, count)))
            return
        try:
            encoder = cached_encoder(schema, formats or 0, session.state.parameters["TimeZone"])
        except ValueError as exc:  # an unknown TimeZone, a ragged nested array ...
            raise QueryError(ErrorCode.INVALID_ARGUMENT, str(exc)) from exc
        if portal is not None:
            _keep_to_description(portal, _fields(encoder))
        if describe and len(schema):
            await session.send(pg.RowDescription(_fields(encoder)))
        rows = 0
        async for batch in result:
            await session.write(encoder.encode_data_rows(batch))
            rows += batch.num_rows
        await session.send(pg.CommandComplete(command_tag(sql, rows, None)))

    async def _pass_rows(
        self, session: _Connection, result: Any, describe: bool, portal: _Portal | None
    ) -> None:
        """A PostgreSQL cluster's rows, as its server wrote them."""
        description = result.pg_row_description
        if portal is not None and portal.described is not None:  # else nothing to keep to
            _keep_to_description(portal, _described(description))
        if describe:
            await session.write(description)
        async for rows in result.pg_rows():
            await session.write(rows.encoded)
        await session.send(pg.CommandComplete(result.command_tag or "SELECT 0"))

    async def _copy_out(self, session: _Connection, copy: CopyOut) -> None:
        """COPY ... TO STDOUT: the query's rows as CopyData, in COPY's own format."""
        binary = copy.format == "binary"
        async with self._query(session, copy.query) as result:
            timezone = session.state.parameters["TimeZone"]
            try:
                encoder = PgEncoder(result.schema, 1 if binary else 0, timezone=timezone)
            except ValueError as exc:
                raise QueryError(ErrorCode.INVALID_ARGUMENT, str(exc)) from exc
            code = 1 if binary else 0
            await session.send(pg.CopyOutResponse(code, (code,) * len(result.schema)))
            if copy.header:
                names = pa.table({str(i): [n] for i, n in enumerate(result.schema.names)})
                await session.write(PgEncoder(names.schema).encode_copy_rows(names, copy))
            rows = 0
            async for batch in result:
                if binary:
                    data = encoder.encode_copy_binary_rows(batch, first=rows == 0)
                else:
                    data = encoder.encode_copy_rows(batch, copy)
                await session.write(data)
                rows += batch.num_rows
        if binary:  # the trailer (with the header when no row carried it)
            end = (b"" if rows else COPY_BINARY_HEADER) + b"\xff\xff"
            await session.send(pg.CopyData(end))
        await session.send(pg.CopyDone(), pg.CommandComplete(f"COPY {rows}"))

    async def _send_local(self, session: _Connection, answer: Any, describe: bool) -> None:
        events: list[Any] = [
            pg.ParameterStatus(name, session.state.parameters.get(name, ""))
            for name in answer.changed
        ]
        if answer.show is not None:
            name, value = answer.show
            if describe:
                events.append(pg.RowDescription((_text_field(name),)))
            events += [pg.DataRow((value.encode(),)), pg.CommandComplete(answer.tag)]
        else:
            events.append(pg.CommandComplete(answer.tag))
        await session.send(*events)

    # -- extended query ----------------------------------------------------------

    async def _extended(self, session: _Connection, event: Any) -> None:
        if isinstance(event, pg.Parse):
            await self._parse(session, event)
        elif isinstance(event, pg.Bind):
            await self._bind(session, event)
        elif isinstance(event, pg.Describe):
            await self._describe(session, event)
        elif isinstance(event, pg.Execute):
            await self._execute(session, event)
        elif isinstance(event, pg.Close):
            target = session.statements if event.kind == "S" else session.portals
            target.pop(event.name, None)
            await session.send(pg.CloseComplete())
        else:
            raise QueryError(ErrorCode.NOT_SUPPORTED, f"unsupported message {type(event).__name__}")

    async def _parse(self, session: _Connection, event: Any) -> None:
        if event.name and event.name in session.statements:
            raise QueryError(
                ErrorCode.SEMANTIC_ERROR, f'prepared statement "{event.name}" already exists'
            )
        if len(session.statements) >= self.config.max_statements and event.name:
            raise QueryError(
                ErrorCode.QUEUE_FULL,
                f"too many prepared statements (max {self.config.max_statements})",
            )
        tree = parse_statement(event.sql)
        count = parameter_count(tree)
        declared = tuple(event.param_types)
        inferred: dict[int, int] = {}
        if any(i >= len(declared) or not declared[i] for i in range(count)):
            columns = await self.catalog.column_types(
                session.session(), event.sql, tables_named(tree)
            )
            inferred = parameter_types(tree, columns)
        types = tuple(
            declared[i] if i < len(declared) and declared[i] else inferred.get(i + 1, 0)
            for i in range(count)
        )
        binder = StatementBinder(event.sql, tree)
        session.statements[event.name] = _Statement(event.sql, types, count, binder)
        await session.send(pg.ParseComplete())

    async def _bind(self, session: _Connection, event: Any) -> None:
        statement = session.statements.get(event.statement)
        if statement is None:
            raise QueryError(
                ErrorCode.NOT_FOUND, f'prepared statement "{event.statement}" does not exist'
            )
        if len(event.params) != statement.param_count:
            raise QueryError(
                ErrorCode.SEMANTIC_ERROR,
                f"bind message supplies {len(event.params)} parameters, but prepared statement "
                f'"{event.statement}" requires {statement.param_count}',
            )
        if event.portal and len(session.portals) >= self.config.max_portals:
            raise QueryError(
                ErrorCode.QUEUE_FULL, f"too many portals (max {self.config.max_portals})"
            )
        formats = _formats(event.param_formats, len(event.params))
        values = []
        for index, (raw, fmt) in enumerate(zip(event.params, formats, strict=True)):
            # Described as text when unknown, so a binary value is text's bytes.
            oid = statement.param_types[index] or (TEXT_OID if fmt == 1 else 0)
            try:
                values.append(decode_parameter(oid, fmt, raw))
            except ValueError as exc:
                raise QueryError(
                    ErrorCode.INVALID_ARGUMENT, f"invalid value for parameter ${index + 1}: {exc}"
                ) from exc
        sql = statement.binder.bind(values)
        await self._close_portal(session, event.portal)
        session.portals[event.portal] = _Portal(
            sql, tuple(event.result_formats), statement=statement
        )
        await session.send(pg.BindComplete())

    async def _describe(self, session: _Connection, event: Any) -> None:
        if event.kind == "S":
            statement = session.statements.get(event.name)
            if statement is None:
                raise QueryError(
                    ErrorCode.NOT_FOUND, f'prepared statement "{event.name}" does not exist'
                )
            types = [oid or TEXT_OID for oid in statement.param_types]
            local = session.state.local_columns(statement.sql)
            if local is not None:
                fields: tuple[Any, ...] = tuple(_text_field(name) for name in local)
            else:
                nulls = [exp.Null()] * statement.param_count
                probe = bind_parameters(statement.sql, nulls, statement.binder.tree)
                fields = await self._result_fields(session, probe, ())
            description = pg.RowDescription(fields) if fields else pg.NoData()
            await session.send(pg.ParameterDescription(tuple(types)), description)
            return
        portal = session.portals.get(event.name)
        if portal is None:
            raise QueryError(ErrorCode.NOT_FOUND, f'portal "{event.name}" does not exist')
        local = session.state.local_columns(portal.sql)
        if local is not None:  # answered by the proxy at Execute
            fields = tuple(_text_field(name) for name in local)
            await session.send(pg.RowDescription(fields) if fields else pg.NoData())
            return
        if not _returns_rows(portal.sql):
            await session.send(pg.NoData())
            return
        statement = portal.statement
        known = None if statement is None else statement.described.get(portal.result_formats)
        if known is not None and portal.cursor is None:
            # As PostgreSQL does, a prepared statement's result type is fixed once known;
            # Execute checks its query keeps to it ("cached plan must not change ...").
            portal.described = known
            await session.send(pg.RowDescription(known))
            return
        # Start the portal's query now: its schema is the description, and Execute then
        # streams from it instead of running the query a second time.
        if portal.cursor is None:
            portal.cursor = await self._open_cursor(session, portal)
        if portal.cursor.error is not None:
            raise portal.cursor.error
        described = portal.cursor.fields
        assert described is not None
        if statement is not None and described:
            statement.described[portal.result_formats] = described
        await session.send(pg.RowDescription(described) if described else pg.NoData())

    async def _result_fields(
        self, session: _Connection, sql: str, formats: tuple[int, ...]
    ) -> tuple[Any, ...]:
        """The columns `sql` would return, found by running it with no rows wanted."""
        if not _returns_rows(sql):
            return ()
        catalog = catalog_tree(sql) is not None  # cheap to run whole, and names stay PG's
        probe = sql if catalog else f"SELECT * FROM ({_strip(sql)}) AS q LIMIT 0"
        async with self._query(session, probe) as result:
            schema = result.schema
            async for _ in result:
                pass
        if _is_row_count(sql, schema):
            return ()
        return _fields(cached_encoder(schema, formats or 0, "UTC"))

    async def _execute(self, session: _Connection, event: Any) -> None:
        portal = session.portals.get(event.portal)
        if portal is None:
            raise QueryError(ErrorCode.NOT_FOUND, f'portal "{event.portal}" does not exist')
        if not portal.sql.strip():
            await session.send(pg.EmptyQueryResponse())
            return
        local = session.state.local_columns(portal.sql) is not None
        if portal.cursor is not None or (
            event.max_rows > 0 and _returns_rows(portal.sql) and not local
        ):
            await self._fetch(session, portal, event.max_rows)
            return
        await self._run(
            session,
            portal.sql,
            formats=portal.result_formats,
            describe=False,
            portal=portal,
        )

    async def _fetch(self, session: _Connection, portal: _Portal, max_rows: int) -> None:
        """Send up to `max_rows` (0: all) more rows of a portal; PortalSuspended if more remain."""
        if portal.cursor is None:
            portal.cursor = await self._open_cursor(session, portal)
        cursor = portal.cursor
        if cursor.error is not None:
            raise cursor.error
        fields = cursor.fields
        if fields is not None:
            try:
                _keep_to_description(portal, fields)
            except QueryError:
                cursor.cancel(CancelReason.CLIENT_CANCEL)
                portal.cursor = None
                raise
        if cursor.handle is None:  # answered by the proxy: all in memory already
            await self._send_rows(session, cursor, max_rows)
            return
        self._running(session, cursor.handle)
        try:
            await self._send_rows(session, cursor, max_rows)
        finally:
            session.running = None

    async def _send_rows(self, session: _Connection, cursor: _Cursor, max_rows: int) -> None:
        sent = 0
        while max_rows == 0 or sent < max_rows:
            if cursor.pending is None:
                try:
                    cursor.pending = await cursor.receive.receive()
                except trio.EndOfChannel:
                    if cursor.error is not None:
                        raise cursor.error from None
                    # A query's tag counts this Execute's rows, as PostgreSQL's does;
                    # DML with RETURNING keeps the server's own (`DELETE 3`).
                    tag = cursor.command_tag
                    if tag is None or tag.startswith("SELECT"):
                        tag = f"SELECT {sent}"
                    await session.send(pg.CommandComplete(tag))
                    return
            batch = cursor.pending
            if isinstance(batch, PgRows):
                data, taken = _take_rows(cursor, batch, max_rows - sent if max_rows else 0)
                await session.write(data)
                sent += taken
                continue
            take = batch.num_rows if max_rows == 0 else min(batch.num_rows, max_rows - sent)
            cursor.pending = batch.slice(take) if take < batch.num_rows else None
            assert cursor.encoder is not None
            await session.write(cursor.encoder.encode_data_rows(batch.slice(0, take)))
            sent += take
        await session.send(pg.PortalSuspended())

    async def _open_cursor(self, session: _Connection, portal: _Portal) -> _Cursor:
        timezone = session.state.parameters["TimeZone"]
        tree = catalog_tree(portal.sql)
        if tree is not None:
            return await self._catalog_cursor(session, portal, tree, timezone)
        send, receive = trio.open_memory_channel[pa.RecordBatch | PgRows](1)
        pg_rows = _text_only(portal.result_formats)
        handle = self.dispatcher.submit(session.session(pg_rows), portal.sql)
        cursor = _Cursor(handle, receive)

        async def produce(task_status: trio.TaskStatus[None]) -> None:
            started = False
            try:
                async with send, self.dispatcher.run(handle) as result:
                    if result.pg_row_description is not None:
                        cursor.pg_fields = _described(result.pg_row_description)
                        task_status.started()
                        started = True
                        async for rows in result.pg_rows():
                            await send.send(rows)
                        cursor.command_tag = result.command_tag
                        return
                    cursor.encoder = cached_encoder(
                        result.schema, portal.result_formats or 0, timezone
                    )
                    task_status.started()
                    started = True
                    async for batch in result:
                        await send.send(batch)
            except QueryError as exc:
                cursor.error = exc
            except ValueError as exc:  # the encoder refused the session's settings
                cursor.error = QueryError(ErrorCode.INVALID_ARGUMENT, str(exc))
            if not started:  # failed before its first row: Execute reports the error
                task_status.started()

        assert session.nursery is not None
        await session.nursery.start(produce)
        return cursor

    async def _catalog_cursor(
        self, session: _Connection, portal: _Portal, tree: Any, timezone: str
    ) -> _Cursor:
        send, receive = trio.open_memory_channel[pa.RecordBatch | PgRows](math.inf)
        cursor = _Cursor(None, receive)
        try:
            result = await self.catalog.answer(tree, session.session(), session.facts(portal.sql))
            cursor.encoder = cached_encoder(result.schema, portal.result_formats or 0, timezone)
            async for batch in result:
                send.send_nowait(batch)
        except QueryError as exc:
            cursor.error = exc
        except ValueError as exc:  # the encoder refused the session's settings
            cursor.error = QueryError(ErrorCode.INVALID_ARGUMENT, str(exc))
        send.close()
        return cursor

    async def _close_portal(self, session: _Connection, name: str) -> None:
        portal = session.portals.pop(name, None)
        if portal is not None and portal.cursor is not None:
            portal.cursor.cancel(CancelReason.CLIENT_CANCEL)

    async def _close_unnamed_portal(self, session: _Connection) -> None:
        await self._close_portal(session, "")


class _SessionQuery:
    """`PostgresWireFrontend._query`'s context manager; a class rather than a generator,
    as every statement of every session enters one."""

    def __init__(
        self, frontend: PostgresWireFrontend, session: _Connection, sql: str, pg_rows: bool
    ) -> None:
        self._frontend = frontend
        self._session = session
        self._sql = sql
        self._pg_rows = pg_rows
        self._run: AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self) -> Any:
        frontend, session, sql = self._frontend, self._session, self._sql
        tree = catalog_tree(sql)
        if tree is not None:
            return await frontend.catalog.answer(tree, session.session(), session.facts(sql))
        handle = frontend.dispatcher.submit(session.session(self._pg_rows), sql)
        frontend._running(session, handle)
        self._run = frontend.dispatcher.run(handle, on_queued=self._queued)
        try:
            return await self._run.__aenter__()
        except BaseException:
            session.running = None
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        if self._run is None:
            return None
        try:
            return await self._run.__aexit__(exc_type, exc, traceback)
        finally:
            self._session.running = None

    def _queued(self, group: str, position: int) -> None:
        session = self._session
        if session.nursery is not None:
            notice = pg.notice(
                "00000", f"query waits in cluster group '{group}' at queue position {position}"
            )
            session.nursery.start_soon(session.send_now, notice)


def _tls_context(config: PostgresWireConfig) -> ssl.SSLContext:
    assert config.tls is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls.cert_file, config.tls.key_file)
    return context


# -- SQL helpers ---------------------------------------------------------------------


def split_statements(sql: str) -> list[str]:
    """Split a simple-query string at top-level semicolons, keeping each statement's text."""
    single = sql.strip().rstrip(";").rstrip()
    if ";" not in single:  # one statement, the usual case: no need to tokenise
        return [single] if single else []
    try:
        tokens = Tokenizer().tokenize(sql)
    except Exception:  # the engine will report what is wrong with it
        return [sql] if sql.strip() else []
    parts, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            parts.append(sql[start : token.start])
            start = token.end + 1
    parts.append(sql[start:])
    return [part.strip() for part in parts if part.strip()]


def _strip(sql: str) -> str:
    return sql.strip().rstrip(";")


def _first_word(sql: str) -> str:
    return sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""


def _returns_rows(sql: str) -> bool:
    word = _first_word(sql)
    if word in _DML:  # rows only with RETURNING (a keyword, not a string saying it)
        if "RETURNING" not in sql.upper():
            return False
        try:
            return any(t.token_type == TokenType.RETURNING for t in Tokenizer().tokenize(sql))
        except Exception:  # the engine will report what is wrong with it
            return False
    return word in ("SELECT", "WITH", "VALUES", "TABLE", "FROM", "(")


def _is_row_count(sql: str, schema: pa.Schema) -> bool:
    """Engines answer DML and DDL with one count column (DuckDB `Count`, Trino `rows`)
    or none: that is a tag, not rows."""
    return _first_word(sql) in _DDL and (len(schema) == 0 or schema.names in (["Count"], ["rows"]))


def _text_only(codes: tuple[int, ...]) -> bool:
    """Result format codes asking for text in every column."""
    return not any(codes)


def _described(description: bytes) -> tuple[Any, ...]:
    """A passed-through RowDescription's fields (none for a statement without rows)."""
    return wire.RowDescriptionMessage(description).parse().fields if description else ()


def _take_rows(cursor: _Cursor, rows: PgRows, limit: int) -> tuple[bytes, int]:
    """The bytes of up to `limit` (0: all) of `rows`, and how many; the rest stays
    pending."""
    if not limit or rows.count <= limit:
        cursor.pending = None
        return rows.encoded, rows.count
    cut = wire.split_after_rows(rows.encoded, limit)
    cursor.pending = PgRows(rows.encoded[cut:], rows.count - limit)
    return rows.encoded[:cut], limit


def _formats(codes: tuple[int, ...], count: int) -> list[int]:
    if not codes:
        return [0] * count
    if len(codes) == 1:
        return [codes[0]] * count
    return list(codes)


def _keep_to_description(portal: _Portal, fields: tuple[Any, ...]) -> None:
    """Refuse rows of another shape than the portal's Describe announced from its
    statement, before any is sent; the statement describes itself afresh next time.
    Names may differ: an engine names an unnamed expression after its text, values
    included (`CAST(7 AS INTEGER)`), where PostgreSQL's name stays the statement's."""
    if portal.described is None or _shape(fields) == _shape(portal.described):
        return
    if portal.statement is not None:
        portal.statement.described.pop(portal.result_formats, None)
    portal.described = None
    raise QueryError(ErrorCode.NOT_SUPPORTED, "cached plan must not change result type")


def _shape(fields: tuple[Any, ...]) -> list[tuple[int, int, int, int]]:
    """What a client decodes a row by: each column's type and format, not its name."""
    return [(f.type_oid, f.type_size, f.type_modifier, f.format) for f in fields]


def _fields(encoder: PgEncoder) -> tuple[Any, ...]:
    return tuple(
        pg.Field(
            name=f.name,
            type_oid=f.type_oid,
            type_size=f.type_size,
            type_modifier=f.type_modifier,
            format=f.format,
        )
        for f in encoder.fields
    )


def _text_field(name: str) -> Any:
    return pg.Field(name=name, type_oid=25, type_size=-1, type_modifier=-1, format=0)
