"""qflux.dialect_fixes, one fix at a time: Trino SQL in, DuckDB SQL out.

What the rewritten SQL returns is checked against DuckDB in test_translation_corpus;
these pin the SQL each fix writes, so a change to a fix (or to sqlglot under it)
shows up as a readable diff.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from qflux import dialect_fixes
from qflux.dialect_fixes import (
    FIXES,
    apply,
    java_format_to_fmt,
    java_replacement_to_re2,
    joda_to_strftime,
)
from qflux.translate import Translator


def to_duckdb(sql: str) -> str:
    return apply(sqlglot.parse_one(sql, read="trino"), "trino", "duckdb").sql("duckdb")


# fix name -> [(Trino SQL, DuckDB SQL written after every fix ran)]
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "trino_division": [
        ("SELECT 7 / 2, a / b", "SELECT 7 // 2, a // b"),
        ("SELECT 1e0 / 2, x / 2e0", "SELECT 1e0 / 2, x / 2e0"),
        (
            "SELECT length(s) / 2, floor(7) / 2",
            "SELECT CAST(LENGTH(s) AS BIGINT) // 2, CAST(FLOOR(7) AS INT) // 2",
        ),
        (
            "SELECT 1.0 / 3",
            "SELECT CAST(CAST((2 * ABS(CAST((1.0) * 10 AS INT128)) + ABS(CAST(3 AS INT128)))"
            " // (2 * ABS(CAST(3 AS INT128))) * SIGN(CAST((1.0) * 10 AS INT128))"
            " * SIGN(CAST(3 AS INT128)) AS DECIMAL(38, 0)) * 0.1 AS DECIMAL(2, 1))",
        ),
        ("SELECT INTERVAL '4' DAY / 2", "SELECT INTERVAL '4' DAY / 2"),
    ],
    "float_to_integer_cast_rounds": [
        (
            "SELECT CAST(2.5e0 AS BIGINT), CAST(x AS BIGINT), CAST(1.5 AS INTEGER)",
            "SELECT CAST(ROUND(2.5e0) AS BIGINT), CAST(x AS BIGINT), CAST(1.5 AS INT)",
        ),
    ],
    "sum_of_integers_is_bigint": [
        (
            "SELECT sum(length(s)), sum(1) OVER (ORDER BY x), sum(x)",
            "SELECT CAST(SUM(LENGTH(s)) AS BIGINT), CAST(SUM(1) OVER (ORDER BY x) AS BIGINT),"
            " SUM(x)",
        ),
    ],
    "avg_of_decimals_is_decimal": [
        (
            "SELECT avg(CAST(x AS DECIMAL(10, 2))), avg(x)",
            "SELECT CAST(CAST(CAST((2 * ABS(CAST((SUM(CAST(x AS DECIMAL(10, 2)))) * 100 AS INT128))"
            " + ABS(CAST(NULLIF(COUNT(CAST(x AS DECIMAL(10, 2))), 0) AS INT128)))"
            " // (2 * ABS(CAST(NULLIF(COUNT(CAST(x AS DECIMAL(10, 2))), 0) AS INT128)))"
            " * SIGN(CAST((SUM(CAST(x AS DECIMAL(10, 2)))) * 100 AS INT128))"
            " * SIGN(CAST(NULLIF(COUNT(CAST(x AS DECIMAL(10, 2))), 0) AS INT128))"
            " AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(38, 2)) AS DECIMAL(10, 2)), AVG(x)",
        ),
    ],
    "date_arithmetic_stays_date": [
        (
            "SELECT date_add('day', 1, DATE '2024-01-01'), date_trunc('month', DATE '2024-05-17')",
            "SELECT CAST(CAST('2024-01-01' AS DATE) + INTERVAL 1 DAY AS DATE),"
            " CAST(DATE_TRUNC('MONTH', CAST('2024-05-17' AS DATE)) AS DATE)",
        ),
        (
            "SELECT DATE '2024-01-31' + INTERVAL '1' MONTH,"
            " date_add('hour', 1, TIMESTAMP '2024-01-01 00:00:00')",
            "SELECT CAST(CAST('2024-01-31' AS DATE) + INTERVAL '1' MONTH AS DATE),"
            " CAST('2024-01-01 00:00:00' AS TIMESTAMP(0)) + INTERVAL 1 HOUR",
        ),
        (
            "SELECT sequence(DATE '2024-01-01', DATE '2024-01-03', INTERVAL '1' DAY)",
            "SELECT CAST(GENERATE_SERIES(CAST('2024-01-01' AS DATE), CAST('2024-01-03' AS DATE),"
            " INTERVAL '1' DAY) AS DATE[])",
        ),
    ],
    "date_diff_counts_whole_units": [
        ("SELECT date_diff('month', a, b)", "SELECT DATE_SUB('month', a, b)"),
    ],
    "extract_dow_is_iso": [
        (
            "SELECT extract(dow FROM d), extract(year FROM d)",
            "SELECT EXTRACT(ISODOW FROM d), EXTRACT(YEAR FROM d)",
        ),
    ],
    "millisecond_of_second": [
        ("SELECT 2 * millisecond(ts)", "SELECT 2 * (MILLISECOND(ts) % 1000)"),
    ],
    "format_datetime_java_pattern": [
        (
            "SELECT format_datetime(ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS')",
            "SELECT STRFTIME(ts, '%Y-%m-%dT%H:%M:%S.%g')",
        ),
        # An era has no strftime equivalent: left for DuckDB to report.
        ("SELECT format_datetime(ts, 'G yyyy')", "SELECT FORMAT_DATETIME(ts, 'G yyyy')"),
    ],
    "parse_datetime_java_pattern": [
        (
            "SELECT parse_datetime(s, 'dd/MM/yyyy HH:mm')",
            "SELECT CAST(STRPTIME(s, '%d/%m/%Y %H:%M') AS TIMESTAMPTZ)",
        ),
    ],
    "at_time_zone_from_instant": [
        (
            "SELECT ts AT TIME ZONE 'Asia/Tokyo',"
            " TIMESTAMP '2024-01-01 00:00:00 UTC' AT TIME ZONE 'Asia/Tokyo'",
            "SELECT CAST(ts AS TIMESTAMPTZ) AT TIME ZONE 'Asia/Tokyo',"
            " CAST('2024-01-01 00:00:00 UTC' AS TIMESTAMPTZ) AT TIME ZONE 'Asia/Tokyo'",
        ),
    ],
    "with_timezone_function": [
        (
            "SELECT with_timezone(ts, 'Asia/Tokyo')",
            "SELECT TIMEZONE('Asia/Tokyo', CAST(ts AS TIMESTAMP))",
        ),
    ],
    "interval_span_literals": [
        (
            "SELECT INTERVAL '1-2' YEAR TO MONTH, INTERVAL '1 02:03:04.5' DAY TO SECOND,"
            " INTERVAL '-10:30' HOUR TO MINUTE",
            "SELECT INTERVAL '14' MONTH, INTERVAL '93784.5' SECOND, INTERVAL '-37800' SECOND",
        ),
    ],
    "substr_out_of_range_is_empty": [
        (
            "SELECT substr(s, 2), substr(s, 0), substr(s, -3, 2)",
            "SELECT SUBSTRING(s, 2), SUBSTRING(s, 1, 0),"
            " CASE WHEN LENGTH(s) < 3 THEN SUBSTRING(s, 1, 0) ELSE SUBSTRING(s, -3, 2) END",
        ),
        (
            "SELECT substr(s, i)",
            "SELECT CASE WHEN i = 0 OR i < -LENGTH(s) THEN SUBSTRING(s, 1, 0)"
            " ELSE SUBSTRING(s, i) END",
        ),
    ],
    "split_with_a_limit": [
        (
            "SELECT split(s, '.', 2)",
            "SELECT CASE WHEN LEN(STR_SPLIT(s, '.')) > 2 THEN LIST_CONCAT(LIST_SLICE(STR_SPLIT(s,"
            " '.'), 1, 2 - 1), [ARRAY_TO_STRING(LIST_SLICE(STR_SPLIT(s, '.'), 2,"
            " LEN(STR_SPLIT(s, '.'))), '.')]) ELSE STR_SPLIT(s, '.') END",
        ),
    ],
    "split_part_past_the_end_is_null": [
        (
            "SELECT split_part(s, ',', 3)",
            "SELECT CASE WHEN 3 > LEN(STR_SPLIT(s, ',')) THEN NULL ELSE SPLIT_PART(s, ',', 3) END",
        ),
    ],
    "regexp_extract_no_match_is_null": [
        (
            "SELECT regexp_extract(s, '[0-9]+')",
            "SELECT CASE WHEN REGEXP_MATCHES(s, '[0-9]+') THEN REGEXP_EXTRACT(s, '[0-9]+') END",
        ),
    ],
    "regexp_replace_group_references": [
        (
            r"SELECT regexp_replace(s, '(\w+) (\w+)', '$2 \$$1')",
            r"SELECT REGEXP_REPLACE(s, '(\w+) (\w+)', '\2 $\1', 'g')",
        ),
    ],
    "format_java_patterns": [
        (
            "SELECT format('%s: %05.1f%% {x}', a, b)",
            "SELECT FORMAT('{}: {:05.1f}% {{x}}', a, b)",
        ),
    ],
    "renamed_functions": [
        (
            "SELECT codepoint('a'), hamming_distance(a, b), zip(x, y), yow(d), to_base(255, 16)",
            "SELECT UNICODE('a'), HAMMING(a, b), LIST_ZIP(x, y), ISOYEAR(d), LOWER(TO_BASE(255,"
            " 16))",
        ),
        (
            "SELECT bitwise_left_shift(1, 3) * 2, bitwise_right_shift_arithmetic(-8, 1)",
            "SELECT (1 << 3) * 2, (-8 >> 1)",
        ),
    ],
    "bitwise_width_functions": [
        (
            "SELECT bit_count(x, 64), bit_count(x, 4)",
            "SELECT BIT_COUNT(CAST(x AS BIGINT)), BIT_COUNT((CAST(x AS BIGINT) & 15))",
        ),
        (
            "SELECT bitwise_right_shift(-8, 1), bitwise_right_shift(x, 1)",
            "SELECT CAST((CAST(-8 AS BIGINT) & 4294967295) >> 1 AS BIGINT),"
            " CAST((CAST(x AS INT128) & 18446744073709551615) >> 1 AS BIGINT)",
        ),
    ],
    "width_bucket_formula": [
        (
            "SELECT width_bucket(x, 0, 10, 5)",
            "SELECT CASE WHEN CAST(x AS DOUBLE) < CAST(0 AS DOUBLE) THEN 0"
            " WHEN CAST(x AS DOUBLE) >= CAST(10 AS DOUBLE) THEN CAST(5 AS BIGINT) + 1"
            " ELSE CAST(TRUNC(5 * (CAST(x AS DOUBLE) - CAST(0 AS DOUBLE))"
            " / (CAST(10 AS DOUBLE) - CAST(0 AS DOUBLE))) AS BIGINT) + 1 END",
        ),
    ],
    "array_set_functions_keep_order": [
        (
            "SELECT array_distinct(a)",
            "SELECT LIST_FILTER(a, LAMBDA _qf_v, _qf_i : LIST_POSITION(a, _qf_v) = _qf_i)",
        ),
        (
            "SELECT array_union(a, b)",
            "SELECT LIST_FILTER(LIST_CONCAT(a, b),"
            " LAMBDA _qf_v, _qf_i : LIST_POSITION(LIST_CONCAT(a, b), _qf_v) = _qf_i)",
        ),
        (
            "SELECT array_except(a, b)",
            "SELECT CASE WHEN b IS NULL THEN NULL ELSE LIST_FILTER(LIST_FILTER(a, LAMBDA _qf_e :"
            " LEN(LIST_FILTER(b, LAMBDA _qf_f : _qf_f IS NOT DISTINCT FROM _qf_e)) = 0),"
            " LAMBDA _qf_v, _qf_i : LIST_POSITION(LIST_FILTER(a, LAMBDA _qf_e :"
            " LEN(LIST_FILTER(b, LAMBDA _qf_f : _qf_f IS NOT DISTINCT FROM _qf_e)) = 0),"
            " _qf_v) = _qf_i) END",
        ),
    ],
    "array_search_null_semantics": [
        (
            "SELECT contains(a, 1)",
            "SELECT CASE WHEN LIST_CONTAINS(a, 1) THEN TRUE WHEN LIST_POSITION(a, NULL) > 0"
            " THEN NULL ELSE LIST_CONTAINS(a, 1) END",
        ),
        (
            "SELECT array_position(a, 1)",
            "SELECT CASE WHEN a IS NULL THEN NULL ELSE COALESCE(LIST_POSITION(a, 1), 0) END",
        ),
    ],
    "slice_takes_a_length": [
        (
            "SELECT slice(a, 2, 3), slice(a, -3, 2)",
            "SELECT LIST_SLICE(a, 2, 4), LIST_SLICE(a, -3, -2)",
        ),
        (
            "SELECT slice(a, i, n)",
            "SELECT LIST_SLICE(a, i, CASE WHEN i < 0 THEN LEAST(i + n - 1, -1) ELSE i + n - 1 END)",
        ),
    ],
    "reduce_applies_finish": [
        (
            "SELECT reduce(a, 0, (s, x) -> s + x, s -> s * 10)",
            "SELECT LIST_TRANSFORM([LIST_REDUCE(a, LAMBDA s, x : s + x, 0)], LAMBDA s : s * 10)[1]",
        ),
        (
            "SELECT reduce(a, 0, (s, x) -> s + x, s -> s)",
            "SELECT LIST_REDUCE(a, LAMBDA s, x : s + x, 0)",
        ),
    ],
    "cardinality_of_arrays_and_maps": [
        ("SELECT cardinality(m)", "SELECT CAST(CARDINALITY(m) AS BIGINT)"),
    ],
    "json_array_length_is_bigint": [
        ("SELECT json_array_length(j)", "SELECT CAST(JSON_ARRAY_LENGTH(j) AS BIGINT)"),
    ],
    "strpos_nth_instance": [
        (
            "SELECT strpos(s, 'l', 2), strpos(s, 'l')",
            "SELECT CASE WHEN s IS NULL OR 'l' IS NULL THEN NULL ELSE COALESCE(LIST_FILTER("
            "RANGE(1, LENGTH(s) + 1), LAMBDA _qf_i : SUBSTRING(s, _qf_i, LENGTH('l')) = 'l')[2],"
            " 0) END, STRPOS(s, 'l')",
        ),
    ],
    "array_remove_keeps_nulls": [
        (
            "SELECT array_remove(a, 1)",
            "SELECT CASE WHEN 1 IS NULL THEN NULL"
            " ELSE LIST_FILTER(a, LAMBDA _qf_u : _qf_u IS NULL OR _qf_u <> 1) END",
        ),
    ],
    "reverse_of_an_array": [
        ("SELECT reverse(ARRAY[1, 2]), reverse(s)", "SELECT LIST_REVERSE([1, 2]), REVERSE(s)"),
    ],
    "length_of_varbinary": [
        ("SELECT length(to_utf8(s)), length(s)", "SELECT OCTET_LENGTH(ENCODE(s)), LENGTH(s)"),
    ],
    "count_if_is_bigint": [
        (
            "SELECT count_if(x > 1), count_if(x > 1) OVER ()",
            "SELECT CAST(COUNT_IF(x > 1) AS BIGINT), CAST(COUNT_IF(x > 1) OVER () AS BIGINT)",
        ),
    ],
    "approx_percentile_keeps_type": [
        (
            "SELECT approx_percentile(x, 0.5), approx_percentile(x, ARRAY[0.1, 0.9])",
            "SELECT APPROX_QUANTILE(x, 0.5), APPROX_QUANTILE(x, [0.1, 0.9])",
        ),
    ],
    "aggregates_under_other_names": [
        (
            "SELECT every(x > 0), map_agg(k, v)",
            "SELECT BOOL_AND(x > 0), MAP(ARRAY_AGG(k), ARRAY_AGG(v))",
        ),
    ],
    "array_match_functions": [
        (
            "SELECT any_match(a, x -> x > 1), all_match(a, x -> x > 1), none_match(a, x -> x > 1)",
            "SELECT LEN(LIST_FILTER(a, LAMBDA x : x > 1)) > 0,"
            " LEN(LIST_FILTER(a, LAMBDA x : NOT (x > 1))) = 0,"
            " LEN(LIST_FILTER(a, LAMBDA x : x > 1)) = 0",
        ),
    ],
    "repeat_builds_an_array": [
        ("SELECT repeat('x', 3)", "SELECT LIST_TRANSFORM(RANGE(3), LAMBDA _qf_i : 'x')"),
    ],
    "json_extract_scalar_only_scalars": [
        (
            "SELECT json_extract_scalar(j, '$.a')",
            "SELECT CASE WHEN JSON_TYPE(j, '$.a') IN ('OBJECT', 'ARRAY') THEN NULL"
            " ELSE j ->> '$.a' END",
        ),
    ],
    "unnest_rows_and_zips": [
        (
            "SELECT n, s FROM UNNEST(a) AS t(n, s)",
            "SELECT n, s FROM (SELECT UNNEST(_qf_r) FROM UNNEST(a) AS _qf_u(_qf_r)) AS t(n, s)",
        ),
        (
            "SELECT k, v, o FROM UNNEST(map(ARRAY['a'], ARRAY[1])) WITH ORDINALITY AS t(k, v, o)",
            "SELECT k, v, o FROM (SELECT UNNEST(_qf_r), _qf_o FROM UNNEST(MAP_ENTRIES(MAP(['a'],"
            " [1]))) WITH ORDINALITY AS _qf_u(_qf_r, _qf_o)) AS t(k, v, o)",
        ),
        (
            "SELECT x, y FROM UNNEST(a, b) AS t(x, y)",
            "SELECT x, y FROM (SELECT UNNEST(a) AS _qf_c0, UNNEST(b) AS _qf_c1) AS t(x, y)",
        ),
        # One array of scalars: DuckDB's UNNEST is Trino's already.
        (
            "SELECT x, n FROM UNNEST(a) WITH ORDINALITY AS t(x, n)",
            "SELECT x, n FROM UNNEST(a) WITH ORDINALITY AS t(x, n)",
        ),
    ],
}


@pytest.mark.parametrize(
    ("trino_sql", "duckdb_sql"),
    [
        pytest.param(trino_sql, duckdb_sql, id=f"{name}-{i}")
        for name, examples in EXAMPLES.items()
        for i, (trino_sql, duckdb_sql) in enumerate(examples)
    ],
)
def test_fix_writes(trino_sql: str, duckdb_sql: str) -> None:
    assert to_duckdb(trino_sql) == duckdb_sql


def test_every_registered_fix_has_examples() -> None:
    registered = {fix.__name__ for fix in FIXES[("trino", "duckdb")]}
    assert registered - {"annotate_trino_types"} == set(EXAMPLES)


def test_fixes_run_through_the_translator() -> None:
    translation = Translator().translate("SELECT 5 / 2 AS q", "trino", "duckdb")
    assert translation.sql == "SELECT 5 // 2 AS q"


def test_other_dialect_pairs_are_left_to_sqlglot() -> None:
    tree = sqlglot.parse_one("SELECT 5 / 2", read="trino")
    assert apply(tree, "trino", "postgres").sql("postgres") == "SELECT 5 / 2"


def test_an_untyped_tree_is_typed_first() -> None:
    tree = apply(sqlglot.parse_one("SELECT length('ab')", read="trino"), "trino", "duckdb")
    assert tree.selects[0].type.sql() == "BIGINT"


def schema_typed(sql: str) -> Any:
    """The tree as schema-aware translation hands it over: qualified and typed against
    the engine's schema, which carries the engine's dialect (DuckDB's typing rules)."""
    schema = MappingSchema(
        {"t": {"a": "INT", "b": "INT", "d": "DECIMAL(10, 2)", "x": "DOUBLE", "day": "DATE"}},
        dialect="duckdb",
    )
    tree = qualify(sqlglot.parse_one(sql, read="trino"), schema=schema, dialect="trino")
    return annotate_types(tree, schema=schema)


def test_schema_typed_columns_drive_the_fixes() -> None:
    sql = apply(
        schema_typed("SELECT a / b, x / b, sum(a), CAST(x AS BIGINT), d / 4 FROM t"),
        "trino",
        "duckdb",
    ).sql("duckdb")
    assert sql.startswith(
        'SELECT "t"."a" // "t"."b" AS "_col_0", "t"."x" / "t"."b" AS "_col_1",'
        ' CAST(SUM("t"."a") AS BIGINT) AS "_col_2", CAST(ROUND("t"."x") AS BIGINT) AS "x",'
    )
    assert sql.endswith('AS DECIMAL(10, 2)) AS "_col_4" FROM "t" AS "t"')  # exact decimal


def test_schema_typed_trees_are_retyped_by_trinos_rules() -> None:
    """DuckDB types floor(int) as DOUBLE and DATE + INTERVAL as TIMESTAMP; Trino does not."""
    tree = schema_typed("SELECT floor(a) / 2, day + INTERVAL '1' DAY FROM t")
    assert [select.type.sql() for select in tree.selects] == ["DOUBLE", "TIMESTAMP"]
    assert apply(tree, "trino", "duckdb").sql("duckdb") == (
        'SELECT CAST(FLOOR("t"."a") AS INT) // 2 AS "_col_0",'
        ' CAST("t"."day" + INTERVAL \'1\' DAY AS DATE) AS "_col_1" FROM "t" AS "t"'
    )


def test_statements_other_than_queries_pass() -> None:
    assert to_duckdb("INSERT INTO t SELECT a / b FROM s") == "INSERT INTO t SELECT a // b FROM s"
    assert to_duckdb("DELETE FROM t WHERE a / 2 > 1") == "DELETE FROM t WHERE a // 2 > 1"


def test_a_fix_that_fails_to_type_does_not_fail_translation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("annotator broke")

    monkeypatch.setattr(dialect_fixes, "annotate_types", broken)
    assert to_duckdb("SELECT 5 / 2, a / b") == "SELECT 5 // 2, a // b"


# --- the pattern translators ----------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"),
        ("EEEE, MMMM d, yyyy h:mm a", "%A, %B %-d, %Y %-I:%M %p"),
        ("EEE MMM dd yy", "%a %b %d %y"),
        ("yyyyMMdd'T'HHmmss.SSS", "%Y%m%dT%H%M%S.%g"),
        ("D ww e xxxx", "%-j %V %u %G"),
        ("HH:mm:ss.SSSSSS", "%H:%M:%S.%f"),
        ("'o''clock' h", "o'clock %-I"),
        ("''yy''", "'%y'"),
        ("100% d", "100%% %-d"),
        ("G yyyy", None),  # era
        ("yyyy-MM-dd z", None),  # zone name
        ("ddd", None),  # three-digit day
    ],
)
def test_joda_to_strftime(pattern: str, expected: str | None) -> None:
    assert joda_to_strftime(pattern) == expected


def test_joda_to_strptime_drops_unpadded_flags() -> None:
    assert joda_to_strftime("d/M/yyyy H:mm", parsing=True) == "%d/%m/%Y %H:%M"


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ("[$1]", r"[\1]"),
        ("$2/$1/$0", r"\2/\1/\0"),
        (r"\$5", "$5"),
        (r"a\\b", r"a\\b"),
        ("$x", "$x"),
    ],
)
def test_java_replacement_to_re2(replacement: str, expected: str) -> None:
    assert java_replacement_to_re2(replacement) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("%s-%05d", "{}-{:05d}"),
        ("%.2f|%5s|%-4s|", "{:.2f}|{:>5}|{:<4}|"),
        ("%x %X %+d % d %e", "{:x} {:X} {:+d} {: d} {:e}"),
        ("100%% {literal}%n", "100% {{literal}}\n"),
        ("%,d", None),  # grouping separators: not translated
        ("%t", None),
    ],
)
def test_java_format_to_fmt(pattern: str, expected: str | None) -> None:
    assert java_format_to_fmt(pattern) == expected
