"""PostgreSQL wire types: Arrow results as RowDescription fields and DataRow values,
and Bind parameters as typed SQL literals.

Results
-------
`PgEncoder` decides, once per result, each column's PostgreSQL type (oid, typlen,
typmod) and how its values are written: text format (format 0) byte for byte as
PostgreSQL's output functions print them with `DateStyle=ISO, MDY`,
`IntervalStyle=postgres` and the default `extra_float_digits=1`, and binary format
(format 1) as its send functions write them. Clients (psycopg, asyncpg, pgjdbc) pick
their loaders from the oid and parse exactly those forms.

Encoding is column-wise and stays inside Arrow where it can: every column becomes one
`large_binary` array of wire values (casts, trims, big-endian byte swaps, base-10000
numeric digits and joins are Arrow kernels or buffer operations; values that need
Python - intervals, uuids, bytea hex, BC dates, floats outside the plain-digit range
- go through Python only for those values), and `encode_data_rows` frames whole
DataRow messages with one Arrow join, so no Python code runs per row on the common
types (ints, floats, text, numeric, dates, timestamps).

Mapping decisions (kept here so they are reviewed in one place):

- integers: int8/int16 -> int2, int32 -> int4, int64 -> int8; unsigned ints take the
  next wider type: uint8 -> int2, uint16 -> int4, uint32 -> int8, uint64 ->
  numeric(20,0). DuckDB HUGEINT/UHUGEINT -> numeric(39,0), BIGNUM -> numeric.
- float16/float32 -> float4, float64 -> float8, printed as float4out/float8out do:
  the shortest digits that round-trip (`0.1`, `1e+15`, `1.234567e+06` for float4),
  `NaN`, `Infinity`, `-Infinity`, `-0`. Like PostgreSQL's Ryu code, digits lying
  exactly on a rounding bound are not taken (`5.8984386415894336e+16`, where a
  round-half-even reader would accept `5.898438641589434e+16`).
- decimal128/decimal256 -> numeric with typmod ((p << 16) | s) + 4; a negative
  Arrow scale is rescaled to 0 (numeric(p - s, 0)).
- string, large_string, string_view -> text (25); binary types -> bytea (17, text
  form `\\x...`). varchar (1043) is only used on request (see `PG_TYPE_KEY`).
- date32/date64 -> date; time32/time64 -> time; timestamp -> timestamp, timestamp
  with a zone -> timestamptz printed in the encoder's session `timezone` (the
  Arrow type's own zone is not used, as PostgreSQL prints in the session zone).
  Nanoseconds are floored to microseconds (PostgreSQL's resolution). Years before
  1 AD are printed PostgreSQL's way (`0044-03-15 BC`); DuckDB's infinite dates and
  timestamps (the extreme int32/int64 values) are `infinity` / `-infinity` and are
  sent as PostgreSQL's own infinity values in binary.
- month_day_nano interval -> interval (months, days, microseconds; nanoseconds are
  truncated toward zero); duration -> interval holding only microseconds
  (`36:00:00`, as PostgreSQL prints `interval '36 hours'`).
- DuckDB TIME WITH TIME ZONE (an `arrow.opaque` extension) -> timetz (1266); DuckDB
  BIT -> text (`'0101'`); other opaque types use their storage type.
- `arrow.uuid` (or a 16-byte fixed_size_binary marked so in field metadata) -> uuid;
  `arrow.json` -> json; `arrow.bool8` -> bool; other extension types -> their
  storage type. null -> text, every value NULL. dictionary -> its value type (the
  dictionary is encoded once and taken by index); run-end encoded -> its value type.
- struct -> json object (`{"a":1,"b":"x"}`, as `row_to_json` writes it); map -> json
  object whose keys are the keys' text (PostgreSQL has no map type); union -> text
  holding the member's text. Inside json, values are written as `to_json` writes
  them: numbers bare, NaN/Infinity and temporal values as strings (timestamps with
  a `T`, timestamptz with `+HH:MM`), bytea as `"\\\\x..."`, json embedded as is.
- list, large_list, fixed_size_list and list views -> arrays of the element type
  (`_int4`, `_text`, ... `_json` for lists of structs). Nested lists become
  multi-dimensional arrays, which PostgreSQL requires to be rectangular with no
  NULL sub-array and no empty sub-array. When the sample batch given to the encoder
  holds a nested value that is not, the column is typed json (a JSON array) instead;
  without a sample, or when a later batch brings such a value, encoding raises
  ValueError naming the column, rather than sending an array no client can read.
- json vs jsonb, text vs varchar: a field may carry `PG_TYPE_KEY` metadata (`json`,
  `jsonb`, `text`, `varchar`, `name` or the one-byte `char`) to pick the PostgreSQL
  type an engine knows the column had; jsonb values are sent as they are (PostgreSQL
  would normalise them) and with the version byte 1 in binary.

Parameters
----------
`decode_parameter(oid, format, value)` turns one Bind parameter into a sqlglot
expression: a typed literal (`CAST('2024-01-02' AS DATE)`, `CAST(5 AS INT)`,
`CAST('0.1' AS DOUBLE)`, `TRUE`, a hex string for bytea, an array literal, a typed
NULL). Values are parsed and re-rendered in a canonical form, never spliced into SQL
text, so no value can change the statement's shape. Malformed input raises
ValueError with PostgreSQL's wording; the caller maps it to SQLSTATE 22P02 (text) or
08P01 (binary). Dates outside 1..9999 AD are written as ISO 8601 expanded years
(`-0043-03-15` is 44 BC), which DuckDB reads; intervals as
`'<m> months <d> days <us> microseconds'`. Typed parameters sent as NULL become
`CAST(NULL AS <type>)`, so the engine still knows their type; unspecified ones
(oid 0) a bare NULL. A timestamptz or timetz value without an offset keeps none, so
the engine's session zone applies, as PostgreSQL's would. numeric values are exact
literals (DuckDB reads those with more than 38 digits as DOUBLE).
"""

from __future__ import annotations

import binascii
import datetime as dt
import enum
import functools
import json
import math
import re
import struct
import sys
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

if TYPE_CHECKING:
    from qflux.frontends.pg_copy import CopyOut

from qflux.frontends.arrow_util import is_list_type, union_rows

__all__ = [
    "BINARY",
    "PG_TYPE_KEY",
    "TEXT",
    "FieldInfo",
    "Oid",
    "PgEncoder",
    "decode_parameter",
]

TEXT = 0
BINARY = 1

#: Field metadata key naming the PostgreSQL type for a string or json-valued column:
#: one of "text", "varchar", "name", "char", "json", "jsonb".
PG_TYPE_KEY = b"qflux.pg_type"


class Oid(enum.IntEnum):
    """The PostgreSQL type oids this module reads and writes."""

    BOOL = 16
    BYTEA = 17
    CHAR = 18
    NAME = 19
    INT8 = 20
    INT2 = 21
    INT4 = 23
    TEXT = 25
    OID = 26
    JSON = 114
    JSON_ARRAY = 199
    FLOAT4 = 700
    FLOAT8 = 701
    UNKNOWN = 705
    BOOL_ARRAY = 1000
    BYTEA_ARRAY = 1001
    CHAR_ARRAY = 1002
    NAME_ARRAY = 1003
    INT2_ARRAY = 1005
    INT4_ARRAY = 1007
    TEXT_ARRAY = 1009
    BPCHAR_ARRAY = 1014
    VARCHAR_ARRAY = 1015
    INT8_ARRAY = 1016
    FLOAT4_ARRAY = 1021
    FLOAT8_ARRAY = 1022
    OID_ARRAY = 1028
    BPCHAR = 1042
    VARCHAR = 1043
    DATE = 1082
    TIME = 1083
    TIMESTAMP = 1114
    TIMESTAMP_ARRAY = 1115
    DATE_ARRAY = 1182
    TIME_ARRAY = 1183
    TIMESTAMPTZ = 1184
    TIMESTAMPTZ_ARRAY = 1185
    INTERVAL = 1186
    INTERVAL_ARRAY = 1187
    NUMERIC_ARRAY = 1231
    TIMETZ = 1266
    TIMETZ_ARRAY = 1270
    NUMERIC = 1700
    UUID = 2950
    UUID_ARRAY = 2951
    JSONB = 3802
    JSONB_ARRAY = 3807


class FieldInfo(NamedTuple):
    """One RowDescription column (the table oid and attribute number are always 0)."""

    name: str
    type_oid: int
    type_size: int
    type_modifier: int
    format: int


# --- Arrow helpers ----------------------------------------------------------------

Enc = Callable[[pa.Array], pa.Array]

_LB = pa.large_binary()
_NULL = pa.nulls(1, _LB)[0]
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_US_PER_DAY = 86_400_000_000
_POSTGRES_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_POSTGRES_EPOCH_US = _POSTGRES_EPOCH_DAYS * _US_PER_DAY
_FIRST_AD_DAY = -719_162  # 0001-01-01 in days since 1970-01-01
_FIRST_AD_US = _FIRST_AD_DAY * _US_PER_DAY
_SWAP = sys.byteorder == "little"
_ARRAY_CODES = {2: "h", 4: "i", 8: "q"}
assert all(array(code).itemsize == width for width, code in _ARRAY_CODES.items())


def _lb(value: bytes) -> pa.Scalar:
    """A large_binary scalar, built from buffers: `pa.scalar` would import pandas, which
    costs a third of a second at start-up."""
    offsets = pa.py_buffer(struct.pack("<qq", 0, len(value)))
    return pa.Array.from_buffers(_LB, 1, [None, offsets, pa.py_buffer(value)])[0]


_EMPTY = _lb(b"")
_COMMA = _lb(b",")
_QUOTE = _lb(b'"')


def _join(*parts: pa.Array | pa.Scalar) -> pa.Array:
    """Element-wise concatenation; null where any part is null."""
    return pc.binary_join_element_wise(*parts, _EMPTY)


def _to_lb(arr: pa.Array) -> pa.Array:
    """Any string or binary layout as large_binary, nulls kept."""
    t = arr.type
    if t == _LB:
        return arr
    if pa.types.is_string_view(t):
        arr = arr.cast(pa.large_string())
    return arr.cast(_LB)


def _column_of(batch: pa.RecordBatch | pa.Table, i: int) -> pa.Array:
    column = batch.column(i)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column


def _keep_nulls(source: pa.Array, out: pa.Array) -> pa.Array:
    """`out` with NULL wherever `source` is NULL."""
    if source.null_count:
        return pc.if_else(source.is_valid(), out, pa.scalar(None, out.type))
    return out


def _be_fixed(arr: pa.Array, width: int) -> pa.Array:
    """A 2-, 4- or 8-byte numeric array as big-endian byte strings (nulls kept)."""
    n = len(arr)
    if n == 0:
        return pa.array([], _LB)
    start = arr.offset * width
    data = memoryview(arr.buffers()[1])[start : start + n * width]
    if _SWAP:
        swapped = array(_ARRAY_CODES[width])
        swapped.frombytes(data)
        swapped.byteswap()
        buffer = pa.py_buffer(swapped)
    else:  # pragma: no cover - big-endian hosts
        buffer = pa.py_buffer(bytes(data))
    out = pa.Array.from_buffers(pa.binary(width), n, [None, buffer]).cast(_LB)
    return _keep_nulls(arr, out)


def _patch(out: pa.Array, mask: pa.Array, source: pa.Array, fn: Callable[[Any], Any]) -> pa.Array:
    """`out` with the rows where `mask` is true replaced by `fn(source value)`."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return out
    values = pc.filter(source, mask).to_pylist()
    return pc.replace_with_mask(out, mask, pa.array([fn(v) for v in values], out.type))


def _from_py(values: list[Any], fn: Callable[[Any], bytes]) -> pa.Array:
    """Python-level encoding, for types Arrow cannot print (cached per distinct value)."""
    cache: dict[Any, bytes] = {}
    out: list[bytes | None] = []
    append = out.append
    for v in values:
        if v is None:
            append(None)
            continue
        b = cache.get(v)
        if b is None:
            b = cache[v] = fn(v)
        append(b)
    return pa.array(out, _LB)


def _frame(values: pa.Array) -> pa.Array:
    """Each value as a wire field: int32 length then bytes; NULL as length -1."""
    lengths = pc.cast(pc.fill_null(pc.binary_length(values), -1), pa.int32())
    return _join(_be_fixed(lengths, 4), pc.fill_null(values, b""))


# --- codecs -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Codec:
    """One PostgreSQL type: its description and its three encodings of an Arrow array.

    `text`, `binary` and `json` each return a large_binary array with the source's
    nulls: the text output, the send-function bytes, and a JSON fragment (as
    `to_json` would write the value inside a json document).
    """

    oid: int
    array_oid: int
    size: int
    text: Enc
    binary: Enc
    json: Enc
    modifier: int = -1
    bare: bool = False  # text output never needs quotes inside an array literal
    is_array: bool = False


def _wrap(codec: _Codec, pre: Callable[[pa.Array], pa.Array]) -> _Codec:
    """The same codec applied to `pre(arr)` (storage of an extension, decoded runs ...)."""
    return replace(
        codec,
        text=lambda arr: codec.text(pre(arr)),
        binary=lambda arr: codec.binary(pre(arr)),
        json=lambda arr: codec.json(pre(arr)),
    )


def _dictionary(codec: _Codec) -> _Codec:
    def via(fn: Enc) -> Enc:
        return lambda arr: pc.take(fn(arr.dictionary), arr.indices)

    return replace(codec, text=via(codec.text), binary=via(codec.binary), json=via(codec.json))


# bool ----------------------------------------------------------------------------


def _bool_codec(to_bool: Callable[[pa.Array], pa.Array]) -> _Codec:
    def choose(t: bytes, f: bytes) -> Enc:
        return lambda arr: pc.if_else(to_bool(arr), _lb(t), _lb(f))

    return _Codec(
        Oid.BOOL,
        Oid.BOOL_ARRAY,
        1,
        choose(b"t", b"f"),
        choose(b"\x01", b"\x00"),
        choose(b"true", b"false"),
        bare=True,
    )


# integers ------------------------------------------------------------------------

_INT_WIDTHS = {Oid.INT2: (pa.int16(), 2), Oid.INT4: (pa.int32(), 4), Oid.INT8: (pa.int64(), 8)}
_INT_ARRAYS = {Oid.INT2: Oid.INT2_ARRAY, Oid.INT4: Oid.INT4_ARRAY, Oid.INT8: Oid.INT8_ARRAY}


#: Up to this many rows are framed (and integers formatted) in Python, not by kernels.
SMALL_BATCH_ROWS = 16


def _as_text(arr: pa.Array) -> pa.Array:
    if len(arr) <= SMALL_BATCH_ROWS and pa.types.is_integer(arr.type):
        # A point query's few integers: Python's digits are PostgreSQL's, and two
        # kernel calls cost several times what formatting them here does.
        return pa.array([None if v is None else str(v).encode() for v in arr.to_pylist()], _LB)
    return pc.cast(arr, pa.string()).cast(_LB)


def _int_codec(oid: Oid) -> _Codec:
    target, width = _INT_WIDTHS[oid]

    def binary(arr: pa.Array) -> pa.Array:
        if arr.type != target:
            arr = pc.cast(arr, target)
        return _be_fixed(arr, width)

    return _Codec(oid, _INT_ARRAYS[oid], width, _as_text, binary, _as_text, bare=True)


# floats --------------------------------------------------------------------------


def _float_bits(value: float, single: bool) -> int:
    return (
        struct.unpack("<I", struct.pack("<f", value))[0]
        if single
        else (struct.unpack("<Q", struct.pack("<d", value))[0])
    )


def _rounding_interval(value: float, single: bool) -> tuple[Fraction, Fraction]:
    """The open interval of reals that round to `value` (> 0): halfway to each neighbour."""
    if single:
        bits = _float_bits(value, True)
        below = struct.unpack("<f", struct.pack("<I", bits - 1))[0]
        above = struct.unpack("<f", struct.pack("<I", bits + 1))[0]
    else:
        below, above = math.nextafter(value, 0.0), math.nextafter(value, math.inf)
    exact = Fraction(value)
    return (exact + Fraction(below)) / 2, (exact + Fraction(above)) / 2


# Shortest digits can sit exactly on a rounding bound only for magnitudes in these
# ranges (outside them the bounds have too many decimal digits).
_BOUND_RANGES = {False: (2.0**49, 2.0**80), True: (2.0**20, 2.0**40)}


def _digits_inside_bounds(value: float, single: bool) -> tuple[str, int]:
    """PostgreSQL's (Ryu's) digits for `value` (> 0) when the shortest round-trip
    digits lie exactly on a rounding bound: Ryu never takes a bound, so it prints the
    shortest decimal strictly inside, the nearest one (ties to even)."""
    low, high = _rounding_interval(value, single)
    exact = Fraction(value)
    leading = len(str(int(value))) - 1  # value >= 1 in the ranges above
    for count in range(1, 18):
        scale = Fraction(10) ** (leading - count + 1)
        base = math.floor(exact / scale)
        inside = [d for d in (base, base + 1) if low < d * scale < high]
        if inside:
            best = min(inside, key=lambda d: (abs(d * scale - exact), d % 2))
            digits = str(best)
            return digits, leading + len(digits) - count
    raise AssertionError(
        f"no decimal inside the rounding interval of {value!r}"
    )  # pragma: no cover


def pg_float_text(arrow_text: str, exponent_limit: int, value: float | None = None) -> str:
    """PostgreSQL's float layout for Arrow's shortest round-trip text of a float.

    PostgreSQL prints `%e` style when the decimal exponent is below -4 or at least
    `exponent_limit` (15 for float8, 6 for float4), plain digits otherwise. The digits
    are the shortest that round-trip, as Arrow's, except when those lie exactly on a
    rounding bound (see `_digits_inside_bounds`); pass `value` to have that checked.
    """
    if arrow_text == "nan":
        return "NaN"
    if arrow_text in ("inf", "-inf"):
        return "Infinity" if arrow_text == "inf" else "-Infinity"
    sign = ""
    if arrow_text.startswith("-"):
        sign, arrow_text = "-", arrow_text[1:]
    mantissa, _, exponent_text = arrow_text.partition("e")
    int_part, _, frac = mantissa.partition(".")
    if exponent_text:
        digits, exponent = int_part + frac, int(exponent_text)
    elif int_part.strip("0"):
        int_part = int_part.lstrip("0")
        digits, exponent = int_part + frac, len(int_part) - 1
    else:
        significant = frac.lstrip("0")
        if not significant:
            return sign + "0"
        digits, exponent = significant, len(significant) - len(frac) - 1
    digits = digits.rstrip("0") or "0"
    if value is not None:
        single = exponent_limit == 6
        magnitude = abs(value)
        low_range, high_range = _BOUND_RANGES[single]
        if low_range <= magnitude < high_range:
            low, high = _rounding_interval(magnitude, single)
            shortest = int(digits) * Fraction(10) ** (exponent - len(digits) + 1)
            if shortest in (low, high):
                digits, exponent = _digits_inside_bounds(magnitude, single)
                digits = digits.rstrip("0") or "0"
    if -4 <= exponent < exponent_limit:
        if exponent < 0:
            return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
        whole = digits[: exponent + 1].ljust(exponent + 1, "0")
        rest = digits[exponent + 1 :]
        return f"{sign}{whole}.{rest}" if rest else sign + whole
    lead = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{lead}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _float_codec(single: bool) -> _Codec:
    target = pa.float32() if single else pa.float64()
    # Below `plain_below` (and at least 1e-4) Arrow and PostgreSQL both print plain
    # digits, so only values outside that window are laid out again in Python.
    plain_below = 1e6 if single else 1e10
    limit = 6 if single else 15

    def normalise(arr: pa.Array) -> pa.Array:
        return arr if arr.type == target else pc.cast(arr, target)

    def text(arr: pa.Array) -> pa.Array:
        arr = normalise(arr)
        out = pc.cast(arr, pa.string())
        magnitude = pc.abs(arr)
        plain = pc.or_(
            pc.and_(pc.greater_equal(magnitude, 1e-4), pc.less(magnitude, plain_below)),
            pc.equal(arr, 0),
        )
        pairs = pa.StructArray.from_arrays([out, arr], ["text", "value"])
        out = _patch(
            out, pc.invert(plain), pairs, lambda p: pg_float_text(p["text"], limit, p["value"])
        )
        return out.cast(_LB)

    def binary(arr: pa.Array) -> pa.Array:
        return _be_fixed(normalise(arr), 4 if single else 8)

    def json_(arr: pa.Array) -> pa.Array:
        out = text(arr)
        finite = pc.is_finite(normalise(arr))
        return _patch(out, pc.invert(finite), out, lambda b: b'"' + b + b'"')

    return _Codec(
        Oid.FLOAT4 if single else Oid.FLOAT8,
        Oid.FLOAT4_ARRAY if single else Oid.FLOAT8_ARRAY,
        4 if single else 8,
        text,
        binary,
        json_,
        bare=True,
    )


# numeric -------------------------------------------------------------------------

_NUMERIC_HEADER = struct.Struct(">hhHH")


def numeric_send(text: str) -> bytes:
    """numeric_send for a plain decimal string (`-123.4500`): base-10000 digits."""
    negative = text.startswith("-")
    if negative or text.startswith("+"):
        text = text[1:]
    int_part, _, frac = text.partition(".")
    int_part = int_part.lstrip("0")
    whole = "0" * (-len(int_part) % 4) + int_part
    digits_text = whole + frac + "0" * (-len(frac) % 4)
    digits = [int(digits_text[i : i + 4]) for i in range(0, len(digits_text), 4)]
    weight = len(whole) // 4 - 1
    lead = 0
    while lead < len(digits) and digits[lead] == 0:
        lead += 1
    weight -= lead
    end = len(digits)
    while end > lead and digits[end - 1] == 0:
        end -= 1
    digits = digits[lead:end]
    if not digits:
        weight, negative = 0, False
    head = _NUMERIC_HEADER.pack(len(digits), weight, 0x4000 if negative else 0, len(frac))
    return head + struct.pack(f">{len(digits)}h", *digits)


def _numeric_modifier(precision: int, scale: int) -> int:
    return ((precision << 16) | scale) + 4


def _unscaled_int64(arr: pa.Array) -> pa.Array | None:
    """A decimal128 array's unscaled values as int64, or None if one does not fit."""
    n = len(arr)
    words = array("q")
    words.frombytes(memoryview(arr.buffers()[1])[arr.offset * 16 : (arr.offset + n) * 16])
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        return None
    low, high = words[0::2], words[1::2]
    low_arr = pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(low)])
    high_arr = pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(high)])
    # fits when the high word only extends the low word's sign
    sign_words = pc.if_else(pc.less(low_arr, 0), -1, 0)
    fits = pc.or_(pc.equal(high_arr, sign_words), arr.is_null())
    if not pc.all(fits).as_py():
        return None
    return _keep_nulls(arr, low_arr)


def _numeric_send_columns(unscaled: pa.Array, scale: int) -> pa.Array | None:
    """numeric_send for int64 or uint64 unscaled values with a fixed scale >= 0, in
    Arrow kernels: the value's base-10000 digits are the groups of 4 decimal digits
    of |unscaled| * 10^pad, where pad aligns the fraction to whole groups."""
    pad = -scale % 4
    if pa.types.is_signed_integer(unscaled.type):
        negative = pc.fill_null(pc.less(unscaled, 0), False)
        magnitude = pc.cast(pc.abs(unscaled), pa.uint64(), safe=False)  # abs(min) wraps
    else:
        negative = None
        magnitude = unscaled
    try:
        magnitude = pc.multiply_checked(magnitude, pa.scalar(10**pad, pa.uint64()))
    except pa.ArrowInvalid:
        return None
    fraction_groups = (scale + pad) // 4
    ten_thousand = pa.scalar(10_000, pa.uint64())
    groups = []  # least significant first; 10000^5 > 2^64, so five hold any uint64
    rest = magnitude
    for _ in range(5):
        quotient = pc.divide(rest, ten_thousand)
        groups.append(pc.cast(pc.subtract(rest, pc.multiply(quotient, ten_thousand)), pa.int16()))
        rest = quotient
    nonzero = [pc.not_equal(g, 0) for g in groups]
    top = pc.max_element_wise(*[pc.if_else(nz, k, -1) for k, nz in enumerate(nonzero)])
    bottom = pc.min_element_wise(*[pc.if_else(nz, k, 5) for k, nz in enumerate(nonzero)])
    zero = pc.equal(top, -1)
    count = pc.if_else(zero, 0, pc.add(pc.subtract(top, bottom), 1))
    weight = pc.if_else(zero, 0, pc.subtract(top, fraction_groups))
    positive_sign = _lb(struct.pack(">HH", 0, scale))
    sign_and_scale: pa.Array | pa.Scalar = positive_sign
    if negative is not None:
        negative_sign = _lb(struct.pack(">HH", 0x4000, scale))
        sign_and_scale = pc.if_else(
            pc.and_(negative, pc.invert(zero)), negative_sign, positive_sign
        )
    header = _join(
        _be_fixed(pc.cast(count, pa.int16()), 2),
        _be_fixed(pc.cast(weight, pa.int16()), 2),
        sign_and_scale,
    )
    pieces = [
        pc.if_else(
            pc.and_(pc.greater_equal(k, bottom), pc.less_equal(k, top)),
            _be_fixed(groups[k], 2),
            _EMPTY,
        )
        for k in range(4, -1, -1)
    ]
    return _keep_nulls(unscaled, _join(header, *pieces))


def _numeric_codec(
    to_text: Enc,
    modifier: int = -1,
    to_unscaled: Callable[[pa.Array], pa.Array | None] | None = None,
    scale: int = 0,
) -> _Codec:
    def binary(arr: pa.Array) -> pa.Array:
        unscaled = to_unscaled(arr) if to_unscaled is not None else None
        if unscaled is not None:
            out = _numeric_send_columns(unscaled, scale)
            if out is not None:
                return out
        return _from_py(to_text(arr).to_pylist(), lambda b: numeric_send(b.decode("ascii")))

    return _Codec(
        Oid.NUMERIC,
        Oid.NUMERIC_ARRAY,
        -1,
        to_text,
        binary,
        to_text,
        modifier=modifier,
        bare=True,
    )


def _decimal_text(arr: pa.Array) -> pa.Array:
    """Decimal digits as numeric_out prints them: Arrow switches to exponent form
    (`1E-10`, `0E-7`) for values below 1e-6 with a larger scale."""
    out = pc.cast(arr, pa.string())
    exponent_form = pc.match_substring(out, "E")
    return _patch(out, exponent_form, out, lambda v: format(Decimal(v), "f")).cast(_LB)


def _decimal_codec(t: pa.DataType) -> _Codec:
    if t.scale >= 0:
        return _numeric_codec(
            _decimal_text,
            _numeric_modifier(t.precision, t.scale),
            _unscaled_int64 if pa.types.is_decimal128(t) else None,
            t.scale,
        )
    digits = t.precision - t.scale
    target = pa.decimal128(digits, 0) if digits <= 38 else pa.decimal256(digits, 0)
    return _numeric_codec(lambda arr: _as_text(arr.cast(target)), _numeric_modifier(digits, 0))


# text and bytea ------------------------------------------------------------------


def _json_string(arr: pa.Array) -> pa.Array:
    """UTF-8 text values as JSON strings, escaped as PostgreSQL's escape_json does."""
    escaped = pc.replace_substring(arr, b"\\", b"\\\\")
    escaped = pc.replace_substring(escaped, b'"', b'\\"')
    out = _join(_QUOTE, escaped, _QUOTE)
    controls = pc.match_substring_regex(arr, r"[\x00-\x1f]")
    encode = json.encoder.encode_basestring  # type: ignore[attr-defined]
    return _patch(out, controls, arr, lambda b: encode(b.decode("utf-8")).encode("utf-8"))


_TEXT_OIDS = {
    "text": (Oid.TEXT, Oid.TEXT_ARRAY),
    "varchar": (Oid.VARCHAR, Oid.VARCHAR_ARRAY),
    "name": (Oid.NAME, Oid.NAME_ARRAY),
    "char": (Oid.CHAR, Oid.CHAR_ARRAY),
}


def _text_codec(flavour: str = "text", pre: Enc = _to_lb) -> _Codec:
    oid, array_oid = _TEXT_OIDS[flavour]

    def text(arr: pa.Array) -> pa.Array:
        return pre(arr)

    return _Codec(oid, array_oid, -1, text, text, lambda arr: _json_string(text(arr)))


def _json_codec(fragments: Enc, flavour: str = "json") -> _Codec:
    """A json or jsonb column whose values are the JSON texts `fragments` writes."""
    if flavour == "jsonb":
        return _Codec(
            Oid.JSONB,
            Oid.JSONB_ARRAY,
            -1,
            fragments,
            lambda arr: _join(_lb(b"\x01"), fragments(arr)),
            fragments,
        )
    return _Codec(Oid.JSON, Oid.JSON_ARRAY, -1, fragments, fragments, fragments)


def _bytea_hex(value: bytes) -> bytes:
    return b"\\x" + binascii.hexlify(value)


def _bytea_codec() -> _Codec:
    def text(arr: pa.Array) -> pa.Array:
        return _from_py(_to_lb(arr).to_pylist(), _bytea_hex)

    def json_(arr: pa.Array) -> pa.Array:
        return _from_py(_to_lb(arr).to_pylist(), lambda v: b'"\\\\x' + binascii.hexlify(v) + b'"')

    return _Codec(Oid.BYTEA, Oid.BYTEA_ARRAY, -1, text, _to_lb, json_)


# dates and times -----------------------------------------------------------------


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01, proleptic Gregorian;
    year 0 is 1 BC."""
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def days_from_civil(year: int, month: int, day: int) -> int:
    """Inverse of `civil_from_days`."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _pg_date_parts(days: int) -> tuple[str, str]:
    """(`YYYY-MM-DD`, era suffix) as PostgreSQL's ISO DateStyle prints a date."""
    year, month, day = civil_from_days(days)
    if year > 0:
        return f"{year:04d}-{month:02d}-{day:02d}", ""
    return f"{1 - year:04d}-{month:02d}-{day:02d}", " BC"


def _time_text(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction:
        text += "." + f"{fraction:06d}".rstrip("0")
    return text


def pg_offset_text(offset_seconds: int, *, xsd: bool = False) -> str:
    """A UTC offset as PostgreSQL prints it: `+05`, `+05:30`, `+00:19:32` (or always
    with minutes, as in json output)."""
    sign = "-" if offset_seconds < 0 else "+"
    minutes, seconds = divmod(abs(offset_seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if seconds:
        return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if minutes or xsd:
        return f"{sign}{hours:02d}:{minutes:02d}"
    return f"{sign}{hours:02d}"


def _pg_date_text(days: int) -> str:
    date, era = _pg_date_parts(days)
    return date + era


def _pg_timestamp_text(
    micros: int, offset: int | None = None, *, xsd: bool = False, sep: str = " "
) -> str:
    """A local timestamp (micros since 1970) as PostgreSQL prints it; `offset` for
    timestamptz."""
    days, rest = divmod(micros, _US_PER_DAY)
    date, era = _pg_date_parts(days)
    zone = "" if offset is None else pg_offset_text(offset, xsd=xsd)
    return f"{date}{sep}{_time_text(rest)}{zone}{era}"


def _trim_fraction(text: pa.Array) -> pa.Array:
    """Drops trailing zeros of the seconds' fraction (and a bare '.'), as PostgreSQL
    prints them. Every value must have a fraction (Arrow prints microsecond units with
    all six digits), so the '.' protects the seconds' own zeros."""
    return pc.ascii_rtrim(pc.ascii_rtrim(text, characters="0"), characters=".")


def _date_days(arr: pa.Array) -> pa.Array:
    if pa.types.is_date64(arr.type):
        arr = pc.cast(arr, pa.date32())
    return arr.view(pa.int32())


def _date_codec() -> _Codec:
    def specials(days: pa.Array) -> pa.Array:
        return pc.or_(pc.less(days, _FIRST_AD_DAY), pc.greater_equal(pc.abs(days), _INT32_MAX))

    def render(days: int) -> str:
        if days >= _INT32_MAX:
            return "infinity"
        if days <= -_INT32_MAX:
            return "-infinity"
        return _pg_date_text(days)

    def text_str(arr: pa.Array) -> pa.Array:
        days = _date_days(arr)
        out = pc.cast(days.view(pa.date32()), pa.string())
        return _patch(out, specials(days), days, render)

    def binary(arr: pa.Array) -> pa.Array:
        days = pc.cast(_date_days(arr), pa.int64())
        shifted = pc.subtract(days, _POSTGRES_EPOCH_DAYS)
        shifted = pc.if_else(pc.greater_equal(days, _INT32_MAX), _INT32_MAX, shifted)
        shifted = pc.if_else(pc.less_equal(days, -_INT32_MAX), -_INT32_MAX - 1, shifted)
        return _be_fixed(pc.cast(shifted, pa.int32()), 4)

    def text(arr: pa.Array) -> pa.Array:
        return text_str(arr).cast(_LB)

    def json_(arr: pa.Array) -> pa.Array:
        return _join(_QUOTE, text(arr), _QUOTE)

    return _Codec(Oid.DATE, Oid.DATE_ARRAY, 4, text, binary, json_)


def _time_micros(arr: pa.Array) -> pa.Array:
    """time32/time64 values as int64 microseconds since midnight (ns floored)."""
    unit = arr.type.unit
    raw = pc.cast(arr.view(pa.int32() if pa.types.is_time32(arr.type) else pa.int64()), pa.int64())
    if unit == "s":
        return pc.multiply(raw, 1_000_000)
    if unit == "ms":
        return pc.multiply(raw, 1000)
    if unit == "ns":
        return pc.divide(raw, 1000)  # times are non-negative: truncation is the floor
    return raw


def _time_codec() -> _Codec:
    def text(arr: pa.Array) -> pa.Array:
        micros = _time_micros(arr)
        return _trim_fraction(pc.cast(pc.cast(micros, pa.time64("us")), pa.string())).cast(_LB)

    def binary(arr: pa.Array) -> pa.Array:
        return _be_fixed(_time_micros(arr), 8)

    def json_(arr: pa.Array) -> pa.Array:
        return _join(_QUOTE, text(arr), _QUOTE)

    return _Codec(Oid.TIME, Oid.TIME_ARRAY, 8, text, binary, json_)


def _floor_div(values: pa.Array, divisor: int) -> pa.Array:
    quotient = pc.divide(values, divisor)
    negative_rest = pc.less(pc.subtract(values, pc.multiply(quotient, divisor)), 0)
    return pc.if_else(negative_rest, pc.subtract(quotient, 1), quotient)


def _timestamp_micros(arr: pa.Array) -> tuple[pa.Array, pa.Array | None, pa.Array | None]:
    """(int64 microseconds since 1970 with infinite values zeroed, +inf mask, -inf mask).

    DuckDB writes infinite timestamps as the extreme int64 values of any unit.
    """
    raw = arr.view(pa.int64())
    pos_inf = pc.fill_null(pc.equal(raw, _INT64_MAX), False)
    neg_inf = pc.fill_null(pc.less_equal(raw, -_INT64_MAX), False)
    if pc.any(pos_inf).as_py() or pc.any(neg_inf).as_py():
        raw = pc.if_else(pc.or_(pos_inf, neg_inf), 0, raw)
    else:
        pos_inf = neg_inf = None
    unit = arr.type.unit
    if unit == "s":
        raw = pc.multiply_checked(raw, 1_000_000)
    elif unit == "ms":
        raw = pc.multiply_checked(raw, 1000)
    elif unit == "ns":
        raw = _floor_div(raw, 1000)
    return raw, pos_inf, neg_inf


def _set_infinities(
    out: pa.Array, pos_inf: pa.Array | None, neg_inf: pa.Array | None, pos: Any, neg: Any
) -> pa.Array:
    if pos_inf is not None and neg_inf is not None:
        out = pc.if_else(pos_inf, pa.scalar(pos, out.type), out)
        out = pc.if_else(neg_inf, pa.scalar(neg, out.type), out)
    return out


def _timestamp_binary(arr: pa.Array) -> pa.Array:
    micros, pos_inf, neg_inf = _timestamp_micros(arr)
    shifted = pc.subtract_checked(micros, _POSTGRES_EPOCH_US)
    return _be_fixed(_set_infinities(shifted, pos_inf, neg_inf, _INT64_MAX, _INT64_MIN), 8)


def _timestamp_codec() -> _Codec:
    def text_with(sep: str) -> Enc:
        def encode(arr: pa.Array) -> pa.Array:
            micros, pos_inf, neg_inf = _timestamp_micros(arr)
            out = _trim_fraction(pc.cast(pc.cast(micros, pa.timestamp("us")), pa.string()))
            if sep != " ":
                out = pc.replace_substring(out, " ", sep, max_replacements=1)
            out = _patch(
                out,
                pc.less(micros, _FIRST_AD_US),
                micros,
                lambda us: _pg_timestamp_text(us, sep=sep),
            )
            return _set_infinities(out, pos_inf, neg_inf, "infinity", "-infinity").cast(_LB)

        return encode

    text = text_with(" ")
    iso = text_with("T")
    return _Codec(
        Oid.TIMESTAMP,
        Oid.TIMESTAMP_ARRAY,
        8,
        text,
        _timestamp_binary,
        lambda arr: _join(_QUOTE, iso(arr), _QUOTE),
    )


def _timestamptz_codec(timezone: str) -> _Codec:
    def text_with(xsd: bool) -> Enc:
        sep = "T" if xsd else " "

        def encode(arr: pa.Array) -> pa.Array:
            micros, pos_inf, neg_inf = _timestamp_micros(arr)
            local = pc.local_timestamp(pc.cast(micros, pa.timestamp("us", tz=timezone)))
            local_micros = local.view(pa.int64())
            offsets = pc.divide(pc.subtract(local_micros, micros), 1_000_000)
            zones = pc.dictionary_encode(offsets)
            labels = [pg_offset_text(v, xsd=xsd) for v in zones.dictionary.to_pylist()]
            zone_text = pc.take(pa.array(labels, pa.string()), zones.indices)
            out = _trim_fraction(pc.cast(local, pa.string()))
            if xsd:
                out = pc.replace_substring(out, " ", "T", max_replacements=1)
            out = _join(out.cast(_LB), zone_text.cast(_LB))
            early = pc.less(local_micros, _FIRST_AD_US)
            pairs = pa.StructArray.from_arrays([local_micros, offsets], ["local", "offset"])
            out = _patch(
                out,
                early,
                pairs,
                lambda p: _pg_timestamp_text(p["local"], p["offset"], xsd=xsd, sep=sep).encode(),
            )
            return _set_infinities(out, pos_inf, neg_inf, b"infinity", b"-infinity")

        return encode

    text = text_with(False)
    iso = text_with(True)
    return _Codec(
        Oid.TIMESTAMPTZ,
        Oid.TIMESTAMPTZ_ARRAY,
        8,
        text,
        _timestamp_binary,
        lambda arr: _join(_QUOTE, iso(arr), _QUOTE),
    )


# intervals -----------------------------------------------------------------------

_INTERVAL = struct.Struct(">qii")


def _trunc_div(value: int, divisor: int) -> int:
    q = abs(value) // divisor
    return -q if value < 0 else q


def pg_interval_text(months: int, days: int, micros: int) -> str:
    """An interval as PostgreSQL prints it with IntervalStyle=postgres."""
    years = _trunc_div(months, 12)
    parts: list[str] = []
    is_before = False
    for value, unit in ((years, "year"), (months - years * 12, "mon"), (days, "day")):
        if value:
            plus = "+" if is_before and value > 0 else ""
            parts.append(f"{plus}{value} {unit}{'' if value == 1 else 's'}")
            is_before = value < 0
    if not parts or micros:
        hours = _trunc_div(micros, 3_600_000_000)
        rest = abs(micros - hours * 3_600_000_000)
        minutes, rest = divmod(rest, 60_000_000)
        sign = "-" if micros < 0 else ("+" if is_before else "")
        time = f"{sign}{abs(hours):02d}:{minutes:02d}:{_time_text(rest)[6:]}"
        parts.append(time)
    return " ".join(parts)


def _interval_codec(to_parts: Callable[[pa.Array], list[Any]]) -> _Codec:
    """`to_parts` gives (months, days, micros) tuples (or None) per value."""

    def text(arr: pa.Array) -> pa.Array:
        return _from_py(to_parts(arr), lambda p: pg_interval_text(*p).encode())

    def binary(arr: pa.Array) -> pa.Array:
        return _from_py(to_parts(arr), lambda p: _INTERVAL.pack(p[2], p[1], p[0]))

    def json_(arr: pa.Array) -> pa.Array:
        return _from_py(to_parts(arr), lambda p: b'"' + pg_interval_text(*p).encode() + b'"')

    return _Codec(Oid.INTERVAL, Oid.INTERVAL_ARRAY, 16, text, binary, json_)


def _month_day_nano_parts(arr: pa.Array) -> list[Any]:
    return [
        None if v is None else (v.months, v.days, _trunc_div(v.nanoseconds, 1000))
        for v in arr.to_pylist()
    ]


def _duration_parts(arr: pa.Array) -> list[Any]:
    unit = arr.type.unit
    values = arr.view(pa.int64()).to_pylist()
    if unit == "ns":
        return [None if v is None else (0, 0, _trunc_div(v, 1000)) for v in values]
    scale = {"s": 1_000_000, "ms": 1000, "us": 1}[unit]
    return [None if v is None else (0, 0, v * scale) for v in values]


# uuid, time with time zone, DuckDB opaque types ----------------------------------


def _uuid_text(value: bytes) -> bytes:
    h = binascii.hexlify(value)
    return b"-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))


def _uuid_codec() -> _Codec:
    def text(arr: pa.Array) -> pa.Array:
        return _from_py(arr.to_pylist(), _uuid_text)

    def json_(arr: pa.Array) -> pa.Array:
        return _from_py(arr.to_pylist(), lambda v: b'"' + _uuid_text(v) + b'"')

    return _Codec(Oid.UUID, Oid.UUID_ARRAY, 16, text, _to_lb, json_, bare=True)


_DUCKDB_TIMETZ_MAX_OFFSET = 16 * 60 * 60 - 1
_TIMETZ = struct.Struct(">qi")


def _duckdb_time_tz_parts(arr: pa.Array) -> list[Any]:
    # dtime_tz_t: micros since midnight << 24 | (MAX_OFFSET - offset seconds)
    return [
        None if bits is None else (bits >> 24, _DUCKDB_TIMETZ_MAX_OFFSET - (bits & 0xFFFFFF))
        for bits in arr.storage.view(pa.uint64()).to_pylist()
    ]


def _timetz_codec(to_parts: Callable[[pa.Array], list[Any]]) -> _Codec:
    def render(p: tuple[int, int]) -> bytes:
        return (_time_text(p[0]) + pg_offset_text(p[1])).encode()

    def text(arr: pa.Array) -> pa.Array:
        return _from_py(to_parts(arr), render)

    def binary(arr: pa.Array) -> pa.Array:
        # timetz_send: micros, then the zone in seconds west of UTC
        return _from_py(to_parts(arr), lambda p: _TIMETZ.pack(p[0], -p[1]))

    def json_(arr: pa.Array) -> pa.Array:
        return _from_py(to_parts(arr), lambda p: b'"' + render(p) + b'"')

    return _Codec(Oid.TIMETZ, Oid.TIMETZ_ARRAY, 12, text, binary, json_)


def _duckdb_bit_text(arr: pa.Array) -> pa.Array:
    def render(v: bytes) -> bytes:
        # the first byte counts the padding bits at the start of the bit data
        bits = bin(int.from_bytes(v[1:], "big"))[2:].zfill((len(v) - 1) * 8)
        return bits[v[0] :].encode()

    return _from_py(arr.storage.to_pylist(), render)


def _duckdb_bignum_text(arr: pa.Array) -> pa.Array:
    def render(v: bytes) -> bytes:
        # 3-byte header (top bit set when non-negative), then the big-endian
        # magnitude; every byte is inverted for negative numbers
        negative = not v[0] & 0x80
        magnitude = int.from_bytes(v[3:], "big")
        if negative:
            magnitude = (1 << (8 * (len(v) - 3))) - 1 - magnitude
        return str(-magnitude if negative else magnitude).encode()

    return _from_py(arr.storage.to_pylist(), render)


def _duckdb_hugeint_text(arr: pa.Array) -> pa.Array:
    # the same bytes as a decimal128 of scale 0: Arrow prints all 39 digits
    return _as_text(arr.storage.view(pa.decimal128(38, 0)))


def _duckdb_uhugeint_text(arr: pa.Array) -> pa.Array:
    return _from_py(arr.storage.to_pylist(), lambda v: str(int.from_bytes(v, "little")).encode())


def _opaque_codec(t: pa.DataType) -> _Codec | None:
    if getattr(t, "vendor_name", None) != "DuckDB":
        return None
    name = t.type_name
    if name == "time_tz":
        return _timetz_codec(_duckdb_time_tz_parts)
    if name == "bit":
        return _text_codec(pre=_duckdb_bit_text)
    if name == "hugeint":
        return _numeric_codec(_duckdb_hugeint_text, _numeric_modifier(39, 0))
    if name == "uhugeint":
        return _numeric_codec(_duckdb_uhugeint_text, _numeric_modifier(39, 0))
    if name == "bignum":
        return _numeric_codec(_duckdb_bignum_text)
    return None


# arrays --------------------------------------------------------------------------


def _list_parts(arr: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array | None]:
    """(int64 offsets from 0, the values they index, null mask or None) of any list."""
    t = arr.type
    n = len(arr)
    mask = arr.is_null() if arr.null_count else None
    if pa.types.is_fixed_size_list(t):
        size = t.list_size
        values = arr.values.slice(arr.offset * size, n * size)
        offsets = pa.array([i * size for i in range(n + 1)], pa.int64())
        return offsets, values, mask
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        valid = arr.is_valid().to_pylist()
        starts = arr.offsets.to_pylist()
        sizes = arr.sizes.to_pylist()
        indices: list[int] = []
        offsets = [0]
        for ok, start, size in zip(valid, starts, sizes, strict=True):
            if ok:
                indices.extend(range(start, start + size))
            offsets.append(len(indices))
        values = arr.values.take(pa.array(indices, pa.int64()))
        return pa.array(offsets, pa.int64()), values, mask
    offsets = arr.offsets
    start = offsets[0].as_py()
    end = offsets[-1].as_py()
    values = arr.values.slice(start, end - start)
    return pc.subtract(pc.cast(offsets, pa.int64()), start), values, mask


class _Levels(NamedTuple):
    levels: list[tuple[pa.Array, pa.Array | None]]  # (offsets, null mask), outermost first
    leaf: pa.Array


def _levels(arr: pa.Array, depth: int) -> _Levels:
    levels = []
    for _ in range(depth):
        offsets, arr, mask = _list_parts(arr)
        levels.append((offsets, mask))
    return _Levels(levels, arr)


class _NotRectangular(ValueError):
    pass


def _shapes(levels: list[tuple[pa.Array, pa.Array | None]]) -> list[tuple[int, ...] | None]:
    """Each outer row's dimensions (() for an empty array, None for NULL).

    Raises _NotRectangular for a value PostgreSQL cannot hold: sub-arrays of
    different shapes, a NULL sub-array, or an empty sub-array in a non-empty one.
    """
    shapes: list[Any] = []
    for depth, (offsets, mask) in enumerate(reversed(levels)):
        bounds = offsets.to_pylist()
        nulls = mask.to_pylist() if mask is not None else None
        inner = shapes
        shapes = []
        for i in range(len(bounds) - 1):
            if nulls is not None and nulls[i]:
                shapes.append(None)
                continue
            start, end = bounds[i], bounds[i + 1]
            if start == end:
                shapes.append(())
            elif depth == 0:
                shapes.append((end - start,))
            else:
                first = inner[start]
                if not first or any(s != first for s in inner[start + 1 : end]):
                    raise _NotRectangular(i)
                shapes.append((end - start, *first))
    return shapes


_ARRAY_SPECIAL = r'^$|[ \t\n\r\v\f"\\{},]|^[Nn][Uu][Ll][Ll]$'


def _quote_elements(values: pa.Array) -> pa.Array:
    """Quotes the elements array_out would quote (empty, NULL, delimiters, spaces)."""
    special = pc.fill_null(pc.match_substring_regex(values, _ARRAY_SPECIAL), False)
    if not pc.any(special).as_py():
        return values
    chosen = pc.filter(values, special)
    escaped = pc.replace_substring(chosen, b"\\", b"\\\\")
    escaped = pc.replace_substring(escaped, b'"', b'\\"')
    return pc.replace_with_mask(values, special, _join(_QUOTE, escaped, _QUOTE))


_ARRAY_HEADER = struct.Struct(">iiI")
_ARRAY_DIM = struct.Struct(">ii")


def _array_codec(leaf: _Codec, depth: int, path: str) -> _Codec:
    def shapes(levels: list[tuple[pa.Array, pa.Array | None]]) -> list[Any] | None:
        if depth == 1:
            return None
        try:
            return _shapes(levels)
        except _NotRectangular as e:
            raise ValueError(
                f"column {path!r}: row {e.args[0]} holds a nested list that is not a"
                " rectangular array (sub-lists of different lengths, or NULL or empty"
                " sub-lists), which PostgreSQL arrays cannot hold"
            ) from None

    def nest(levels: _Levels, elements: pa.Array, left: bytes, right: bytes) -> pa.Array:
        current = elements
        for level, (offsets, mask) in enumerate(reversed(levels.levels)):
            if level:
                current = pc.fill_null(current, b"null")  # only json nests NULLs
            lists = pa.LargeListArray.from_arrays(offsets, current, mask=mask)
            current = _join(_lb(left), pc.binary_join(lists, _COMMA), _lb(right))
        return current

    def text(arr: pa.Array) -> pa.Array:
        levels = _levels(arr, depth)
        shapes(levels.levels)
        elements = leaf.text(levels.leaf)
        if not leaf.bare:
            elements = _quote_elements(elements)
        return nest(levels, pc.fill_null(elements, b"NULL"), b"{", b"}")

    def json_(arr: pa.Array) -> pa.Array:
        levels = _levels(arr, depth)
        return nest(levels, pc.fill_null(leaf.json(levels.leaf), b"null"), b"[", b"]")

    def binary(arr: pa.Array) -> pa.Array:
        levels = _levels(arr, depth)
        dims = shapes(levels.levels)
        offsets = levels.levels[-1][0]
        for outer, _ in reversed(levels.levels[:-1]):
            offsets = pc.take(offsets, outer)
        outer_mask = levels.levels[0][1]
        framed = _frame(leaf.binary(levels.leaf))
        body = pc.binary_join(
            pa.LargeListArray.from_arrays(offsets, framed, mask=outer_mask), _EMPTY
        )
        null_flags = pc.cast(levels.leaf.is_null(), pa.int64())
        null_runs = pc.cumulative_sum(pa.concat_arrays([pa.array([0], pa.int64()), null_flags]))
        bounds = offsets.to_pylist()
        null_upto = pc.take(null_runs, offsets).to_pylist()
        nulls = outer_mask.to_pylist() if outer_mask is not None else None
        cache: dict[tuple[Any, bool], bytes] = {}
        headers: list[bytes | None] = []
        for i in range(len(bounds) - 1):
            if nulls is not None and nulls[i]:
                headers.append(None)
                continue
            if dims is None:
                length = bounds[i + 1] - bounds[i]
                shape: tuple[int, ...] = (length,) if length else ()
            else:
                shape = dims[i] or ()
            key = (shape, null_upto[i + 1] != null_upto[i])
            header = cache.get(key)
            if header is None:
                header = cache[key] = _ARRAY_HEADER.pack(len(shape), key[1], leaf.oid) + b"".join(
                    _ARRAY_DIM.pack(d, 1) for d in shape
                )
            headers.append(header)
        return _join(pa.array(headers, _LB), body)

    return _Codec(
        leaf.array_oid,
        leaf.array_oid,
        -1,
        text,
        binary,
        json_,
        modifier=leaf.modifier,
        is_array=True,
    )


def _list_json_codec(leaf: _Codec, depth: int, flavour: str) -> _Codec:
    """A (possibly ragged) nested list as a json array."""
    array_codec = _array_codec(leaf, depth, "")
    return _json_codec(array_codec.json, flavour)


# structs, maps, unions -----------------------------------------------------------


def _struct_json(children: list[_Codec], names: list[str]) -> Enc:
    encode = json.encoder.encode_basestring  # type: ignore[attr-defined]
    keys = [encode(name).encode("utf-8") + b":" for name in names]

    def fragments(arr: pa.Array) -> pa.Array:
        if not children:
            return pc.if_else(arr.is_valid(), _lb(b"{}"), _NULL)
        parts: list[Any] = []
        for i, (codec, child) in enumerate(zip(children, arr.flatten(), strict=True)):
            parts.append(_lb((b"{" if i == 0 else b",") + keys[i]))
            parts.append(pc.fill_null(codec.json(child), b"null"))
        parts.append(_lb(b"}"))
        return _keep_nulls(arr, _join(*parts))

    return fragments


def _map_json(key: _Codec, item: _Codec) -> Enc:
    def fragments(arr: pa.Array) -> pa.Array:
        offsets, entries, mask = _list_parts(arr)
        keys, items = entries.flatten()
        pairs = _join(
            _json_string(key.text(keys)), _lb(b":"), pc.fill_null(item.json(items), b"null")
        )
        lists = pa.LargeListArray.from_arrays(offsets, pairs, mask=mask)
        return _join(_lb(b"{"), pc.binary_join(lists, _COMMA), _lb(b"}"))

    return fragments


def _union_select(t: pa.UnionType, children: list[_Codec], pick: Callable[[_Codec], Enc]) -> Enc:
    def encode(arr: pa.Array) -> pa.Array:
        members = [pick(c)(arr.field(i)).to_pylist() for i, c in enumerate(children)]
        return pa.array(union_rows(arr, members), _LB)

    return encode


# the mapping ---------------------------------------------------------------------

_EXTENSION_NAME = b"ARROW:extension:name"
_PG_TYPE_NAMES = ("text", "varchar", "name", "char", "json", "jsonb")


def _metadata_extension(f: pa.Field) -> str | None:
    if f.metadata and _EXTENSION_NAME in f.metadata:
        return f.metadata[_EXTENSION_NAME].decode("utf-8", "replace")
    return None


def _requested_type(f: pa.Field, path: str) -> str | None:
    if not f.metadata or PG_TYPE_KEY not in f.metadata:
        return None
    name = f.metadata[PG_TYPE_KEY].decode("utf-8", "replace").lower()
    if name not in _PG_TYPE_NAMES:
        raise ValueError(
            f"column {path!r}: {PG_TYPE_KEY.decode()} {name!r} is not one of"
            f" {', '.join(_PG_TYPE_NAMES)}"
        )
    return name


def _json_flavour(requested: str | None) -> str:
    return "jsonb" if requested == "jsonb" else "json"


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


_INTEGERS = {
    pa.int8(): Oid.INT2,
    pa.int16(): Oid.INT2,
    pa.int32(): Oid.INT4,
    pa.int64(): Oid.INT8,
    pa.uint8(): Oid.INT2,
    pa.uint16(): Oid.INT4,
    pa.uint32(): Oid.INT8,
}


def _child(sample: pa.Array | None, get: Callable[[pa.Array], pa.Array]) -> pa.Array | None:
    return None if sample is None else get(sample)


def _list_depth(t: pa.DataType) -> tuple[int, pa.Field]:
    depth = 0
    field = None
    while is_list_type(t):
        depth += 1
        field = t.value_field
        t = field.type
    assert field is not None
    return depth, field


def _codec_for(f: pa.Field, sample: pa.Array | None, path: str, timezone: str) -> _Codec:
    """Chooses the PostgreSQL type and encoders for one Arrow field (recursively)."""
    t = f.type
    requested = _requested_type(f, path)

    if isinstance(t, pa.BaseExtensionType):
        name = t.extension_name
        if name == "arrow.uuid":
            return _wrap(_uuid_codec(), lambda arr: arr.storage)
        if name == "arrow.json":
            return _json_codec(lambda arr: _to_lb(arr.storage), _json_flavour(requested))
        if name == "arrow.bool8":
            return _bool_codec(lambda arr: pc.not_equal(arr.storage, 0))
        if name == "arrow.opaque":
            opaque = _opaque_codec(t)
            if opaque is not None:
                return opaque
        inner = _codec_for(
            pa.field(f.name, t.storage_type, metadata=f.metadata),
            _child(sample, lambda s: s.storage),
            path,
            timezone,
        )
        return _wrap(inner, lambda arr: arr.storage)

    marked = _metadata_extension(f)
    if marked == "arrow.json" and _is_string(t):
        return _json_codec(_to_lb, _json_flavour(requested))
    if marked == "arrow.uuid" and pa.types.is_fixed_size_binary(t) and t.byte_width == 16:
        return _uuid_codec()

    if pa.types.is_null(t):
        return _text_codec(pre=lambda arr: pa.nulls(len(arr), _LB))
    if pa.types.is_boolean(t):
        return _bool_codec(lambda arr: arr)
    if t in _INTEGERS:
        return _int_codec(_INTEGERS[t])
    if pa.types.is_uint64(t):
        return _numeric_codec(_as_text, _numeric_modifier(20, 0), lambda arr: arr)
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return _float_codec(single=True)
    if pa.types.is_float64(t):
        return _float_codec(single=False)
    if pa.types.is_decimal(t):
        return _decimal_codec(t)
    if _is_string(t):
        if requested in ("json", "jsonb"):
            return _json_codec(_to_lb, requested)
        return _text_codec(requested or "text")
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return _bytea_codec()
    if pa.types.is_date(t):
        return _date_codec()
    if pa.types.is_time(t):
        return _time_codec()
    if pa.types.is_timestamp(t):
        return _timestamp_codec() if t.tz is None else _timestamptz_codec(timezone)
    if pa.types.is_duration(t):
        return _interval_codec(_duration_parts)
    if t == pa.month_day_nano_interval():
        return _interval_codec(_month_day_nano_parts)

    if pa.types.is_dictionary(t):
        value = _codec_for(
            pa.field(f.name, t.value_type, metadata=f.metadata),
            _child(sample, lambda s: s.dictionary),
            path,
            timezone,
        )
        return _dictionary(value)
    if pa.types.is_run_end_encoded(t):
        value = _codec_for(
            pa.field(f.name, t.value_type, metadata=f.metadata),
            _child(sample, pc.run_end_decode),
            path,
            timezone,
        )
        return _wrap(value, pc.run_end_decode)

    if is_list_type(t):
        depth, leaf_field = _list_depth(t)
        leaf_sample = sample
        if leaf_sample is not None:
            leaf_sample = _levels(leaf_sample, depth).leaf
        leaf = _codec_for(leaf_field, leaf_sample, path + "[]", timezone)
        if leaf.is_array:  # a list of something that is already an array (dictionary ...)
            return _list_json_codec(leaf, depth, _json_flavour(requested))
        if depth > 1 and sample is not None:
            try:
                _shapes(_levels(sample, depth).levels)
            except _NotRectangular:
                return _list_json_codec(leaf, depth, _json_flavour(requested))
        return _array_codec(leaf, depth, path)
    if pa.types.is_map(t):
        key = _codec_for(t.key_field, _child(sample, lambda s: s.keys), path + ".key", timezone)
        item = _codec_for(
            t.item_field, _child(sample, lambda s: s.items), path + ".value", timezone
        )
        return _json_codec(_map_json(key, item), _json_flavour(requested))
    if pa.types.is_struct(t):
        samples = sample.flatten() if sample is not None else [None] * t.num_fields
        fields = [t.field(i) for i in range(t.num_fields)]
        children = [
            _codec_for(field, samples[i], f"{path}.{field.name}", timezone)
            for i, field in enumerate(fields)
        ]
        return _json_codec(
            _struct_json(children, [field.name for field in fields]), _json_flavour(requested)
        )
    if pa.types.is_union(t):
        children = [
            _codec_for(
                t.field(i),
                sample.field(i) if sample is not None else None,
                f"{path}.{t.field(i).name}",
                timezone,
            )
            for i in range(t.num_fields)
        ]
        text = _union_select(t, children, lambda c: c.text)
        return replace(_text_codec(pre=text), json=_union_select(t, children, lambda c: c.json))

    raise ValueError(f"column {path!r}: Arrow type {t} has no PostgreSQL equivalent")


def _result_formats(formats: Sequence[int] | int, n: int) -> list[int]:
    """Bind's result-format rule: no codes (all text), one code for all, or one each."""
    if isinstance(formats, int):
        codes = [formats] * n
    else:
        given = list(formats)
        if not given:
            codes = [TEXT] * n
        elif len(given) == 1:
            codes = given * n
        elif len(given) == n:
            codes = given
        else:
            raise ValueError(f"{len(given)} result format codes for {n} columns")
    for code in codes:
        if code not in (TEXT, BINARY):
            raise ValueError(f"unsupported result format code {code}")
    return codes


def _check_timezone(timezone: str) -> None:
    try:
        pc.local_timestamp(pa.array([0], pa.timestamp("us", tz=timezone)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ValueError(f"unknown time zone {timezone!r}") from e


_DATA_ROW_TAG = _lb(b"D")


class PgEncoder:
    """Describes an Arrow schema as PostgreSQL RowDescription fields and encodes
    batches as DataRow values.

    `formats` follows Bind's result-format codes: one code for every column, or a
    sequence of none (all text), one, or one per column. `timezone` is the session
    TimeZone timestamptz values are printed in (an IANA name or an offset such as
    `+05:30`). `sample`, the first batch, lets a column of nested lists holding a
    non-rectangular value be typed json rather than an array (see the module notes).

    The types are decided once, so every batch of a result is encoded the same way.
    """

    def __init__(
        self,
        schema: pa.Schema,
        formats: Sequence[int] | int = TEXT,
        timezone: str = "UTC",
        *,
        sample: pa.RecordBatch | None = None,
    ) -> None:
        if sample is not None and sample.num_columns != len(schema):
            raise ValueError(
                f"sample batch has {sample.num_columns} columns, schema has {len(schema)}"
            )
        _check_timezone(timezone)
        self.schema = schema
        self.timezone = timezone
        self.formats = _result_formats(formats, len(schema))
        self._codecs = [
            _codec_for(f, _column_of(sample, i) if sample is not None else None, f.name, timezone)
            for i, f in enumerate(schema)
        ]
        self._encoders: list[Enc] = [
            codec.binary if code == BINARY else codec.text
            for codec, code in zip(self._codecs, self.formats, strict=True)
        ]
        self.fields: list[FieldInfo] = [
            FieldInfo(f.name, int(c.oid), c.size, c.modifier, code)
            for f, c, code in zip(schema, self._codecs, self.formats, strict=True)
        ]

    def encode_columns(self, batch: pa.RecordBatch | pa.Table) -> list[pa.Array]:
        """Each column's wire values as a large_binary array (NULL where SQL NULL)."""
        if batch.num_columns != len(self._encoders):
            raise ValueError(
                f"batch has {batch.num_columns} columns, encoder expects {len(self._encoders)}"
            )
        out = []
        for i, encode in enumerate(self._encoders):
            try:
                out.append(encode(_column_of(batch, i)))
            except (pa.ArrowInvalid, OverflowError, struct.error) as e:
                raise ValueError(f"column {self.schema[i].name!r}: {e}") from e
        return out

    def encode_rows(self, batch: pa.RecordBatch | pa.Table) -> Iterator[tuple[bytes | None, ...]]:
        """The batch's rows as tuples of wire values (bytes, or None for NULL).

        The columns are encoded when this is called; the iterator only zips them.
        """
        columns = [column.to_pylist() for column in self.encode_columns(batch)]
        if not columns:
            return iter([()] * batch.num_rows)
        return zip(*columns, strict=True)

    def encode_data_rows(self, batch: pa.RecordBatch | pa.Table) -> bytes:
        """The batch as complete DataRow messages ('D', length, count, fields), ready to
        write to the socket; framed with Arrow kernels, no per-row Python. A few rows
        are framed in Python: each kernel call has a fixed cost that a point query's
        one row would pay a dozen times over."""
        n = batch.num_rows
        count = struct.pack(">h", len(self._encoders))
        if n == 0:
            return b""
        if not self._encoders:
            return (b"D" + struct.pack(">i", 6) + count) * n
        if n <= SMALL_BATCH_ROWS:
            return _frame_rows_in_python(self.encode_columns(batch), count)
        # One concatenation per row: tag, length, count, then each field's length word
        # and bytes; the message length is summed from the field lengths first.
        parts: list[pa.Array | pa.Scalar] = []
        total: pa.Array | int = 6
        for column in self.encode_columns(batch):
            lengths = pc.binary_length(column)
            total = pc.add(total, pc.fill_null(pc.add(lengths, 4), 4))
            parts.append(_be_fixed(pc.cast(pc.fill_null(lengths, -1), pa.int32()), 4))
            parts.append(pc.fill_null(column, b""))
        header = _be_fixed(pc.cast(total, pa.int32()), 4)
        rows = _join(_DATA_ROW_TAG, header, _lb(count), *parts)
        offsets = memoryview(rows.buffers()[1]).cast("q")
        start, end = offsets[rows.offset], offsets[rows.offset + n]
        return memoryview(rows.buffers()[2])[start:end].tobytes()

    def encode_copy_rows(self, batch: pa.RecordBatch | pa.Table, copy: CopyOut) -> bytes:
        """The batch as CopyData messages of COPY's text or CSV format, one per row.

        Text escapes backslash, newline, carriage return, tab and the delimiter; CSV
        quotes a value holding the delimiter, the quote, a line break, or equal to the
        NULL string. The encoder must be in text format.
        """
        if batch.num_rows == 0:
            return b""
        delimiter, null, quote = copy.delimiter, copy.null, copy.quote
        fields = []
        for column in self.encode_columns(batch):
            if copy.format == "csv":
                special = [delimiter, quote, b"\n", b"\r"]
                needs = pc.equal(column, _lb(null))
                for text in special:
                    needs = pc.or_(needs, pc.match_substring(column, text))
                quoted = _join(_lb(quote), pc.replace_substring(column, quote, quote * 2),
                               _lb(quote))  # fmt: skip
                column = pc.if_else(pc.fill_null(needs, False), quoted, column)
            else:
                for raw, escaped in (*_COPY_ESCAPES, (delimiter, b"\\" + delimiter)):
                    column = pc.replace_substring(column, raw, escaped)
            fields.append(pc.fill_null(column, null))
        if fields:
            rows = pc.binary_join_element_wise(*fields, _lb(delimiter))
        else:
            rows = pa.array([b""] * batch.num_rows, _LB)
        return _copy_data(_join(rows, _lb(b"\n")))

    def encode_copy_binary_rows(self, batch: pa.RecordBatch | pa.Table, *, first: bool) -> bytes:
        """The batch as CopyData messages of COPY's binary format, one per row; the
        first row of the copy carries the file header. The encoder must be binary."""
        n = batch.num_rows
        if n == 0:
            return b""
        count = _lb(struct.pack(">h", len(self._encoders)))
        rows = _join(count, *(_frame(column) for column in self.encode_columns(batch)))
        if first:
            rows = _join(pa.array([COPY_BINARY_HEADER] + [b""] * (n - 1), _LB), rows)
        return _copy_data(rows)


#: Up to this many rows, DataRows are framed in Python rather than with Arrow kernels.
_NULL_FIELD = b"\xff\xff\xff\xff"


def _frame_rows_in_python(columns: list[pa.Array], count: bytes) -> bytes:
    out = bytearray()
    pack = struct.Struct(">i").pack
    for row in zip(*(column.to_pylist() for column in columns), strict=True):
        body = bytearray(count)
        for value in row:
            if value is None:
                body += _NULL_FIELD
            else:
                body += pack(len(value))
                body += value
        out += b"D"
        out += pack(len(body) + 4)
        out += body
    return bytes(out)


_ENCODERS: dict[tuple[bytes, tuple[int, ...] | int, str], PgEncoder] = {}
_MAX_ENCODERS = 512


def cached_encoder(schema: pa.Schema, formats: tuple[int, ...] | int, timezone: str) -> PgEncoder:
    """The encoder for a result shape a session saw before: choosing every column's
    codec (and checking the time zone) costs more than encoding a point query's row.

    The key is the serialized schema: `pa.Schema` equality and hash ignore field
    metadata, which decides json vs text, "char", uuid ...
    """
    key = (schema.serialize().to_pybytes(), formats, timezone)
    encoder = _ENCODERS.get(key)
    if encoder is None:
        if len(_ENCODERS) >= _MAX_ENCODERS:
            _ENCODERS.clear()
        encoder = _ENCODERS[key] = PgEncoder(schema, formats, timezone=timezone)
    return encoder


#: COPY's binary file header: signature, flags and header-extension length.
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2
_COPY_ESCAPES = ((b"\\", b"\\\\"), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t"))
_COPY_DATA_TAG = _lb(b"d")


def _copy_data(rows: pa.Array) -> bytes:
    """Each value framed as one CopyData message, concatenated."""
    lengths = pc.cast(pc.add(pc.binary_length(rows), 4), pa.int32())
    messages = _join(_COPY_DATA_TAG, _be_fixed(lengths, 4), rows)
    offsets = memoryview(messages.buffers()[1]).cast("q")
    start, end = offsets[messages.offset], offsets[messages.offset + len(messages)]
    return memoryview(messages.buffers()[2])[start:end].tobytes()


# --- parameters -------------------------------------------------------------------


def _dtype(name: str) -> exp.DataType:
    """A fresh node of the named type: parsing the name costs about ten times a copy."""
    return _built_dtype(name).copy()


@functools.lru_cache(maxsize=256)
def _built_dtype(name: str) -> exp.DataType:
    return exp.DataType.build(name)


def _shown(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."


def _syntax(type_name: str, text: str) -> ValueError:
    return ValueError(f'invalid input syntax for type {type_name}: "{_shown(text)}"')


def _range(type_name: str, text: str) -> ValueError:
    return ValueError(f'value "{_shown(text)}" is out of range for type {type_name}')


def _number(text: str) -> exp.Expression:
    if text.startswith("-"):
        return exp.Neg(this=exp.Literal.number(text[1:]))
    return exp.Literal.number(text)


def _cast(value: exp.Expression, sql_type: str) -> exp.Cast:
    return exp.Cast(this=value, to=_dtype(sql_type))


def _string_cast(text: str, sql_type: str) -> exp.Cast:
    return _cast(exp.Literal.string(text), sql_type)


@dataclass(frozen=True, slots=True)
class _Param:
    name: str  # PostgreSQL's name, for messages
    sql_type: str | None  # the type typed NULLs and empty arrays carry
    text: Callable[[str], exp.Expression]
    binary: Callable[[bytes], exp.Expression] | None


def _exact(name: str, data: bytes, size: int) -> None:
    if len(data) != size:
        raise ValueError(
            f"incorrect binary data format for type {name}: expected {size} bytes, got {len(data)}"
        )


def _utf8(data: bytes, name: str = "text") -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"invalid byte sequence for encoding UTF8 in a {name} parameter: {e.reason}"
        ) from None
    if "\x00" in text:
        raise ValueError("invalid byte sequence for encoding UTF8: 0x00")
    return text


# bool


def _bool_text(text: str) -> exp.Expression:
    word = text.strip().lower()
    if word:
        for full, value in (("true", True), ("false", False), ("yes", True), ("no", False)):
            if full.startswith(word):
                return exp.Boolean(this=value)
        if word in ("on", "1"):
            return exp.Boolean(this=True)
        if word in ("of", "off", "0"):
            return exp.Boolean(this=False)
    raise _syntax("boolean", text)


def _bool_binary(data: bytes) -> exp.Expression:
    _exact("boolean", data, 1)
    return exp.Boolean(this=data != b"\x00")


# integers

_INTEGER_TEXT = re.compile(r"\s*([+-]?)(\d+)\s*\Z")
_INT_PARAMS = {
    Oid.INT2: ("smallint", "SMALLINT", 2, -(2**15), 2**15 - 1),
    Oid.INT4: ("integer", "INT", 4, -(2**31), 2**31 - 1),
    Oid.INT8: ("bigint", "BIGINT", 8, -(2**63), 2**63 - 1),
    Oid.OID: ("oid", "BIGINT", 4, -(2**31), 2**32 - 1),
}


def _int_param(oid: Oid) -> _Param:
    name, sql_type, size, low, high = _INT_PARAMS[oid]

    def literal(value: int, text: str) -> exp.Expression:
        if not low <= value <= high:
            raise _range(name, text)
        if oid == Oid.OID and value < 0:
            value += 2**32  # oidin accepts negative values and wraps them
        return _cast(_number(str(value)), sql_type)

    def text(value: str) -> exp.Expression:
        match = _INTEGER_TEXT.match(value)
        if match is None:
            raise _syntax(name, value)
        return literal(int(match[1] + match[2]), value)

    def binary(data: bytes) -> exp.Expression:
        _exact(name, data, size)
        value = int.from_bytes(data, "big", signed=oid != Oid.OID)
        return literal(value, str(value))

    return _Param(name, sql_type, text, binary)


# floats

#: The text forms PostgreSQL accepts for float and numeric input.
_FLOAT_TEXT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*\Z")
_FLOAT_SPECIAL = {
    "nan": "NaN",
    "+nan": "NaN",
    "-nan": "NaN",
    "infinity": "Infinity",
    "+infinity": "Infinity",
    "inf": "Infinity",
    "+inf": "Infinity",
    "-infinity": "-Infinity",
    "-inf": "-Infinity",
}


def _float_literal(value: float, sql_type: str) -> exp.Expression:
    if math.isnan(value):
        return _string_cast("NaN", sql_type)
    if math.isinf(value):
        return _string_cast("Infinity" if value > 0 else "-Infinity", sql_type)
    # A string literal: every engine parses it straight to the nearest float, where
    # a numeric literal may first become a decimal and lose the last bit.
    return _string_cast(repr(value), sql_type)


def _float_param(single: bool) -> _Param:
    name = "real" if single else "double precision"
    sql_type = "REAL" if single else "DOUBLE"

    def text(value: str) -> exp.Expression:
        special = _FLOAT_SPECIAL.get(value.strip().lower())
        if special is not None:
            return _string_cast(special, sql_type)
        match = _FLOAT_TEXT.match(value)
        if match is None:
            raise _syntax(name, value)
        number = float(match[1])
        significant = any(c in "123456789" for c in match[1].split("e")[0].split("E")[0])
        if math.isinf(number) or (number == 0 and significant):
            raise _range(name, value)
        if single:
            try:
                narrowed = struct.unpack(">f", struct.pack(">f", number))[0]
            except OverflowError:
                raise _range(name, value) from None
            if narrowed == 0 and significant:
                raise _range(name, value)
        return _float_literal(number, sql_type)

    def binary(data: bytes) -> exp.Expression:
        _exact(name, data, 4 if single else 8)
        return _float_literal(struct.unpack(">f" if single else ">d", data)[0], sql_type)

    return _Param(name, sql_type, text, binary)


# numeric

_NUMERIC_MAX_WEIGHT_DIGITS = 131_072  # digits before the decimal point
_NUMERIC_MAX_SCALE = 16_383  # digits after it
_NUMERIC_SIGNS = {0x0000: False, 0x4000: True}
_NUMERIC_SPECIAL_SIGNS = {0xC000: "NaN", 0xD000: "Infinity", 0xF000: "-Infinity"}


def _numeric_literal(value: Decimal, text: str) -> exp.Expression:
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if any(digits) and value.adjusted() >= _NUMERIC_MAX_WEIGHT_DIGITS:
        raise _range("numeric", text)
    if -exponent > _NUMERIC_MAX_SCALE:
        raise _range("numeric", text)
    if not any(digits):
        value = value.copy_abs()  # -0 is 0
    return _number(format(value, "f"))


def _numeric_text(value: str) -> exp.Expression:
    special = _FLOAT_SPECIAL.get(value.strip().lower())
    if special is not None:
        return _string_cast(special, "DECIMAL")
    match = _FLOAT_TEXT.match(value)
    if match is None:
        raise _syntax("numeric", value)
    body = match[1]
    exponent = body.lower().partition("e")[2]
    if exponent and abs(int(exponent)) > 2 * _NUMERIC_MAX_WEIGHT_DIGITS:
        raise _range("numeric", value)
    try:
        number = Decimal(body)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
        raise _syntax("numeric", value) from None
    return _numeric_literal(number, value)


def _numeric_binary(data: bytes) -> exp.Expression:
    if len(data) < 8:
        raise ValueError("incorrect binary data format for type numeric: short header")
    ndigits, weight, sign, dscale = _NUMERIC_HEADER.unpack_from(data)
    if ndigits < 0 or len(data) != 8 + 2 * ndigits:
        raise ValueError(
            f"incorrect binary data format for type numeric: {ndigits} digits in"
            f" {len(data) - 8} bytes"
        )
    if sign in _NUMERIC_SPECIAL_SIGNS:
        return _string_cast(_NUMERIC_SPECIAL_SIGNS[sign], "DECIMAL")
    if sign not in _NUMERIC_SIGNS:
        raise ValueError(f"invalid sign in external numeric value: {sign:#06x}")
    if dscale > 0x3FFF:
        raise ValueError(f"invalid scale in external numeric value: {dscale}")
    digits = struct.unpack_from(f">{ndigits}h", data, 8)
    if any(not 0 <= d < 10_000 for d in digits):
        raise ValueError("invalid digit in external numeric value")
    unscaled = int("".join(f"{d:04d}" for d in digits) or "0")
    # value = unscaled * 10000^(weight - ndigits + 1), written with dscale decimals;
    # numeric_recv truncates digits the given dscale hides
    shift = 4 * (weight - ndigits + 1) + dscale
    scaled = unscaled * 10**shift if shift >= 0 else unscaled // 10 ** (-shift)
    value = Decimal((int(_NUMERIC_SIGNS[sign]), tuple(map(int, str(scaled))), -dscale))
    return _numeric_literal(value, str(value))


# strings and bytea


def _text_param(name: str, sql_type: str) -> _Param:
    return _Param(
        name, sql_type, exp.Literal.string, lambda data: exp.Literal.string(_utf8(data, name))
    )


def _hex(data: bytes) -> exp.Expression:
    return exp.HexString(this=data.hex(), is_integer=False)


_OCTAL = re.compile(r"[0-3][0-7]{2}")


def _bytea_text(value: str) -> exp.Expression:
    if value.startswith("\\x"):
        digits = "".join(value[2:].split())
        if len(digits) % 2:
            raise ValueError(f'invalid hexadecimal data: odd number of digits in "{_shown(value)}"')
        try:
            return _hex(bytes.fromhex(digits))
        except ValueError:
            raise ValueError(f'invalid hexadecimal digit in "{_shown(value)}"') from None
    raw = value.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:  # backslash
            out.append(c)
            i += 1
        elif raw[i + 1 : i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif _OCTAL.fullmatch(raw[i + 1 : i + 4].decode("latin-1")):
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            raise _syntax("bytea", value)
    return _hex(bytes(out))


# dates and times

_DATE_PART = r"(?P<y>\d{4,})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
_TIME_PART = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<F>\d*))?)?"
_ZONE_PART = r"(?P<Z>z|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?|(?!(?:bc|ad)\b)[a-z][a-z0-9_/+-]*)"
_ERA_PART = r"(?:\s*(?P<E>bc|ad)\b)?"
_DATE_TEXT = re.compile(
    rf"\s*{_DATE_PART}(?:(?:\s+|t){_TIME_PART})?(?:\s*{_ZONE_PART})?{_ERA_PART}\s*\Z",
    re.IGNORECASE,
)
_TIME_TEXT = re.compile(rf"\s*{_TIME_PART}(?:\s*{_ZONE_PART})?\s*\Z", re.IGNORECASE)
_INFINITIES = {"infinity": "infinity", "+infinity": "infinity", "-infinity": "-infinity"}


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _iso_date(days: int) -> str:
    """A day count as ISO 8601, astronomical years before 1 AD (`-0043-03-15` is 44 BC)."""
    year, month, day = civil_from_days(days)
    sign = "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}"


def _fraction_micros(fraction: str | None) -> int:
    """Fractional seconds digits rounded to microseconds (half to even)."""
    if not fraction:
        return 0
    return int(Decimal("0." + fraction).scaleb(6).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _time_of_day(match: re.Match[str], name: str, text: str) -> int:
    """Microseconds since midnight from a regex match with H, M, S, F groups."""
    if match["H"] is None:
        return 0
    hour, minute, second = int(match["H"]), int(match["M"]), int(match["S"] or 0)
    if minute > 59 or second > 59 or hour > 24:
        raise ValueError(f'date/time field value out of range: "{_shown(text)}"')
    micros = ((hour * 60 + minute) * 60 + second) * 1_000_000 + _fraction_micros(match["F"])
    if micros > _US_PER_DAY:
        raise ValueError(f'date/time field value out of range: "{_shown(text)}"')
    return micros


def _civil_days(match: re.Match[str], text: str) -> int:
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    era = (match["E"] or "").upper()
    if year == 0:
        raise ValueError(f'date/time field value out of range: "{_shown(text)}"')
    if era == "BC":
        year = 1 - year
    if not 1 <= month <= 12:
        raise ValueError(f'date/time field value out of range: "{_shown(text)}"')
    limit = (31, 29 if _is_leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= limit:
        raise ValueError(f'date/time field value out of range: "{_shown(text)}"')
    days = days_from_civil(year, month, day)
    # PostgreSQL's date range: 4714-11-24 BC .. 5874897-12-31
    if not -2_440_588 <= days <= 2_145_031_948:
        raise ValueError(f'date out of range: "{_shown(text)}"')
    return days


def _zone_offset(zone: str | None, local_micros: int, text: str) -> int | None:
    """UTC offset in seconds for a zone written in a timestamptz/timetz value."""
    if zone is None:
        return None
    if zone in ("Z", "z") or zone.upper() in ("UTC", "GMT", "UT"):
        return 0
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        if len(digits) <= 2:
            hours, minutes, seconds = int(digits), 0, 0
        else:
            head = len(digits) - (4 if len(digits) > 4 else 2)
            hours, minutes = int(digits[:head]), int(digits[head : head + 2])
            seconds = int(digits[head + 2 :] or 0)
        if hours > 15 or minutes > 59 or seconds > 59:
            raise ValueError(f'time zone displacement out of range: "{_shown(text)}"')
        offset = hours * 3600 + minutes * 60 + seconds
        return -offset if zone[0] == "-" else offset
    try:
        info = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'time zone "{_shown(zone)}" not recognized') from None
    days, rest = divmod(local_micros, _US_PER_DAY)
    year, month, day = civil_from_days(days)
    if not 1 <= year <= 9999:
        raise ValueError(f'time zone "{zone}" cannot place "{_shown(text)}"')
    local = dt.datetime(year, month, day) + dt.timedelta(microseconds=rest)
    delta = info.utcoffset(local)
    assert delta is not None
    return int(delta.total_seconds())


def _offset_iso(offset: int) -> str:
    return pg_offset_text(offset, xsd=True)


def _timestamp_iso(micros: int, offset: int | None = None) -> str:
    days, rest = divmod(micros, _US_PER_DAY)
    text = f"{_iso_date(days)} {_time_text(rest)}"
    return text if offset is None else text + _offset_iso(offset)


def _date_text(value: str) -> exp.Expression:
    special = _INFINITIES.get(value.strip().lower())
    if special is not None:
        return _string_cast(special, "DATE")
    match = _DATE_TEXT.match(value)
    if match is None:
        raise _syntax("date", value)
    return _string_cast(_iso_date(_civil_days(match, value)), "DATE")


def _date_binary(data: bytes) -> exp.Expression:
    _exact("date", data, 4)
    days = int.from_bytes(data, "big", signed=True)
    if days == _INT32_MAX:
        return _string_cast("infinity", "DATE")
    if days == -_INT32_MAX - 1:
        return _string_cast("-infinity", "DATE")
    return _string_cast(_iso_date(days + _POSTGRES_EPOCH_DAYS), "DATE")


def _timestamp_param(with_zone: bool) -> _Param:
    name = "timestamp with time zone" if with_zone else "timestamp without time zone"
    sql_type = "TIMESTAMPTZ" if with_zone else "TIMESTAMP"

    def text(value: str) -> exp.Expression:
        special = _INFINITIES.get(value.strip().lower())
        if special is not None:
            return _string_cast(special, sql_type)
        match = _DATE_TEXT.match(value)
        if match is None:
            raise _syntax(name, value)
        local = _civil_days(match, value) * _US_PER_DAY + _time_of_day(match, name, value)
        offset = _zone_offset(match["Z"], local, value) if with_zone else None
        return _string_cast(_timestamp_iso(local, offset), sql_type)

    def binary(data: bytes) -> exp.Expression:
        _exact(name, data, 8)
        micros = int.from_bytes(data, "big", signed=True)
        if micros == _INT64_MAX:
            return _string_cast("infinity", sql_type)
        if micros == _INT64_MIN:
            return _string_cast("-infinity", sql_type)
        micros += _POSTGRES_EPOCH_US
        return _string_cast(_timestamp_iso(micros, 0 if with_zone else None), sql_type)

    return _Param(name, sql_type, text, binary)


def _time_param(with_zone: bool) -> _Param:
    name = "time with time zone" if with_zone else "time without time zone"
    sql_type = "TIMETZ" if with_zone else "TIME"

    def check_zone(offset: int, text: str) -> int:
        if abs(offset) >= 16 * 3600:
            raise ValueError(f'time zone displacement out of range: "{_shown(text)}"')
        return offset

    def text(value: str) -> exp.Expression:
        match = _TIME_TEXT.match(value)
        if match is None:
            raise _syntax(name, value)
        micros = _time_of_day(match, name, value)
        if not with_zone:
            return _string_cast(_time_text(micros), sql_type)
        if match["Z"] is None:  # the engine's session zone applies, as in PostgreSQL
            return _string_cast(_time_text(micros), sql_type)
        if not (match["Z"][0] in "+-zZ" or match["Z"].upper() in ("UTC", "GMT", "UT")):
            raise _syntax(name, value)
        offset = check_zone(_zone_offset(match["Z"], 0, value) or 0, value)
        return _string_cast(_time_text(micros) + _offset_iso(offset), sql_type)

    def binary(data: bytes) -> exp.Expression:
        _exact(name, data, 12 if with_zone else 8)
        micros = int.from_bytes(data[:8], "big", signed=True)
        if not 0 <= micros <= _US_PER_DAY:
            raise ValueError(f"{name} out of range: {micros} microseconds")
        if not with_zone:
            return _string_cast(_time_text(micros), sql_type)
        offset = check_zone(-int.from_bytes(data[8:], "big", signed=True), str(micros))
        return _string_cast(_time_text(micros) + _offset_iso(offset), sql_type)

    return _Param(name, sql_type, text, binary)


# intervals

_INTERVAL_UNITS: dict[str, tuple[str, int]] = {}
for _names, _kind, _amount in (
    (("millennium", "millennia", "millenniums", "mil", "mils"), "months", 12_000),
    (("century", "centuries", "cent", "c"), "months", 1200),
    (("decade", "decades", "dec", "decs"), "months", 120),
    (("year", "years", "yr", "yrs", "y"), "months", 12),
    (("month", "months", "mon", "mons"), "months", 1),
    (("week", "weeks", "w"), "days", 7),
    (("day", "days", "d"), "days", 1),
    (("hour", "hours", "hr", "hrs", "h"), "micros", 3_600_000_000),
    (("minute", "minutes", "min", "mins", "m"), "micros", 60_000_000),
    (("second", "seconds", "sec", "secs", "s"), "micros", 1_000_000),
    (("millisecond", "milliseconds", "msec", "msecs", "ms"), "micros", 1000),
    (("microsecond", "microseconds", "usec", "usecs", "us"), "micros", 1),
):
    for _name in _names:
        _INTERVAL_UNITS[_name] = (_kind, _amount)

_INTERVAL_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<time>[+-]?\d+:\d{1,2}(?::\d{1,2}(?:\.\d*)?)?)"
    r"|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))\s*(?P<unit>[A-Za-z]+)?"
    r"|(?P<ago>ago)\b"
    r")",
    re.IGNORECASE,
)
_ISO_INTERVAL = re.compile(
    r"\s*P(?:(?P<Y>[+-]?[\d.]+)Y)?(?:(?P<Mo>[+-]?[\d.]+)M)?(?:(?P<W>[+-]?[\d.]+)W)?"
    r"(?:(?P<D>[+-]?[\d.]+)D)?(?:T(?:(?P<H>[+-]?[\d.]+)H)?(?:(?P<Mi>[+-]?[\d.]+)M)?"
    r"(?:(?P<S>[+-]?[\d.]+)S)?)?\s*\Z",
    re.IGNORECASE,
)


class _IntervalSum:
    """Accumulates interval fields the way PostgreSQL's DecodeInterval spills fractions:
    fractional months to days (30 per month), fractional days to time."""

    def __init__(self) -> None:
        self.months = 0
        self.days = 0
        self.micros = Decimal(0)

    def add(self, value: Decimal, kind: str, amount: int) -> None:
        if kind == "months":
            total = value * amount
            whole = int(total)
            self.months += whole
            if amount > 1:  # a fraction of a year counts whole months only
                self.months += int((total - whole).to_integral_value(ROUND_HALF_EVEN))
            else:
                self._add_days((total - whole) * 30)
        elif kind == "days":
            self._add_days(value * amount)
        else:
            self.micros += value * amount

    def _add_days(self, days: Decimal) -> None:
        whole = int(days)
        self.days += whole
        self.micros += (days - whole) * _US_PER_DAY

    def result(self, negate: bool, text: str) -> tuple[int, int, int]:
        micros = int(self.micros.to_integral_value(ROUND_HALF_EVEN))
        parts = (self.months, self.days, micros)
        if negate:
            parts = (-parts[0], -parts[1], -parts[2])
        if not (abs(parts[0]) <= _INT32_MAX and abs(parts[1]) <= _INT32_MAX):
            raise ValueError(f'interval out of range: "{_shown(text)}"')
        if not _INT64_MIN < parts[2] <= _INT64_MAX:
            raise ValueError(f'interval out of range: "{_shown(text)}"')
        return parts


def _time_token_micros(token: str) -> Decimal:
    sign = -1 if token.startswith("-") else 1
    fields = token.lstrip("+-").split(":")
    hours, minutes = int(fields[0]), int(fields[1])
    seconds = Decimal(fields[2]) if len(fields) > 2 else Decimal(0)
    if minutes > 59 or seconds >= 60:
        raise ValueError
    return sign * ((hours * 60 + minutes) * 60_000_000 + seconds * 1_000_000)


def parse_interval(text: str) -> tuple[int, int, int]:
    """(months, days, microseconds) of an interval in PostgreSQL's input syntax
    (`1 year 2 mons 3 days 04:05:06.5`, `@ 1 day ago`, `P1Y2M3DT4H`, `1 day 0:00:01`)."""
    total = _IntervalSum()
    iso = _ISO_INTERVAL.match(text)
    try:
        if iso is not None and any(iso.groupdict().values()):
            for group, unit in (
                ("Y", "y"),
                ("Mo", "mon"),
                ("W", "w"),
                ("D", "d"),
                ("H", "h"),
                ("Mi", "min"),
                ("S", "s"),
            ):
                if iso[group] is not None:
                    total.add(Decimal(iso[group]), *_INTERVAL_UNITS[unit])
            return total.result(False, text)
        body = text.strip()
        body = body[1:] if body.startswith("@") else body
        position, negate, seen = 0, False, False
        pending: Decimal | None = None  # a bare number: days before a time, else seconds
        while position < len(body):
            match = _INTERVAL_TOKEN.match(body, position)
            if match is None or match.end() == position or negate:
                raise ValueError
            position = match.end()
            seen = True
            if match["ago"]:
                negate = True
            elif match["time"]:
                if pending is not None:
                    total.add(pending, "days", 1)
                    pending = None
                total.micros += _time_token_micros(match["time"])
            elif match["unit"]:
                if pending is not None:
                    raise ValueError
                known = _INTERVAL_UNITS.get(match["unit"].lower())
                if known is None:
                    raise ValueError
                total.add(Decimal(match["num"]), *known)
            else:
                if pending is not None:
                    raise ValueError
                pending = Decimal(match["num"])
        if pending is not None:
            total.add(pending, "micros", 1_000_000)
        if not seen:
            raise ValueError
    except (ValueError, InvalidOperation, ArithmeticError):
        raise _syntax("interval", text) from None
    return total.result(negate, text)


def _interval_literal(months: int, days: int, micros: int) -> exp.Expression:
    return _string_cast(f"{months} months {days} days {micros} microseconds", "INTERVAL")


def _interval_text(value: str) -> exp.Expression:
    return _interval_literal(*parse_interval(value))


def _interval_binary(data: bytes) -> exp.Expression:
    _exact("interval", data, 16)
    micros, days, months = _INTERVAL.unpack(data)
    return _interval_literal(months, days, micros)


# uuid and json


def _uuid_text_param(value: str) -> exp.Expression:
    try:
        parsed = uuid.UUID(value.strip())
    except ValueError:
        raise _syntax("uuid", value) from None
    return _string_cast(str(parsed), "UUID")


def _uuid_binary(data: bytes) -> exp.Expression:
    _exact("uuid", data, 16)
    return _string_cast(str(uuid.UUID(bytes=data)), "UUID")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _json_param(binary_version: bool) -> _Param:
    name = "jsonb" if binary_version else "json"
    sql_type = "JSONB" if binary_version else "JSON"

    def text(value: str) -> exp.Expression:
        try:
            json.loads(value, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise _syntax(name, value) from None
        return _string_cast(value, sql_type)

    def binary(data: bytes) -> exp.Expression:
        if binary_version:
            if data[:1] != b"\x01":
                raise ValueError(f"unsupported jsonb version number {data[:1].hex() or 'none'}")
            data = data[1:]
        return text(_utf8(data, name))

    return _Param(name, sql_type, text, binary)


_PARAMS: dict[int, _Param] = {
    Oid.BOOL: _Param("boolean", "BOOLEAN", _bool_text, _bool_binary),
    Oid.INT2: _int_param(Oid.INT2),
    Oid.INT4: _int_param(Oid.INT4),
    Oid.INT8: _int_param(Oid.INT8),
    Oid.OID: _int_param(Oid.OID),
    Oid.FLOAT4: _float_param(single=True),
    Oid.FLOAT8: _float_param(single=False),
    Oid.NUMERIC: _Param("numeric", "DECIMAL", _numeric_text, _numeric_binary),
    Oid.TEXT: _text_param("text", "TEXT"),
    Oid.VARCHAR: _text_param("character varying", "VARCHAR"),
    Oid.BPCHAR: _text_param("character", "VARCHAR"),
    Oid.NAME: _text_param("name", "VARCHAR"),
    Oid.CHAR: _text_param('"char"', "VARCHAR"),
    Oid.UNKNOWN: _Param(
        "unknown", None, exp.Literal.string, lambda d: exp.Literal.string(_utf8(d))
    ),
    Oid.BYTEA: _Param("bytea", "BLOB", _bytea_text, _hex),
    Oid.DATE: _Param("date", "DATE", _date_text, _date_binary),
    Oid.TIME: _time_param(with_zone=False),
    Oid.TIMETZ: _time_param(with_zone=True),
    Oid.TIMESTAMP: _timestamp_param(with_zone=False),
    Oid.TIMESTAMPTZ: _timestamp_param(with_zone=True),
    Oid.INTERVAL: _Param("interval", "INTERVAL", _interval_text, _interval_binary),
    Oid.UUID: _Param("uuid", "UUID", _uuid_text_param, _uuid_binary),
    Oid.JSON: _json_param(binary_version=False),
    Oid.JSONB: _json_param(binary_version=True),
}

_ARRAY_ELEMENTS: dict[int, int] = {
    Oid.BOOL_ARRAY: Oid.BOOL,
    Oid.BYTEA_ARRAY: Oid.BYTEA,
    Oid.CHAR_ARRAY: Oid.CHAR,
    Oid.NAME_ARRAY: Oid.NAME,
    Oid.INT2_ARRAY: Oid.INT2,
    Oid.INT4_ARRAY: Oid.INT4,
    Oid.INT8_ARRAY: Oid.INT8,
    Oid.OID_ARRAY: Oid.OID,
    Oid.TEXT_ARRAY: Oid.TEXT,
    Oid.BPCHAR_ARRAY: Oid.BPCHAR,
    Oid.VARCHAR_ARRAY: Oid.VARCHAR,
    Oid.FLOAT4_ARRAY: Oid.FLOAT4,
    Oid.FLOAT8_ARRAY: Oid.FLOAT8,
    Oid.NUMERIC_ARRAY: Oid.NUMERIC,
    Oid.DATE_ARRAY: Oid.DATE,
    Oid.TIME_ARRAY: Oid.TIME,
    Oid.TIMETZ_ARRAY: Oid.TIMETZ,
    Oid.TIMESTAMP_ARRAY: Oid.TIMESTAMP,
    Oid.TIMESTAMPTZ_ARRAY: Oid.TIMESTAMPTZ,
    Oid.INTERVAL_ARRAY: Oid.INTERVAL,
    Oid.UUID_ARRAY: Oid.UUID,
    Oid.JSON_ARRAY: Oid.JSON,
    Oid.JSONB_ARRAY: Oid.JSONB,
}

_MAX_ARRAY_DIMS = 6


def _array_type(element: _Param, ndim: int = 1) -> str:
    assert element.sql_type is not None
    return element.sql_type + "[]" * ndim


def _typed_null(oid: int) -> exp.Expression:
    element = _ARRAY_ELEMENTS.get(oid)
    if element is not None:
        return _cast(exp.Null(), _array_type(_PARAMS[element]))
    param = _PARAMS.get(oid)
    if param is None or param.sql_type is None:
        return exp.Null()
    return _cast(exp.Null(), param.sql_type)


_ARRAY_SPACE = " \t\n\r\v\f"
_ARRAY_DIMS = re.compile(r"\s*((?:\[\s*[+-]?\d+\s*(?::\s*[+-]?\d+\s*)?\]\s*)+)=")


class _ArrayParser:
    """array_in's grammar: `{a,"b c",NULL,{...}}` with backslash escapes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def fail(self, why: str) -> ValueError:
        return ValueError(f'malformed array literal: "{_shown(self.text)}" ({why})')

    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _ARRAY_SPACE:
            self.i += 1

    def parse(self) -> list[Any]:
        dims = _ARRAY_DIMS.match(self.text)
        if dims is not None:
            self.i = dims.end()
        self.skip_space()
        if self.i >= len(self.text) or self.text[self.i] != "{":
            raise self.fail('array value must start with "{" or dimension information')
        value = self.level(1)
        self.skip_space()
        if self.i != len(self.text):
            raise self.fail("junk after closing right brace")
        self.shape(value)
        return value

    def level(self, depth: int) -> list[Any]:
        if depth > _MAX_ARRAY_DIMS:
            raise self.fail(f"more than {_MAX_ARRAY_DIMS} dimensions")
        self.i += 1  # "{"
        items: list[Any] = []
        self.skip_space()
        if self.i < len(self.text) and self.text[self.i] == "}":
            self.i += 1
            return items
        while True:
            self.skip_space()
            if self.i >= len(self.text):
                raise self.fail("unexpected end of input")
            if self.text[self.i] == "{":
                items.append(self.level(depth + 1))
            else:
                items.append(self.element())
            self.skip_space()
            if self.i >= len(self.text):
                raise self.fail("unexpected end of input")
            c = self.text[self.i]
            self.i += 1
            if c == "}":
                return items
            if c != ",":
                raise self.fail(f"unexpected {c!r}")

    def element(self) -> str | None:
        text, n = self.text, len(self.text)
        if text[self.i] == '"':
            self.i += 1
            out: list[str] = []
            while True:
                if self.i >= n:
                    raise self.fail("unterminated quoted element")
                c = text[self.i]
                self.i += 1
                if c == '"':
                    return "".join(out)
                if c == "\\":
                    if self.i >= n:
                        raise self.fail("unexpected end of input")
                    c = text[self.i]
                    self.i += 1
                out.append(c)
        out = []
        keep = 0
        escaped = False
        while self.i < n:
            c = text[self.i]
            if c in ",}":
                break
            if c in '{"':
                raise self.fail(f"unexpected {c!r}")
            self.i += 1
            if c == "\\":
                if self.i >= n:
                    raise self.fail("unexpected end of input")
                out.append(text[self.i])
                self.i += 1
                keep = len(out)
                escaped = True
            else:
                out.append(c)
                if c not in _ARRAY_SPACE:
                    keep = len(out)
        value = "".join(out[:keep])
        if not value and not escaped:
            raise self.fail("empty element")
        if not escaped and value.upper() == "NULL":
            return None
        return value

    def shape(self, value: list[Any]) -> None:
        nested = [isinstance(v, list) for v in value]
        if any(nested) and not all(nested):
            raise self.fail("multidimensional arrays must have sub-arrays with matching dimensions")
        if not value or not nested[0]:
            return
        first = _dims(value[0])
        if first[0] == 0:
            raise self.fail("empty sub-array")
        for item in value:
            self.shape(item)
            if _dims(item) != first:
                raise self.fail(
                    "multidimensional arrays must have sub-arrays with matching dimensions"
                )


def _dims(value: Any) -> tuple[int, ...]:
    dims = []
    while isinstance(value, list):
        dims.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(dims)


def _array_literal(items: list[Any], element: _Param, ndim: int) -> exp.Expression:
    if not items:
        return _cast(exp.Array(expressions=[]), _array_type(element, max(ndim, 1)))
    return exp.Array(expressions=items)


def _array_from_text(element_oid: int, text: str) -> exp.Expression:
    element = _PARAMS[element_oid]
    value = _ArrayParser(text).parse()

    def build(items: list[Any]) -> list[exp.Expression]:
        out: list[exp.Expression] = []
        for item in items:
            if isinstance(item, list):
                out.append(exp.Array(expressions=build(item)))
            elif item is None:
                out.append(_typed_null(element_oid))
            else:
                out.append(element.text(item))
        return out

    return _array_literal(build(value), element, len(_dims(value)))


def _array_from_binary(element_oid: int, data: bytes) -> exp.Expression:
    element = _PARAMS[element_oid]
    if element.binary is None:  # pragma: no cover - every element type has one
        raise ValueError(f"binary format is not supported for {element.name}[]")
    if len(data) < 12:
        raise ValueError("incorrect binary data format for an array: short header")
    ndim, flags, element_type = struct.unpack_from(">iiI", data)
    if not 0 <= ndim <= _MAX_ARRAY_DIMS:
        raise ValueError(f"invalid number of dimensions: {ndim}")
    if flags not in (0, 1):
        raise ValueError("invalid array flags")
    if element_type != element_oid:
        raise ValueError(
            f"binary data has array element type {element_type} instead of expected"
            f" {element_oid} ({element.name})"
        )
    position = 12
    if len(data) < position + 8 * ndim:
        raise ValueError("incorrect binary data format for an array: short dimensions")
    dims = []
    for _ in range(ndim):
        size, _lower = struct.unpack_from(">ii", data, position)
        position += 8
        if size < 0:
            raise ValueError("invalid array dimension size")
        dims.append(size)
    count = math.prod(dims) if dims else 0
    if 0 in dims:
        count = 0
    if count * 4 > len(data) - position:  # every element takes at least its length word
        raise ValueError("incorrect binary data format for an array: too few elements")
    values: list[exp.Expression] = []
    for _ in range(count):
        if len(data) < position + 4:
            raise ValueError("incorrect binary data format for an array: truncated")
        (length,) = struct.unpack_from(">i", data, position)
        position += 4
        if length == -1:
            values.append(_typed_null(element_oid))
            continue
        if length < 0 or len(data) < position + length:
            raise ValueError("incorrect binary data format for an array element")
        values.append(element.binary(data[position : position + length]))
        position += length
    if position != len(data):
        raise ValueError("incorrect binary data format for an array: trailing bytes")
    if count == 0:
        return _array_literal([], element, 1)

    def nest(items: list[exp.Expression], shape: list[int]) -> list[exp.Expression]:
        if len(shape) == 1:
            return items
        step = len(items) // shape[0]
        return [
            exp.Array(expressions=nest(items[i : i + step], shape[1:]))
            for i in range(0, len(items), step)
        ]

    return exp.Array(expressions=nest(values, dims))


def decode_parameter(
    oid: int, format: int, value: bytes | bytearray | memoryview | None
) -> exp.Expression:
    """One Bind parameter as a typed SQL literal expression.

    `oid` is the parameter's type from Parse (0 when unspecified), `format` its
    format code (0 text, 1 binary) and `value` its bytes (None for NULL). Text
    values of oid 0 or of a type not listed in the module notes become string
    literals the engine casts as the context needs; binary values need a known
    type. Raises ValueError for malformed values.
    """
    if format not in (TEXT, BINARY):
        raise ValueError(f"unsupported parameter format code {format}")
    if value is None:
        return _typed_null(oid)
    data = bytes(value)
    element = _ARRAY_ELEMENTS.get(oid)
    param = _PARAMS.get(oid)
    if format == TEXT:
        text = _utf8(data, param.name if param is not None else "text")
        if element is not None:
            return _array_from_text(element, text)
        if param is None:
            return exp.Literal.string(text)
        return param.text(text)
    if oid == 0:
        raise ValueError("a parameter sent in binary format needs a type oid, not 0 (unspecified)")
    if element is not None:
        return _array_from_binary(element, data)
    if param is None or param.binary is None:
        raise ValueError(f"binary format is not supported for parameters of type oid {oid}")
    return param.binary(data)
