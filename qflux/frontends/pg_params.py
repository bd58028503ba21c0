"""`$n` parameters of the extended protocol: how many, what type, and binding values.

PostgreSQL infers an undeclared parameter's type from where it stands, and typed
drivers (asyncpg, pgjdbc) encode values by the type Describe reports, so reporting
everything as text would make `WHERE id = $1` with an integer fail in the driver. The
proxy infers the same way for the common places: a cast, a comparison, `IN`,
`BETWEEN`, arithmetic with a typed side, `LIMIT`/`OFFSET`, and the columns of an
`INSERT`. A column's type comes from the engine's catalog. What stays unknown is
described as text, which every driver can send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import exp

from qflux.core import ErrorCode, QueryError
from qflux.frontends.pg_catalog_db import pg_type_of_node
from qflux.frontends.pg_catalog_sql import normalize, parse

#: {table name: {column: type oid}} for the tables a statement may name.
ColumnTypes = Mapping[str, Mapping[str, int]]

__all__ = ["TEXT_OID", "bind_parameters", "parameter_count", "parameter_types", "parse"]

TEXT_OID = 25
_INT8 = 20
_COMPARISONS = (
    exp.EQ,
    exp.NEQ,
    exp.LT,
    exp.LTE,
    exp.GT,
    exp.GTE,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Like,
    exp.ILike,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
)


def number(node: exp.Expr) -> int | None:
    """n for a `$n` parameter node, else None."""
    literal = node.this if isinstance(node, exp.Parameter) else None
    if isinstance(literal, exp.Literal) and not literal.is_string and literal.this.isdigit():
        return int(literal.this)
    return None


def parameter_count(tree: exp.Expr | None) -> int:
    """The highest `$n` in the statement (PostgreSQL numbers its parameters)."""
    if tree is None:
        return 0
    numbers = [number(node) for node in tree.find_all(exp.Parameter)]
    return max((n for n in numbers if n is not None), default=0)


def parameter_types(tree: exp.Expr | None, columns: ColumnTypes) -> dict[int, int]:
    """Type oids for the parameters whose type the statement shows; the rest are absent."""
    if tree is None:
        return {}
    types: dict[int, int] = {}
    for parameter in tree.find_all(exp.Parameter):
        n = number(parameter)
        if n is not None and n not in types:
            oid = _infer(parameter, columns)
            if oid is not None:
                types[n] = oid
    types.update(_insert_types(tree, columns))
    return types


def tables_named(tree: exp.Expr | None) -> set[str]:
    """Lower-cased names of the tables a statement reads or writes."""
    if tree is None:
        return set()
    return {table.name.lower() for table in tree.find_all(exp.Table) if table.name}


def _infer(parameter: exp.Expr, columns: ColumnTypes) -> int | None:
    parent = parameter.parent
    if isinstance(parent, exp.Paren):
        parameter, parent = parent, parent.parent
    if isinstance(parent, exp.Cast) and isinstance(parent.to, exp.DataType):
        return pg_type_of_node(parent.to)[0]
    if isinstance(parent, _COMPARISONS):
        other = parent.expression if parent.this is parameter else parent.this
        return _type_of(other, columns)
    if isinstance(parent, exp.In) and parent.this is not parameter:
        return _type_of(parent.this, columns)
    if isinstance(parent, exp.Between) and parent.this is not parameter:
        return _type_of(parent.this, columns)
    if isinstance(parent, exp.Limit | exp.Offset | exp.Fetch):
        return _INT8
    return None


def _type_of(node: exp.Expr, columns: ColumnTypes) -> int | None:
    if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
        return pg_type_of_node(node.to)[0]
    if isinstance(node, exp.Literal):
        if node.is_string:
            return TEXT_OID
        return _INT8 if node.this.lstrip("-").isdigit() else 1700
    if isinstance(node, exp.Column):
        return _column_type(node, columns)
    return None


def _column_type(column: exp.Column, columns: ColumnTypes) -> int | None:
    name = column.name.lower()
    select = column.find_ancestor(exp.Select, exp.Update, exp.Delete)
    candidates: list[str] = []
    if select is not None:
        for table in select.find_all(exp.Table):
            if column.table and column.table.lower() not in (
                table.alias_or_name.lower(),
                table.name.lower(),
            ):
                continue
            candidates.append(table.name.lower())
    for candidate in candidates:
        oid = columns.get(candidate, {}).get(name)
        if oid is not None:
            return oid
    return None


def _insert_types(tree: exp.Expr, columns: ColumnTypes) -> dict[int, int]:
    """`INSERT INTO t (a, b) VALUES ($1, $2)`: each parameter has its column's type."""
    if not isinstance(tree, exp.Insert):
        return {}
    target = tree.this
    into = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(into, exp.Table):
        return {}
    known = columns.get(into.name.lower(), {})
    names = (
        [c.name.lower() for c in target.expressions]
        if isinstance(target, exp.Schema)
        else list(known)
    )
    values = tree.expression
    types: dict[int, int] = {}
    if isinstance(values, exp.Values):
        for row in values.expressions:
            for name, value in zip(names, row.expressions, strict=False):
                n = number(value)
                if n is not None and name in known:
                    types.setdefault(n, known[name])
    return types


def bind_parameters(sql: str, values: Sequence[exp.Expr], parsed: exp.Expr | None = None) -> str:
    """Put parameter values into the statement's tree in place of `$n`, never as text.

    `parsed` is the statement's tree from Parse, if it has one: a prepared statement
    executed many times is parsed once, and each Bind works on a copy.
    """
    if not values:
        return sql
    if parsed is not None:
        tree = parsed.copy()
    else:
        try:
            tree = sqlglot.parse_one(normalize(sql), read="postgres")
        except sqlglot.errors.ParseError as exc:
            raise QueryError(ErrorCode.SYNTAX_ERROR, str(exc)) from exc
    for node in list(tree.find_all(exp.Parameter)):
        n = number(node)
        if n is not None:
            node.replace(values[n - 1].copy())
    return tree.sql(dialect="postgres")
