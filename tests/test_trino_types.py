"""Arrow -> Trino JSON encoding, checked by decoding with the real `trino` client.

Result sets come from DuckDB; the encoder's JSON goes through the trino client's own
row mapper, and the decoded values must equal what DuckDB's Python API returns for the
same query, except where the Trino type system differs (noted at each test).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import struct
import uuid
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st
from trino.mapper import RowMapperFactory

from qflux.frontends import trino_types
from qflux.frontends.trino_types import TrinoEncoder

LOSSLESS = "SET arrow_lossless_conversion = true"

DUMPERS = [trino_types.dumps_stdlib]
if trino_types.orjson is not None:
    DUMPERS.append(trino_types.dumps_orjson)


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {name} in output")


def duck(sql: str, *setup: str) -> tuple[pa.RecordBatch, list[tuple[Any, ...]]]:
    """The query's result as one Arrow batch, and as DuckDB's Python API returns it."""
    con = duckdb.connect()
    for statement in setup:
        con.execute(statement)
    table = con.sql(sql).to_arrow_table().combine_chunks()
    batches = table.to_batches()
    batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
    return batch, con.execute(sql).fetchall()


def roundtrip(
    batch: pa.RecordBatch,
    *,
    encoder: TrinoEncoder | None = None,
    legacy: bool = False,
) -> tuple[TrinoEncoder, list[list[Any]], list[list[Any]]]:
    """Encode, parse strictly, decode with the trino client: (encoder, wire rows, decoded)."""
    encoder = encoder or TrinoEncoder(batch.schema, batch)
    payload = encoder.encode_rows(batch)
    wire = json.loads(payload, parse_constant=_reject_constant)
    for dump in DUMPERS:
        # Every serialiser writes the same JSON values as the Python-level rows.
        rows = encoder.encode_value_rows(batch)
        assert json.loads(dump(rows), parse_constant=_reject_constant) == wire
    mapper = RowMapperFactory().create(columns=encoder.columns, legacy_primitive_types=legacy)
    return encoder, wire, mapper.map(wire)


def same(actual: Any, expected: Any) -> bool:
    """Value equality that treats NaN as equal, rows as sequences and structs as rows."""
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, dict) and isinstance(actual, tuple):
        # DuckDB returns a struct as a dict; the trino client returns a row tuple.
        return same(actual, tuple(expected.values()))
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    # Otherwise plain equality: Decimal == int (HUGEINT), aware datetimes by instant.
    return bool(actual == expected)


def assert_rows(decoded: list[list[Any]], expected: list[tuple[Any, ...]]) -> None:
    assert len(decoded) == len(expected)
    for got, want in zip(decoded, expected, strict=True):
        assert same(list(got), list(want)), f"{got!r} != {want!r}"


def types_of(encoder: TrinoEncoder) -> list[str]:
    return [c["type"] for c in encoder.columns]


# --- scalar types, decoded against DuckDB -----------------------------------------------


def test_integers_and_boolean() -> None:
    batch, expected = duck(
        """select * from (values
            (true, (-128)::tinyint, (-32768)::smallint, (-2147483648)::int,
             (-9223372036854775808)::bigint,
             0::utinyint, 0::usmallint, 0::uinteger, 0::ubigint),
            (false, 127::tinyint, 32767::smallint, 2147483647::int, 9223372036854775807::bigint,
             255::utinyint, 65535::usmallint, 4294967295::uinteger, 18446744073709551615::ubigint),
            (null, null, null, null, null, null, null, null, null)
        ) t(b, i1, i2, i4, i8, u1, u2, u4, u8)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "boolean", "tinyint", "smallint", "integer", "bigint",
        "smallint", "integer", "bigint", "decimal(20,0)",
    ]  # fmt: skip
    assert wire[1][4] == 9223372036854775807
    assert wire[1][8] == "18446744073709551615"  # decimals travel as strings
    assert_rows(decoded, expected)


def test_double_special_values() -> None:
    batch, expected = duck(
        """select * from (values (1.5::double), ('nan'::double), ('inf'::double),
            ('-inf'::double), (-0.0::double), (1e300::double), (5e-324::double), (null))
        t(d)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["double"]
    assert [r[0] for r in wire][1:4] == ["NaN", "Infinity", "-Infinity"]
    assert_rows(decoded, expected)
    assert math.copysign(1.0, decoded[4][0]) == -1.0


def test_real_is_written_in_shortest_float32_form() -> None:
    batch, expected = duck(
        """select * from (values (0.1::real), (1.5::real), ('nan'::real), ('-inf'::real),
            (3.4028235e38::real), (1e-45::real), (null)) t(r)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["real"]
    assert wire[0] == [0.1]  # Float.toString(0.1f), not 0.10000000149011612
    assert wire[2:4] == [["NaN"], ["-Infinity"]]
    # Trino's real decodes to the shortest double; as float32 it is DuckDB's value.
    for (got,), (want,) in zip(decoded, expected, strict=True):
        if want is None or math.isnan(want):
            assert same(got, want)
        else:
            assert struct.pack("<f", got) == struct.pack("<f", want)


def test_decimals() -> None:
    batch, expected = duck(
        """select * from (values
            (1.5::decimal(4,1), -0.05::decimal(10,2), 0::decimal(18,3),
             -12345678901234567890.123456789::decimal(38,9),
             99999999999999999999999999999999999999::decimal(38,0),
             -170141183460469231731687303715884105727::hugeint),
            (-999.9::decimal(4,1), 0.5::decimal(10,2), -1.001::decimal(18,3),
             0.000000001::decimal(38,9), -1::decimal(38,0), 12::hugeint),
            (null, null, null, null, null, null)
        ) t(a, b, c, d, e, h)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "decimal(4,1)", "decimal(10,2)", "decimal(18,3)", "decimal(38,9)",
        "decimal(38,0)", "decimal(38,0)",
    ]  # fmt: skip
    assert encoder.columns[1]["typeSignature"] == {
        "rawType": "decimal",
        "arguments": [{"kind": "LONG", "value": 10}, {"kind": "LONG", "value": 2}],
    }
    assert wire[0][:3] == ["1.5", "-0.05", "0.000"]
    assert wire[0][3] == "-12345678901234567890.123456789"
    assert_rows(decoded, expected)


def test_decimal_precision_above_38_is_declared_38_and_written_exactly() -> None:
    big = Decimal("-1234567890123456789012345678901234567890.1234567890")
    batch = pa.record_batch({"d": pa.array([big, None], pa.decimal256(60, 10))})
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["decimal(38,10)"]
    assert wire[0] == [str(big)]
    assert decoded[0][0] == big


def test_negative_scale_decimal_is_plain_digits() -> None:
    batch = pa.record_batch({"d": pa.array([Decimal("1.2E+3")], pa.decimal128(5, -2))})
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["decimal(7,0)"]
    assert wire == [["1200"]]
    assert decoded == [[Decimal(1200)]]


def test_varchar_and_char() -> None:
    batch, expected = duck(
        """select * from (values
            ('plain', 'ab'::char(3)),
            ('unicode: héllo, 日本語, 🦆, e\u0301', 'x'::char(3)),
            ('quotes " and \\ backslash and ''single''', null),
            ('controls: ' || chr(0) || chr(1) || chr(9) || chr(10) || chr(13) || chr(31)
                || chr(127) || chr(8232) || chr(8233), 'abc'::char(3)),
            ('', ''::char(3)),
            (null, null)
        ) t(s, c)"""
    )
    encoder, _, decoded = roundtrip(batch)
    # DuckDB's CHAR(n) is an unpadded VARCHAR alias, so it stays varchar.
    assert types_of(encoder) == ["varchar", "varchar"]
    assert encoder.columns[0]["typeSignature"] == {
        "rawType": "varchar",
        "arguments": [{"kind": "LONG", "value": 2147483647}],
    }
    assert_rows(decoded, expected)
    raw = encoder.encode_rows(batch)
    assert "日本語".encode() in raw  # not \\u-escaped
    assert b"\\u0000" in raw and b"\\n" in raw


def test_varbinary_is_base64() -> None:
    batch, expected = duck(
        r"""select * from (values ('\x00\xFF\x10abc'::blob), (''::blob), (null)) t(b)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["varbinary"]
    assert wire[0] == [base64.b64encode(b"\x00\xff\x10abc").decode()]
    assert_rows(decoded, expected)


def test_dates() -> None:
    batch, expected = duck(
        """select * from (values (date '1970-01-01'), (date '1969-12-31'), (date '0001-01-01'),
            (date '9999-12-31'), (date '2024-02-29'), (date '1582-10-04'), (null)) t(d)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["date"]
    assert wire[2] == ["0001-01-01"]
    assert_rows(decoded, expected)


def test_time() -> None:
    batch, expected = duck(
        """select * from (values (time '00:00:00', '01:02:03.5'::time_ns),
            (time '23:59:59.999999', '23:59:59.123456'::time_ns),
            (time '12:34:56.000001', '00:00:00'::time_ns), (null, null)) t(t, tn)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["time(6)", "time(9)"]
    assert encoder.columns[0]["typeSignature"] == {
        "rawType": "time",
        "arguments": [{"kind": "LONG", "value": 6}],
    }
    assert wire[0] == ["00:00:00.000000", "01:02:03.500000000"]
    assert_rows(decoded, expected)


def test_time_precisions_from_arrow_units() -> None:
    t = dt.time(1, 2, 3, 456000)
    batch = pa.record_batch(
        {
            "s": pa.array([dt.time(1, 2, 3), None], pa.time32("s")),
            "ms": pa.array([t, None], pa.time32("ms")),
        }
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["time(0)", "time(3)"]
    assert wire == [["01:02:03", "01:02:03.456"], [None, None]]
    assert decoded == [[dt.time(1, 2, 3), t], [None, None]]


def test_timestamps_of_every_precision() -> None:
    batch, expected = duck(
        """select * from (values
            (timestamp_s '2024-01-02 03:04:05', timestamp_ms '2024-01-02 03:04:05.123',
             timestamp '2024-01-02 03:04:05.123456', timestamp_ns '2024-01-02 03:04:05.123456000'),
            (timestamp_s '0001-01-01 00:00:00', timestamp_ms '1969-12-31 23:59:59.999',
             timestamp '1900-02-28 12:00:00.000001', timestamp_ns '1969-12-31 23:59:59.999999000'),
            (null, null, null, null)
        ) t(s, ms, us, ns)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["timestamp(0)", "timestamp(3)", "timestamp(6)", "timestamp(9)"]
    assert wire[0] == [
        "2024-01-02 03:04:05",
        "2024-01-02 03:04:05.123",
        "2024-01-02 03:04:05.123456",
        "2024-01-02 03:04:05.123456000",
    ]
    assert wire[1][0] == "0001-01-01 00:00:00"
    assert_rows(decoded, expected)


def test_timestamp_ns_digits_reach_the_client() -> None:
    # Python's datetime stops at microseconds: the client rounds, DuckDB truncates.
    batch, _ = duck("select timestamp_ns '2024-01-02 03:04:05.123456789' ts")
    _, wire, decoded = roundtrip(batch)
    assert wire == [["2024-01-02 03:04:05.123456789"]]
    assert decoded == [[dt.datetime(2024, 1, 2, 3, 4, 5, 123457)]]


@pytest.mark.parametrize(
    ("zone", "trino_zone"),
    [
        ("America/New_York", "America/New_York"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("Asia/Kolkata", "Asia/Kolkata"),
    ],
)
def test_timestamp_with_time_zone(zone: str, trino_zone: str) -> None:
    batch, expected = duck(
        """select * from (values (timestamptz '2024-07-01 12:00:00.123456+00'),
            (timestamptz '2024-01-01 12:00:00+00'), (timestamptz '1900-01-01 00:00:00+00'),
            (timestamptz '1969-12-31 23:59:59.5+00'), (null)) t(ts)""",
        f"SET TimeZone = '{zone}'",
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["timestamp(6) with time zone"]
    assert encoder.columns[0]["typeSignature"] == {
        "rawType": "timestamp with time zone",
        "arguments": [{"kind": "LONG", "value": 6}],
    }
    assert all(row[0].endswith(" " + trino_zone) for row in wire[:-1])
    assert_rows(decoded, expected)  # same instants
    assert decoded[0][0].utcoffset() == expected[0][0].utcoffset()


def test_timestamp_with_time_zone_wall_clock_text() -> None:
    batch, _ = duck(
        "select timestamptz '2024-07-01 12:00:00.123456+00' ts", "SET TimeZone='America/New_York'"
    )
    _, wire, _ = roundtrip(batch)
    assert wire == [["2024-07-01 08:00:00.123456 America/New_York"]]


def test_timestamp_with_fixed_offset_and_utc_aliases() -> None:
    instant = dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=dt.UTC)
    batch = pa.record_batch(
        {
            "kolkata": pa.array([instant], pa.timestamp("ms", tz="+05:30")),
            "etc": pa.array([instant], pa.timestamp("s", tz="Etc/UTC")),
            "minus": pa.array([instant], pa.timestamp("ns", tz="-08:00")),
        }
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "timestamp(3) with time zone",
        "timestamp(0) with time zone",
        "timestamp(9) with time zone",
    ]
    assert wire == [
        [
            "2024-01-02 08:34:05.123 +05:30",
            "2024-01-02 03:04:05 UTC",
            "2024-01-01 19:04:05.123000000 -08:00",
        ]
    ]
    assert decoded[0][0] == instant
    assert decoded[0][1] == instant.replace(microsecond=0)
    assert decoded[0][2] == instant


@pytest.mark.parametrize(
    ("arrow_tz", "trino"),
    [
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("Z", "UTC"),
        ("+00:00", "UTC"),
        ("GMT", "UTC"),
        ("+05:30", "+05:30"),
        ("-0800", "-08:00"),
        ("Etc/GMT+5", "-05:00"),
        ("UTC+3", "+03:00"),
        ("Europe/Berlin", "Europe/Berlin"),
    ],
)
def test_zone_ids_follow_trino(arrow_tz: str, trino: str) -> None:
    assert trino_types.trino_zone_id(arrow_tz) == trino


def test_time_with_time_zone_from_duckdb() -> None:
    batch, expected = duck(
        """select * from (values (timetz '01:02:03.456789+05:30'), (timetz '23:59:59-07:00'),
            (timetz '12:00:00+00'), (null)) t(t)""",
        LOSSLESS,
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["time(6) with time zone"]
    assert wire[0] == ["01:02:03.456789+05:30"]
    assert wire[1] == ["23:59:59.000000-07:00"]
    assert_rows(decoded, expected)


# --- intervals ------------------------------------------------------------------------


def test_interval_day_to_second() -> None:
    batch, expected = duck(
        """select * from (values (interval '90 minutes'), (interval '-1 day 02:00:00'),
            (interval '25 hours'), (interval '1.5 seconds'), (interval '0 seconds'),
            (interval '-3 days -00:00:00.001'), (null)) t(i)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["interval day to second"]
    assert encoder.columns[0]["typeSignature"] == {
        "rawType": "interval day to second",
        "arguments": [],
    }
    assert wire[0] == ["0 01:30:00.000"]
    assert wire[2] == ["1 01:00:00.000"]
    assert wire[5] == ["-3 00:00:00.001"]
    assert_rows(decoded, expected)


def test_interval_day_to_second_truncates_below_milliseconds() -> None:
    batch, _ = duck(
        "select * from (values (interval '0.0015 seconds'), (interval '-0.0015 seconds')) t(i)"
    )
    _, wire, decoded = roundtrip(batch)
    assert wire == [["0 00:00:00.001"], ["-0 00:00:00.001"]]
    assert decoded == [[dt.timedelta(milliseconds=1)], [dt.timedelta(milliseconds=-1)]]


def test_interval_year_to_month() -> None:
    # DuckDB's Python API turns months into 30-day timedeltas; Trino clients keep months.
    batch, expected = duck(
        """select i, datepart('year', i) * 12 + datepart('month', i) n_months from (values
            (interval '1 year 2 months'), (interval '-14 months'), (interval '3 months'),
            (interval '0 months'), (null)) t(i)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["interval year to month", "bigint"]
    assert [r[0] for r in wire] == ["1-2", "-1-2", "0-3", "0-0", None]
    for (got, _), (_, months) in zip(decoded, expected, strict=True):
        assert got == (None if months is None else relativedelta(months=months))


def test_nested_intervals_are_typed_from_the_sample() -> None:
    batch, _ = duck(
        """select * from (values ([interval '1 year', null], {'i': interval '2 hours'}),
            ([interval '-2 months'], null)) t(l, r)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "array(interval year to month)",
        "row(i interval day to second)",
    ]
    assert wire == [[["1-0", None], ["0 02:00:00.000"]], [["-0-2"], None]]
    assert decoded[0] == [[relativedelta(years=1), None], (dt.timedelta(hours=2),)]


def test_mixed_interval_is_varchar_in_duckdb_text() -> None:
    batch, expected = duck(
        """select i, i::varchar from (values (interval '1 year 2 months 3 days 04:05:06.789'),
            (interval '-1 year -2 months -3 days -04:05:06.789'), (interval '1 month -1 day'),
            (interval '0 seconds'), (interval '-25 hours 0.000001 seconds'),
            (interval '13 months 1 hour'), (null)) t(i)"""
    )
    encoder, _, decoded = roundtrip(batch)
    assert types_of(encoder) == ["varchar", "varchar"]
    assert [r[0] for r in decoded] == [r[1] for r in expected]


def test_interval_that_does_not_fit_the_chosen_type_raises() -> None:
    months, _ = duck("select interval '2 months' i")
    days, _ = duck("select interval '2 days' i")
    with pytest.raises(ValueError, match="interval year to month"):
        TrinoEncoder(months.schema, months).encode_rows(days)
    with pytest.raises(ValueError, match="interval day to second"):
        TrinoEncoder(days.schema, days).encode_rows(months)
    # Without a sample (or with only nulls) the column is day to second.
    assert types_of(TrinoEncoder(days.schema)) == ["interval day to second"]


def test_duration_is_interval_day_to_second() -> None:
    values = [dt.timedelta(days=2, hours=3, milliseconds=7), -dt.timedelta(seconds=1), None]
    batch = pa.record_batch(
        {unit: pa.array(values, pa.duration(unit)) for unit in ("ms", "us", "ns")}
        | {"s": pa.array([dt.timedelta(days=-1), None, None], pa.duration("s"))}
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["interval day to second"] * 4
    assert wire[0] == ["2 03:00:00.007"] * 3 + ["-1 00:00:00.000"]
    assert [row[:3] for row in decoded] == [[v] * 3 for v in values]


# --- structural types -----------------------------------------------------------------


def test_arrays() -> None:
    batch, expected = duck(
        """select * from (values
            ([1, null, 3], [[1], [2, null], null, []], ['a', null], [1.5, 2.25]::decimal(5,2)[],
             [timestamp '2024-01-01 00:00:00'], ['nan'::double, 1], [1, 2]::int[2]),
            ([], null, [], [], [], [], [3, null]::int[2]),
            (null, [null], null, null, null, null, null)
        ) t(a, nested, s, d, ts, f, fixed)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "array(integer)", "array(array(integer))", "array(varchar)", "array(decimal(5,2))",
        "array(timestamp(6))", "array(double)", "array(integer)",
    ]  # fmt: skip
    assert encoder.columns[1]["typeSignature"] == {
        "rawType": "array",
        "arguments": [
            {
                "kind": "TYPE",
                "value": {
                    "rawType": "array",
                    "arguments": [
                        {"kind": "TYPE", "value": {"rawType": "integer", "arguments": []}}
                    ],
                },
            }
        ],
    }
    assert wire[0][3] == ["1.50", "2.25"]
    assert wire[0][5] == ["NaN", 1.0]
    assert_rows(decoded, expected)


def test_maps() -> None:
    batch, expected = duck(
        """select * from (values
            (map {'a': 1.5, 'b': null}, map {1: 'x', -2: 'y'}, map {1.5: 'a'}::map(double, varchar),
             map {date '2024-01-01': [1, 2]}, map {true: timestamp '2024-01-01 01:02:03'},
             map {'k': map {'n': 1}}),
            (map {}, map {}, map {'nan'::double: 'n'}::map(double, varchar), null, null, null),
            (null, null, null, null, null, null)
        ) t(m1, m2, m3, m4, m5, m6)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "map(varchar, decimal(2,1))", "map(integer, varchar)", "map(double, varchar)",
        "map(date, array(integer))", "map(boolean, timestamp(6))",
        "map(varchar, map(varchar, integer))",
    ]  # fmt: skip
    assert encoder.columns[1]["typeSignature"]["arguments"] == [
        {"kind": "TYPE", "value": {"rawType": "integer", "arguments": []}},
        {
            "kind": "TYPE",
            "value": {"rawType": "varchar", "arguments": [{"kind": "LONG", "value": 2147483647}]},
        },
    ]
    # Keys are JSON strings, spelled as Trino's toString spells them.
    assert wire[0][:5] == [
        {"a": "1.5", "b": None},
        {"1": "x", "-2": "y"},
        {"1.5": "a"},
        {"2024-01-01": [1, 2]},
        {"true": "2024-01-01 01:02:03.000000"},
    ]
    assert wire[1][2] == {"NaN": "n"}
    assert_rows([row[:2] + row[3:] for row in decoded], [row[:2] + row[3:] for row in expected])
    assert decoded[0][2] == {1.5: "a"}
    assert math.isnan(next(iter(decoded[1][2])))


def test_map_keys_use_java_double_text() -> None:
    keys = [1.0, 1e20, 1.5e-7, 12345678.0, -0.0, float("inf"), 0.001]
    batch = pa.record_batch(
        {
            "m": pa.array(
                [list(zip(keys, range(len(keys)), strict=True))], pa.map_(pa.float64(), pa.int8())
            )
        }
    )
    _, wire, decoded = roundtrip(batch)
    assert list(wire[0][0]) == [
        "1.0", "1.0E20", "1.5E-7", "1.2345678E7", "-0.0", "Infinity", "0.001",
    ]  # fmt: skip
    assert list(decoded[0][0]) == keys


def test_rows() -> None:
    batch, expected = duck(
        """select * from (values
            ({'x': {'y': [1, null]}, 'z': 'a'}, {'A b': 1.5::decimal(3,1), 'select': null}),
            ({'x': null, 'z': null}, null),
            (null, {'A b': null, 'select': timestamp '2024-01-01 00:00:00'})
        ) t(r, q)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "row(x row(y array(integer)), z varchar)",
        'row("A b" decimal(3,1), select timestamp(6))',
    ]
    x_field = encoder.columns[0]["typeSignature"]["arguments"][0]
    assert x_field["kind"] == "NAMED_TYPE"
    assert x_field["value"]["fieldName"] == {"name": "x", "delimited": False}
    assert x_field["value"]["typeSignature"]["rawType"] == "row"
    assert wire[0] == [[[[1, None]], "a"], ["1.5", None]]  # positional JSON arrays
    assert_rows(decoded, expected)
    assert decoded[0][0].z == "a"
    assert decoded[0][0].x.y == [1, None]


def test_enum_and_union() -> None:
    batch, expected = duck(
        """select * from (values
            ('b'::enum('a', 'b'), union_value(k := 1)::union(k int, s varchar),
             union_value(a := 7)::union(a int, b int)),
            ('a'::enum('a', 'b'), union_value(s := 'x')::union(k int, s varchar),
             union_value(b := 8)::union(a int, b int)),
            (null, null, null)
        ) t(e, u, same)"""
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["varchar", "varchar", "integer"]
    # A union of different member types is the member's text.
    assert [r[1] for r in wire] == ["1", "x", None]
    assert_rows(decoded, [(e, None if u is None else str(u), same) for e, u, same in expected])


def test_bit_from_lossless_duckdb() -> None:
    # Only lossless conversion marks BIT; otherwise it is DuckDB's raw bytes (varbinary).
    batch, expected = duck(
        """select * from (values ('1'::bit), ('00000000'::bit), ('0000000011'::bit), (null))
            t(b)""",
        LOSSLESS,
    )
    encoder, _, decoded = roundtrip(batch)
    assert types_of(encoder) == ["varchar"]
    assert_rows(decoded, expected)


def test_json_and_uuid() -> None:
    sql = """select * from (values
        ('{"a": [1, 2], "b": "é"}'::json, uuid '12345678-1234-5678-1234-567812345678'),
        ('[]'::json, uuid '00000000-0000-0000-0000-000000000000'),
        (null, null)) t(j, u)"""
    batch, expected = duck(sql, LOSSLESS)
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["json", "uuid"]
    assert wire[0] == ['{"a": [1, 2], "b": "é"}', "12345678-1234-5678-1234-567812345678"]
    assert_rows(decoded, expected)
    assert isinstance(decoded[0][1], uuid.UUID)

    # Without lossless conversion DuckDB sends both as plain strings: varchar.
    batch, expected = duck(sql)
    encoder, _, decoded = roundtrip(batch)
    assert types_of(encoder) == ["varchar", "varchar"]
    assert_rows(decoded, [(j, None if u is None else str(u)) for j, u in expected])


def test_json_and_uuid_marked_by_field_metadata() -> None:
    marker = b"ARROW:extension:name"
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    schema = pa.schema(
        [
            pa.field("j", pa.string(), metadata={marker: b"arrow.json"}),
            pa.field("u", pa.binary(16), metadata={marker: b"arrow.uuid"}),
        ]
    )
    batch = pa.record_batch(
        [pa.array(['{"k":1}', None]), pa.array([value.bytes, None], pa.binary(16))], schema=schema
    )
    encoder, _, decoded = roundtrip(batch)
    assert types_of(encoder) == ["json", "uuid"]
    assert decoded == [['{"k":1}', value], [None, None]]


def test_wide_integers_from_lossless_duckdb() -> None:
    batch, expected = duck(
        """select * from (values
            (170141183460469231731687303715884105727::hugeint,
             340282366920938463463374607431768211455::uhugeint,
             '-123456789012345678901234567890123456789012345'::varint),
            (-170141183460469231731687303715884105727::hugeint - 1, 0::uhugeint, '255'::varint),
            (0::hugeint, 1::uhugeint, '-256'::varint),
            (null, null, null)
        ) t(h, u, v)""",
        LOSSLESS,
    )
    encoder, wire, decoded = roundtrip(batch)
    assert types_of(encoder) == ["decimal(38,0)"] * 3
    assert wire[0][1] == "340282366920938463463374607431768211455"
    # DuckDB returns BIGNUM as its text.
    expected = [(h, u, None if v is None else Decimal(v)) for h, u, v in expected]
    assert_rows(decoded, expected)


def test_null_of_every_type() -> None:
    types = [
        "boolean", "tinyint", "smallint", "integer", "bigint", "real", "double",
        "decimal(10,2)", "decimal(38,5)", "varchar", "blob", "date", "time", "timestamp_s",
        "timestamp_ms", "timestamp", "timestamp_ns", "timestamptz", "interval", "int[]",
        "map(varchar, int)", "struct(a int)", "json", "uuid", "timetz", "hugeint",
    ]  # fmt: skip
    sql = "select " + ", ".join(f"null::{t} c{i}" for i, t in enumerate(types)) + ", null n"
    batch, expected = duck(sql, LOSSLESS)
    encoder, wire, decoded = roundtrip(batch)
    assert wire == [[None] * (len(types) + 1)]
    assert decoded == [[None] * (len(types) + 1)]
    assert expected == [(None,) * (len(types) + 1)]
    assert types_of(encoder)[-1] == "unknown"
    assert encoder.columns[-1]["typeSignature"] == {"rawType": "unknown", "arguments": []}


def test_legacy_primitive_types_returns_trino_strings() -> None:
    batch, _ = duck(
        r"""select 1.50::decimal(5,2) d, 'nan'::double n, timestamp '2024-01-02 03:04:05.5' ts,
            date '2024-01-02' dt, '\x01\x02'::blob b, interval '90 minutes' i,
            [1.5]::decimal(3,1)[] a,
            timestamptz '2024-01-02 03:04:05+00' tz""",
        "SET TimeZone = 'UTC'",
    )
    _, wire, decoded = roundtrip(batch, legacy=True)
    assert decoded == wire
    assert decoded == [
        [
            "1.50",
            "NaN",
            "2024-01-02 03:04:05.500000",
            "2024-01-02",
            "AQI=",
            "0 01:30:00.000",
            ["1.5"],
            "2024-01-02 03:04:05.000000 UTC",
        ]
    ]


# --- batch shapes and layouts ---------------------------------------------------------


def test_many_batches_and_slices() -> None:
    con = duckdb.connect()
    sql = """select i, [i, null] l, {'a': i::varchar} s, map {i: [i]} m, i::decimal(10,2) d,
        case when i % 3 = 0 then null else union_value(k := i)::union(k int, v varchar) end u
        from range(1000) t(i)"""
    # The union mixes member types, so it travels as the member's text.
    expected = [
        (*row[:5], None if row[5] is None else str(row[5])) for row in con.execute(sql).fetchall()
    ]
    reader = con.sql(sql).to_arrow_reader(100)
    decoded: list[list[Any]] = []
    encoder: TrinoEncoder | None = None
    for batch in reader:
        encoder = encoder or TrinoEncoder(reader.schema, batch)
        decoded.extend(roundtrip(batch, encoder=encoder)[2])
    assert_rows(decoded, expected)

    # Slices share buffers with non-zero offsets at every nesting level.
    table = con.sql(sql).to_arrow_table().combine_chunks().to_batches()[0]
    encoder = TrinoEncoder(table.schema, table)
    for start, length in [(1, 5), (7, 0), (333, 100), (999, 1)]:
        part = roundtrip(table.slice(start, length), encoder=encoder)[2]
        assert_rows(part, expected[start : start + length])


def test_alternative_duckdb_arrow_layouts() -> None:
    sql = r"""select * from (values (['a', null], 'x', '\x01'::blob, [[1]]), (null, null, null, []))
        t(l, s, b, n)"""
    _, expected = duck(sql)
    for setting in [
        "SET arrow_output_list_view = true",
        "SET arrow_output_version = '1.5'",
        "SET arrow_large_buffer_size = true",
    ]:
        batch, _ = duck(sql, setting)
        encoder, _, decoded = roundtrip(batch)
        assert types_of(encoder) == [
            "array(varchar)",
            "varchar",
            "varbinary",
            "array(array(integer))",
        ]
        assert_rows(decoded, expected)


def test_arrow_only_layouts() -> None:
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array([1, 0, None, 1], pa.int8()), pa.array(["a", "b"])
    )
    ree = pa.RunEndEncodedArray.from_arrays(pa.array([2, 4], pa.int32()), pa.array([1.5, None]))
    dense = pa.UnionArray.from_dense(
        pa.array([0, 1, 0, 1], pa.int8()),
        pa.array([0, 0, 1, 1], pa.int32()),
        [pa.array([1, 2], pa.int64()), pa.array([None, 4], pa.int64())],
    )
    batch = pa.record_batch(
        {
            "dict": dictionary,
            "ree": ree,
            "dense": dense,
            "half": pa.array([1.5, None, -2.0, 0.0], pa.float16()),
            "large": pa.array([[1], None, [], [2, 3]], pa.large_list(pa.int16())),
            "fsb": pa.array([b"ab", b"cd", None, b"ef"], pa.binary(2)),
            "bool8": pa.ExtensionArray.from_storage(
                pa.bool8(), pa.array([1, 0, None, 1], pa.int8())
            ),
            "date64": pa.array(
                [dt.date(2024, 1, 2), None, dt.date(1, 1, 1), dt.date(1969, 7, 20)], pa.date64()
            ),
        }
    )
    encoder, _, decoded = roundtrip(batch)
    assert types_of(encoder) == [
        "varchar", "double", "bigint", "real", "array(smallint)", "varbinary", "boolean", "date",
    ]  # fmt: skip
    assert decoded == [
        ["b", 1.5, 1, 1.5, [1], b"ab", True, dt.date(2024, 1, 2)],
        ["a", 1.5, None, None, None, b"cd", False, None],
        [None, None, 2, -2.0, [], None, None, dt.date(1, 1, 1)],
        ["b", None, 4, 0.0, [2, 3], b"ef", True, dt.date(1969, 7, 20)],
    ]
    assert roundtrip(batch.slice(1, 2), encoder=encoder)[2] == decoded[1:3]


def test_empty_results() -> None:
    batch, _ = duck("select 1::int a, 'x' b where false")
    encoder = TrinoEncoder(batch.schema, batch)
    assert encoder.encode_rows(batch) == b"[]"
    assert types_of(encoder) == ["integer", "varchar"]

    no_columns = pa.RecordBatch.from_pydict({}).slice(0, 0)
    encoder = TrinoEncoder(no_columns.schema)
    assert encoder.columns == []
    assert encoder.encode_rows(no_columns) == b"[]"


def test_column_descriptor_shape() -> None:
    batch, _ = duck('select 1::bigint "Total Count"')
    encoder = TrinoEncoder(batch.schema)
    assert encoder.columns == [
        {
            "name": "Total Count",
            "type": "bigint",
            "typeSignature": {"rawType": "bigint", "arguments": []},
        }
    ]


def test_mismatched_batch_is_rejected() -> None:
    batch, _ = duck("select 1 a, 2 b")
    encoder = TrinoEncoder(batch.schema)
    with pytest.raises(ValueError, match="columns"):
        encoder.encode_rows(batch.select([0]))


# --- property test --------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=20)  # no lone surrogates


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.floats(allow_nan=True, allow_infinity=True),
            st.none() | _text,
            st.none() | st.booleans(),
        ),
        max_size=30,
    )
)
def test_random_primitives_round_trip(rows: list[tuple[Any, ...]]) -> None:
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    batch = pa.record_batch(
        [
            pa.array(columns[0], pa.int64()),
            pa.array(columns[1], pa.float64()),
            pa.array(columns[2], pa.string()),
            pa.array(columns[3], pa.bool_()),
        ],
        names=["i", "f", "s", "b"],
    )
    encoder, _, decoded = roundtrip(batch)
    assert types_of(encoder) == ["bigint", "double", "varchar", "boolean"]
    assert_rows(decoded, rows)
