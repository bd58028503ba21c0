"""Recognise a client's catalog query and rewrite it for the emulated catalog.

A catalog query reads `pg_catalog` or `information_schema` relations, or calls the
system functions and `::regclass`-style casts tools use, and reads no table of the
engine's own. It is rewritten with sqlglot from PostgreSQL's SQL to DuckDB's over the
tables of `pg_catalog_db`:

- relations move to the `pgcat`/`infoschema` schemas; the session's own views
  (`pg_roles`, `pg_settings`, `pg_stat_activity` ...) become inline rows;
- the session's facts (`current_user`, `current_setting('x')`, `version()` ...) become
  literals, and other system functions calls to the catalog's macros;
- reg* casts become lookups, `OPERATOR(pg_catalog.~)` a regex match, array literals
  (`'{a,b}'`) arrays, and `COLLATE pg_catalog.default` goes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import attrs
import sqlglot
from sqlglot import exp

from qflux.core import ErrorCode, QueryError
from qflux.frontends.pg_catalog_data import (
    BOOTSTRAP_ROLE,
    INFORMATION_SCHEMA,
    PG_CATALOG,
    PG_SESSION_VIEWS,
)
from qflux.frontends.pg_catalog_db import (
    CATALOG_SCHEMA,
    INFO_SCHEMA,
    MACROS,
    CatalogDatabase,
    columns,
)
from qflux.frontends.pg_types import Oid, decode_parameter

#: Array casts to types sqlglot cannot parse as array element types (`$1::oid[]`).
_ARRAY_CASTS = re.compile(
    r'::\s*(?:pg_catalog\s*\.\s*)?("char"|oid|regtype|regclass|regproc|regnamespace|regrole|name)'
    r"\s*\[\s*\]",
    re.I,
)
#: Cheap test before parsing: a query without any of these is never a catalog query.
#: Plain substrings of the lower-cased text, as a case-blind pattern of alternatives
#: costs more than the rest of a point query's trip through the frontend.
_HINT_TEXT = (
    "pg_", "information_schema", "current_", "session_user", "to_reg", "format_type",
    "obj_description", "col_description", "_privilege",
)  # fmt: skip
_HINT_PATTERN = re.compile(r"::\s*reg|version\s*\(")  # on the lower-cased text
_SCHEMAS = {"pg_catalog": CATALOG_SCHEMA, "information_schema": INFO_SCHEMA}
_PG_RELATIONS = frozenset(PG_CATALOG) | frozenset(PG_SESSION_VIEWS)
_SESSION_CLASSES: dict[type[exp.Expr], str] = {
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentSchema: "current_schema",
    exp.CurrentDatabase: "current_database",
    exp.CurrentCatalog: "current_database",
    exp.CurrentVersion: "version",
    exp.CurrentSchemas: "current_schemas",
}
_SESSION_NAMES = frozenset(
    {
        "current_role",
        "current_setting",
        "set_config",
        "pg_backend_pid",
        "pg_get_userbyid",
        "pg_postmaster_start_time",
        "pg_conf_load_time",
        "inet_server_addr",
        "inet_server_port",
        "inet_client_addr",
        "inet_client_port",
        *_SESSION_CLASSES.values(),
    }
)
#: PostgreSQL functions DuckDB has under another name.
_RENAMED = {"json_build_object": "json_object", "jsonb_build_object": "json_object"}
_REG_TYPES = frozenset(
    {"regclass", "regtype", "regnamespace", "regproc", "regprocedure", "regrole", "regoper"}
)
_OPERATORS: dict[str, Any] = {
    "~": lambda a, b: exp.RegexpLike(this=a, expression=b),
    "!~": lambda a, b: exp.not_(exp.RegexpLike(this=a, expression=b), copy=False),
    "~*": lambda a, b: exp.RegexpILike(this=a, expression=b),
    "!~*": lambda a, b: exp.not_(exp.RegexpILike(this=a, expression=b), copy=False),
    "~~": lambda a, b: exp.Like(this=a, expression=b),
    "!~~": lambda a, b: exp.not_(exp.Like(this=a, expression=b), copy=False),
    "=": lambda a, b: exp.EQ(this=a, expression=b),
    "<>": lambda a, b: exp.NEQ(this=a, expression=b),
    "<": lambda a, b: exp.LT(this=a, expression=b),
    ">": lambda a, b: exp.GT(this=a, expression=b),
    "<=": lambda a, b: exp.LTE(this=a, expression=b),
    ">=": lambda a, b: exp.GTE(this=a, expression=b),
}


@attrs.frozen
class SessionFacts:
    """What a catalog answer may say about the client's session."""

    user: str
    settings: Mapping[str, str]  # lower-cased names: session parameters and server facts
    process_id: int
    version: str
    started_at: dt.datetime
    connected_at: dt.datetime
    sql: str = ""


def normalize(sql: str) -> str:
    """PostgreSQL text sqlglot can parse: `::oid[]` as `::bigint[]`, `::name[]` as text."""

    def replace(match: re.Match[str]) -> str:
        return "::bigint[]" if match.group(1).lower() == "oid" else "::text[]"

    return _ARRAY_CASTS.sub(replace, sql)


def parse(sql: str) -> exp.Expr | None:
    """The statement's tree in PostgreSQL's dialect, or None if sqlglot cannot read it."""
    try:
        return sqlglot.parse_one(normalize(sql), read="postgres")
    except Exception:
        return None


def catalog_tree(sql: str) -> exp.Expr | None:
    """The parsed statement if it is a catalog query, else None."""
    if not _hinted(sql):
        return None
    tree = parse(sql)
    if tree is None or not isinstance(tree, exp.Query):
        return None
    return tree if _is_catalog_query(tree) else None


def _hinted(sql: str) -> bool:
    text = sql.lower()
    if any(map(text.__contains__, _HINT_TEXT)):
        return True
    return ("::" in text or "version" in text) and _HINT_PATTERN.search(text) is not None


def _is_catalog_query(tree: exp.Expr) -> bool:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    reads_catalog = False
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            continue  # a table function: generate_series, pg_get_keywords ...
        schema, name = table.db.lower(), table.name.lower()
        if schema in ("pg_catalog", "information_schema") or (
            not schema and name in _PG_RELATIONS and name not in ctes
        ):
            reads_catalog = True
        elif schema or name not in ctes:
            return False  # an engine table: the engine answers
    return reads_catalog or any(_is_system_call(node) for node in tree.walk())


def _is_system_call(node: exp.Expr) -> bool:
    if type(node) in _SESSION_CLASSES:
        return True
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in MACROS or node.name.lower() in _SESSION_NAMES
    if isinstance(node, exp.Cast):
        return _type_name(node.to) in _REG_TYPES
    return isinstance(node, exp.Dot) and node.this.name.lower() == "pg_catalog"


# -- the rewrite ---------------------------------------------------------------------


def rewrite(tree: exp.Expr, facts: SessionFacts, db: CatalogDatabase) -> str:
    """DuckDB SQL answering `tree` from the emulated catalog `db`."""
    tree = tree.copy()
    names = _output_names(tree)
    for dot in list(tree.find_all(exp.Dot)):  # pg_catalog.fn(...) -> fn(...)
        if dot.this.name.lower() == "pg_catalog" and isinstance(dot.expression, exp.Func):
            dot.replace(dot.expression)
    for data_type in list(tree.find_all(exp.DataType)):  # pg_catalog.int2 -> int2
        kind = data_type.args.get("kind")
        if data_type.this == exp.DataType.Type.USERDEFINED and isinstance(kind, exp.Dot):
            _unqualify_type(data_type, kind.expression.name)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        _relation(table, ctes, facts, db)
    for column in tree.find_all(exp.Column):  # pg_catalog.pg_class.relname
        schema = _SCHEMAS.get(column.db.lower())
        if schema is not None:
            column.set("catalog", None)
            column.set("db", exp.to_identifier(schema))
    for node in list(tree.walk()):
        if node.parent is None and node is not tree:
            continue  # replaced together with an ancestor
        replacement = _rewrite_node(node, facts, db)
        if replacement is not None and replacement is not node:
            node.replace(replacement)
    if names is not None:
        _name_outputs(tree, names)
    return tree.sql(dialect="duckdb")


def _relation(table: exp.Table, ctes: set[str], facts: SessionFacts, db: CatalogDatabase) -> None:
    schema, name = table.db.lower(), table.name.lower()
    if isinstance(table.this, exp.Func):  # a catalog macro's name is qualified later
        table.set("catalog", None)
        table.set("db", None)
        return
    if schema == "information_schema":
        if name not in INFORMATION_SCHEMA:
            raise _undefined(f"information_schema.{name}")
        _move(table, INFO_SCHEMA)
    elif schema == "pg_catalog" or (not schema and name in _PG_RELATIONS and name not in ctes):
        if name in PG_SESSION_VIEWS:
            alias = table.alias or name
            table.replace(_session_view(name, facts, db, alias))
        elif name in PG_CATALOG:
            _move(table, CATALOG_SCHEMA)
        else:
            raise _undefined(f"pg_catalog.{name}")


def _move(table: exp.Table, schema: str) -> None:
    table.set("catalog", None)
    table.set("db", exp.to_identifier(schema))
    table.set("this", exp.to_identifier(table.name.lower()))


def _undefined(name: str) -> QueryError:
    return QueryError(ErrorCode.NOT_FOUND, f'relation "{name}" does not exist')


def _rewrite_node(node: exp.Expr, facts: SessionFacts, db: CatalogDatabase) -> exp.Expr | None:
    if type(node) in _SESSION_CLASSES:
        return _session_value(_SESSION_CLASSES[type(node)], node, facts, db)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name in _SESSION_NAMES:
            return _session_value(name, node, facts, db)
        if name in _RENAMED:
            return exp.Anonymous(this=_RENAMED[name], expressions=node.expressions)
        if name in MACROS:
            return exp.Dot(
                this=exp.to_identifier(CATALOG_SCHEMA),
                expression=exp.Anonymous(this=name, expressions=node.expressions),
            )
        return None
    if isinstance(node, exp.Cast):
        return _cast(node, facts)
    if isinstance(node, exp.Format) and isinstance(node.this, exp.Literal):
        # format('%I.%I', ...): PostgreSQL's placeholders as printf's
        pattern = node.this.name.replace("%I", "%s").replace("%L", "'%s'")
        return exp.Anonymous(
            this="printf", expressions=[exp.Literal.string(pattern), *node.expressions]
        )
    if isinstance(node, exp.Operator):
        operator = str(node.args.get("operator", "")).removeprefix("pg_catalog.").strip()
        build = _OPERATORS.get(operator)
        if build is None:
            raise QueryError(ErrorCode.NOT_SUPPORTED, f"operator {operator} is not supported")
        return build(node.this, node.expression)
    if isinstance(node, exp.Collate):
        return node.this  # every text compares in one collation here
    if isinstance(node, exp.EQ | exp.NEQ):
        for side in ("this", "expression"):
            value = node.args.get(side)
            if isinstance(value, exp.Literal) and value.is_string and _is_array_text(value.name):
                node.set(side, _array(value.name))
    return None


def _session_value(name: str, node: exp.Expr, facts: SessionFacts, db: CatalogDatabase) -> exp.Expr:
    args = node.expressions if isinstance(node, exp.Anonymous) else []
    if name in ("current_user", "session_user", "current_role", "pg_get_userbyid"):
        return exp.Literal.string(facts.user)
    if name == "current_schema":
        return exp.Literal.string(db.schema)
    if name == "current_database":
        return exp.Literal.string(db.database)
    if name == "version":
        return exp.Literal.string(facts.version)
    if name == "current_schemas":
        implicit = node.this if isinstance(node, exp.CurrentSchemas) else None
        schemas = [db.schema]
        if implicit is not None and implicit.sql().upper() != "FALSE":
            schemas.insert(0, "pg_catalog")
        return exp.Array(expressions=[exp.Literal.string(s) for s in schemas])
    if name == "current_setting":
        return _setting(args, facts)
    if name == "set_config":
        return args[1] if len(args) > 1 else exp.Null()
    if name == "pg_backend_pid":
        return exp.Literal.number(facts.process_id)
    if name in ("pg_postmaster_start_time", "pg_conf_load_time"):
        return exp.cast(exp.Literal.string(facts.started_at.isoformat()), "TIMESTAMPTZ")
    return exp.Null()  # inet_server_addr() and friends: not over TCP to a real server


def _setting(args: list[exp.Expr], facts: SessionFacts) -> exp.Expr:
    if not args or not isinstance(args[0], exp.Literal):
        raise QueryError(ErrorCode.NOT_SUPPORTED, "current_setting() needs a literal name")
    value = facts.settings.get(args[0].name.lower())
    if value is not None:
        return exp.Literal.string(value)
    missing_ok = len(args) > 1 and args[1].sql().upper() == "TRUE"
    if missing_ok:
        return exp.cast(exp.Null(), "VARCHAR")
    raise QueryError(
        ErrorCode.INVALID_ARGUMENT, f'unrecognized configuration parameter "{args[0].name}"'
    )


def _cast(cast: exp.Cast, facts: SessionFacts) -> exp.Expr | None:
    target = _type_name(cast.to)
    value = cast.this
    literal = value.name if isinstance(value, exp.Literal) and value.is_string else None

    def macro(name: str, *args: exp.Expr) -> exp.Expr:
        return exp.Dot(
            this=exp.to_identifier(CATALOG_SCHEMA),
            expression=exp.Anonymous(this=name, expressions=list(args)),
        )

    if target == "regclass":
        if literal is not None or _is_text(value):
            return macro("to_regclass", value)
        return macro("regclass_text", value)
    if target == "regtype":
        if literal is not None:
            return macro("to_regtype", value)
        return macro("format_type", value, exp.Null())
    if target == "regnamespace":
        if literal is not None:
            return macro("to_regnamespace", value)
        return macro("regnamespace_text", value)
    if target in ("regproc", "regprocedure"):
        if literal is not None:
            return exp.Literal.string(literal.removeprefix("pg_catalog."))
        return exp.cast(value, "VARCHAR", copy=False)
    if target == "regrole":
        if literal is not None:
            return exp.Literal.number(BOOTSTRAP_ROLE)
        return exp.Literal.string(facts.user)
    if target in ("oid", "xid", "cid", "regoper"):
        return exp.cast(value, "BIGINT", copy=False)
    if target in ("name", "char", "bpchar"):
        return exp.cast(value, "VARCHAR", copy=False)
    if (
        isinstance(cast.to, exp.DataType)
        and cast.to.is_type(exp.DataType.Type.ARRAY)
        and literal is not None
        and _is_array_text(literal)
    ):
        cast.set("this", _array(literal))
    return None


def _is_text(node: exp.Expr) -> bool:
    """Whether a value is a name (text) rather than an oid, as far as its form shows."""
    if isinstance(node, exp.Cast):
        return _type_name(node.to) in ("text", "varchar", "name")
    return isinstance(node, exp.DPipe | exp.Concat | exp.Format)


def _unqualify_type(data_type: exp.DataType, name: str) -> None:
    if name.lower() in _REG_TYPES:
        data_type.set("kind", exp.to_identifier(name.lower()))
        return
    try:
        data_type.replace(exp.DataType.build(name, dialect="postgres"))
    except Exception:
        data_type.set("kind", exp.to_identifier(name))


def _type_name(to: exp.Expr | None) -> str:
    if isinstance(to, exp.ObjectIdentifier):
        return to.name.lower()
    if isinstance(to, exp.DataType):
        if to.this == exp.DataType.Type.USERDEFINED:
            kind = to.args.get("kind")
            if isinstance(kind, exp.Dot):
                return kind.expression.name.lower()
            return kind.name.lower() if isinstance(kind, exp.Expr) else ""
        return to.this.value.lower()
    return ""


def _is_array_text(text: str) -> bool:
    return text.startswith("{") and text.endswith("}")


def _array(text: str) -> exp.Expr:
    try:
        return decode_parameter(Oid.TEXT_ARRAY, 0, text.encode())
    except ValueError as exc:
        raise QueryError(ErrorCode.INVALID_ARGUMENT, f"malformed array literal: {exc}") from exc


# -- the session's own views -----------------------------------------------------------


def _session_view(name: str, facts: SessionFacts, db: CatalogDatabase, alias: str) -> exp.Expr:
    cols = columns(PG_SESSION_VIEWS[name])
    rows = _session_rows(name, facts, db)
    selects = [
        "SELECT "
        + ", ".join(
            f"CAST({_literal(row.get(c.name, c.default()))} AS {c.duckdb_type}) AS {c.name}"
            for c in cols
        )
        for row in rows or [{}]
    ]
    sql = " UNION ALL ".join(selects) + ("" if rows else " WHERE false")
    return exp.Subquery(
        this=sqlglot.parse_one(sql, read="duckdb"),
        alias=exp.TableAlias(this=exp.to_identifier(alias)),
    )


def _session_rows(name: str, facts: SessionFacts, db: CatalogDatabase) -> list[dict[str, Any]]:
    role = {
        "oid": BOOTSTRAP_ROLE,
        "rolname": facts.user,
        "rolconnlimit": -1,
        "rolpassword": "********",
        **dict.fromkeys(
            ("rolsuper", "rolinherit", "rolcreaterole", "rolcreatedb", "rolcanlogin"), True
        ),
    }
    if name in ("pg_roles", "pg_authid"):
        return [role]
    if name == "pg_user":
        return [
            {
                "usename": facts.user,
                "usesysid": BOOTSTRAP_ROLE,
                "usecreatedb": True,
                "usesuper": True,
                "passwd": "********",
            }
        ]
    if name == "pg_settings":
        return [
            {
                "name": setting,
                "setting": value,
                "context": "user",
                "vartype": "string",
                "source": "session",
                "boot_val": value,
                "reset_val": value,
            }
            for setting, value in sorted(facts.settings.items())
        ]
    return [
        {
            "datname": db.database,
            "pid": facts.process_id,
            "usesysid": BOOTSTRAP_ROLE,
            "usename": facts.user,
            "application_name": facts.settings.get("application_name", ""),
            "backend_start": facts.connected_at,
            "query_start": dt.datetime.now(dt.UTC),
            "state": "active",
            "query": facts.sql,
            "backend_type": "client backend",
        }
    ]


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return _literal(value.isoformat())
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


# -- result column names -------------------------------------------------------------------


def _output_names(tree: exp.Expr) -> list[str | None] | None:
    """The names PostgreSQL gives the outer select's columns, where DuckDB's differ."""
    select = tree if isinstance(tree, exp.Select) else None
    if isinstance(tree, exp.SetOperation):
        left = tree.this
        while isinstance(left, exp.SetOperation):
            left = left.this
        select = left if isinstance(left, exp.Select) else None
    if select is None or any(isinstance(e, exp.Star) for e in select.expressions):
        return None
    return [_pg_name(e) for e in select.expressions]


def _pg_name(expression: exp.Expr) -> str | None:
    """None when the column keeps the name it has (an alias or a plain column)."""
    node = expression
    if isinstance(node, exp.Alias | exp.Column):
        return None
    while isinstance(node, exp.Cast):
        node = node.this
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        node = node.expression
    if isinstance(node, exp.Column):
        return node.name
    if type(node) in _SESSION_CLASSES:
        return _SESSION_CLASSES[type(node)]
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return "?column?"


def _name_outputs(tree: exp.Expr, names: list[str | None]) -> None:
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select) or len(select.expressions) != len(names):
        return
    for node, name in zip(list(select.expressions), names, strict=True):
        if name is not None:
            node.replace(exp.alias_(node, name, quoted=True, copy=False))
