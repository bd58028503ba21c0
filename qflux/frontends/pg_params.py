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

import attrs
import sqlglot
from sqlglot import exp

from qflux.core import ErrorCode, QueryError
from qflux.dialect_fixes import bound_in_place
from qflux.frontends.pg_catalog_db import pg_type_of_node
from qflux.frontends.pg_catalog_sql import normalize, parse
from qflux.translate_templates import Shape, Template, make_template

#: {table name: {column: type oid}} for the tables a statement may name.
ColumnTypes = Mapping[str, Mapping[str, int]]

__all__ = [
    "TEXT_OID",
    "StatementBinder",
    "bind_parameters",
    "parameter_count",
    "parameter_types",
    "parse",
]

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
            node.replace(bound_in_place(node, values[n - 1].copy(), "postgres"))
    return tree.sql(dialect="postgres")


#: Operators whose operands sqlglot writes out as they are, whatever the operand.
_VALUE_OPERATORS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_SENTINEL = 1_000_000_007  # the first `$n` place's sentinel; int32, unlikely in a statement
#: Value kinds proven per statement; past this, a new kind is checked on every Bind.
_MAX_SIGNATURES = 64
#: A data type's SQL by its DType, for the types that are nothing but a DType.
_TYPE_SQL: dict[exp.DType, str] = {}

Signature = tuple[object, ...]


@attrs.define(eq=False)
class StatementBinder:
    """Binds one prepared statement's values as text once a template has proven itself.

    `bind_parameters` costs a deep copy of the tree and a full generate per Bind. The
    template is the statement generated once with a distinct sentinel in each `$n`
    place, its gaps filled per Bind with each value's own SQL. That equals the tree's
    output only where the text around a parameter cannot depend on the value: operands
    of a comparison, `IN` list elements, `BETWEEN` bounds, `LIMIT`/`OFFSET` and rows of
    `INSERT ... VALUES`. Elsewhere it may: sqlglot writes `-$1` with -5 as `- -5`,
    where text would give `--5`, a comment. A statement with a parameter anywhere else
    keeps the tree path.

    The template is built at the second Bind from the first Bind's values and result,
    so a statement bound once (most drivers' unnamed statement) costs what it did.
    Each new signature of value kinds is checked once against the tree path; a
    mismatch retires the template for good.
    """

    sql: str
    tree: exp.Expr | None
    _first: tuple[Sequence[exp.Expr], str] | None = None
    _template: Template | None = None  # gaps indexed by parameter, not by place
    _retired: bool = False
    _verified: set[Signature] = attrs.field(factory=set)

    @property
    def templated(self) -> bool:
        """Whether Binds go through the template."""
        return self._template is not None

    def bind(self, values: Sequence[exp.Expr]) -> str:
        """The statement's SQL with `values` in place of `$1`, `$2` ..."""
        if self._template is None and not self._retired and values:
            if self._first is None:
                sql = bind_parameters(self.sql, values, self.tree)
                self._first = (values, sql)
                return sql
            self._template = self._build(*self._first)
            self._first = None
            self._retired = self._template is None
        if self._template is None:
            return bind_parameters(self.sql, values, self.tree)
        texts, signature = _render_all(values)
        if signature in self._verified:
            return self._template.fill(texts)
        return self._check(values, texts, signature)

    def _build(self, values: Sequence[exp.Expr], real: str) -> Template | None:
        """The template, proven by `values` giving `real`; None where it cannot be used."""
        if self.tree is None:
            return None
        tree = self.tree.copy()
        numbers: list[int] = []
        for node in list(tree.find_all(exp.Parameter)):
            n = number(node)
            if n is None:
                continue
            if not _in_value_place(node):
                return None
            node.replace(exp.Literal.number(_SENTINEL + len(numbers)))
            numbers.append(n)
        texts, signature = _render_all(values)
        sentinel_sql = tree.sql(dialect="postgres")
        shape = Shape(
            key=self.sql,
            literals=tuple(texts[n - 1] for n in numbers),
            sentinel_sql=sentinel_sql,
            sentinels=tuple(str(_SENTINEL + i) for i in range(len(numbers))),
        )
        template = make_template(shape, sentinel_sql, real)
        if template is None:
            return None
        self._verified.add(signature)
        return Template(template.parts, tuple(numbers[place] - 1 for place in template.order))

    def _check(
        self, values: Sequence[exp.Expr], texts: tuple[str, ...], signature: Signature
    ) -> str:
        """A new kind of values: the tree path's result, and the template retired if it differs."""
        assert self._template is not None
        real = bind_parameters(self.sql, values, self.tree)
        if self._template.fill(texts) != real:
            self._template = None
            self._retired = True
        elif len(self._verified) < _MAX_SIGNATURES:
            self._verified.add(signature)
        return real


def _in_value_place(parameter: exp.Expr) -> bool:
    """Whether the text around this parameter is the same whatever its value."""
    node, parent = parameter, parameter.parent
    if type(parent) is exp.Paren:
        node, parent = parent, parent.parent
    kind, key = type(parent), node.arg_key
    if kind in _VALUE_OPERATORS:
        return key in ("this", "expression")
    if kind is exp.In:
        return key == "expressions"
    if kind is exp.Between:
        return key in ("low", "high")
    if kind is exp.Limit or kind is exp.Offset:
        return key == "expression"
    if kind is exp.Tuple and parent is not None and key == "expressions":
        values = parent.parent
        return (
            type(values) is exp.Values
            and parent.arg_key == "expressions"
            and values is not None
            and type(values.parent) is exp.Insert
        )
    return False


def _render_all(values: Sequence[exp.Expr]) -> tuple[tuple[str, ...], Signature]:
    """Each value's SQL, and the signature of their kinds."""
    rendered = [_render(value) for value in values]
    return tuple(text for text, _ in rendered), tuple(kind for _, kind in rendered)


def _render(value: exp.Expr) -> tuple[str, object]:
    """A value's SQL as sqlglot writes it, and its kind: without the generator for the
    plain literals and literal casts that decode_parameter makes of most values."""
    kind = type(value)
    if kind is exp.Literal:
        text = _literal_sql(value)
        if text is not None:
            return text, kind
    elif kind is exp.Cast:
        cast = _cast_sql(value)
        if cast is not None:
            return cast
    return value.sql(dialect="postgres"), kind


def _literal_sql(literal: exp.Expr) -> str | None:
    """PostgreSQL's standard strings: only `'` is escaped, by doubling; a backslash is
    itself."""
    text = literal.this
    if literal.comments or len(literal.args) != 2 or not isinstance(text, str):
        return None
    if literal.args.get("is_string"):
        return "'" + text.replace("'", "''") + "'"
    return text or None


def _cast_sql(cast: exp.Expr) -> tuple[str, str] | None:
    """`CAST(literal AS type)` and the type's SQL, for a cast of a literal to a plain type."""
    inner, to = cast.this, cast.args.get("to")
    if cast.comments or len(cast.args) != 2 or type(inner) is not exp.Literal:
        return None
    if not isinstance(to, exp.DataType):
        return None
    literal, type_sql = _literal_sql(inner), _type_sql(to)
    if literal is None or type_sql is None:
        return None
    return f"CAST({literal} AS {type_sql})", type_sql


def _type_sql(data_type: exp.DataType) -> str | None:
    """The type's SQL, generated once per DType; None for a type with parameters."""
    dtype = data_type.this
    if (
        data_type.comments
        or type(data_type) is not exp.DataType
        or not isinstance(dtype, exp.DType)
    ):
        return None
    if any(value for key, value in data_type.args.items() if key != "this"):
        return None
    text = _TYPE_SQL.get(dtype)
    if text is None:
        text = _TYPE_SQL[dtype] = data_type.sql(dialect="postgres")
    return text
