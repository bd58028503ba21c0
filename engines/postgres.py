"""PostgreSQL over psycopg 3's sync API, driven from worker threads.

A PostgreSQL-wire client's query or DML that wants text rows takes another way: the
server's own messages, passed through on the engine's Trio connections
(`pg_passthrough`). What follows is every other statement's way.

psycopg's async API runs on asyncio only, so every call that may block (taking a pooled
connection, running the statement, reading each batch) runs in a worker thread under
this engine's own CapacityLimiter. A statement that returns rows (SELECT, WITH, VALUES,
TABLE) is streamed: sent once, its rows read in libpq's chunked mode `BATCH_ROWS` at a
time, one worker call per batch the frontend asks for. The server is held back by the
socket meanwhile, so a large result streams in bounded memory, and a small one is done
in one round trip, with no transaction or cursor around it. Anything else (DML, DDL,
SHOW, multi-statement text) runs plainly in autocommit; its rows, if any, are fetched
at once.

Cancelling the query's scope while a driver call runs sends a cancel request
(`cancel_safe`, from a helper thread so the Trio thread never blocks on the network),
and the connection is then closed and handed back to the pool, which discards it: a
connection whose query was cancelled, killed or broken is never reused. Leaving between
batches cancels the rest of the result and drains it, which keeps the connection. A
connection that ran anything but a query, or a query with the session's search_path,
is reset with DISCARD ALL before it goes back, so no client's session state
(search_path, SET, temp tables) reaches the next query; a connection idle for more
than a second is checked before it is handed out, and one the server ended while it
sat in the pool is noticed (it has become readable) and swapped before use.

Arrow types come from the result's type oids (see `_SCALARS`):

| PostgreSQL                         | Arrow                                            |
|------------------------------------|--------------------------------------------------|
| bool                               | bool                                             |
| int2, int4, int8, oid              | int16, int32, int64, int64                       |
| float4, float8                     | float32, float64                                 |
| numeric(p,s)                       | decimal128(p,s); decimal256 if p > 38; string    |
|                                    | if p > 76                                        |
| numeric (unconstrained)            | decimal128(38,10), rounded half-even (below)     |
| text, varchar, bpchar, name, "char"| string (varchar/name/"char" marked for pgwire)   |
| bytea                              | binary                                           |
| date, time, timestamp              | date32, time64[us], timestamp[us]                |
| timestamptz                        | timestamp[us, UTC]                               |
| interval                           | month_day_nano_interval (exact months/days/us)   |
| uuid                               | arrow.uuid                                       |
| json, jsonb                        | arrow.json (jsonb marked so for pgwire)          |
| arrays of the above                | list (nested lists for multi-dimensional arrays) |
| anything else (inet, ranges, enums,| string: PostgreSQL's own text form               |
| timetz, records, extension types)  |                                                  |

An unconstrained numeric (what sum() and avg() return) has no precision to map, so it
becomes decimal(38,10): exact for up to 28 integer and 10 fractional digits, longer
fractions rounded. A value that does not fit, NaN or +/-Infinity fails the query
(INVALID_ARGUMENT, naming the column: cast it to text or float8). Infinite or BC dates
and timestamps fail too (psycopg cannot load them). Multi-dimensional arrays take
their depth from the first batch. `session.database` is not used: a connection is bound
to the endpoint's database.
"""

from __future__ import annotations

import itertools
import re
import select
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar, cast

import psycopg
import pyarrow as pa
import structlog
import trio
from psycopg import errors, postgres, sql
from psycopg.adapt import AdaptersMap, Buffer, Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from qflux.core import EngineType, ErrorCode, QueryError, Result, Session

from .base import (
    CANCEL_GRACE_SECS,
    ActiveCalls,
    Catalog,
    Engine,
    ReadAheadResult,
    run_interruptible,
)
from .pg_passthrough import (
    PassthroughStatement,
    WireEndpoint,
    WirePool,
    WireUnsupported,
    error_code,
)

if TYPE_CHECKING:
    from qflux.config import ClusterConfig

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]
log = structlog.get_logger("qflux.engines.postgres")

#: Rows per FETCH and per Arrow batch: amortises a round trip and a thread hop while
#: one batch of wide rows stays a few MB of Python objects.
BATCH_ROWS = 10_000
#: A pooled connection idle longer than this is pinged before a query gets it.
IDLE_CHECK_SECS = 1.0
#: How long a query waits for a pooled connection before failing.
ACQUIRE_TIMEOUT_SECS = 30.0
#: A query waiting this long for a connection checks that the server is reachable
#: (the pool connects in the background and never says why it cannot), then again
#: after doubling gaps up to `MAX_PROBE_GAP_SECS`.
FIRST_PROBE_SECS = 0.25
MAX_PROBE_GAP_SECS = 8.0
#: Waits for a pooled connection are sliced this thin so a cancel is noticed.
WAIT_SLICE_SECS = 0.1
CONNECT_TIMEOUT_SECS = 10
#: The pool retries a failed connection attempt this long before giving up until the
#: next request, so a server that comes back is used at once, not after a long backoff.
RECONNECT_SECS = 2.0
APPLICATION_NAME = "qflux"
#: Output styles the loaders parse (psycopg needs ISO dates; `_IntervalLoader` reads
#: the postgres interval style). Appended after the endpoint's own options, so they win.
_SESSION_OPTIONS = "-c DateStyle=ISO -c IntervalStyle=postgres"
#: Rows per chunk libpq hands over while a result streams (chunked mode needs libpq 17;
#: an older one streams row by row).
_CHUNK_ROWS = BATCH_ROWS if psycopg.pq.version() >= 170000 else 1
#: Field metadata naming the PostgreSQL type of a string or json column, as read by
#: qflux.frontends.pg_types (PG_TYPE_KEY); engines do not import frontends.
_PG_TYPE_KEY = b"qflux.pg_type"
_EXTENSION_KEY = b"ARROW:extension:name"

UNCONSTRAINED_NUMERIC = pa.decimal128(38, 10)
_NUMERIC_CONTEXT = Context(prec=38, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])
_NUMERIC_QUANTUM = Decimal(1).scaleb(-UNCONSTRAINED_NUMERIC.scale)


def to_query_error(exc: psycopg.Error, cluster: str) -> QueryError:
    """Map a psycopg error to a client-facing one, keeping PostgreSQL's message."""
    state = exc.sqlstate or ""
    message = str(exc).strip() or type(exc).__name__
    code = error_code(state)
    if code is None and not state and isinstance(exc, psycopg.DataError):
        code = ErrorCode.INVALID_ARGUMENT  # a value psycopg could not load
    if code is None:
        code = ErrorCode.ENGINE_ERROR
        if state.startswith(("08", "57P")) or isinstance(exc, psycopg.OperationalError):
            message = f"connection to cluster {cluster!r} lost: {message}"
    return QueryError(code, message, cause_type=type(exc).__name__, sqlstate=exc.sqlstate)


class PostgresEngine(Engine):
    """A PostgreSQL server at `endpoint` (`postgresql://user:pass@host:port/db`)."""

    engine_type = EngineType.POSTGRES
    _calls: ActiveCalls

    def __init__(self, name: str, config: ClusterConfig) -> None:
        self.name = name
        self._kwargs = connection_kwargs(name, config)
        self.pool_size = config.pool_size or config.max_running_queries or 8
        # One connection and thread beyond pool_size for health checks and catalog
        # reads, so a cluster whose queries hold every connection still answers them.
        self._limiter = trio.CapacityLimiter(self.pool_size)
        self._probe_limiter = trio.CapacityLimiter(1)
        self._pool: ConnectionPool[Connection] | None = None
        self._pool_lock = threading.Lock()
        self._returned_at: dict[int, float] = {}  # id(connection) -> when it came back
        self._dirty: set[int] = set()  # ids of connections that need DISCARD ALL
        self._closed = False
        self._calls = ActiveCalls()
        wire_endpoint = WireEndpoint.from_params(self._kwargs)
        self.wire_pool: WirePool | None = None
        if isinstance(wire_endpoint, str):
            log.info("rows are not passed through", cluster=name, reason=wire_endpoint)
        else:
            self.wire_pool = WirePool(wire_endpoint, self.pool_size)

    def execute(self, sql: str, session: Session) -> AbstractAsyncContextManager[Result]:
        if (
            session.pg_rows
            and self.wire_pool is not None
            and not session.schema
            and _first_word(sql) in _PASSABLE
        ):
            timezone = session.properties.get("TimeZone")

            def instead(exc: WireUnsupported) -> AbstractAsyncContextManager[Result]:
                if self.wire_pool is not None:
                    log.warning("rows are not passed through", cluster=self.name, reason=str(exc))
                    self.wire_pool.close()
                    self.wire_pool = None
                return self._execute(sql, session)

            return PassthroughStatement(self.wire_pool, sql, timezone, self.name, instead)
        return self._execute(sql, session)

    @asynccontextmanager
    async def _execute(self, sql: str, session: Session) -> AsyncIterator[Result]:
        query = _Query(self)
        result = _PgResult(self, query)
        try:
            # One thread hop takes a connection, starts the query and reads the first
            # batch, so a small result is complete (and released) after it.
            await self._call(query, lambda: result.start(sql, session.schema))
            yield result
        finally:
            await self._release(query, self._limiter)

    async def health_check(self, query: str | None = None) -> None:
        probe = _Query(self)
        try:
            await self._call(probe, lambda: probe.run_all(query or "SELECT 1"), self._probe_limiter)
        finally:
            await self._release(probe, self._probe_limiter)

    async def catalog(self) -> Catalog:
        reader = _Query(self)
        try:
            rows, defaults = await self._call(
                reader,
                lambda: (reader.run_all(_CATALOG_SQL), reader.run_all(_DEFAULTS_SQL)),
                self._probe_limiter,
            )
        finally:
            await self._release(reader, self._probe_limiter)
        tables: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for database, schema, table, column, data_type in rows:
            tables.setdefault(database, {}).setdefault(schema, {}).setdefault(table, {})[column] = (
                data_type
            )
        return Catalog(tables, "postgres", defaults[0][0], defaults[0][1])

    async def aclose(self) -> None:
        if self.wire_pool is not None:
            self.wire_pool.close()
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            await trio.to_thread.run_sync(pool.close, CANCEL_GRACE_SECS)

    async def _call(
        self, query: _Query, fn: Callable[[], T], limiter: trio.CapacityLimiter | None = None
    ) -> T:
        try:
            return await run_interruptible(
                self._calls.tracked(lambda: query.run(fn)),
                query.interrupt,
                limiter or self._limiter,
                engine=self.name,
            )
        except psycopg.Error as exc:
            raise to_query_error(exc, self.name) from exc

    async def _release(self, query: _Query, limiter: trio.CapacityLimiter) -> None:
        if query.reusable_as_is():
            query.release()  # idle and clean: handing it back does no I/O
        else:  # a rollback, or closing a cancelled connection: off the Trio thread
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(query.release, limiter=limiter)

    def _open_pool(self) -> ConnectionPool[Connection]:
        with self._pool_lock:
            if self._closed:
                raise QueryError(ErrorCode.SHUTTING_DOWN, f"cluster {self.name!r} is closed")
            if self._pool is None:
                self._pool = ConnectionPool(
                    kwargs=self._kwargs,
                    min_size=0,
                    max_size=self.pool_size + 1,
                    open=False,
                    check=self._check,
                    name=f"qflux-{self.name}",
                    reconnect_timeout=RECONNECT_SECS,
                )
                self._pool.open()
            return self._pool

    def getconn(self, cancelled: Callable[[], bool]) -> Connection:
        """Worker thread: a pooled connection, or a QueryError saying why there is none."""
        pool = self._open_pool()
        started = time.monotonic()
        probe_at, gap = started + FIRST_PROBE_SECS, FIRST_PROBE_SECS
        while not cancelled():
            try:
                return pool.getconn(timeout=WAIT_SLICE_SECS)
            except PoolTimeout:
                pass
            now = time.monotonic()
            if now - started > ACQUIRE_TIMEOUT_SECS:
                raise QueryError(
                    ErrorCode.ENGINE_ERROR,
                    f"cluster {self.name!r}: no free connection after {ACQUIRE_TIMEOUT_SECS:g}s"
                    f" (pool of {self.pool_size + 1})",
                )
            if now >= probe_at:
                self._check_reachable()
                gap = min(gap * 2, MAX_PROBE_GAP_SECS)
                probe_at = now + gap
        raise QueryError(ErrorCode.CANCELLED, "cancelled while waiting for a connection")

    def _check(self, conn: Connection) -> None:
        """Pool: a connection idle long enough to have been dropped is pinged first."""
        if time.monotonic() - self._returned_at.get(id(conn), 0.0) > IDLE_CHECK_SECS:
            ConnectionPool.check_connection(conn)

    def reset_if_dirty(self, conn: Connection) -> None:
        """Worker thread, before the connection goes back: one that may carry session
        state starts the next query fresh. Done here rather than by the pool, whose
        reset would wake one of its own threads for every returned connection."""
        if id(conn) in self._dirty:
            self._dirty.discard(id(conn))
            conn.execute("DISCARD ALL")

    def mark_dirty(self, conn: Connection) -> None:
        self._dirty.add(id(conn))

    def is_dirty(self, conn: Connection) -> bool:
        return id(conn) in self._dirty

    def putconn(self, conn: Connection) -> None:
        self._returned_at[id(conn)] = time.monotonic()
        pool = self._pool
        if pool is not None:
            pool.putconn(conn)
        else:  # the engine was closed meanwhile
            conn.close()

    def _check_reachable(self) -> None:
        try:
            psycopg.connect(**self._kwargs).close()
        except psycopg.Error as exc:
            raise QueryError(
                ErrorCode.ENGINE_ERROR,
                f"cannot connect to cluster {self.name!r}: {str(exc).strip()}",
                cause_type=type(exc).__name__,
            ) from exc


def connection_kwargs(name: str, config: ClusterConfig) -> dict[str, Any]:
    """psycopg.connect() arguments: the endpoint's, with the config's overrides."""
    if not config.endpoint:
        raise ValueError(f"clusters.{name}.endpoint: required for the postgres engine")
    try:
        params: dict[str, Any] = conninfo_to_dict(config.endpoint)
    except psycopg.ProgrammingError as exc:
        raise ValueError(
            f"clusters.{name}.endpoint: not a postgresql:// URL or conninfo string: {exc}"
        ) from exc
    if config.auth is not None:
        if config.auth.username:
            params["user"] = config.auth.username
        if config.auth.password:
            params["password"] = config.auth.password
    if config.database:
        params["dbname"] = config.database
    if config.tls is not None:
        params["sslmode"] = "require" if config.tls.insecure_skip_verify else "verify-full"
        params["sslrootcert"] = config.tls.ca_file or "system"
    params.setdefault("application_name", APPLICATION_NAME)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECS)
    params["options"] = " ".join(filter(None, [params.get("options"), _SESSION_OPTIONS]))
    # No server-side prepared statements: every query text is new anyway, and DISCARD
    # ALL (the pool's reset) would drop them under psycopg's feet.
    params.update(autocommit=True, prepare_threshold=None, context=_ADAPTERS)
    return params


class _Query:
    """One statement's pooled connection: taken, interrupted, and returned or discarded.

    Driver calls run one at a time under `_busy`. `interrupt` (Trio thread) marks the
    query cancelled and sends a cancel request from a helper thread; a cancelled,
    broken or still-running connection is closed before it goes back to the pool.
    """

    def __init__(self, engine: PostgresEngine) -> None:
        self._engine = engine
        self.conn: Connection | None = None
        self.stream: Generator[tuple[Any, ...]] | None = None  # rows still coming, if any
        self.cancelled = False
        self._orphaned = False  # released while a call still ran: that call returns it
        self._busy = threading.Lock()
        self._cancelling = threading.Lock()  # held while a cancel request is on its way

    def connect(self) -> Connection:
        """Worker thread: take a pooled connection (once)."""
        if self.conn is None:
            self.conn = self._engine.getconn(lambda: self.cancelled)
        if self.cancelled:
            raise QueryError(ErrorCode.CANCELLED, "cancelled before it started")
        return self.conn

    def connect_live(self) -> Connection:
        """Worker thread: a connection that has not died while it sat in the pool.

        An idle pooled connection has nothing to read unless the server ended it
        (terminated, restarted: its last words and EOF are waiting). Nothing else can
        arrive unasked: a session that ran LISTEN was reset with DISCARD ALL. So a
        readable one is swapped for another without a round trip, before anything runs
        on it."""
        conn = self.connect()
        if select.select([conn.fileno()], [], [], 0)[0]:
            self.drop()
            conn = self.connect()
        return conn

    def run(self, fn: Callable[[], T]) -> T:
        """Worker thread: one driver call."""
        with self._busy:
            try:
                return fn()
            finally:
                if self._orphaned:
                    self._return()

    def run_all(self, query: str) -> list[tuple[Any, ...]]:
        """Worker thread: a small statement's rows (health checks, catalog reads)."""
        cursor = self.connect().execute(query)
        return cursor.fetchall() if cursor.description is not None else []

    def interrupt(self) -> None:
        """Trio thread, repeated until the running call returns."""
        self.cancelled = True
        if self.conn is not None and self._cancelling.acquire(blocking=False):
            threading.Thread(target=self._cancel, name="qflux-pg-cancel", daemon=True).start()

    def _cancel(self) -> None:
        try:
            conn = self.conn
            if conn is not None and not conn.closed:
                conn.cancel_safe(timeout=CANCEL_GRACE_SECS)
        except psycopg.Error as exc:
            log.info("cancel request failed", engine=self._engine.name, error=str(exc))
        finally:
            self._cancelling.release()

    def reusable_as_is(self) -> bool:
        conn = self.conn
        return conn is None or (
            not self.cancelled
            and self.stream is None
            and conn.info.transaction_status == TransactionStatus.IDLE
            and not self._engine.is_dirty(conn)
        )

    def release(self) -> None:
        """Return the connection; if a call still runs, it does so when it returns."""
        if not self._busy.acquire(blocking=False):
            self._orphaned = True
            if not self._busy.acquire(blocking=False):
                return
        try:
            self._return()
        finally:
            self._busy.release()

    def drop(self) -> None:
        """Worker thread: give back a dead connection, closed (the pool replaces it)."""
        if self.conn is not None:
            self.conn.close()
        self._return()

    def _return(self) -> None:
        with self._cancelling:  # never close under a cancel request still using it
            conn, self.conn = self.conn, None
        stream, self.stream = self.stream, None
        if conn is None:
            return
        if self.cancelled or self._orphaned or conn.broken or conn.closed:
            conn.close()  # the pool discards a closed connection and replaces it
        else:
            try:
                if stream is not None:  # left mid-result: psycopg cancels the rest, drains
                    stream.close()
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
                self._engine.reset_if_dirty(conn)
            except psycopg.Error:
                conn.close()
        self._engine.putconn(conn)


class _PgResult(ReadAheadResult):
    """Batches read from the streamed result, one worker-thread call per batch."""

    def __init__(self, engine: PostgresEngine, query: _Query) -> None:
        super().__init__()
        self._engine = engine
        self._query = query
        self._columns: list[_Column] = []

    def start(self, sql_text: str, schema: str | None) -> None:
        """Worker thread: run the statement and read its first batch."""
        conn = self._query.connect_live()
        if schema:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            self._engine.mark_dirty(conn)
        if _may_declare(sql_text):
            try:
                self._stream(conn, sql_text)
                return
            except (errors.SyntaxError, errors.FeatureNotSupported):
                # Not a single query (several statements): run it plainly, where a real
                # syntax error is reported again.
                self._query.stream = None
        self._engine.mark_dirty(conn)  # anything else may change the session
        self._run_plain(conn, sql_text)

    def _stream(self, conn: Connection, sql_text: str) -> None:
        """Start streaming the result and read its first batch."""
        cursor = conn.cursor()
        # Typed as an Iterator, made as a generator: `close()` cancels and drains the rest.
        stream = cast(Generator[tuple[Any, ...]], cursor.stream(sql_text, size=_CHUNK_ROWS))
        self._query.stream = stream
        rows = list(itertools.islice(stream, BATCH_ROWS))
        self._describe(cursor.description, rows)
        if len(rows) < BATCH_ROWS:
            self._end()
        self._ahead.append(self._batch(rows))

    def _run_plain(self, conn: Connection, sql_text: str) -> None:
        cursor = conn.execute(sql_text)
        while cursor.nextset():  # several statements: the last one's result counts
            pass
        self.exhausted = True
        if cursor.description is None:
            self.update_count = cursor.rowcount if cursor.rowcount >= 0 else None
            return
        rows = cursor.fetchall()
        self._describe(cursor.description, rows[:BATCH_ROWS])
        for offset in range(0, len(rows), BATCH_ROWS):
            self._ahead.append(self._batch(rows[offset : offset + BATCH_ROWS]))

    async def read_more(self) -> pa.RecordBatch | None:
        return await self._engine._call(self._query, self._fetch)

    def _fetch(self) -> pa.RecordBatch:
        """Worker thread: the next batch of the stream."""
        assert self._query.stream is not None
        rows = list(itertools.islice(self._query.stream, BATCH_ROWS))
        if len(rows) < BATCH_ROWS:
            self._end()
        return self._batch(rows)

    def _end(self) -> None:
        """Every row is read: the connection is idle again, nothing to close."""
        self._query.stream = None
        self.exhausted = True

    def _describe(self, description: Sequence[psycopg.Column] | None, sample: list[Any]) -> None:
        self._columns = [
            _column(c, (row[i] for row in sample)) for i, c in enumerate(description or ())
        ]
        self.schema = pa.schema([c.field for c in self._columns])

    def _batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        values = list(zip(*rows, strict=True)) if rows else [()] * len(self._columns)
        arrays = [c.to_array(v) for c, v in zip(self._columns, values, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


# statements --------------------------------------------------------------------------

_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/|\()*([a-z]*)", re.DOTALL | re.IGNORECASE)
_DECLARABLE = {"select", "with", "values", "table"}
#: Statements a pass-through connection may run and stay reusable as it is: queries and
#: DML leave no session state behind (a PostgreSQL-wire client's SET and transaction
#: statements are answered by the frontend).
_PASSABLE = _DECLARABLE | {"insert", "update", "delete", "merge"}


def _first_word(sql_text: str) -> str:
    match = _FIRST_WORD.match(sql_text)
    return match.group(1).lower() if match is not None else ""


def _may_declare(sql_text: str) -> bool:
    """Whether the statement may run as a cursor (PostgreSQL has the last word)."""
    return _first_word(sql_text) in _DECLARABLE


_CATALOG_SQL = """
    SELECT current_database(), n.nspname, c.relname, a.attname,
           format_type(a.atttypid, a.atttypmod)
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
    WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      -- the columns information_schema.columns shows: owned by the user or accessible
      AND (pg_has_role(c.relowner, 'USAGE')
           OR has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES'))
    ORDER BY n.nspname, c.relname, a.attnum
"""
_DEFAULTS_SQL = "SELECT current_database(), current_schema()"


# types ---------------------------------------------------------------------------------

_MONTHS_PER_YEAR = 12
_INTERVAL = re.compile(
    r"(?:(?P<years>[+-]?\d+) years? ?)?"
    r"(?:(?P<months>[+-]?\d+) mons? ?)?"
    r"(?:(?P<days>[+-]?\d+) days? ?)?"
    r"(?:(?P<sign>[+-])?(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,6}))?)?"
)


def parse_interval(text: str) -> tuple[int, int, int]:
    """(months, days, nanoseconds) of an interval in IntervalStyle postgres, exactly
    (psycopg's own loader folds months into 30-day timedeltas)."""
    match = _INTERVAL.fullmatch(text)
    if not text or match is None:
        raise psycopg.DataError(f"cannot read interval {text!r}")
    part = match.groupdict()
    months = int(part["years"] or 0) * _MONTHS_PER_YEAR + int(part["months"] or 0)
    micros = 0
    if part["h"] is not None:
        seconds = int(part["h"]) * 3600 + int(part["m"]) * 60 + int(part["s"])
        micros = seconds * 1_000_000 + int((part["frac"] or "").ljust(6, "0"))
        if part["sign"] == "-":
            micros = -micros
    return months, int(part["days"] or 0), micros * 1000


class _IntervalLoader(Loader):
    def load(self, data: Buffer) -> tuple[int, int, int]:
        return parse_interval(bytes(data).decode("ascii"))


def _ext(factory: str, name: bytes, storage: pa.DataType) -> tuple[pa.DataType, dict[bytes, bytes]]:
    """Arrow's canonical extension type if this pyarrow has it, else the storage type
    marked by metadata (the frontends recognise both)."""
    if hasattr(pa, factory):
        return getattr(pa, factory)(), {}
    return storage, {_EXTENSION_KEY: name}


_UUID, _UUID_META = _ext("uuid", b"arrow.uuid", pa.binary(16))
_JSON, _JSON_META = _ext("json_", b"arrow.json", pa.string())
Convert = Callable[[Any], Any]

#: PostgreSQL type -> (Arrow type, field metadata, conversion of each value psycopg
#: loads, if pa.array cannot take it as is). numeric depends on the typmod: `_numeric`.
_SCALAR_TYPES: dict[str, tuple[pa.DataType, dict[bytes, bytes], Convert | None]] = {
    "bool": (pa.bool_(), {}, None),
    "int2": (pa.int16(), {}, None),
    "int4": (pa.int32(), {}, None),
    "int8": (pa.int64(), {}, None),
    "oid": (pa.int64(), {}, None),  # unsigned 32-bit
    "float4": (pa.float32(), {}, None),
    "float8": (pa.float64(), {}, None),
    "text": (pa.string(), {}, None),
    "varchar": (pa.string(), {_PG_TYPE_KEY: b"varchar"}, None),
    "bpchar": (pa.string(), {}, None),  # blank-padded, as PostgreSQL returns it
    "name": (pa.string(), {_PG_TYPE_KEY: b"name"}, None),
    '"char"': (pa.string(), {_PG_TYPE_KEY: b"char"}, None),
    "bytea": (pa.binary(), {}, None),
    "date": (pa.date32(), {}, None),
    "time": (pa.time64("us"), {}, None),
    "timestamp": (pa.timestamp("us"), {}, None),
    "timestamptz": (pa.timestamp("us", tz="UTC"), {}, None),
    "interval": (pa.month_day_nano_interval(), {}, None),  # loaded by _IntervalLoader
    "uuid": (_UUID, _UUID_META, lambda value: value.bytes),
    "json": (_JSON, _JSON_META, None),  # loaded as text, not parsed
    "jsonb": (_JSON, {**_JSON_META, _PG_TYPE_KEY: b"jsonb"}, None),
}
_SCALARS = {postgres.types[name].oid: mapping for name, mapping in _SCALAR_TYPES.items()}
NUMERIC_OID = postgres.types["numeric"].oid
#: array oid -> element oid, for the element types above.
_ARRAY_OF = {
    info.array_oid: info.oid
    for info in postgres.types
    if info.array_oid and (info.oid in _SCALARS or info.oid == NUMERIC_OID)
}


def _adapters() -> AdaptersMap:
    """Loaders for our connections: json stays text, intervals load exactly, and every
    type without an Arrow mapping loads as its text (not ipaddress, Range, tuple ...)."""
    adapters = AdaptersMap(psycopg.adapters)
    # numeric as text too: Arrow casts a column of it to decimal several times faster
    # than it takes Python Decimals, which psycopg makes one by one.
    text_loaded = {postgres.types[name].oid for name in ("json", "jsonb", "numeric")}
    # An array keeps psycopg's array loader, which loads each element with the
    # element's loader: numeric[] arrives as lists of text.
    as_is = (set(_SCALARS) - text_loaded) | set(_ARRAY_OF)
    for info in postgres.types:
        for oid in (info.oid, info.array_oid):
            if oid and oid not in as_is:
                adapters.register_loader(oid, TextLoader)
    adapters.register_loader("interval", _IntervalLoader)
    return adapters


_ADAPTERS = _adapters()


@dataclass(frozen=True)
class _Column:
    """How one result column's Python values become an Arrow array."""

    field: pa.Field
    storage: pa.DataType  # what pa.array builds; cast to field.type if that differs
    convert: Convert | None  # applied to each non-NULL leaf value
    depth: int  # list nesting (array dimensions)
    #: For a cast Arrow refuses: each leaf value made what field.type takes (numeric
    #: text with more fractional digits than the column's scale is rounded here).
    fallback: Convert | None = None

    def to_array(self, values: Sequence[Any]) -> pa.Array:
        try:
            if self.convert is not None:
                values = _map_leaves(values, self.convert, self.depth)
            array = pa.array(values, type=self.storage)
            if self.storage == self.field.type:
                return array
            try:
                return array.cast(self.field.type)
            except pa.ArrowInvalid:
                if self.fallback is None:
                    raise
                leaves = _map_leaves(values, self.fallback, self.depth)
                return pa.array(leaves, type=self.field.type)
        except (pa.ArrowException, ValueError, TypeError, ArithmeticError) as exc:
            raise QueryError(
                ErrorCode.INVALID_ARGUMENT,
                f"column {self.field.name!r}: a value does not fit Arrow type"
                f" {self.field.type} ({exc}); cast the column to text or float8",
            ) from exc


def _column(description: psycopg.Column, sample: Iterable[Any]) -> _Column:
    """The column's Arrow field; `sample` (its first values) tells an array's depth."""
    oid = description.type_code
    depth = 0
    if oid in _ARRAY_OF:
        oid, depth = _ARRAY_OF[oid], _array_depth(sample)
    metadata: dict[bytes, bytes] = {}
    fallback: Convert | None = None
    if oid == NUMERIC_OID:  # loaded as its text, which Arrow casts to the decimal
        arrow, fallback = _numeric(description.precision, description.scale)
        storage: pa.DataType = pa.string()
        convert = None
    else:
        arrow, metadata, convert = _SCALARS.get(oid, (pa.string(), {}, None))
        storage = arrow.storage_type if isinstance(arrow, pa.BaseExtensionType) else arrow
    field = pa.field(description.name, arrow, metadata=metadata or None)
    for _ in range(depth):  # the element's metadata stays on the element field
        field = pa.field(description.name, pa.list_(field.with_name("item")))
        storage = pa.list_(storage)
    return _Column(field, storage, convert, depth, fallback)


def _numeric(precision: int | None, scale: int | None) -> tuple[pa.DataType, Convert | None]:
    """numeric's Arrow type, and for the unconstrained kind the rounding a value with
    more fractional digits than its scale takes (Arrow's cast refuses to lose digits)."""
    if precision is None or scale is None:
        return UNCONSTRAINED_NUMERIC, _round_numeric
    precision = max(precision, scale)
    if scale >= 0 and precision <= 38:
        return pa.decimal128(precision, scale), None
    if scale >= 0 and precision <= 76:
        return pa.decimal256(precision, scale), None
    return pa.string(), None


def _round_numeric(text: str) -> Decimal:
    try:
        return _NUMERIC_CONTEXT.quantize(Decimal(text), _NUMERIC_QUANTUM)
    except InvalidOperation:
        raise ValueError(f"{text} is out of range") from None


def _array_depth(values: Iterable[Any]) -> int:
    """Dimensions of the first non-empty array (PostgreSQL arrays are rectangular)."""
    for value in values:
        if value:
            depth = 0
            while isinstance(value, list) and value:
                depth += 1
                value = value[0]
            return depth
    return 1


def _map_leaves(values: Sequence[Any], convert: Convert, depth: int) -> list[Any]:
    if depth == 0:
        return [None if v is None else convert(v) for v in values]
    return [None if v is None else _map_leaves(v, convert, depth - 1) for v in values]
