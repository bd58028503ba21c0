"""Which statements the PostgreSQL frontend answers itself, and which go to an engine."""

from __future__ import annotations

import pytest

from qflux.frontends.pg_session import PgSessionState

LOCAL = [
    ("SET application_name = 'x'", "SET", ()),
    ("  set\tsearch_path TO public;", "SET", ()),
    ("SET SESSION TIME ZONE 'UTC'", "SET", ()),
    ("RESET ALL", "RESET", ()),
    ("show TimeZone", "SHOW", ("timezone",)),
    ("SHOW TRANSACTION ISOLATION LEVEL", "SHOW", ("transaction_isolation",)),
    ("\n BEGIN", "BEGIN", ()),
    ("start transaction read only", "START TRANSACTION", ()),
    ("SAVEPOINT s1", "SAVEPOINT", ()),
    ("RELEASE SAVEPOINT s1", "RELEASE", ()),
    ("rollback to savepoint s1", "ROLLBACK", ()),
    ("COMMIT;", "COMMIT", ()),
    ("DISCARD ALL", "DISCARD ALL", ()),
    ("select version()", "SELECT 1", ("version",)),
    ("SELECT current_user AS who", "SELECT 1", ("who",)),
]
ENGINE = [
    "SELECT 1",
    "select * from settings",
    "SETTINGS",
    "SHOW no_such_setting",
    "WITH t AS (SELECT 1) SELECT * FROM t",
    "/* SET x = 1 */ SELECT 2",
    "",
    "   ",
    "1",
]


def state() -> PgSessionState:
    return PgSessionState(parameters={"TimeZone": "UTC", "application_name": ""})


@pytest.mark.parametrize(("sql", "tag", "columns"), LOCAL)
def test_session_commands_are_answered_here(sql, tag, columns):
    assert state().local_columns(sql) == columns
    answer = state().answer(sql)
    assert answer is not None
    assert answer.tag == tag


@pytest.mark.parametrize("sql", ENGINE)
def test_other_statements_go_to_the_engine(sql):
    assert state().local_columns(sql) is None
    assert state().answer(sql) is None


def test_a_failed_transaction_answers_only_its_end():
    session = state()
    session.in_transaction = session.failed_transaction = True
    assert session.answer("SELECT version()") is None  # the driver reports 25P02
    assert session.answer("SET application_name = 'x'") is None
    answer = session.answer("ROLLBACK")
    assert answer is not None
    assert answer.tag == "ROLLBACK"
    assert session.status == "I"
