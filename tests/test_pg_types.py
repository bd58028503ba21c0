"""Arrow <-> PostgreSQL wire types, checked with real decoders and a real server.

Results come from DuckDB (with `arrow_lossless_conversion`, as qflux's DuckDB engine
runs it). The encoder's text and binary values are loaded with psycopg's own loaders
and must equal DuckDB's `fetchall()` values, except where noted at each test. Where
a PostgreSQL server is reachable, the same values computed by PostgreSQL itself are
compared byte for byte with the encoder's output, RowDescription included.

Parameters are dumped by psycopg's dumpers (text and binary), turned into SQL
literals by `decode_parameter`, and selected back through DuckDB.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import struct
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import Format
from psycopg.types.json import Json, Jsonb
from psycopg.types.numeric import Float4, Int2, Int4, Int8
from sqlglot import exp

from qflux.frontends import pg_types
from qflux.frontends.pg_types import (
    BINARY,
    PG_TYPE_KEY,
    TEXT,
    FieldInfo,
    Oid,
    PgEncoder,
    decode_parameter,
)

from .conftest import service_unavailable

POSTGRES_DSN = os.environ.get(
    "QFLUX_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
UTC = dt.UTC


def duck(sql: str, timezone: str = "UTC") -> tuple[pa.RecordBatch, list[tuple[Any, ...]]]:
    """The query's result as one Arrow batch, and as DuckDB's Python API returns it."""
    con = duckdb.connect(config={"arrow_lossless_conversion": True})
    con.execute(f"SET TimeZone = '{timezone}'")
    table = con.sql(sql).to_arrow_table().combine_chunks()
    batches = table.to_batches()
    batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
    return batch, con.execute(sql).fetchall()


def load(encoder: PgEncoder, batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    """Decode the encoder's rows with psycopg's loaders for the announced oids."""
    rows = list(encoder.encode_rows(batch))
    formats = {f.format for f in encoder.fields}
    assert len(formats) <= 1, "load() expects one format for every column"
    tx = Transformer()
    tx.set_loader_types(
        [f.type_oid for f in encoder.fields],
        Format.BINARY if formats == {BINARY} else Format.TEXT,
    )
    return [tx.load_sequence(row) for row in rows]


def roundtrip(sql: str, fmt: int, **kw: Any) -> tuple[list[Any], list[Any], PgEncoder]:
    batch, expected = duck(sql)
    encoder = PgEncoder(batch.schema, fmt, **kw)
    return load(encoder, batch), expected, encoder


def parse_data_rows(payload: bytes) -> list[list[bytes | None]]:
    """DataRow messages back into values (what a client's protocol layer does)."""
    rows = []
    view = memoryview(payload)
    while view:
        assert view[0:1] == b"D"
        (length,) = struct.unpack_from(">i", view, 1)
        (count,) = struct.unpack_from(">h", view, 5)
        position = 7
        row: list[bytes | None] = []
        for _ in range(count):
            (size,) = struct.unpack_from(">i", view, position)
            position += 4
            if size == -1:
                row.append(None)
            else:
                row.append(bytes(view[position : position + size]))
                position += size
        assert position == length + 1
        rows.append(row)
        view = view[position:]
    return rows


# --- results: RowDescription ------------------------------------------------------

FIELD_CASES = [
    ("true", Oid.BOOL, 1, -1),
    ("1::TINYINT", Oid.INT2, 2, -1),
    ("1::SMALLINT", Oid.INT2, 2, -1),
    ("1::INTEGER", Oid.INT4, 4, -1),
    ("1::BIGINT", Oid.INT8, 8, -1),
    ("1::UTINYINT", Oid.INT2, 2, -1),
    ("1::USMALLINT", Oid.INT4, 4, -1),
    ("1::UINTEGER", Oid.INT8, 8, -1),
    ("1::UBIGINT", Oid.NUMERIC, -1, (20 << 16) + 4),
    ("1::HUGEINT", Oid.NUMERIC, -1, (39 << 16) + 4),
    ("1::UHUGEINT", Oid.NUMERIC, -1, (39 << 16) + 4),
    ("1::FLOAT", Oid.FLOAT4, 4, -1),
    ("1::DOUBLE", Oid.FLOAT8, 8, -1),
    ("1::DECIMAL(5,2)", Oid.NUMERIC, -1, ((5 << 16) | 2) + 4),
    ("1::DECIMAL(38,10)", Oid.NUMERIC, -1, ((38 << 16) | 10) + 4),
    ("'x'", Oid.TEXT, -1, -1),
    ("'x'::BLOB", Oid.BYTEA, -1, -1),
    ("DATE '2024-01-02'", Oid.DATE, 4, -1),
    ("TIME '01:02:03'", Oid.TIME, 8, -1),
    ("TIMETZ '01:02:03+05'", Oid.TIMETZ, 12, -1),
    ("TIMESTAMP '2024-01-02 03:04:05'", Oid.TIMESTAMP, 8, -1),
    ("TIMESTAMP_NS '2024-01-02 03:04:05'", Oid.TIMESTAMP, 8, -1),
    ("TIMESTAMPTZ '2024-01-02 03:04:05+00'", Oid.TIMESTAMPTZ, 8, -1),
    ("INTERVAL '1 day'", Oid.INTERVAL, 16, -1),
    ("gen_random_uuid()", Oid.UUID, 16, -1),
    ("'{}'::JSON", Oid.JSON, -1, -1),
    ("NULL", Oid.TEXT, -1, -1),
    ("'a'::ENUM('a', 'b')", Oid.TEXT, -1, -1),
    ("{'a': 1}", Oid.JSON, -1, -1),
    ("MAP {'a': 1}", Oid.JSON, -1, -1),
    ("[true]", Oid.BOOL_ARRAY, -1, -1),
    ("[1::SMALLINT]", Oid.INT2_ARRAY, -1, -1),
    ("[1]", Oid.INT4_ARRAY, -1, -1),
    ("[[1]]", Oid.INT4_ARRAY, -1, -1),
    ("[1::BIGINT]", Oid.INT8_ARRAY, -1, -1),
    ("[1::FLOAT]", Oid.FLOAT4_ARRAY, -1, -1),
    ("[1::DOUBLE]", Oid.FLOAT8_ARRAY, -1, -1),
    ("[1::DECIMAL(10,3)]", Oid.NUMERIC_ARRAY, -1, ((10 << 16) | 3) + 4),
    ("['x']", Oid.TEXT_ARRAY, -1, -1),
    ("['x'::BLOB]", Oid.BYTEA_ARRAY, -1, -1),
    ("[DATE '2024-01-02']", Oid.DATE_ARRAY, -1, -1),
    ("[TIME '01:02:03']", Oid.TIME_ARRAY, -1, -1),
    ("[TIMETZ '01:02:03+05']", Oid.TIMETZ_ARRAY, -1, -1),
    ("[TIMESTAMP '2024-01-02']", Oid.TIMESTAMP_ARRAY, -1, -1),
    ("[TIMESTAMPTZ '2024-01-02 00:00:00+00']", Oid.TIMESTAMPTZ_ARRAY, -1, -1),
    ("[INTERVAL '1 day']", Oid.INTERVAL_ARRAY, -1, -1),
    ("[gen_random_uuid()]", Oid.UUID_ARRAY, -1, -1),
    ("['{}'::JSON]", Oid.JSON_ARRAY, -1, -1),
    ("[{'a': 1}]", Oid.JSON_ARRAY, -1, -1),
    ("array_value(1, 2)", Oid.INT4_ARRAY, -1, -1),
]


@pytest.mark.parametrize(("sql", "oid", "size", "modifier"), FIELD_CASES)
@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_row_description(sql: str, oid: int, size: int, modifier: int, fmt: int) -> None:
    batch, _ = duck(f"SELECT {sql} AS c")
    encoder = PgEncoder(batch.schema, fmt)
    assert encoder.fields == [FieldInfo("c", oid, size, modifier, fmt)]


def test_formats_follow_bind_rules() -> None:
    batch, _ = duck("SELECT 1 AS a, 'x' AS b, 2.5::DOUBLE AS c")
    assert [f.format for f in PgEncoder(batch.schema).fields] == [0, 0, 0]
    assert [f.format for f in PgEncoder(batch.schema, []).fields] == [0, 0, 0]
    assert [f.format for f in PgEncoder(batch.schema, [1]).fields] == [1, 1, 1]
    assert [f.format for f in PgEncoder(batch.schema, 1).fields] == [1, 1, 1]
    mixed = PgEncoder(batch.schema, [1, 0, 1])
    assert [f.format for f in mixed.fields] == [1, 0, 1]
    assert next(mixed.encode_rows(batch)) == (
        b"\x00\x00\x00\x01",
        b"x",
        struct.pack(">d", 2.5),
    )
    with pytest.raises(ValueError, match="2 result format codes for 3 columns"):
        PgEncoder(batch.schema, [0, 1])
    with pytest.raises(ValueError, match="unsupported result format code 2"):
        PgEncoder(batch.schema, 2)
    with pytest.raises(ValueError, match="unknown time zone"):
        PgEncoder(batch.schema, timezone="Mars/Olympus_Mons")


# --- results: decoded by psycopg ---------------------------------------------------

# One row of typical values, one of edge values, one of NULLs.
WIDE = """
SELECT * FROM (VALUES
  (true, -1::TINYINT, 2::SMALLINT, 3, 4::BIGINT, 5::UTINYINT, 6::USMALLINT, 7::UINTEGER,
   8::UBIGINT, 9::HUGEINT, 10::UHUGEINT, 1.5::FLOAT, 2.5::DOUBLE, 1.23::DECIMAL(5,2),
   'héllo ☃ 😀', '\\x00\\xFF'::BLOB, DATE '2024-01-02', TIME '01:02:03.5',
   TIMETZ '01:02:03+05:30', TIMESTAMP '2024-01-02 03:04:05.123456',
   TIMESTAMPTZ '2024-01-02 03:04:05.123456+00', INTERVAL '2 months 3 days 04:05:06.789',
   '8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1'::UUID, '{"a": [1, 2.5, null]}'::JSON,
   [1, 2, NULL], [[1, 2], [3, 4]], ['a b', '', 'NULL', 'q"\\'], {'a': 1, 'b': 'x'},
   MAP {'k': 1}, 'a'::ENUM('a', 'b'), 3.5::DOUBLE, [1.5::DECIMAL(10,2), NULL],
   [DATE '1999-12-31'], [TIMESTAMP '1970-01-01 00:00:00'], ['{"x":1}'::JSON]),
  (false, CAST(-128 AS TINYINT), CAST(-32768 AS SMALLINT), CAST(-2147483648 AS INTEGER),
   CAST(-9223372036854775808 AS BIGINT),
   255::UTINYINT, 65535::USMALLINT, 4294967295::UINTEGER, 18446744073709551615::UBIGINT,
   -170141183460469231731687303715884105727::HUGEINT,
   340282366920938463463374607431768211455::UHUGEINT, -3.4e38::FLOAT, -1.7976931348623157e308,
   -999.99::DECIMAL(5,2), '', ''::BLOB, DATE '1900-02-28', TIME '23:59:59.999999',
   TIMETZ '23:59:59.999999-15:59', TIMESTAMP '1969-12-31 23:59:59.999999',
   TIMESTAMPTZ '1901-12-13 20:45:52+00', INTERVAL '-1 day 02:00:00',
   '00000000-0000-0000-0000-000000000000'::UUID, '[]'::JSON, [], []::INTEGER[][],
   [NULL], {'a': NULL, 'b': NULL}, MAP {}, 'b'::ENUM('a', 'b'), 'NaN'::DOUBLE, [],
   [DATE '0001-01-01'], [TIMESTAMP '2000-01-01 00:00:00.5'], []),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL)
)
"""


def _float4(v: float | None) -> float | None:
    return None if v is None else struct.unpack("f", struct.pack("f", v))[0]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_psycopg_decodes_every_type(fmt: int) -> None:
    loaded, expected, _ = roundtrip(WIDE, fmt)
    assert len(loaded) == len(expected) == 3
    for got, want in zip(loaded, expected, strict=True):
        got, want = list(got), list(want)
        # float4: text carries the shortest float32 digits, which psycopg reads as a
        # double; rounding both to float32 compares the float32 values.
        got[11], want[11] = _float4(got[11]), _float4(want[11])
        # json, struct: psycopg parses json; DuckDB returns JSON as text.
        want[23] = None if want[23] is None else json.loads(want[23])
        want[34] = None if want[34] is None else [json.loads(v) for v in want[34]]
        assert [_same(g, w) for g, w in zip(got, want, strict=True)] == [True] * len(got), (
            got,
            want,
        )


@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_psycopg_decodes_nested_and_wide_values(fmt: int) -> None:
    sql = """
        SELECT [[[1, 2], [3, 4]], [[5, 6], [7, NULL]]] AS cube,
               array_value(array_value(1.5, 2.5), array_value(3.5, 4.5)) AS fixed2d,
               [{'x': [1, 2], 'y': {'z': 'é'}}] AS structs,
               {'d': DATE '2024-01-02', 'n': NULL::INT, 'l': [1.5, NULL]} AS rec,
               MAP {1: 'a', 2: NULL} AS int_keys,
               12345678901234567890123456789.123456789::DECIMAL(38,9) AS big,
               -0.000001::DECIMAL(18,6) AS tiny,
               10000000000000000000000000000000000000::HUGEINT AS huge,
               123456789012345678901234567890::BIGNUM AS bignum,
               '10110'::BIT AS bits
    """
    loaded, expected, _ = roundtrip(sql, fmt)
    (got,), (want,) = loaded, expected
    assert got[0] == want[0]
    assert got[1] == [list(v) for v in want[1]]
    assert got[2] == [{"x": [1, 2], "y": {"z": "é"}}]
    assert got[3] == {"d": "2024-01-02", "n": None, "l": [1.5, None]}
    assert got[4] == {"1": "a", "2": None}  # json object keys are text
    assert list(got[5:8]) == [want[5], want[6], want[7]]
    assert got[8] == Decimal(want[8])  # DuckDB returns BIGNUM as text
    assert got[9] == want[9] == "10110"


def test_text_format_of_edge_values() -> None:
    batch, _ = duck(
        """SELECT DATE '0044-03-15 (BC)' AS bc, 'infinity'::DATE AS inf, '-infinity'::DATE AS ninf,
                  TIMESTAMP '0044-03-15 (BC) 12:00:00.5' AS bcts, 'infinity'::TIMESTAMP AS tinf,
                  '-infinity'::TIMESTAMP_NS AS tninf, 'infinity'::TIMESTAMPTZ AS tzinf,
                  DATE '10000-01-01' AS far, [DATE '0044-03-15 (BC)'] AS bcs,
                  'NaN'::FLOAT AS nan4, 'Infinity'::DOUBLE AS inf8, '-Infinity'::DOUBLE AS ninf8,
                  -0.0::DOUBLE AS nzero, 1e15::DOUBLE AS e15, 123456789012345::DOUBLE AS plain,
                  1234567::FLOAT AS f4, 0.00001::DOUBLE AS small"""
    )
    row = next(PgEncoder(batch.schema).encode_rows(batch))
    assert row == (
        b"0044-03-15 BC",
        b"infinity",
        b"-infinity",
        b"0044-03-15 12:00:00.5 BC",
        b"infinity",
        b"-infinity",
        b"infinity",
        b"10000-01-01",
        b'{"0044-03-15 BC"}',
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"-0",
        b"1e+15",
        b"123456789012345",
        b"1.234567e+06",
        b"1e-05",
    )
    binary = next(PgEncoder(batch.schema, BINARY).encode_rows(batch))
    assert binary[1:3] == (struct.pack(">i", 2**31 - 1), struct.pack(">i", -(2**31)))
    assert binary[4:7] == (
        struct.pack(">q", 2**63 - 1),
        struct.pack(">q", -(2**63)),
        struct.pack(">q", 2**63 - 1),
    )
    # 44 BC is astronomical year -43: days since 2000-01-01
    days = pg_types.days_from_civil(-43, 3, 15) - pg_types.days_from_civil(2000, 1, 1)
    assert binary[0] == struct.pack(">i", days)


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("UTC", b"2024-07-01 12:00:00.1+00"),
        ("Europe/Amsterdam", b"2024-07-01 14:00:00.1+02"),
        ("Asia/Kolkata", b"2024-07-01 17:30:00.1+05:30"),
        ("America/St_Johns", b"2024-07-01 09:30:00.1-02:30"),
        ("+05:45", b"2024-07-01 17:45:00.1+05:45"),
    ],
)
def test_timestamptz_uses_the_session_time_zone(timezone: str, expected: bytes) -> None:
    batch, _ = duck("SELECT TIMESTAMPTZ '2024-07-01 12:00:00.1+00' AS t")
    encoder = PgEncoder(batch.schema, timezone=timezone)
    assert next(encoder.encode_rows(batch)) == (expected,)
    # binary is the instant, whatever the zone
    binary = PgEncoder(batch.schema, BINARY, timezone=timezone)
    assert load(binary, batch) == [(dt.datetime(2024, 7, 1, 12, 0, 0, 100000, tzinfo=UTC),)]


def test_ragged_nested_lists() -> None:
    batch, _ = duck("SELECT * FROM (VALUES ([[1, 2], [3, 4]]), ([[1], [2, 3]]), (NULL)) t(l)")
    # Typed from the schema alone, an array: the ragged value cannot be sent.
    encoder = PgEncoder(batch.schema)
    assert encoder.fields[0].type_oid == Oid.INT4_ARRAY
    with pytest.raises(ValueError, match=r"'l'.*row 1.*rectangular"):
        list(encoder.encode_rows(batch))
    with pytest.raises(ValueError, match="rectangular"):
        PgEncoder(batch.schema, BINARY).encode_columns(batch)
    assert list(encoder.encode_rows(batch.slice(0, 1))) == [(b"{{1,2},{3,4}}",)]
    # With the batch as sample, the column is json and every row is sent.
    sampled = PgEncoder(batch.schema, sample=batch)
    assert sampled.fields[0].type_oid == Oid.JSON
    assert list(sampled.encode_rows(batch)) == [(b"[[1,2],[3,4]]",), (b"[[1],[2,3]]",), (None,)]
    for sql in ("SELECT [[1], NULL] AS l", "SELECT [[], []] AS l", "SELECT [[1], []] AS l"):
        ragged, _ = duck(sql)
        assert PgEncoder(ragged.schema, sample=ragged).fields[0].type_oid == Oid.JSON
        with pytest.raises(ValueError, match="rectangular"):
            list(PgEncoder(ragged.schema).encode_rows(ragged))
    # jsonb on request: binary carries the version byte
    field = pa.field("l", batch.schema.field(0).type, metadata={PG_TYPE_KEY: b"jsonb"})
    jsonb = PgEncoder(pa.schema([field]), BINARY, sample=batch)
    assert jsonb.fields[0].type_oid == Oid.JSONB
    assert next(jsonb.encode_rows(batch)) == (b"\x01[[1,2],[3,4]]",)


def test_requested_types() -> None:
    schema = pa.schema(
        [
            pa.field("v", pa.string(), metadata={PG_TYPE_KEY: b"varchar"}),
            pa.field("j", pa.large_string(), metadata={PG_TYPE_KEY: b"jsonb"}),
            pa.field("s", pa.struct([("a", pa.int32())]), metadata={PG_TYPE_KEY: b"jsonb"}),
            pa.field("l", pa.list_(pa.field("e", pa.string(), metadata={PG_TYPE_KEY: b"varchar"}))),
        ]
    )
    batch = pa.RecordBatch.from_pylist(
        [{"v": "x", "j": '{"a": 1}', "s": {"a": 1}, "l": ["p", None]}], schema=schema
    )
    encoder = PgEncoder(schema, [TEXT, BINARY, BINARY, TEXT])
    assert [f.type_oid for f in encoder.fields] == [
        Oid.VARCHAR,
        Oid.JSONB,
        Oid.JSONB,
        Oid.VARCHAR_ARRAY,
    ]
    assert load(PgEncoder(schema, BINARY), batch) == [("x", {"a": 1}, {"a": 1}, ["p", None])]
    bad = pa.schema([pa.field("v", pa.string(), metadata={PG_TYPE_KEY: b"xml"})])
    with pytest.raises(ValueError, match=r"'v'.*'xml' is not one of"):
        PgEncoder(bad)


def arrow_layouts() -> pa.RecordBatch:
    """Arrow layouts DuckDB does not produce, built directly."""
    ints = pa.array([1, None, -3], pa.int32())
    return pa.RecordBatch.from_arrays(
        [
            pa.array(["a", None, "c"], pa.string_view()),
            pa.array([b"a", None, b"\x00"], pa.large_binary()),
            pa.array([b"ab", None, b"cd"], pa.binary(2)),
            pa.array([0, None, -86_400_000], pa.date64()),
            pa.array([3_723, None, 0], pa.time32("s")),
            pa.array([3_723_500, None, 0], pa.time32("ms")),
            pa.array([3_723_000_000_001, None, 0], pa.time64("ns")),
            pa.array([-1, None, 1_500_000_000], pa.timestamp("ns")),
            pa.array([90_000, None, -1], pa.duration("s")),
            pa.array([1.5, None, -0.25], pa.float16()),
            pa.DictionaryArray.from_arrays(pa.array([1, 0, None], pa.int8()), ["x", "y"]),
            pc.run_end_encode(pa.array(["r", "r", None])),
            pa.ListViewArray.from_arrays([2, 0, 0], [1, 0, 2], ints),
            pa.LargeListArray.from_arrays([0, 2, 2, 3], ints),
            pa.array([None, None, None], pa.null()),
            pa.array([{"k": 1}, None, {}], pa.map_(pa.string(), pa.int64())),
            pa.array([1, None, 255], pa.uint8()),
        ],
        names=[f"c{i}" for i in range(17)],
    )


@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_other_arrow_layouts(fmt: int) -> None:
    batch = arrow_layouts()
    encoder = PgEncoder(batch.schema, fmt)
    assert [f.type_oid for f in encoder.fields] == [
        Oid.TEXT, Oid.BYTEA, Oid.BYTEA, Oid.DATE, Oid.TIME, Oid.TIME, Oid.TIME,
        Oid.TIMESTAMP, Oid.INTERVAL, Oid.FLOAT4, Oid.TEXT, Oid.TEXT, Oid.INT4_ARRAY,
        Oid.INT4_ARRAY, Oid.TEXT, Oid.JSON, Oid.INT2,
    ]  # fmt: skip
    got = load(encoder, batch)
    assert got[0] == (
        "a", b"a", b"ab", dt.date(1970, 1, 1), dt.time(1, 2, 3), dt.time(1, 2, 3, 500_000),
        dt.time(1, 2, 3), dt.datetime(1969, 12, 31, 23, 59, 59, 999_999),
        dt.timedelta(seconds=90_000), 1.5, "y", "r", [-3], [1, None], None, {"k": 1}, 1,
    )  # fmt: skip
    assert got[1] == (None,) * 10 + ("x", "r", [], [], None, None, None)
    assert got[2] == (
        "c", b"\x00", b"cd", dt.date(1969, 12, 31), dt.time(0), dt.time(0), dt.time(0),
        dt.datetime(1970, 1, 1, 0, 0, 1, 500_000), dt.timedelta(seconds=-1), -0.25, None,
        None, [1, None], [-3], None, {}, 255,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_unions_and_unusual_decimals(fmt: int) -> None:
    batch, expected = duck(
        "SELECT * FROM (VALUES (union_value(num := 1)::UNION(num INT, str VARCHAR)),"
        " (union_value(str := 'x y')::UNION(num INT, str VARCHAR)), (NULL)) t(u)"
    )
    # a union is text holding its member's text output
    assert [f.type_oid for f in PgEncoder(batch.schema, fmt).fields] == [Oid.TEXT]
    assert load(PgEncoder(batch.schema, fmt), batch) == [("1",), ("x y",), (None,)]
    assert [row[0] for row in expected] == [1, "x y", None]
    nested = pa.RecordBatch.from_arrays(
        [pa.StructArray.from_arrays([batch.column(0)], ["u"])], ["s"]
    )
    assert load(PgEncoder(nested.schema, fmt), nested) == [
        ({"u": 1},),
        ({"u": "x y"},),
        ({"u": None},),
    ]
    decimals = pa.RecordBatch.from_arrays(
        [
            pa.array([Decimal("1E+3"), None, Decimal("-2E+3")], pa.decimal128(5, -3)),
            pa.array([Decimal("1.5"), Decimal("-0.0000001"), None], pa.decimal256(60, 7)),
        ],
        ["negative_scale", "wide"],
    )
    encoder = PgEncoder(decimals.schema, fmt)
    assert [(f.type_oid, f.type_modifier) for f in encoder.fields] == [
        (Oid.NUMERIC, (8 << 16) + 4),
        (Oid.NUMERIC, ((60 << 16) | 7) + 4),
    ]
    assert load(encoder, decimals) == [
        (Decimal("1000"), Decimal("1.5000000")),
        (None, Decimal("-0.0000001")),
        (Decimal("-2000"), None),
    ]


@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_sliced_batches_encode_like_copies(fmt: int) -> None:
    batch, _ = duck(WIDE)
    batch = pa.concat_tables([pa.Table.from_batches([batch])] * 3).combine_chunks().to_batches()[0]
    encoder = PgEncoder(batch.schema, fmt)
    whole = list(encoder.encode_rows(batch))
    for start in range(0, 9):
        for length in (0, 1, 4):
            part = batch.slice(start, length)
            assert list(encoder.encode_rows(part)) == whole[start : start + length]
    layouts = arrow_layouts()
    encoder = PgEncoder(layouts.schema, fmt)
    whole = list(encoder.encode_rows(layouts))
    assert list(encoder.encode_rows(layouts.slice(1))) == whole[1:]


@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_data_rows_frame_the_same_values(fmt: int) -> None:
    batch, _ = duck(WIDE)
    encoder = PgEncoder(batch.schema, fmt)
    rows = [list(row) for row in encoder.encode_rows(batch)]
    assert parse_data_rows(encoder.encode_data_rows(batch)) == rows
    assert parse_data_rows(encoder.encode_data_rows(batch.slice(1, 2))) == rows[1:]
    assert encoder.encode_data_rows(batch.slice(0, 0)) == b""
    empty = PgEncoder(pa.schema([]))
    assert empty.fields == []
    no_columns = pa.table({"a": [1, 2]}).select([])
    assert empty.encode_data_rows(no_columns) == b"D\x00\x00\x00\x06\x00\x00" * 2
    assert list(empty.encode_rows(no_columns)) == [(), ()]


@pytest.mark.parametrize("fmt", [TEXT, BINARY])
def test_small_batches_are_framed_byte_for_byte_as_large_ones(
    fmt: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch, _ = duck(WIDE)
    encoder = PgEncoder(batch.schema, fmt)
    small = [encoder.encode_data_rows(batch.slice(i, 1)) for i in range(batch.num_rows)]
    monkeypatch.setattr(pg_types, "SMALL_BATCH_ROWS", 0)  # every batch through the kernels
    assert small == [encoder.encode_data_rows(batch.slice(i, 1)) for i in range(batch.num_rows)]
    assert encoder.encode_data_rows(batch) == b"".join(small)


def test_cached_encoders_tell_apart_schemas_that_differ_only_in_metadata() -> None:
    plain = pa.schema([pa.field("k", pa.string())])
    marked = pa.schema([pa.field("k", pa.string(), metadata={PG_TYPE_KEY: b"char"})])
    assert plain == marked  # pyarrow's equality ignores the metadata ...
    text = pg_types.cached_encoder(plain, TEXT, "UTC")
    char = pg_types.cached_encoder(marked, TEXT, "UTC")
    assert (text.fields[0].type_oid, char.fields[0].type_oid) == (Oid.TEXT, Oid.CHAR)
    assert pg_types.cached_encoder(plain, TEXT, "UTC") is text


def test_wrong_batch_shape() -> None:
    batch, _ = duck("SELECT 1 AS a")
    with pytest.raises(ValueError, match="batch has 2 columns, encoder expects 1"):
        PgEncoder(batch.schema).encode_columns(pa.RecordBatch.from_pylist([{"a": 1, "b": 2}]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(width=64) | st.none(), max_size=20))
def test_float8_text_round_trips_in_postgres_layout(values: list[float | None]) -> None:
    batch = pa.RecordBatch.from_arrays([pa.array(values, pa.float64())], ["f"])
    texts = [row[0] for row in PgEncoder(batch.schema).encode_rows(batch)]
    for value, text in zip(values, texts, strict=True):
        if value is None:
            assert text is None
            continue
        assert text is not None
        decoded = float(text.decode())
        assert _same(decoded, value)
        if not math.isnan(value):
            assert math.copysign(1, decoded) == math.copysign(1, value)
        if math.isfinite(value) and value != 0:
            # plain digits exactly when PostgreSQL's float8out uses them
            exponent = Decimal(repr(value)).adjusted()
            assert (b"e" in text) == (not -4 <= exponent < 15), (value, text)
            assert not text.endswith(b".0")


# --- results: byte for byte against PostgreSQL -------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[psycopg.Connection[Any]]:
    try:
        conn = psycopg.connect(POSTGRES_DSN, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as e:
        service_unavailable(f"PostgreSQL is not reachable at {POSTGRES_DSN!r}: {e}")
    conn.execute(
        "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres';"
        " SET extra_float_digits = 1; SET TimeZone = 'UTC'"
    )
    with conn:
        yield conn


def server_values(
    conn: psycopg.Connection[Any], sql: str, fmt: int
) -> tuple[list[FieldInfo], list[list[bytes | None]]]:
    """RowDescription and raw values exactly as PostgreSQL sends them."""
    res = conn.pgconn.exec_params(sql.encode(), [], result_format=fmt)
    assert res.status == psycopg.pq.ExecStatus.TUPLES_OK, res.error_message
    fields = [
        FieldInfo(res.fname(i).decode(), res.ftype(i), res.fsize(i), res.fmod(i), fmt)
        for i in range(res.nfields)
    ]
    rows = [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)]
    return fields, rows


# (DuckDB expression, the same value in PostgreSQL); one string when both read it.
SERVER_CASES: list[tuple[str, str] | str] = [
    "true",
    "NULL::BOOLEAN",
    ("CAST(-128 AS TINYINT)", "CAST(-128 AS SMALLINT)"),
    "CAST(-32768 AS SMALLINT)",
    "CAST(-2147483648 AS INTEGER)",
    "CAST(-9223372036854775808 AS BIGINT)",
    "CAST(9223372036854775807 AS BIGINT)",
    ("CAST(255 AS UTINYINT)", "CAST(255 AS SMALLINT)"),
    ("CAST(65535 AS USMALLINT)", "CAST(65535 AS INTEGER)"),
    ("CAST(4294967295 AS UINTEGER)", "CAST(4294967295 AS BIGINT)"),
    ("CAST(18446744073709551615 AS UBIGINT)", "CAST(18446744073709551615 AS NUMERIC(20,0))"),
    ("CAST(0 AS UBIGINT)", "CAST(0 AS NUMERIC(20,0))"),
    (
        "CAST(-170141183460469231731687303715884105727 AS HUGEINT)",
        "CAST(-170141183460469231731687303715884105727 AS NUMERIC(39,0))",
    ),
    (
        "CAST(340282366920938463463374607431768211455 AS UHUGEINT)",
        "CAST(340282366920938463463374607431768211455 AS NUMERIC(39,0))",
    ),
    ("CAST(-123456789012345678901234567890 AS BIGNUM)", "-123456789012345678901234567890"),
    *[
        f"CAST('{v}' AS DOUBLE PRECISION)"
        for v in [
            "0",
            "-0.0",
            "1",
            "0.1",
            "-2.5",
            "100",
            "1e15",
            "123456789012345",
            "1e-05",
            "0.0001",
            "0.00012345",
            "5e-324",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "NaN",
            "Infinity",
            "-Infinity",
            "9999999999.5",
            "12345678901.25",
            "0.30000000000000004",
            "1e100",
            "-1.5e-7",
            "4.35",
            "1e22",
            "123456.789e3",
        ]
    ],
    *[
        (f"CAST('{v}' AS FLOAT)", f"CAST('{v}' AS REAL)")
        for v in [
            "0",
            "-0",
            "1.1",
            "0.1",
            "1e6",
            "123456",
            "1234567",
            "16777216",
            "3.4028235e38",
            "1e-45",
            "1.17549435e-38",
            "0.0001",
            "0.00001",
            "NaN",
            "-Infinity",
            "99999.99",
            "999999.9",
            "3.14159",
        ]
    ],
    ("CAST(-1.23 AS DECIMAL(5,2))", "CAST(-1.23 AS NUMERIC(5,2))"),
    ("CAST(0 AS DECIMAL(5,2))", "CAST(0 AS NUMERIC(5,2))"),
    ("CAST(-0.5 AS DECIMAL(3,2))", "CAST(-0.5 AS NUMERIC(3,2))"),
    ("CAST(0.0001 AS DECIMAL(10,4))", "CAST(0.0001 AS NUMERIC(10,4))"),
    ("CAST(10000 AS DECIMAL(10,0))", "CAST(10000 AS NUMERIC(10,0))"),
    ("CAST(123456789.1 AS DECIMAL(12,1))", "CAST(123456789.1 AS NUMERIC(12,1))"),
    (
        "CAST(12345678901234567890123456789.123456789 AS DECIMAL(38,9))",
        "CAST(12345678901234567890123456789.123456789 AS NUMERIC(38,9))",
    ),
    (
        "CAST(-99999999999999999999999999999999999999 AS DECIMAL(38,0))",
        "CAST(-99999999999999999999999999999999999999 AS NUMERIC(38,0))",
    ),
    ("CAST(0.000001 AS DECIMAL(18,6))", "CAST(0.000001 AS NUMERIC(18,6))"),
    ("CAST(0.0000000001 AS DECIMAL(38,10))", "CAST(0.0000000001 AS NUMERIC(38,10))"),
    ("CAST(-0.00000012 AS DECIMAL(18,8))", "CAST(-0.00000012 AS NUMERIC(18,8))"),
    ("CAST(0 AS DECIMAL(20,10))", "CAST(0 AS NUMERIC(20,10))"),
    ("CAST(0 AS DECIMAL(3,0))", "CAST(0 AS NUMERIC(3,0))"),
    ("CAST(1000.1 AS DECIMAL(18,8))", "CAST(1000.1 AS NUMERIC(18,8))"),
    ("'héllo ☃ 😀'", "'héllo ☃ 😀'::TEXT"),
    ("''", "''::TEXT"),
    ("'a\"b\\c'", "'a\"b\\c'::TEXT"),
    ("NULL", "NULL::TEXT"),
    ("'\\x00\\xFF\\x10'::BLOB", "'\\x00ff10'::BYTEA"),
    ("''::BLOB", "''::BYTEA"),
    "DATE '2024-01-02'",
    "DATE '1999-12-31'",
    "DATE '2000-01-01'",
    "DATE '1900-03-01'",
    "DATE '0001-01-01'",
    ("DATE '0001-12-31 (BC)'", "DATE '0001-12-31 BC'"),
    ("DATE '0044-03-15 (BC)'", "DATE '0044-03-15 BC'"),
    ("DATE '4713-01-01 (BC)'", "DATE '4713-01-01 BC'"),
    "DATE '9999-12-31'",
    "DATE '10000-01-01'",
    "DATE 'infinity'",
    "DATE '-infinity'",
    "TIME '00:00:00'",
    "TIME '01:02:03.5'",
    "TIME '23:59:59.999999'",
    "TIME '12:00:00.000001'",
    "TIMETZ '01:02:03+05:30'",
    "TIMETZ '01:02:03.5-08'",
    "TIMETZ '23:59:59.999999-15:59'",
    "TIMETZ '00:00:00+00'",
    "TIMETZ '12:34:56+01:02:03'",
    "TIMESTAMP '2024-01-02 03:04:05.123456'",
    "TIMESTAMP '2024-01-02 03:04:05'",
    "TIMESTAMP '1969-12-31 23:59:59.999999'",
    "TIMESTAMP '1900-01-01 00:00:00.1'",
    "TIMESTAMP '2000-01-01 00:00:00'",
    ("TIMESTAMP '0044-03-15 (BC) 12:00:00.5'", "TIMESTAMP '0044-03-15 12:00:00.5 BC'"),
    ("TIMESTAMP '0001-12-31 (BC) 23:59:59'", "TIMESTAMP '0001-12-31 23:59:59 BC'"),
    "TIMESTAMP '9999-12-31 23:59:59.999999'",
    "TIMESTAMP 'infinity'",
    "TIMESTAMP '-infinity'",
    ("TIMESTAMP_S '2024-01-02 03:04:05'", "TIMESTAMP '2024-01-02 03:04:05'"),
    ("TIMESTAMP_MS '2024-01-02 03:04:05.678'", "TIMESTAMP '2024-01-02 03:04:05.678'"),
    ("TIMESTAMP_NS '1969-12-31 23:59:59.9999999'", "TIMESTAMP '1969-12-31 23:59:59.999999'"),
    ("'infinity'::TIMESTAMP_NS", "TIMESTAMP 'infinity'"),
    ("'-infinity'::TIMESTAMP_S", "TIMESTAMP '-infinity'"),
    "TIMESTAMPTZ '2024-01-02 03:04:05.123456+00'",
    "TIMESTAMPTZ '1901-12-13 20:45:52+00'",
    ("TIMESTAMPTZ '0044-03-15 (BC) 12:00:00+00'", "TIMESTAMPTZ '0044-03-15 12:00:00+00 BC'"),
    "TIMESTAMPTZ 'infinity'",
    "TIMESTAMPTZ '-infinity'",
    "INTERVAL '1 year 2 months 3 days 04:05:06.789'",
    "INTERVAL '-1 year'",
    "INTERVAL '1 year'",
    ("INTERVAL '-1 day 02:00:00'", "INTERVAL '-1 day +02:00:00'"),
    ("INTERVAL '1 day' - INTERVAL '2 hours'", "INTERVAL '1 day -02:00:00'"),
    "INTERVAL '0 seconds'",
    "INTERVAL '100 hours'",
    ("-INTERVAL '1 month 1.5 seconds'", "INTERVAL '-1 mons -00:00:01.5'"),
    ("INTERVAL '1 month' - INTERVAL '1 day'", "INTERVAL '1 mon -1 days'"),
    ("INTERVAL '-14 months'", "INTERVAL '-1 year -2 mons'"),
    ("INTERVAL '0.000001 seconds'", "INTERVAL '00:00:00.000001'"),
    ("INTERVAL '1 day' - INTERVAL '3 months'", "INTERVAL '-3 mons +1 day'"),
    "'8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1'::UUID",
    "'00000000-0000-0000-0000-000000000000'::UUID",
    '\'{"a": [1, 2.5, null], "b": "x"}\'::JSON',
    ("[1, 2, NULL]", "ARRAY[1, 2, NULL]"),
    ("[]::INTEGER[]", "ARRAY[]::INTEGER[]"),
    ("[NULL]::INTEGER[]", "ARRAY[NULL]::INTEGER[]"),
    ("[[1, 2], [3, 4]]", "ARRAY[[1, 2], [3, 4]]"),
    ("[[[1], [2]], [[3], [NULL]]]", "'{{{1},{2}},{{3},{NULL}}}'::INT[]"),
    ("array_value(1, 2)", "ARRAY[1, 2]"),
    ("[-1::SMALLINT]", "ARRAY[-1::SMALLINT]"),
    ("[-1::BIGINT]", "ARRAY[-1::BIGINT]"),
    ("[true, false, NULL]", "ARRAY[true, false, NULL]"),
    ("['NaN'::DOUBLE, 'Infinity', 1e300, '-0']", "ARRAY['NaN', 'Infinity', 1e300, '-0']::FLOAT8[]"),
    ("[1.5::FLOAT, NULL]", "ARRAY[1.5::REAL, NULL]"),
    ("[1.5, -2]::DECIMAL(10,2)[]", "ARRAY[1.5, -2]::NUMERIC(10,2)[]"),
    (
        "['', 'NULL', 'null', 'a b', 'a\"b', 'a\\b', '{', ',', 'é', 'x', 'tab\tx', '}']",
        "ARRAY['', 'NULL', 'null', 'a b', 'a\"b', 'a\\b', '{', ',', 'é', 'x', E'tab\\tx', '}']",
    ),
    ("[['a', 'b c'], ['{d}', NULL]]", "ARRAY[['a', 'b c'], ['{d}', NULL]]"),
    ("['\\x01'::BLOB, ''::BLOB]", "ARRAY['\\x01'::BYTEA, ''::BYTEA]"),
    (
        "[DATE '2024-01-01', DATE '0044-03-15 (BC)', 'infinity']",
        "ARRAY[DATE '2024-01-01', DATE '0044-03-15 BC', 'infinity']",
    ),
    ("[TIME '01:02:03']", "ARRAY[TIME '01:02:03']"),
    ("[TIMETZ '01:02:03+05']", "ARRAY[TIMETZ '01:02:03+05']"),
    (
        "[TIMESTAMP '2024-01-01 00:00:00', TIMESTAMP '1999-01-01 01:02:03.5']",
        "ARRAY[TIMESTAMP '2024-01-01 00:00:00', TIMESTAMP '1999-01-01 01:02:03.5']",
    ),
    ("[TIMESTAMPTZ '2024-01-01 00:00:00+00']", "ARRAY[TIMESTAMPTZ '2024-01-01 00:00:00+00']"),
    (
        "[INTERVAL '1 day', INTERVAL '-1 year 2 months']",
        "ARRAY[INTERVAL '1 day', INTERVAL '-10 mons']",
    ),
    (
        "['8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1'::UUID]",
        "ARRAY['8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1'::UUID]",
    ),
    ("['{\"a\": 1}'::JSON, '[]']", "ARRAY['{\"a\": 1}'::JSON, '[]']"),
    (
        "{'i': 1, 's': 'x\"y', 'n': NULL::INT, 'l': [1, 2], 'f': 'NaN'::DOUBLE, 'g': 1e20}",
        "(SELECT row_to_json(r) FROM (SELECT 1 AS i, 'x\"y'::TEXT AS s, NULL::INT AS n,"
        " ARRAY[1, 2] AS l, 'NaN'::FLOAT8 AS f, 1e20::FLOAT8 AS g) r)",
    ),
    (
        "{'d': DATE '2024-01-02', 'ts': TIMESTAMP '2024-01-01 01:02:03.5',"
        " 'tz': TIMESTAMPTZ '2024-01-01 01:02:03+00', 'b': '\\x01\\xFF'::BLOB,"
        " 'iv': INTERVAL '1 day', 't': TIME '01:02:03',"
        " 'u': uuid '8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1',"
        " 'bc': DATE '0044-03-15 (BC)', 'c': '\n\x01é', 'j': '{\"k\": [1]}'::JSON,"
        " 'm': 1.50::DECIMAL(4,2), 'x': true, 'y': {'z': [NULL]::INT[]}}",
        "(SELECT row_to_json(r) FROM (SELECT DATE '2024-01-02' AS d,"
        " TIMESTAMP '2024-01-01 01:02:03.5' AS ts, TIMESTAMPTZ '2024-01-01 01:02:03+00' AS tz,"
        " '\\x01ff'::BYTEA AS b, INTERVAL '1 day' AS iv, TIME '01:02:03' AS t,"
        " '8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1'::UUID AS u, DATE '0044-03-15 BC' AS bc,"
        " E'\\n\\x01é' AS c, '{\"k\": [1]}'::JSON AS j, 1.50::NUMERIC(4,2) AS m, true AS x,"
        " (SELECT row_to_json(q) FROM (SELECT ARRAY[NULL]::INT[] AS z) q) AS y) r)",
    ),
    (
        "[{'a': 1}, NULL]",
        "ARRAY[(SELECT row_to_json(r) FROM (SELECT 1 AS a) r), NULL]",
    ),
]


def _case_id(case: tuple[str, str] | str) -> str:
    return case if isinstance(case, str) else case[0]


@pytest.mark.parametrize("case", SERVER_CASES, ids=_case_id)
def test_matches_postgresql_byte_for_byte(
    postgres: psycopg.Connection[Any], case: tuple[str, str] | str
) -> None:
    duck_sql, pg_sql = (case, case) if isinstance(case, str) else case
    batch, _ = duck(f"SELECT {duck_sql} AS c")
    for fmt in (TEXT, BINARY):
        fields, rows = server_values(postgres, f"SELECT {pg_sql} AS c", fmt)
        encoder = PgEncoder(batch.schema, fmt)
        assert encoder.fields == fields, fmt
        assert [list(row) for row in encoder.encode_rows(batch)] == rows, fmt


@pytest.mark.parametrize(
    "timezone", ["Europe/Amsterdam", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe"]
)
def test_timestamptz_zones_match_postgresql(
    postgres: psycopg.Connection[Any], timezone: str
) -> None:
    instants = [
        "2024-07-01 12:00:00.1+00",
        "2024-01-01 12:00:00+00",
        "1900-01-01 00:00:00+00",
        "1800-06-01 00:00:00+00",
        "1970-01-01 00:00:00+00",
    ]
    batch, _ = duck(
        "SELECT * FROM (VALUES " + ", ".join(f"('{v}'::TIMESTAMPTZ)" for v in instants) + ") t(c)"
    )
    pg_sql = " UNION ALL ".join(f"SELECT '{v}'::TIMESTAMPTZ AS c" for v in instants)
    postgres.execute(f"SET TimeZone = '{timezone}'")
    try:
        _, rows = server_values(postgres, pg_sql, TEXT)
        _, json_rows = server_values(postgres, f"SELECT to_json(c) FROM ({pg_sql}) t", TEXT)
    finally:
        postgres.execute("SET TimeZone = 'UTC'")
    encoder = PgEncoder(batch.schema, timezone=timezone)
    assert [list(row) for row in encoder.encode_rows(batch)] == rows
    nested = pa.RecordBatch.from_arrays(
        [pa.StructArray.from_arrays([batch.column(0)], ["c"])], ["s"]
    )
    json_out = [row[0] for row in PgEncoder(nested.schema, timezone=timezone).encode_rows(nested)]
    assert json_out == [b'{"c":' + row[0] + b"}" for row in json_rows]


@pytest.mark.parametrize("single", [False, True])
def test_random_floats_match_postgresql(postgres: psycopg.Connection[Any], single: bool) -> None:
    import random

    rng = random.Random(20240102)
    width, code, pg_type = (4, "f", "REAL") if single else (8, "d", "FLOAT8")
    values = [struct.unpack(code, rng.randbytes(width))[0] for _ in range(3000)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(1000)]
    values += [10.0**e * rng.random() for e in range(-50, 50) for _ in range(10)]
    values += [float(rng.randrange(2**50, 2**80)) for _ in range(1000)]  # near rounding bounds
    if single:
        values = [_float4(v) for v in values if abs(v) < 3.4e38]
    arrow_type = pa.float32() if single else pa.float64()
    batch = pa.RecordBatch.from_arrays([pa.array(values, arrow_type)], ["c"])
    ours = [row[0] for row in PgEncoder(batch.schema).encode_rows(batch)]
    literals = ", ".join(_pg_float_literal(v, pg_type) for v in values)
    sql = f"SELECT unnest(ARRAY[{literals}])"
    _, rows = server_values(postgres, sql, TEXT)
    assert ours == [row[0] for row in rows]


def _pg_float_literal(value: float, pg_type: str) -> str:
    if math.isnan(value):
        return f"'NaN'::{pg_type}"
    if math.isinf(value):
        return f"'{'' if value > 0 else '-'}Infinity'::{pg_type}"
    if pg_type == "REAL":
        # the float32's exact value: PostgreSQL rounds it to the same float32
        return f"'{Decimal(value)}'::REAL"
    return f"'{value!r}'::FLOAT8"


# --- parameters --------------------------------------------------------------------


_ENGINE = duckdb.connect()  # for hypothesis tests, which cannot take fixtures per example


@pytest.fixture(scope="module")
def engine() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def select(engine: duckdb.DuckDBPyConnection, expression: exp.Expression) -> Any:
    sql = exp.select(expression).sql("duckdb")
    return engine.execute(sql).fetchone()[0]  # type: ignore[index]


def dump(value: Any, fmt: PyFormat) -> tuple[int, int, bytes | None]:
    """(oid, format, bytes) of a value as psycopg would send it in Bind."""
    # Without a connection psycopg escapes bytea text for an SQL literal (quotes and
    # backslashes doubled, depending on libpq's last connection); on a connection it
    # sends the hex format, which is what these two branches write.
    if isinstance(value, bytes) and fmt == PyFormat.TEXT:
        return Oid.BYTEA, TEXT, b"\\x" + value.hex().encode()
    if isinstance(value, list) and fmt == PyFormat.TEXT and bytes in map(type, value):
        items = ["NULL" if v is None else f'"\\\\x{v.hex()}"' for v in value]
        return Oid.BYTEA_ARRAY, TEXT, ("{" + ",".join(items) + "}").encode()
    tx = Transformer()
    (data,) = tx.dump_sequence([value], [fmt])
    return tx.types[0], int(tx.formats[0]), None if data is None else bytes(data)


PARAM_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    Int2(-32768),
    Int4(2**31 - 1),
    Int8(-(2**63)),
    2**63 - 1,
    1.5,
    -0.0,
    0.1,
    1e300,
    5e-324,
    float("inf"),
    float("-inf"),
    Float4(1.5),
    Decimal("1.50"),
    Decimal("-12345678901234567890123456789.123456789"),  # DuckDB decimals: 38 digits
    Decimal("0.0000000001"),
    Decimal("0"),
    Decimal("-0.00"),
    Decimal("1E+5"),
    2**70,
    "",
    "héllo ☃ 😀",
    'it\'s a "quote" and a \\backslash; DROP TABLE x; --',
    b"",
    b"\x00\xff'\\",
    dt.date(2024, 1, 2),
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.time(0),
    dt.time(23, 59, 59, 999999),
    dt.time(1, 2, 3, 500000),
    dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
    dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(1900, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    dt.timedelta(days=1, seconds=1, microseconds=500000),
    dt.timedelta(days=-1, seconds=3600),
    dt.timedelta(microseconds=-1),
    dt.timedelta(days=-400, seconds=3),
    uuid.UUID("8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1"),
    Json({"a": [1, 2.5, None], "b": "é"}),
    Jsonb([1, {"x": None}]),
    [1, 2, None],
    [[1, 2], [3, 4]],
    ["a b", "", "NULL", None, 'q"\\', "{,}"],
    [True, None],
    [1.5, float("nan")],
    [Decimal("1.5"), None],
    [dt.date(2024, 1, 2), None],
    [b"\x01", None],
    [uuid.UUID("8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1")],
    [dt.datetime(2024, 1, 2, 3, 4, 5)],
    [dt.timedelta(hours=1)],
]


def _normalise(value: Any) -> Any:
    if isinstance(value, Json | Jsonb):
        return value.obj
    if isinstance(value, Int2 | Int4 | Int8):
        return int(value)
    if isinstance(value, Float4):
        return _float4(float(value))
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _as_returned(value: Any, returned: Any) -> Any:
    if isinstance(value, Json | Jsonb) and isinstance(returned, str):
        return json.loads(returned)
    if isinstance(value, Float4):
        return _float4(returned)
    return returned


@pytest.mark.parametrize("value", PARAM_VALUES, ids=repr)
@pytest.mark.parametrize("fmt", [PyFormat.TEXT, PyFormat.BINARY])
def test_parameters_round_trip_through_duckdb(
    engine: duckdb.DuckDBPyConnection, value: Any, fmt: PyFormat
) -> None:
    oid, code, data = dump(value, fmt)
    expression = decode_parameter(oid, code, data)
    returned = _as_returned(value, select(engine, expression))
    expected = _normalise(value)
    if oid == 0 and isinstance(value, list):
        # psycopg sends lists of str in text as "unknown": a string the engine casts
        assert data is not None
        assert returned == data.decode()
        returned = select(engine, decode_parameter(Oid.TEXT_ARRAY, code, data))
    if isinstance(expected, list) and any(isinstance(v, float) for v in expected):
        assert [_same(a, b) for a, b in zip(returned, expected, strict=True)] == [True] * 2
    else:
        assert returned == expected
        assert type(returned) is type(expected) or isinstance(expected, Decimal | float | int)
    if isinstance(expected, float):
        assert math.copysign(1, returned) == math.copysign(1, expected)


@pytest.mark.parametrize(
    ("oid", "text", "expected"),
    [
        (Oid.BOOL, " Yes ", True),
        (Oid.BOOL, "of", False),
        (Oid.BOOL, "t", True),
        (Oid.INT4, " +42 ", 42),
        (Oid.OID, "-1", 4294967295),
        (Oid.FLOAT8, "-Infinity", float("-inf")),
        (Oid.FLOAT8, " 1.5e3 ", 1500.0),
        (Oid.FLOAT4, "3.4e38", _float4(3.4e38)),
        (Oid.NUMERIC, "1e-5", Decimal("0.00001")),
        (Oid.NUMERIC, "-.5", Decimal("-0.5")),
        (Oid.BYTEA, "\\x01 ff", b"\x01\xff"),
        (Oid.BYTEA, "a\\\\b\\001", b"a\\b\x01"),
        (Oid.DATE, "0044-03-15 BC", "0044-03-15 (BC)"),
        (Oid.DATE, "12345-01-01", "12345-01-01"),
        (Oid.DATE, "2024-02-29", dt.date(2024, 2, 29)),
        (Oid.DATE, "infinity", dt.date.max),
        (Oid.TIME, "24:00:00", "24:00:00"),
        (Oid.TIME, "1:02", dt.time(1, 2)),
        (Oid.TIME, "01:02:03.1234565", dt.time(1, 2, 3, 123456)),
        (
            Oid.TIMETZ,
            "01:02:03+05:30",
            dt.time(1, 2, 3, tzinfo=dt.timezone(dt.timedelta(minutes=330))),
        ),
        (Oid.TIMESTAMP, "2024-01-02T03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5)),
        (Oid.TIMESTAMP, "2024-01-02 03:04:05+02", dt.datetime(2024, 1, 2, 3, 4, 5)),
        (Oid.TIMESTAMP, "0044-03-15 12:00:00 BC", "0044-03-15 (BC) 12:00:00"),
        (
            Oid.TIMESTAMPTZ,
            "2024-01-02 03:04:05-0330",
            dt.datetime(2024, 1, 2, 6, 34, 5, tzinfo=UTC),
        ),
        (
            Oid.TIMESTAMPTZ,
            "2024-07-01 12:00 Europe/Berlin",
            dt.datetime(2024, 7, 1, 10, tzinfo=UTC),
        ),
        (Oid.TIMESTAMPTZ, "2024-01-02 03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (Oid.INTERVAL, "1 day 02:03:04.5", dt.timedelta(days=1, seconds=7384.5)),
        (Oid.INTERVAL, "@ 1 day 2 hours ago", -dt.timedelta(days=1, hours=2)),
        (
            Oid.INTERVAL,
            "0 years 0 mons 1 days 0 hours 0 mins 1.5 secs",
            dt.timedelta(days=1, seconds=1.5),
        ),
        (Oid.INTERVAL, "P1DT2H30M", dt.timedelta(days=1, hours=2, minutes=30)),
        (Oid.INTERVAL, "1.5 days", dt.timedelta(days=1, hours=12)),
        (Oid.INTERVAL, "-1 day +02:00:00", dt.timedelta(days=-1, hours=2)),
        (Oid.INTERVAL, "90", dt.timedelta(seconds=90)),
        (
            Oid.UUID,
            "{8AD5DBF6-0B73-4A5D-9A83-6C2EB4F2E8F1}",
            uuid.UUID("8ad5dbf6-0b73-4a5d-9a83-6c2eb4f2e8f1"),
        ),
        (Oid.JSON, ' {"a" : 1} ', ' {"a" : 1} '),
        (Oid.INT4_ARRAY, "{}", []),
        (Oid.INT4_ARRAY, " { 1 , NULL , -3 } ", [1, None, -3]),
        (Oid.INT4_ARRAY, "[0:1]={1,2}", [1, 2]),
        (
            Oid.TEXT_ARRAY,
            '{"a\\"b", c\\,d , "NULL", null, " x "}',
            ['a"b', "c,d", "NULL", None, " x "],
        ),
        (Oid.INT8_ARRAY, "{{1,2},{3,4}}", [[1, 2], [3, 4]]),
        (Oid.DATE_ARRAY, '{"0044-03-15 BC",2024-01-02}', ["0044-03-15 (BC)", "2024-01-02"]),
        (0, "whatever 'it' is", "whatever 'it' is"),
        (Oid.UNKNOWN, "x", "x"),
        (869, "127.0.0.1", "127.0.0.1"),  # inet: a string literal the engine may cast
    ],
)
def test_text_parameters(
    engine: duckdb.DuckDBPyConnection, oid: int, text: str, expected: Any
) -> None:
    returned = select(engine, decode_parameter(oid, TEXT, text.encode()))
    if oid == Oid.DATE_ARRAY:
        returned = [str(v) if isinstance(v, dt.date) else v for v in returned]
    assert returned == expected


def test_parameter_literals_are_typed() -> None:
    def sql(oid: int, fmt: int, value: bytes | None) -> str:
        return decode_parameter(oid, fmt, value).sql("duckdb")

    assert sql(Oid.INT2, TEXT, b"-5") == "CAST(-5 AS SMALLINT)"
    assert sql(Oid.INT8, BINARY, struct.pack(">q", 7)) == "CAST(7 AS BIGINT)"
    assert sql(Oid.FLOAT8, TEXT, b"0.1") == "CAST('0.1' AS DOUBLE)"
    assert sql(Oid.NUMERIC, TEXT, b"-1.50") == "-1.50"
    assert sql(Oid.BOOL, BINARY, b"\x01") == "TRUE"
    assert sql(Oid.DATE, TEXT, b"2024-01-02") == "CAST('2024-01-02' AS DATE)"
    assert sql(Oid.BYTEA, BINARY, b"\x0a\xff") == "UNHEX('0aff')"
    assert sql(Oid.INT4_ARRAY, TEXT, b"{}") == "CAST([] AS INT[])"
    assert sql(Oid.TEXT_ARRAY, TEXT, b"{a,NULL}") == "['a', CAST(NULL AS TEXT)]"
    assert sql(Oid.INT4, TEXT, None) == "CAST(NULL AS INT)"
    assert sql(Oid.INT4_ARRAY, BINARY, None) == "CAST(NULL AS INT[])"
    assert sql(0, TEXT, None) == "NULL"
    assert sql(Oid.INTERVAL, TEXT, b"1 year -2 days") == (
        "CAST('12 months -2 days 0 microseconds' AS INTERVAL)"
    )
    assert sql(Oid.TIMESTAMPTZ, BINARY, struct.pack(">q", 0)) == (
        "CAST('2000-01-01 00:00:00+00:00' AS TIMESTAMPTZ)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "'); DROP TABLE t; --",
        "' || (SELECT 1) || '",
        "\\'; SELECT 1; --",
        "$$ $1 $$",
        "x' ; '",
    ],
)
def test_parameters_cannot_change_the_statement(text: str) -> None:
    values = {
        0: text,
        Oid.TEXT: text,
        Oid.VARCHAR: text,
        Oid.TEXT_ARRAY: "{" + json.dumps(text) + "}",
        Oid.JSON: json.dumps(text),
        Oid.JSON_ARRAY: "{" + json.dumps(json.dumps(text)) + "}",
    }
    for oid, value in values.items():
        expression = decode_parameter(oid, TEXT, value.encode())
        for dialect in ("duckdb", "postgres", "trino"):
            statement = exp.select(expression, exp.column("b")).from_("t").sql(dialect)
            (parsed,) = sqlglot.parse(statement, read=dialect)
            assert isinstance(parsed, exp.Select)
            assert len(parsed.expressions) == 2
            assert isinstance(parsed.expressions[1], exp.Column)
            assert parsed.args["from_"].this.name == "t"
        returned = select(_ENGINE, expression)
        if isinstance(returned, list):
            (returned,) = returned
        if oid in (Oid.JSON, Oid.JSON_ARRAY):
            returned = json.loads(returned)
        assert returned == text


@pytest.mark.parametrize(
    ("oid", "fmt", "value", "message"),
    [
        (Oid.TEXT, TEXT, b"\xff\xfe", "invalid byte sequence for encoding UTF8"),
        (Oid.TEXT, TEXT, b"a\x00b", "0x00"),
        (0, TEXT, b"\xc3", "invalid byte sequence"),
        (0, BINARY, b"abc", "needs a type oid"),
        (869, BINARY, b"abc", "binary format is not supported"),
        (Oid.INT4, BINARY, b"\x00\x01", "expected 4 bytes, got 2"),
        (Oid.INT8, BINARY, b"", "expected 8 bytes, got 0"),
        (Oid.BOOL, BINARY, b"", "expected 1 bytes"),
        (Oid.INT2, TEXT, b"32768", "out of range for type smallint"),
        (Oid.INT4, TEXT, b"1.5", "invalid input syntax for type integer"),
        (Oid.INT8, TEXT, b"9223372036854775808", "out of range for type bigint"),
        (Oid.BOOL, TEXT, b"maybe", "invalid input syntax for type boolean"),
        (Oid.FLOAT8, TEXT, b"1e400", "out of range for type double precision"),
        (Oid.FLOAT8, TEXT, b"1e-400", "out of range for type double precision"),
        (Oid.FLOAT4, TEXT, b"1e39", "out of range for type real"),
        (Oid.FLOAT8, TEXT, b"0x10", "invalid input syntax for type double precision"),
        (Oid.NUMERIC, TEXT, b"1e1000000", "out of range for type numeric"),
        (Oid.NUMERIC, TEXT, b"12abc", "invalid input syntax for type numeric"),
        (Oid.NUMERIC, BINARY, b"\x00\x01", "short header"),
        (Oid.NUMERIC, BINARY, b"\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01", "2 digits in 2 bytes"),
        (Oid.NUMERIC, BINARY, b"\x00\x01\x00\x00\x12\x34\x00\x00\x00\x01", "invalid sign"),
        (Oid.NUMERIC, BINARY, b"\x00\x01\x00\x00\x00\x00\x00\x00\x27\x10", "invalid digit"),
        (Oid.DATE, TEXT, b"2023-02-29", "out of range"),
        (Oid.DATE, TEXT, b"yesterday", "invalid input syntax for type date"),
        (Oid.DATE, BINARY, b"\x00\x00", "expected 4 bytes"),
        (Oid.TIME, TEXT, b"25:00", "out of range"),
        (Oid.TIME, BINARY, struct.pack(">q", -1), "out of range"),
        (Oid.TIMESTAMP, TEXT, b"2024-13-01 00:00", "out of range"),
        (Oid.TIMESTAMPTZ, TEXT, b"2024-01-01 00:00 Nowhere/Land", "not recognized"),
        (Oid.TIMETZ, TEXT, b"01:00+16", "displacement out of range"),
        (Oid.INTERVAL, TEXT, b"1 fortnight", "invalid input syntax for type interval"),
        (Oid.INTERVAL, TEXT, b"", "invalid input syntax for type interval"),
        (Oid.INTERVAL, BINARY, b"\x00" * 15, "expected 16 bytes"),
        (Oid.UUID, TEXT, b"not-a-uuid", "invalid input syntax for type uuid"),
        (Oid.UUID, BINARY, b"\x00" * 15, "expected 16 bytes"),
        (Oid.JSON, TEXT, b"{bad json}", "invalid input syntax for type json"),
        (Oid.JSON, TEXT, b"NaN", "invalid input syntax for type json"),
        (Oid.JSON, TEXT, b"[" * 100_000, "invalid input syntax for type json"),
        (Oid.JSONB, BINARY, b"\x02{}", "unsupported jsonb version"),
        (Oid.BYTEA, TEXT, b"\\x0", "odd number of digits"),
        (Oid.BYTEA, TEXT, b"\\xzz", "invalid hexadecimal digit"),
        (Oid.BYTEA, TEXT, b"a\\b", "invalid input syntax for type bytea"),
        (Oid.INT4_ARRAY, TEXT, b"1,2", "malformed array literal"),
        (Oid.INT4_ARRAY, TEXT, b"{1,2", "malformed array literal"),
        (Oid.INT4_ARRAY, TEXT, b"{1,,2}", "empty element"),
        (Oid.INT4_ARRAY, TEXT, b"{{1,2},{3}}", "matching dimensions"),
        (Oid.INT4_ARRAY, TEXT, b"{{1},2}", "matching dimensions"),
        (Oid.INT4_ARRAY, TEXT, b"{{}}", "empty sub-array"),
        (Oid.INT4_ARRAY, TEXT, b"{1}x", "junk after closing right brace"),
        (Oid.INT4_ARRAY, TEXT, b"{{{{{{{1}}}}}}}", "more than 6 dimensions"),
        (Oid.INT4_ARRAY, TEXT, b"{1,x}", "invalid input syntax for type integer"),
        (Oid.INT4_ARRAY, BINARY, b"\x00" * 8, "short header"),
        (Oid.INT4_ARRAY, BINARY, struct.pack(">iiI", 7, 0, 23), "invalid number of dimensions"),
        (Oid.INT4_ARRAY, BINARY, struct.pack(">iiI", 1, 0, 20), "element type 20 instead of"),
        (Oid.INT4_ARRAY, BINARY, struct.pack(">iiIii", 1, 0, 23, 1000, 1), "too few elements"),
        (
            Oid.INT4_ARRAY,
            BINARY,
            struct.pack(">iiIiii", 1, 0, 23, 1, 1, 8) + b"\x00" * 8,
            "expected 4 bytes, got 8",
        ),
        (
            Oid.INT4_ARRAY,
            BINARY,
            struct.pack(">iiIiiii", 1, 0, 23, 1, 1, 4, 1) + b"x",
            "trailing bytes",
        ),
        (Oid.INT4, 2, b"1", "unsupported parameter format code 2"),
    ],
)
def test_malformed_parameters(oid: int, fmt: int, value: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_parameter(oid, fmt, value)


def test_binary_arrays_of_every_element_type(engine: duckdb.DuckDBPyConnection) -> None:
    """psycopg binary-dumps lists with the element's binary format; decode them all."""
    values = {
        Oid.BOOL_ARRAY: [True, None],
        Oid.INT2_ARRAY: [Int2(1), None],
        Oid.INT4_ARRAY: [Int4(1), None],
        Oid.INT8_ARRAY: [Int8(1), None],
        Oid.FLOAT4_ARRAY: [Float4(1.5), None],
        Oid.FLOAT8_ARRAY: [1.5, None],
        Oid.NUMERIC_ARRAY: [Decimal("1.5"), None],
        Oid.TEXT_ARRAY: ["x", None],
        Oid.BYTEA_ARRAY: [b"x", None],
        Oid.DATE_ARRAY: [dt.date(2024, 1, 2), None],
        Oid.TIME_ARRAY: [dt.time(1, 2), None],
        Oid.TIMESTAMP_ARRAY: [dt.datetime(2024, 1, 2), None],
        Oid.TIMESTAMPTZ_ARRAY: [dt.datetime(2024, 1, 2, tzinfo=UTC), None],
        Oid.INTERVAL_ARRAY: [dt.timedelta(days=2), None],
        Oid.UUID_ARRAY: [uuid.UUID(int=5), None],
        Oid.JSONB_ARRAY: [Jsonb({"a": 1}), None],
    }
    for array_oid, value in values.items():
        oid, code, data = dump(value, PyFormat.BINARY)
        assert (oid, code) == (array_oid, BINARY)
        returned = select(engine, decode_parameter(oid, code, data))
        if array_oid == Oid.JSONB_ARRAY:
            returned = [json.loads(v) if v else v for v in returned]
        assert returned == _normalise(value), array_oid


def test_binary_parameters_of_edge_values(engine: duckdb.DuckDBPyConnection) -> None:
    def run(oid: int, data: bytes) -> Any:
        return select(engine, decode_parameter(oid, BINARY, data))

    assert run(Oid.DATE, struct.pack(">i", 2**31 - 1)) == dt.date.max  # DuckDB's infinity
    assert run(Oid.TIMESTAMP, struct.pack(">q", -(2**63))) == dt.datetime.min
    days = pg_types.days_from_civil(-43, 3, 15) - pg_types.days_from_civil(2000, 1, 1)
    assert run(Oid.DATE, struct.pack(">i", days)) == "0044-03-15 (BC)"
    assert run(Oid.TIMETZ, struct.pack(">qi", 3_723_000_000, -19800)) == dt.time(
        1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    )
    assert run(Oid.INTERVAL, struct.pack(">qii", 1, 2, 3)) == dt.timedelta(days=92, microseconds=1)
    # numeric: NaN has no DuckDB decimal; the engine reports it
    assert decode_parameter(Oid.NUMERIC, BINARY, b"\x00\x00\x00\x00\xc0\x00\x00\x00").sql(
        "duckdb"
    ) == ("CAST('NaN' AS DECIMAL)")
    # numeric_recv truncates digits hidden by dscale
    hidden = struct.pack(">hhHHhh", 2, 0, 0, 1, 1, 2345)  # 1.2345 with dscale 1
    assert run(Oid.NUMERIC, hidden) == Decimal("1.2")
    # 2-D binary array
    data = struct.pack(">iiIiiii", 2, 0, 23, 2, 1, 2, 1) + b"".join(
        struct.pack(">ii", 4, v) for v in (1, 2, 3, 4)
    )
    assert run(Oid.INT4_ARRAY, data) == [[1, 2], [3, 4]]
    # what our own encoder sends comes back
    batch, expected = duck("SELECT [[1.5::DOUBLE, NULL], [3, 4]] AS a, ['x', NULL, ''] AS b")
    row = next(PgEncoder(batch.schema, BINARY).encode_rows(batch))
    assert run(Oid.FLOAT8_ARRAY, row[0]) == expected[0][0]
    assert run(Oid.TEXT_ARRAY, row[1]) == expected[0][1]


@settings(max_examples=400, deadline=None)
@given(
    value=st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",))),
    fmt=st.sampled_from([PyFormat.TEXT, PyFormat.BINARY]),
)
def test_scalar_parameters_round_trip(value: Any, fmt: PyFormat) -> None:
    oid, code, data = dump(value, fmt)
    returned = select(_ENGINE, decode_parameter(oid, code, data))
    assert _same(returned, value)
    assert type(returned) is type(value) or value is None
    if isinstance(value, float) and not math.isnan(value):
        assert math.copysign(1, returned) == math.copysign(1, value)
