"""The DuckDB engine's statement paths: a single statement straight to Arrow, a script
through the relation API, and the client's catalog/schema applied only when needed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import trio

from qflux.core import FrontendProtocol, Session
from qflux.engines.duckdb import DuckDbEngine, _use_statement


async def _rows(engine: DuckDbEngine, sql: str, session: Session) -> list[dict]:
    async with engine.execute(sql, session) as result:
        batches = [batch async for batch in result]
    return pa.Table.from_batches(batches, result.schema).to_pylist() if batches else []


def _run(engine: DuckDbEngine, sql: str, session: Session | None = None) -> list[dict]:
    session = session or Session(FrontendProtocol.POSTGRES_WIRE, user="tester")
    return trio.run(_rows, engine, sql, session)


@pytest.fixture
def engine(tmp_path: Path):
    engine = DuckDbEngine("duck", str(tmp_path / "shop.duckdb"))
    engine.run_sync("CREATE SCHEMA sales")
    engine.run_sync("CREATE TABLE sales.orders AS SELECT 1 AS id, 'a;b' AS note")
    engine.run_sync("CREATE TABLE main.orders AS SELECT 2 AS id, 'main' AS note")
    yield engine
    trio.run(engine.aclose)


def test_this_duckdb_runs_single_statements_without_the_relation_api() -> None:
    """The fast path needs the connection's `_submit`; if a DuckDB release drops it,
    queries still work (through `sql()`) but this says the speed-up is gone."""
    if int(duckdb.__version__.split(".")[0]) >= 2:  # before 2.0, sql() was native
        assert hasattr(duckdb.connect(), "_submit")


def test_statements_scripts_and_semicolons_in_literals(engine: DuckDbEngine) -> None:
    assert _run(engine, "SELECT id, note FROM orders;") == [{"id": 2, "note": "main"}]
    assert _run(engine, "SELECT note FROM sales.orders WHERE note = 'a;b'") == [{"note": "a;b"}]
    # A script runs every statement and returns the last one's rows.
    rows = _run(engine, "CREATE TABLE t AS SELECT 5 AS x; SELECT x + 1 AS y FROM t")
    assert rows == [{"y": 6}]
    assert _run(engine, "INSERT INTO t VALUES (7)") == [{"Count": 1}]
    assert _run(engine, "SELECT count(*) AS n FROM t") == [{"n": 2}]


def test_the_clients_schema_is_used_and_the_default_needs_no_use(engine: DuckDbEngine) -> None:
    defaults = ("shop", "main")
    named = Session(FrontendProtocol.TRINO_HTTP, user="tester", database="shop", schema="sales")
    assert _run(engine, "SELECT id FROM orders", named) == [{"id": 1}]
    default = Session(FrontendProtocol.TRINO_HTTP, user="tester", database="shop")
    assert _run(engine, "SELECT id FROM orders", default) == [{"id": 2}]
    assert _use_statement(default, defaults) is None
    assert _use_statement(named, defaults) == 'USE "shop"."sales"'
    other = Session(FrontendProtocol.TRINO_HTTP, user="tester", database='we"ird')
    assert _use_statement(other, defaults) == 'USE "we""ird"'
