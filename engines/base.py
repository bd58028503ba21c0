"""What every engine adapter provides, and the one helper they share for sync drivers."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

import attrs
import pyarrow as pa
import structlog
import trio

from qflux import worker_threads
from qflux.core import EngineType, Result, Session

T = TypeVar("T")


@attrs.frozen
class Catalog:
    """What an engine holds: {catalog: {schema: {table: {column: type}}}}, in the engine's
    own type spelling (`dialect`), plus where unqualified names resolve."""

    tables: Mapping[str, Mapping[str, Mapping[str, Mapping[str, str]]]]
    dialect: str
    default_catalog: str | None = None
    default_schema: str | None = None


log = structlog.get_logger("qflux.engines")

#: How long a cancelled query may take to stop at the engine before we stop waiting.
CANCEL_GRACE_SECS = 5.0
#: How often a cancelled call is interrupted again until it returns.
INTERRUPT_RETRY_SECS = 0.05
#: How often a cancelled call is checked for having returned.
FINISH_POLL_SECS = 0.002


class ActiveCalls:
    """Driver calls still running in worker threads: what `Engine.active_calls` reports,
    so tests and shutdown can see that a cancelled call really returned."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def tracked(self, fn: Callable[[], T]) -> Callable[[], T]:
        def call() -> T:
            with self._lock:
                self.count += 1
            try:
                return fn()
            finally:
                with self._lock:
                    self.count -= 1

        return call


class Engine(abc.ABC):
    """One backend cluster. `execute` is an async context manager so the engine owns
    the backend query's whole life: leaving the block (normally, by error, or by
    cancellation) releases or cancels it before the block exits.
    """

    engine_type: EngineType
    name: str

    @abc.abstractmethod
    def execute(self, sql: str, session: Session) -> AbstractAsyncContextManager[Result]:
        """Start `sql`; the Result streams batches on demand."""

    @abc.abstractmethod
    async def health_check(self, query: str | None = None) -> None:
        """Raise if the engine cannot answer `query` (None: the engine's own probe)."""

    async def catalog(self) -> Catalog:
        """Every table's columns and types, for schema-aware translation."""
        raise NotImplementedError(f"{type(self).__name__} has no catalog discovery")

    async def list_schemas(self) -> list[str]:
        catalog = await self.catalog()
        return sorted({schema for schemas in catalog.tables.values() for schema in schemas})

    async def list_tables(self, schema: str) -> list[str]:
        catalog = await self.catalog()
        return sorted(
            {table for schemas in catalog.tables.values() for table in schemas.get(schema, {})}
        )

    async def describe_table(self, schema: str, table: str) -> list[tuple[str, str]]:
        """(column, type) in column order; empty if there is no such table."""
        catalog = await self.catalog()
        for schemas in catalog.tables.values():
            if table in schemas.get(schema, {}):
                return list(schemas[schema][table].items())
        return []

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads."""

    _calls: ActiveCalls | None = None  # set by engines that call drivers in threads

    @property
    def active_calls(self) -> int:
        """Driver calls still running in worker threads (0 once a cancel completed)."""
        return self._calls.count if self._calls is not None else 0


async def run_interruptible(
    fn: Callable[[], T],
    interrupt: Callable[[], object],
    limiter: trio.CapacityLimiter,
    *,
    engine: str,
) -> T:
    """Run a blocking driver call in a worker thread; on cancellation, interrupt it.

    The thread is abandoned on cancel so the caller's scope unwinds at once, then
    `interrupt()` asks the driver to stop and we wait (shielded, bounded) for the
    worker to actually return, so no orphan keeps burning the backend.
    """
    lock = threading.Lock()
    # Plain flags, not a Trio Event: waking the Trio thread from the worker costs a
    # round through the scheduler on every call, and only a cancel needs to know.
    state = {"started": False, "abandoned": False, "finished": False}

    def call() -> T:
        with lock:  # a call cancelled before it began must never begin
            if state["abandoned"]:
                raise RuntimeError("cancelled before it started")
            state["started"] = True
        try:
            return fn()
        finally:
            state["finished"] = True

    try:
        return await worker_threads.run_sync(call, limiter)
    except trio.Cancelled:
        with lock:
            if not state["started"]:  # still waiting for a thread: nothing to interrupt
                state["abandoned"] = True
                raise
        started = time.perf_counter()
        with trio.move_on_after(CANCEL_GRACE_SECS) as grace:
            grace.shield = True
            # Keep interrupting until the call returns: an interrupt that lands before
            # the driver has started the query is a no-op, so once is not enough.
            while not state["finished"]:
                interrupt()
                retry_at = trio.current_time() + INTERRUPT_RETRY_SECS
                while not state["finished"] and trio.current_time() < retry_at:
                    await trio.sleep(FINISH_POLL_SECS)
        if grace.cancelled_caught:
            log.warning("engine call did not stop after interrupt", engine=engine)
        else:
            log.debug(
                "engine call interrupted",
                engine=engine,
                stop_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        raise


class ReadAheadResult(Result):
    """Batches an engine read ahead (in the call that started the query), then one
    worker-thread read per batch the frontend asks for, until the engine says it is
    exhausted. `read_more` is that read: the next batch, or None at the end."""

    def __init__(self) -> None:
        self._ahead: list[pa.RecordBatch] = []
        self.exhausted = False
        self.schema = pa.schema([])

    async def read_more(self) -> pa.RecordBatch | None:
        raise NotImplementedError

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        while self._ahead or not self.exhausted:
            batch = self._ahead.pop(0) if self._ahead else await self.read_more()
            if batch is None:
                return
            if batch.num_rows:
                yield batch
