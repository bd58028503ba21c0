"""The helper every thread-based engine uses to run and interrupt driver calls."""

from __future__ import annotations

import threading
import time

import trio

from qflux.engines.base import run_interruptible


async def test_a_call_cancelled_while_waiting_for_a_thread_never_runs():
    """With every worker busy, a cancelled call gives up at once and never starts."""
    limiter = trio.CapacityLimiter(1)
    release = threading.Event()
    ran: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: run_interruptible(release.wait, release.set, limiter, engine="test")
        )
        await trio.sleep(0.05)  # the only thread is now taken
        started = time.monotonic()
        with trio.move_on_after(0.1):
            await run_interruptible(lambda: ran.append("ran"), lambda: None, limiter,
                                    engine="test")  # fmt: skip
        waited = time.monotonic() - started
        release.set()
    await trio.sleep(0.1)  # had it been queued, the freed thread would run it now
    assert waited < 1.0
    assert ran == []


async def test_a_running_call_is_interrupted_until_it_returns():
    stop = threading.Event()
    interrupts: list[float] = []

    def interrupt() -> None:
        interrupts.append(time.monotonic())
        if len(interrupts) >= 3:  # the first interrupts "miss", as a real one can
            stop.set()

    with trio.move_on_after(0.05):
        await run_interruptible(stop.wait, interrupt, trio.CapacityLimiter(1), engine="test")
    assert len(interrupts) == 3 and stop.is_set()
