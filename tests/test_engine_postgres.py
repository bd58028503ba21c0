"""The PostgreSQL engine against a real server: types, streaming, errors, cancellation,
a backend killed mid-query, health checks, catalog discovery, and the whole proxy.

Each engine here connects with its own application_name, so pg_stat_activity shows
exactly its backends even when other suites use the same server.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pytest
import trino
import trio

from qflux.config import ClusterAuthConfig, ClusterConfig
from qflux.core import EngineType, ErrorCode, FrontendProtocol, QueryError, Session
from qflux.engines.postgres import BATCH_ROWS, PostgresEngine, connection_kwargs, parse_interval
from qflux.engines.registry import create_engine

from .conftest import record_of, service_unavailable, wait_until

POSTGRES_URL = os.environ.get(
    "QFLUX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
#: Unique per run, so concurrent runs against one server do not collide.
SCHEMA = f"qflux_engine_test_{uuid.uuid4().hex[:8]}"
SESSION = Session(FrontendProtocol.TRINO_HTTP, user="tester")
#: How soon a cancelled query must be gone from the server.
CANCEL_BOUND_SECS = 1.0


def endpoint(application_name: str | None = None) -> str:
    if application_name is None:
        return POSTGRES_URL
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}application_name={application_name}"


def make_engine(name: str = "pg", **config: Any) -> PostgresEngine:
    config.setdefault("endpoint", endpoint(new_app()))
    return PostgresEngine(name, ClusterConfig(engine=EngineType.POSTGRES, **config))


@pytest.fixture(scope="module")
def admin() -> Iterator[psycopg.Connection[Any]]:
    """A direct connection that owns the test schema and watches pg_stat_activity."""
    try:
        conn = psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        service_unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL!r}: {exc}")
    with conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"CREATE TYPE {SCHEMA}.mood AS ENUM ('sad', 'happy')")
        conn.execute(
            f"""CREATE TABLE {SCHEMA}.items (
                id integer PRIMARY KEY, name varchar(20), price numeric(10,2), tags text[])"""
        )
        conn.execute(
            f"""INSERT INTO {SCHEMA}.items VALUES
                (1, 'apple', 1.25, '{{red,green}}'), (2, 'pear', 0.50, NULL)"""
        )
        conn.execute(f"CREATE VIEW {SCHEMA}.cheap AS SELECT id, name FROM {SCHEMA}.items")
        try:
            yield conn
        finally:
            conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def new_app() -> str:
    """A fresh application_name: pg_stat_activity then shows exactly one engine's
    backends, whatever else (an earlier test's closing pool ...) uses the server."""
    return f"qflux-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def app() -> str:
    return new_app()


@pytest.fixture
async def engine(admin: psycopg.Connection[Any], app: str) -> AsyncIterator[PostgresEngine]:
    pg = make_engine(endpoint=endpoint(app))
    try:
        yield pg
    finally:
        await pg.aclose()


async def rows_of(
    engine: PostgresEngine, sql: str, session: Session = SESSION
) -> tuple[pa.Schema, list[dict[str, Any]]]:
    async with engine.execute(sql, session) as result:
        batches = [batch async for batch in result]
    return result.schema, [row for batch in batches for row in batch.to_pylist()]


def backends(admin: psycopg.Connection[Any], app: str) -> list[tuple[int, str, str]]:
    """(pid, state, query) of the engine's server processes."""
    return admin.execute(
        "SELECT pid, state, query FROM pg_stat_activity WHERE application_name = %s", [app]
    ).fetchall()


def running(admin: psycopg.Connection[Any], app: str) -> list[tuple[int, str, str]]:
    return [b for b in backends(admin, app) if b[1] == "active"]


async def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    """Poll a blocking predicate from a thread (the Trio loop keeps running meanwhile)."""
    with trio.fail_after(timeout):
        while not (value := await trio.to_thread.run_sync(predicate)):
            await trio.sleep(0.01)
    return value


# -- types ------------------------------------------------------------------------------

TYPES_TABLE = f"""
    CREATE TABLE {SCHEMA}.types (
        id int4, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric(10,2),
        nu numeric, n50 numeric(50,5), t text, vc varchar(5), bc char(4), nm name, by bytea,
        d date, tm time, ts timestamp, tz timestamptz, iv interval, u uuid, j json, jb jsonb,
        ai int4[], an numeric(4,1)[], at text[], aiv interval[], ajb jsonb[], inet inet,
        range int4range, mood {SCHEMA}.mood, timetz timetz, ch "char", o oid);
    INSERT INTO {SCHEMA}.types VALUES
        (1, true, 1, 2, 3, 1.5, 2.25, 12.34, 1/3::numeric,
         123456789012345678901234567890.12345, 'text', 'vc', 'ab', 'nm', '\\x00ff',
         '2024-02-29', '23:59:59.999999', '2024-01-02 03:04:05.678901',
         '2024-01-02 03:04:05+02', '1 year 2 mons -3 days -04:05:06.000007',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{"a": [1, 2]}}', '{{"b": null}}',
         '{{1,NULL,3}}', '{{{{1.5,2}},{{3,4}}}}', '{{x,NULL}}', '{{"1 mon",NULL}}', '{{"[]"}}',
         '10.0.0.0/8', '[1,5)', 'happy', '12:00+02', 'c', 4000000000);
    INSERT INTO {SCHEMA}.types (id) VALUES (2)
"""

EXPECTED_TYPES = {
    "id": pa.int32(),
    "b": pa.bool_(),
    "i2": pa.int16(),
    "i4": pa.int32(),
    "i8": pa.int64(),
    "f4": pa.float32(),
    "f8": pa.float64(),
    "n": pa.decimal128(10, 2),
    "nu": pa.decimal128(38, 10),
    "n50": pa.decimal256(50, 5),
    "t": pa.string(),
    "vc": pa.string(),
    "bc": pa.string(),
    "nm": pa.string(),
    "by": pa.binary(),
    "d": pa.date32(),
    "tm": pa.time64("us"),
    "ts": pa.timestamp("us"),
    "tz": pa.timestamp("us", tz="UTC"),
    "iv": pa.month_day_nano_interval(),
    "u": pa.uuid(),
    "j": pa.json_(),
    "jb": pa.json_(),
    "ai": pa.list_(pa.int32()),
    "an": pa.list_(pa.list_(pa.decimal128(4, 1))),
    "at": pa.list_(pa.string()),
    "aiv": pa.list_(pa.month_day_nano_interval()),
    "ajb": pa.list_(pa.json_()),
    "inet": pa.string(),
    "range": pa.string(),
    "mood": pa.string(),
    "timetz": pa.string(),
    "ch": pa.string(),
    "o": pa.int64(),
}


async def test_types_round_trip_with_nulls(
    engine: PostgresEngine, admin: psycopg.Connection[Any]
) -> None:
    admin.execute(TYPES_TABLE)
    schema, (row, nulls) = await rows_of(engine, f"SELECT * FROM {SCHEMA}.types ORDER BY id")
    assert {f.name: f.type for f in schema} == EXPECTED_TYPES
    micros = -(4 * 3600 + 5 * 60 + 6) * 1_000_000 - 7
    assert row == {
        "id": 1,
        "b": True,
        "i2": 1,
        "i4": 2,
        "i8": 3,
        "f4": 1.5,
        "f8": 2.25,
        "n": Decimal("12.34"),
        "nu": Decimal("0.3333333333"),
        "n50": Decimal("123456789012345678901234567890.12345"),
        "t": "text",
        "vc": "vc",
        "bc": "ab  ",
        "nm": "nm",
        "by": b"\x00\xff",
        "d": dt.date(2024, 2, 29),
        "tm": dt.time(23, 59, 59, 999999),
        "ts": dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
        "tz": dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
        "iv": pa.MonthDayNano([14, -3, micros * 1000]),
        "u": uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        "j": '{"a": [1, 2]}',
        "jb": '{"b": null}',
        "ai": [1, None, 3],
        "an": [[Decimal("1.5"), Decimal("2.0")], [Decimal("3.0"), Decimal("4.0")]],
        "at": ["x", None],
        "aiv": [pa.MonthDayNano([1, 0, 0]), None],
        "ajb": ["[]"],
        "inet": "10.0.0.0/8",
        "range": "[1,5)",
        "mood": "happy",
        "timetz": "12:00:00+02",
        "ch": "c",
        "o": 4_000_000_000,
    }
    assert set(nulls.values()) == {None, 2}
    # The PostgreSQL types the frontends cannot tell from Arrow alone travel as metadata.
    assert schema.field("vc").metadata == {b"qflux.pg_type": b"varchar"}
    assert schema.field("jb").metadata == {b"qflux.pg_type": b"jsonb"}
    assert schema.field("ch").metadata == {b"qflux.pg_type": b"char"}
    assert schema.field("j").metadata is None


@pytest.mark.parametrize(
    "text",
    [
        "1 year 2 mons 3 days 04:05:06.5",
        "-1 years -2 mons +3 days -04:05:06.000001",
        "00:00:00",
        "1 day",
        "-2 mons",
        "1000:00:00",
        "-178000000 years",
    ],
)
async def test_intervals_are_exact(engine: PostgresEngine, text: str) -> None:
    """Months, days and microseconds each kept, as PostgreSQL itself splits them."""
    sql = f"""SELECT '{text}'::interval AS iv,
                  (extract(year FROM '{text}'::interval) * 12
                   + extract(month FROM '{text}'::interval))::int8 AS months,
                  extract(day FROM '{text}'::interval)::int8 AS days,
                  (extract(epoch FROM '{text}'::interval)
                   - extract(epoch FROM date_trunc('day', '{text}'::interval)))
                   * 1000000 AS micros"""
    _, [row] = await rows_of(engine, sql)
    assert tuple(row["iv"]) == (row["months"], row["days"], int(row["micros"]) * 1000)


def test_interval_parser_refuses_other_styles() -> None:
    assert parse_interval("2 days -01:00:00") == (0, 2, -3_600_000_000_000)
    for text in ("", "P1Y", "@ 1 year", "1 fortnight"):
        with pytest.raises(psycopg.DataError):
            parse_interval(text)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'NaN'::numeric AS v",
        "SELECT 1e30::numeric AS v",  # 31 integer digits: more than decimal(38,10) holds
        "SELECT 'infinity'::timestamp AS v",
    ],
)
async def test_values_arrow_cannot_hold_fail_clearly(engine: PostgresEngine, sql: str) -> None:
    with pytest.raises(QueryError) as caught:
        await rows_of(engine, sql)
    assert caught.value.code == ErrorCode.INVALID_ARGUMENT
    assert await rows_of(engine, "SELECT 1 AS ok") == (pa.schema([("ok", pa.int32())]), [{"ok": 1}])


# -- streaming and statements -------------------------------------------------------------


async def test_large_result_streams_batch_by_batch(
    engine: PostgresEngine, admin: psycopg.Connection[Any], app: str
) -> None:
    sql = "SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 200000) AS g"
    count = total = batches = 0
    async with engine.execute(sql, SESSION) as result:
        async for batch in result:
            if batches == 0:
                # Read on demand: the server is still sending, held back by the socket.
                [(_, state, query)] = await trio.to_thread.run_sync(backends, admin, app)
                assert state == "active"
                assert query == sql
            batches += 1
            assert batch.num_rows <= BATCH_ROWS
            count += batch.num_rows
            total += sum(batch.column("n").to_pylist())
    assert (count, total) == (200_000, 200_000 * 200_001 // 2)
    assert batches >= 200_000 // BATCH_ROWS
    # Finished cleanly: back in the pool, not left in a transaction.
    [(_, state, _)] = await trio.to_thread.run_sync(backends, admin, app)
    assert state == "idle"


async def test_dml_and_ddl_report_counts(engine: PostgresEngine) -> None:
    table = f"{SCHEMA}.counted"

    async def run(sql: str) -> tuple[int | None, list[dict[str, Any]]]:
        async with engine.execute(sql, SESSION) as result:
            rows = [row async for batch in result for row in batch.to_pylist()]
            assert len(result.schema) == (len(rows[0]) if rows else 0)
        return result.update_count, rows

    assert await run(f"CREATE TABLE {table} (id int, v text)") == (None, [])
    assert await run(f"INSERT INTO {table} SELECT g, 'x' FROM generate_series(1, 5) g") == (5, [])
    assert await run(f"UPDATE {table} SET v = 'y' WHERE id > 2") == (3, [])
    # Data-modifying WITH cannot be a cursor: it runs as a plain statement.
    assert await run(
        f"WITH gone AS (DELETE FROM {table} WHERE id = 1 RETURNING id) SELECT count(*) AS n"
        " FROM gone"
    ) == (None, [{"n": 1}])
    _, returned = await run(f"INSERT INTO {table} VALUES (9, 'z') RETURNING id, v")
    assert returned == [{"id": 9, "v": "z"}]
    assert await run(f"DELETE FROM {table}") == (5, [])
    assert await run(f"DROP TABLE {table}") == (None, [])


async def test_session_schema_sets_search_path_for_that_query_only(
    engine: PostgresEngine, app: str
) -> None:
    in_schema = Session(FrontendProtocol.TRINO_HTTP, schema=SCHEMA)
    _, rows = await rows_of(engine, "SELECT name FROM items ORDER BY id", in_schema)
    assert rows == [{"name": "apple"}, {"name": "pear"}]
    # The pooled connection is reset before the next query uses it.
    with pytest.raises(QueryError) as caught:
        await rows_of(engine, "SELECT name FROM items")
    assert caught.value.code == ErrorCode.NOT_FOUND
    _, [row] = await rows_of(engine, "SELECT current_setting('application_name') AS app")
    assert row == {"app": app}


async def test_default_application_name_is_qflux(admin: psycopg.Connection[Any]) -> None:
    pg = make_engine(endpoint=endpoint(application_name=None))
    try:
        _, [row] = await rows_of(pg, "SELECT current_setting('application_name') AS app")
    finally:
        await pg.aclose()
    assert row == {"app": "qflux"}


@pytest.mark.parametrize(
    ("sql", "code", "fragment"),
    [
        ("SELEC 1", ErrorCode.SYNTAX_ERROR, 'syntax error at or near "SELEC"'),
        ("SELECT * FROM no_such_table", ErrorCode.NOT_FOUND, "does not exist"),
        (f"SELECT nope FROM {SCHEMA}.items", ErrorCode.NOT_FOUND, 'column "nope"'),
        ("SELECT no_such_fn(1)", ErrorCode.NOT_FOUND, "function no_such_fn"),
        ("SELECT 1 / 0", ErrorCode.INVALID_ARGUMENT, "division by zero"),
        ("SELECT 'x'::int", ErrorCode.INVALID_ARGUMENT, "invalid input syntax"),
        (f"INSERT INTO {SCHEMA}.items VALUES (1)", ErrorCode.SEMANTIC_ERROR, "duplicate key"),
        (
            "SET statement_timeout = 50; SELECT pg_sleep(5)",
            ErrorCode.CANCELLED,
            "statement timeout",
        ),
        ("DO $$ BEGIN RAISE EXCEPTION 'boom'; END $$", ErrorCode.ENGINE_ERROR, "boom"),
    ],
)
async def test_backend_errors_map_by_sqlstate(
    engine: PostgresEngine, sql: str, code: ErrorCode, fragment: str
) -> None:
    with pytest.raises(QueryError) as caught:
        await rows_of(engine, sql)
    assert caught.value.code == code
    assert fragment in caught.value.message
    # Rolled back (and reset): the next query runs normally.
    assert (await rows_of(engine, "SELECT 2 AS two"))[1] == [{"two": 2}]


# -- cancellation and broken connections ----------------------------------------------------


async def test_cancel_stops_the_backend_query_within_a_second(
    engine: PostgresEngine, admin: psycopg.Connection[Any], app: str
) -> None:
    async with trio.open_nursery() as nursery:
        scope = trio.CancelScope()

        async def run() -> None:
            with scope:
                async with engine.execute("SELECT pg_sleep(30)", SESSION) as result:
                    async for _ in result:
                        pass

        nursery.start_soon(run)
        [(pid, _, _)] = await wait_for(lambda: running(admin, app))
        assert engine.active_calls == 1
        started = time.perf_counter()
        scope.cancel()
        # Stopped, and its connection closed rather than pooled (the pool may open a
        # fresh one in its place).
        await wait_for(
            lambda: pid not in [b[0] for b in backends(admin, app)], timeout=CANCEL_BOUND_SECS
        )
        print(f"cancel to backend gone: {(time.perf_counter() - started) * 1000:.1f} ms")
    assert scope.cancelled_caught and engine.active_calls == 0
    assert (await rows_of(engine, "SELECT 3 AS three"))[1] == [{"three": 3}]


async def test_cancel_between_batches_stops_the_rest_and_keeps_the_connection(
    engine: PostgresEngine, admin: psycopg.Connection[Any], app: str
) -> None:
    """Between batches the server is held back by the socket: the rest of the result
    is cancelled and drained, which leaves a clean connection to reuse."""
    sql = "SELECT g, md5(g::text) AS h FROM generate_series(1, 3000000) g"
    with trio.CancelScope() as scope:
        async with engine.execute(sql, SESSION) as r:
            async for _ in r:
                [(pid, state, _)] = await trio.to_thread.run_sync(backends, admin, app)
                assert state == "active"  # still sending: far more than the socket holds
                scope.cancel()
                await trio.sleep(0)
    assert scope.cancelled_caught and engine.active_calls == 0
    # Back in the pool, idle (a plain query leaves no session state), and reused.
    await wait_for(lambda: backends(admin, app) == [(pid, "idle", sql)], timeout=2)
    _, [row] = await rows_of(engine, "SELECT pg_backend_pid() AS pid")
    assert row == {"pid": pid}


async def test_cancel_while_waiting_for_a_connection(admin: psycopg.Connection[Any]) -> None:
    small = make_engine(pool_size=1)  # a pool of two: both taken by the open results below
    long_sql = "SELECT g FROM generate_series(1, 50000) g"
    try:
        async with small.execute(long_sql, SESSION), small.execute(long_sql, SESSION):
            started = time.perf_counter()
            with trio.move_on_after(0.3) as waited:
                async with small.execute("SELECT 1", SESSION):
                    raise AssertionError("the pool had no connection to give")
            # The waiting worker noticed the cancel (not left to CANCEL_GRACE_SECS) and
            # will not run the query later.
            assert waited.cancelled_caught and time.perf_counter() - started < 1.0
            assert small.active_calls == 0
        assert (await rows_of(small, "SELECT 5 AS five"))[1] == [{"five": 5}]
    finally:
        await small.aclose()


async def test_backend_killed_mid_query_fails_cleanly_and_pool_recovers(
    engine: PostgresEngine, admin: psycopg.Connection[Any], app: str
) -> None:
    async def kill_when_running() -> None:
        [(pid, _, _)] = await wait_for(lambda: running(admin, app))
        await trio.to_thread.run_sync(
            lambda: admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        )

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(kill_when_running)
            with pytest.raises(QueryError) as caught:
                await rows_of(engine, "SELECT pg_sleep(30)")
    error = caught.value
    assert error.code == ErrorCode.ENGINE_ERROR
    assert "cluster 'pg'" in error.message and "terminating connection" in error.message
    assert (await rows_of(engine, "SELECT 6 AS six"))[1] == [{"six": 6}]


async def test_idle_pooled_connections_killed_are_replaced(
    engine: PostgresEngine, admin: psycopg.Connection[Any], app: str
) -> None:
    await rows_of(engine, "SELECT 1")
    [(pid, _, _)] = await wait_for(lambda: backends(admin, app))
    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    await wait_for(lambda: pid not in [b[0] for b in backends(admin, app)])  # gone while idle
    # A connection its server ended is noticed before use and replaced.
    assert (await rows_of(engine, "SELECT 7 AS seven"))[1] == [{"seven": 7}]
    assert pid not in [b[0] for b in backends(admin, app)]


# -- health and catalog --------------------------------------------------------------------


async def test_health_check_passes_and_fails_with_the_reason(engine: PostgresEngine) -> None:
    await engine.health_check()
    await engine.health_check("SELECT count(*) FROM pg_class")
    with pytest.raises(QueryError, match="division by zero"):
        await engine.health_check("SELECT 1 / 0")


async def test_health_check_of_unreachable_server_fails_fast() -> None:
    down = make_engine("down", endpoint="postgresql://postgres@127.0.0.1:1/postgres")
    try:
        with trio.fail_after(3), pytest.raises(QueryError) as caught:
            await down.health_check()
        assert caught.value.code == ErrorCode.ENGINE_ERROR
        assert caught.value.message.startswith("cannot connect to cluster 'down': ")
        assert "refused" in caught.value.message
        with trio.fail_after(3), pytest.raises(QueryError, match="cannot connect to cluster"):
            await rows_of(down, "SELECT 1")
    finally:
        await down.aclose()


async def test_catalog_lists_tables_views_and_types(engine: PostgresEngine) -> None:
    catalog = await engine.catalog()
    assert (catalog.dialect, catalog.default_catalog, catalog.default_schema) == (
        "postgres",
        "postgres",
        "public",
    )
    schemas = catalog.tables["postgres"]
    assert schemas[SCHEMA]["items"] == {
        "id": "integer",
        "name": "character varying(20)",
        "price": "numeric(10,2)",
        "tags": "text[]",
    }
    assert schemas[SCHEMA]["cheap"] == {"id": "integer", "name": "character varying(20)"}
    assert not {"pg_catalog", "information_schema"} & set(schemas)
    assert await engine.describe_table(SCHEMA, "cheap") == [
        ("id", "integer"),
        ("name", "character varying(20)"),
    ]


# -- configuration ------------------------------------------------------------------------


def test_config_overrides_the_endpoint() -> None:
    config = ClusterConfig(
        engine=EngineType.POSTGRES,
        endpoint="postgresql://url_user:url_pw@db.example:6543/sales?options=-c%20work_mem%3D64MB",
        auth=ClusterAuthConfig(type="basic", username="svc", password="s3cret"),
        database="analytics",
    )
    kwargs = connection_kwargs("pg", config)
    assert (kwargs["user"], kwargs["password"], kwargs["dbname"]) == ("svc", "s3cret", "analytics")
    assert (kwargs["host"], kwargs["port"]) == ("db.example", "6543")
    assert kwargs["application_name"] == "qflux"
    # The endpoint's options stay; the output styles the loaders read come last, so win.
    assert kwargs["options"] == "-c work_mem=64MB -c DateStyle=ISO -c IntervalStyle=postgres"
    with pytest.raises(ValueError, match=r"clusters\.pg\.endpoint"):
        connection_kwargs("pg", ClusterConfig(engine=EngineType.POSTGRES, endpoint="db:5432"))


def test_registry_builds_the_engine_with_pool_size_defaults() -> None:
    engine = create_engine(
        "pg",
        ClusterConfig(engine=EngineType.POSTGRES, endpoint=POSTGRES_URL, max_running_queries=3),
    )
    assert isinstance(engine, PostgresEngine) and engine.pool_size == 3
    assert make_engine(pool_size=5, max_running_queries=3).pool_size == 5
    assert make_engine().pool_size == 8


# -- through the proxy ----------------------------------------------------------------------


def proxy_config(app: str) -> dict[str, Any]:
    return {
        "clusters": {
            "pg": {"engine": "postgres", "endpoint": endpoint(app), "maxRunningQueries": 4}
        },
        "clusterGroups": {"g": {"members": ["pg"], "maxRunningQueries": 4}},
        "routingFallback": "g",
    }


def trino_cursor(proxy: Any) -> Any:
    return trino.dbapi.connect(host="127.0.0.1", port=proxy.port(), user="tester").cursor()


def test_trino_client_reads_postgres_rows_in_trino_sql(
    make_proxy: Any, admin: psycopg.Connection[Any]
) -> None:
    with make_proxy(proxy_config(new_app())) as proxy:
        cur = trino_cursor(proxy)
        cur.execute(f"SELECT id, name, price, tags FROM {SCHEMA}.items ORDER BY id")
        assert cur.fetchall() == [
            [1, "apple", Decimal("1.25"), ["red", "green"]],
            [2, "pear", Decimal("0.50"), None],
        ]
        assert [d[1] for d in cur.description] == [
            "integer",
            "varchar",
            "decimal(10,2)",
            "array(varchar)",
        ]
        # Trino-only functions: they only work if translated to PostgreSQL.
        cur.execute(
            "SELECT if(1 < 2, 'yes', 'no') AS answer,"
            " date_diff('day', DATE '2024-01-01', DATE '2024-03-01') AS days"
        )
        assert cur.fetchall() == [["yes", 60]]
        record = record_of(proxy, cur.query_id)
        assert (record.translated, record.target_dialect) == (True, "postgres")
        assert "CASE WHEN" in record.translated_sql


def test_trino_cancel_stops_the_postgres_query(
    make_proxy: Any, admin: psycopg.Connection[Any]
) -> None:
    app = new_app()
    with make_proxy(proxy_config(app)) as proxy:
        cur = trino_cursor(proxy)
        failures: list[BaseException] = []

        def execute() -> None:
            try:
                cur.execute("SELECT pg_sleep(30)")
                cur.fetchall()
            except BaseException as exc:  # the client reports its own cancel as an error
                failures.append(exc)

        runner = threading.Thread(target=execute)
        runner.start()
        # The client can cancel once the submit answered (it knows the query's URI).
        wait_until(lambda: cur._query is not None and cur._query.query_id)
        wait_until(lambda: running(admin, app))
        started = time.perf_counter()
        cur.cancel()
        wait_until(lambda: not running(admin, app), timeout=CANCEL_BOUND_SECS)
        print(f"trino cancel to backend stopped: {(time.perf_counter() - started) * 1000:.1f} ms")
        runner.join(5)
        assert not runner.is_alive() and failures
        record = wait_until(lambda: (r := record_of(proxy, cur.query_id)).status != "RUNNING" and r)
        assert (record.status, record.cancel_reason) == ("CANCELLED", "client_cancel")
        again = trino_cursor(proxy)
        again.execute("SELECT 1")
        assert again.fetchall() == [[1]]


def test_dml_counts_reach_trino_and_postgres_clients(
    make_proxy: Any, admin: psycopg.Connection[Any]
) -> None:
    config = proxy_config(new_app())
    config["queryflux"] = {"frontends": {"postgresWire": {"enabled": True}}}
    admin.execute(f"CREATE TABLE {SCHEMA}.counted (id integer)")
    try:
        with make_proxy(config) as proxy:
            cur = trino_cursor(proxy)
            cur.execute(f"INSERT INTO {SCHEMA}.counted VALUES (1), (2)")
            cur.fetchall()
            assert cur.rowcount == 2
            dsn = f"host=127.0.0.1 port={proxy.port('postgresWire')} user=t dbname=postgres"
            with psycopg.connect(dsn, autocommit=True) as conn:
                deleted = conn.execute(f"DELETE FROM {SCHEMA}.counted WHERE id > 0")
                assert (deleted.statusmessage, deleted.rowcount) == ("DELETE 2", 2)
    finally:
        admin.execute(f"DROP TABLE {SCHEMA}.counted")
