"""Binding prepared statements' parameters: the text template against the tree path.

Every templated result must equal `bind_parameters` on a freshly parsed tree, for
values as `decode_parameter` makes them from real type oids, and a statement with a
parameter outside a value position must keep the tree path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from qflux.frontends import pg_params
from qflux.frontends.pg_params import StatementBinder, bind_parameters, parse
from qflux.frontends.pg_types import decode_parameter

INT4, INT8, TEXT, VARCHAR, DATE, TIMESTAMP, NUMERIC, BOOL, UNKNOWN = (
    23, 20, 25, 1043, 1082, 1114, 1700, 16, 0
)  # fmt: skip
POINT_SELECT = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;"

#: (statement, the type oid of each parameter), every parameter in a value position.
TEMPLATED = [
    (POINT_SELECT, [INT4]),
    ("SELECT * FROM t WHERE id IN ($1, $2, $3)", [INT8, INT8, INT8]),
    ("SELECT * FROM t WHERE d BETWEEN $1 AND $2", [DATE, DATE]),
    ("SELECT * FROM t ORDER BY id LIMIT $1 OFFSET $2", [INT8, INT8]),
    (
        "INSERT INTO t (a, b, c) VALUES ($1, $2, $3), ($4, $5, $6)",
        [INT4, TEXT, TIMESTAMP, INT4, VARCHAR, TIMESTAMP],
    ),
    ("INSERT INTO t VALUES ($1, $2)", [BOOL, UNKNOWN]),
    ("UPDATE t SET name = $1 WHERE id = $2", [VARCHAR, INT4]),
    ("DELETE FROM t WHERE id = $1", [INT8]),
    ("SELECT * FROM t WHERE a = $1 OR b <> $1 AND c >= $2", [TEXT, NUMERIC]),
    ("SELECT * FROM t WHERE a = $2 AND b > $1", [TEXT, INT4]),
    (
        'SELECT "Weird Col" FROM "My Table" WHERE "Weird Col" < $1 AND "x" <= ($2)',
        [NUMERIC, UNKNOWN],
    ),
    ("SELECT * FROM t WHERE flag = $1 AND price > $2", [BOOL, NUMERIC]),
    ("SELECT * FROM t WHERE note = $1 AND ts >= $2", [UNKNOWN, TIMESTAMP]),
    ("SELECT * FROM t WHERE s = '$1' AND a = $1", [TEXT]),
    ("SELECT * FROM t /* a = $1 */ WHERE a = $1 -- and $1\n", [INT4]),
    ("SELECT * FROM t WHERE x IN ($1, ($2)) AND y BETWEEN ($3) AND 10", [TEXT, TEXT, INT8]),
]

#: Statements with a parameter where the text around it may depend on its value.
UNTEMPLATED = [
    ("SELECT -$1", [NUMERIC], [b"5", b"6", b"-5", b"1.5"]),
    ("SELECT lower($1)", [TEXT], [b"A", b"it's", b"-- x"]),
    ("SELECT INTERVAL $1", [TEXT], [b"1 day", b"2 hours", b"-3 minutes"]),
    ("SELECT $1 + 1", [INT4], [b"1", b"-1", b"7"]),
    ("SELECT arr[$1] FROM t", [INT4], [b"1", b"2", b"-1"]),
    ("SELECT * FROM t WHERE a = $1 AND b = lower($2)", [INT4, TEXT], [b"1", b"2", b"3"]),
    ("SELECT * FROM t WHERE $1 IN (1, 2)", [INT4], [b"1", b"-1", b"2"]),
    ("SELECT * FROM t WHERE a = 1000000007 AND b = $1", [INT4], [b"1", b"2", b"3"]),
]

TRICKY_TEXT = [
    "",
    "it's",
    "''",
    "back\\slash",
    "\\'",
    "$1",
    "$2 $1",
    "-- not a comment",
    "/* nor this */",
    "1000000007",
    "ünïcødé ✓ 𝄞",
    "line\nbreak\ttab\r",
    'double "quotes"',
    "E'\\x41'",
]

_texts = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
)
_VALUES: dict[int, st.SearchStrategy[str]] = {
    INT4: st.integers(-(2**31), 2**31 - 1).map(str),
    INT8: st.integers(-(2**63), 2**63 - 1).map(str),
    TEXT: _texts,
    VARCHAR: _texts,
    UNKNOWN: _texts,
    DATE: st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat),
    TIMESTAMP: st.datetimes().map(lambda value: value.isoformat(sep=" ")),
    NUMERIC: st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    BOOL: st.sampled_from(["t", "f", "true", "false", "1", "0"]),
}


def _value(oid: int) -> st.SearchStrategy[bytes | None]:
    """Text-format bytes of one parameter of type `oid`, NULL now and then."""
    return st.one_of(st.none(), _VALUES[oid].map(str.encode))


def _decoded(oids: list[int], raws: list[bytes | None]) -> list[exp.Expr]:
    return [decode_parameter(oid, 0, raw) for oid, raw in zip(oids, raws, strict=True)]


def _expected(sql: str, values: Sequence[exp.Expr]) -> str:
    return bind_parameters(sql, values, parse(sql))


@pytest.mark.parametrize(("sql", "oids"), TEMPLATED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_template_equals_tree_path(sql: str, oids: list[int], data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.tuples(*(_value(oid) for oid in oids)), min_size=3, max_size=8))
    binder = StatementBinder(sql, parse(sql))
    for raws in rows:
        values = _decoded(oids, list(raws))
        assert binder.bind(values) == _expected(sql, values)
    assert binder.templated  # a template that disagreed once would have been retired


@pytest.mark.parametrize(("sql", "oids"), TEMPLATED)
def test_template_with_fixed_values(sql: str, oids: list[int]) -> None:
    binder = StatementBinder(sql, parse(sql))
    for raws in _fixed_rows(oids):
        values = _decoded(oids, raws)
        assert binder.bind(values) == _expected(sql, values)
    assert binder.templated


def _fixed_rows(oids: list[int]) -> Iterator[list[bytes | None]]:
    """Every tricky text, negative and boundary numbers, and all-NULL rows."""
    samples: dict[int, list[str]] = {
        INT4: ["0", "-1", "2147483647", "-2147483648"],
        INT8: ["1", "-9223372036854775808", "9223372036854775807"],
        DATE: ["2024-02-29", "0001-01-01", "infinity"],
        TIMESTAMP: ["2024-01-02 03:04:05.123456", "1999-12-31 23:59:59"],
        NUMERIC: ["-1.50", "0", "12345678901234567890.123", "NaN"],
        BOOL: ["t", "f"],
    }
    for index in range(max(len(TRICKY_TEXT), 4)):
        row: list[bytes | None] = []
        for oid in oids:
            choices = samples.get(oid, TRICKY_TEXT)
            row.append(choices[index % len(choices)].encode())
        yield row
    yield [None] * len(oids)


@pytest.mark.parametrize(("sql", "oids", "raws"), UNTEMPLATED)
def test_no_template_outside_value_places(sql: str, oids: list[int], raws: list[bytes]) -> None:
    binder = StatementBinder(sql, parse(sql))
    for raw in raws:
        values = _decoded(oids, [raw] * len(oids))
        assert binder.bind(values) == _expected(sql, values)
        assert not binder.templated


def test_negation_is_not_a_comment() -> None:
    binder = StatementBinder("SELECT -$1", parse("SELECT -$1"))
    for _ in range(3):
        assert binder.bind([decode_parameter(NUMERIC, 0, b"-5")]) == "SELECT - -5"


def test_an_array_subscript_parameter_reads_the_element_postgresql_does() -> None:
    """sqlglot stores an integer subscript 0-based; a typed value put in a `$n`
    subscript gets the parser's shift, so `arr[$1]` with 2 reads element 2, not 3."""
    sql = "SELECT (ARRAY[10, 20, 30])[$1]"
    bound = bind_parameters(sql, [decode_parameter(INT4, 0, b"2")], parse(sql))
    assert bound == "SELECT (ARRAY[10, 20, 30])[CAST(2 AS INT) + 0]"
    text = bind_parameters(sql, [decode_parameter(UNKNOWN, 0, b"2")], parse(sql))
    assert text == "SELECT (ARRAY[10, 20, 30])['2']"


def test_unparsed_statement_keeps_the_tree_path() -> None:
    sql = "SELECT * FROM t WHERE a = $1"
    binder = StatementBinder(sql, None)
    for raw in (b"1", b"2", b"3"):
        values = [decode_parameter(INT4, 0, raw)]
        assert binder.bind(values) == _expected(sql, values)
    assert not binder.templated


def test_no_parameters() -> None:
    binder = StatementBinder("SELECT 1;", parse("SELECT 1;"))
    assert binder.bind([]) == "SELECT 1;"


def test_a_new_value_kind_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    binder = StatementBinder(POINT_SELECT, parse(POINT_SELECT))
    for raw in (b"1", b"2"):
        binder.bind([decode_parameter(INT4, 0, raw)])
    calls = _count_tree_path(monkeypatch)
    null = [decode_parameter(INT4, 0, None)]
    assert binder.bind(null) == _expected(POINT_SELECT, null)
    assert calls["bind_parameters"] == 1
    binder.bind(null)
    binder.bind([decode_parameter(INT4, 0, b"3")])
    assert calls["bind_parameters"] == 1


def test_a_template_that_disagrees_is_retired(monkeypatch: pytest.MonkeyPatch) -> None:
    binder = StatementBinder(POINT_SELECT, parse(POINT_SELECT))
    for raw in (b"1", b"2"):
        binder.bind([decode_parameter(INT4, 0, raw)])
    real = bind_parameters
    monkeypatch.setattr(pg_params, "bind_parameters", lambda *args: real(*args) + " ")
    null = [decode_parameter(INT4, 0, None)]
    assert binder.bind(null) == _expected(POINT_SELECT, null) + " "
    assert not binder.templated


def test_point_select_skips_the_tree_after_the_second_bind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Copying the tree and generating from it is what the template saves."""
    binder = StatementBinder(POINT_SELECT, parse(POINT_SELECT))
    values = [[decode_parameter(INT4, 0, str(aid).encode())] for aid in range(1, 102)]
    binder.bind(values[0])
    binder.bind(values[1])  # builds the template, proven by the first Bind's values
    calls = _count_tree_path(monkeypatch)
    results = [binder.bind(row) for row in values[2:]]
    assert dict(calls) == {"copy": 0, "sql": 0, "bind_parameters": 0}
    assert results[-1] == "SELECT abalance FROM pgbench_accounts WHERE aid = CAST(101 AS INT)"


def _count_tree_path(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of tree copies, generator runs and `bind_parameters` calls from now on."""
    calls = {"copy": 0, "sql": 0, "bind_parameters": 0}

    def counted(owner: object, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    counted(exp.Expression, "copy")
    counted(exp.Expression, "sql")
    counted(pg_params, "bind_parameters")
    return calls


@pytest.mark.parametrize(
    "text", [*TRICKY_TEXT, "\\\\", "'", "\\x00", "\x01\x7f", "\\n", "x" * 1000]
)
def test_literal_fast_path_matches_sqlglot(text: str) -> None:
    for value in (
        exp.Literal.string(text),
        decode_parameter(TEXT, 0, text.encode()),
        exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("timestamp")),
    ):
        assert pg_params._render(value)[0] == value.sql(dialect="postgres")


@pytest.mark.parametrize(
    "type_name", ["int", "bigint", "numeric(10, 2)", "varchar(3)", "double precision", "int[]"]
)
def test_cast_fast_path_matches_sqlglot(type_name: str) -> None:
    value = exp.Cast(this=exp.Literal.number("42"), to=exp.DataType.build(type_name))
    assert pg_params._render(value)[0] == value.sql(dialect="postgres")
