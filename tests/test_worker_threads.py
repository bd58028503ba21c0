"""The engines' worker threads keep `trio.to_thread.run_sync`'s contract (with
`abandon_on_cancel`): results and errors come back, the caller's context goes along,
the limiter bounds the calls and is held until a call really returns, and a cancelled
caller leaves at once without its late result ever answering another call."""

from __future__ import annotations

import contextvars
import threading

import pytest
import trio

from qflux import worker_threads

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


async def test_a_call_returns_its_value_or_raises_its_error() -> None:
    limiter = trio.CapacityLimiter(2)
    assert await worker_threads.run_sync(lambda: 6 * 7, limiter) == 42

    def fail() -> None:
        raise ValueError("driver said no")

    with pytest.raises(ValueError, match="driver said no"):
        await worker_threads.run_sync(fail, limiter)
    assert limiter.borrowed_tokens == 0


async def test_the_call_runs_off_the_trio_thread_and_sees_the_callers_context() -> None:
    _request_id.set("q-17")
    seen = await worker_threads.run_sync(
        lambda: (threading.get_ident(), _request_id.get()), trio.CapacityLimiter(1)
    )
    assert seen[0] != threading.get_ident()
    assert seen[1] == "q-17"


async def test_sequential_calls_reuse_a_thread() -> None:
    limiter = trio.CapacityLimiter(1)
    threads = {await worker_threads.run_sync(threading.get_ident, limiter) for _ in range(20)}
    assert len(threads) == 1


async def test_the_limiter_bounds_concurrent_calls() -> None:
    limiter = trio.CapacityLimiter(2)
    lock = threading.Lock()
    running, most = 0, 0
    release = threading.Event()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(5)
        with lock:
            running -= 1

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(worker_threads.run_sync, work, limiter)
        await trio.sleep(0.1)
        assert limiter.borrowed_tokens == 2
        release.set()
    assert most == 2


async def test_a_cancelled_caller_leaves_at_once_and_the_token_waits_for_the_call() -> None:
    limiter = trio.CapacityLimiter(1)
    started, finish = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        finish.wait(5)
        return "late"

    with trio.move_on_after(0.05) as scope:
        await worker_threads.run_sync(slow, limiter)
    assert scope.cancelled_caught and started.is_set()
    assert limiter.borrowed_tokens == 1  # the abandoned call still runs
    finish.set()
    with trio.fail_after(5):
        while limiter.borrowed_tokens:
            await trio.sleep(0.01)
    # The abandoned call's late answer must not reach the next call.
    answers = [await worker_threads.run_sync(lambda i=i: i, limiter) for i in range(10)]
    assert answers == list(range(10))


async def test_a_caller_cancelled_while_waiting_for_a_token_never_runs_its_call() -> None:
    limiter = trio.CapacityLimiter(1)
    ran: list[str] = []
    release = threading.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker_threads.run_sync, lambda: release.wait(5), limiter)
        await trio.sleep(0.05)
        with trio.move_on_after(0.05) as scope:
            await worker_threads.run_sync(lambda: ran.append("ran"), limiter)
        assert scope.cancelled_caught
        release.set()
    assert ran == []
    assert limiter.borrowed_tokens == 0
