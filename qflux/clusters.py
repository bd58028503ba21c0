"""Cluster groups: proxy-side FIFO admission and the choice of a cluster.

A query holds one slot in its group and one on the chosen cluster for its whole life.
All bookkeeping happens on the Trio thread without awaits in between, so counters
cannot race: `maxRunningQueries` holds under any number of concurrent submitters.
Slots are handed directly to the head waiter on release (no barging), which is what
makes admission strictly FIFO. A cluster shared by several groups counts its queries
once, and a slot it frees is offered to every group it belongs to.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from qflux.core import ErrorCode, QueryError
from qflux.strategies import make_strategy

if TYPE_CHECKING:
    from qflux.config import ClusterConfig, ClusterGroupConfig
    from qflux.engines.base import Engine
    from qflux.schema_cache import SchemaCache

log = structlog.get_logger("qflux.clusters")

#: Told (group name, position in its queue) when a query has to wait for a slot.
OnQueued = Callable[[str, int], None]


@attrs.define(eq=False)
class Cluster:
    """One backend cluster at run time: its engine, live load and health."""

    name: str
    config: ClusterConfig
    engine: Engine
    running: int = 0
    healthy: bool = True
    last_error: str | None = None
    groups: list[ClusterGroup] = attrs.field(factory=list)
    schema_cache: SchemaCache | None = None  # set when a group translates schema-aware

    @property
    def capacity(self) -> int | None:
        return self.config.max_running_queries

    @property
    def available(self) -> bool:
        """Could take queries at all (enabled and healthy), full or not."""
        return self.config.enabled and self.healthy

    def can_take(self) -> bool:
        return self.available and (self.capacity is None or self.running < self.capacity)

    def set_healthy(self, healthy: bool, error: str | None = None) -> None:
        """Health changed: wake or fail the queries waiting in this cluster's groups."""
        self.last_error = error
        if healthy == self.healthy:
            return
        self.healthy = healthy
        log.warning("cluster health changed", cluster=self.name, healthy=healthy, error=error)
        for group in self.groups:
            group.members_changed()

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": str(self.config.engine),
            "enabled": self.config.enabled,
            "healthy": self.healthy,
            "lastError": self.last_error,
            "running": self.running,
            "capacity": self.capacity,
        }


class Spill(Exception):
    """The query should leave this group for its overflow group (full, or waited long)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.define(eq=False)
class _Waiter:
    ticket: float  # arrival order: the queue is kept sorted by it
    granted: trio.Event = attrs.field(factory=trio.Event)
    cluster: Cluster | None = None
    error: QueryError | None = None


class ClusterGroup:
    """A routing target: members, a running-query cap and a bounded FIFO queue."""

    def __init__(self, name: str, config: ClusterGroupConfig, members: list[Cluster]) -> None:
        self.name = name
        self.config = config
        self.members = members
        self.running = 0
        self.overflow: ClusterGroup | None = None  # wired by the server once all exist
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
            "capacity": self.config.max_running_queries,
            "maxRunningQueries": self.config.max_running_queries,
            "maxQueuedQueries": self.config.max_queued_queries,
            "healthyMembers": sum(1 for m in self.members if m.available),
            "members": [member.name for member in self.members],
            "overflowGroup": self.overflow.name if self.overflow else None,
        }

    @asynccontextmanager
    async def admit(self, on_queued: OnQueued | None = None) -> AsyncIterator[Cluster]:
        """Hold a slot (waiting in FIFO order if full) for the block's duration."""
        cluster = await self.acquire(on_queued)
        try:
            yield cluster
        finally:
            self.release(cluster)

    async def acquire(
        self, on_queued: OnQueued | None = None, ticket: float | None = None
    ) -> Cluster:
        """Take a slot and a cluster, queueing if the group or its clusters are full.

        `ticket` is the query's place in arrival order (from `Dispatcher.submit`). Queries
        that arrive together reach this point in whatever order the scheduler runs their
        tasks, so the queue is ordered by ticket, not by who got here first.

        Raises QueryError at once when the queue is full or no member is healthy,
        after `queueTimeoutSecs` of waiting, or `Spill` when the group has an
        overflow group and is full or the query waited `overflowAfterSecs`. Every
        exit path leaves the counters as they were.
        """
        if not any(member.available for member in self.members):
            raise self._no_healthy_member()
        cluster = None if self._queue else self._try_acquire()
        if cluster is not None:
            return cluster
        limit = self.config.max_queued_queries
        if limit is not None and len(self._queue) >= limit:
            message = (
                f"cluster group '{self.name}' is full: {self.running} running and "
                f"{len(self._queue)} queued (maxQueuedQueries={limit})"
            )
            if self.overflow is not None:
                raise Spill(message)
            raise QueryError(ErrorCode.QUEUE_FULL, f"{message}; retry later")
        return await self._wait(on_queued, math.inf if ticket is None else ticket)

    async def _wait(self, on_queued: OnQueued | None, ticket: float) -> Cluster:
        waiter = _Waiter(ticket)
        position = self._enqueue(waiter)
        if on_queued is not None:
            on_queued(self.name, position)
        timeout = self.config.queue_timeout_secs
        spill_after = self.config.overflow_after_secs if self.overflow is not None else None
        limit = min(math.inf if timeout is None else timeout, spill_after or math.inf)
        try:
            with trio.move_on_after(limit):
                await waiter.granted.wait()
        except BaseException:
            self._abandon(waiter)
            raise
        if waiter.error is not None:
            raise waiter.error
        if waiter.cluster is not None:
            return waiter.cluster
        self._abandon(waiter)
        if spill_after is not None and (timeout is None or spill_after <= timeout):
            raise Spill(f"waited {spill_after:g}s in '{self.name}' (overflowAfterSecs)")
        raise QueryError(
            ErrorCode.QUEUE_TIMEOUT,
            f"query waited {limit:g}s in the queue of cluster group '{self.name}' "
            f"without getting a slot (queueTimeoutSecs={limit:g})",
        )

    def release(self, cluster: Cluster) -> None:
        self.running -= 1
        cluster.running -= 1
        for group in cluster.groups:  # includes this group: members know their groups
            group._admit_waiters()

    def members_changed(self) -> None:
        """A member's health changed: admit what now fits, or fail waiters if none can run."""
        if any(member.available for member in self.members):
            self._admit_waiters()
            return
        error = self._no_healthy_member()
        while self._queue:
            waiter = self._queue.popleft()
            waiter.error = error
            waiter.granted.set()

    def _no_healthy_member(self) -> QueryError:
        states = ", ".join(
            f"{m.name} {'unhealthy' if m.config.enabled else 'disabled'}" for m in self.members
        )
        return QueryError(
            ErrorCode.NO_HEALTHY_CLUSTER,
            f"cluster group '{self.name}' has no healthy cluster ({states})",
        )

    def _enqueue(self, waiter: _Waiter) -> int:
        """Insert in ticket order (usually at the end); the 1-based position."""
        index = len(self._queue)
        while index > 0 and self._queue[index - 1].ticket > waiter.ticket:
            index -= 1
        self._queue.insert(index, waiter)
        return index + 1

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gives up: leave the queue, or hand back a slot granted meanwhile."""
        if waiter.cluster is not None:
            self.release(waiter.cluster)
        elif waiter in self._queue:
            self._queue.remove(waiter)

    def _try_acquire(self) -> Cluster | None:
        if self.running >= self.config.max_running_queries:
            return None
        cluster = self._strategy.choose(self.members)
        if cluster is not None:
            self.running += 1
            cluster.running += 1
        return cluster

    def _admit_waiters(self) -> None:
        while self._queue:
            cluster = self._try_acquire()
            if cluster is None:
                return
            waiter = self._queue.popleft()
            waiter.cluster = cluster
            waiter.granted.set()
