"""How a cluster group picks one of its members for an admitted query.

Each strategy only sees members that can take a query now (enabled, healthy, under
their own `maxRunningQueries`) and returns None when there is none, so the caller
keeps the query queued instead of overloading a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from qflux.config import StrategyConfig, StrategyType
from qflux.core import EngineType

if TYPE_CHECKING:
    from qflux.clusters import Cluster


class Strategy(Protocol):
    def choose(self, members: Sequence[Cluster]) -> Cluster | None: ...


class RoundRobin:
    """Rotate through the members in order."""

    def __init__(self) -> None:
        self._next = 0

    def choose(self, members: Sequence[Cluster]) -> Cluster | None:
        for offset in range(len(members)):
            index = (self._next + offset) % len(members)
            if members[index].can_take():
                self._next = index + 1
                return members[index]
        return None


class LeastLoaded:
    """Fewest running queries; ties go to the earlier member."""

    def choose(self, members: Sequence[Cluster]) -> Cluster | None:
        return min((m for m in members if m.can_take()), key=lambda m: m.running, default=None)


class Failover:
    """The first member, in order, that can take the query."""

    def choose(self, members: Sequence[Cluster]) -> Cluster | None:
        return next((m for m in members if m.can_take()), None)


class EngineAffinity:
    """Least loaded within the first preferred engine type that has a free member."""

    def __init__(self, preference: Sequence[EngineType]) -> None:
        self._preference = list(preference)
        self._least_loaded = LeastLoaded()

    def choose(self, members: Sequence[Cluster]) -> Cluster | None:
        for engine in self._preference:
            chosen = self._least_loaded.choose([m for m in members if m.config.engine == engine])
            if chosen is not None:
                return chosen
        return None


class Weighted:
    """Smooth weighted round robin: a 3:1 split interleaves (a a b a), never bursts."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self._weights = dict(weights)
        self._current: dict[str, int] = dict.fromkeys(weights, 0)

    def choose(self, members: Sequence[Cluster]) -> Cluster | None:
        candidates = [m for m in members if m.can_take() and self._weights.get(m.name, 0) > 0]
        if not candidates:
            return None
        for member in candidates:
            self._current[member.name] += self._weights[member.name]
        chosen = max(candidates, key=lambda m: self._current[m.name])
        self._current[chosen.name] -= sum(self._weights[m.name] for m in candidates)
        return chosen


def make_strategy(config: StrategyConfig) -> Strategy:
    if config.type is StrategyType.LEAST_LOADED:
        return LeastLoaded()
    if config.type is StrategyType.FAILOVER:
        return Failover()
    if config.type is StrategyType.ENGINE_AFFINITY:
        return EngineAffinity(config.preference)
    if config.type is StrategyType.WEIGHTED:
        return Weighted(config.weights)
    return RoundRobin()
