"""Cluster groups: the admission cap, FIFO order, queue exits, and each strategy."""

from __future__ import annotations

import collections

import pytest
import trio
import trio.testing

from qflux.clusters import Cluster, ClusterGroup
from qflux.config import ClusterConfig, ClusterGroupConfig, StrategyConfig, StrategyType
from qflux.core import EngineType, ErrorCode, QueryError
from qflux.engines.duckdb import DuckDbEngine


def cluster(name: str, engine: EngineType = EngineType.DUCKDB, cap: int | None = None) -> Cluster:
    return Cluster(
        name, ClusterConfig(engine=engine, max_running_queries=cap), DuckDbEngine(name, None)
    )


def group(members: list[Cluster], running: int = 100, **options) -> ClusterGroup:
    config = ClusterGroupConfig(
        members=tuple(m.name for m in members), max_running_queries=running, **options
    )
    return ClusterGroup("g", config, members)


@pytest.mark.parametrize("cap", [1, 4])
async def test_cap_holds_and_admission_is_fifo_under_hundreds_of_submitters(cap):
    members = [cluster("a"), cluster("b")]
    g = group(members, running=cap)
    admitted: list[int] = []
    peak = 0

    async def submit(n: int) -> None:
        nonlocal peak
        async with g.admit():
            admitted.append(n)
            peak = max(peak, g.running)
            assert sum(m.running for m in members) == g.running
            await trio.sleep(0.001)

    async with trio.open_nursery() as nursery:
        for n in range(300):
            nursery.start_soon(submit, n)
            await trio.sleep(0)  # arrival order = n
    assert peak == cap
    if cap == 1:  # one grant at a time, so the order seen is the order granted
        assert admitted == list(range(300))
    else:  # grants are FIFO; tasks woken together may run in any order
        assert sorted(admitted) == list(range(300))
        assert all(abs(n - i) < cap for i, n in enumerate(admitted))
    assert g.running == 0 and g.queued == 0


async def test_queries_that_arrive_together_are_admitted_in_arrival_order():
    """A burst's tasks reach the queue in whatever order the scheduler runs them (Trio
    reverses batches at random): the ticket taken on arrival decides, not that order."""
    g = group([cluster("a")], running=1)
    admitted: list[int] = []
    holder = await g.acquire(ticket=0)

    async def submit(ticket: int) -> None:
        granted = await g.acquire(ticket=ticket)
        admitted.append(ticket)
        await trio.sleep(0.001)
        g.release(granted)

    async with trio.open_nursery() as nursery:
        for ticket in (5, 3, 4, 1, 2):  # reach acquire() out of arrival order
            nursery.start_soon(submit, ticket)
            await trio.sleep(0)
        await trio.testing.wait_all_tasks_blocked()
        assert g.queued == 5
        g.release(holder)
    assert admitted == [1, 2, 3, 4, 5]


async def test_cancelled_waiter_leaves_the_queue_at_once():
    g = group([cluster("a")], running=1)
    async with g.admit(), trio.open_nursery() as nursery:
        positions: list[tuple[str, int]] = []
        scope = trio.CancelScope()

        async def wait() -> None:
            with scope:
                async with g.admit(lambda group, position: positions.append((group, position))):
                    pass

        nursery.start_soon(wait)
        await trio.sleep(0.01)
        assert g.queued == 1 and positions == [("g", 1)]
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert g.queued == 0
    assert g.running == 0


async def test_queue_full_and_timeout():
    g = group([cluster("a")], running=1, max_queued_queries=1, queue_timeout_secs=0.05)
    async with g.admit():
        async with trio.open_nursery() as nursery:
            errors: list[QueryError] = []

            async def wait() -> None:
                try:
                    async with g.admit():
                        pass
                except QueryError as exc:
                    errors.append(exc)

            nursery.start_soon(wait)
            await trio.sleep(0.01)
            with pytest.raises(QueryError) as full:
                async with g.admit():
                    pass
            assert full.value.code is ErrorCode.QUEUE_FULL
        assert [e.code for e in errors] == [ErrorCode.QUEUE_TIMEOUT]
    assert g.running == 0 and g.queued == 0


async def test_cluster_cap_counts_queries_of_every_group_once():
    shared = cluster("shared", cap=1)
    first, second = group([shared]), group([shared])
    async with first.admit() as chosen:
        assert chosen is shared and shared.running == 1
        with trio.move_on_after(0.05) as waited:
            async with second.admit():
                pass
        assert waited.cancelled_caught  # the cluster is full, whatever the group says
    async with second.admit() as chosen:
        assert chosen is shared


async def picks(g: ClusterGroup, n: int) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(n):
        async with g.admit() as chosen:
            counts[chosen.name] += 1
    return counts


async def test_round_robin_alternates():
    assert await picks(group([cluster("a"), cluster("b")]), 10) == {"a": 5, "b": 5}


async def test_weighted_split_holds_over_a_thousand_queries():
    strategy = StrategyConfig(StrategyType.WEIGHTED, weights={"a": 9, "b": 1})
    counts = await picks(group([cluster("a"), cluster("b")], strategy=strategy), 1000)
    assert counts == {"a": 900, "b": 100}


async def test_least_loaded_failover_and_engine_affinity():
    a, b = cluster("a"), cluster("b")
    least = group([a, b], strategy=StrategyConfig(StrategyType.LEAST_LOADED))
    failover = group([a, b], strategy=StrategyConfig(StrategyType.FAILOVER))
    async with least.admit() as first, least.admit() as second:
        assert {first.name, second.name} == {"a", "b"}
    async with failover.admit() as first, failover.admit() as second:
        assert (first.name, second.name) == ("a", "a")
    t = cluster("t", engine=EngineType.TRINO, cap=1)
    affinity = group(
        [a, t],
        strategy=StrategyConfig(
            StrategyType.ENGINE_AFFINITY, preference=(EngineType.TRINO, EngineType.DUCKDB)
        ),
    )
    async with affinity.admit() as first, affinity.admit() as second:
        assert (first.name, second.name) == ("t", "a")  # t is full: fall back to duckDb
