"""The routers: each looks at one query and either names a group or passes, saying why.

Routers are built once from the config (regexes compiled, scripts loaded) and are
then pure functions of (sql, session, context), so a decision can be replayed by
`qflux route` without a running server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import structlog
import trio

from qflux import worker_threads
from qflux.config import (
    ClientTagsRouter,
    CompoundCondition,
    CompoundRouter,
    ConditionType,
    HeaderRouter,
    ProtocolBasedRouter,
    PythonScriptRouter,
    QueryRegexRouter,
    RouterConfig,
    TagsRouter,
)
from qflux.core import RoutingStep, Session
from qflux.tags import collect, matches

log = structlog.get_logger("qflux.routing")

#: The live load of every group, as a script sees it: {group: {running, queued, capacity}}.
GroupLoads = Callable[[], dict[str, dict[str, Any]]]


class Router(Protocol):
    type_name: str

    async def route(self, sql: str, session: Session) -> RoutingStep: ...


def _step(router: Router, group: str | None, detail: str) -> RoutingStep:
    return RoutingStep(router.type_name, group is not None, group, detail)


class ProtocolBased:
    """Route by the wire protocol the client spoke."""

    type_name = "protocolBased"

    def __init__(self, config: ProtocolBasedRouter) -> None:
        self._mapping = {str(protocol): group for protocol, group in config.mapping().items()}

    async def route(self, sql: str, session: Session) -> RoutingStep:
        group = self._mapping.get(str(session.protocol))
        verdict = f"protocol {session.protocol}" + ("" if group else " has no group")
        return _step(self, group, verdict)


class Header:
    """Route by the value of one request header (names compare case-insensitively)."""

    type_name = "header"

    def __init__(self, config: HeaderRouter) -> None:
        self._header = config.header_name.lower()
        self._value_to_group = dict(config.header_value_to_group)

    async def route(self, sql: str, session: Session) -> RoutingStep:
        value = session.header(self._header)
        if value is None:
            return _step(self, None, f"header {self._header} absent")
        group = self._value_to_group.get(value.strip())
        verdict = f"{self._header}={value!r}" + ("" if group else " has no mapping")
        return _step(self, group, verdict)


class QueryRegex:
    """The first rule whose regex is found in the SQL text wins."""

    type_name = "queryRegex"

    def __init__(self, config: QueryRegexRouter) -> None:
        self._rules = [(re.compile(rule.regex), rule.target_group) for rule in config.rules]

    async def route(self, sql: str, session: Session) -> RoutingStep:
        for index, (pattern, group) in enumerate(self._rules):
            if pattern.search(sql):
                return _step(self, group, f"rule {index} /{pattern.pattern}/ matched")
        return _step(self, None, f"none of {len(self._rules)} patterns matched")


class Tags:
    """The first rule whose tags the session carries wins (all of a rule's tags).

    Serves both the `clientTags` form (`tags: [etl, "team:eng"]`) and QueryFlux's
    `tags` form (`tags: {team: eng, batch: null}`): both become key -> value|None.
    """

    def __init__(self, type_name: str, rules: Sequence[tuple[Mapping[str, str | None], str]]):
        self.type_name = type_name
        self._rules = list(rules)

    @classmethod
    def from_client_tags(cls, config: ClientTagsRouter) -> Tags:
        return cls("clientTags", [(collect(r.tags), r.target_group) for r in config.rules])

    @classmethod
    def from_tags(cls, config: TagsRouter) -> Tags:
        return cls("tags", [(dict(r.tags), r.target_group) for r in config.rules])

    async def route(self, sql: str, session: Session) -> RoutingStep:
        for index, (required, group) in enumerate(self._rules):
            if matches(required, session.tags):
                return _step(self, group, f"rule {index} tags {_show_tags(required)} present")
        return _step(self, None, f"session tags {_show_tags(session.tags)} match no rule")


class Compound:
    """A fixed group when all (or any) of several conditions hold."""

    type_name = "compound"

    def __init__(self, config: CompoundRouter) -> None:
        self._group = config.target_group
        self._any = config.combine == "any"
        self._conditions = [_condition(c) for c in config.conditions]

    async def route(self, sql: str, session: Session) -> RoutingStep:
        results = [(name, test(sql, session)) for name, test in self._conditions]
        hit = any(ok for _, ok in results) if self._any else all(ok for _, ok in results)
        detail = ", ".join(f"{name}={'yes' if ok else 'no'}" for name, ok in results)
        combine = "any" if self._any else "all"
        return _step(self, self._group if hit else None, f"{combine} of [{detail}]")


def _condition(c: CompoundCondition) -> tuple[str, Callable[[str, Session], bool]]:
    if c.type is ConditionType.PROTOCOL:
        protocol = str(c.protocol)
        return f"protocol {protocol}", lambda sql, s: str(s.protocol) == protocol
    if c.type is ConditionType.HEADER:
        name, value = (c.header_name or "").lower(), c.header_value
        return f"header {name}", lambda sql, s: s.header(name) == value
    if c.type is ConditionType.USER:
        user = c.username
        return f"user {user}", lambda sql, s: s.user == user
    if c.type is ConditionType.CLIENT_TAG:
        required = collect([c.tag or ""])
        return f"tag {c.tag}", lambda sql, s: bool(required) and matches(required, s.tags)
    pattern = re.compile(c.regex or "")
    return f"regex /{pattern.pattern}/", lambda sql, s: pattern.search(sql) is not None


class PythonScript:
    """`route(query, ctx) -> str | None` from the config, run off the Trio thread.

    The script runs in a worker thread within `timeoutMs`; one that raises, returns
    something other than a known group or None, or overruns is logged and counts as
    no match (with the reason in the trace). A script that never returns keeps its
    thread; once all of the router's threads are stuck it simply never matches.
    """

    type_name = "pythonScript"
    THREADS = 4

    def __init__(self, config: PythonScriptRouter, groups: Sequence[str], loads: GroupLoads):
        namespace: dict[str, Any] = {"__name__": "qflux_route_script"}
        filename = config.script_file or "<routers.pythonScript>"
        exec(compile(config.script, filename, "exec"), namespace)  # the operator's own code
        self._route = namespace["route"]
        self._groups = set(groups)
        self._loads = loads
        self._timeout = config.timeout_ms / 1000
        self._limiter = trio.CapacityLimiter(self.THREADS)

    async def route(self, sql: str, session: Session) -> RoutingStep:
        ctx = script_context(session, self._loads())
        with trio.move_on_after(self._timeout):
            try:
                result = await worker_threads.run_sync(lambda: self._route(sql, ctx), self._limiter)
            except Exception as exc:
                log.warning("route script raised", error=repr(exc))
                return _step(self, None, f"script raised {exc!r}")
            if result is None:
                return _step(self, None, "script returned None")
            if isinstance(result, str) and result in self._groups:
                return _step(self, result, f"script returned {result!r}")
            log.warning("route script returned an unknown group", returned=repr(result))
            return _step(self, None, f"script returned {result!r}, not a defined group")
        log.warning("route script ran past its budget", budget_ms=self._timeout * 1000)
        return _step(self, None, f"script ran past its {self._timeout * 1000:g} ms budget")


def script_context(session: Session, loads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The `ctx` a route script gets: QueryFlux's keys plus tags and group load."""
    headers = dict(session.headers)
    return {
        "protocol": str(session.protocol),
        "user": session.user,
        "database": session.database,
        "schema": session.schema,
        "source": session.source,
        "tags": dict(session.tags),
        "headers": headers,
        "extra": headers,
        "groups": loads,
    }


def build_router(config: RouterConfig, groups: Sequence[str], loads: GroupLoads) -> Router:
    if isinstance(config, ProtocolBasedRouter):
        return ProtocolBased(config)
    if isinstance(config, HeaderRouter):
        return Header(config)
    if isinstance(config, QueryRegexRouter):
        return QueryRegex(config)
    if isinstance(config, ClientTagsRouter):
        return Tags.from_client_tags(config)
    if isinstance(config, TagsRouter):
        return Tags.from_tags(config)
    if isinstance(config, CompoundRouter):
        return Compound(config)
    return PythonScript(config, groups, loads)


def _show_tags(tags: Mapping[str, str | None]) -> str:
    return ",".join(key if value is None else f"{key}:{value}" for key, value in tags.items())
