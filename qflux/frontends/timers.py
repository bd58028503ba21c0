"""Many short-lived deadlines served by one task.

A Trino POST runs its query in the connection's own task and answers as soon as the
query ends, so most deadlines set for it (watch the socket after 20 ms, answer with a
QUEUED page after 100 ms) are never needed. A cancel scope per deadline would cost the
fast query a scope and a trip through the deadline heap; here setting one is a heap
push, and one task wakes at most once per `resolution` to run the ones that are due.
An action that is no longer needed checks that itself and returns.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

import structlog
import trio

log = structlog.get_logger("qflux.timers")


class Timers:
    """`call_at(when, action)`: run the synchronous `action` at `when` (Trio's clock),
    up to `resolution` seconds late; `run` is the task that does it."""

    def __init__(self, resolution: float) -> None:
        self.resolution = resolution
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()  # equal deadlines run in the order they were set
        self._sleep: trio.CancelScope | None = None

    def call_at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._order), action))
        sleep = self._sleep
        if sleep is not None and when < sleep.deadline:  # due before the task wakes
            sleep.deadline = max(when, trio.current_time())

    async def run(self) -> None:
        heap = self._heap
        while True:
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                action = heapq.heappop(heap)[2]
                try:
                    action()
                except Exception:  # one failed action must not stop the others' timers
                    log.exception("timer action failed")
            # The task rests at least `resolution` between passes: under load it wakes a
            # bounded number of times a second, however many deadlines fall due.
            wake = max(heap[0][0], now + self.resolution) if heap else math.inf
            with trio.CancelScope(deadline=wake) as sleep:
                self._sleep = sleep
                await trio.sleep_forever()
            self._sleep = None
