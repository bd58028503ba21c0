"""StarRocks (or any MySQL-protocol server) through mysql-connector's pure-Python driver.

The driver is synchronous, so every call that may block (connect, run a statement, read
the next rows) runs in a worker thread under this engine's CapacityLimiter, through
`run_interruptible`. Connections come from a small pool of our own: a connection is
reused only when its last statement ended cleanly with the whole result read; one that
was killed, lost, or left mid-result is closed, never handed out again.

Results stream: the text protocol's rows are read `BATCH_ROWS` at a time (the driver's
unbuffered `get_rows`), and each column becomes an Arrow array typed from the column
definition the server sent (type code, flags, charset, length, decimals). Values arrive
as text, so most columns are parsed by Arrow casts; TIME and BIT are parsed in Python.

Cancelling a query sends `KILL QUERY <connection id>` from a short-lived connection of
its own (the query's connection is blocked reading), then discards the query's
connection. StarRocks keeps connection ids per frontend node, so the endpoint must
reach one FE (or a load balancer that keeps a client on one FE) for the kill to land.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import mysql.connector
import pyarrow as pa
import pyarrow.compute as pc
import structlog
import trio
from mysql.connector.connection import MySQLConnection
from mysql.connector.constants import FieldFlag, FieldType
from mysql.connector.protocol import MySQLProtocol

from qflux.config import ClusterConfig
from qflux.core import EngineType, ErrorCode, QueryError, Result, Session

from .base import (
    CANCEL_GRACE_SECS,
    ActiveCalls,
    Catalog,
    Engine,
    ReadAheadResult,
    run_interruptible,
)

T = TypeVar("T")
log = structlog.get_logger("qflux.engines.starrocks")

#: Rows per Arrow batch: a thread hop per batch is amortised, and a batch of wide rows
#: stays a few MB.
BATCH_ROWS = 10_000
#: The StarRocks frontend's MySQL port, used when the endpoint names none.
DEFAULT_PORT = 9030
CONNECT_TIMEOUT_SECS = 5
#: A pooled connection idle for longer than this is pinged before use (as HikariCP
#: does): servers drop idle connections (wait_timeout, KILL, restarts), and a query must
#: not fail for that. A connection used just now skips the round trip.
IDLE_CHECK_SECS = 0.5

_SYSTEM_SCHEMAS = ("information_schema", "mysql", "performance_schema", "sys", "_statistics_")

_ERROR_CODES = {
    1064: ErrorCode.SYNTAX_ERROR,  # ER_PARSE_ERROR
    1049: ErrorCode.NOT_FOUND,  # ER_BAD_DB_ERROR
    1051: ErrorCode.NOT_FOUND,  # ER_BAD_TABLE_ERROR
    1054: ErrorCode.NOT_FOUND,  # ER_BAD_FIELD_ERROR
    1146: ErrorCode.NOT_FOUND,  # ER_NO_SUCH_TABLE
    1317: ErrorCode.CANCELLED,  # ER_QUERY_INTERRUPTED (KILL QUERY)
    3024: ErrorCode.CANCELLED,  # ER_QUERY_TIMEOUT (max_execution_time)
}
#: No connection: access denied, no socket, refused, unknown host.
_CONNECT_ERRORS = {1045, 2002, 2003, 2005}
#: The connection went away mid-statement (MariaDB's 1927: it was killed).
_LOST_ERRORS = {1927, 2006, 2013, 2055}
#: Errors after which the connection's state is unknown, even though the server sent them.
_KILLED_ERRORS = {1317, 1927, 3024}


def to_query_error(exc: mysql.connector.Error, cluster: str) -> QueryError:
    """Map a driver error to a client-facing error keeping the server's own message."""
    errno, message = exc.errno, exc.msg or str(exc)
    cause = type(exc).__name__
    if errno in _CONNECT_ERRORS:
        message = f"cannot connect to cluster {cluster!r}: {message}"
        return QueryError(ErrorCode.ENGINE_ERROR, message, cause_type=cause)
    if errno in _LOST_ERRORS:
        message = f"lost connection to cluster {cluster!r}: {message}"
        return QueryError(ErrorCode.ENGINE_ERROR, message, cause_type=cause)
    return QueryError(_ERROR_CODES.get(errno, ErrorCode.ENGINE_ERROR), message, cause_type=cause)


def _statement_error(exc: mysql.connector.Error) -> bool:
    """True for a server's error about the statement, which leaves the connection usable;
    client-side errors (2000-2999: lost, refused, protocol) and kills do not."""
    errno = exc.errno or -1
    return errno > 0 and not 2000 <= errno < 3000 and errno not in _KILLED_ERRORS


class _ColumnProtocol(MySQLProtocol):
    """The driver's protocol, keeping the column length and decimals it drops: DECIMAL
    precision and scale, and BIT width, come from them. They land in the description's
    internal_size and scale slots; the fixed-length tail is the packet's last 12 bytes."""

    @staticmethod
    def parse_column(packet: bytes, encoding: str = "utf-8") -> Any:
        column = MySQLProtocol.parse_column(packet, encoding)
        _charset, length, _type, _flags, decimals = struct.unpack("<HIBHBxx", packet[-12:])
        return (*column[:3], length, None, decimals, *column[6:])


# --- the type mapping ------------------------------------------------------------

Convert = Callable[[Sequence[bytes | None]], pa.Array]

_JSON = {b"ARROW:extension:name": b"arrow.json"}
_INTEGERS: dict[int, tuple[pa.DataType, pa.DataType]] = {
    FieldType.TINY: (pa.int8(), pa.uint8()),
    FieldType.SHORT: (pa.int16(), pa.uint16()),
    FieldType.INT24: (pa.int32(), pa.uint32()),
    FieldType.LONG: (pa.int32(), pa.uint32()),
    FieldType.LONGLONG: (pa.int64(), pa.uint64()),
}
_PARSED: dict[int, pa.DataType] = {
    FieldType.FLOAT: pa.float32(),
    FieldType.DOUBLE: pa.float64(),
    FieldType.YEAR: pa.int16(),
}
_DATES: dict[int, pa.DataType] = {
    FieldType.DATE: pa.date32(),
    FieldType.NEWDATE: pa.date32(),
    FieldType.DATETIME: pa.timestamp("us"),
    FieldType.TIMESTAMP: pa.timestamp("us"),
}
_BINARY_CHARSET = 63
_DAY_US = 86_400_000_000


def arrow_column(description: Sequence[Any], starrocks: bool = False) -> tuple[pa.Field, Convert]:
    """The Arrow field for one column definition, and how to turn its text values into it.

    `description` is the driver's column tuple as `_ColumnProtocol` fills it: (name, type
    code, _, length, _, decimals, null_ok, flags, charset). `starrocks`: the server is
    StarRocks, which counts DECIMAL lengths its own way.
    """
    name, code, _, length, _, scale, _, flags, charset = description[:9]
    unsigned = bool(flags & FieldFlag.UNSIGNED)
    if code in _INTEGERS:
        return _parsed(name, _INTEGERS[code][unsigned])
    if code in (FieldType.DECIMAL, FieldType.NEWDECIMAL):
        return _parsed(name, _decimal_type(length, scale, unsigned, starrocks))
    if code in _PARSED:
        return _parsed(name, _PARSED[code])
    if code in _DATES:
        return pa.field(name, _DATES[code]), _dates(_DATES[code])
    if code == FieldType.TIME:
        return pa.field(name, pa.time64("us")), _times(name)
    if code == FieldType.BIT:
        if length == 1:  # BIT(1) is how MySQL schemas spell a boolean
            return pa.field(name, pa.bool_()), _bits(pa.bool_(), lambda v: v != b"\x00")
        return pa.field(name, pa.uint64()), _bits(pa.uint64(), lambda v: int.from_bytes(v, "big"))
    if code == FieldType.NULL:
        return pa.field(name, pa.null()), lambda values: pa.nulls(len(values))
    if code == FieldType.JSON:  # MySQL's JSON; StarRocks and MariaDB send JSON as text
        return pa.field(name, pa.string(), metadata=_JSON), _text
    if charset == _BINARY_CHARSET:  # BINARY, VARBINARY, BLOB, GEOMETRY, anything unknown
        return pa.field(name, pa.binary()), lambda values: pa.array(values, pa.binary())
    return pa.field(name, pa.string()), _text  # CHAR, VARCHAR, TEXT, ENUM, SET


def _decimal_type(length: int, scale: int, unsigned: bool, starrocks: bool) -> pa.DataType:
    """DECIMAL(p, s) from the column length, which counts the digits plus extra bytes:
    MySQL and MariaDB send p + point (when s > 0) + sign (unless UNSIGNED); StarRocks
    sends p + point + 3, and no flags at all."""
    point = 1 if scale > 0 else 0
    extra = 3 if starrocks else 0 if unsigned else 1
    precision = min(max(length - point - extra, scale, 1), 76)
    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


def _text(values: Sequence[bytes | None]) -> pa.Array:
    return pa.array(values, pa.binary()).cast(pa.string())  # the cast checks the UTF-8


def _parsed(name: str, arrow_type: pa.DataType) -> tuple[pa.Field, Convert]:
    """A column whose text form Arrow parses itself (numbers, decimals, YEAR)."""
    return pa.field(name, arrow_type), lambda values: _text(values).cast(arrow_type)


def _dates(arrow_type: pa.DataType) -> Convert:
    """DATE and DATETIME text; MySQL's "zero date" (0000-00-00) names no day: NULL, as
    the MySQL drivers read it."""

    def convert(values: Sequence[bytes | None]) -> pa.Array:
        text = _text(values)
        zero = pc.starts_with(text, "0000-00-00")
        return pc.if_else(zero, pa.scalar(None, pa.string()), text).cast(arrow_type)

    return convert


def _times(name: str) -> Convert:
    """TIME text to microseconds of the day.

    A MySQL TIME is really a duration (-838:59:59 to 838:59:59, e.g. from TIMEDIFF). Arrow's
    time64 holds a time of day, so a value outside 00:00:00-23:59:59.999999 fails the
    query with a clear error rather than being wrapped or nulled silently.
    """

    def micros(value: bytes) -> int:
        hms, _, fraction = value.partition(b".")
        hours, minutes, seconds = (int(part) for part in hms.split(b":"))
        total = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + int(fraction.ljust(6, b"0"))
        if value.startswith(b"-") or total >= _DAY_US:
            raise QueryError(
                ErrorCode.INVALID_ARGUMENT,
                f"column {name!r}: TIME value {value.decode()} is not a time of day"
                " (00:00:00 to 23:59:59.999999); CAST it to CHAR to read it as text",
            )
        return total

    def convert(values: Sequence[bytes | None]) -> pa.Array:
        return pa.array([None if v is None else micros(v) for v in values], pa.time64("us"))

    return convert


def _bits(arrow_type: pa.DataType, value_of: Callable[[bytes], Any]) -> Convert:
    """BIT(n) arrives as n bits of big-endian bytes, not as text."""
    return lambda values: pa.array([None if v is None else value_of(v) for v in values], arrow_type)


# --- the engine --------------------------------------------------------------------


class _Conn:
    """A pool slot: a driver connection (opened in the worker when absent) and its state."""

    def __init__(self) -> None:
        self.raw: MySQLConnection | None = None
        self.database: str | None = None  # what the connection uses, as far as we know
        self.idle_since = time.monotonic()
        self.broken = False  # killed, lost, or failed mid-result: close, never reuse
        self.killer: threading.Thread | None = None

    def reusable(self) -> bool:
        raw = self.raw
        return (
            raw is not None
            and not self.broken
            and not raw.unread_result
            and not raw.have_next_result
        )


class StarRocksEngine(Engine):
    """A StarRocks cluster (or MySQL / MariaDB) at `mysql://user:password@host:port/db`."""

    engine_type = EngineType.STARROCKS
    _calls: ActiveCalls

    def __init__(self, name: str, config: ClusterConfig) -> None:
        self.name = name
        self._params = _connect_params(name, config)
        self._database: str | None = self._params.get("database")
        self.starrocks: bool | None = None  # learnt from the first connection
        size = config.pool_size or config.max_running_queries or 8
        self._slots = trio.Semaphore(size)  # connections handed out, idle ones aside
        self._idle: list[_Conn] = []  # touched on the Trio thread only
        self._limiter = trio.CapacityLimiter(size)
        # Probes get their own thread and connection, so a cluster busy with queries still
        # answers its health check instead of looking dead.
        self._probe_limiter = trio.CapacityLimiter(1)
        self._calls = ActiveCalls()

    @asynccontextmanager
    async def execute(self, sql: str, session: Session) -> AsyncIterator[Result]:
        await self._slots.acquire()
        conn = self._idle.pop() if self._idle else _Conn()
        result = _StarRocksResult(self, conn)
        try:
            # One thread hop connects if needed, starts the query and reads the first
            # batch, so a small result is complete (and known to be) after it.
            # MySQL has one namespace level (a database is a schema): the most specific
            # name the client gave selects it (Trino's schema, PostgreSQL's database).
            database = session.schema or session.database
            await self._call(conn, lambda: result.start(sql, database))
            yield result
        finally:
            with trio.CancelScope(shield=True):
                await self._release(conn)

    async def health_check(self, query: str | None = None) -> None:
        await self._oneshot(lambda raw: _fetch_all(raw, query or "SELECT 1"))

    async def catalog(self) -> Catalog:
        rows, current = await self._oneshot(_read_catalog)
        tables: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for catalog, schema, table, column, column_type in rows:
            tables.setdefault(catalog or "def", {}).setdefault(schema, {}).setdefault(table, {})[
                column
            ] = column_type
        # No default catalog: the translator would then write three-part names, which
        # MySQL rejects ("def" is no real catalog) and the current StarRocks catalog
        # does not need. Two-part names resolve against the single catalog level.
        return Catalog(tables, "starrocks", None, self._database or current)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []

        def close_all() -> None:
            for conn in idle:
                if conn.raw is not None:
                    conn.raw.close()

        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(close_all)

    # --- connections -----------------------------------------------------------------

    def _connect(self) -> MySQLConnection:
        """Worker: a new connection, able to report column lengths and decimals."""
        try:
            raw = MySQLConnection(**self._params)
        except mysql.connector.Error as exc:
            raise QueryError(
                ErrorCode.ENGINE_ERROR,
                f"cannot connect to cluster {self.name!r}: {exc.msg or exc}",
                cause_type=type(exc).__name__,
            ) from exc
        raw._protocol = _ColumnProtocol()
        if self.starrocks is None:
            self.starrocks = _is_starrocks(raw)
        return raw

    def _prepare(self, conn: _Conn, database: str | None) -> MySQLConnection:
        """Worker: `conn`'s live connection, using `database` (the cluster's when None)."""
        want = database or self._database
        raw = conn.raw
        if raw is not None and (
            (want is None and conn.database is not None)  # MySQL cannot un-USE a database
            or (time.monotonic() - conn.idle_since > IDLE_CHECK_SECS and not _alive(raw))
        ):
            _drop(raw)
            raw = conn.raw = None
        if raw is None:
            raw = conn.raw = self._connect()
            conn.database = self._database
        if want is not None and want != conn.database:
            raw.cmd_query("USE `" + want.replace("`", "``") + "`")
            conn.database = want
        return raw

    async def _release(self, conn: _Conn) -> None:
        """Pool `conn` if its statement ended cleanly; otherwise stop whatever it still runs
        and close it."""
        try:
            if conn.reusable():
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
                return
            raw = conn.raw
            if raw is None:
                return
            if raw.unread_result and conn.killer is None:  # left mid-result, never killed
                with trio.move_on_after(CANCEL_GRACE_SECS):
                    await trio.to_thread.run_sync(
                        self._kill, raw.connection_id, abandon_on_cancel=True
                    )
            _drop(raw)
        finally:
            self._slots.release()

    def _kill(self, connection_id: int | None) -> None:
        """Worker: KILL QUERY from a connection of our own, since the query's connection is
        blocked reading its result."""
        try:
            killer = self._connect()
            try:
                killer.cmd_query(f"KILL QUERY {int(connection_id or 0)}")
            finally:
                killer.close()
        except (QueryError, mysql.connector.Error) as exc:  # e.g. the query already ended
            log.debug("kill query failed", engine=self.name, error=str(exc))

    def _interrupter(self, conn: _Conn) -> Callable[[], None]:
        """What `run_interruptible` calls on the Trio thread, every 50 ms until the worker
        returns: start a KILL QUERY thread unless one is still on its way (a kill that
        lands before the statement started is a no-op, hence the retries)."""

        def interrupt() -> None:
            conn.broken = True
            raw = conn.raw
            if raw is None:  # still connecting: nothing runs yet
                return
            if conn.killer is None or not conn.killer.is_alive():
                conn.killer = threading.Thread(
                    target=self._kill, args=(raw.connection_id,), daemon=True
                )
                conn.killer.start()

        return interrupt

    async def _call(
        self, conn: _Conn, fn: Callable[[], T], limiter: trio.CapacityLimiter | None = None
    ) -> T:
        try:
            return await run_interruptible(
                self._calls.tracked(fn),
                self._interrupter(conn),
                limiter or self._limiter,
                engine=self.name,
            )
        except mysql.connector.Error as exc:
            conn.broken = conn.broken or not _statement_error(exc)
            raise to_query_error(exc, self.name) from exc
        except BaseException:
            conn.broken = True
            raise

    async def _oneshot(self, fn: Callable[[MySQLConnection], T]) -> T:
        """Run `fn` on a fresh connection in the probe thread, then close it."""
        conn = _Conn()

        def run() -> T:
            raw = self._prepare(conn, None)
            value = fn(raw)
            conn.raw = None
            raw.close()
            return value

        try:
            return await self._call(conn, run, self._probe_limiter)
        finally:
            if conn.raw is not None:
                _drop(conn.raw)


class _StarRocksResult(ReadAheadResult):
    """Rows read BATCH_ROWS at a time from the unbuffered text protocol, as Arrow batches."""

    def __init__(self, engine: StarRocksEngine, conn: _Conn) -> None:
        super().__init__()
        self._engine = engine
        self._conn = conn
        self._convert: list[Convert] = []

    def start(self, sql: str, database: str | None) -> None:
        """Worker thread: run `sql` and read the first batch."""
        raw = self._engine._prepare(self._conn, database)
        answer = raw.cmd_query(sql, raw=True)
        if "columns" not in answer:  # DML, DDL, SET: an OK packet
            self.update_count = int(answer.get("affected_rows") or 0)
            self.exhausted = True
            return
        starrocks = bool(self._engine.starrocks)
        columns = [arrow_column(column, starrocks) for column in answer["columns"]]
        self.schema = pa.schema([field for field, _ in columns])
        self._convert = [convert for _, convert in columns]
        first = self._read()
        if first is not None:
            self._ahead.append(first)

    async def read_more(self) -> pa.RecordBatch | None:
        return await self._engine._call(self._conn, self._read)

    def _read(self) -> pa.RecordBatch | None:
        """Worker thread: the next rows (up to BATCH_ROWS) as a batch; None at the end."""
        assert self._conn.raw is not None
        rows, eof = self._conn.raw.get_rows(count=BATCH_ROWS, raw=True)
        if eof is not None:
            self.exhausted = True
        if not rows:
            return None
        columns = list(zip(*rows, strict=True))
        arrays = []
        for field, convert, values in zip(self.schema, self._convert, columns, strict=True):
            try:
                arrays.append(convert(values))
            except pa.ArrowInvalid as exc:
                raise QueryError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"column {field.name!r}: cannot read a value as {field.type}: {exc}",
                ) from exc
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


# --- helpers -----------------------------------------------------------------------


def _connect_params(name: str, config: ClusterConfig) -> dict[str, Any]:
    """mysql-connector's arguments from the endpoint URL; `auth` overrides its user."""
    if not config.endpoint:
        raise ValueError(f"clusters.{name}.endpoint: required (mysql://user:pass@host:port/db)")
    url = urlsplit(config.endpoint)
    if url.scheme not in ("mysql", "starrocks"):
        raise ValueError(
            f"clusters.{name}.endpoint: expected mysql://user:pass@host:port/db,"
            f" got {config.endpoint!r}"
        )
    user, password = unquote(url.username or "") or "root", unquote(url.password or "")
    if config.auth is not None:
        user = config.auth.username or user
        password = password if config.auth.password is None else config.auth.password
    params: dict[str, Any] = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or DEFAULT_PORT,
        "user": user,
        "password": password,
        "database": unquote(url.path.lstrip("/")) or config.database or None,
        "autocommit": True,  # one statement per query, as a Trino client expects
        "charset": "utf8mb4",
        "connection_timeout": CONNECT_TIMEOUT_SECS,
    }
    if config.tls is not None:
        params["ssl_disabled"] = False
        params["ssl_verify_cert"] = not config.tls.insecure_skip_verify
        params["ssl_verify_identity"] = not config.tls.insecure_skip_verify
        if config.tls.ca_file:
            params["ssl_ca"] = config.tls.ca_file
    return params


def _drop(raw: MySQLConnection) -> None:
    """Close a connection without waiting on it: it may be mid-result, or dead already.
    Shutting the socket down first makes the goodbye fail at once, and wakes a worker
    still blocked reading it."""
    raw.shutdown()
    raw.close()


def _alive(raw: MySQLConnection) -> bool:
    try:
        raw.ping()
    except mysql.connector.Error:
        return False
    return True


def _is_starrocks(raw: MySQLConnection) -> bool:
    """Worker: StarRocks has current_version(); MySQL and MariaDB do not. The handshake's
    version cannot tell: StarRocks reports a MySQL version there."""
    try:
        _fetch_all(raw, "SELECT current_version()")
    except mysql.connector.Error:
        return False
    return True


def _fetch_all(raw: MySQLConnection, sql: str) -> list[tuple[Any, ...]]:
    """Worker: every row of a small statement, as Python values."""
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall()) if cursor.with_rows else []
    finally:
        cursor.close()


_CATALOG_SQL = f"""
    SELECT TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE
    FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA NOT IN ({", ".join(f"'{schema}'" for schema in _SYSTEM_SCHEMAS)})
    ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION
"""


def _read_catalog(raw: MySQLConnection) -> tuple[list[tuple[str, ...]], str | None]:
    """Worker: (catalog, schema, table, column, column type) rows and DATABASE()."""
    rows = [tuple(_str(value) for value in row) for row in _fetch_all(raw, _CATALOG_SQL)]
    current = _fetch_all(raw, "SELECT DATABASE()")[0][0]
    return rows, _str(current) if current is not None else None


def _str(value: Any) -> str:
    """information_schema text; some servers send it with a binary charset."""
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)
