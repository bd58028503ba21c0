"""The routers: each looks at one query and either names a group or passes."""

from __future__ import annotations

from typing import Protocol

from qflux.core import RoutingStep, Session


class Router(Protocol):
    type_name: str

    def route(self, sql: str, session: Session) -> RoutingStep: ...


class ProtocolBasedRouter:
    """Route by the wire protocol the client spoke."""

    type_name = "protocolBased"

    def __init__(self, mapping: dict[str, str]) -> None:
        self._mapping = mapping

    def route(self, sql: str, session: Session) -> RoutingStep:
        group = self._mapping.get(str(session.protocol))
        if group is None:
            return RoutingStep(self.type_name, False, None, f"no group for {session.protocol}")
        return RoutingStep(self.type_name, True, group, f"protocol {session.protocol}")


class HeaderRouter:
    """Route by the value of one request header (names compare case-insensitively)."""

    type_name = "header"

    def __init__(self, header_name: str, value_to_group: dict[str, str]) -> None:
        self._header = header_name.lower()
        self._value_to_group = value_to_group

    def route(self, sql: str, session: Session) -> RoutingStep:
        value = session.header(self._header)
        if value is None:
            return RoutingStep(self.type_name, False, None, f"header {self._header} absent")
        group = self._value_to_group.get(value.strip())
        if group is None:
            return RoutingStep(
                self.type_name, False, None, f"{self._header}={value!r} has no mapping"
            )
        return RoutingStep(self.type_name, True, group, f"{self._header}={value!r}")
