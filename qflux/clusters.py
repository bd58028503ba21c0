"""Cluster groups: proxy-side FIFO admission and the choice of a cluster.

A query holds one slot in its group and one on the chosen cluster for its whole life.
All bookkeeping happens on the Trio thread without awaits in between, so counters
cannot race: `maxRunningQueries` holds under any number of concurrent submitters.
Slots are handed directly to the head waiter on release (no barging), which is what
makes admission strictly FIFO.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import trio

from qflux.core import ErrorCode, QueryError
from qflux.strategies import make_strategy

if TYPE_CHECKING:
    from qflux.config import ClusterConfig, ClusterGroupConfig
    from qflux.engines.base import Engine


@attrs.define(eq=False)
class Cluster:
    """One backend cluster at run time: its engine and live load."""

    name: str
    config: ClusterConfig
    engine: Engine
    running: int = 0
    healthy: bool = True
    groups: list[ClusterGroup] = attrs.field(factory=list)

    @property
    def capacity(self) -> int | None:
        return self.config.max_running_queries

    def can_take(self) -> bool:
        return (
            self.config.enabled
            and self.healthy
            and (self.capacity is None or self.running < self.capacity)
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": str(self.config.engine),
            "enabled": self.config.enabled,
            "healthy": self.healthy,
            "running": self.running,
            "capacity": self.capacity,
        }


@attrs.define(eq=False)
class _Waiter:
    granted: trio.Event = attrs.field(factory=trio.Event)
    cluster: Cluster | None = None


class ClusterGroup:
    """A routing target: members, a running-query cap and a bounded FIFO queue."""

    def __init__(self, name: str, config: ClusterGroupConfig, members: list[Cluster]) -> None:
        self.name = name
        self.config = config
        self.members = members
        self.running = 0
        self._queue: deque[_Waiter] = deque()
        self._strategy = make_strategy(config.strategy)
        for member in members:
            member.groups.append(self)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": self.running,
            "queued": self.queued,
            "maxRunningQueries": self.config.max_running_queries,
            "maxQueuedQueries": self.config.max_queued_queries,
            "members": [member.name for member in self.members],
        }

    @asynccontextmanager
    async def admit(self, on_queued: Callable[[int], None] | None = None) -> AsyncIterator[Cluster]:
        """Hold a slot in this group (waiting in FIFO order if full) and yield a cluster.

        Raises QueryError at once when the queue is full or no member could ever take
        the query; after `queueTimeoutSecs` of waiting; never leaves a slot behind.
        """
        cluster = None if self._queue else self._try_acquire()
        if cluster is None:
            cluster = await self._wait_in_queue(on_queued)
        try:
            yield cluster
        finally:
            self._release(cluster)

    async def _wait_in_queue(self, on_queued: Callable[[int], None] | None) -> Cluster:
        if not any(member.config.enabled and member.healthy for member in self.members):
            raise QueryError(
                ErrorCode.NO_HEALTHY_CLUSTER,
                f"cluster group '{self.name}' has no enabled, healthy cluster",
            )
        limit = self.config.max_queued_queries
        if limit is not None and len(self._queue) >= limit:
            raise QueryError(
                ErrorCode.QUEUE_FULL,
                f"cluster group '{self.name}' is full: {self.running} running and "
                f"{len(self._queue)} queued (maxQueuedQueries={limit}); retry later",
            )
        waiter = _Waiter()
        self._queue.append(waiter)
        if on_queued is not None:
            on_queued(len(self._queue))
        timeout = self.config.queue_timeout_secs
        try:
            with trio.move_on_after(math.inf if timeout is None else timeout):
                await waiter.granted.wait()
        except BaseException:
            self._abandon(waiter)
            raise
        if waiter.cluster is None:
            self._abandon(waiter)
            raise QueryError(
                ErrorCode.QUEUE_TIMEOUT,
                f"query waited {timeout:g}s in the queue of cluster group '{self.name}' "
                f"without getting a slot (queueTimeoutSecs={timeout:g})",
            )
        return waiter.cluster

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gives up: leave the queue, or hand back a slot granted meanwhile."""
        if waiter.cluster is not None:
            self._release(waiter.cluster)
        else:
            self._queue.remove(waiter)

    def _try_acquire(self) -> Cluster | None:
        if self.running >= self.config.max_running_queries:
            return None
        cluster = self._strategy.choose(self.members)
        if cluster is not None:
            self.running += 1
            cluster.running += 1
        return cluster

    def _release(self, cluster: Cluster) -> None:
        self.running -= 1
        cluster.running -= 1
        for group in cluster.groups:  # includes this group: members know their groups
            group._admit_waiters()

    def _admit_waiters(self) -> None:
        while self._queue:
            cluster = self._try_acquire()
            if cluster is None:
                return
            waiter = self._queue.popleft()
            waiter.cluster = cluster
            waiter.granted.set()
