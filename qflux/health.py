"""Background health checks: a cluster failing N checks in a row stops taking queries.

Every `intervalSecs` each enabled cluster answers its engine's check (DuckDB: `SELECT 1`,
or the cluster's `healthCheckQuery`) within `timeoutSecs`. `unhealthyThreshold` failures
in a row mark it unhealthy (strategies skip it; a group left with no healthy member
fails its queries at once instead of letting them hang); `healthyThreshold` passes in a
row bring it back, and queued queries flow to it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs
import structlog
import trio

from qflux.clusters import Cluster

if TYPE_CHECKING:
    from qflux.config import HealthCheckConfig

log = structlog.get_logger("qflux.health")


@attrs.define
class _Streak:
    failures: int = 0
    successes: int = 0


class HealthMonitor:
    def __init__(self, clusters: Iterable[Cluster], config: HealthCheckConfig) -> None:
        self.clusters = list(clusters)
        self.config = config
        self._streaks = {cluster.name: _Streak() for cluster in self.clusters}

    async def run(self) -> None:
        """Check every cluster on the interval, forever (cancel to stop)."""
        while True:
            await self.check_all()
            await trio.sleep(self.config.interval_secs)

    async def check_all(self) -> None:
        async with trio.open_nursery() as nursery:
            for cluster in self.clusters:
                if cluster.config.enabled:
                    nursery.start_soon(self.check, cluster)

    async def check(self, cluster: Cluster) -> None:
        error: str | None = None
        with trio.move_on_after(self.config.timeout_secs) as deadline:
            try:
                await cluster.engine.health_check(cluster.config.health_check_query)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        if deadline.cancelled_caught:
            error = f"no answer within {self.config.timeout_secs:g}s"
        self._record(cluster, error)

    def _record(self, cluster: Cluster, error: str | None) -> None:
        streak = self._streaks[cluster.name]
        if error is None:
            streak.failures, streak.successes = 0, streak.successes + 1
            if not cluster.healthy and streak.successes >= self.config.healthy_threshold:
                cluster.set_healthy(True)
            return
        streak.failures, streak.successes = streak.failures + 1, 0
        log.info("health check failed", cluster=cluster.name, error=error, streak=streak.failures)
        if cluster.healthy and streak.failures >= self.config.unhealthy_threshold:
            cluster.set_healthy(False, error)
        else:
            cluster.last_error = error
