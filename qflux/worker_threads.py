"""Worker threads for blocking driver calls, each answering on a pipe of its own.

`trio.to_thread.run_sync` hands a result back through Trio's entry queue: the worker
schedules a callback, a system task runs it, and that task wakes the caller, two trips
through the scheduler. Here the worker writes one byte to its own pipe and the caller,
waiting for that pipe to become readable, wakes directly: a round trip of about 48 µs
instead of 100 on the machine the benchmarks ran on, paid once per query by the
DuckDB and PostgreSQL engines.

The contract is `to_thread.run_sync(..., abandon_on_cancel=True)`'s: the call runs in
a copy of the caller's context, holds a token of `limiter` until the thread is really
done with it, and a cancelled caller stops waiting at once while the call runs on. A
worker whose call was abandoned is retired when that call returns, so a late byte can
never answer the next call. Idle workers exit after `IDLE_SECS`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")

#: A worker with nothing to do for this long exits (as Trio's own thread cache does).
IDLE_SECS = 10.0

_idle: list[_Worker] = []  # ready for a call; shared by every engine and Trio run
_idle_lock = threading.Lock()


async def run_sync(fn: Callable[[], T], limiter: trio.CapacityLimiter) -> T:
    """`fn()` in a worker thread; on cancellation the caller leaves and `fn` runs on."""
    await trio.lowlevel.checkpoint_if_cancelled()
    borrower = object()  # holds the token until the thread is done, however the caller ends
    try:
        limiter.acquire_on_behalf_of_nowait(borrower)
    except trio.WouldBlock:
        await limiter.acquire_on_behalf_of(borrower)
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is None:
        worker = _Worker()
    context = contextvars.copy_context()
    return await worker.call(
        lambda: context.run(fn), lambda: limiter.release_on_behalf_of(borrower)
    )


class _Worker:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._done_r, self._done_w = os.pipe()
        os.set_blocking(self._done_r, False)
        self._lock = threading.Lock()  # orders "finished" against "abandoned"
        self._abandoned = False
        self._finished = False
        self._outcome: tuple[bool, Any] = (False, None)
        self._release: Callable[[], None] = _nothing
        self._token = trio.lowlevel.current_trio_token()
        threading.Thread(target=self._loop, name="qflux-engine-worker", daemon=True).start()

    async def call(self, fn: Callable[[], T], release: Callable[[], None]) -> T:
        self._finished, self._release = False, release
        self._token = trio.lowlevel.current_trio_token()
        self._jobs.put(fn)
        try:
            await self._wait_done()
        except BaseException:  # cancelled: the call runs on; whoever is last cleans up
            with self._lock:
                self._abandoned = True
                finished = self._finished
            if finished:  # it ended meanwhile: nobody will read the byte it wrote
                release()
                self._jobs.put(None)
            raise
        release()
        with _idle_lock:
            _idle.append(self)
        ok, value = self._outcome
        self._outcome = (False, None)
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    async def _wait_done(self) -> None:
        while True:
            try:
                if os.read(self._done_r, 1):
                    return
            except BlockingIOError:
                pass
            await trio.lowlevel.wait_readable(self._done_r)

    def _loop(self) -> None:
        try:
            while (fn := self._next_job()) is not None:
                try:
                    self._outcome = (True, fn())
                except BaseException as exc:
                    self._outcome = (False, exc)
                # An idle worker holds nothing of its last call (a cursor, a result).
                fn = None
                with self._lock:
                    self._finished = True
                    abandoned = self._abandoned
                if abandoned:  # the caller left: give the token back on its thread
                    self._give_back()
                    return
                os.write(self._done_w, b"\0")
        finally:
            os.close(self._done_r)
            os.close(self._done_w)

    def _next_job(self) -> Callable[[], Any] | None:
        while True:
            try:
                return self._jobs.get(timeout=IDLE_SECS)
            except queue.Empty:
                with _idle_lock:
                    if self in _idle:  # nobody took it meanwhile: retire
                        _idle.remove(self)
                        return None
                # taken just now: its job is on the way

    def _give_back(self) -> None:
        self._outcome = (False, None)
        with contextlib.suppress(trio.RunFinishedError):  # that run is over, limiter too
            self._token.run_sync_soon(self._release)


def _nothing() -> None:
    pass
