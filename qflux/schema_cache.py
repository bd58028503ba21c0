"""Engine schemas for schema-aware translation: fetched, cached, refreshed in the background.

A query in a group with `schemaAwareTranslation: true` is qualified and typed against its
cluster's tables before it is written for the engine, which lets the translator make
choices that depend on types (Trino's integer division, for one). The catalog is read
once at start and every `translation.schemaTtlSecs` after; until the first read, or
while a refresh keeps failing, translation uses what it has (or dialect-only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import structlog
import trio

if TYPE_CHECKING:
    from sqlglot.schema import MappingSchema

    from qflux.engines.base import Engine

log = structlog.get_logger("qflux.schema")


@attrs.frozen(eq=False)
class SchemaContext:
    """What the translator qualifies one query against."""

    schema: MappingSchema
    catalog: str | None
    db: str | None
    version: int

    def cache_key(self) -> tuple[object, ...]:
        return (self.version, self.catalog, self.db)


class SchemaCache:
    def __init__(self, name: str, engine: Engine, ttl_secs: float) -> None:
        self.name = name
        self.engine = engine
        self.ttl_secs = ttl_secs
        self.error: str | None = None
        self._current: SchemaContext | None = None
        self._tables: object = None

    def context(self, catalog: str | None = None, db: str | None = None) -> SchemaContext | None:
        """The latest schema, with the session's catalog/schema as defaults when given."""
        current = self._current
        if current is None or (catalog is None and db is None):
            return current
        return attrs.evolve(current, catalog=catalog or current.catalog, db=db or current.db)

    async def refresh(self) -> None:
        try:
            from sqlglot.schema import MappingSchema

            catalog = await self.engine.catalog()
            schema = MappingSchema(catalog.tables, dialect=catalog.dialect)  # type: ignore[arg-type]
        except Exception as exc:  # keep the last good schema
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("schema refresh failed", cluster=self.name, error=self.error)
            return
        self.error = None
        if self._current is not None and catalog.tables == self._tables:
            return
        version = self._current.version + 1 if self._current else 1
        self._tables = catalog.tables
        self._current = SchemaContext(
            schema, catalog.default_catalog, catalog.default_schema, version
        )
        log.info("schema loaded", cluster=self.name, version=version)

    async def run(self) -> None:
        """Refresh now and then every `ttl_secs`, until cancelled."""
        while True:
            await self.refresh()
            await trio.sleep(self.ttl_secs)
