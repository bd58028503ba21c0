"""The frontend's shared timer task: many short deadlines, one task, bounded lateness."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from qflux.frontends.timers import Timers

RESOLUTION = 0.005


async def test_actions_run_at_their_deadlines_in_order_and_not_before() -> None:
    timers = Timers(resolution=RESOLUTION)
    ran: list[tuple[str, float]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(timers.run)
        start = trio.current_time()
        for name, delay in (("late", 0.05), ("early", 0.01), ("tie-1", 0.03), ("tie-2", 0.03)):
            timers.call_at(start + delay, lambda name=name: ran.append((name, trio.current_time())))
        await trio.sleep(0.3)
        nursery.cancel_scope.cancel()
    assert [name for name, _ in ran] == ["early", "tie-1", "tie-2", "late"]
    due = {"early": 0.01, "tie-1": 0.03, "tie-2": 0.03, "late": 0.05}
    for name, when in ran:
        assert start + due[name] <= when < start + due[name] + 0.2, name  # late, never early


def test_an_earlier_deadline_wakes_a_task_sleeping_until_a_later_one() -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    ran: list[float] = []

    async def main() -> None:
        timers = Timers(resolution=RESOLUTION)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(timers.run)
            start = trio.current_time()
            timers.call_at(start + 10.0, lambda: ran.append(trio.current_time() - start))
            await trio.sleep(1.0)  # the task now sleeps until the 10 s deadline
            timers.call_at(start + 2.0, lambda: ran.append(trio.current_time() - start))
            await trio.sleep(20.0)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)
    assert ran == [pytest.approx(2.0), pytest.approx(10.0)]


async def test_a_failing_action_does_not_stop_the_others() -> None:
    timers = Timers(resolution=RESOLUTION)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("boom")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(timers.run)
        now = trio.current_time()
        timers.call_at(now + 0.01, fail)
        timers.call_at(now + 0.01, lambda: ran.append("after"))
        timers.call_at(now + 0.03, lambda: ran.append("later"))
        await trio.sleep(0.3)
        nursery.cancel_scope.cancel()
    assert ran == ["after", "later"]


def test_under_load_the_task_wakes_once_per_resolution_not_once_per_deadline() -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)
    wakes: list[float] = []

    async def main() -> None:
        timers = Timers(resolution=0.005)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(timers.run)
            start = trio.current_time()
            for i in range(1000):  # a deadline every 0.1 ms for 0.1 s
                timers.call_at(start + i * 0.0001, lambda: wakes.append(trio.current_time()))
            await trio.sleep(1.0)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)
    assert len(wakes) == 1000
    assert len(set(wakes)) <= 0.1 / 0.005 + 2  # distinct wake-up times
