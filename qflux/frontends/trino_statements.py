"""Trino statements that change the client's session rather than query data.

In Trino these never reach a worker: the coordinator answers them and tells the
client, through `X-Trino-Set-*` response headers, what to send on later requests.
qflux does the same, so `USE`, `SET SESSION`, prepared statements and the trino
client's parameter binding (`EXECUTE IMMEDIATE ... USING`) work against any engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs
import sqlglot
from sqlglot import exp

from qflux.core import ErrorCode, QueryError
from qflux.dialect_fixes import bound_in_place
from qflux.protocols.trino_http import SessionUpdate

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_USE = re.compile(rf"^\s*USE\s+({_IDENT})(?:\s*\.\s*({_IDENT}))?\s*;?\s*$", re.I)
_SET_SESSION = re.compile(
    rf"^\s*SET\s+SESSION\s+({_IDENT}(?:\.{_IDENT})?)\s*=\s*(.+?)\s*;?\s*$", re.I | re.S
)
_RESET_SESSION = re.compile(rf"^\s*RESET\s+SESSION\s+({_IDENT}(?:\.{_IDENT})?)\s*;?\s*$", re.I)
_PREPARE = re.compile(rf"^\s*PREPARE\s+({_IDENT})\s+FROM\s+(.+?)\s*;?\s*$", re.I | re.S)
_DEALLOCATE = re.compile(rf"^\s*DEALLOCATE\s+PREPARE\s+({_IDENT})\s*;?\s*$", re.I)
_EXECUTE_IMMEDIATE = re.compile(
    r"^\s*EXECUTE\s+IMMEDIATE\s+'((?:[^']|'')*)'\s*(?:USING\s+(.+?))?\s*;?\s*$", re.I | re.S
)
_EXECUTE = re.compile(rf"^\s*EXECUTE\s+({_IDENT})\s*(?:USING\s+(.+?))?\s*;?\s*$", re.I | re.S)
_FIRST_WORD = re.compile(r"^\s*(\w+)")


@attrs.frozen
class Rewritten:
    """What to do with a statement: run `sql` (None = answer locally, no rows)."""

    sql: str | None
    update: SessionUpdate | None = None
    update_type: str | None = None


def rewrite(sql: str, prepared: Mapping[str, str]) -> Rewritten:
    """Answer session statements locally and bind parameters; pass the rest through."""
    word = _FIRST_WORD.match(sql)
    keyword = word.group(1).upper() if word else ""
    if keyword not in {"USE", "SET", "RESET", "PREPARE", "DEALLOCATE", "EXECUTE"}:
        return Rewritten(sql)
    if m := _USE.match(sql):
        first, second = m.group(1), m.group(2)
        catalog = _unquote(first) if second else None
        update = SessionUpdate(set_catalog=catalog, set_schema=_unquote(second or first))
        return Rewritten(None, update, "USE")
    if m := _SET_SESSION.match(sql):
        value = _literal_text(m.group(2))
        return Rewritten(None, SessionUpdate(set_session={m.group(1): value}), "SET SESSION")
    if m := _RESET_SESSION.match(sql):
        return Rewritten(None, SessionUpdate(clear_session=(m.group(1),)), "RESET SESSION")
    if m := _PREPARE.match(sql):
        name = _unquote(m.group(1))
        return Rewritten(None, SessionUpdate(added_prepare={name: m.group(2)}), "PREPARE")
    if m := _DEALLOCATE.match(sql):
        name = _unquote(m.group(1))
        return Rewritten(None, SessionUpdate(deallocated_prepare=(name,)), "DEALLOCATE")
    if m := _EXECUTE_IMMEDIATE.match(sql):
        return Rewritten(bind_parameters(m.group(1).replace("''", "'"), m.group(2)))
    if m := _EXECUTE.match(sql):
        name = _unquote(m.group(1))
        statement = prepared.get(name)
        if statement is None:
            raise QueryError(ErrorCode.NOT_FOUND, f"Prepared statement not found: {name}")
        return Rewritten(bind_parameters(statement, m.group(2)))
    return Rewritten(sql)


def bind_parameters(statement: str, using: str | None) -> str:
    """Substitute `?` placeholders with the USING literals through the SQL AST.

    Values are parsed as SQL expressions and placed into the statement's tree, never
    pasted into its text, so a parameter cannot change the statement's shape.
    """
    values: list[exp.Expression] = []
    if using:
        try:
            select = sqlglot.parse_one(f"SELECT {using}", read="trino")
        except sqlglot.errors.ParseError as exc:
            raise QueryError(ErrorCode.SYNTAX_ERROR, f"invalid USING parameters: {exc}") from exc
        values = list(select.expressions)
    try:
        tree = sqlglot.parse_one(statement, read="trino")
    except sqlglot.errors.ParseError as exc:
        raise QueryError(ErrorCode.SYNTAX_ERROR, str(exc)) from exc
    placeholders = list(tree.find_all(exp.Placeholder, bfs=False))  # source order
    if len(placeholders) != len(values):
        raise QueryError(
            ErrorCode.SEMANTIC_ERROR,
            f"Incorrect number of parameters: expected {len(placeholders)} but found {len(values)}",
        )
    if not values:
        return statement
    for placeholder, value in zip(placeholders, values, strict=True):
        placeholder.replace(bound_in_place(placeholder, value.copy(), "trino"))
    return tree.sql(dialect="trino")


def _unquote(identifier: str) -> str:
    """Trino identifiers: quoted ones verbatim, bare ones lower-cased."""
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()


def _literal_text(value: str) -> str:
    """Trino sends a session property's value as the literal's text: 'abc' -> abc."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value
