"""Answer PostgreSQL catalog queries from the engine the session's queries go to.

A catalog query is routed like any other query (so `\\dt` lists the tables of the
cluster group the client's queries would reach), but it is not queued or sent to the
engine: the group's first healthy cluster describes its catalog, `pg_catalog_db`
builds the emulated catalog from that (rebuilt only when the tables change), and the
rewritten query runs there in a worker thread. Each answer is recorded in the query
history like an engine's.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import attrs
import duckdb
import pyarrow as pa
import structlog
import trio

from qflux.core import ErrorCode, QueryError, Result, Session
from qflux.engines.base import Catalog
from qflux.engines.duckdb import to_query_error
from qflux.frontends.pg_catalog_db import CatalogDatabase, build, database_name, pg_type_of
from qflux.frontends.pg_catalog_sql import SessionFacts, catalog_tree, rewrite
from qflux.frontends.pg_types import PG_TYPE_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlglot import exp

    from qflux.clusters import Cluster
    from qflux.dispatch import Dispatcher

log = structlog.get_logger("qflux.postgres.catalog")

#: How long an engine's catalog is reused before it is described again; a DDL statement
#: through this frontend forgets it at once.
CATALOG_TTL_SECS = 2.0
SERVER_STARTED = dt.datetime.now(dt.UTC)

__all__ = ["SERVER_STARTED", "CatalogAnswers", "SessionFacts", "TableResult", "catalog_tree"]


class TableResult(Result):
    """A result already in memory."""

    def __init__(self, table: pa.Table) -> None:
        self.schema = table.schema
        self._table = table

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        for batch in self._table.to_batches():
            yield batch


@attrs.define
class _Built:
    tables: object
    database: CatalogDatabase


class CatalogAnswers:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._catalogs: dict[str, tuple[float, Catalog]] = {}
        self._built: dict[tuple[str, str | None], _Built] = {}
        self._lock = trio.Lock()

    def forget(self) -> None:
        """The engine's tables may have changed (DDL): describe them again next time."""
        self._catalogs.clear()

    async def answer(self, tree: exp.Expr, session: Session, facts: SessionFacts) -> Result:
        """Run a catalog query (from `catalog_tree`), recorded in the history."""
        handle = self.dispatcher.submit(session, facts.sql)
        error: QueryError | None = None
        try:
            trace = await self.dispatcher.router.route(facts.sql, session)
            handle.record.group = trace.group
            handle.record.routing_trace = trace
            cluster = _describing_cluster(self.dispatcher.groups[trace.group].members)
            handle.record.cluster = cluster.name if cluster else None
            database = await self._database(cluster, session.database)
            sql = rewrite(tree, facts, database)
            handle.record.translated_sql = sql
            handle.record.translation_note = "answered from the emulated PostgreSQL catalog"
            try:
                table = await trio.to_thread.run_sync(database.query, sql)
            except duckdb.Error as exc:
                raise to_query_error(exc) from exc
            handle.record.rows_returned = table.num_rows
            return TableResult(_with_char_columns(table))
        except QueryError as exc:
            error = exc
            raise
        finally:
            self.dispatcher.finish_local(handle, error)

    async def column_types(
        self, session: Session, sql: str, tables: set[str]
    ) -> dict[str, dict[str, int]]:
        """{table: {column: type oid}} for `tables` where the statement would run; empty
        when the engine cannot say (inference then leaves parameters as text)."""
        if not tables:
            return {}
        try:
            trace = await self.dispatcher.router.route(sql, session)
            cluster = _describing_cluster(self.dispatcher.groups[trace.group].members)
            catalog = await self._catalog(cluster)
        except QueryError:
            return {}
        found: dict[str, dict[str, int]] = {}
        databases = sorted(catalog.tables.items(), key=lambda item: item[0] != session.database)
        for _, schemas in databases:
            for _, relations in sorted(schemas.items(), key=lambda i: i[0] != session.schema):
                for table, cols in relations.items():
                    if table.lower() in tables and table.lower() not in found:
                        found[table.lower()] = {
                            col.lower(): pg_type_of(t, catalog.dialect)[0]
                            for col, t in cols.items()
                        }
        return found

    async def _database(self, cluster: Cluster | None, database: str | None) -> CatalogDatabase:
        catalog = await self._catalog(cluster)
        # Keyed by the catalog it resolves to: any name a client invents maps to one.
        key = (cluster.name if cluster else "", database_name(catalog, database))
        async with self._lock:  # one build at a time; the others then reuse it
            built = self._built.get(key)
            if built is None or built.tables != catalog.tables:
                started = time.perf_counter()
                db = await trio.to_thread.run_sync(build, catalog, database)
                built = self._built[key] = _Built(catalog.tables, db)
                log.debug(
                    "catalog built",
                    cluster=key[0],
                    database=db.database,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
            return built.database

    async def _catalog(self, cluster: Cluster | None) -> Catalog:
        if cluster is None:
            return Catalog({}, "postgres")
        cached = self._catalogs.get(cluster.name)
        if cached is not None and time.monotonic() - cached[0] < CATALOG_TTL_SECS:
            return cached[1]
        try:
            catalog = await cluster.engine.catalog()
        except NotImplementedError:
            catalog = Catalog({}, "postgres")
        except QueryError:
            raise
        except Exception as exc:
            raise QueryError(
                ErrorCode.ENGINE_ERROR, f"cannot describe cluster '{cluster.name}': {exc}"
            ) from exc
        self._catalogs[cluster.name] = (time.monotonic(), catalog)
        return catalog


def _describing_cluster(members: list[Cluster]) -> Cluster | None:
    return next((m for m in members if m.available), members[0] if members else None)


def _with_char_columns(table: pa.Table) -> pa.Table:
    """Dictionary columns are the catalog's "char" columns: plain strings marked as such."""
    fields, arrays = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_dictionary(field.type):
            column = column.cast(pa.string())
            field = pa.field(field.name, pa.string(), metadata={PG_TYPE_KEY: b"char"})
        fields.append(field)
        arrays.append(column)
    return pa.table(arrays, schema=pa.schema(fields))
