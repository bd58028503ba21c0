"""One query's life, inside one cancel scope: route, admit, choose, translate, execute,
stream, record.

Frontends call `Dispatcher.submit` to get a QueryHandle (the query's identity and its
cancel switch), then `async with dispatcher.run(handle) as result:` and iterate the
result's batches inside the block. The cancel scope spans the queue wait, the engine
call and the frontend's own streaming, so cancelling the handle (client cancel,
disconnect, admin, timeout, shutdown) unwinds all of it and the engine cancels the
backend query as it goes. Whatever happens, the record is finished on the way out.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import attrs
import pyarrow as pa
import structlog
import trio

from qflux.clusters import Cluster, ClusterGroup, OnQueued, Spill
from qflux.core import (
    CancelReason,
    ErrorCode,
    PgRows,
    QueryError,
    QueryId,
    QueryRecord,
    QueryStatus,
    Result,
    RoutingStep,
    Session,
    TrinoRows,
    new_query_id,
)
from qflux.persistence.memory import InMemoryHistory
from qflux.routing import RouterChain
from qflux.translate import ENGINE_DIALECTS, Translator

log = structlog.get_logger("qflux.dispatch")

#: The "query finished" lines wait at most this long to be written together.
FINISHED_LINES_INTERVAL_SECS = 0.005


@attrs.define(eq=False)
class QueryHandle:
    """A submitted query: its record and the scope that cancelling it cancels."""

    session: Session
    sql: str
    record: QueryRecord
    cancel_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    cancel_reason: CancelReason | None = None
    done: trio.Event = attrs.field(factory=trio.Event)
    ticket: int = 0  # arrival order, for the group queues

    @property
    def id(self) -> QueryId:
        return self.record.id

    def cancel(self, reason: CancelReason) -> None:
        """Cancel from anywhere on the Trio thread; the first reason given wins."""
        if self.done.is_set():
            return
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.cancel_scope.cancel()

    def set_timeout(self, seconds: float) -> None:
        """Bound the query's whole life (queue wait included) from now."""
        self.cancel_scope.deadline = min(self.cancel_scope.deadline, trio.current_time() + seconds)


class Dispatcher:
    """Owns the routing chain, the groups and the history; runs queries through them."""

    def __init__(
        self,
        router: RouterChain,
        groups: dict[str, ClusterGroup],
        history: InMemoryHistory,
        translator: Translator | None = None,
    ) -> None:
        self.router = router
        self.groups = groups
        self.history = history
        self.translator = translator or Translator()
        self.active: dict[QueryId, QueryHandle] = {}
        self.accepting = True
        self._tickets = itertools.count()
        self.finished_lines = FinishedLines()

    def submit(self, session: Session, sql: str) -> QueryHandle:
        """Register a new query (visible in history as QUEUED) without running it yet."""
        if not self.accepting:
            raise QueryError(ErrorCode.SHUTTING_DOWN, "qflux is shutting down; retry elsewhere")
        record = QueryRecord(
            id=new_query_id(), protocol=session.protocol, sql=sql, user=session.user
        )
        handle = QueryHandle(session=session, sql=sql, record=record, ticket=next(self._tickets))
        self.history.add(record)
        self.active[record.id] = handle
        return handle

    def run(
        self, handle: QueryHandle, on_queued: OnQueued | None = None
    ) -> AbstractAsyncContextManager[Result]:
        """Run a submitted query; the context manager gives its Result for the frontend
        to stream inside the block.

        Raises QueryError for every failure the client should see, including
        cancellation (code CANCELLED, message naming the reason).
        """
        return _Running(self, handle, on_queued)

    async def _place(
        self, handle: QueryHandle, on_queued: OnQueued | None
    ) -> tuple[ClusterGroup, Cluster]:
        """Route, then hold a slot in the group (following overflow groups) and a cluster."""
        record = handle.record
        trace = await self.router.route(handle.sql, handle.session)
        record.routing_trace, record.group = trace, trace.group
        group = self.groups[trace.group]
        while True:
            try:
                return group, await group.acquire(on_queued, handle.ticket)
            except Spill as spill:
                assert group.overflow is not None
                step = RoutingStep(
                    "overflow",
                    True,
                    group.overflow.name,
                    f"{spill.reason}; spilled from '{group.name}' to '{group.overflow.name}'",
                )
                group = group.overflow
                trace = attrs.evolve(trace, group=group.name, steps=(*trace.steps, step))
                record.routing_trace, record.group = trace, group.name

    def _translate(self, handle: QueryHandle, group: ClusterGroup, cluster: Cluster) -> str:
        """The SQL to send to `cluster`, in its engine's dialect; noted in the record."""
        record = handle.record
        source = self.translator.source_dialect(handle.session.protocol)
        target = ENGINE_DIALECTS[cluster.engine.engine_type]
        schema = None
        if group.config.schema_aware_translation and cluster.schema_cache is not None:
            session = handle.session
            schema = cluster.schema_cache.context(session.database, session.schema)
        outcome = self.translator.translate(handle.sql, source, target, schema)
        record.source_dialect, record.target_dialect = source, target
        record.translated, record.translation_ms = outcome.translated, outcome.ms
        record.translation_note = outcome.note
        record.translated_sql = outcome.sql if outcome.sql != handle.sql else None
        return outcome.sql

    def finish_local(self, handle: QueryHandle, error: QueryError | None = None) -> None:
        """Record a statement the frontend answered (USE, SET SESSION) or rejected itself."""
        self._finish(handle, time.perf_counter(), None, error)

    def _finish(
        self,
        handle: QueryHandle,
        started: float,
        admitted_at: float | None,
        error: QueryError | None,
    ) -> None:
        record = handle.record
        now = time.perf_counter()
        if admitted_at is None:
            record.queue_ms = (now - started) * 1000
        else:
            record.execution_ms = (now - admitted_at) * 1000
        if error is not None and error.code is ErrorCode.CANCELLED and handle.cancel_reason:
            record.status = QueryStatus.CANCELLED
            record.cancel_reason = handle.cancel_reason
            record.error = f"cancelled: {handle.cancel_reason}"
            record.error_code = ErrorCode.CANCELLED.error_name
        elif error is not None:
            record.status = QueryStatus.FAILED
            record.error = error.message
            record.error_code = error.code.error_name
        else:
            record.status = QueryStatus.FINISHED
        handle.done.set()
        self.active.pop(record.id, None)
        self.finished_lines.add(record)

    def cancel_all(self, reason: CancelReason) -> None:
        for handle in list(self.active.values()):
            handle.cancel(reason)

    async def wait_idle(self, timeout: float = math.inf) -> bool:
        """Wait until no query is active; False if `timeout` passed first."""
        with trio.move_on_after(timeout):
            while self.active:
                await next(iter(self.active.values())).done.wait()
            return True
        return False


class _Running:
    """`Dispatcher.run`'s context manager. A class rather than a generator: every query
    of every frontend enters one, and a generator-based manager costs an async
    generator, its hooks and four extra calls each time.

    In order: bind the query id to log lines, enter the handle's cancel scope, route
    and take a slot, translate, enter the engine's statement; leaving undoes it all in
    reverse, whatever happened, then maps the outcome to a QueryError and finishes the
    record.
    """

    def __init__(
        self, dispatcher: Dispatcher, handle: QueryHandle, on_queued: OnQueued | None
    ) -> None:
        self._dispatcher = dispatcher
        self._handle = handle
        self._on_queued = on_queued
        self._started = 0.0
        self._admitted_at: float | None = None
        self._tokens: Mapping[str, contextvars.Token[Any]] = {}
        self._slot: tuple[ClusterGroup, Cluster] | None = None
        self._statement: AbstractAsyncContextManager[Result] | None = None

    async def __aenter__(self) -> Result:
        dispatcher, handle = self._dispatcher, self._handle
        record = handle.record
        self._started = time.perf_counter()
        # Every log line written while this query runs (engines included) names it.
        # Set and reset by token: structlog's bound_contextvars reads the whole
        # context first, to restore keys this query does not have.
        self._tokens = structlog.contextvars.bind_contextvars(query_id=record.id)
        handle.cancel_scope.__enter__()
        try:
            group, cluster = self._slot = await dispatcher._place(handle, self._on_queued)
            self._admitted_at = time.perf_counter()
            record.queue_ms = (self._admitted_at - self._started) * 1000
            record.cluster = cluster.name
            record.engine = cluster.engine.engine_type
            record.status = QueryStatus.RUNNING
            sql = dispatcher._translate(handle, group, cluster)
            log.debug("query admitted", group=group.name, cluster=cluster.name)
            statement = cluster.engine.execute(sql, handle.session)
            result = await statement.__aenter__()
            self._statement = statement
        except BaseException as exc:
            raised = await self._leave(exc)
            if raised is exc:
                raise
            if raised is None:  # only a cancel of its own scope is caught, and reported
                raise AssertionError("a failed start was swallowed") from exc
            raise raised from raised.__cause__  # an internal error names its cause
        return _CountingResult(result, record)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        raised = await self._leave(exc)
        if raised is None or raised is exc:
            return raised is None and exc is not None  # swallowed, or on its way out
        raise raised

    async def _leave(self, exc: BaseException | None) -> BaseException | None:
        """Undo what was entered, as nested `with` blocks would; the exception to raise
        (a QueryError for what the client should see), or None."""
        handle = self._handle
        error: QueryError | None = None
        try:
            exc = await self._unwind(exc)
            if exc is None and handle.cancel_scope.cancelled_caught:
                reason = handle.cancel_reason or CancelReason.TIMEOUT
                handle.cancel_reason = reason
                exc = QueryError(ErrorCode.CANCELLED, f"Query was cancelled ({reason})")
            if isinstance(exc, QueryError):
                error = exc
            elif isinstance(exc, Exception):
                log.error("query failed unexpectedly", query_id=handle.record.id, exc_info=exc)
                error = QueryError(ErrorCode.INTERNAL, f"internal error: {exc!r}")
                error.__cause__ = exc
                exc = error
            return exc
        finally:
            self._dispatcher._finish(handle, self._started, self._admitted_at, error)

    async def _unwind(self, exc: BaseException | None) -> BaseException | None:
        try:
            try:
                if self._statement is not None:
                    try:
                        if await self._statement.__aexit__(*_exc_info(exc)):
                            exc = None
                    except BaseException as raised:
                        exc = raised
            finally:
                if self._slot is not None:
                    group, cluster = self._slot
                    group.release(cluster)
            try:
                if self._handle.cancel_scope.__exit__(*_exc_info(exc)):
                    exc = None  # the scope's own cancellation, caught
            except BaseException as raised:
                exc = raised
        finally:
            structlog.contextvars.reset_contextvars(**self._tokens)
        return exc


def _exc_info(
    exc: BaseException | None,
) -> tuple[type[BaseException] | None, BaseException | None, TracebackType | None]:
    return (None, None, None) if exc is None else (type(exc), exc, exc.__traceback__)


class FinishedLines:
    """The "query finished" line of each query, written by a task of its own (`run`)
    once the frontend has answered: its cost is then not part of the client's wait. The
    record is complete before the answer; only the line comes a moment later. Without a
    running `run` (a Dispatcher used on its own) each line is written at once."""

    def __init__(self) -> None:
        self._records: list[QueryRecord] = []
        self._wake: trio.Event | None = None  # set while `run` runs

    def add(self, record: QueryRecord) -> None:
        self._records.append(record)
        if self._wake is None:
            self._write()
        else:
            self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                self._wake = trio.Event()
                if not self._records:
                    await self._wake.wait()
                self._write()
                # Under load, lines are written in batches, with one wake-up for each.
                await trio.sleep(FINISHED_LINES_INTERVAL_SECS)
        finally:
            self._wake = None
            self._write()

    def _write(self) -> None:
        records, self._records = self._records, []
        for record in records:
            log.info(
                "query finished",
                query_id=record.id,
                status=str(record.status),
                group=record.group,
                cluster=record.cluster,
                rows=record.rows_returned,
                queue_ms=round(record.queue_ms, 2),
                execution_ms=round(record.execution_ms, 2),
                error=record.error,
            )


class _CountingResult(Result):
    """Pass batches through, counting rows into the record as they leave."""

    def __init__(self, inner: Result, record: QueryRecord) -> None:
        self._inner = inner
        self._record = record
        self.schema: pa.Schema = inner.schema
        self.trino_columns = inner.trino_columns
        self.pg_row_description = inner.pg_row_description
        self.update_count = inner.update_count

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        async for batch in self._inner:
            self._record.rows_returned += batch.num_rows
            yield batch
        self.update_count = self._inner.update_count  # some engines learn it at the end

    async def trino_rows(self) -> AsyncIterator[TrinoRows]:
        async for rows in self._inner.trino_rows():
            self._record.rows_returned += rows.count
            yield rows
        self.update_count = self._inner.update_count

    async def pg_rows(self) -> AsyncIterator[PgRows]:
        async for rows in self._inner.pg_rows():
            self._record.rows_returned += rows.count
            yield rows
        self.command_tag = self._inner.command_tag
