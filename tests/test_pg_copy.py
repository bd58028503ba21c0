"""COPY ... TO STDOUT through qflux, byte for byte against the PostgreSQL server here."""

from __future__ import annotations

import datetime as dt
import subprocess

import psycopg
import pytest

from .test_pg_types import postgres  # noqa: F401 - the real server, for comparison
from .test_postgres_wire import dsn, pg_config

ROWS = (
    "(1, 'a\tb\\c', DATE '2024-01-01', 1.5, true),"
    " (2, NULL, NULL, NULL, NULL),"
    " (3, 'q\"x,y', DATE '2024-02-02', -2, false),"
    " (4, '', DATE '2024-03-03', 0.25, true),"
    " (5, 'line\nbreak', DATE '2024-04-04', 1e20, false)"
)


@pytest.fixture(scope="module")
def copy_proxy():
    from qflux.testing import serve_in_thread, with_ephemeral_ports

    with serve_in_thread(with_ephemeral_ports(pg_config())) as proxy:
        with psycopg.connect(dsn(proxy), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id INTEGER, s VARCHAR, d DATE, x DOUBLE, b BOOLEAN)")
            conn.execute(f"INSERT INTO t VALUES {ROWS}")
        yield proxy


@pytest.fixture(scope="module")
def real_table(postgres):  # noqa: F811
    postgres.execute(
        "DROP TABLE IF EXISTS qflux_copy;"
        " CREATE TABLE qflux_copy (id integer, s text, d date, x float8, b boolean)"
    )
    postgres.execute(f"INSERT INTO qflux_copy VALUES {ROWS}")
    yield postgres
    postgres.execute("DROP TABLE qflux_copy")


def copied(conn: psycopg.Connection, sql: str) -> bytes:
    with conn.cursor() as cursor, cursor.copy(sql) as copy:
        return b"".join(bytes(chunk) for chunk in copy)


@pytest.mark.parametrize(
    "options",
    [
        "",
        "(FORMAT csv)",
        "(FORMAT csv, HEADER true)",
        "WITH CSV HEADER",
        "(FORMAT csv, DELIMITER ';', NULL 'NULL')",
        "(DELIMITER '|', NULL '')",
        "(FORMAT binary)",
    ],
)
def test_copy_bytes_match_postgresql(copy_proxy, real_table, options):
    with psycopg.connect(dsn(copy_proxy), autocommit=True) as conn:
        ours = copied(conn, f"COPY (SELECT * FROM t ORDER BY id) TO STDOUT {options}")
    theirs = copied(real_table, f"COPY (SELECT * FROM qflux_copy ORDER BY id) TO STDOUT {options}")
    assert ours == theirs


def test_copy_rows_typed_and_counted(copy_proxy):
    with psycopg.connect(dsn(copy_proxy), autocommit=True) as conn, conn.cursor() as cursor:
        with cursor.copy("COPY t (id, d) TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(["int4", "date"])
            rows = sorted(copy.rows(), key=lambda row: row[0])
        assert rows[0] == (1, dt.date(2024, 1, 1)) and rows[1] == (2, None)
        assert cursor.rowcount == 5
        with cursor.copy("COPY (SELECT * FROM t WHERE false) TO STDOUT (FORMAT binary)") as copy:
            assert list(copy.rows()) == []
        with cursor.copy("COPY (SELECT s FROM t WHERE id = 1) TO STDOUT") as copy:
            assert list(copy.rows()) == [("a\tb\\c",)]


def test_psql_copy_to_stdout(copy_proxy):
    done = subprocess.run(
        [
            "psql",
            dsn(copy_proxy),
            "-X",
            "-c",
            r"\copy (SELECT id, s FROM t WHERE id < 4 ORDER BY id) to stdout with csv",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '1,a\tb\\c\n2,\n3,"q""x,y"\n'


def test_unsupported_copy_is_refused_and_the_session_goes_on(copy_proxy):
    with psycopg.connect(dsn(copy_proxy), autocommit=True) as conn, conn.cursor() as cursor:
        refused = pytest.raises(psycopg.errors.FeatureNotSupported, match="COPY FROM")
        with refused, cursor.copy("COPY t FROM STDIN") as copy:
            copy.write_row((9, "x", None, None, None))
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="FORCE_QUOTE"):
            copied(conn, "COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE *)")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="server file"):
            conn.execute("COPY t TO '/tmp/out.csv'")
        with pytest.raises(psycopg.errors.UndefinedTable):
            copied(conn, "COPY missing TO STDOUT")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (5,)
