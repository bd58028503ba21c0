"""DuckDB, embedded: each query gets its own cursor, driven from worker threads.

DuckDB's Python API is synchronous, so every call that may take time (binding,
executing DML, pulling the next Arrow batch) runs in a worker thread under this
engine's own CapacityLimiter. Cancellation calls `cursor.interrupt()` and waits for
the worker, so a cancelled query stops at the engine and the database stays usable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import structlog
import trio

from qflux.core import (
    EngineType,
    ErrorCode,
    QueryError,
    Result,
    Session,
)

from .base import ActiveCalls, Catalog, Engine, ReadAheadResult, run_interruptible

T = TypeVar("T")
log = structlog.get_logger("qflux.engines.duckdb")

#: Rows per Arrow batch pulled from DuckDB: large enough to amortise a thread hop,
#: small enough that one batch of wide rows stays a few MB.
BATCH_ROWS = 65_536

_ERROR_CODES: dict[type[BaseException], ErrorCode] = {
    duckdb.ParserException: ErrorCode.SYNTAX_ERROR,
    duckdb.CatalogException: ErrorCode.NOT_FOUND,
    duckdb.BinderException: ErrorCode.SEMANTIC_ERROR,
    duckdb.ConversionException: ErrorCode.INVALID_ARGUMENT,
    duckdb.InvalidInputException: ErrorCode.INVALID_ARGUMENT,
    duckdb.OutOfRangeException: ErrorCode.INVALID_ARGUMENT,
    duckdb.NotImplementedException: ErrorCode.NOT_SUPPORTED,
    duckdb.ConstraintException: ErrorCode.SEMANTIC_ERROR,
    duckdb.DataError: ErrorCode.INVALID_ARGUMENT,
    duckdb.ProgrammingError: ErrorCode.SEMANTIC_ERROR,
}


def to_query_error(exc: duckdb.Error) -> QueryError:
    """Map a DuckDB exception to a client-facing error keeping DuckDB's own message."""
    for cls in type(exc).__mro__:
        code = _ERROR_CODES.get(cls)
        if code is not None:
            return QueryError(code, str(exc), cause_type=type(exc).__name__)
    return QueryError(ErrorCode.ENGINE_ERROR, str(exc), cause_type=type(exc).__name__)


class DuckDbEngine(Engine):
    """An in-process DuckDB database (`databasePath`, or in memory when absent)."""

    engine_type = EngineType.DUCKDB
    _calls: ActiveCalls

    def __init__(self, name: str, database_path: str | None, max_threads: int = 8) -> None:
        self.name = name
        # Lossless export: UUID, JSON, TIME WITH TIME ZONE and HUGEINT arrive as Arrow
        # extension types, so frontends still know the SQL type, not just "string".
        self._conn = duckdb.connect(
            database_path or ":memory:", config={"arrow_lossless_conversion": True}
        )
        # A new cursor starts here, so a client naming these needs no USE per query.
        defaults = self._conn.execute("SELECT current_database(), current_schema()").fetchone()
        assert defaults is not None
        self._default_names = (defaults[0], defaults[1])
        self._limiter = trio.CapacityLimiter(max_threads)
        # Probes get their own thread, so a cluster busy with queries still answers
        # its health check instead of looking dead.
        self._probe_limiter = trio.CapacityLimiter(1)
        self._calls = ActiveCalls()

    async def _call(
        self,
        cursor: duckdb.DuckDBPyConnection,
        fn: Callable[[], T],
        limiter: trio.CapacityLimiter | None = None,
    ) -> T:
        try:
            return await run_interruptible(
                self._calls.tracked(fn),
                cursor.interrupt,
                limiter or self._limiter,
                engine=self.name,
            )
        except duckdb.Error as exc:
            raise to_query_error(exc) from exc

    @asynccontextmanager
    async def execute(self, sql: str, session: Session) -> AsyncIterator[Result]:
        cursor = self._conn.cursor()
        result = _DuckDbResult(self, cursor)
        try:
            # One thread hop starts the query and reads ahead, so a small result is
            # complete (and known to be) without a second hop.
            use = _use_statement(session, self._default_names)
            await self._call(cursor, lambda: result.start(sql, use))
            yield result
        finally:
            if result.exhausted:
                cursor.close()  # nothing running: closing is instant
            else:  # may have to tear down a running query: off the Trio thread
                with trio.CancelScope(shield=True):
                    await self._close_quietly(cursor, self._limiter)

    async def health_check(self, query: str | None = None) -> None:
        cursor = self._conn.cursor()
        try:
            await self._call(cursor, lambda: self._probe(cursor, query), self._probe_limiter)
        finally:
            with trio.CancelScope(shield=True):
                await self._close_quietly(cursor, self._probe_limiter)

    async def catalog(self) -> Catalog:
        cursor = self._conn.cursor()
        try:
            rows, (database, schema) = await self._call(
                cursor, lambda: _read_catalog(cursor), self._probe_limiter
            )
        finally:
            with trio.CancelScope(shield=True):
                await self._close_quietly(cursor, self._probe_limiter)
        tables: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for catalog, schema_name, table, column, data_type in rows:
            tables.setdefault(catalog, {}).setdefault(schema_name, {}).setdefault(table, {})[
                column
            ] = data_type
        return Catalog(tables, "duckdb", database, schema)

    async def _close_quietly(
        self, cursor: duckdb.DuckDBPyConnection, limiter: trio.CapacityLimiter
    ) -> None:
        """Close a cursor; one whose call never stopped is left to finish on its own."""
        try:
            await trio.to_thread.run_sync(cursor.close, limiter=limiter)
        except duckdb.Error as exc:
            log.warning("cursor still busy after cancel; left to finish", engine=self.name,
                        error=str(exc))  # fmt: skip

    @staticmethod
    def _probe(cursor: duckdb.DuckDBPyConnection, query: str | None) -> None:
        relation = cursor.sql(query or "SELECT 1")
        if relation is not None:
            relation.fetchall()

    async def aclose(self) -> None:
        await trio.to_thread.run_sync(self._conn.close, limiter=self._limiter)

    def run_sync(self, sql: str) -> list[tuple[Any, ...]]:
        """Run setup SQL directly (tests, examples); not for the query path."""
        cursor = self._conn.cursor()
        try:
            relation = cursor.sql(sql)
            return relation.fetchall() if relation is not None else []
        finally:
            cursor.close()


class _DuckDbResult(ReadAheadResult):
    """Batches pulled from a DuckDB Arrow reader, one worker-thread call per batch."""

    def __init__(self, engine: DuckDbEngine, cursor: duckdb.DuckDBPyConnection) -> None:
        super().__init__()
        self._engine = engine
        self._cursor = cursor
        self._reader: pa.RecordBatchReader | None = None

    def start(self, sql: str, use: str | None) -> None:
        """Worker thread: run `sql` and read the first batch (and the end, if short)."""
        if use is not None:
            self._cursor.execute(use)
        self._reader = _arrow_reader(self._cursor, sql)
        if self._reader is None:
            self.exhausted = True
            return
        self.schema = self._reader.schema
        first = self._read()
        if first is not None:
            self._ahead.append(first)
            if first.num_rows < BATCH_ROWS:  # a short batch is usually the last one
                self._read()

    async def read_more(self) -> pa.RecordBatch | None:
        return await self._engine._call(self._cursor, self._read)

    def _read(self) -> pa.RecordBatch | None:
        assert self._reader is not None
        try:
            batch = self._reader.read_next_batch()
        except StopIteration:
            self.exhausted = True
            return None
        if self._ahead:  # reading ahead found more rows: keep them in order
            self._ahead.append(batch)
        return batch


_CATALOG_SQL = """
    SELECT table_catalog, table_schema, table_name, column_name, data_type
    FROM information_schema.columns
    WHERE table_catalog NOT IN ('system', 'temp')
    ORDER BY table_catalog, table_schema, table_name, ordinal_position
"""


def _read_catalog(cursor: duckdb.DuckDBPyConnection) -> tuple[list[Any], tuple[str, str]]:
    rows = cursor.execute(_CATALOG_SQL).fetchall()
    defaults = cursor.execute("SELECT current_database(), current_schema()").fetchone()
    assert defaults is not None
    return rows, (defaults[0], defaults[1])


def _arrow_reader(cursor: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader | None:
    """Run `sql`; its rows as an Arrow stream (None from DuckDB releases before 2.0 for a
    statement without rows).

    DuckDB 2.0's relation API (`cursor.sql`) prepares and binds a statement in Python
    before running it, about 0.15 ms a query; its connection's `_submit` runs a single
    statement straight to the same Arrow stream, the call the relation ends in. Scripts
    (a `;` before the end, even one inside a literal) and DuckDB releases without
    `_submit` take the relation path, which runs every statement but returns the last.
    """
    submit = getattr(cursor, "_submit", None)
    if submit is not None and ";" not in sql.rstrip().rstrip(";"):
        return submit(sql, None, "stream", BATCH_ROWS).arrow_reader()
    relation = cursor.sql(sql)
    return None if relation is None else relation.to_arrow_reader(BATCH_ROWS)


def _use_statement(session: Session, defaults: tuple[str, str]) -> str | None:
    """`USE catalog.schema` for the client's catalog/schema (a DuckDB database/schema);
    None when a new cursor is there already (`defaults`), saving a statement a query."""
    names = [name for name in (session.database, session.schema) if name]
    if not names or tuple(names) == defaults[: len(names)]:
        return None
    return "USE " + ".".join('"' + name.replace('"', '""') + '"' for name in names)
