"""Trino's JSON result pages as Arrow record batches.

A Trino server describes each column with a type string (`decimal(10,2)`,
`array(row(a integer, b varchar))`, `timestamp(3) with time zone`) and writes values
as JSON: numbers and booleans as literals, decimals, dates, times, timestamps and
intervals as text, varbinary as base64, json as a string holding the JSON text, row
as an array of its fields, map as an object with string keys. `arrow_type` parses the
type string; `page_batch` turns one page's rows into a record batch, column by column,
with Arrow casts for the text forms Arrow parses itself and per-value Python for the
rest (nested values, zoned timestamps, intervals).

JSON and UUID columns carry the Arrow extension names (`arrow.json`, `arrow.uuid`) in
their field metadata, as DuckDB's lossless export does, so every frontend writes them
with their SQL type.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import functools
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pyarrow as pa

_EXTENSION = b"ARROW:extension:name"
_FLOATS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_UTC = dt.UTC


@attrs.frozen
class TrinoType:
    """A parsed Trino type: its base name, numeric parameters and child types."""

    name: str
    params: tuple[int, ...] = ()
    children: tuple[tuple[str | None, TrinoType], ...] = ()
    with_zone: bool = False


def parse_type(text: str) -> TrinoType:
    """Parse a Trino type string (`map(varchar, array(decimal(10,2)))` ...)."""
    parsed, rest = _parse(text.strip())
    if rest.strip():
        raise ValueError(f"unexpected {rest!r} in type {text!r}")
    return parsed


def _parse(text: str) -> tuple[TrinoType, str]:
    match = re.match(r"\s*([a-z_][a-z0-9_ ]*?)\s*(\(|,|\)|$)", text, re.I)
    if match is None:
        raise ValueError(f"cannot parse type {text!r}")
    name = match.group(1).lower()
    rest = text[match.end(1) :].lstrip()
    if not rest.startswith("("):
        return _finish(TrinoType(name), rest)
    rest = rest[1:]
    params: list[int] = []
    children: list[tuple[str | None, TrinoType]] = []
    while True:
        rest = rest.lstrip()
        if m := re.match(r"(\d+)\s*", rest):
            params.append(int(m.group(1)))
            rest = rest[m.end() :]
        else:
            field = None
            if name == "row":
                m = re.match(r'("(?:[^"]|"")*"|[A-Za-z_]\w*)\s+(?=[A-Za-z_])', rest)
                if m is not None and not _is_type_start(rest[m.end() :], m.group(1)):
                    field = m.group(1).strip('"').replace('""', '"')
                    rest = rest[m.end() :]
            child, rest = _parse(rest)
            children.append((field, child))
        rest = rest.lstrip()
        if rest.startswith(","):
            rest = rest[1:]
            continue
        if rest.startswith(")"):
            return _finish(TrinoType(name, tuple(params), tuple(children)), rest[1:])
        raise ValueError(f"cannot parse type arguments {rest!r}")


_MULTIWORD = {
    "double": ("precision",),
    "interval": ("day", "year"),
    "timestamp": ("with", "without"),
    "time": ("with", "without"),
}


def _is_type_start(after: str, word: str) -> bool:
    """In `row(x y)`, `x` is a field name unless it and what follows form one type."""
    following = after.split(None, 1)[0].lower() if after.strip() else ""
    return following in _MULTIWORD.get(word.lower(), ())


def _finish(parsed: TrinoType, rest: str) -> tuple[TrinoType, str]:
    rest = rest.lstrip()
    if rest.lower().startswith("with time zone"):
        return attrs.evolve(parsed, with_zone=True), rest[len("with time zone") :]
    if rest.lower().startswith("without time zone"):
        return parsed, rest[len("without time zone") :]
    return parsed, rest


# -- types ----------------------------------------------------------------------------


def arrow_field(name: str, text: str) -> pa.Field:
    """The Arrow field for a Trino result column."""
    parsed = parse_type(text)
    metadata = None
    if parsed.name == "json":
        metadata = {_EXTENSION: b"arrow.json"}
    elif parsed.name == "uuid":
        metadata = {_EXTENSION: b"arrow.uuid"}
    return pa.field(name, arrow_type(parsed), metadata=metadata)


_SIMPLE = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double": pa.float64(),
    "double precision": pa.float64(),
    "varbinary": pa.binary(),
    "date": pa.date32(),
    "uuid": pa.binary(16),
    "interval day to second": pa.duration("ms"),
    "interval year to month": pa.month_day_nano_interval(),
}


def arrow_type(t: TrinoType) -> pa.DataType:
    if t.name in _SIMPLE:
        return _SIMPLE[t.name]
    if t.name == "decimal":
        precision, scale = (*t.params, 0)[:2] if t.params else (38, 0)
        return pa.decimal128(precision, scale)
    if t.name == "timestamp":
        unit = "us" if (t.params[0] if t.params else 3) <= 6 else "ns"
        return pa.timestamp(unit, tz="UTC" if t.with_zone else None)
    if t.name == "time" and not t.with_zone:
        return pa.time64("us" if (t.params[0] if t.params else 3) <= 6 else "ns")
    if t.name == "array":
        return pa.list_(arrow_type(t.children[0][1]))
    if t.name == "map":
        return pa.map_(arrow_type(t.children[0][1]), arrow_type(t.children[1][1]))
    if t.name == "row":
        return pa.struct(
            [
                pa.field(name or f"field{i}", arrow_type(child))
                for i, (name, child) in enumerate(t.children)
            ]
        )
    return pa.string()  # varchar, char, json, time with time zone, ipaddress ...


# -- values --------------------------------------------------------------------------------


Convert = Callable[[Any], Any]


def converter(t: TrinoType) -> Convert | None:
    """Per-value conversion from JSON to what `pa.array` takes; None: use as is."""
    if t.name in ("real", "double", "double precision"):
        return lambda v: _FLOATS.get(v, v) if isinstance(v, str) else v
    if t.name == "decimal":
        return decimal.Decimal
    if t.name == "varbinary":
        return base64.b64decode
    if t.name == "uuid":
        return lambda v: uuid.UUID(v).bytes
    if t.name == "date":
        return dt.date.fromisoformat
    if t.name == "time" and not t.with_zone:
        return _time
    if t.name == "timestamp":
        return _timestamp_with_zone if t.with_zone else _timestamp
    if t.name == "interval day to second":
        return _day_to_second
    if t.name == "interval year to month":
        return _year_to_month
    if t.name == "array":
        item = converter(t.children[0][1])
        return (lambda v: [None if x is None else item(x) for x in v]) if item else None
    if t.name == "map":
        key = _key_converter(t.children[0][1])
        value = converter(t.children[1][1]) or (lambda x: x)
        return lambda v: [(key(k), None if x is None else value(x)) for k, x in v.items()]
    if t.name == "row":
        fields = [
            (name or f"field{i}", converter(child) or (lambda x: x))
            for i, (name, child) in enumerate(t.children)
        ]
        return lambda v: {
            name: None if x is None else convert(x)
            for (name, convert), x in zip(fields, v, strict=True)
        }
    if t.name in _SIMPLE or t.name in ("varchar", "char", "json"):
        return None
    return lambda v: v if isinstance(v, str) else str(v)


def _key_converter(t: TrinoType) -> Convert:
    """Map keys arrive as strings whatever their type."""
    if t.name in ("tinyint", "smallint", "integer", "int", "bigint"):
        return int
    if t.name in ("real", "double"):
        return float
    if t.name == "boolean":
        return lambda k: k == "true"
    return converter(t) or (lambda k: k)


def _time(text: str) -> dt.time:
    head, _, fraction = text.partition(".")
    return dt.time.fromisoformat(head + ("." + fraction[:6].ljust(6, "0") if fraction else ""))


def _timestamp(text: str) -> dt.datetime:
    day, _, clock = text.partition(" ")
    return dt.datetime.combine(dt.date.fromisoformat(day), _time(clock or "00:00:00"))


def _timestamp_with_zone(text: str) -> dt.datetime:
    """`2024-01-02 03:04:05.678 UTC`, `... +05:30` or `... Europe/Paris`, as UTC."""
    value, _, zone = text.rpartition(" ")
    local = _timestamp(value)
    if zone.startswith(("+", "-")):
        hours, _, minutes = zone[1:].partition(":")
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        tz: dt.tzinfo = dt.timezone(offset if zone[0] == "+" else -offset)
    else:
        tz = _UTC if zone in ("UTC", "Z") else ZoneInfo(zone)
    return local.replace(tzinfo=tz).astimezone(_UTC)


def _day_to_second(text: str) -> dt.timedelta:
    """`1 02:03:04.567` (Trino's interval day to second)."""
    negative = text.startswith("-")
    days, _, clock = text.lstrip("-").partition(" ")
    hours, minutes, seconds = clock.split(":")
    delta = dt.timedelta(
        days=int(days), hours=int(hours), minutes=int(minutes), seconds=float(seconds)
    )
    return -delta if negative else delta


def _year_to_month(text: str) -> pa.MonthDayNano:
    negative = text.startswith("-")
    years, _, months = text.lstrip("-").partition("-")
    total = int(years) * 12 + int(months or 0)
    return pa.MonthDayNano([-total if negative else total, 0, 0])


# -- pages -----------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class PageDecoder:
    """Decodes the rows of one query's pages; built once from its `columns`."""

    schema: pa.Schema
    converters: tuple[Convert | None, ...]

    @classmethod
    def from_columns(cls, columns: Sequence[dict[str, Any]]) -> PageDecoder:
        return _decoder(tuple((c["name"], c["type"]) for c in columns))

    def batch(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        arrays = []
        for i, (field, convert) in enumerate(zip(self.schema, self.converters, strict=True)):
            values = [row[i] for row in rows]
            if convert is not None:
                values = [None if v is None else convert(v) for v in values]
            arrays.append(pa.array(values, field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


@functools.lru_cache(maxsize=1024)
def _decoder(columns: tuple[tuple[str, str], ...]) -> PageDecoder:
    """Dashboards repeat the same result shapes: parse each one once."""
    fields = [arrow_field(name, text) for name, text in columns]
    converters = tuple(converter(parse_type(text)) for _, text in columns)
    return PageDecoder(pa.schema(fields), converters)
