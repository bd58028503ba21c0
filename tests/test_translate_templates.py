"""Shape templates: a statement with new values translates exactly as a fresh run would."""

from __future__ import annotations

import pytest

from qflux.translate import Translator
from qflux.translate_templates import make_template, shape_of

from .test_translation_corpus import CASES, TPCH_TRINO

POINT = "SELECT abalance FROM pgbench_accounts WHERE aid = {};"


def _fresh(sql: str, source: str, target: str) -> str:
    """What a translator with no caches at all makes of `sql`."""
    return Translator(cache_size=0).translate(sql, source, target).sql


def _with_new_values(sql: str, dialect: str, salt: int) -> str | None:
    """`sql` with every liftable literal changed, or None if it has none."""
    shape = shape_of(sql, dialect)
    if shape is None:
        return None
    values = [
        str(int(raw) + salt) if raw.isdigit() else f"'{raw[1:-1]}{salt}'" for raw in shape.literals
    ]
    parts = shape.key.split("\x00")
    out = [parts[0]]
    for value, part in zip(values, parts[1:], strict=True):
        out += (value, part[1:])  # part[0] is the marker's kind
    return "".join(out)


def test_point_queries_share_one_template() -> None:
    translator = Translator()
    for aid in (1, 2, 48213):
        outcome = translator.translate(POINT.format(aid), "postgres", "duckdb")
        assert outcome.sql == _fresh(POINT.format(aid), "postgres", "duckdb")
        assert outcome.sql.endswith(f"= {aid}")
    stats = translator.stats()
    assert (stats["templateHits"], stats["templateEntries"]) == (2, 1)


CORPUS = [case.trino_sql for case in CASES] + list(TPCH_TRINO.values())


@pytest.mark.parametrize("sql", CORPUS, ids=range(len(CORPUS)))
def test_new_values_translate_as_a_fresh_run_would(sql: str) -> None:
    translator = Translator()
    translator.translate(sql, "trino", "duckdb")  # the first of its shape makes a template
    for salt in (3, 1000):
        variant = _with_new_values(sql, "trino", salt)
        if variant is None:
            return
        assert translator.translate(variant, "trino", "duckdb").sql == _fresh(
            variant, "trino", "duckdb"
        )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT date_format(ts, '%Y') FROM t",  # a format string sqlglot rewrites
        "SELECT x[1] FROM t",  # an index some dialects shift
        "SELECT * FROM t WHERE s = 'it''s'",  # a quote inside: kept as written
        "SELECT * FROM t WHERE s = E'a\\nb'",  # an escape string
        "SELECT * FROM t WHERE n = -5",  # a sign is an operator: not lifted
        "SELECT * FROM t WHERE n = 1.5",  # only integers
        "SELECT interval '1' day",
        "SELECT * FROM t WHERE i = CAST('1 day' AS INTERVAL)",  # text some dialects split
        "SELECT * FROM t WHERE n = CAST(-5 AS INT)",  # a sign again
        "SELECT * FROM t WHERE d = CAST('2020-01-01' || x AS DATE)",  # part of a value
    ],
)
def test_values_outside_comparisons_stay_in_the_shape(sql: str) -> None:
    assert shape_of(sql, "postgres") is None


def test_lifted_places_and_kinds() -> None:
    shape = shape_of("SELECT * FROM t WHERE s = 'a' AND n >= 42 LIMIT 10 OFFSET 5", "trino")
    assert shape is not None
    assert shape.literals == ("'a'", "42", "10", "5")
    assert shape.key == "SELECT * FROM t WHERE s = \x00s AND n >= \x00n LIMIT \x00n OFFSET \x00n"


#: What the PostgreSQL frontend binds typed parameters as (pg_types.decode_parameter).
BOUND = [
    "SELECT abalance FROM pgbench_accounts WHERE aid = CAST(48213 AS INT)",
    "SELECT * FROM orders WHERE id = CAST(7 AS BIGINT) AND placed >= CAST('2024-01-31' AS DATE)",
    "SELECT * FROM events WHERE at < CAST('2024-01-31 10:00:00+02:00' AS TIMESTAMPTZ)",
    "SELECT * FROM events WHERE at < CAST('2024-01-31 10:00:00' AS TIMESTAMP) LIMIT 5",
    "SELECT * FROM ids WHERE u = CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS UUID)",
    "SELECT * FROM m WHERE x > CAST('2.5' AS DOUBLE PRECISION) AND y = CAST('1.5' AS REAL)",
    "UPDATE accounts SET balance = CAST(10 AS INT) WHERE id = CAST(3 AS SMALLINT)",
]


@pytest.mark.parametrize("target", ["duckdb", "trino", "clickhouse", "starrocks", "postgres"])
@pytest.mark.parametrize("sql", BOUND, ids=range(len(BOUND)))
def test_bound_casts_translate_as_a_fresh_run_would(sql: str, target: str) -> None:
    translator = Translator()
    translator.translate(sql, "postgres", target)
    hits = translator.template_hits
    for salt in (3, 1000):
        variant = _with_new_values(sql, "postgres", salt)
        assert variant is not None and variant != sql
        outcome = translator.translate(variant, "postgres", target)
        assert outcome.sql == _fresh(variant, "postgres", target)
    if target != "postgres":  # the same dialect is not translated at all
        assert translator.template_hits == hits + 2


def test_a_template_is_kept_only_if_it_reproduces_the_translation() -> None:
    shape = shape_of("SELECT * FROM t WHERE n = 7 AND s = 'x'", "trino")
    assert shape is not None
    n, s = shape.sentinels
    good = f"SELECT * FROM t WHERE n = {n} AND s = {s}"
    template = make_template(shape, good, "SELECT * FROM t WHERE n = 7 AND s = 'x'")
    assert template is not None
    assert template.fill(("8", "'y'")) == "SELECT * FROM t WHERE n = 8 AND s = 'y'"
    # A sentinel rewritten (an index shifted), duplicated, or an output the first
    # statement's own values do not reproduce: no template.
    shifted = good.replace(n, str(int(n) - 1))
    assert make_template(shape, shifted, "SELECT * FROM t WHERE n = 6 AND s = 'x'") is None
    twice = f"{good} OR n = {n}"
    assert make_template(shape, twice, "SELECT * FROM t WHERE n = 7 AND s = 'x' OR n = 7") is None
    assert make_template(shape, good, "SELECT * FROM t WHERE n = 7 AND s = 'X'") is None


def test_hooks_and_a_disabled_cache_use_no_templates() -> None:
    translator = Translator(hooks=[lambda sql, source, target: sql])
    for aid in (1, 2):
        translator.translate(POINT.format(aid), "postgres", "duckdb")
    assert translator.stats()["templateEntries"] == 0
    uncached = Translator(cache_size=0)
    for aid in (1, 2):
        uncached.translate(POINT.format(aid), "postgres", "duckdb")
    assert uncached.stats()["templateEntries"] == 0


def test_a_shape_without_a_faithful_template_is_not_probed_again(monkeypatch) -> None:
    """The sentinel translation is made once per shape: a shape whose template did not
    prove faithful costs later statements one translation, not two."""
    import qflux.translate

    monkeypatch.setattr(qflux.translate, "make_template", lambda *args: None)
    translator = Translator()
    calls: list[str] = []
    real = translator._translate
    monkeypatch.setattr(
        translator, "_translate", lambda sql, *rest: calls.append(sql) or real(sql, *rest)
    )
    for aid in (1, 2, 3):
        outcome = translator.translate(POINT.format(aid), "postgres", "duckdb")
        assert outcome.sql == _fresh(POINT.format(aid), "postgres", "duckdb")
    assert len(calls) == 4  # the first statement and its probe, then one each
    assert translator.stats()["templateEntries"] == 0
