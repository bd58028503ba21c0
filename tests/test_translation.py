"""Translation as a query sees it: dialects, cache, failure policy, hooks, schema-aware mode."""

from __future__ import annotations

import subprocess
import sys

import pytest
from trino.exceptions import TrinoQueryError

import qflux.translate as translate_module
from qflux.core import ErrorCode, QueryError
from qflux.translate import Translator

from .conftest import duckdb_config, record_of, wait_until
from .test_trino_frontend import connect

UNSUPPORTED = "SELECT array_sort(ARRAY[3, 1, 2], (a, b) -> IF(a < b, 1, -1))"


def run(proxy, sql: str, **connect_args):
    cur = connect(proxy, **connect_args).cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    return rows, record_of(proxy, cur.query_id)


def test_same_dialect_is_not_parsed():
    translator = Translator()
    outcome = translator.translate("SELEC garbage", "duckdb", "duckdb")
    assert outcome.sql == "SELEC garbage" and not outcome.translated
    assert translator.stats()["cacheMisses"] == 0


def test_cache_hits_and_stats():
    translator = Translator(cache_size=2)
    first = translator.translate("SELECT approx_distinct(x) FROM t", "trino", "duckdb")
    again = translator.translate("SELECT approx_distinct(x) FROM t", "trino", "duckdb")
    assert first.sql == again.sql == 'SELECT APPROX_COUNT_DISTINCT(x) AS "_col0" FROM t'
    assert (first.cached, again.cached) == (False, True)
    for sql in ("SELECT 1", "SELECT 2"):  # evicts the oldest entry (cache of 2)
        translator.translate(sql, "trino", "duckdb")
    assert not translator.translate("SELECT approx_distinct(x) FROM t", "trino", "duckdb").cached
    stats = translator.stats()
    assert stats["cacheHits"] == 1 and stats["cacheMisses"] == 4
    assert stats["translatedTotal"] == {"trino->duckdb": 5}


def test_record_keeps_the_translation(proxy):
    rows, record = run(proxy, "SELECT approx_distinct(x) AS n FROM (VALUES 1, 2, 2) AS t(x)")
    assert rows == [[2]]
    assert (record.source_dialect, record.target_dialect) == ("trino", "duckdb")
    assert record.translated and "APPROX_COUNT_DISTINCT" in record.translated_sql
    assert record.translation_ms > 0 and record.translation_note is None


def test_unsupported_passes_with_a_warning_by_default(proxy):
    rows, record = run(proxy, UNSUPPORTED)
    assert len(rows) == 1  # sqlglot's best effort ran (its comparator dropped)
    assert record.translated and "comparator" in record.translation_note


def test_error_on_unsupported_fails_with_sqlglots_reason(make_proxy):
    config = {**duckdb_config(), "translation": {"errorOnUnsupported": True}}
    with make_proxy(config) as proxy:
        cur = connect(proxy).cursor()
        with pytest.raises(TrinoQueryError) as failure:
            cur.execute(UNSUPPORTED)
        assert failure.value.error_name == "NOT_SUPPORTED"
        assert "cannot translate from trino to duckdb" in failure.value.message
        assert "comparator" in failure.value.message


def test_unparseable_sql_reaches_the_engine_as_sent(proxy):
    cur = connect(proxy).cursor()
    with pytest.raises(TrinoQueryError) as failure:
        cur.execute("SELECT FROM WHERE")
    assert failure.value.error_name == "SYNTAX_ERROR"  # DuckDB's own parser answered
    record = proxy.call(proxy.server.dispatcher.history.get, failure.value.query_id)
    assert not record.translated and "cannot parse" in record.translation_note


def test_a_broken_translator_never_fails_a_query(monkeypatch):
    def explode(tree, source, target):
        raise RuntimeError("translator bug")

    monkeypatch.setattr(translate_module, "fix_tree", explode)
    outcome = Translator().translate("SELECT 1", "trino", "duckdb")
    assert outcome.sql == "SELECT 1" and not outcome.translated
    assert "translator bug" in outcome.note
    with pytest.raises(QueryError) as failure:
        Translator(error_on_unsupported=True).translate("SELECT 1", "trino", "duckdb")
    assert failure.value.code is ErrorCode.NOT_SUPPORTED


def test_missing_sqlglot_passes_sql_through(monkeypatch):
    monkeypatch.setattr(translate_module, "sqlglot", None)
    outcome = Translator().translate("SELECT approx_distinct(x) FROM t", "trino", "duckdb")
    assert outcome.sql == "SELECT approx_distinct(x) FROM t" and not outcome.translated
    assert "sqlglot is not installed" in outcome.note


def test_python_hooks_run_after_sqlglot(make_proxy):
    hook = (
        "def transform(sql, src, dst):\n    return sql.replace('FROM legacy_name', 'FROM whoami')\n"
    )
    config = {**duckdb_config(), "translation": {"pythonScripts": [{"script": hook}]}}
    with make_proxy(config) as proxy:
        proxy.server.clusters["duck"].engine.run_sync("CREATE TABLE whoami AS SELECT 'duck' AS n")
        rows, record = run(proxy, "SELECT n FROM legacy_name")
        assert rows == [["duck"]] and "FROM whoami" in record.translated_sql


def test_schema_aware_translation_qualifies_and_types(make_proxy):
    config = duckdb_config(schemaAwareTranslation=True)
    config["translation"] = {"schemaTtlSecs": 0.1}
    with make_proxy(config) as proxy:
        engine = proxy.server.clusters["duck"].engine
        engine.run_sync("CREATE TABLE nums AS SELECT 5 AS a, 2 AS b")
        cache = proxy.server.clusters["duck"].schema_cache
        wait_until(lambda: (ctx := cache.context()) and "nums" in str(ctx.schema.mapping))
        rows, record = run(proxy, "SELECT a / b, a FROM nums")
        assert rows == [[2, 5]]  # Trino: integer / integer is integer division
        assert '"memory"."main"."nums"' in record.translated_sql
        cur = connect(proxy).cursor()
        cur.execute("SELECT a / b, a FROM nums ORDER BY a / b")
        assert [c[0] for c in cur.description] == ["_col0", "a"]
        rows, record = run(proxy, "SELECT 1 AS one FROM (VALUES 1) AS t(x) WHERE 1 = 1")
        assert rows == [[1]]
        with pytest.raises(TrinoQueryError) as failure:
            run(proxy, "SELECT missing_column FROM nums")
        assert "missing_column" in failure.value.message  # DuckDB's own error
        failed = record_of(proxy, failure.value.query_id)
        assert "schema-aware translation skipped" in failed.translation_note


def test_translate_command():
    def translate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qflux.cli", "translate", *args], capture_output=True, text=True
        )

    ok = translate("--from", "trino", "--to", "duckdb", "SELECT approx_distinct(x) AS n FROM t")
    assert ok.returncode == 0 and ok.stdout.strip() == "SELECT APPROX_COUNT_DISTINCT(x) AS n FROM t"
    unsupported = translate("--from", "trino", "--to", "duckdb", UNSUPPORTED)
    assert unsupported.returncode == 1 and "comparator" in unsupported.stderr
    unknown = translate("--from", "trino", "--to", "nosuch", "SELECT 1")
    assert unknown.returncode == 2 and "unknown dialect 'nosuch'" in unknown.stderr


def test_unnamed_columns_are_named_as_trino_names_them(proxy):
    translated = Translator().translate("SELECT 1 + 1, a, t.b, 2 AS y FROM t", "trino", "duckdb")
    assert translated.sql == 'SELECT 1 + 1 AS "_col0", a, t.b, 2 AS y FROM t'
    cur = connect(proxy).cursor()
    cur.execute("SELECT 40 + 2, 'x' AS named ORDER BY 1")
    assert cur.fetchall() == [[42, "x"]]
    assert [column[0] for column in cur.description] == ["_col0", "named"]
