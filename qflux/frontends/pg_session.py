"""PostgreSQL session commands a proxy must answer itself, and command tags.

`SET`, `RESET`, `SHOW`, `BEGIN`/`COMMIT`/`ROLLBACK` and `DISCARD` concern the client's
session with qflux, not a backend connection (each query may run on another cluster),
so they are answered here with the tags and ParameterStatus updates clients expect.
Analytics engines behind the proxy are read-mostly: a transaction block is tracked for
the ReadyForQuery status but queries in it run as they come.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import attrs

#: Parameters reported to the client at start and when SET changes them.
REPORTED = (
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
)

_SET = re.compile(
    r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?([\w.]+)\s*(?:=|\bTO\b)\s*(.+?)\s*;?\s*$", re.I | re.S
)
_SET_TIME_ZONE = re.compile(r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?TIME\s+ZONE\s+(.+?)\s*;?\s*$", re.I)
_RESET = re.compile(r"^\s*RESET\s+(ALL|[\w.]+)\s*;?\s*$", re.I)
_SHOW = re.compile(r"^\s*SHOW\s+(ALL|[\w.]+)\s*;?\s*$", re.I)
_TX = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT)\b[\w\s,]*;?\s*$", re.I)
_SHOW_ISOLATION = re.compile(r"^\s*SHOW\s+TRANSACTION\s+ISOLATION\s+LEVEL\s*;?\s*$", re.I)
#: Session information functions drivers call on connect (SQLAlchemy, JDBC, BI tools).
_SESSION_FUNCTION = re.compile(
    r"^\s*SELECT\s+(?:pg_catalog\.)?(version|current_schema|current_database|current_user"
    r"|session_user)\s*(?:\(\s*\))?\s*(?:AS\s+(\w+|\"[^\"]+\"))?\s*;?\s*$",
    re.I,
)
_SAVEPOINT = re.compile(
    r"^\s*(SAVEPOINT|RELEASE(?:\s+SAVEPOINT)?|ROLLBACK\s+TO(?:\s+SAVEPOINT)?)\s+\S+\s*;?\s*$", re.I
)
_DISCARD = re.compile(r"^\s*DISCARD\s+(ALL|PLANS|SEQUENCES|TEMP|TEMPORARY)\s*;?\s*$", re.I)
_CONNECTION_KEYS = frozenset(
    {"user", "database", "options", "replication", "application_name", "client_encoding"}
)
_FIRST_WORDS = re.compile(r"^\s*(\w+)(?:\s+(\w+))?", re.S)
_LEADING_WORD = re.compile(r"\s*([A-Za-z]*)")
#: The first word of every statement answered here. Most statements are queries for an
#: engine, and one look at the first word spares each of them the patterns above.
_LOCAL_WORDS = frozenset(
    {"SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "START", "COMMIT", "END", "ABORT", "SET",
     "RESET", "SHOW", "DISCARD"}
)  # fmt: skip


@attrs.frozen
class LocalAnswer:
    """A statement answered by the proxy: its tag, and a one-row result for SHOW."""

    tag: str
    show: tuple[str, str] | None = None  # (name, value)
    changed: tuple[str, ...] = ()  # reported parameters to send again


@attrs.define
class PgSessionState:
    parameters: dict[str, str]
    database: str = ""
    engine_name: str = "DuckDB"
    in_transaction: bool = False
    failed_transaction: bool = False

    @property
    def status(self) -> Literal["I", "T", "E"]:
        """The ReadyForQuery transaction status: idle, in a block, or in a failed block."""
        if self.failed_transaction:
            return "E"
        return "T" if self.in_transaction else "I"

    def answer(self, sql: str) -> LocalAnswer | None:
        """Answer a session command, or None when the statement is for the engine."""
        word = _leading_word(sql)
        if word == "SELECT":  # only a session function is answered here
            return None if self.failed_transaction else self._function_answer(sql)
        if word not in _LOCAL_WORDS:
            return None
        if m := _SAVEPOINT.match(sql):  # nothing to undo: queries ran as they came
            word = m.group(1).split()[0].upper()
            if word == "ROLLBACK":
                self.failed_transaction = False
            return LocalAnswer(word)
        if m := _TX.match(sql):
            return self._transaction(m.group(1).upper().split()[0])
        if self.failed_transaction:
            return None  # the driver reports 25P02 for anything else
        if m := _SET_TIME_ZONE.match(sql):
            return self._set("TimeZone", _value(m.group(1)))
        if m := _SET.match(sql):
            return self._set(m.group(1), _value(m.group(2)))
        if m := _RESET.match(sql):
            return self._reset(m.group(1))
        if _SHOW_ISOLATION.match(sql):
            return LocalAnswer("SHOW", show=("transaction_isolation", "read committed"))
        if m := _SHOW.match(sql):
            name = m.group(1)
            value = self._lookup(name)
            if value is None:
                return None  # let the engine answer (or fail) for unknown settings
            return LocalAnswer("SHOW", show=(name.lower(), value))
        if m := _DISCARD.match(sql):
            return LocalAnswer(f"DISCARD {m.group(1).upper()}")
        return None

    def local_columns(self, sql: str) -> tuple[str, ...] | None:
        """Without side effects: the result column a locally answered statement returns,
        () for one that returns no rows, None when the engine must answer it."""
        word = _leading_word(sql)
        if word == "SELECT":
            m = _SESSION_FUNCTION.match(sql)
            return None if m is None else ((m.group(2) or m.group(1).lower()).strip('"'),)
        if word not in _LOCAL_WORDS:
            return None
        if _SHOW_ISOLATION.match(sql):
            return ("transaction_isolation",)
        if m := _SHOW.match(sql):
            return (m.group(1).lower(),) if self._lookup(m.group(1)) is not None else None
        if any(p.match(sql) for p in (_SAVEPOINT, _TX, _SET_TIME_ZONE, _SET, _RESET, _DISCARD)):
            return ()
        return None

    def _function_answer(self, sql: str) -> LocalAnswer | None:
        if m := _SESSION_FUNCTION.match(sql):
            name = m.group(1).lower()
            column = (m.group(2) or name).strip('"')
            return LocalAnswer("SELECT 1", show=(column, self._session_function(name)))
        return None

    def apply_startup(self, startup: Mapping[str, str]) -> None:
        """Settings given in the startup packet (libpq sends PGTZ, PGDATESTYLE so), which
        PostgreSQL applies as if SET; connection keys are not settings."""
        for name, value in startup.items():
            if name.lower() not in _CONNECTION_KEYS:
                self._set(name, value)

    def version(self) -> str:
        """What `version()` says: PostgreSQL's form, naming qflux and the engine."""
        version = self.parameters.get("server_version", "")
        return f"PostgreSQL {version} (qflux, queries run on {self.engine_name})"

    def _session_function(self, name: str) -> str:
        user = self.parameters.get("session_authorization", "")
        if name == "version":
            return self.version()
        if name == "current_schema":
            return "main"
        if name == "current_database":
            return self.database
        return user

    def _transaction(self, word: str) -> LocalAnswer:
        if word in ("BEGIN", "START"):
            self.in_transaction = True
            return LocalAnswer("BEGIN" if word == "BEGIN" else "START TRANSACTION")
        failed = self.failed_transaction
        self.in_transaction = self.failed_transaction = False
        if word in ("COMMIT", "END"):
            return LocalAnswer("ROLLBACK" if failed else "COMMIT")
        return LocalAnswer("ROLLBACK")

    def _set(self, name: str, value: str) -> LocalAnswer:
        canonical = self._canonical(name)
        self.parameters[canonical] = value
        return LocalAnswer("SET", changed=(canonical,) if canonical in REPORTED else ())

    def _reset(self, name: str) -> LocalAnswer:
        if name.upper() == "ALL":
            return LocalAnswer("RESET")
        canonical = self._canonical(name)
        self.parameters.pop(canonical, None)
        return LocalAnswer("RESET", changed=(canonical,) if canonical in REPORTED else ())

    def _lookup(self, name: str) -> str | None:
        return self.parameters.get(self._canonical(name))

    def _canonical(self, name: str) -> str:
        lowered = name.lower()
        for known in (*REPORTED, *self.parameters):
            if known.lower() == lowered:
                return known
        return lowered


def _value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    return raw


def command_tag(sql: str, rows: int, count: int | None) -> str:
    """The CommandComplete tag: `SELECT n`, `INSERT 0 n`, `UPDATE n`, `CREATE TABLE` ..."""
    m = _FIRST_WORDS.match(sql)
    first = (m.group(1) or "").upper() if m else ""
    second = (m.group(2) or "").upper() if m and m.group(2) else ""
    if first == "INSERT":
        return f"INSERT 0 {count if count is not None else rows}"
    if first in ("UPDATE", "DELETE", "MERGE", "COPY"):
        return f"{first} {count if count is not None else rows}"
    if first in ("CREATE", "DROP", "ALTER") and second:
        return f"{first} {second}"
    if first in ("SELECT", "WITH", "VALUES", "TABLE", "SHOW", "DESCRIBE", "EXPLAIN", "FROM"):
        return f"SELECT {rows}"
    return first or "SELECT 0"


def _leading_word(sql: str) -> str:
    match = _LEADING_WORD.match(sql)
    assert match is not None  # the pattern matches any string
    return match.group(1).upper()
