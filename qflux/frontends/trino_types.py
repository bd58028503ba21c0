"""Arrow results as Trino client-protocol columns and JSON row data.

The Trino HTTP frontend answers with `columns` (name, type string, typeSignature) and
`data` (a JSON array of rows). Clients (the `trino` Python client, the JDBC driver) pick
a decoder from each column's typeSignature and parse the values as the Trino server
writes them, so every value must be written the way the server writes it:

- booleans, tinyint..bigint and finite doubles/reals are JSON literals; NaN and
  +/-Infinity are the strings "NaN", "Infinity", "-Infinity" (Jackson's quoting);
- decimal, date, time, timestamp, intervals and uuid are strings in Trino's text
  form; varbinary is base64; json is a string holding the JSON text;
- array is a JSON array, map a JSON object whose keys are strings (Trino writes
  `key.toString()`), row a JSON array of its fields in order.

Encoding is column-wise: each Arrow column becomes one Python list with as few
per-value Python calls as possible (plain `to_pylist()` for ints, strings, bools and
finite floats; Arrow casts for decimals, dates and timestamps), and rows are zipped
from those lists. Nested columns encode their flattened children once and slice.
The rows are serialised by orjson when it is installed (the `trino` client depends
on it; about 3x the end-to-end throughput) and by the stdlib encoder otherwise;
both write the same JSON values.

Mapping decisions where Arrow and Trino differ (kept here so they are reviewed in
one place):

- decimal precision above Trino's 38 (decimal256, DuckDB HUGEINT/UHUGEINT/BIGNUM) is
  declared as precision 38 while values are written exactly: clients parse the
  text with Decimal/BigDecimal, which carry any precision, so nothing is lost.
  A negative Arrow scale is rescaled to 0.
- uint64 is decimal(20,0) (bigint would overflow).
- real values are written in their shortest float32 form (0.1, not
  0.10000000149011612), as Java's Float.toString does.
- interval day to second has millisecond precision in Trino; finer Arrow
  durations/intervals are truncated toward zero.
- month_day_nano intervals are ambiguous from the schema alone and are typed from
  the sample batch (see `_interval_column`).
- map keys of type varbinary are written base64 (Trino writes a hex dump that no
  client decodes); keys of array/map/row type are written as compact JSON text.
- time with time zone offsets are written to the minute (Trino's resolution).
- DuckDB types without an Arrow equivalent arrive as `arrow.opaque` extension
  types (with `arrow_lossless_conversion`): TIME WITH TIME ZONE -> time(6) with
  time zone, BIT -> varchar ('1010'), HUGEINT/UHUGEINT/BIGNUM -> decimal(38,0).
  Without that setting DuckDB sends UUID and JSON as plain strings, which can only
  be varchar, and BIT as its raw bytes (varbinary): engines should enable it.
  ENUM (a dictionary) is varchar. A union whose members share one Trino type is
  that type; otherwise it is varchar holding the member's text (JSON text for
  non-string values).
- json values pass through as the engine wrote them (Trino would minify them).
- char(n) has no Arrow counterpart (DuckDB's CHAR is an unpadded VARCHAR), so
  nothing is ever typed char.
"""

from __future__ import annotations

import binascii
import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from qflux.frontends.arrow_util import is_list_type, union_rows

try:  # an optional accelerator: about 10x faster than the stdlib encoder on row data
    import orjson
except ImportError:  # pragma: no cover - depends on the installation
    orjson = None  # type: ignore[assignment]

__all__ = ["TrinoEncoder"]

Encode = Callable[[pa.Array], list[Any]]

VARCHAR_UNBOUNDED = 2_147_483_647
MAX_DECIMAL_PRECISION = 38

_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps_stdlib(rows: Sequence[Any]) -> bytes:
    """Compact UTF-8 JSON; refuses NaN, which no float reaching here may still be."""
    return _JSON_ENCODER.encode(rows).encode()


def dumps_orjson(rows: Sequence[Any]) -> bytes:
    """Same JSON as `dumps_stdlib` up to float spelling (`1e16` vs `1e+16`)."""
    return orjson.dumps(rows)


dump_rows: Callable[[Sequence[Any]], bytes] = dumps_orjson if orjson is not None else dumps_stdlib


@dataclass(frozen=True, slots=True)
class _Column:
    """How one Arrow type is described to and encoded for Trino clients."""

    type_name: str
    signature: dict[str, Any]
    encode: Encode
    # Turns this type's encoded values into map-key strings; None means `_key_text`.
    key_text: Callable[[list[Any]], list[str]] | None = field(default=None)


class TrinoEncoder:
    """Describes an Arrow schema as Trino columns and encodes batches as Trino JSON rows.

    The mapping is decided once, from the schema (and `sample`, the first batch, for
    the few types the schema leaves ambiguous), so every batch of a result is encoded
    the same way and the columns sent with the first page stay valid to the end.
    """

    def __init__(self, schema: pa.Schema, sample: pa.RecordBatch | None = None) -> None:
        if sample is not None and sample.num_columns != len(schema):
            raise ValueError(
                f"sample batch has {sample.num_columns} columns, schema has {len(schema)}"
            )
        self.schema = schema
        self._codecs = [
            _column_for(f, _column_of(sample, i) if sample is not None else None, f.name)
            for i, f in enumerate(schema)
        ]
        self.columns: list[dict[str, Any]] = [
            {"name": f.name, "type": c.type_name, "typeSignature": c.signature}
            for f, c in zip(schema, self._codecs, strict=True)
        ]

    def _encode_columns(self, batch: pa.RecordBatch) -> list[list[Any]]:
        if batch.num_columns != len(self._codecs):
            raise ValueError(
                f"batch has {batch.num_columns} columns, encoder expects {len(self._codecs)}"
            )
        return [codec.encode(_column_of(batch, i)) for i, codec in enumerate(self._codecs)]

    def encode_value_rows(self, batch: pa.RecordBatch) -> list[list[Any]]:
        """The batch's rows as JSON-ready Python lists (what `encode_rows` serialises)."""
        columns = self._encode_columns(batch)
        if not columns:
            return [[] for _ in range(batch.num_rows)]
        return list(map(list, zip(*columns, strict=True)))

    def encode_rows(self, batch: pa.RecordBatch) -> bytes:
        """The batch as a UTF-8 JSON array of rows, ready for a Trino `data` field."""
        columns = self._encode_columns(batch)
        rows: Sequence[Any] = list(zip(*columns, strict=True)) if columns else [[]] * batch.num_rows
        return dump_rows(rows)


def _column_of(batch: pa.RecordBatch | pa.Table, i: int) -> pa.Array:
    column = batch.column(i)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column


# --- type signatures --------------------------------------------------------------


def _sig(raw: str, *arguments: dict[str, Any]) -> dict[str, Any]:
    return {"rawType": raw, "arguments": list(arguments)}


def _long(value: int) -> dict[str, Any]:
    return {"kind": "LONG", "value": value}


def _type_arg(signature: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "TYPE", "value": signature}


def _simple(name: str, encode: Encode, **kw: Any) -> _Column:
    return _Column(name, _sig(name), encode, **kw)


def _varchar(encode: Encode) -> _Column:
    return _Column("varchar", _sig("varchar", _long(VARCHAR_UNBOUNDED)), encode)


def _decimal(precision: int, scale: int, encode: Encode) -> _Column:
    precision = min(max(precision, scale, 1), MAX_DECIMAL_PRECISION)
    scale = min(max(scale, 0), precision)
    return _Column(
        f"decimal({precision},{scale})",
        _sig("decimal", _long(precision), _long(scale)),
        encode,
    )


def _temporal(raw: str, precision: int, encode: Encode, *, with_zone: bool = False) -> _Column:
    suffix = " with time zone" if with_zone else ""
    return _Column(
        f"{raw}({precision}){suffix}",
        _sig(f"{raw}{suffix}", _long(precision)),
        encode,
    )


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _field_display(name: str) -> str:
    if _IDENTIFIER.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


# --- value encoders ---------------------------------------------------------------


def _plain(arr: pa.Array) -> list[Any]:
    return arr.to_pylist()


def _as_text(arr: pa.Array) -> list[Any]:
    return pc.cast(arr, pa.string()).to_pylist()


def _all_null(arr: pa.Array) -> list[Any]:
    return [None] * len(arr)


def _set_nulls(arr: pa.Array, out: list[Any]) -> list[Any]:
    """Overwrite the rows that are null in `arr`: cheap when there are few nulls."""
    if arr.null_count:
        for i in pc.indices_nonzero(arr.is_null()).to_pylist():
            out[i] = None
    return out


def _encode_double(arr: pa.Array) -> list[Any]:
    values = arr.to_pylist()
    if arr.null_count == len(arr):
        return values
    finite = pc.is_finite(arr)
    if pc.all(finite).as_py():
        return values
    for i in pc.indices_nonzero(pc.invert(pc.fill_null(finite, True))).to_pylist():
        v = values[i]
        values[i] = "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    return values


def _encode_real(arr: pa.Array) -> list[Any]:
    # float32 -> shortest decimal text -> nearest double: 0.1f is written as 0.1.
    if arr.type != pa.float32():
        arr = arr.cast(pa.float32())
    return _encode_double(pc.cast(pc.cast(arr, pa.string()), pa.float64()))


def _encode_binary(arr: pa.Array) -> list[Any]:
    b64 = binascii.b2a_base64
    return [None if v is None else b64(v, newline=False).decode("ascii") for v in arr.to_pylist()]


def _encode_uuid(arr: pa.Array) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for v in arr.to_pylist():
        if v is None:
            append(None)
        else:
            h = v.hex()
            append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def _decimal_encoder(t: pa.DataType) -> Encode:
    if t.scale >= 0:
        return _as_text
    # Arrow writes negative-scale decimals in exponent form; Trino wants plain digits.
    digits = t.precision - t.scale
    target = pa.decimal128(digits, 0) if digits <= 38 else pa.decimal256(digits, 0)
    return lambda arr: _as_text(arr.cast(target))


_TIME_PRECISION = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_UNIT_NANOS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}

# Zone ids Trino folds into "UTC" (TimeZoneKey's UTC equivalents).
_UTC_EQUIVALENTS = frozenset(
    {
        "GMT", "GMT0", "GMT+0", "GMT-0", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0",
        "UT", "UT+0", "UT-0", "Etc/UT", "Etc/UT+0", "Etc/UT-0", "UTC", "UTC+0", "UTC-0",
        "Etc/UTC", "Etc/UTC+0", "Etc/UTC-0", "+0000", "+00:00", "-0000", "-00:00", "Z",
        "Zulu", "UCT", "Greenwich", "Universal", "Etc/Universal", "Etc/UCT",
    }
)  # fmt: skip
_OFFSET_ZONE = re.compile(
    r"(?P<prefix>Etc/GMT|Etc/UTC|Etc/UT|GMT|UTC|UT)?(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?\Z"
)


def trino_zone_id(tz: str) -> str:
    """The zone id Trino would print for an Arrow timestamp's `tz`.

    Trino folds every UTC alias to "UTC" and offsets to "+HH:MM" (POSIX `Etc/GMT+5`
    means UTC-05:00); IANA region ids are kept as they are.
    """
    if tz in _UTC_EQUIVALENTS:
        return "UTC"
    match = _OFFSET_ZONE.match(tz)
    if match is None:
        return tz
    hours, minutes = int(match["h"]), int(match["m"] or 0)
    if hours == 0 and minutes == 0:
        return "UTC"
    negative = (match["sign"] == "-") != (match["prefix"] == "Etc/GMT")
    return f"{'-' if negative else '+'}{hours:02d}:{minutes:02d}"


def _timestamp_tz_encoder(tz: str) -> Encode:
    suffix = " " + trino_zone_id(tz)

    def encode(arr: pa.Array) -> list[Any]:
        # Trino prints the wall-clock time in the value's zone, then the zone id.
        local = pc.cast(pc.local_timestamp(arr), pa.string())
        return pc.binary_join_element_wise(local, suffix, "").to_pylist()

    return encode


def _trunc_div(value: int, divisor: int) -> int:
    q = abs(value) // divisor
    return -q if value < 0 else q


def format_day_to_second(millis: int) -> str:
    """Trino's interval day to second text: `[-]D HH:MM:SS.mmm`."""
    sign = "-" if millis < 0 else ""
    days, rest = divmod(abs(millis), 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{sign}{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def format_year_to_month(months: int) -> str:
    """Trino's interval year to month text: `[-]Y-M`."""
    sign = "-" if months < 0 else ""
    years, months = divmod(abs(months), 12)
    return f"{sign}{years}-{months}"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n in (1, -1) else f"{n} {unit}s"


def format_duckdb_interval(months: int, days: int, nanos: int) -> str:
    """DuckDB's interval text (`1 year 2 months 3 days 04:05:06.789`), for mixed intervals."""
    parts = []
    if months:
        years = _trunc_div(months, 12)
        months -= years * 12
        if years:
            parts.append(_plural(years, "year"))
        if months:
            parts.append(_plural(months, "month"))
    if days:
        parts.append(_plural(days, "day"))
    micros = _trunc_div(nanos, 1000)
    if micros:
        sign = "-" if micros < 0 else ""
        hours, rest = divmod(abs(micros), 3_600_000_000)
        minutes, rest = divmod(rest, 60_000_000)
        seconds, micros = divmod(rest, 1_000_000)
        text = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
        if micros:
            text += "." + f"{micros:06d}".rstrip("0")
        parts.append(text)
    return " ".join(parts) if parts else "00:00:00"


def _duration_encoder(unit: str) -> Encode:
    nanos_per_unit = _UNIT_NANOS[unit]

    def encode(arr: pa.Array) -> list[Any]:
        return [
            None if v is None else format_day_to_second(_trunc_div(v * nanos_per_unit, 1_000_000))
            for v in pc.cast(arr, pa.int64()).to_pylist()
        ]

    return encode


# --- nested encoders --------------------------------------------------------------


def _list_encoder(child: _Column) -> Encode:
    def encode(arr: pa.Array) -> list[Any]:
        offsets = arr.offsets
        start = offsets[0].as_py()
        end = offsets[-1].as_py()
        values = child.encode(arr.values.slice(start, end - start))
        if start:
            offsets = pc.subtract(offsets, start)
        bounds = offsets.to_pylist()
        out = [values[a:b] for a, b in itertools.pairwise(bounds)]
        return _set_nulls(arr, out)

    return encode


def _fixed_size_list_encoder(child: _Column, size: int) -> Encode:
    def encode(arr: pa.Array) -> list[Any]:
        n = len(arr) * size
        values = child.encode(arr.values.slice(arr.offset * size, n))
        out = [values[i : i + size] for i in range(0, n, size)] if size else [[]] * len(arr)
        return _set_nulls(arr, out)

    return encode


def _list_view_encoder(child: _Column) -> Encode:
    def encode(arr: pa.Array) -> list[Any]:
        # List views may share or reorder child ranges: encode the child once, then slice.
        values = child.encode(arr.values)
        out = [
            values[o : o + s]
            for o, s in zip(arr.offsets.to_pylist(), arr.sizes.to_pylist(), strict=True)
        ]
        return _set_nulls(arr, out)

    return encode


def _java_double_text(v: float) -> str:
    """Java's Double.toString, which Trino uses for double map keys."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0.0"
    if 1e-3 <= abs(v) < 1e7:
        return repr(v)  # plain notation with a fraction part, as Java writes it
    # Both repr and Java pick the shortest digits that round-trip; only the layout differs.
    _, digits, exponent = Decimal(repr(v)).normalize().as_tuple()
    text = "".join(map(str, digits))
    sign = "-" if v < 0 else ""
    return f"{sign}{text[0]}.{text[1:] or '0'}E{len(digits) - 1 + int(exponent)}"


def _key_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double_text(value)
    return _JSON_ENCODER.encode(value)


def _keys_as_str(values: list[Any]) -> list[str]:
    return list(map(str, values))


def _keys_as_double(values: list[Any]) -> list[str]:
    return [v if isinstance(v, str) else _java_double_text(v) for v in values]


def _map_encoder(key: _Column, item: _Column) -> Encode:
    key_text = key.key_text or (lambda values: list(map(_key_text, values)))

    def encode(arr: pa.Array) -> list[Any]:
        offsets = arr.offsets
        start = offsets[0].as_py()
        entries = arr.values.slice(start, offsets[-1].as_py() - start)
        keys = key_text(key.encode(entries.field(0)))
        items = item.encode(entries.field(1))
        if start:
            offsets = pc.subtract(offsets, start)
        bounds = offsets.to_pylist()
        out = [dict(zip(keys[a:b], items[a:b], strict=True)) for a, b in itertools.pairwise(bounds)]
        return _set_nulls(arr, out)

    return encode


def _struct_encoder(children: list[_Column]) -> Encode:
    def encode(arr: pa.Array) -> list[Any]:
        if not children:
            return _set_nulls(arr, [[] for _ in range(len(arr))])
        # flatten() folds the row's nulls into its fields, so no encoder sees (and
        # rejects) whatever values lie under a null row.
        fields = [c.encode(child) for c, child in zip(children, arr.flatten(), strict=True)]
        return _set_nulls(arr, list(map(list, zip(*fields, strict=True))))

    return encode


def _union_encoder(t: pa.UnionType, children: list[_Column], as_text: bool) -> Encode:
    def encode(arr: pa.Array) -> list[Any]:
        out = union_rows(arr, [c.encode(arr.field(i)) for i, c in enumerate(children)])
        if as_text:
            out = [v if v is None or isinstance(v, str) else _key_text(v) for v in out]
        return out

    return encode


# --- DuckDB opaque types ----------------------------------------------------------

_DUCKDB_TIMETZ_MAX_OFFSET = 16 * 60 * 60 - 1


def _encode_duckdb_time_tz(arr: pa.Array) -> list[Any]:
    # dtime_tz_t: micros since midnight << 24 | (MAX_OFFSET - offset seconds).
    out: list[Any] = []
    append = out.append
    for bits in arr.storage.view(pa.uint64()).to_pylist():
        if bits is None:
            append(None)
            continue
        micros = bits >> 24
        offset = _DUCKDB_TIMETZ_MAX_OFFSET - (bits & 0xFFFFFF)
        seconds, micros = divmod(micros, 1_000_000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        sign = "-" if offset < 0 else "+"
        off_h, off_m = divmod(abs(offset) // 60, 60)
        append(f"{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}{sign}{off_h:02d}:{off_m:02d}")
    return out


def _encode_duckdb_bit(arr: pa.Array) -> list[Any]:
    # First byte: count of padding bits at the start of the bit data.
    out: list[Any] = []
    for v in arr.storage.to_pylist():
        if v is None:
            out.append(None)
        else:
            bits = bin(int.from_bytes(v[1:], "big"))[2:].zfill((len(v) - 1) * 8)
            out.append(bits[v[0] :])
    return out


def _encode_duckdb_bignum(arr: pa.Array) -> list[Any]:
    # 3-byte header (top bit set when non-negative), then big-endian magnitude; every
    # byte is inverted for negative numbers.
    out: list[Any] = []
    for v in arr.storage.to_pylist():
        if v is None:
            out.append(None)
            continue
        negative = not v[0] & 0x80
        magnitude = int.from_bytes(v[3:], "big")
        if negative:
            magnitude = (1 << (8 * (len(v) - 3))) - 1 - magnitude
        out.append(str(-magnitude if negative else magnitude))
    return out


def _encode_duckdb_hugeint(arr: pa.Array) -> list[Any]:
    # Same bytes as a decimal128 with scale 0: let Arrow print it.
    return _as_text(arr.storage.view(pa.decimal128(38, 0)))


def _encode_duckdb_uhugeint(arr: pa.Array) -> list[Any]:
    return [
        None if v is None else str(int.from_bytes(v, "little")) for v in arr.storage.to_pylist()
    ]


def _storage(encode: Encode) -> Encode:
    return lambda arr: encode(arr.storage)


def _opaque_column(t: pa.DataType) -> _Column | None:
    if getattr(t, "vendor_name", None) != "DuckDB":
        return None
    name = t.type_name
    if name == "time_tz":
        return _temporal("time", 6, _encode_duckdb_time_tz, with_zone=True)
    if name == "bit":
        return _varchar(_encode_duckdb_bit)
    if name == "bignum":
        return _decimal(MAX_DECIMAL_PRECISION, 0, _encode_duckdb_bignum)
    if name == "hugeint":
        return _decimal(MAX_DECIMAL_PRECISION, 0, _encode_duckdb_hugeint)
    if name == "uhugeint":
        return _decimal(MAX_DECIMAL_PRECISION, 0, _encode_duckdb_uhugeint)
    return None


# --- the mapping ------------------------------------------------------------------

_INTEGERS = {
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.uint8(): "smallint",
    pa.uint16(): "integer",
    pa.uint32(): "bigint",
}

_EXTENSION_NAME = b"ARROW:extension:name"


def _metadata_extension(f: pa.Field) -> str | None:
    if f.metadata and _EXTENSION_NAME in f.metadata:
        return f.metadata[_EXTENSION_NAME].decode("utf-8", "replace")
    return None


def _child_sample(sample: pa.Array | None, get: Callable[[pa.Array], pa.Array]) -> pa.Array | None:
    return None if sample is None else get(sample)


def _column_for(f: pa.Field, sample: pa.Array | None, path: str) -> _Column:
    """Chooses the Trino type and encoder for one Arrow field (recursively)."""
    t = f.type

    if isinstance(t, pa.BaseExtensionType):
        name = t.extension_name
        if name == "arrow.uuid":
            return _simple("uuid", _storage(_encode_uuid))
        if name == "arrow.json":
            return _simple("json", _storage(_plain))
        if name == "arrow.bool8":
            return _simple("boolean", lambda arr: arr.storage.cast(pa.bool_()).to_pylist())
        if name == "arrow.opaque":
            opaque = _opaque_column(t)
            if opaque is not None:
                return opaque
        inner = _column_for(
            pa.field(f.name, t.storage_type), _child_sample(sample, lambda s: s.storage), path
        )
        return _Column(inner.type_name, inner.signature, _storage(inner.encode), inner.key_text)

    marked = _metadata_extension(f)
    if marked == "arrow.json" and (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    ):
        return _simple("json", _plain)
    if marked == "arrow.uuid" and pa.types.is_fixed_size_binary(t) and t.byte_width == 16:
        return _simple("uuid", _encode_uuid)

    if pa.types.is_null(t):
        return _simple("unknown", _all_null)
    if pa.types.is_boolean(t):
        return _simple("boolean", _plain)
    if t in _INTEGERS:
        return _simple(_INTEGERS[t], _plain, key_text=_keys_as_str)
    if pa.types.is_uint64(t):
        return _decimal(20, 0, _as_text)
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return _simple("real", _encode_real, key_text=_keys_as_double)
    if pa.types.is_float64(t):
        return _simple("double", _encode_double, key_text=_keys_as_double)
    if pa.types.is_decimal(t):
        precision = t.precision - min(t.scale, 0)
        return _decimal(precision, t.scale, _decimal_encoder(t))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return _varchar(_plain)
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return _simple("varbinary", _encode_binary)
    if pa.types.is_date(t):
        return _simple("date", _as_text)
    if pa.types.is_time(t):
        return _temporal("time", _TIME_PRECISION[t.unit], _as_text)
    if pa.types.is_timestamp(t):
        precision = _TIME_PRECISION[t.unit]
        if t.tz is None:
            return _temporal("timestamp", precision, _as_text)
        return _temporal("timestamp", precision, _timestamp_tz_encoder(t.tz), with_zone=True)
    if pa.types.is_duration(t):
        return _simple("interval day to second", _duration_encoder(t.unit))
    if t == pa.month_day_nano_interval():
        return _interval_column(sample, path)

    if pa.types.is_dictionary(t):
        value = _column_for(
            pa.field(f.name, t.value_type), _child_sample(sample, lambda s: s.dictionary), path
        )
        return _Column(
            value.type_name,
            value.signature,
            lambda arr: value.encode(arr.dictionary_decode()),
            value.key_text,
        )
    if pa.types.is_run_end_encoded(t):
        value = _column_for(
            pa.field(f.name, t.value_type),
            _child_sample(sample, lambda s: pc.run_end_decode(s)),
            path,
        )
        return _Column(
            value.type_name,
            value.signature,
            lambda arr: value.encode(pc.run_end_decode(arr)),
            value.key_text,
        )

    if pa.types.is_map(t):
        key = _column_for(t.key_field, _child_sample(sample, lambda s: s.keys), path + ".key")
        item = _column_for(t.item_field, _child_sample(sample, lambda s: s.items), path + ".value")
        return _Column(
            f"map({key.type_name}, {item.type_name})",
            _sig("map", _type_arg(key.signature), _type_arg(item.signature)),
            _map_encoder(key, item),
        )
    if is_list_type(t):
        element = _column_for(
            t.value_field, _child_sample(sample, lambda s: s.flatten()), path + "[]"
        )
        if pa.types.is_fixed_size_list(t):
            encode = _fixed_size_list_encoder(element, t.list_size)
        elif pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
            encode = _list_view_encoder(element)
        else:
            encode = _list_encoder(element)
        return _Column(
            f"array({element.type_name})", _sig("array", _type_arg(element.signature)), encode
        )
    if pa.types.is_struct(t):
        samples = sample.flatten() if sample is not None else [None] * t.num_fields
        children = [
            _column_for(t.field(i), samples[i], f"{path}.{t.field(i).name}")
            for i in range(t.num_fields)
        ]
        names = [t.field(i).name for i in range(t.num_fields)]
        arguments = [
            {
                "kind": "NAMED_TYPE",
                "value": (
                    {"fieldName": {"name": name, "delimited": False}, "typeSignature": c.signature}
                    if name
                    else {"typeSignature": c.signature}
                ),
            }
            for name, c in zip(names, children, strict=True)
        ]
        display = ", ".join(
            f"{_field_display(name)} {c.type_name}" if name else c.type_name
            for name, c in zip(names, children, strict=True)
        )
        return _Column(f"row({display})", _sig("row", *arguments), _struct_encoder(children))
    if pa.types.is_union(t):
        children = [
            _column_for(
                t.field(i),
                sample.field(i) if sample is not None else None,
                f"{path}.{t.field(i).name}",
            )
            for i in range(t.num_fields)
        ]
        if children and all(c.signature == children[0].signature for c in children):
            first = children[0]
            return _Column(
                first.type_name,
                first.signature,
                _union_encoder(t, children, as_text=False),
                first.key_text,
            )
        return _varchar(_union_encoder(t, children, as_text=True))

    raise ValueError(f"column {path!r}: Arrow type {t} has no Trino equivalent")


def _interval_column(sample: pa.Array | None, path: str) -> _Column:
    """Types a month_day_nano column from the first batch.

    Trino splits intervals into year-to-month and day-to-second; Arrow (and DuckDB) have
    one type holding both. All months and no days/time -> year to month; no months ->
    day to second (also when the sample is empty or all null); both -> varchar in
    DuckDB's text form, the only lossless choice. A later batch whose values do not fit
    the chosen Trino type raises ValueError rather than sending wrong data.
    """
    values = [] if sample is None else [v for v in sample.to_pylist() if v is not None]
    has_months = any(v.months for v in values)
    has_day_time = any(v.days or v.nanoseconds for v in values)

    if has_months and not has_day_time:

        def year_to_month(arr: pa.Array) -> list[Any]:
            out: list[Any] = []
            for v in arr.to_pylist():
                if v is None:
                    out.append(None)
                elif v.days or v.nanoseconds:
                    raise ValueError(
                        f"column {path!r}: interval {format_duckdb_interval(*v)!r} has days or"
                        " time, but the column was typed interval year to month from the"
                        " first batch"
                    )
                else:
                    out.append(format_year_to_month(v.months))
            return out

        return _simple("interval year to month", year_to_month)

    if not has_months:

        def day_to_second(arr: pa.Array) -> list[Any]:
            out: list[Any] = []
            for v in arr.to_pylist():
                if v is None:
                    out.append(None)
                elif v.months:
                    raise ValueError(
                        f"column {path!r}: interval {format_duckdb_interval(*v)!r} has months,"
                        " but the column was typed interval day to second from the first batch"
                    )
                else:
                    nanos = v.days * 86_400_000_000_000 + v.nanoseconds
                    out.append(format_day_to_second(_trunc_div(nanos, 1_000_000)))
            return out

        return _simple("interval day to second", day_to_second)

    def mixed(arr: pa.Array) -> list[Any]:
        return [None if v is None else format_duckdb_interval(*v) for v in arr.to_pylist()]

    return _varchar(mixed)
