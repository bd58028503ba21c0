"""The router chain: routers in config order, first match wins, else the fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from qflux.core import ErrorCode, QueryError, RoutingStep, RoutingTrace, Session

from .routers import GroupLoads, Router, build_router

if TYPE_CHECKING:
    from qflux.config import Config

log = structlog.get_logger("qflux.routing")


class RouterChain:
    def __init__(self, routers: Sequence[Router], fallback: str | None) -> None:
        self.routers = list(routers)
        self.fallback = fallback

    @classmethod
    def from_config(cls, config: Config, loads: GroupLoads | None = None) -> RouterChain:
        """Build every router once. `loads` feeds script routers the live group load
        (zeros when routing offline, as `qflux route` does)."""
        groups = [name for name, group in config.cluster_groups.items() if group.enabled]
        loads = loads or (lambda: idle_loads(config))
        routers = [build_router(router, groups, loads) for router in config.routers]
        return cls(routers, config.routing_fallback)

    async def route(self, sql: str, session: Session) -> RoutingTrace:
        steps: list[RoutingStep] = []
        for router in self.routers:
            try:
                step = await router.route(sql, session)
            except Exception as exc:  # a broken router must not take the query down
                log.exception("router failed", router=router.type_name)
                step = RoutingStep(router.type_name, False, None, f"router raised {exc!r}")
            steps.append(step)
            if step.matched and step.group is not None:
                return RoutingTrace(step.group, False, tuple(steps))
        if self.fallback is None:
            raise QueryError(
                ErrorCode.ROUTING_FAILED, "no router matched and no routingFallback is set"
            )
        return RoutingTrace(self.fallback, True, tuple(steps))


def idle_loads(config: Config) -> dict[str, dict[str, int | None]]:
    """Every enabled group with nothing running or queued."""
    return {
        name: {"running": 0, "queued": 0, "capacity": group.max_running_queries}
        for name, group in config.cluster_groups.items()
        if group.enabled
    }
