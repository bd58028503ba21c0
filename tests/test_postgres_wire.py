"""The PostgreSQL wire frontend driven by real clients: psql, psycopg 3 and asyncpg."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import os
import socket
import subprocess
import threading
import time
import uuid

import asyncpg
import psycopg
import pytest

from qflux.frontends import postgres_wire
from qflux.testing import pgbench_tables

from .conftest import duckdb_config, group_load, wait_until

LONG_QUERY = "SELECT sum(i) FROM range(10000000000) t(i)"


def pg_config(**group) -> dict:
    config = duckdb_config(**group)
    config["queryflux"] = {"frontends": {"postgresWire": {"enabled": True}}}
    return config


@pytest.fixture(scope="module")
def pg_proxy():
    from qflux.testing import serve_in_thread, with_ephemeral_ports

    with serve_in_thread(with_ephemeral_ports(pg_config())) as proxy:
        yield proxy


def dsn(proxy) -> str:
    return f"host=127.0.0.1 port={proxy.port('postgresWire')} user=tester dbname=memory"


def test_psycopg_simple_and_typed_results(pg_proxy):
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
        row = conn.execute(
            "SELECT 42 AS answer, 'héllo' AS s, 1.5::double precision AS f, true AS b,"
            " 12.34::numeric(10,2) AS n, DATE '2024-02-29' AS d,"
            " TIMESTAMP '2024-01-02 03:04:05.5' AS ts, NULL::int AS nothing,"
            " '3f1c6c3e-7a38-4a42-9e6b-6c0f9c0c6b1e'::uuid AS u, ARRAY[1, 2] AS a"
        ).fetchone()
        assert row == (
            42, "héllo", 1.5, True, decimal.Decimal("12.34"), dt.date(2024, 2, 29),
            dt.datetime(2024, 1, 2, 3, 4, 5, 500000), None,
            uuid.UUID("3f1c6c3e-7a38-4a42-9e6b-6c0f9c0c6b1e"), [1, 2],
        )  # fmt: skip
        cur = conn.execute("SELECT 1 AS one; SELECT 2 AS two")
        assert cur.fetchall() == [(1,)]
        assert cur.nextset() and cur.fetchall() == [(2,)]


def test_psycopg_parameters_binary_and_prepared(pg_proxy):
    with psycopg.connect(dsn(pg_proxy), autocommit=True, prepare_threshold=0) as conn:
        for _ in range(3):  # server-side prepared from the first execution
            row = conn.execute(
                "SELECT %s + 1 AS n, %s AS s, %s AS d", (41, "it's", dt.date(2024, 1, 1))
            ).fetchone()
            assert row == (42, "it's", dt.date(2024, 1, 1))
        cur = conn.cursor(binary=True)
        cur.execute("SELECT %s::bigint * 2, %s", (21, None))
        assert cur.fetchone() == (42, None)
        cur.execute("SELECT i FROM range(5) t(i) WHERE i >= %s", (3,))
        assert cur.fetchall() == [(3,), (4,)]
        # PostgreSQL's arrays count from 1, typed subscripts too.
        assert conn.execute("SELECT (ARRAY[10, 20, 30])[%s]", (2,)).fetchone() == (20,)


def test_a_prepared_statement_keeps_its_result_type_as_postgresql_does(pg_proxy):
    """Once described, a prepared statement's portals are described from it and run at
    Execute; a query whose columns changed since fails as PostgreSQL's does, and the
    next execution describes afresh."""
    query = "SELECT a, %s::int AS k FROM shape_change ORDER BY a"
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
        conn.execute("CREATE TABLE shape_change(a INT)")
        conn.execute("INSERT INTO shape_change VALUES (1), (2)")
        for k in (7, 8, 9):  # the first describes, the rest reuse it
            assert conn.execute(query, (k,), prepare=True).fetchall() == [(1, k), (2, k)]
        conn.execute("ALTER TABLE shape_change ALTER a TYPE VARCHAR")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="must not change result"):
            conn.execute(query, (10,), prepare=True)
        assert conn.execute(query, (11,), prepare=True).fetchall() == [("1", 11), ("2", 11)]
        # An unnamed column: DuckDB names it after its text, values and all; the shape
        # (type and format) is what must hold.
        for i in range(3):
            assert conn.execute("SELECT %s::int + 1", (i,), prepare=True).fetchone() == (i + 1,)


def test_session_commands_are_answered_locally(pg_proxy):
    with psycopg.connect(dsn(pg_proxy)) as conn:  # psycopg opens a transaction block
        conn.execute("SET application_name = 'reports'")
        assert conn.execute("SHOW application_name").fetchone() == ("reports",)
        assert conn.info.parameter_status("application_name") == "reports"
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        conn.rollback()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with conn.transaction():
            conn.execute("SELECT 1")
        conn.execute("DISCARD ALL")


def test_errors_carry_real_sqlstates_and_the_connection_survives(pg_proxy):
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as syntax:
            conn.execute("SELEC 1")
        assert 'syntax error at or near "SELEC"' in str(syntax.value)
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table")
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT %s::int", ("x",))
        assert conn.execute("SELECT 'still here'").fetchone() == ("still here",)


def test_cancel_stops_the_query_at_the_engine(pg_proxy):
    engine = pg_proxy.server.clusters["duck"].engine
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
        errors: list[Exception] = []

        def run() -> None:
            try:
                conn.execute(LONG_QUERY)
            except psycopg.Error as exc:
                errors.append(exc)

        runner = threading.Thread(target=run)
        runner.start()
        wait_until(lambda: pg_proxy.call(lambda: engine.active_calls) == 1)
        conn.cancel_safe()
        runner.join(5)
        assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)
        wait_until(lambda: pg_proxy.call(lambda: engine.active_calls) == 0, timeout=2)
        assert conn.execute("SELECT 1").fetchone() == (1,)
    record = pg_proxy.server.dispatcher.history.recent(2)[1]
    assert record.cancel_reason == "client_cancel"


def test_wrong_cancel_key_does_nothing(pg_proxy):
    port = pg_proxy.port("postgresWire")
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
        pid = conn.info.backend_pid
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall((16).to_bytes(4, "big") + (80877102).to_bytes(4, "big")
                         + pid.to_bytes(4, "big") + b"\x00\x00\x00\x00")  # fmt: skip
            assert sock.recv(100) == b""  # closed without an answer
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_disconnect_mid_query_frees_the_slot(pg_proxy):
    engine = pg_proxy.server.clusters["duck"].engine
    conn = psycopg.connect(dsn(pg_proxy), autocommit=True)
    runner = threading.Thread(target=lambda: _swallow(conn.execute, LONG_QUERY))
    runner.start()
    wait_until(lambda: pg_proxy.call(lambda: engine.active_calls) == 1)
    with socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock:
        sock.shutdown(socket.SHUT_RDWR)  # the client's host drops the connection
    wait_until(lambda: group_load(pg_proxy) == (0, 0), timeout=3)
    wait_until(lambda: pg_proxy.call(lambda: engine.active_calls) == 0, timeout=2)
    runner.join(5)
    conn.close()
    record = pg_proxy.server.dispatcher.history.recent(1)[0]
    assert record.cancel_reason == "client_disconnect"


def _startup(port: int) -> socket.socket:
    """A raw protocol-3.0 session, authenticated (trust) and ready for a query."""
    sock = socket.create_connection(("127.0.0.1", port))
    body = (3 << 16).to_bytes(4, "big") + b"user\0tester\0database\0memory\0\0"
    sock.sendall((len(body) + 4).to_bytes(4, "big") + body)
    seen = b""
    while not seen.endswith(b"Z\x00\x00\x00\x05I"):  # ReadyForQuery, idle
        chunk = sock.recv(4096)
        assert chunk, "closed during startup"
        seen += chunk
    return sock


def test_a_query_sent_just_before_a_hang_up_is_cancelled(pg_proxy):
    """The client is gone before its query starts: it must not run to its end."""
    engine = pg_proxy.server.clusters["duck"].engine
    sql = LONG_QUERY + " -- sent, then hung up"
    sock = _startup(pg_proxy.port("postgresWire"))
    query = sql.encode() + b"\0"
    sock.sendall(b"Q" + (len(query) + 4).to_bytes(4, "big") + query)
    sock.close()

    def finished() -> object:
        records = pg_proxy.server.dispatcher.history.recent(5)
        return next((r for r in records if r.sql == sql and r.cancel_reason), None)

    record = wait_until(finished, timeout=5)
    assert record.cancel_reason == "client_disconnect"
    wait_until(lambda: pg_proxy.call(lambda: engine.active_calls) == 0, timeout=2)


def _query_message(sql: str) -> bytes:
    body = sql.encode() + b"\0"
    return b"Q" + (len(body) + 4).to_bytes(4, "big") + body


def _first_values(sock: socket.socket, queries: int) -> list[bytes]:
    """The first column of each DataRow, until `queries` ReadyForQuery have come."""
    values: list[bytes] = []
    buffer = b""
    while queries:
        while len(buffer) < 5 or len(buffer) < 1 + int.from_bytes(buffer[1:5], "big"):
            chunk = sock.recv(65536)
            assert chunk, "closed before the answers"
            buffer += chunk
        end = 1 + int.from_bytes(buffer[1:5], "big")
        kind, body, buffer = buffer[:1], buffer[5:end], buffer[end:]
        if kind == b"D":
            length = int.from_bytes(body[2:6], "big")
            values.append(body[6 : 6 + length])
        elif kind == b"Z":
            queries -= 1
    return values


def test_a_message_sent_while_a_long_query_runs_is_answered_in_turn(pg_proxy):
    """A query still running after WATCH_AFTER_SECS gets a task reading the socket (it
    sees a hang-up at once); what that task reads is the session's next message,
    answered after the first, and the session reads for itself again afterwards."""
    sock = _startup(pg_proxy.port("postgresWire"))
    with sock:
        sock.sendall(_query_message("SELECT sum(i) FROM range(100000000) t(i)"))
        time.sleep(postgres_wire.WATCH_AFTER_SECS * 3)  # the read-ahead task runs by now
        sock.sendall(_query_message("SELECT 42"))
        assert _first_values(sock, 2) == [b"4999999950000000", b"42"]
        for value in (7, 8):
            sock.sendall(_query_message(f"SELECT {value}"))
            assert _first_values(sock, 1) == [str(value).encode()]


def test_a_pipeline_larger_than_the_read_ahead_gets_every_answer(pg_proxy):
    """psycopg's pipeline mode sends everything before reading: here about 3 MB, three
    times what the proxy reads ahead, so reading pauses and resumes on the way. A
    reader that never resumed would hang the client: it runs on a thread, bounded."""
    filler = "x" * 1000
    answers: list[object] = []

    def pipeline() -> None:
        with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
            with conn.pipeline():
                cursors = [
                    conn.execute("SELECT %s::int AS n, length(%s) AS l", (i, filler))
                    for i in range(3000)
                ]
            answers.extend(cur.fetchone() for cur in cursors)
            answers.append(conn.execute("SELECT 'after'").fetchone())

    client = threading.Thread(target=pipeline, daemon=True)
    client.start()
    client.join(60)
    assert not client.is_alive(), "the pipeline stalled"
    assert answers == [(i, 1000) for i in range(3000)] + [("after",)]


def _swallow(fn, *args):
    """Run a call whose failure is the point (the connection is about to drop)."""
    with contextlib.suppress(Exception):
        fn(*args)


def test_psql_runs_a_command(pg_proxy):
    out = subprocess.run(
        ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(pg_proxy.port("postgresWire")),
         "-U", "tester", "-d", "memory", "-c", "SELECT 6 * 7 AS answer, 'ok' AS status"],
        capture_output=True, text=True, timeout=30, env={"PGCONNECT_TIMEOUT": "10"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42|ok"


def test_asyncpg_extended_protocol_and_binary(pg_proxy):
    async def main() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=pg_proxy.port("postgresWire"), user="tester", database="memory"
        )
        try:
            rows = await conn.fetch(
                "SELECT i, i::varchar AS s FROM range(3) t(i) WHERE i < $1::bigint", 5
            )
            assert [tuple(r) for r in rows] == [(0, "0"), (1, "1"), (2, "2")]
            value = await conn.fetchval("SELECT $1::date + 1", dt.date(2024, 2, 28))
            assert value == dt.date(2024, 2, 29)
        finally:
            await conn.close()

    import asyncio

    asyncio.run(main())


def auth_config(method: str | None, tmp_path=None, **wire) -> dict:
    config = pg_config()
    config["auth"] = {"provider": "static", "users": {"alice": {"password": "s3cret"}}}
    postgres = {"enabled": True, **wire}
    if method is not None:
        postgres["authMethod"] = method
    config["queryflux"]["frontends"]["postgresWire"] = postgres
    return config


@pytest.mark.parametrize("method", [None, "md5", "scram-sha-256"])
def test_password_authentication(make_proxy, method):
    with make_proxy(auth_config(method)) as proxy:
        port = proxy.port("postgresWire")
        good = f"host=127.0.0.1 port={port} user=alice password=s3cret dbname=memory"
        with psycopg.connect(good, autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

        async def with_asyncpg() -> int:  # its own SCRAM and md5, not libpq's
            conn = await asyncpg.connect(
                host="127.0.0.1", port=port, user="alice", password="s3cret", database="memory"
            )
            try:
                return await conn.fetchval("SELECT 7")
            finally:
                await conn.close()

        import asyncio

        assert asyncio.run(with_asyncpg()) == 7
        for user, password in (("alice", "wrong"), ("mallory", "s3cret")):
            with pytest.raises(psycopg.OperationalError) as failure:
                psycopg.connect(f"host=127.0.0.1 port={port} user={user} password={password}")
            assert f'password authentication failed for user "{user}"' in str(failure.value)


def test_tls_with_cleartext_passwords(make_proxy, tmp_path):
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = {"certFile": str(tmp_path / "server.crt"), "keyFile": str(tmp_path / "server.key")}
    with make_proxy(auth_config("cleartext", tls=tls)) as proxy:
        port = proxy.port("postgresWire")
        base = f"host=127.0.0.1 port={port} user=alice password=s3cret dbname=memory"
        secure = f"{base} sslmode=verify-full sslrootcert={tmp_path / 'ca.pem'}"
        with psycopg.connect(secure, autocommit=True) as conn:
            assert conn.info.pgconn.ssl_in_use
            assert conn.execute("SELECT 'over tls'").fetchone() == ("over tls",)
            # The connection's reader reads while replies are written: both on TLS.
            for i in range(20):
                assert conn.execute("SELECT %s::int", (i,), prepare=True).fetchone() == (i,)
            with conn.pipeline():
                cursors = [conn.execute("SELECT %s::int", (i,)) for i in range(200)]
            assert [cur.fetchone() for cur in cursors] == [(i,) for i in range(200)]
            rows = conn.execute("SELECT i, repeat('x', 50) FROM range(100000) t(i)").fetchall()
            assert len(rows) == 100_000 and rows[-1] == (99_999, "x" * 50)
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(f"{base} sslmode=disable")
        assert "cleartext passwords need a TLS connection" in str(refused.value)


def test_a_queued_query_gets_a_notice_then_runs(make_proxy):
    with make_proxy(pg_config(maxRunningQueries=1)) as proxy:
        engine = proxy.server.clusters["duck"].engine
        blocker = psycopg.connect(dsn(proxy), autocommit=True)
        runner = threading.Thread(target=lambda: _swallow(blocker.execute, LONG_QUERY))
        runner.start()
        wait_until(lambda: proxy.call(lambda: engine.active_calls) == 1)
        notices: list[str] = []
        with psycopg.connect(dsn(proxy), autocommit=True) as conn:
            conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
            waiter = threading.Thread(target=lambda: conn.execute("SELECT 5").fetchone())
            waiter.start()
            wait_until(lambda: group_load(proxy) == (1, 1))
            blocker.cancel_safe()
            waiter.join(10)
            assert not waiter.is_alive()
        runner.join(5)
        blocker.close()
        assert notices == ["query waits in cluster group 'g' at queue position 1"]


def test_garbage_gets_an_error_response_and_other_sessions_carry_on(pg_proxy):
    port = pg_proxy.port("postgresWire")
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as healthy:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"\x00\x00\x00\x08garbage!" + b"\xff" * 64)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply[:1] == b"E" and b"unsupported frontend protocol" in reply  # then closed
        with socket.create_connection(("127.0.0.1", port)) as sock:  # a huge length prefix
            sock.sendall((2**31 - 1).to_bytes(4, "big") + (196608).to_bytes(4, "big"))
            assert sock.recv(4096)[:1] == b"E"
        for message, sqlstate, text in (
            (b"\x01\x00\x00\x00\x08abcd", b"08P01", b"invalid frontend message type"),
            (b"Q" + (2**31 - 1).to_bytes(4, "big"), b"54000", b"over the limit"),
        ):  # mid-session: a FATAL error in the protocol, then the connection closes
            with _startup(port) as sock:
                sock.sendall(message)
                reply = b""
                while chunk := sock.recv(4096):
                    reply += chunk
            assert reply[:1] == b"E" and b"FATAL" in reply, reply
            assert b"C" + sqlstate in reply and text in reply
        assert healthy.execute("SELECT 'fine'").fetchone() == ("fine",)


def test_cursor_fetches_in_pieces_with_portal_suspended(pg_proxy):
    async def main() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=pg_proxy.port("postgresWire"), user="t", database="memory"
        )
        try:
            async with conn.transaction():
                cursor = await conn.cursor("SELECT i FROM range(200000) t(i) ORDER BY i")
                first = await cursor.fetch(3)
                second = await cursor.fetch(100000)
                rest = await cursor.fetch(200000)
            assert [r["i"] for r in first] == [0, 1, 2]
            assert [r["i"] for r in second] == list(range(3, 100003))
            assert [r["i"] for r in rest] == list(range(100003, 200000))
            assert await conn.fetchrow("SELECT 1 AS one") == (1,)
            assert await conn.fetchval("SELECT i FROM range(5) t(i) ORDER BY i") == 0
        finally:
            await conn.close()

    import asyncio

    asyncio.run(main())


PGBENCH_TABLES = pgbench_tables()


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_select_only(make_proxy, mode):
    with make_proxy(pg_config()) as proxy:
        with psycopg.connect(dsn(proxy), autocommit=True) as conn:
            for statement in PGBENCH_TABLES:
                conn.execute(statement)
        port = str(proxy.port("postgresWire"))
        out = subprocess.run(
            ["pgbench", "-n", "-S", "-T", "2", "-c", "2", "-M", mode,
             "-h", "127.0.0.1", "-p", port, "-U", "tester", "memory"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "number of failed transactions: 0" in out.stdout
        tps = float(out.stdout.split("tps = ")[1].split()[0])
        assert tps > 0


def test_sqlalchemy_connects_and_queries(pg_proxy):
    import sqlalchemy as sa

    engine = sa.create_engine(  # with its hstore probe: a pg_type lookup
        f"postgresql+psycopg://tester@127.0.0.1:{pg_proxy.port('postgresWire')}/memory"
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 40 + :n AS answer"), {"n": 2}).scalar() == 42
        version = conn.execute(sa.text("SELECT version()")).scalar()
        assert version.startswith("PostgreSQL 16.4")
        assert conn.execute(sa.text("SELECT current_database()")).scalar() == "memory"
    engine.dispose()


def test_pandas_read_sql(pg_proxy):
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(  # with its hstore probe: a pg_type lookup
        f"postgresql+psycopg://tester@127.0.0.1:{pg_proxy.port('postgresWire')}/memory"
    )
    frame = pd.read_sql("SELECT i, i * 2 AS twice FROM range(4) t(i) ORDER BY i", engine)
    assert frame["twice"].tolist() == [0, 2, 4, 6]
    engine.dispose()


def test_two_writers_on_one_session_take_turns_in_order():
    """A queued-query notice is written by its own task while the session may write
    replies: with a client that reads slowly, the second write waits its turn instead
    of breaking the connection (a stream takes one writer at a time)."""
    import trio
    import trio.testing

    from qflux.frontends.pg_session import PgSessionState
    from qflux.frontends.postgres_wire import _Connection
    from qflux.protocols import pgwire as pg

    async def main() -> bytes:
        server, client = trio.testing.lockstep_stream_pair()  # a write waits for a read
        session = _Connection(
            stream=server,
            conn=pg.PgServerConnection(),
            process_id=1,
            secret=b"1234",
            state=PgSessionState(parameters={}),
        )

        async def write(data: bytes) -> None:
            await session.write(data)
            await session.flush()

        received = b""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(write, b"<notice>")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(write, b"<reply>")
            await trio.testing.wait_all_tasks_blocked()
            while not received.endswith(b"<reply>"):
                received += await client.receive_some()
        return received

    assert trio.run(main) == b"<notice><reply>"


def test_dml_with_returning_is_described_before_its_rows(pg_proxy):
    """psycopg describes the portal before Execute: DML with RETURNING has rows, so
    the description must say so (NoData, then rows, is a protocol error to libpq)."""
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
        conn.execute("CREATE TABLE returning_t (id INTEGER, note VARCHAR)")
        try:
            cur = conn.execute(
                "INSERT INTO returning_t VALUES (%s, 'returning'), (%s, 'x') RETURNING id", [1, 2]
            )
            assert [c.name for c in cur.description] == ["id"]
            assert cur.fetchall() == [(1,), (2,)]
            cur = conn.execute("UPDATE returning_t SET note = 'RETURNING' WHERE id = %s", [2])
            assert cur.description is None and cur.rowcount == 1  # the word, not the clause
        finally:
            conn.execute("DROP TABLE returning_t")
