"""The router chain: routers in config order, first match wins, else the fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from qflux.core import ErrorCode, QueryError, RoutingStep, RoutingTrace, Session

from .routers import HeaderRouter, ProtocolBasedRouter, Router

if TYPE_CHECKING:
    from qflux.config import Config

log = structlog.get_logger("qflux.routing")


class RouterChain:
    def __init__(self, routers: Sequence[Router], fallback: str | None) -> None:
        self.routers = list(routers)
        self.fallback = fallback

    @classmethod
    def from_config(cls, config: Config) -> RouterChain:
        routers: list[Router] = []
        for router_config in config.routers:
            if router_config.type == "protocolBased":
                mapping = {str(p): g for p, g in router_config.mapping().items()}
                routers.append(ProtocolBasedRouter(mapping))
            elif router_config.type == "header":
                routers.append(
                    HeaderRouter(
                        router_config.header_name, dict(router_config.header_value_to_group)
                    )
                )
            else:  # config loading rejects these; guard against a new type slipping by
                raise ValueError(f"router type {router_config.type!r} is not supported")
        return cls(routers, config.routing_fallback)

    def route(self, sql: str, session: Session) -> RoutingTrace:
        steps: list[RoutingStep] = []
        for router in self.routers:
            try:
                step = router.route(sql, session)
            except Exception as exc:  # a broken router must not take the query down
                log.exception("router failed", router=router.type_name)
                step = RoutingStep(router.type_name, False, None, f"router raised: {exc!r}")
            steps.append(step)
            if step.matched and step.group is not None:
                return RoutingTrace(step.group, False, tuple(steps))
        if self.fallback is None:
            raise QueryError(
                ErrorCode.ROUTING_FAILED, "no router matched and no routingFallback is set"
            )
        return RoutingTrace(self.fallback, True, tuple(steps))
