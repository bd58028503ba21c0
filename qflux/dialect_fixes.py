"""qflux's corrections to sqlglot, applied to the parsed tree before the target is written.

Each fix names the (source, target) pair it is for and the construct it repairs, so
the list reads as a record of where sqlglot and the engines disagree.

Trino -> DuckDB
---------------
The requirement is that a query written for Trino returns the same rows on DuckDB.
sqlglot gets the syntax right; the fixes below correct the semantics it does not
carry over (integer division, 1-based/NULL edge cases, DATE vs TIMESTAMP results,
Java format patterns...). `tests/test_translation_corpus.py` runs each construct on
both sides through the real Trino client; `tests/test_dialect_fixes.py` pins the SQL.

Several fixes need operand types. The first fix types the tree with sqlglot's
annotator (unless schema-aware translation already did, with column types), and
`_numeric` reads Trino's numeric typing from it. Where a type cannot be known
(a column without schema), a fix either picks the rewrite that is right for every
type or leaves the construct alone; each fix says which.

Fixes rewrite bottom-up (`_rewrite`), so a node's children are already fixed when
the node itself is looked at. Names the fixes introduce start with `_qf_` so they
cannot capture a user's column.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.expressions import apply_index_offset
from sqlglot.optimizer.annotate_types import annotate_types

Fix = Callable[[Any], Any]

#: (source dialect, target dialect) -> fixes, applied in order.
FIXES: dict[tuple[str, str], list[Fix]] = {}


def apply(tree: Any, source: str, target: str) -> Any:
    for fix in FIXES.get((source, target), ()):
        tree = fix(tree)
    return tree


def bound_in_place(parameter: exp.Expr, value: exp.Expr, dialect: str) -> exp.Expr:
    """`value` as the parser would have stored it where `parameter` (`$n`, `?`) stands.

    sqlglot keeps an integer array subscript 0-based in the tree: parsing `arr[2]` in a
    1-based dialect (PostgreSQL, Trino) subtracts the offset, and writing adds it back.
    A parameter's type is unknown when parsed, so it was stored unshifted; a typed
    integer bound there would be written one too high (`arr[$1]` with 2 reading
    element 3). Here it gets the shift the parser would have given it.
    """
    bracket = parameter.parent
    if (
        isinstance(bracket, exp.Bracket)
        and len(bracket.expressions) == 1
        and bracket.expressions[0] is parameter
        and not bracket.args.get("json_access")
    ):
        offset = Dialect.get_or_raise(dialect).INDEX_OFFSET
        return apply_index_offset(bracket.this, [value], -offset, dialect=dialect)[0]
    return value


def register(source: str, target: str) -> Callable[[Fix], Fix]:
    """Append the decorated function to FIXES[(source, target)]."""

    def decorate(fix: Fix) -> Fix:
        FIXES.setdefault((source, target), []).append(fix)
        return fix

    return decorate


trino_to_duckdb = register("trino", "duckdb")


# --- tree helpers -----------------------------------------------------------------


def _rewrite(
    tree: exp.Expr,
    kinds: type | tuple[type, ...],
    fn: Callable[[Any], exp.Expr | None],
    *,
    detach: bool = True,
) -> exp.Expr:
    """Replace each `kinds` node by fn(node) (None: keep it), children before parents.

    The node is detached while fn runs (`detach`), so fn may build it into its
    replacement as is; fn(node) returning None puts the node, possibly edited, back.
    """
    found: list[Any] = list(tree.find_all(*(kinds if isinstance(kinds, tuple) else (kinds,))))
    for node in reversed(found):
        hole = exp.Null()
        attached = detach and node.parent is not None
        if attached:
            node.replace(hole)
        new = fn(node)
        if new is None:
            new = node
        if attached:
            hole.replace(new)
        elif node is tree:
            tree = new
        elif new is not node:
            node.replace(new)
    return tree


def _wrap(node: exp.Expr, build: Callable[[exp.Expr], exp.Expr]) -> None:
    """Put build(node) where `node` is in the tree (build may use node itself)."""
    hole = exp.Null()
    node.replace(hole)
    hole.replace(build(node))


def _cast(node: exp.Expr, to: str) -> exp.Cast:
    """CAST(node AS to), always (exp.cast skips a cast it deems redundant, such as one
    from DECIMAL(38, 2) to DECIMAL(10, 2))."""
    return exp.Cast(this=node, to=exp.DataType.build(to))


def _fn(name: str, *args: exp.Expr) -> exp.Anonymous:
    """A call written as-is in the target (a DuckDB function sqlglot has no node for)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _num(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name)


def _lambda(body: exp.Expr, *params: str) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[_ident(p) for p in params])


def _case(*whens: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Case:
    case = exp.Case()
    for condition, value in whens:
        case = case.when(condition, value)
    return case.else_(default) if default is not None else case


def _int_literal(node: exp.Expr | None) -> int | None:
    """The value of an integer literal (possibly negated), else None."""
    if isinstance(node, exp.Paren):
        return _int_literal(node.this)
    if isinstance(node, exp.Neg):
        inner = _int_literal(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d+", node.this):
        return int(node.this)
    return None


def _literal_number(node: exp.Expr | None) -> Decimal | None:
    """The value of a numeric literal (possibly negated), else None."""
    if isinstance(node, exp.Paren):
        return _literal_number(node.this)
    if isinstance(node, exp.Neg):
        inner = _literal_number(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return Decimal(node.this)
        except ArithmeticError:
            return None
    return None


def _string_literal(node: exp.Expr | None) -> str | None:
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def _unit(node: exp.Expr | None) -> str:
    """A date part ('day', 'month'...) as written in the source, lower case."""
    if node is None:
        return ""
    return str(node.name if isinstance(node, exp.Var | exp.Literal) else node.sql()).lower()


# --- Trino's types, as far as the tree tells ------------------------------------------

_INT_PRECISION = {
    exp.DType.TINYINT: 3,
    exp.DType.SMALLINT: 5,
    exp.DType.INT: 10,
    exp.DType.BIGINT: 19,
}
_FLOAT_TYPES = {exp.DType.DOUBLE, exp.DType.FLOAT}
_TZ_TYPES = {exp.DType.TIMESTAMPTZ, exp.DType.TIMESTAMPLTZ}


class _Numeric(NamedTuple):
    """Trino's view of a numeric value: kind in int/decimal/float/other."""

    kind: str
    precision: int = 0
    scale: int = 0

    @property
    def as_decimal(self) -> tuple[int, int]:
        return (self.precision, self.scale)


_OTHER = _Numeric("other")


def _of_type(dtype: exp.DataType | None, *, written: bool = False) -> _Numeric | None:
    """A type's numeric view; `written`: spelled in the query (a bare DECIMAL is then
    Trino's DECIMAL(38, 0), where from the annotator it only means "some decimal")."""
    if dtype is None or dtype.this in (exp.DType.UNKNOWN, exp.DType.NULL):
        return None
    if dtype.this in _INT_PRECISION:
        return _Numeric("int", _INT_PRECISION[dtype.this])
    if dtype.this in _FLOAT_TYPES:
        return _Numeric("float")
    if dtype.this == exp.DType.DECIMAL:
        params = [p.this for p in dtype.expressions if isinstance(p, exp.DataTypeParam)]
        if not params:
            return _Numeric("decimal", 38, 0) if written else None
        if all(isinstance(p, exp.Literal) for p in params):
            precision = int(params[0].this)
            return _Numeric("decimal", precision, int(params[1].this) if len(params) > 1 else 0)
        return None
    return _OTHER


def _numeric(node: exp.Expr) -> _Numeric | None:
    """How Trino types `node` numerically; None when the tree cannot tell (untyped column).

    Literals and casts are read directly: sqlglot types `1.5` as DOUBLE, where Trino
    types it DECIMAL(2,1), and that difference is the point of several fixes. Columns
    (typed by schema-aware translation) and sum() follow Trino's rules; for other
    calls the annotator's integer, floating and non-numeric types are taken, but not
    its decimal precisions, which follow other engines' rules.
    """
    if isinstance(node, exp.Paren | exp.Neg):
        return _numeric(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return _OTHER
        text = node.this.lstrip("+-")
        if "e" in text.lower():
            return _Numeric("float")
        if "." in text:
            whole, frac = text.split(".", 1)
            return _Numeric("decimal", max(len(whole.lstrip("0")) + len(frac), 1), len(frac))
        value = int(text)
        if value < 2**31:
            return _Numeric("int", 10)
        if value < 2**63:
            return _Numeric("int", 19)
        return _Numeric("decimal", len(text), 0)
    if isinstance(node, exp.Cast):  # TryCast too
        return _of_type(node.to, written=True)
    if isinstance(node, exp.IntDiv):
        return _Numeric("int", 19)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
        return _arithmetic(node, _numeric(node.this), _numeric(node.expression))
    if isinstance(node, exp.Column):
        return _of_type(node.type)
    if isinstance(node, exp.Sum):
        argument = _numeric(node.this)
        if argument is not None and argument.kind in ("int", "decimal"):
            return _Numeric(argument.kind, 19 if argument.kind == "int" else 38, argument.scale)
        return argument
    kind = _of_type(node.type)
    return None if kind is not None and kind.kind == "decimal" else kind


def _arithmetic(node: exp.Expr, left: _Numeric | None, right: _Numeric | None) -> _Numeric | None:
    if left is None or right is None:
        return None
    kinds = {left.kind, right.kind}
    if "other" in kinds:
        return _OTHER
    if "float" in kinds:
        return _Numeric("float")
    if kinds == {"int"}:
        return _Numeric("int", max(left.precision, right.precision))
    (p1, s1), (p2, s2) = left.as_decimal, right.as_decimal
    if isinstance(node, exp.Mul):
        return _Numeric("decimal", min(38, p1 + p2), s1 + s2)
    if isinstance(node, exp.Div):
        return _Numeric("decimal", *_decimal_quotient(p1, s1, p2, s2))
    scale = max(s1, s2)
    if isinstance(node, exp.Mod):
        return _Numeric("decimal", min(38, min(p1 - s1, p2 - s2) + scale), scale)
    return _Numeric("decimal", min(38, 1 + scale + max(p1 - s1, p2 - s2)), scale)


def _decimal_quotient(p1: int, s1: int, p2: int, s2: int) -> tuple[int, int]:
    """Trino's type for DECIMAL(p1,s1) / DECIMAL(p2,s2)."""
    return min(38, p1 + s2 + max(0, s2 - s1)), max(s1, s2)


def _is_type(node: exp.Expr, *types: exp.DType) -> bool:
    return node.type is not None and node.type.this in types


# --- the fixes ---------------------------------------------------------------------


@trino_to_duckdb
def annotate_trino_types(tree: exp.Expr) -> exp.Expr:
    """Type the tree by Trino's rules (sqlglot's annotator), for the fixes that need types.

    Schema-aware translation has typed the tree already, but by the engine's rules
    (its schema carries the engine's dialect: DuckDB's floor(int) is a DOUBLE, DuckDB's
    DATE + INTERVAL a TIMESTAMP). The columns of its tables keep the types it found;
    everything else is typed again as Trino types it. An untyped tree is typed from
    scratch, its columns unknown. Never fatal: a tree the annotator cannot type goes on
    as it is, and the fixes treat what they cannot type as unknown.
    """
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = {t.alias_or_name for t in tree.find_all(exp.Table) if t.name not in ctes}
    for node in tree.walk():
        if not (isinstance(node, exp.Column) and node.table in tables):
            node.type = None
    with contextlib.suppress(Exception):
        annotate_types(tree, dialect="trino", overwrite_types=False)
    return tree


@trino_to_duckdb
def trino_division(tree: exp.Expr) -> exp.Expr:
    """`a / b` with Trino's typing: integer and exact decimal division.

    sqlglot marks Trino's `/` as typed but only acts on operands it has typed as
    integers, and then divides in DOUBLE (`CAST(TRUNC(a / b) AS BIGINT)`, which loses
    precision past 2**53); integer columns of unknown type get DuckDB's float `/`.

    - integer / integer -> `a // b` (DuckDB truncates toward zero, as Trino does);
    - decimal and integer operands with known precision -> `_exact_decimal_division`;
    - a REAL/DOUBLE operand, or a non-numeric one (interval / n) -> `/` unchanged;
    - otherwise (a type is unknown) -> `a // b` too: DuckDB's `//` is integer division
      on integers and true division on DECIMAL and floating operands, which is Trino's
      answer for integers and floats (decimals then come back as DOUBLE, as with `/`).
      The price: a floating column divided by zero raises DuckDB's division-by-zero
      error where Trino returns Infinity or NaN (an error rather than a wrong number).
    """

    def fix(node: exp.Div) -> exp.Expr | None:
        if not node.args.get("typed"):
            return None
        left, right = _numeric(node.this), _numeric(node.expression)
        kinds = {k.kind for k in (left, right) if k is not None}
        if kinds & {"float", "other"}:
            return None
        if left is not None and right is not None and "decimal" in kinds:
            return _exact_decimal_division(node, left, right)
        if left is not None and right is not None:  # both integers, in Trino
            return exp.IntDiv(
                this=_integer_operand(node.this, left),
                expression=_integer_operand(node.expression, right),
            )
        return exp.IntDiv(this=node.this, expression=node.expression)

    return _rewrite(tree, exp.Div, fix)


_INT_TYPE_NAMES = {3: "TINYINT", 5: "SMALLINT", 10: "INT", 19: "BIGINT"}


def _integer_operand(node: exp.Expr, kind: _Numeric) -> exp.Expr:
    """An operand Trino types as an integer, made one for DuckDB too: DuckDB types some
    calls differently (floor(5) is a DOUBLE there), and `//` divides those as floats."""
    inner = node.unnest()
    if _int_literal(inner) is not None or isinstance(inner, exp.Column | exp.IntDiv):
        return node
    if isinstance(inner, exp.Cast) and (_of_type(inner.to) or _OTHER).kind == "int":
        return node
    return _cast(node, _INT_TYPE_NAMES.get(kind.precision, "BIGINT"))


def _exact_decimal_division(node: exp.Div, left: _Numeric, right: _Numeric) -> exp.Expr:
    """Trino's DECIMAL division: scale max(s1, s2), rounded half away from zero.

    DuckDB divides decimals in DOUBLE, so 1.0 / 3 is 0.333... where Trino says 0.3, and
    a DOUBLE cannot round ties like 0.35 / 2 = 0.175 -> 0.18. The quotient is computed in
    HUGEINT instead: with X = a * 10^s1 and Y = b * 10^s2 (integers),
    result * 10^s = round(X * 10^(s2 - s1 + s) / Y), then scaled back into DECIMAL(p, s).
    """
    (p1, s1), (p2, s2) = left.as_decimal, right.as_decimal
    precision, scale = _decimal_quotient(p1, s1, p2, s2)

    def as_integer(operand: exp.Expr, operand_scale: int) -> exp.Expr:
        """operand * 10^scale as a HUGEINT (exact: the product is integral)."""
        if operand_scale:
            operand = exp.Mul(this=exp.paren(operand), expression=_num(10**operand_scale))
        return _cast(operand, "HUGEINT")

    numerator = as_integer(node.this, s1)  # X
    if s2 - s1 + scale:
        numerator = exp.Mul(this=numerator, expression=_num(10 ** (s2 - s1 + scale)))
    denominator = as_integer(node.expression, s2)  # Y
    magnitude = exp.IntDiv(
        this=exp.paren(
            exp.Add(
                this=exp.Mul(this=_num(2), expression=exp.Abs(this=numerator)),
                expression=exp.Abs(this=denominator),
            )
        ),
        expression=exp.paren(exp.Mul(this=_num(2), expression=exp.Abs(this=denominator.copy()))),
    )
    sign = exp.Mul(
        this=exp.Sign(this=numerator.copy()), expression=exp.Sign(this=denominator.copy())
    )
    rounded: exp.Expr = _cast(exp.Mul(this=magnitude, expression=sign), "DECIMAL(38, 0)")
    if scale:
        rounded = exp.Mul(
            this=rounded, expression=exp.Literal.number(f"{Decimal(1).scaleb(-scale):f}")
        )
    return _cast(rounded, f"DECIMAL({precision}, {scale})")


@trino_to_duckdb
def float_to_integer_cast_rounds(tree: exp.Expr) -> exp.Expr:
    """CAST(<double> AS BIGINT) rounds half away from zero in Trino (2.5 -> 3).

    DuckDB rounds half to even (2.5 -> 2); `CAST(ROUND(x) AS ...)` gives Trino's answer.
    Only for operands known to be REAL/DOUBLE: ROUND would break a VARCHAR operand, and
    DECIMAL casts already round like Trino's.
    """

    def fix(node: exp.Cast) -> exp.Expr | None:
        target = _of_type(node.to)
        source = _numeric(node.this)
        if target is None or target.kind != "int" or source is None or source.kind != "float":
            return None
        node.set("this", exp.Round(this=node.this))
        return node

    return _rewrite(tree, exp.Cast, fix)


@trino_to_duckdb
def sum_of_integers_is_bigint(tree: exp.Expr) -> exp.Expr:
    """sum() over integers is BIGINT in Trino, HUGEINT in DuckDB (clients see decimal(38,0)).

    Cast back to BIGINT when the argument is known to be an integer (counted CASE
    expressions, lengths, casts, typed columns). An argument of unknown type is left:
    the cast would truncate a DECIMAL or DOUBLE sum.
    """

    def fix(node: exp.Sum) -> exp.Expr | None:
        kind = _numeric(node.this)
        if kind is not None and kind.kind == "int":
            _cast_aggregate(node, "BIGINT")
        return None

    return _rewrite(tree, exp.Sum, fix, detach=False)


def _cast_aggregate(node: exp.Expr, to: str) -> None:
    """Cast an aggregate's result, around its window or FILTER clause if it has one."""
    outer: exp.Expr = node
    while isinstance(outer.parent, exp.Window | exp.Filter) and outer.parent.this is outer:
        outer = outer.parent
    _wrap(outer, lambda inner: _cast(inner, to))


@trino_to_duckdb
def avg_of_decimals_is_decimal(tree: exp.Expr) -> exp.Expr:
    """avg() of a DECIMAL(p, s) is a DECIMAL(p, s) in Trino, rounded half up; DuckDB's
    is a DOUBLE. For an argument of known decimal type (a cast, or a column typed by
    schema-aware translation) it is written as sum / count with Trino's exact decimal
    division; NULLIF makes no rows NULL, as avg() is. Also as a window function.
    """

    def fix(node: exp.Avg) -> exp.Expr | None:
        kind = _numeric(node.this)
        if kind is None or kind.kind != "decimal" or isinstance(node.parent, exp.Filter):
            return None
        window = node.parent if isinstance(node.parent, exp.Window) else None

        def over(aggregate: exp.Expr) -> exp.Expr:
            if window is None:
                return aggregate
            copy = window.copy()
            copy.set("this", aggregate)
            return copy

        total = over(exp.Sum(this=node.this.copy()))
        count = _fn("NULLIF", over(exp.Count(this=node.this.copy())), _num(0))
        quotient = _exact_decimal_division(
            exp.Div(this=total, expression=count),
            _Numeric("decimal", 38, kind.scale),
            _Numeric("int", 19),
        )
        average = _cast(quotient, f"DECIMAL({kind.precision}, {kind.scale})")
        if window is None:
            return average
        window.replace(average)
        return None

    return _rewrite(tree, exp.Avg, fix, detach=False)


@trino_to_duckdb
def date_arithmetic_stays_date(tree: exp.Expr) -> exp.Expr:
    """DATE +/- INTERVAL, date_add, date_trunc and sequence() on a DATE return DATE in Trino.

    sqlglot types these DATE (ARRAY(DATE) for sequence) but writes DuckDB expressions
    that return TIMESTAMP (`date + INTERVAL`, DATE_TRUNC, GENERATE_SERIES); the result
    is cast back. A DATE column of unknown type is not seen: that needs schema-aware
    translation.
    """

    def fix(node: exp.Expr) -> exp.Expr | None:
        if node.type is None:
            return None
        if node.type.this == exp.DType.DATE:
            if isinstance(node, exp.Add | exp.Sub) and not any(
                isinstance(side, exp.Interval) for side in (node.this, node.expression)
            ):
                return None
            return _cast(node, "DATE")
        if isinstance(node, exp.GenerateSeries) and node.type.is_type("ARRAY<DATE>"):
            return _cast(node, "DATE[]")
        return None

    kinds = (exp.DateAdd, exp.DateSub, exp.TimestampTrunc, exp.DateTrunc, exp.Add, exp.Sub)
    return _rewrite(tree, (*kinds, exp.GenerateSeries), fix)


@trino_to_duckdb
def date_diff_counts_whole_units(tree: exp.Expr) -> exp.Expr:
    """date_diff(unit, a, b) counts whole units elapsed in Trino, boundaries in DuckDB.

    Trino: date_diff('month', DATE '2024-01-15', DATE '2024-02-14') = 0 (not a full
    month); DuckDB's DATE_DIFF counts month boundaries crossed (1). DuckDB's DATE_SUB
    counts whole units, including Trino's end-of-month rule (Jan 31 -> Feb 29 is one).
    """

    def fix(node: exp.DateDiff) -> exp.Expr | None:
        unit = _unit(node.args.get("unit")) or "day"
        return _fn("DATE_SUB", exp.Literal.string(unit), node.expression, node.this)

    return _rewrite(tree, exp.DateDiff, fix)


@trino_to_duckdb
def extract_dow_is_iso(tree: exp.Expr) -> exp.Expr:
    """EXTRACT(DOW ...) is ISO in Trino (Monday 1 .. Sunday 7); DuckDB's DOW is Sunday 0."""

    def fix(node: exp.Extract) -> exp.Expr | None:
        if _unit(node.this) in ("dow", "day_of_week", "dayofweek"):
            node.set("this", exp.var("ISODOW"))
        elif _unit(node.this) in ("yow", "year_of_week"):
            node.set("this", exp.var("ISOYEAR"))
        return None

    return _rewrite(tree, exp.Extract, fix)


def _anonymous(tree: exp.Expr, name: str, fn: Callable[[exp.Anonymous], Any]) -> exp.Expr:
    """Rewrite calls of a function sqlglot keeps as Anonymous (unknown to it)."""
    return _rewrite(
        tree, exp.Anonymous, lambda node: fn(node) if node.name.lower() == name else None
    )


@trino_to_duckdb
def millisecond_of_second(tree: exp.Expr) -> exp.Expr:
    """millisecond(ts) is 0..999 in Trino; DuckDB's MILLISECOND includes the seconds."""
    return _anonymous(
        tree,
        "millisecond",
        lambda node: exp.paren(
            exp.Mod(this=_fn("MILLISECOND", *node.expressions), expression=_num(1000))
        ),
    )


# Joda-Time (Trino's format_datetime/parse_datetime) pattern letters -> DuckDB strftime,
# by letter and run length; letters in _JODA_LONGER also take longer runs.
_JODA: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "Y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "x": {4: "%G"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "d": {1: "%-d", 2: "%d"},
    "D": {1: "%-j", 3: "%j"},
    "E": {1: "%a", 2: "%a", 3: "%a", 4: "%A"},
    "e": {1: "%u"},
    "w": {2: "%V"},
    "H": {1: "%-H", 2: "%H"},
    "h": {1: "%-I", 2: "%I"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
    "S": {3: "%g", 6: "%f", 9: "%n"},
    "a": {1: "%p"},
}
_JODA_LONGER = {"M": "%B", "E": "%A", "a": "%p"}


def joda_to_strftime(pattern: str, parsing: bool = False) -> str | None:
    """A Joda-Time pattern as a DuckDB strftime/strptime format; None if not expressible."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":  # quoted text; '' is a quote
            end = i + 1
            text = []
            while end < len(pattern):
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        text.append("'")
                        end += 2
                        continue
                    break
                text.append(pattern[end])
                end += 1
            out.append("'" if end == i + 1 else "".join(text).replace("%", "%%"))
            i = end + 1
            continue
        if not char.isalpha():
            out.append("%%" if char == "%" else char)
            i += 1
            continue
        run = len(pattern) - i - len(pattern[i:].lstrip(char))
        specs = _JODA.get(char, {})
        spec = specs.get(run) or (_JODA_LONGER.get(char) if specs and run > max(specs) else None)
        if spec is None:
            return None
        out.append(spec.replace("%-", "%") if parsing else spec)
        i += run
    return "".join(out)


@trino_to_duckdb
def format_datetime_java_pattern(tree: exp.Expr) -> exp.Expr:
    """format_datetime(ts, 'yyyy-MM-dd') takes a Joda pattern; DuckDB has no such function.

    sqlglot passes the call through unchanged; it becomes STRFTIME with the pattern
    translated. A pattern with letters that have no strftime equivalent (era, zone
    names...) or a non-literal pattern is left alone, and DuckDB reports the call.
    """

    def fix(node: exp.Anonymous) -> exp.Expr | None:
        if len(node.expressions) != 2:
            return None
        pattern = _string_literal(node.expressions[1])
        converted = joda_to_strftime(pattern) if pattern is not None else None
        if converted is None:
            return None
        return _fn("STRFTIME", node.expressions[0], exp.Literal.string(converted))

    return _anonymous(tree, "format_datetime", fix)


@trino_to_duckdb
def parse_datetime_java_pattern(tree: exp.Expr) -> exp.Expr:
    """parse_datetime(s, 'yyyy-MM-dd HH:mm') takes a Joda pattern and returns a
    timestamp with time zone (the session's); sqlglot writes STRPTIME with the Joda
    pattern as is. Translated to STRPTIME with a strptime format, cast to TIMESTAMPTZ.
    """

    def fix(node: exp.ParseDatetime) -> exp.Expr | None:
        pattern = _string_literal(node.args.get("format"))
        converted = joda_to_strftime(pattern, parsing=True) if pattern is not None else None
        if converted is None:
            return None
        parsed = _fn("STRPTIME", node.this, exp.Literal.string(converted))
        return _cast(parsed, "TIMESTAMPTZ")

    return _rewrite(tree, exp.ParseDatetime, fix)


@trino_to_duckdb
def at_time_zone_from_instant(tree: exp.Expr) -> exp.Expr:
    """`ts AT TIME ZONE z`: Trino reads a plain TIMESTAMP in the session zone, then shows
    that instant in z. DuckDB reads a plain TIMESTAMP as wall time *in z* (the inverse).

    Casting the operand to TIMESTAMPTZ first (a no-op for one that already is) gives
    DuckDB the instant Trino means; DuckDB then yields z's wall-clock time, which is
    what hour(), date() and formatting of Trino's result see.
    """

    def fix(node: exp.AtTimeZone) -> exp.Expr | None:
        operand = node.this
        if _is_type(operand, *_TZ_TYPES) or (
            isinstance(operand, exp.Cast) and operand.to.this in _TZ_TYPES
        ):
            return None
        node.set("this", _cast(operand, "TIMESTAMPTZ"))
        return None

    return _rewrite(tree, exp.AtTimeZone, fix)


@trino_to_duckdb
def with_timezone_function(tree: exp.Expr) -> exp.Expr:
    """with_timezone(ts, zone): the wall time ts in zone, as an instant; DuckDB spells it
    TIMEZONE(zone, ts) (sqlglot passes with_timezone through, which DuckDB lacks)."""
    return _anonymous(
        tree,
        "with_timezone",
        lambda node: (
            _fn("TIMEZONE", node.expressions[1], _cast(node.expressions[0], "TIMESTAMP"))
            if len(node.expressions) == 2
            else None
        ),
    )


_INTERVAL_SECONDS = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}


@trino_to_duckdb
def interval_span_literals(tree: exp.Expr) -> exp.Expr:
    """INTERVAL '1-2' YEAR TO MONTH and INTERVAL '1 02:03:04' DAY TO SECOND: DuckDB's
    parser has no `X TO Y` interval qualifiers (sqlglot writes them through).

    Year-to-month becomes a number of months; day-to-second a number of seconds, which
    is also Trino's meaning (a fixed duration, not calendar days).
    """

    def fix(node: exp.Interval) -> exp.Expr | None:
        span = node.args.get("unit")
        text = _string_literal(node.this)
        if not isinstance(span, exp.IntervalSpan) or text is None:
            return None
        first, last = _unit(span.this), _unit(span.expression)
        sign = -1 if text.strip().startswith("-") else 1
        body = text.strip().lstrip("+-")
        if (first, last) == ("year", "month"):
            match = re.fullmatch(r"(\d+)-(\d+)", body)
            if not match:
                return None
            months = sign * (int(match[1]) * 12 + int(match[2]))
            return exp.Interval(this=exp.Literal.string(str(months)), unit=exp.var("MONTH"))
        units = ["day", "hour", "minute", "second"]
        if first not in units or last not in units or units.index(first) > units.index(last):
            return None
        fields = re.split(r"[ :]", body)
        wanted = units[units.index(first) : units.index(last) + 1]
        if len(fields) != len(wanted):
            return None
        try:
            seconds = sum(
                Decimal(value) * _INTERVAL_SECONDS[unit]
                for value, unit in zip(fields, wanted, strict=True)
            )
        except ArithmeticError:
            return None
        return exp.Interval(this=exp.Literal.string(f"{sign * seconds:f}"), unit=exp.var("SECOND"))

    return _rewrite(tree, exp.Interval, fix)


@trino_to_duckdb
def substr_out_of_range_is_empty(tree: exp.Expr) -> exp.Expr:
    """substr(s, start[, length]): Trino returns '' for start 0, for a negative start
    before the beginning of s, and for length <= 0; DuckDB counts from the virtual
    position (substr('hello', 0, 2) = 'h', substr('hello', -10) = 'hello').

    A positive literal start (and length) needs nothing; otherwise the call is guarded,
    the empty answer written SUBSTRING(s, 1, 0) so that a NULL string stays NULL.
    """

    def fix(node: exp.Substring) -> exp.Expr | None:
        start, length = node.args.get("start"), node.args.get("length")
        if start is None:
            return None
        first, count = _int_literal(start), _int_literal(length)
        empty = exp.Substring(this=node.this.copy(), start=_num(1), length=_num(0))
        if first == 0:
            return empty
        conditions: list[exp.Expr] = []
        if first is None:
            conditions.append(exp.EQ(this=start.copy(), expression=_num(0)))
            before = exp.Neg(this=exp.Length(this=node.this.copy()))
            conditions.append(exp.LT(this=start.copy(), expression=before))
        elif first < 0:
            before_start = exp.LT(this=exp.Length(this=node.this.copy()), expression=_num(-first))
            conditions.append(before_start)
        if length is not None and (count is None or count <= 0):
            conditions.append(exp.LTE(this=length.copy(), expression=_num(0)))
        if not conditions:
            return None
        return _case((exp.or_(*conditions), empty), default=node)

    return _rewrite(tree, exp.Substring, fix)


@trino_to_duckdb
def split_with_a_limit(tree: exp.Expr) -> exp.Expr:
    """split(s, d, limit): at most `limit` fields, the last holding the rest of s. sqlglot
    drops the limit silently (DuckDB's STR_SPLIT has none); the fields past limit - 1
    are joined back with the delimiter."""

    def fix(node: exp.Split) -> exp.Expr | None:
        limit = node.args.get("limit")
        if limit is None:
            return None
        node.set("limit", None)
        delimiter = node.expression

        def fields() -> exp.Expr:
            return node.copy()

        head = _fn("LIST_SLICE", fields(), _num(1), exp.Sub(this=limit.copy(), expression=_num(1)))
        rest = _fn(
            "ARRAY_TO_STRING",
            _fn("LIST_SLICE", fields(), limit.copy(), _fn("LEN", fields())),
            delimiter.copy(),
        )
        joined = _fn("LIST_CONCAT", head, exp.Array(expressions=[rest]))
        too_many = exp.GT(this=_fn("LEN", fields()), expression=limit.copy())
        return _case((too_many, joined), default=node)

    return _rewrite(tree, exp.Split, fix)


@trino_to_duckdb
def split_part_past_the_end_is_null(tree: exp.Expr) -> exp.Expr:
    """split_part(s, d, n) is NULL in Trino when s has fewer than n fields; DuckDB says ''."""

    def fix(node: exp.SplitPart) -> exp.Expr | None:
        fields = _fn(
            "LEN", exp.Split(this=node.this.copy(), expression=node.args["delimiter"].copy())
        )
        past_the_end = exp.GT(this=node.args["part_index"].copy(), expression=fields)
        return exp.If(this=past_the_end, true=exp.null(), false=node)

    return _rewrite(tree, exp.SplitPart, fix)


@trino_to_duckdb
def regexp_extract_no_match_is_null(tree: exp.Expr) -> exp.Expr:
    """regexp_extract without a match is NULL in Trino; DuckDB's REGEXP_EXTRACT gives ''."""

    def fix(node: exp.RegexpExtract) -> exp.Expr | None:
        matches = exp.RegexpLike(this=node.this.copy(), expression=node.expression.copy())
        return _case((matches, node))

    return _rewrite(tree, exp.RegexpExtract, fix)


def java_replacement_to_re2(text: str) -> str:
    """A java.util.regex replacement ($1, \\$) as an RE2 rewrite (\\1, $)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            escaped = text[i + 1]
            out.append("\\\\" if escaped == "\\" else escaped)
            i += 2
        elif char == "$" and i + 1 < len(text) and text[i + 1].isdigit():
            out.append("\\" + text[i + 1])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


@trino_to_duckdb
def regexp_replace_group_references(tree: exp.Expr) -> exp.Expr:
    """regexp_replace(s, p, 'x$1'): Trino's replacement uses Java's `$n` group references;
    DuckDB (RE2) uses `\\n`, and sqlglot copies the text over. A literal replacement is
    translated; a computed one is left as is."""

    def fix(node: exp.RegexpReplace) -> exp.Expr | None:
        replacement = _string_literal(node.args.get("replacement"))
        if replacement is not None and ("$" in replacement or "\\" in replacement):
            node.set("replacement", exp.Literal.string(java_replacement_to_re2(replacement)))
        return None

    return _rewrite(tree, exp.RegexpReplace, fix)


def java_format_to_fmt(pattern: str) -> str | None:
    """A java.util.Formatter pattern ('%s-%05d') as a DuckDB FORMAT (fmt) pattern."""
    out: list[str] = []
    spec = re.compile(r"%([-0+ ]*)(\d+)?(?:\.(\d+))?([sdfxXeEcb%n])")
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char in "{}":
            out.append(char * 2)
            i += 1
            continue
        if char != "%":
            out.append(char)
            i += 1
            continue
        match = spec.match(pattern, i)
        if not match:
            return None
        flags, width, precision, conversion = match.groups()
        i = match.end()
        if conversion == "%":
            out.append("%")
            continue
        if conversion == "n":
            out.append("\n")
            continue
        fmt = ""
        if "-" in flags:
            fmt += "<"
        elif conversion in "sb" and width:
            fmt += ">"  # Java right-justifies everything; fmt left-justifies strings
        fmt += "+" if "+" in flags else " " if " " in flags else ""
        fmt += "0" if "0" in flags else ""
        fmt += width or ""
        fmt += f".{precision}" if precision is not None else ""
        fmt += {"s": "", "b": "", "c": "c"}.get(conversion, conversion)
        out.append("{:" + fmt + "}" if fmt else "{}")
    return "".join(out)


@trino_to_duckdb
def format_java_patterns(tree: exp.Expr) -> exp.Expr:
    """format('%s-%05d', ...) uses java.util.Formatter; DuckDB's FORMAT uses fmt ('{}').

    sqlglot converts a bare '%s' only and passes any other pattern through (DuckDB
    then prints it literally). The pattern is translated here: flags -, 0, + and
    space, width, precision, and the conversions s d f x X e E c b % n.
    """

    def fix(node: exp.Format) -> exp.Expr | None:
        pattern = _string_literal(node.this)
        converted = java_format_to_fmt(pattern) if pattern is not None else None
        if converted is None:
            return None
        return _fn("FORMAT", exp.Literal.string(converted), *node.expressions)

    return _rewrite(tree, exp.Format, fix)


@trino_to_duckdb
def renamed_functions(tree: exp.Expr) -> exp.Expr:
    """Trino functions DuckDB has under another name, which sqlglot passes through:
    codepoint -> UNICODE, hamming_distance -> HAMMING, zip -> LIST_ZIP, yow -> ISOYEAR,
    to_base -> LOWER(TO_BASE) (Trino writes digits above 9 in lower case),
    bitwise_left_shift -> <<, bitwise_right_shift_arithmetic -> >>."""
    renames = {
        "codepoint": "UNICODE",
        "hamming_distance": "HAMMING",
        "zip": "LIST_ZIP",
        "yow": "ISOYEAR",
    }

    def fix(node: exp.Anonymous) -> exp.Expr | None:
        name = node.name.lower()
        args = node.expressions
        if name in renames:
            return _fn(renames[name], *args)
        if name == "to_base" and len(args) == 2:
            return exp.Lower(this=_fn("TO_BASE", *args))
        if name == "bitwise_left_shift" and len(args) == 2:
            return exp.paren(exp.BitwiseLeftShift(this=args[0], expression=args[1]))
        if name == "bitwise_right_shift_arithmetic" and len(args) == 2:
            return exp.paren(exp.BitwiseRightShift(this=args[0], expression=args[1]))
        return None

    return _rewrite(tree, exp.Anonymous, fix)


_INT_WIDTH = {3: 8, 5: 16, 10: 32, 19: 64}
_INT_NAME = {8: "TINYINT", 16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}


@trino_to_duckdb
def bitwise_width_functions(tree: exp.Expr) -> exp.Expr:
    """bit_count(x, bits) and bitwise_right_shift(x, n) depend on a bit width DuckDB
    takes from the type: bit_count has no width argument in DuckDB, and `>>` is an
    arithmetic shift where Trino's bitwise_right_shift is logical (zero-filling).

    bit_count counts the two's complement bits of x in `bits` bits; the logical shift
    masks x to its type's width (BIGINT when unknown) before shifting.
    """

    def fix(node: exp.Anonymous) -> exp.Expr | None:
        name, args = node.name.lower(), node.expressions
        if name == "bit_count" and len(args) == 2:
            bits = _int_literal(args[1])
            if bits in _INT_NAME:
                return _fn("BIT_COUNT", _cast(args[0], _INT_NAME[bits]))
            if bits is not None and 0 < bits < 64:
                masked = exp.BitwiseAnd(this=_cast(args[0], "BIGINT"), expression=_num(2**bits - 1))
                return _fn("BIT_COUNT", exp.paren(masked))
            return None
        if name == "bitwise_right_shift" and len(args) == 2:
            kind = _numeric(args[0])
            width = _INT_WIDTH.get(kind.precision, 64) if kind and kind.kind == "int" else 64
            wide = "HUGEINT" if width == 64 else "BIGINT"
            masked = exp.BitwiseAnd(this=_cast(args[0], wide), expression=_num(2**width - 1))
            shifted = exp.BitwiseRightShift(this=exp.paren(masked), expression=args[1])
            return _cast(shifted, "BIGINT")
        return None

    return _rewrite(tree, exp.Anonymous, fix)


@trino_to_duckdb
def width_bucket_formula(tree: exp.Expr) -> exp.Expr:
    """width_bucket(x, bound1, bound2, n): DuckDB has no such function; Trino's formula
    (buckets 1..n, 0 below the range, n + 1 above, either bound order) written out."""

    def fix(node: exp.WidthBucket) -> exp.Expr | None:
        count = node.args.get("num_buckets")
        if count is None:
            return None
        x, low, high = (
            _cast(node.args[key], "DOUBLE") for key in ("this", "min_value", "max_value")
        )
        above = exp.Add(this=_cast(count, "BIGINT"), expression=_num(1))

        def buckets(below: type, beyond: type, start: exp.Expr, end: exp.Expr) -> exp.Expr:
            offset = exp.paren(exp.Sub(this=start.copy(), expression=end.copy()))
            fraction = exp.Div(
                this=exp.Mul(this=count.copy(), expression=offset),
                expression=exp.paren(exp.Sub(this=high.copy(), expression=low.copy())),
            )
            if below is exp.GT:  # descending bounds: distance from bound1 downwards
                fraction.set(
                    "expression", exp.paren(exp.Sub(this=low.copy(), expression=high.copy()))
                )
            inside = exp.Add(this=_cast(exp.func("TRUNC", fraction), "BIGINT"), expression=_num(1))
            return _case(
                (below(this=x.copy(), expression=low.copy()), _num(0)),
                (beyond(this=x.copy(), expression=high.copy()), above.copy()),
                default=inside,
            )

        ascending = buckets(exp.LT, exp.GTE, x, low)
        descending = buckets(exp.GT, exp.LTE, low, x)
        bound1, bound2 = (_literal_number(node.args[key]) for key in ("min_value", "max_value"))
        if bound1 is not None and bound2 is not None:  # literal bounds: the order is known now
            return ascending if bound1 < bound2 else descending
        return _case((exp.LT(this=low, expression=high), ascending), default=descending)

    return _rewrite(tree, exp.WidthBucket, fix)


def _distinct_in_order(array: exp.Expr) -> exp.Expr:
    """The distinct elements of `array` in first-occurrence order, one NULL kept.

    DuckDB's LIST_DISTINCT drops NULLs and does not keep the order; Trino's
    array_distinct keeps both. An element stays when its first position is its own.
    """
    first = exp.EQ(
        this=_fn("LIST_POSITION", array.copy(), exp.column("_qf_v")), expression=exp.column("_qf_i")
    )
    return exp.ArrayFilter(this=array, expression=_lambda(first, "_qf_v", "_qf_i"))


@trino_to_duckdb
def array_set_functions_keep_order(tree: exp.Expr) -> exp.Expr:
    """array_distinct, array_union and array_except keep first-occurrence order (and a
    NULL) in Trino; sqlglot writes DuckDB's LIST_DISTINCT, which keeps neither, and
    array_union passes through (DuckDB has none)."""

    def fix(node: exp.Expr) -> exp.Expr | None:
        if isinstance(node, exp.ArrayDistinct):
            return _distinct_in_order(node.this)
        if isinstance(node, exp.ArrayExcept):
            other = node.expression
            absent = exp.EQ(
                this=_fn(
                    "LEN",
                    exp.ArrayFilter(
                        this=other.copy(),
                        expression=_lambda(
                            exp.NullSafeEQ(
                                this=exp.column("_qf_f"), expression=exp.column("_qf_e")
                            ),
                            "_qf_f",
                        ),
                    ),
                ),
                expression=_num(0),
            )
            kept = exp.ArrayFilter(this=node.this, expression=_lambda(absent, "_qf_e"))
            return _case(
                (exp.Is(this=other, expression=exp.null()), exp.null()),
                default=_distinct_in_order(kept),
            )
        if isinstance(node, exp.Anonymous) and node.name.lower() == "array_union":
            if len(node.expressions) != 2:
                return None
            return _distinct_in_order(_fn("LIST_CONCAT", *node.expressions))
        return None

    return _rewrite(tree, (exp.ArrayDistinct, exp.ArrayExcept, exp.Anonymous), fix)


@trino_to_duckdb
def array_search_null_semantics(tree: exp.Expr) -> exp.Expr:
    """contains() and array_position() as Trino answers them.

    contains(ARRAY[1, NULL], 3) is NULL in Trino (3 might be the NULL); DuckDB says
    false. array_position() of a missing element is 0 in Trino, NULL in DuckDB.
    """

    def fix(node: exp.Expr) -> exp.Expr | None:
        array, element = node.this, node.expression
        if isinstance(node, exp.ArrayContains):
            found = _fn("LIST_CONTAINS", array.copy(), element.copy())
            has_null = exp.GT(
                this=_fn("LIST_POSITION", array.copy(), exp.null()), expression=_num(0)
            )
            return _case((found, exp.true()), (has_null, exp.null()), default=found.copy())
        position = _fn("COALESCE", _fn("LIST_POSITION", array.copy(), element), _num(0))
        return _case((exp.Is(this=array, expression=exp.null()), exp.null()), default=position)

    return _rewrite(tree, (exp.ArrayContains, exp.ArrayPosition), fix)


@trino_to_duckdb
def slice_takes_a_length(tree: exp.Expr) -> exp.Expr:
    """slice(x, start, length): Trino's third argument is a length, DuckDB's LIST_SLICE
    takes an end position; sqlglot passes the length as the end.

    A negative start counts from the end in both; its end is kept negative (capped at
    -1, the last element) so that it stays relative to the same end.
    """

    def fix(node: exp.ArraySlice) -> exp.Expr | None:
        start, length = node.args.get("start"), node.args.get("end")
        if start is None or length is None:
            return None
        first, count = _int_literal(start), _int_literal(length)
        if first is not None and count is not None:
            last = first + count - 1
            end: exp.Expr = _num(min(last, -1) if first < 0 else last)
        else:
            last_expr = exp.Sub(
                this=exp.Add(this=start.copy(), expression=length.copy()), expression=_num(1)
            )
            end = _case(
                (
                    exp.LT(this=start.copy(), expression=_num(0)),
                    exp.func("LEAST", last_expr.copy(), _num(-1)),
                ),
                default=last_expr,
            )
        return _fn("LIST_SLICE", node.this, start, end)

    return _rewrite(tree, exp.ArraySlice, fix)


@trino_to_duckdb
def reduce_applies_finish(tree: exp.Expr) -> exp.Expr:
    """reduce(array, initial, merge, finish): sqlglot drops the finish lambda (DuckDB's
    LIST_REDUCE has none), so reduce(..., s -> s * 10) loses the `* 10`. The finish is
    applied to the reduced value with LIST_TRANSFORM([value], finish)[1]."""

    def fix(node: exp.Reduce) -> exp.Expr | None:
        finish = node.args.get("finish")
        if not isinstance(finish, exp.Lambda):
            return None
        node.set("finish", None)
        params = finish.expressions
        if (
            len(params) == 1
            and isinstance(finish.this, exp.Identifier | exp.Column)
            and (finish.this.name == params[0].name)
        ):
            return None  # identity: nothing to apply
        applied = exp.Transform(this=exp.Array(expressions=[node]), expression=finish)
        return exp.Bracket(this=applied, expressions=[_num(1)], offset=1, safe=True)

    return _rewrite(tree, exp.Reduce, fix)


@trino_to_duckdb
def cardinality_of_arrays_and_maps(tree: exp.Expr) -> exp.Expr:
    """cardinality(x) takes arrays and maps; sqlglot writes ARRAY_LENGTH, which DuckDB
    refuses for a map. DuckDB's own CARDINALITY takes both; it returns UBIGINT (a
    decimal(20,0) to Trino clients), so the count is cast to Trino's BIGINT."""
    return _rewrite(
        tree,
        exp.ArraySize,
        lambda node: (
            _cast(_fn("CARDINALITY", node.this), "BIGINT")
            if node.args.get("expression") is None
            else None
        ),
    )


@trino_to_duckdb
def json_array_length_is_bigint(tree: exp.Expr) -> exp.Expr:
    """json_array_length() is BIGINT in Trino; DuckDB's is UBIGINT (decimal(20,0) to a
    Trino client). Cast back."""
    return _anonymous(tree, "json_array_length", lambda node: _cast(node, "BIGINT"))


@trino_to_duckdb
def strpos_nth_instance(tree: exp.Expr) -> exp.Expr:
    """strpos(s, sub, n): sqlglot drops the instance argument for DuckDB (with a warning),
    answering the first occurrence. Trino counts overlapping occurrences; the positions
    of all of them are listed and the n-th taken (0 when there are fewer)."""

    def fix(node: exp.StrPosition) -> exp.Expr | None:
        instance = node.args.get("occurrence")
        if instance is None or node.args.get("position") is not None:
            return None
        text, sub = node.this, node.args["substr"]
        starts = exp.ArrayFilter(
            this=_fn(
                "RANGE", _num(1), exp.Add(this=exp.Length(this=text.copy()), expression=_num(1))
            ),
            expression=_lambda(
                exp.EQ(
                    this=exp.Substring(
                        this=text.copy(),
                        start=exp.column("_qf_i"),
                        length=exp.Length(this=sub.copy()),
                    ),
                    expression=sub.copy(),
                ),
                "_qf_i",
            ),
        )
        nth = exp.Bracket(this=starts, expressions=[instance], offset=1, safe=True)
        unknown = exp.or_(
            exp.Is(this=text, expression=exp.null()), exp.Is(this=sub, expression=exp.null())
        )
        return _case((unknown, exp.null()), default=_fn("COALESCE", nth, _num(0)))

    return _rewrite(tree, exp.StrPosition, fix)


@trino_to_duckdb
def array_remove_keeps_nulls(tree: exp.Expr) -> exp.Expr:
    """array_remove(x, e) keeps x's NULL elements in Trino; sqlglot filters with
    `_u <> e`, which drops them (NULL <> e is NULL). A NULL e gives NULL, as in Trino."""

    def fix(node: exp.ArrayRemove) -> exp.Expr | None:
        element = node.expression
        keep = exp.or_(
            exp.Is(this=exp.column("_qf_u"), expression=exp.null()),
            exp.NEQ(this=exp.column("_qf_u"), expression=element.copy()),
        )
        kept = exp.ArrayFilter(this=node.this, expression=_lambda(keep, "_qf_u"))
        return _case((exp.Is(this=element, expression=exp.null()), exp.null()), default=kept)

    return _rewrite(tree, exp.ArrayRemove, fix)


@trino_to_duckdb
def reverse_of_an_array(tree: exp.Expr) -> exp.Expr:
    """reverse() takes strings and arrays in Trino; DuckDB's REVERSE only strings. An
    operand typed ARRAY becomes LIST_REVERSE (an array column needs schema typing)."""
    return _rewrite(
        tree,
        exp.Reverse,
        lambda node: (
            _fn("LIST_REVERSE", node.this) if _is_type(node.this, exp.DType.ARRAY) else None
        ),
    )


@trino_to_duckdb
def length_of_varbinary(tree: exp.Expr) -> exp.Expr:
    """length(varbinary) counts bytes in Trino; DuckDB's LENGTH refuses a BLOB. An operand
    typed as binary (to_utf8(), from_hex(), a typed column) gets OCTET_LENGTH."""
    binary = (exp.DType.VARBINARY, exp.DType.BINARY)
    return _rewrite(
        tree,
        exp.Length,
        lambda node: (
            _fn("OCTET_LENGTH", node.this)
            if isinstance(node.this, exp.Encode | exp.Unhex) or _is_type(node.this, *binary)
            else None
        ),
    )


@trino_to_duckdb
def count_if_is_bigint(tree: exp.Expr) -> exp.Expr:
    """count_if() is BIGINT in Trino; DuckDB's COUNT_IF is HUGEINT (decimal(38,0) to a
    Trino client). Cast back (around the window, if any)."""

    def fix(node: exp.CountIf) -> exp.Expr | None:
        _cast_aggregate(node, "BIGINT")
        return None

    return _rewrite(tree, exp.CountIf, fix, detach=False)


@trino_to_duckdb
def approx_percentile_keeps_type(tree: exp.Expr) -> exp.Expr:
    """approx_percentile(x, p) has x's type in Trino, as DuckDB's APPROX_QUANTILE has;
    sqlglot casts the DuckDB result to DOUBLE (turning 3 into 3.0, and failing outright
    for an array of percentiles). Written as the plain call."""

    def fix(node: exp.ApproxQuantile) -> exp.Expr | None:
        if node.args.get("accuracy") is not None or node.args.get("weight") is not None:
            return None
        return _fn("APPROX_QUANTILE", node.this, node.args["quantile"])

    return _rewrite(tree, exp.ApproxQuantile, fix)


@trino_to_duckdb
def aggregates_under_other_names(tree: exp.Expr) -> exp.Expr:
    """Trino aggregates DuckDB lacks by name, passed through by sqlglot:
    every(b) -> BOOL_AND(b); map_agg(k, v) -> MAP(LIST(k), LIST(v))."""

    def fix(node: exp.Anonymous) -> exp.Expr | None:
        name, args = node.name.lower(), node.expressions
        if name == "every" and len(args) == 1:
            return exp.LogicalAnd(this=args[0])
        if name == "map_agg" and len(args) == 2:
            return _fn("MAP", exp.ArrayAgg(this=args[0]), exp.ArrayAgg(this=args[1]))
        return None

    return _rewrite(tree, exp.Anonymous, fix)


@trino_to_duckdb
def array_match_functions(tree: exp.Expr) -> exp.Expr:
    """any_match / all_match / none_match(array, predicate), which DuckDB lacks, as counts
    of matching elements. (Trino's NULL answer when the predicate is NULL for some element
    and no element decides is not reproduced.)"""

    def fix(node: exp.Anonymous) -> exp.Expr | None:
        name, args = node.name.lower(), node.expressions
        if name not in ("any_match", "all_match", "none_match") or len(args) != 2:
            return None
        array, predicate = args
        if not isinstance(predicate, exp.Lambda):
            return None
        if name == "all_match":
            predicate = exp.Lambda(
                this=exp.not_(exp.paren(predicate.this)), expressions=predicate.expressions
            )
        matching = _fn("LEN", exp.ArrayFilter(this=array, expression=predicate))
        if name == "any_match":
            return exp.GT(this=matching, expression=_num(0))
        return exp.EQ(this=matching, expression=_num(0))

    return _rewrite(tree, exp.Anonymous, fix)


@trino_to_duckdb
def repeat_builds_an_array(tree: exp.Expr) -> exp.Expr:
    """repeat(element, n) is an array of n elements in Trino; sqlglot writes DuckDB's
    string REPEAT ('ab' x 3 = 'ababab'). Written as LIST_TRANSFORM(RANGE(n), _ -> element)."""

    def fix(node: exp.Repeat) -> exp.Expr | None:
        times = node.args.get("times")
        if times is None:
            return None
        return exp.Transform(this=_fn("RANGE", times), expression=_lambda(node.this, "_qf_i"))

    return _rewrite(tree, exp.Repeat, fix)


@trino_to_duckdb
def json_extract_scalar_only_scalars(tree: exp.Expr) -> exp.Expr:
    """json_extract_scalar() of an object or array is NULL in Trino; DuckDB's `->>`
    returns the JSON text. Guarded with JSON_TYPE."""

    def fix(node: exp.JSONExtractScalar) -> exp.Expr | None:
        json_type = _fn("JSON_TYPE", node.this.copy(), node.expression.copy())
        composite = exp.In(
            this=json_type, expressions=[exp.Literal.string("OBJECT"), exp.Literal.string("ARRAY")]
        )
        return _case((composite, exp.null()), default=node)

    return _rewrite(tree, exp.JSONExtractScalar, fix)


def _is_map(expression: exp.Expr) -> bool:
    return isinstance(expression, exp.Map | exp.VarMap | exp.MapFromEntries) or _is_type(
        expression, exp.DType.MAP
    )


@trino_to_duckdb
def unnest_rows_and_zips(tree: exp.Expr) -> exp.Expr:
    """UNNEST in FROM where Trino and DuckDB differ:

    - an array of rows (or a map) unnests into one column per field in Trino
      (`UNNEST(ARRAY[ROW(1, 'a')]) AS t(n, s)`); DuckDB yields a single struct column
      (and refuses a map: its MAP_ENTRIES are unnested, when the map is recognisable);
    - several arrays unnest side by side (`UNNEST(a, b) AS t(x, y)`), which DuckDB's
      UNNEST table function refuses.

    Both become a subquery of select-list UNNESTs, which DuckDB expands (structs into
    their fields, several lists padded with NULLs like Trino's) and joins laterally:
    `(SELECT UNNEST(_qf_r) FROM UNNEST(e) AS _qf_u(_qf_r)) AS t(n, s)`. Rows are
    recognised by the alias naming more columns than there are arrays.
    """

    def fix(node: exp.Unnest) -> exp.Expr | None:
        if not isinstance(node.parent, exp.From | exp.Join):
            return None
        arrays = node.expressions
        alias = node.args.get("alias")
        columns = list(alias.columns) if isinstance(alias, exp.TableAlias) else []
        ordinality = node.args.get("offset")
        is_row = len(arrays) == 1 and (len(columns) > 1 or _is_map(arrays[0]))
        if not is_row and len(arrays) == 1:
            return None
        if len(arrays) > 1 and len(columns) > len(arrays):
            return None  # rows among several arrays: not rewritten
        if is_row:
            entries = _fn("MAP_ENTRIES", arrays[0]) if _is_map(arrays[0]) else arrays[0]
            source = exp.Unnest(
                expressions=[entries],
                alias=exp.TableAlias(this=_ident("_qf_u"), columns=[_ident("_qf_r")]),
                offset=_ident("_qf_o") if ordinality else None,
            )
            projections: list[exp.Expr] = [exp.Unnest(expressions=[exp.column("_qf_r")])]
            if ordinality:
                projections.append(exp.column("_qf_o"))
            select = exp.select(*projections).from_(source)
        else:
            projections = [
                exp.alias_(exp.Unnest(expressions=[array]), f"_qf_c{i}")
                for i, array in enumerate(arrays)
            ]
            if ordinality:
                longest = exp.func("GREATEST", *(_fn("LEN", a.copy()) for a in arrays))
                positions = _fn("RANGE", _num(1), exp.Add(this=longest, expression=_num(1)))
                projections.append(exp.alias_(exp.Unnest(expressions=[positions]), "_qf_o"))
            select = exp.select(*projections)
        names = [
            *columns,
            *([_ident(ordinality.name)] if isinstance(ordinality, exp.Identifier) else []),
        ]
        table = (
            alias.this if isinstance(alias, exp.TableAlias) and alias.this else _ident("_qf_unnest")
        )
        return exp.Subquery(this=select, alias=exp.TableAlias(this=table, columns=names or None))

    return _rewrite(tree, exp.Unnest, fix, detach=False)
