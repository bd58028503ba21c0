"""SQL dialect translation with sqlglot: correct, cached, observable, never fatal by surprise.

The source dialect comes from the client's protocol, the target from the engine. Same
dialect: the SQL is not even parsed. Otherwise sqlglot parses, qflux's own fix-ups run
on the tree (`qflux.dialect_fixes`), sqlglot writes the target dialect, and the
operator's `translation.pythonScripts` hooks get the last word. Outcomes are cached by
(sql, source, target[, schema version]) so a repeated query costs a dict lookup, and
by statement shape with its values lifted out (`qflux.translate_templates`) so the same
query with new values costs a tokenization.

Failure policy: SQL sqlglot cannot parse passes through untouched (the engine then
reports its own error). A construct sqlglot cannot express in the target fails the
query with sqlglot's reason when `errorOnUnsupported` is set, else goes out as
sqlglot's best effort with a warning. If sqlglot itself breaks (or is missing), the SQL
passes through and the record says why; only `errorOnUnsupported` turns that into an
error.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import structlog

from qflux.core import EngineType, ErrorCode, FrontendProtocol, QueryError
from qflux.schema_cache import SchemaContext
from qflux.translate_templates import Template, make_template, shape_of

try:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    sqlglot = None  # type: ignore[assignment]

log = structlog.get_logger("qflux.translate")

PROTOCOL_DIALECTS: dict[FrontendProtocol, str] = {
    FrontendProtocol.TRINO_HTTP: "trino",
    FrontendProtocol.POSTGRES_WIRE: "postgres",
    FrontendProtocol.MYSQL_WIRE: "mysql",
    FrontendProtocol.CLICKHOUSE_HTTP: "clickhouse",
    FrontendProtocol.FLIGHT_SQL: "trino",  # configurable: translation.flightSqlDialect
}

ENGINE_DIALECTS: dict[EngineType, str] = {
    EngineType.TRINO: "trino",
    EngineType.DUCKDB: "duckdb",
    EngineType.STARROCKS: "starrocks",
    EngineType.CLICKHOUSE: "clickhouse",
    EngineType.POSTGRES: "postgres",
    EngineType.ATHENA: "athena",
}

#: A user hook: transform(sql, source_dialect, target_dialect) -> sql.
Hook = Callable[[str, str, str], str]


@attrs.frozen
class Translation:
    """The outcome for one query, as kept in its record."""

    sql: str
    source: str
    target: str
    translated: bool
    ms: float = 0.0
    cached: bool = False
    note: str | None = None  # why it was not translated, or sqlglot's warnings


class Translator:
    def __init__(
        self,
        *,
        error_on_unsupported: bool = False,
        cache_size: int = 10_000,
        hooks: Sequence[Hook] = (),
        flight_sql_dialect: str = "trino",
    ) -> None:
        self.error_on_unsupported = error_on_unsupported
        self.cache_size = cache_size
        self.hooks = list(hooks)
        self._dialects = {**PROTOCOL_DIALECTS, FrontendProtocol.FLIGHT_SQL: flight_sql_dialect}
        self._cache: OrderedDict[tuple[Any, ...], Translation | QueryError] = OrderedDict()
        # A shape's template and note; None for a shape whose template did not prove
        # faithful, so its statements are not probed again.
        self._templates: OrderedDict[tuple[Any, ...], tuple[Template, str | None] | None] = (
            OrderedDict()
        )
        self.template_hits = 0
        self.translated_total: Counter[tuple[str, str]] = Counter()
        self.cache_hits = 0
        self.cache_misses = 0
        self.seconds_total = 0.0

    def source_dialect(self, protocol: FrontendProtocol) -> str:
        return self._dialects[protocol]

    def translate(
        self,
        sql: str,
        source: str,
        target: str,
        schema: SchemaContext | None = None,
    ) -> Translation:
        """Translate `sql` from `source` to `target` (sqlglot dialect names)."""
        if source == target and not self.hooks:
            return Translation(sql, source, target, translated=False)
        started = time.perf_counter()
        key = (sql, source, target, schema.cache_key() if schema is not None else None)
        cached = self._cache.get(key)
        hit = cached is not None
        if cached is not None:
            self._cache.move_to_end(key)
            self.cache_hits += 1
            outcome = cached
        else:
            self.cache_misses += 1
            outcome = self._translate_shape(sql, source, target, schema, key[3])
            if self.cache_size:
                self._remember(self._cache, key, outcome)
        elapsed = time.perf_counter() - started
        self.seconds_total += elapsed
        if isinstance(outcome, QueryError):
            raise outcome
        if outcome.translated:
            self.translated_total[(source, target)] += 1
        return attrs.evolve(outcome, ms=elapsed * 1000, cached=hit)

    def _translate_shape(
        self,
        sql: str,
        source: str,
        target: str,
        schema: SchemaContext | None,
        schema_key: Any,
    ) -> Translation | QueryError:
        """Through the statement's shape template when there is one; else translated,
        and a template made for the shape if it proves faithful."""
        shape = shape_of(sql, source) if self.cache_size and not self.hooks else None
        if shape is None:
            return self._translate(sql, source, target, schema)
        key = (shape.key, source, target, schema_key)
        if key in self._templates:
            self._templates.move_to_end(key)
            known = self._templates[key]
            if known is not None:
                self.template_hits += 1
                template, note = known
                return Translation(template.fill(shape.literals), source, target, True, note=note)
            return self._translate(sql, source, target, schema)
        outcome = self._translate(sql, source, target, schema)
        known = None
        if isinstance(outcome, Translation) and outcome.translated:
            probe = self._translate(shape.sentinel_sql, source, target, schema)
            if isinstance(probe, Translation) and probe.note == outcome.note:
                made = make_template(shape, probe.sql, outcome.sql)
                known = None if made is None else (made, outcome.note)
        self._remember(self._templates, key, known)
        return outcome

    def _remember(self, cache: OrderedDict[tuple[Any, ...], Any], key: Any, value: Any) -> None:
        cache[key] = value
        if len(cache) > self.cache_size:
            cache.popitem(last=False)

    def _translate(
        self, sql: str, source: str, target: str, schema: SchemaContext | None
    ) -> Translation | QueryError:
        text, note = sql, None
        translated = False
        if source != target:
            try:
                text, note = self._sqlglot(sql, source, target, schema)
                translated = True
            except QueryError as exc:
                return exc
            except ParseError as exc:
                note = f"not translated: sqlglot cannot parse it ({_first_line(exc)})"
            except Exception as exc:  # sqlglot broke: the engine gets the SQL as sent
                if self.error_on_unsupported:
                    return QueryError(ErrorCode.NOT_SUPPORTED, f"translation failed: {exc!r}")
                log.warning("translation failed; passing the SQL through", error=repr(exc))
                note = f"not translated: translator error {exc!r}"
        for hook in self.hooks:
            try:
                text = hook(text, source, target)
            except Exception as exc:
                log.warning("translation hook failed; skipped", error=repr(exc))
                note = f"{note + '; ' if note else ''}hook failed: {exc!r}"
        return Translation(text, source, target, translated, note=note)

    def _sqlglot(
        self, sql: str, source: str, target: str, schema: SchemaContext | None
    ) -> tuple[str, str | None]:
        if sqlglot is None:
            raise RuntimeError("sqlglot is not installed")
        trees = [tree for tree in sqlglot.parse(sql, read=source) if tree is not None]
        if source == "trino":
            trees = [trino_column_names(tree) for tree in trees]
        note = None
        if schema is not None:
            trees, note = _with_schema(trees, source, schema)
        trees = [fix_tree(tree, source, target) for tree in trees]
        level = ErrorLevel.RAISE if self.error_on_unsupported else ErrorLevel.WARN
        warnings: list[str] = []
        out = []
        for tree in trees:
            try:
                out.append(tree.sql(dialect=target, unsupported_level=ErrorLevel.RAISE))
            except UnsupportedError as exc:
                if level is ErrorLevel.RAISE:
                    raise QueryError(
                        ErrorCode.NOT_SUPPORTED,
                        f"cannot translate from {source} to {target}: {_first_line(exc)}",
                    ) from exc
                warnings.append(_first_line(exc))
                out.append(tree.sql(dialect=target, unsupported_level=ErrorLevel.IGNORE))
        if warnings:
            note = "; ".join([*([note] if note else []), *warnings])
            log.warning("translated with unsupported constructs", warnings=warnings)
        return ";\n".join(out), note

    def stats(self) -> dict[str, Any]:
        lookups = self.cache_hits + self.cache_misses
        return {
            "translatedTotal": {f"{s}->{t}": n for (s, t), n in self.translated_total.items()},
            "cacheHits": self.cache_hits,
            "cacheMisses": self.cache_misses,
            "cacheHitRate": self.cache_hits / lookups if lookups else None,
            "cacheEntries": len(self._cache),
            "templateHits": self.template_hits,
            "templateEntries": sum(known is not None for known in self._templates.values()),
            "secondsTotal": self.seconds_total,
        }


def load_hooks(scripts: Sequence[Any]) -> list[Hook]:
    """The `transform(sql, src, dst)` functions of `translation.pythonScripts`, in order."""
    hooks: list[Hook] = []
    for index, script in enumerate(scripts):
        namespace: dict[str, Any] = {"__name__": f"qflux_translation_script_{index}"}
        filename = script.script_file or f"<translation.pythonScripts[{index}]>"
        exec(compile(script.script, filename, "exec"), namespace)  # the operator's own code
        hooks.append(namespace["transform"])
    return hooks


def _with_schema(
    trees: list[Any], dialect: str, context: SchemaContext
) -> tuple[list[Any], str | None]:
    """Qualify and type the trees against the engine's schema; on any failure keep them."""
    try:
        return [_qualified(tree, dialect, context) for tree in trees], None
    except Exception as exc:  # unknown table, ambiguous column...: dialect-only
        return trees, f"schema-aware translation skipped: {_first_line(exc)}"


def _qualified(tree: Any, dialect: str, context: SchemaContext) -> Any:
    tree = qualify(
        tree.copy(), dialect=dialect, schema=context.schema, catalog=context.catalog, db=context.db
    )
    return annotate_types(tree, schema=context.schema)


def trino_column_names(tree: Any) -> Any:
    """Name unnamed result columns as Trino does (`_col0`, `_col1`, ...).

    Engines name `SELECT 1 + 1` after its text; a Trino client expects `_col0`. Only the
    outermost select list is named, before anything else reads the tree, so ORDER BY
    and qualification see the same names.
    """
    select = tree if isinstance(tree, exp.Select) else None
    if select is None:
        return tree
    for index, projection in enumerate(select.expressions):
        if not isinstance(projection, exp.Alias | exp.Column | exp.Star | exp.Dot):
            projection.replace(exp.alias_(projection.copy(), f"_col{index}", quoted=True))
    return tree


def fix_tree(tree: Any, source: str, target: str) -> Any:
    """qflux's corrections to sqlglot for a (source, target) pair, applied to the tree."""
    from qflux.dialect_fixes import apply

    return apply(tree, source, target)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
