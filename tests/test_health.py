"""Health checks against real DuckDB clusters: thresholds, timeouts, recovery."""

from __future__ import annotations

import trio
import trio.testing

from qflux.clusters import Cluster, ClusterGroup
from qflux.config import ClusterConfig, ClusterGroupConfig, HealthCheckConfig
from qflux.core import EngineType, ErrorCode, FrontendProtocol, QueryError, Session
from qflux.engines.duckdb import DuckDbEngine
from qflux.health import HealthMonitor

SLOW = "SELECT sum(i) FROM range(10000000000) t(i)"


def duck(name: str, query: str | None = None) -> Cluster:
    config = ClusterConfig(engine=EngineType.DUCKDB, health_check_query=query)
    return Cluster(name, config, DuckDbEngine(name, None))


async def test_failures_in_a_row_mark_unhealthy_and_a_pass_brings_it_back():
    cluster = duck("a", "SELECT ok FROM flag")
    cluster.engine.run_sync("CREATE TABLE flag AS SELECT true AS ok")
    monitor = HealthMonitor([cluster], HealthCheckConfig(unhealthy_threshold=2))
    await monitor.check_all()
    assert cluster.healthy
    cluster.engine.run_sync("DROP TABLE flag")
    await monitor.check_all()
    assert cluster.healthy and "flag" in (cluster.last_error or "")  # one failure: not yet
    await monitor.check_all()
    assert not cluster.healthy
    cluster.engine.run_sync("CREATE TABLE flag AS SELECT true AS ok")
    await monitor.check_all()
    assert cluster.healthy and cluster.last_error is None


async def test_a_probe_that_hangs_times_out_and_is_interrupted():
    cluster = duck("slow", SLOW)
    config = HealthCheckConfig(timeout_secs=0.2, unhealthy_threshold=1)
    monitor = HealthMonitor([cluster], config)
    with trio.fail_after(3):
        await monitor.check_all()
    assert not cluster.healthy and cluster.last_error == "no answer within 0.2s"
    assert cluster.engine.active_calls == 0  # the probe stopped at the engine


async def test_busy_cluster_still_answers_its_probe():
    cluster = duck("busy")
    cluster.engine._limiter.total_tokens = 1
    monitor = HealthMonitor([cluster], HealthCheckConfig(timeout_secs=1, unhealthy_threshold=1))
    async with trio.open_nursery() as nursery:
        started = trio.Event()

        async def occupy() -> None:
            session = Session(protocol=FrontendProtocol.TRINO_HTTP)
            async with cluster.engine.execute(SLOW, session) as result:
                started.set()
                async for _ in result:
                    pass

        nursery.start_soon(occupy)
        await trio.sleep(0.1)
        await monitor.check_all()
        assert cluster.healthy
        nursery.cancel_scope.cancel()


async def test_waiters_fail_when_the_last_member_turns_unhealthy():
    cluster = duck("only")
    config = ClusterGroupConfig(members=("only",), max_running_queries=1)
    group = ClusterGroup("g", config, [cluster])
    errors: list[QueryError] = []
    async with group.admit(), trio.open_nursery() as nursery:

        async def wait() -> None:
            try:
                async with group.admit():
                    pass
            except QueryError as exc:
                errors.append(exc)

        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        assert group.queued == 1
        cluster.set_healthy(False, "down")
    assert [e.code for e in errors] == [ErrorCode.NO_HEALTHY_CLUSTER]
    assert group.queued == 0 and group.running == 0
