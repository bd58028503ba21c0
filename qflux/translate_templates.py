"""Translations reused across literal values: one sqlglot run per statement shape.

Point queries repeat one shape with new values (`... WHERE aid = 48213`), so an exact
text cache misses every time and each query pays a full parse and generate. Here the
statement is tokenized (about a tenth of a translation), the integer and plain string
literals that are operands of a comparison or of LIMIT/OFFSET, or the whole value of a
`CAST(... AS type)` to a scalar type, are lifted out, and the remaining text is the
key. A shape's template comes from translating the statement with a distinct sentinel
in each lifted place; it is kept only if every sentinel comes out exactly once,
verbatim, and filling the template with the first statement's own values reproduces
that statement's real translation. Only those positions are lifted because there a
literal is a value the translation carries over unchanged; elsewhere (format strings,
interval text, array indexes) sqlglot may rewrite it. The casts are how the PostgreSQL
frontend binds a typed parameter (`aid = CAST(48213 AS INT)`).
"""

from __future__ import annotations

import re

import attrs
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token, TokenType

_COMPARISONS = frozenset(
    {TokenType.EQ, TokenType.NEQ, TokenType.GT, TokenType.GTE, TokenType.LT, TokenType.LTE}
)
_COUNTS = frozenset({"LIMIT", "OFFSET"})
_CASTS = frozenset({"CAST", "TRY_CAST"})
#: Types a cast's literal keeps its text under in every dialect; not INTERVAL, whose
#: text some dialects split into value and unit.
_CAST_TYPES = frozenset(
    {
        TokenType.SMALLINT,
        TokenType.INT,
        TokenType.BIGINT,
        TokenType.FLOAT,
        TokenType.DOUBLE,
        TokenType.DECIMAL,
        TokenType.DATE,
        TokenType.TIME,
        TokenType.TIMESTAMP,
        TokenType.TIMESTAMPTZ,
        TokenType.UUID,
        TokenType.VARCHAR,
        TokenType.TEXT,
    }
)
_SENTINEL_INT = 1_000_000_007  # distinct, int32, and unlikely in a statement's own text
_DIGITS = re.compile(r"[0-9]{1,9}")


@attrs.frozen
class Shape:
    """A statement with its liftable literals taken out."""

    key: str  # the text with each lifted literal replaced by a marker of its kind
    literals: tuple[str, ...]  # the lifted literals as written ('abc', 42)
    sentinel_sql: str  # the text with a distinct sentinel in each lifted place
    sentinels: tuple[str, ...]


@attrs.frozen
class Template:
    """Translated text around the lifted places: parts[i], literal i, parts[i + 1] ..."""

    parts: tuple[str, ...]
    order: tuple[int, ...]  # which literal goes into each gap

    def fill(self, literals: tuple[str, ...]) -> str:
        out = [self.parts[0]]
        for gap, index in enumerate(self.order):
            out += (literals[index], self.parts[gap + 1])
        return "".join(out)


def shape_of(sql: str, dialect: str) -> Shape | None:
    """The statement's shape, or None when nothing can be lifted (or it will not tokenize)."""
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except Exception:  # the translation itself will report what is wrong
        return None
    key: list[str] = []
    sentinel: list[str] = []
    literals: list[str] = []
    sentinels: list[str] = []
    at = 0
    for index, token in enumerate(tokens):
        lifted = _liftable(sql, tokens, index)
        if lifted is None:
            continue
        kind, raw = lifted
        start, end = token.start, token.end + 1  # a string's span includes its quotes
        key += (sql[at:start], f"\x00{kind}")
        mark = str(_SENTINEL_INT + len(literals)) if kind == "n" else f"'qflux_lit_{len(literals)}'"
        sentinel += (sql[at:start], mark)
        literals.append(raw)
        sentinels.append(mark)
        at = end
    if not literals:
        return None
    key.append(sql[at:])
    sentinel.append(sql[at:])
    return Shape("".join(key), tuple(literals), "".join(sentinel), tuple(sentinels))


def _liftable(sql: str, tokens: list[Token], index: int) -> tuple[str, str] | None:
    """("n" | "s", the literal as written) for a literal in a value position."""
    if not _in_value_place(tokens, index):
        return None
    token = tokens[index]
    raw = sql[token.start : token.end + 1]
    if token.token_type == TokenType.NUMBER and _DIGITS.fullmatch(token.text):
        return ("n", raw) if raw == token.text else None
    if token.token_type == TokenType.STRING:
        text = token.text
        plain = "'" not in text and "\\" not in text and raw == f"'{text}'"
        return ("s", raw) if plain else None
    return None


def _in_value_place(tokens: list[Token], index: int) -> bool:
    """After a comparison, LIMIT or OFFSET, or alone in `CAST(_ AS type)` of a
    scalar type."""
    if index == 0:
        return False
    previous = tokens[index - 1]
    if previous.token_type in _COMPARISONS or previous.text.upper() in _COUNTS:
        return True
    return (
        previous.token_type == TokenType.L_PAREN
        and index >= 2
        and tokens[index - 2].text.upper() in _CASTS
        and index + 2 < len(tokens)
        and tokens[index + 1].token_type == TokenType.ALIAS
        and tokens[index + 2].token_type in _CAST_TYPES
    )


def make_template(shape: Shape, translated_sentinels: str, translated_real: str) -> Template | None:
    """The template, if the sentinels came through verbatim, each exactly once, and the
    first statement's values put back give its real translation."""
    positions = []
    for index, mark in enumerate(shape.sentinels):
        pattern = re.escape(mark) if mark.startswith("'") else rf"(?<![\w.]){mark}(?![\w.])"
        found = [m.start() for m in re.finditer(pattern, translated_sentinels)]
        if len(found) != 1:
            return None
        positions.append((found[0], index, len(mark)))
    positions.sort()
    parts, order, at = [], [], 0
    for start, index, length in positions:
        parts.append(translated_sentinels[at:start])
        order.append(index)
        at = start + length
    parts.append(translated_sentinels[at:])
    template = Template(tuple(parts), tuple(order))
    return template if template.fill(shape.literals) == translated_real else None
