"""The StarRocks engine against a real MySQL-protocol server (MariaDB on 127.0.0.1:3306).

StarRocks speaks the MySQL protocol, so the adapter's connection handling, type mapping,
streaming, error mapping and cancellation are exercised against MariaDB. What only
StarRocks sends (no column flags, its DECIMAL lengths) is checked on column definitions.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import mysql.connector
import pyarrow as pa
import pytest
import trino
import trio
from mysql.connector.constants import FieldFlag, FieldType
from sqlglot.schema import MappingSchema

from qflux.config import ClusterAuthConfig, ClusterConfig
from qflux.core import EngineType, ErrorCode, FrontendProtocol, QueryError, Session
from qflux.engines.starrocks import BATCH_ROWS, StarRocksEngine, arrow_column

from .conftest import group_load, record_of, service_unavailable, wait_until

HOST, PORT, DB = "127.0.0.1", 3306, "qflux_engine_test"
ENDPOINT = f"mysql://root@{HOST}:{PORT}/{DB}"
SESSION = Session(FrontendProtocol.TRINO_HTTP)
#: 200,000 rows from a ten-row table, on any MySQL-protocol server (no recursion limits).
ROWS_200K = """
    SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d AS n
    FROM digits a CROSS JOIN digits b CROSS JOIN digits c CROSS JOIN digits e
    CROSS JOIN digits f CROSS JOIN (SELECT d FROM digits WHERE d < 2) g
"""


@pytest.fixture(scope="module")
def admin() -> Iterator[Any]:
    """A direct connection for setup and for watching the server; the test database."""
    try:
        conn = mysql.connector.connect(
            host=HOST, port=PORT, user="root", password="", autocommit=True, connection_timeout=3
        )
    except mysql.connector.Error as e:
        service_unavailable(f"MariaDB/MySQL is not reachable at {HOST}:{PORT}: {e}")
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    cur.execute(f"CREATE DATABASE {DB}")
    cur.execute(f"USE {DB}")
    cur.execute("CREATE TABLE digits (d INT)")
    cur.execute("INSERT INTO digits VALUES " + ",".join(f"({d})" for d in range(10)))
    cur.execute("CREATE TABLE t (n INT, s VARCHAR(10))")
    cur.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    yield conn
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    conn.close()


def server_rows(admin: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    cur = admin.cursor()
    cur.execute(sql, params)
    rows = cur.fetchall()
    cur.close()
    return rows


def running(admin: Any, marker: str) -> list[int]:
    """Ids of server threads running a statement that contains `marker`."""
    rows = server_rows(
        admin,
        "SELECT ID FROM information_schema.PROCESSLIST"
        " WHERE ID <> CONNECTION_ID() AND INFO LIKE %s",
        f"%{marker}%",
    )
    return [row[0] for row in rows]


@pytest.fixture
async def engine(admin: Any) -> AsyncIterator[StarRocksEngine]:
    sr = StarRocksEngine("sr", config(ENDPOINT))
    yield sr
    await sr.aclose()


def config(endpoint: str, **kwargs: Any) -> ClusterConfig:
    return ClusterConfig(engine=EngineType.STARROCKS, endpoint=endpoint, **kwargs)


async def fetch(
    engine: StarRocksEngine, sql: str, session: Session = SESSION
) -> tuple[pa.Schema, list[dict[str, Any]], int | None]:
    async with engine.execute(sql, session) as result:
        batches = [batch async for batch in result]
    table = pa.Table.from_batches(batches, result.schema)
    return result.schema, table.to_pylist(), result.update_count


async def thread(fn: Any, *args: Any) -> Any:
    return await trio.to_thread.run_sync(fn, *args)


# --- types -------------------------------------------------------------------------

TYPES_TABLE = """
    CREATE TABLE types (
        ti TINYINT, uti TINYINT UNSIGNED, si SMALLINT, usi SMALLINT UNSIGNED,
        mi MEDIUMINT, umi MEDIUMINT UNSIGNED, i INT, ui INT UNSIGNED,
        bi BIGINT, ubi BIGINT UNSIGNED,
        d38 DECIMAL(38,10), d5 DECIMAL(5,2), d65 DECIMAL(65,30),
        f FLOAT, db DOUBLE, dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), yr YEAR,
        ch CHAR(3), vc VARCHAR(20), tx TEXT, en ENUM('a','b'),
        bl BLOB, bn BINARY(2), vb VARBINARY(4), js JSON, b8 BIT(8), b1 BIT(1)
    )
"""
EXTREMES = """
    INSERT INTO types VALUES (
        -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
        -9223372036854775808, 18446744073709551615,
        1234567890123456789012345678.0123456789, -999.99,
        12345678901234567890123456789012345.123456789012345678901234567891,
        1.5, 2.25, '2024-02-29', '2024-01-02 03:04:05.678901', '1999-12-31 23:59:59.5',
        '23:59:59.999999', 2024, 'abc', 'héllo', 'long text', 'b',
        X'00FF', X'0102', X'DEAD', '{"k": [1, 2]}', b'10000001', b'1'
    )
"""

EXPECTED_TYPES = {
    "ti": pa.int8(),
    "uti": pa.uint8(),
    "si": pa.int16(),
    "usi": pa.uint16(),
    "mi": pa.int32(),
    "umi": pa.uint32(),
    "i": pa.int32(),
    "ui": pa.uint32(),
    "bi": pa.int64(),
    "ubi": pa.uint64(),
    "d38": pa.decimal128(38, 10),
    "d5": pa.decimal128(5, 2),
    "d65": pa.decimal256(65, 30),
    "f": pa.float32(),
    "db": pa.float64(),
    "dt": pa.date32(),
    "dtm": pa.timestamp("us"),
    "ts": pa.timestamp("us"),
    "tm": pa.time64("us"),
    "yr": pa.int16(),
    "ch": pa.string(),
    "vc": pa.string(),
    "tx": pa.string(),
    "en": pa.string(),
    "bl": pa.binary(),
    "bn": pa.binary(),
    "vb": pa.binary(),
    "js": pa.string(),  # MariaDB's JSON is LONGTEXT on the wire
    "b8": pa.uint64(),
    "b1": pa.bool_(),
}


async def test_types_map_to_arrow_with_extremes_and_nulls(admin, engine):
    cur = admin.cursor()
    cur.execute("DROP TABLE IF EXISTS types")
    cur.execute(TYPES_TABLE)
    cur.execute(EXTREMES)
    cur.execute("INSERT INTO types () VALUES ()")  # every column NULL
    schema, rows, update_count = await fetch(engine, "SELECT * FROM types")
    assert update_count is None and engine.starrocks is False  # MariaDB: MySQL's DECIMAL lengths
    assert {field.name: field.type for field in schema} == EXPECTED_TYPES
    first, nulls = rows
    assert first["ti"] == -128 and first["uti"] == 255
    assert first["si"] == -32768 and first["usi"] == 65535
    assert first["mi"] == -8388608 and first["umi"] == 16777215
    assert first["i"] == -(2**31) and first["ui"] == 2**32 - 1
    assert first["bi"] == -(2**63) and first["ubi"] == 2**64 - 1
    assert first["d38"] == decimal.Decimal("1234567890123456789012345678.0123456789")
    assert first["d5"] == decimal.Decimal("-999.99")
    assert first["d65"] == decimal.Decimal(
        "12345678901234567890123456789012345.123456789012345678901234567891"
    )
    assert first["f"] == 1.5 and first["db"] == 2.25
    assert str(first["dt"]) == "2024-02-29"
    assert str(first["dtm"]) == "2024-01-02 03:04:05.678901"
    assert str(first["ts"]) == "1999-12-31 23:59:59.500000"
    assert str(first["tm"]) == "23:59:59.999999"
    assert first["yr"] == 2024
    assert (first["ch"], first["vc"], first["tx"], first["en"]) == (
        "abc",
        "héllo",
        "long text",
        "b",
    )
    assert (first["bl"], first["bn"], first["vb"]) == (b"\x00\xff", b"\x01\x02", b"\xde\xad")
    assert first["js"] == '{"k": [1, 2]}'
    assert first["b8"] == 0b10000001 and first["b1"] is True
    assert set(nulls.values()) == {None}


async def test_null_only_and_expression_columns(engine):
    schema, rows, _ = await fetch(
        engine,
        "SELECT NULL AS n, CAST(18446744073709551615 AS UNSIGNED) AS u,"
        " CAST(-1.5 AS DECIMAL(38,10)) AS d, X'00' AS b, 'x' AS s",
    )
    assert [field.type for field in schema] == [
        pa.null(),
        pa.uint64(),
        pa.decimal128(38, 10),
        pa.binary(),
        pa.string(),
    ]
    assert rows == [{"n": None, "u": 2**64 - 1, "d": decimal.Decimal("-1.5"), "b": b"\0", "s": "x"}]


async def test_zero_dates_read_as_null(admin, engine):
    cur = admin.cursor()
    cur.execute("SET SESSION sql_mode = ''")
    cur.execute("DROP TABLE IF EXISTS zero")
    cur.execute("CREATE TABLE zero (d DATE, t DATETIME)")
    cur.execute(
        "INSERT INTO zero VALUES ('0000-00-00', '0000-00-00 00:00:00'), ('2024-01-01', NULL)"
    )
    cur.execute("SET SESSION sql_mode = DEFAULT")
    _, rows, _ = await fetch(engine, "SELECT d, t FROM zero ORDER BY d")
    assert [str(row["d"]) for row in rows] == ["None", "2024-01-01"]
    assert rows[0]["t"] is None


@pytest.mark.parametrize("value", ["25:00:00", "-00:00:01"])
async def test_a_time_that_is_no_time_of_day_fails_clearly(engine, value):
    with pytest.raises(QueryError) as caught:
        await fetch(engine, f"SELECT TIME '{value}' AS duration")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert "duration" in caught.value.message and "CAST it to CHAR" in caught.value.message
    _, rows, _ = await fetch(engine, f"SELECT CAST(TIME '{value}' AS CHAR) AS text")
    assert rows == [{"text": value}]


def column(code: int, length: int = 0, decimals: int = 0, flags: int = 0, charset: int = 63):
    """A column definition as the driver describes it (what the server sent)."""
    return ("c", code, None, length, None, decimals, 1, flags, charset)


def test_column_definitions_only_other_servers_send():
    # MySQL's JSON type: a string marked as JSON, as every frontend recognises it.
    field, _ = arrow_column(column(FieldType.JSON, charset=63))
    assert field.type == pa.string() and field.metadata == {b"ARROW:extension:name": b"arrow.json"}
    # StarRocks: DECIMAL(38,10) is sent with length 38 + 1 + 3 and no flags at all.
    field, convert = arrow_column(column(FieldType.NEWDECIMAL, 42, 10), starrocks=True)
    assert field.type == pa.decimal128(38, 10)
    assert convert([b"1.5", None]).to_pylist() == [decimal.Decimal("1.5"), None]
    field, _ = arrow_column(column(FieldType.NEWDECIMAL, 30, 0), starrocks=True)
    assert field.type == pa.decimal128(27, 0)
    # MySQL: DECIMAL(10,2) UNSIGNED has no sign byte.
    field, _ = arrow_column(column(FieldType.NEWDECIMAL, 11, 2, FieldFlag.UNSIGNED))
    assert field.type == pa.decimal128(10, 2)
    # StarRocks' LARGEINT, ARRAY, MAP and JSON arrive as utf8 text.
    field, _ = arrow_column(column(FieldType.STRING, 40, charset=33))
    assert field.type == pa.string()


# --- streaming, DML, errors ---------------------------------------------------------


async def test_200k_rows_stream_in_bounded_batches(admin, engine):
    sizes = []
    total = 0
    async with engine.execute(ROWS_200K, SESSION) as result:
        assert result.schema.field("n").type == pa.int64()
        async for batch in result:
            if not sizes:  # rows are read on demand: the server still holds the rest
                assert not result.exhausted
            sizes.append(batch.num_rows)
            total += sum(batch.column("n").to_pylist())
    assert sum(sizes) == 200_000 and total == sum(range(200_000))
    assert len(sizes) >= 20 and max(sizes) <= BATCH_ROWS


async def test_leaving_a_result_early_stops_the_query_and_frees_the_slot(admin, engine):
    marker = f"early_{uuid.uuid4().hex[:8]}"
    for _ in range(3):  # more than once: the slot came back each time
        async with (
            engine.execute(f"{ROWS_200K} /* {marker} */", SESSION) as result,
            aclosing(result.batches()) as batches,
        ):
            first = await anext(batches)
            assert first.num_rows == BATCH_ROWS
    with trio.fail_after(1):  # the KILL QUERY is on its way from its own connection
        while await thread(running, admin, marker):
            await trio.sleep(0.01)
    _, rows, _ = await fetch(engine, "SELECT COUNT(*) AS c FROM t")
    assert rows == [{"c": 3}]


async def test_dml_and_ddl_report_update_counts(engine):
    schema, rows, count = await fetch(engine, "CREATE TABLE dml (k INT, v INT)")
    assert (len(schema), rows, count) == (0, [], 0)
    _, _, count = await fetch(engine, "INSERT INTO dml VALUES (1, 10), (2, 20), (3, 30)")
    assert count == 3
    _, _, count = await fetch(engine, "UPDATE dml SET v = v + 1 WHERE k >= 2")
    assert count == 2
    _, rows, _ = await fetch(engine, "SELECT SUM(v) AS total FROM dml")
    assert rows == [{"total": decimal.Decimal(62)}]  # committed: autocommit is on
    _, _, count = await fetch(engine, "DELETE FROM dml")
    assert count == 3


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        ("SELEC 1", ErrorCode.SYNTAX_ERROR, "right syntax"),
        ("SELECT * FROM no_such_table", ErrorCode.NOT_FOUND, "no_such_table' doesn't exist"),
        ("SELECT nope FROM t", ErrorCode.NOT_FOUND, "Unknown column 'nope'"),
        ("SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'", ErrorCode.ENGINE_ERROR, "boom"),
    ],
)
async def test_backend_errors_keep_their_message_and_map_to_codes(engine, sql, code, message):
    _, before, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id")
    with pytest.raises(QueryError) as caught:
        await fetch(engine, sql)
    assert caught.value.code is code
    assert message in caught.value.message
    _, after, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id")
    assert after == before  # a statement error leaves the connection pooled


async def test_session_database_is_used_and_does_not_leak(admin):
    engine = StarRocksEngine("nodb", config(f"mysql://root@{HOST}:{PORT}"))
    try:
        in_db = Session(FrontendProtocol.TRINO_HTTP, database="ignored", schema=DB)
        _, rows, _ = await fetch(engine, "SELECT DATABASE() AS db, COUNT(*) AS c FROM t", in_db)
        assert rows == [{"db": DB, "c": 3}]
        pg_style = Session(FrontendProtocol.POSTGRES_WIRE, database=DB)
        _, rows, _ = await fetch(engine, "SELECT DATABASE() AS db", pg_style)
        assert rows == [{"db": DB}]
        _, rows, _ = await fetch(engine, "SELECT DATABASE() AS db")
        assert rows == [{"db": None}]  # the next client does not inherit a USE
        with pytest.raises(QueryError) as caught:
            await fetch(engine, "SELECT 1", Session(FrontendProtocol.TRINO_HTTP, schema="nope"))
        assert caught.value.code is ErrorCode.NOT_FOUND
    finally:
        await engine.aclose()


async def test_pool_size_bounds_the_connections(admin):
    engine = StarRocksEngine("one", config(ENDPOINT, pool_size=1, max_running_queries=4))
    seen: list[int] = []

    async def run() -> None:
        _, rows, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id, SLEEP(0.05) AS s")
        seen.append(rows[0]["id"])

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(run)
    assert len(seen) == 3 and len(set(seen)) == 1  # one connection, taken in turn
    assert time.perf_counter() - started >= 0.15
    await engine.aclose()


async def test_auth_overrides_the_endpoint_user(admin):
    cfg = config(
        f"mysql://nobody:wrong@{HOST}:{PORT}/{DB}",
        auth=ClusterAuthConfig(type="basic", username="root", password=""),
    )
    engine = StarRocksEngine("auth", cfg)
    _, rows, _ = await fetch(engine, "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AS u")
    assert rows == [{"u": "root"}]
    await engine.aclose()


# --- cancellation and broken connections --------------------------------------------


async def test_cancel_kills_the_backend_query_within_a_second(admin, engine):
    marker = f"cancel_{uuid.uuid4().hex[:8]}"
    _, rows, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id")
    pooled_id = rows[0]["id"]
    async with trio.open_nursery() as nursery:
        scope = trio.CancelScope()

        async def run() -> None:
            with scope:
                await fetch(engine, f"SELECT SLEEP(30) AS {marker}")

        nursery.start_soon(run)
        with trio.fail_after(5):
            while not await thread(running, admin, marker):
                await trio.sleep(0.01)
        started = time.perf_counter()
        scope.cancel()
    returned = time.perf_counter() - started
    while await thread(running, admin, marker):
        assert time.perf_counter() - started < 1.0, "SLEEP still running 1 s after cancel"
        await trio.sleep(0.01)
    gone = time.perf_counter() - started
    print(
        f"cancel: execute returned after {returned * 1000:.0f} ms, gone after {gone * 1000:.0f} ms"
    )
    assert engine.active_calls == 0
    # The killed connection was discarded: the next query runs on a new one, and works.
    _, rows, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id")
    assert rows[0]["id"] != pooled_id
    assert not server_rows(
        admin, "SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = %s", pooled_id
    )


async def test_a_connection_killed_mid_query_fails_it_and_the_pool_recovers(admin, engine):
    marker = f"killed_{uuid.uuid4().hex[:8]}"
    failures: list[QueryError] = []

    async def run() -> None:
        try:
            await fetch(engine, f"SELECT SLEEP(30) AS {marker}")
        except QueryError as exc:
            failures.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        with trio.fail_after(5):
            while not (ids := await thread(running, admin, marker)):
                await trio.sleep(0.01)
        await thread(server_rows, admin, f"KILL {ids[0]}")
    [failure] = failures
    assert failure.code is ErrorCode.ENGINE_ERROR and "cluster 'sr'" in failure.message
    _, rows, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id")
    assert rows[0]["id"] != ids[0]


async def test_an_idle_pooled_connection_killed_by_the_server_is_replaced(admin, engine):
    _, rows, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id")
    await thread(server_rows, admin, f"KILL {rows[0]['id']}")
    await trio.sleep(0.6)  # idle long enough to be checked before reuse
    _, again, _ = await fetch(engine, "SELECT CONNECTION_ID() AS id")
    assert again[0]["id"] != rows[0]["id"]


async def test_an_unreachable_cluster_fails_fast_naming_the_cluster():
    engine = StarRocksEngine("down", config("mysql://root@127.0.0.1:1/x"))
    started = time.perf_counter()
    with pytest.raises(QueryError) as caught:
        await fetch(engine, "SELECT 1")
    assert caught.value.code is ErrorCode.ENGINE_ERROR
    assert caught.value.message.startswith("cannot connect to cluster 'down': ")
    with pytest.raises(QueryError, match="cannot connect to cluster 'down'"):
        await engine.health_check()
    assert time.perf_counter() - started < 2.0


# --- health and catalog -------------------------------------------------------------


async def test_health_check_passes_and_fails_with_the_backend_message(engine):
    await engine.health_check()
    await engine.health_check("SELECT COUNT(*) FROM t")
    with pytest.raises(QueryError, match="no_such_table"):
        await engine.health_check("SELECT * FROM no_such_table")


async def test_catalog_lists_user_tables_for_schema_aware_translation(admin, engine):
    catalog = await engine.catalog()
    assert catalog.dialect == "starrocks"
    assert catalog.default_catalog is None and catalog.default_schema == DB
    assert list(catalog.tables) == ["def"]
    schemas = catalog.tables["def"]
    assert not {"information_schema", "mysql", "performance_schema", "sys"} & set(schemas)
    assert dict(schemas[DB]["t"]) == {"n": "int(11)", "s": "varchar(10)"}
    assert {"digits", "t"} <= set(await engine.list_tables(DB))
    schema = MappingSchema(catalog.tables, dialect=catalog.dialect)
    assert schema.column_names(f"{DB}.t") == ["n", "s"]


# --- end to end: a Trino client through the proxy -----------------------------------


def proxy_config() -> dict[str, Any]:
    return {
        "clusters": {"sr": {"engine": "starRocks", "endpoint": ENDPOINT, "maxRunningQueries": 4}},
        "clusterGroups": {"g": {"members": ["sr"], "maxRunningQueries": 4}},
        "routingFallback": "g",
    }


def test_trino_client_reads_translated_queries_through_the_proxy(admin, make_proxy):
    with make_proxy(proxy_config()) as proxy:
        cur = trino.dbapi.connect(host="127.0.0.1", port=proxy.port(), user="tester").cursor()
        # Trino SQL: `||` concatenates and "n" is a column; MySQL would read OR and a string.
        cur.execute('SELECT \'a\' || s AS joined, "n" FROM t ORDER BY "n"')
        assert cur.fetchall() == [["aone", 1], ["atwo", 2], ["athree", 3]]
        record = record_of(proxy, cur.query_id)
        assert record.target_dialect == "starrocks" and "CONCAT" in record.translated_sql
        cur.execute("SELECT CAST(1.5 AS DECIMAL(38,10)), CAST(NULL AS INTEGER), DATE '2024-02-29'")
        assert cur.fetchall() == [[decimal.Decimal("1.5"), None, dt.date(2024, 2, 29)]]
        cur.execute(ROWS_200K)
        assert len(cur.fetchall()) == 200_000


def test_trino_cancel_removes_the_sleep_from_the_processlist(admin, make_proxy):
    marker = f"trino_{uuid.uuid4().hex[:8]}"
    with make_proxy(proxy_config()) as proxy:
        cur = trino.dbapi.connect(host="127.0.0.1", port=proxy.port(), user="tester").cursor()
        failures: list[BaseException] = []

        def execute() -> None:
            try:
                cur.execute(f"SELECT sleep(30) AS {marker}")
                cur.fetchall()
            except BaseException as exc:  # the client reports the cancel as an error
                failures.append(exc)

        runner = threading.Thread(target=execute)
        runner.start()
        wait_until(lambda: running(admin, marker), timeout=10)
        wait_until(lambda: cur._query is not None and cur._query.query_id)
        started = time.perf_counter()
        cur.cancel()
        wait_until(lambda: not running(admin, marker), timeout=2.0, interval=0.01)
        print(f"trino cancel: SLEEP gone after {(time.perf_counter() - started) * 1000:.0f} ms")
        runner.join(5)
        assert not runner.is_alive() and failures
        record = wait_until(
            lambda: (r := record_of(proxy, cur._query.query_id)).status == "CANCELLED" and r
        )
        assert record.cancel_reason == "client_cancel"
        assert group_load(proxy) == (0, 0)
        engine = proxy.server.clusters["sr"].engine
        assert proxy.call(lambda: engine.active_calls) == 0
        again = trino.dbapi.connect(host="127.0.0.1", port=proxy.port(), user="tester").cursor()
        again.execute("SELECT COUNT(*) FROM t")
        assert again.fetchall() == [[3]]
