"""The Trino engine against a real Trino-protocol server: a second qflux whose Trino
HTTP frontend serves DuckDB (that frontend is itself checked against the `trino`
client, so the pair is honest)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest
import trino
import trio

from qflux.config import load_config
from qflux.core import ErrorCode, FrontendProtocol, QueryError, Session
from qflux.engines.registry import create_engine
from qflux.engines.trino import TrinoEngine

from .conftest import duckdb_config, wait_until

SLOW = "SELECT sum(hash(i)) FROM range(20000000000) t(i)"


@pytest.fixture(scope="module")
def backend():
    """The 'Trino cluster': qflux on DuckDB, with a table to find."""
    from qflux.testing import serve_in_thread, with_ephemeral_ports

    with serve_in_thread(with_ephemeral_ports(duckdb_config())) as server:
        cursor = trino.dbapi.connect(host="127.0.0.1", port=server.port(), user="t").cursor()
        cursor.execute(
            "CREATE TABLE items AS SELECT range AS id, 'n' || range AS name FROM range(5)"
        )
        cursor.fetchall()
        yield server


def cluster_config(backend, **extra: Any) -> dict[str, Any]:
    return {
        "clusters": {"remote": {"engine": "trino", "endpoint": backend.url(), **extra}},
        "clusterGroups": {"g": {"members": ["remote"], "maxRunningQueries": 4}},
        "routingFallback": "g",
    }


def engine_for(backend, **extra: Any) -> TrinoEngine:
    config = load_config(cluster_config(backend, **extra))
    engine = create_engine("remote", config.clusters["remote"])
    assert isinstance(engine, TrinoEngine)
    return engine


def session(**kwargs: Any) -> Session:
    return Session(protocol=FrontendProtocol.TRINO_HTTP, user="alice", **kwargs)


async def fetch(engine: TrinoEngine, sql: str, **kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    async with engine.execute(sql, session(**kwargs)) as result:
        rows = [row async for batch in result for row in batch.to_pylist()]
        return result.schema, rows


def backend_records(backend) -> list[Any]:
    return backend.call(lambda: backend.server.dispatcher.history.recent(50))


async def records(backend) -> list[Any]:
    """The backend's history from a Trio test (its own thread is another run)."""
    return await trio.to_thread.run_sync(backend_records, backend)


async def backend_active(backend) -> int:
    return await trio.to_thread.run_sync(
        backend.call, lambda: len(backend.server.dispatcher.active)
    )


async def test_types_arrive_as_arrow(backend):
    engine = engine_for(backend)
    try:
        schema, rows = await fetch(
            engine,
            """SELECT true AS b, CAST(7 AS TINYINT) AS t, 9007199254740993 AS big,
                      CAST(1.5 AS REAL) AS r, CAST('NaN' AS DOUBLE) AS n,
                      CAST(12345.67 AS DECIMAL(10,2)) AS d,
                      'héllo' AS s, X'6162' AS bin, DATE '2024-02-29' AS day,
                      TIME '13:14:15.123456' AS tm, TIMESTAMP '2024-01-02 03:04:05.678901' AS ts,
                      INTERVAL '3' DAY AS ds, ARRAY[1, NULL, 3] AS arr,
                      MAP(ARRAY['k'], ARRAY[1]) AS m,
                      CAST(ROW(1, 'x') AS ROW(a INTEGER, b VARCHAR)) AS rw,
                      UUID '3f1c6c3e-7a38-4a42-9e6b-6c0f9c0c6b1e' AS u,
                      JSON '{"a": 1}' AS j, CAST(NULL AS INTEGER) AS nothing""",
        )
    finally:
        await engine.aclose()
    types = {f.name: str(f.type) for f in schema}
    assert types["t"] == "int8" and types["big"] == "int64" and types["r"] == "float"
    assert types["d"] == "decimal128(10, 2)" and types["day"] == "date32[day]"
    assert types["arr"] == "list<item: int32>" and types["rw"] == "struct<a: int32, b: string>"
    assert schema.field("j").metadata == {b"ARROW:extension:name": b"arrow.json"}
    assert schema.field("u").metadata == {b"ARROW:extension:name": b"arrow.uuid"}
    row = rows[0]
    assert row["b"] is True and row["big"] == 9007199254740993 and row["r"] == 1.5
    assert row["n"] != row["n"]  # NaN arrives as NaN, not as the string
    assert row["d"] == decimal.Decimal("12345.67") and row["s"] == "héllo"
    assert row["bin"] == b"ab" and row["day"] == dt.date(2024, 2, 29)
    assert row["tm"] == dt.time(13, 14, 15, 123456)
    assert row["ts"] == dt.datetime(2024, 1, 2, 3, 4, 5, 678901)
    assert row["ds"] == dt.timedelta(days=3)
    assert row["arr"] == [1, None, 3] and row["m"] == [("k", 1)]
    assert row["rw"] == {"a": 1, "b": "x"}
    assert uuid.UUID(bytes=row["u"]) == uuid.UUID("3f1c6c3e-7a38-4a42-9e6b-6c0f9c0c6b1e")
    assert row["j"].replace(" ", "") == '{"a":1}' and row["nothing"] is None


async def test_large_results_stream_page_by_page(backend):
    engine = engine_for(backend)
    try:
        async with engine.execute(
            "SELECT i, i * 2 AS twice FROM range(300000) t(i)", session()
        ) as result:
            sizes = [batch.num_rows async for batch in result]
    finally:
        await engine.aclose()
    assert sum(sizes) == 300_000 and len(sizes) > 3


async def test_session_travels_as_trino_headers(backend):
    engine = engine_for(backend, queryAuth={"type": "impersonate"},
                        auth={"type": "basic", "username": "svc", "password": "x"})  # fmt: skip
    try:
        _, rows = await fetch(engine, "SELECT 1 AS one /* impersonated */")
    finally:
        await engine.aclose()
    assert rows == [{"one": 1}]
    record = next(r for r in await records(backend) if "impersonated" in r.sql)
    assert record.user == "alice"
    service = engine_for(backend, auth={"type": "basic", "username": "svc", "password": "x"})
    try:
        await fetch(service, "SELECT 1 AS one /* as the service */")
    finally:
        await service.aclose()
    record = next(r for r in await records(backend) if "as the service" in r.sql)
    assert record.user == "svc"


async def test_backend_errors_keep_their_class_and_message(backend):
    engine = engine_for(backend)
    try:
        with pytest.raises(QueryError) as missing:
            await fetch(engine, "SELECT * FROM no_such_table")
        assert missing.value.code is ErrorCode.NOT_FOUND
        assert "no_such_table" in missing.value.message
        with pytest.raises(QueryError) as syntax:
            await fetch(engine, "SELEC 1")
        assert syntax.value.code is ErrorCode.SYNTAX_ERROR
        _, rows = await fetch(engine, "SELECT 2 AS two")  # and the engine carries on
        assert rows == [{"two": 2}]
    finally:
        await engine.aclose()


async def test_cancelling_the_scope_cancels_the_backend_query(backend):
    engine = engine_for(backend)
    try:
        with trio.move_on_after(0.5):
            await fetch(engine, SLOW + " /* to be cancelled */")
        started = time.monotonic()
        while await backend_active(backend) and time.monotonic() - started < 1.0:
            await trio.sleep(0.02)
        record = next(r for r in await records(backend) if "to be cancelled" in r.sql)
        assert str(record.status) == "CANCELLED", record
        assert engine.active_calls == 0
    finally:
        await engine.aclose()


async def test_health_and_catalog(backend):
    engine = engine_for(backend)
    try:
        await engine.health_check()
        await engine.health_check("SELECT 1")
        catalog = await engine.catalog()
        tables = {t for schemas in catalog.tables.values() for s in schemas.values() for t in s}
        assert "items" in tables
        assert catalog.dialect == "trino"
    finally:
        await engine.aclose()
    dead = TrinoEngine("dead", load_config(cluster_config(backend)).clusters["remote"])
    dead.endpoint = "http://127.0.0.1:9"  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(QueryError, match="cannot reach cluster 'dead'"):
        await dead.health_check()
    assert time.monotonic() - started < 5
    await dead.aclose()


def test_trino_client_through_qflux_to_a_trino_cluster(backend, make_proxy):
    with make_proxy(cluster_config(backend)) as front:
        cursor = trino.dbapi.connect(host="127.0.0.1", port=front.port(), user="bob").cursor()
        cursor.execute("SELECT id, name FROM items ORDER BY id")
        assert cursor.fetchall() == [[i, f"n{i}"] for i in range(5)]
        cursor.execute("SELECT approx_distinct(id) FROM items")  # Trino SQL stays Trino SQL
        assert cursor.fetchall() == [[5]]


def test_client_cancel_reaches_the_trino_cluster(backend, make_proxy):
    with make_proxy(cluster_config(backend)) as front:
        cursor = trino.dbapi.connect(host="127.0.0.1", port=front.port(), user="bob").cursor()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                cursor.execute(SLOW + " /* client cancel */")
                cursor.fetchall()
            except Exception as exc:
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        wait_until(lambda: any("client cancel" in r.sql and str(r.status) == "RUNNING"
                               for r in backend_records(backend)))  # fmt: skip
        wait_until(lambda: cursor.query_id is not None)  # the client knows whom to cancel
        cursor.cancel()
        thread.join(10)
        wait_until(
            lambda: any(
                "client cancel" in r.sql and str(r.status) == "CANCELLED"
                for r in backend_records(backend)
            ),
            timeout=2,
        )
        assert errors


def test_postgres_client_through_qflux_to_a_trino_cluster(backend, make_proxy):
    config = cluster_config(backend)
    config["queryflux"] = {"frontends": {"postgresWire": {"enabled": True}}}
    with make_proxy(config) as front:
        dsn = f"host=127.0.0.1 port={front.port('postgresWire')} user=carol dbname=memory"
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT id, name FROM items WHERE id < %s ORDER BY id", (2,))
            assert rows.fetchall() == [(0, "n0"), (1, "n1")]


async def test_a_cluster_that_dies_mid_query_fails_it_and_the_engine_recovers(make_proxy):
    """The coordinator goes away during a query: that query fails with a clear error,
    and once a coordinator answers on the endpoint again, queries work."""

    def backend_config(port: int) -> dict[str, Any]:
        config = duckdb_config()
        config["queryflux"] = {"frontends": {"trinoHttp": {"port": port}},
                               "shutdownGraceSecs": 0}  # fmt: skip
        return config

    first_server = make_proxy(backend_config(0))
    first = await trio.to_thread.run_sync(first_server.__enter__)
    engine = TrinoEngine("remote", load_config(cluster_config(first)).clusters["remote"])
    try:
        async with trio.open_nursery() as nursery:

            async def stop_soon() -> None:
                await trio.sleep(0.5)
                await trio.to_thread.run_sync(first_server.__exit__, None, None, None)

            nursery.start_soon(stop_soon)
            with pytest.raises(QueryError) as failed:
                await fetch(engine, SLOW)
        second_server = make_proxy(backend_config(first.port()))
        await trio.to_thread.run_sync(second_server.__enter__)
        try:
            _, rows = await fetch(engine, "SELECT 7 AS seven")
        finally:
            await trio.to_thread.run_sync(second_server.__exit__, None, None, None)
    finally:
        await engine.aclose()
    message = failed.value.message  # the cluster's goodbye, or the refused reconnect
    goodbyes = ("shutting down", "cancelled (shutdown)", "cannot reach cluster 'remote'")
    assert any(goodbye in message for goodbye in goodbyes), message
    assert rows == [{"seven": 7}]


def test_a_trino_client_gets_the_clusters_pages_as_they_are(backend, make_proxy):
    """Trino client to Trino cluster: columns (type signatures included) and row JSON
    pass through unchanged, without a round trip through Arrow."""
    import requests

    def columns_and_rows(port: int) -> tuple[Any, list[Any]]:
        url = f"http://127.0.0.1:{port}/v1/statement"
        sql = (
            "SELECT id, name, CAST(id AS DECIMAL(20,3)) AS d, ARRAY[id] AS a, "
            "TIMESTAMP '2024-01-02 03:04:05.678' AS ts FROM items ORDER BY id"
        )
        page = requests.post(url, data=sql, headers={"X-Trino-User": "u"}, timeout=10).json()
        columns, rows = None, []
        while True:
            columns = columns or page.get("columns")
            rows += page.get("data") or []
            if "nextUri" not in page:
                return columns, rows
            page = requests.get(page["nextUri"], timeout=10).json()

    with make_proxy(cluster_config(backend)) as front:
        assert columns_and_rows(front.port()) == columns_and_rows(backend.port())


def test_only_a_trino_clients_session_properties_reach_the_cluster(backend):
    engine = engine_for(backend)
    trino_session = session(properties={"join_distribution_type": "BROADCAST"})
    assert engine._headers(trino_session)["X-Trino-Session"] == "join_distribution_type=BROADCAST"
    postgres_session = Session(
        protocol=FrontendProtocol.POSTGRES_WIRE, user="alice", properties={"DateStyle": "ISO"}
    )
    assert "X-Trino-Session" not in engine._headers(postgres_session)


async def test_a_cancel_during_the_submit_still_deletes_the_query(nursery: trio.Nursery) -> None:
    """Cancelled while the POST waits for the coordinator: the POST is let finish, so
    the query's id is known, and the query is deleted rather than left running."""
    import h11

    from .test_http_client import Origin, Seen, ok

    async def coordinator(seen: Seen) -> Any:
        if seen.request.method == b"POST":
            await trio.sleep(0.3)  # a coordinator slow to accept the query
            page = {"id": "q1", "nextUri": f"{origin.url()}/v1/statement/executing/q1/s/1",
                    "stats": {"state": "QUEUED"}}  # fmt: skip
            return ok(json.dumps(page).encode())
        return [h11.Response(status_code=204, headers=[]), h11.EndOfMessage()]

    origin = await Origin(coordinator).start(nursery)
    config = load_config({
        "clusters": {"remote": {"engine": "trino", "endpoint": origin.url()}},
        "clusterGroups": {"g": {"members": ["remote"], "maxRunningQueries": 1}},
        "routingFallback": "g",
    })  # fmt: skip
    engine = TrinoEngine("remote", config.clusters["remote"])
    try:
        with trio.move_on_after(0.05) as scope:
            async with engine.execute("SELECT 1", session()):
                raise AssertionError("the cancel should land before any result")
        assert scope.cancelled_caught
        deletes = [s.request.target for s in origin.seen if s.request.method == b"DELETE"]
        assert deletes == [b"/v1/statement/executing/q1/s/1"]
    finally:
        await engine.aclose()
