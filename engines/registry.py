"""Build an Engine from a cluster's config; the one place that knows every adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qflux.core import EngineType

from .base import Engine
from .duckdb import DuckDbEngine

if TYPE_CHECKING:
    from qflux.config import ClusterConfig


class EngineUnavailable(Exception):
    """The config names an engine this build cannot run yet."""


AVAILABLE = (EngineType.DUCKDB, EngineType.POSTGRES, EngineType.STARROCKS, EngineType.TRINO)


def create_engine(name: str, config: ClusterConfig) -> Engine:
    """The adapter for `config.engine`; network adapters are imported only when used."""
    if config.engine == EngineType.DUCKDB:
        return DuckDbEngine(name, config.database_path, max_threads=config.max_running_queries or 8)
    if config.engine == EngineType.POSTGRES:
        from .postgres import PostgresEngine

        return PostgresEngine(name, config)
    if config.engine == EngineType.STARROCKS:
        from .starrocks import StarRocksEngine

        return StarRocksEngine(name, config)
    if config.engine == EngineType.TRINO:
        from .trino import TrinoEngine

        return TrinoEngine(name, config)
    raise EngineUnavailable(
        f"clusters.{name}.engine: the {config.engine} engine is not available yet "
        f"in this version of qflux; available: {', '.join(AVAILABLE)}"
    )
