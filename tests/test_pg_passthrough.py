"""PostgreSQL rows passed through to PostgreSQL-wire clients: psql and psycopg against the
real server through the proxy, and the engine's own client authenticating to qflux's
PostgreSQL frontend (md5, SCRAM, cleartext over verified TLS)."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import trio

from qflux.protocols import pgwire as pg
from qflux.protocols import pgwire_client as wire
from qflux.protocols.common import NEED_DATA

from .conftest import wait_until
from .test_engine_postgres import (
    POSTGRES_URL,
    SCHEMA,
    admin,
    backends,
    engine,
    running,
    wait_for,
)

#: The PostgreSQL fixtures: `admin` owns SCHEMA (with its `mood` enum); `engine` is a
#: PostgresEngine whose backends carry the test's application_name.
__all__ = ["admin", "engine"]

#: Every type whose text form the server decides; the psycopg path would re-spell several
#: (unconstrained numeric rounded, inet and enums typed as text, timestamptz re-zoned).
TYPED_QUERY = f"""
    SELECT 1::int2 AS a, 2::int8 AS b, 1/3::numeric AS c, 0.1::float8 AS d, true AS e,
           'ü'::text AS f, NULL::text AS g, '192.168.0.1/24'::inet AS h,
           '2024-03-01 12:34:56.789+00'::timestamptz AS i, '1 year 2 days 03:04:05'::interval AS j,
           ARRAY[[1, 2], [3, NULL]] AS k, '\\x00ff'::bytea AS l, '{{"b": [1, 2]}}'::jsonb AS m,
           'happy'::{SCHEMA}.mood AS n, int4range(1, 5) AS o, '2024-01-02'::date AS p
"""
CANCEL_BOUND_SECS = 2.0


def config(endpoint: str, **cluster: Any) -> dict[str, Any]:
    return {
        "queryflux": {"frontends": {"postgresWire": {"enabled": True}}},
        "clusters": {
            "pg": {"engine": "postgres", "endpoint": endpoint, "maxRunningQueries": 4, **cluster}
        },
        "clusterGroups": {"g": {"members": ["pg"], "maxRunningQueries": 4}},
        "routingFallback": "g",
    }


@pytest.fixture
def app() -> str:
    return f"qflux-pass-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pg_proxy(make_proxy: Any, admin: psycopg.Connection[Any], app: str) -> Iterator[Any]:
    separator = "&" if "?" in POSTGRES_URL else "?"
    with make_proxy(config(f"{POSTGRES_URL}{separator}application_name={app}")) as proxy:
        yield proxy


def psql(where: int | str, sql: str, **env: str) -> subprocess.CompletedProcess[str]:
    """psql through the proxy listening on port `where`, or to the server URL `where`."""
    target = (
        where if isinstance(where, str) else (f"postgresql://postgres@127.0.0.1:{where}/postgres")
    )
    return subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", target, "-c", sql],
        capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ["PATH"], "PGCONNECT_TIMEOUT": "10", **env},
    )  # fmt: skip


def dsn(proxy: Any) -> str:
    return f"host=127.0.0.1 port={proxy.port('postgresWire')} user=postgres dbname=postgres"


def pids(admin: psycopg.Connection[Any], app: str) -> set[int]:
    return {pid for pid, *_ in backends(admin, app)}


def latest_record(proxy: Any) -> Any:
    return proxy.call(lambda: proxy.server.dispatcher.history.recent(1)[0])


def test_psql_reads_the_text_postgresql_itself_writes(
    pg_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    port = pg_proxy.port("postgresWire")
    # The client's TimeZone (PGTZ) reaches the server with the query, so timestamptz
    # text is the same both ways.
    through = psql(port, TYPED_QUERY, PGTZ="America/New_York")
    direct = psql(POSTGRES_URL, TYPED_QUERY, PGTZ="America/New_York")
    assert through.returncode == 0, through.stderr
    assert through.stdout == direct.stdout
    assert "0.33333333333333333333|0.1|t|ü||192.168.0.1/24|2024-03-01 07:34:56.789-05" in (
        through.stdout
    )
    record = latest_record(pg_proxy)
    assert (record.status, record.engine, record.rows_returned) == ("FINISHED", "postgres", 1)
    before = pids(admin, app)
    assert psql(port, "SELECT 2").stdout.strip() == "2"
    assert pids(admin, app) == before  # the connection went back to the pool


def test_a_simple_query_client_sees_postgresql_types(pg_proxy: Any) -> None:
    with psycopg.connect(dsn(pg_proxy), autocommit=True, cursor_factory=psycopg.ClientCursor) as c:
        cur = c.execute(f"SELECT '10.0.0.1'::inet AS h, 'sad'::{SCHEMA}.mood AS n, 7 AS i")
        assert [column.type_code for column in cur.description][::2] == [869, 23]
        assert [str(v) for v in cur.fetchone()] == ["10.0.0.1", "sad", "7"]
        c.execute("SET TimeZone TO 'Asia/Tokyo'")
        cur = c.execute("SELECT '2024-01-01 00:00+00'::timestamptz::text")
        assert cur.fetchone() == ("2024-01-01 09:00:00+09",)
        c.execute("SET TimeZone TO 'UTC'")
        cur = c.execute("SELECT '2024-01-01 00:00+00'::timestamptz::text")
        assert cur.fetchone() == ("2024-01-01 00:00:00+00",)


def test_an_error_after_rows_reaches_the_client_and_the_session_goes_on(
    pg_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    with psycopg.connect(dsn(pg_proxy), autocommit=True, cursor_factory=psycopg.ClientCursor) as c:
        # Rows before the failing one are sent first, as PostgreSQL does.
        with pytest.raises(psycopg.errors.DivisionByZero, match="division by zero"):
            c.execute("SELECT 10 / (3 - x) FROM generate_series(1, 5) x").fetchall()
        with pytest.raises(psycopg.errors.UndefinedTable, match="no_such_table"):
            c.execute("SELECT * FROM no_such_table")
        assert c.execute("SELECT 'still here'").fetchone() == ("still here",)
    before = pids(admin, app)
    failed = psql(pg_proxy.port("postgresWire"), "SELECT 1/0")
    assert failed.returncode != 0 and "division by zero" in failed.stderr
    assert pids(admin, app) == before  # errors do not cost the pooled connection


def test_many_rows_stream_through_one_reused_connection(
    pg_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    port = pg_proxy.port("postgresWire")
    sql = "SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g"
    seen = []
    for _ in range(2):
        out = psql(port, sql)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert len(lines) == 200_000 and lines[-1] == "200000|" + "x" * 100
        seen.append(pids(admin, app))
    assert latest_record(pg_proxy).rows_returned == 200_000
    assert seen[0] == seen[1]


def test_a_client_cancel_stops_the_postgresql_query(
    pg_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    conn = psycopg.connect(dsn(pg_proxy), autocommit=True, cursor_factory=psycopg.ClientCursor)
    failures: list[BaseException] = []

    def sleep() -> None:
        try:
            conn.execute("SELECT pg_sleep(30)")
        except BaseException as exc:
            failures.append(exc)

    with conn:
        runner = threading.Thread(target=sleep)
        runner.start()
        wait_until(lambda: running(admin, app))
        conn.cancel_safe()
        wait_until(lambda: not running(admin, app), timeout=CANCEL_BOUND_SECS)
        runner.join(5)
        assert isinstance(failures[0], psycopg.errors.QueryCanceled)
        record = latest_record(pg_proxy)
        assert (record.status, record.cancel_reason) == ("CANCELLED", "client_cancel")
        assert conn.execute("SELECT 'after cancel'").fetchone() == ("after cancel",)


def test_a_client_that_hangs_up_takes_its_query_with_it(
    pg_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    port = pg_proxy.port("postgresWire")
    client = subprocess.Popen(
        ["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
         "-c", "SELECT pg_sleep(30)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: running(admin, app))
        client.kill()
        wait_until(lambda: not running(admin, app), timeout=CANCEL_BOUND_SECS)
    finally:
        client.kill()
        client.wait()
    record = wait_until(lambda: (r := latest_record(pg_proxy)).status != "RUNNING" and r)
    assert (record.status, record.cancel_reason) == ("CANCELLED", "client_disconnect")


def test_a_pooled_connection_the_server_ended_is_replaced(
    pg_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    port = pg_proxy.port("postgresWire")
    assert psql(port, "SELECT 1").stdout.strip() == "1"
    ended = pids(admin, app)
    for pid in ended:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_until(lambda: not backends(admin, app))
    time.sleep(0.05)  # the server's goodbye reaches the idle socket
    again = psql(port, "SELECT 'fresh'")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "fresh"
    assert pids(admin, app) and not ended & pids(admin, app)


def test_an_unreachable_cluster_is_a_clear_error(make_proxy: Any) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with make_proxy(config(f"postgresql://postgres@127.0.0.1:{port}/postgres")) as proxy:
        out = psql(proxy.port("postgresWire"), "SELECT 1")
        assert out.returncode != 0
        assert "cannot connect to cluster 'pg'" in out.stderr
        again = psql(proxy.port("postgresWire"), "SHOW TimeZone")  # the proxy answers itself
        assert again.stdout.strip() == "UTC"


def password_server(frontend: dict[str, Any]) -> dict[str, Any]:
    """qflux's PostgreSQL frontend with user alice (password s3cret) over DuckDB."""
    return {
        "queryflux": {"frontends": {"postgresWire": frontend}},
        "auth": {"provider": "static", "users": {"alice": {"password": "s3cret"}}},
        "clusters": {"duck": {"engine": "duckDb", "maxRunningQueries": 4}},
        "clusterGroups": {"d": {"members": ["duck"], "maxRunningQueries": 4}},
        "routingFallback": "d",
    }


@pytest.mark.parametrize(
    ("method", "sslmode"),
    [("md5", None), ("scram-sha-256", None), ("scram-sha-256", "require"),
     ("cleartext", "verify-full")],  # a cleartext password only over verified TLS
)  # fmt: skip
def test_the_engine_authenticates_to_a_password_server(
    make_proxy: Any, tmp_path: Any, method: str, sslmode: str | None
) -> None:
    """qflux's own PostgreSQL frontend, with a password, is the server the engine logs in to."""
    import trustme

    server: dict[str, Any] = {"enabled": True, "authMethod": method}
    url_options = ""
    if sslmode is not None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
        cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        server["tls"] = {"certFile": str(tmp_path / "server.crt"),
                         "keyFile": str(tmp_path / "server.key")}  # fmt: skip
        url_options = f"?sslmode={sslmode}&sslrootcert={tmp_path / 'ca.pem'}"
    with make_proxy(password_server(server)) as backend:
        port = backend.port("postgresWire")
        outer = config(f"postgresql://alice:s3cret@127.0.0.1:{port}/memory{url_options}")
        with make_proxy(outer) as proxy:
            assert proxy.server.clusters["pg"].engine.wire_pool is not None
            out = psql(proxy.port("postgresWire"), "SELECT 41 + 1 AS answer, 'via' || 'qflux'")
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip() == "42|viaqflux"
            assert latest_record(backend).user == "alice"
            streams = backend.call(
                lambda: [
                    type(c.stream).__name__ for c in backend.server.postgres.connections.values()
                ]
            )
            assert set(streams) == {"SSLStream" if sslmode else "SocketStream"}
            wrong = config(f"postgresql://alice:nope@127.0.0.1:{port}/memory{url_options}")
            with make_proxy(wrong) as refused:
                out = psql(refused.port("postgresWire"), "SELECT 1")
                assert out.returncode != 0
                assert 'password authentication failed for user "alice"' in out.stderr


def test_an_endpoint_only_libpq_understands_uses_the_psycopg_path(
    make_proxy: Any, admin: psycopg.Connection[Any]
) -> None:
    separator = "&" if "?" in POSTGRES_URL else "?"
    with make_proxy(config(f"{POSTGRES_URL}{separator}target_session_attrs=any")) as proxy:
        assert proxy.server.clusters["pg"].engine.wire_pool is None
        out = psql(proxy.port("postgresWire"), "SELECT 1/3::numeric, '10.0.0.1'::inet")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "0.3333333333|10.0.0.1"  # decimal(38,10), as Arrow holds it


def test_notices_and_statements_without_rows_pass_as_postgresql_sends_them(
    pg_proxy: Any, admin: psycopg.Connection[Any]
) -> None:
    admin.execute(
        f"""CREATE FUNCTION {SCHEMA}.noisy(n int) RETURNS int LANGUAGE plpgsql AS $$
            BEGIN RAISE NOTICE 'row %', n; RETURN n; END $$"""
    )
    port = pg_proxy.port("postgresWire")
    out = psql(port, f"SELECT {SCHEMA}.noisy(g) FROM generate_series(1, 2) g")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "2"]
    assert out.stderr.splitlines() == ["NOTICE:  row 1", "NOTICE:  row 2"]
    made = psql(port, f"SELECT g AS n INTO {SCHEMA}.made FROM generate_series(1, 3) g")
    assert made.returncode == 0, made.stderr
    assert admin.execute(f"SELECT count(*) FROM {SCHEMA}.made").fetchone() == (3,)
    tagged = subprocess.run(
        ["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
         "-c", f"SELECT n INTO {SCHEMA}.again FROM {SCHEMA}.made"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert tagged.stdout.strip() == "SELECT 3"  # the server's own tag, and no row header


def test_extended_protocol_text_results_pass_through(pg_proxy: Any) -> None:
    """psycopg's own protocol: Parse/Bind/Describe/Execute, prepared after a few runs."""
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:
        for i in range(8):  # psycopg prepares the statement on the server from the 6th run
            cur = conn.execute("SELECT %s::inet AS h, 1/3::numeric AS n", [f"10.0.0.{i}"])
            assert [c.type_code for c in cur.description] == [869, 1700]
            assert [str(v) for v in cur.fetchone()] == [f"10.0.0.{i}", "0.33333333333333333333"]
        cur = conn.execute("SELECT 1 AS one", binary=True)  # binary: the Arrow path
        assert cur.fetchone() == (1,)
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1 / %s::int", [0])
        assert conn.execute("SELECT %s::text", ["again"]).fetchone() == ("again",)


def pgbench(port: int, *options: str) -> subprocess.CompletedProcess[str]:
    """pgbench running a point query of its own (no pgbench tables needed)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = f"{tmp}/point.sql"
        with open(script, "w") as f:
            f.write("\\set n random(1, 1000)\nSELECT :n::int * 2 AS doubled, 'x' || :n AS tag;\n")
        return subprocess.run(
            ["pgbench", "-n", *options, "-f", script, "-h", "127.0.0.1", "-p", str(port),
             "-U", "postgres", "postgres"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip


@pytest.mark.parametrize("mode", ["extended", "prepared"])
def test_pgbench_in_extended_and_prepared_modes(pg_proxy: Any, mode: str) -> None:
    out = pgbench(pg_proxy.port("postgresWire"), "-M", mode, "-t", "200", "-c", "2")
    assert out.returncode == 0, out.stderr
    assert "number of transactions actually processed: 400/400" in out.stdout
    assert "number of failed transactions: 0" in out.stdout


def test_a_portal_read_a_few_rows_at_a_time(pg_proxy: Any) -> None:
    """Execute with a row limit (what JDBC's fetch size sends): PortalSuspended until the
    rows run out, each piece cut from the server's DataRows."""
    with socket.create_connection(("127.0.0.1", pg_proxy.port("postgresWire"))) as sock:
        client = wire.PgClientConnection()

        def exchange(data: bytes) -> list[Any]:
            sock.sendall(data)
            events: list[Any] = []
            while not events or not isinstance(events[-1], pg.ReadyForQuery):
                event = client.next_event()
                if event is NEED_DATA:
                    client.receive_data(sock.recv(65536))
                else:
                    events.append(event)
            return events

        exchange(wire.startup_message({"user": "postgres", "database": "postgres"}))
        parse = message(b"P", b"\0SELECT g, g::numeric / 3 FROM generate_series(1, 5) g\0\0\0")
        bind = message(b"B", b"\0\0\0\0\0\0\0\0")
        execute = message(b"E", b"\0" + struct.pack(">i", 2))
        events = exchange(parse + bind + message(b"D", b"P\0") + execute + execute + execute
                          + execute + message(b"S", b""))  # fmt: skip
        kinds = [type(e).__name__ for e in events]
        suspended = ["DataRowBatch", "PortalSuspended"]
        assert kinds == ["ParseComplete", "BindComplete", "RowDescriptionMessage",
                         *suspended, *suspended, "DataRowBatch", "CommandComplete",
                         "CommandComplete", "ReadyForQuery"]  # fmt: skip
        batches = [e for e in events if isinstance(e, wire.DataRowBatch)]
        assert [b.count for b in batches] == [2, 2, 1]
        assert events[2].parse().fields[0].type_oid == 23  # the server's int4
        last = pg.encode_data_rows([(b"5", b"1.6666666666666667")])  # PostgreSQL's digits
        assert batches[-1].encoded == last
        assert [e.tag for e in events if isinstance(e, pg.CommandComplete)] == [
            "SELECT 1",
            "SELECT 0",
        ]


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack(">i", len(body) + 4) + body


def test_a_password_only_libpq_can_find_leaves_the_queries_to_psycopg(
    make_proxy: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No password in the endpoint, one in a password file: the first query finds the
    pass-through cannot log in, and it and every later one run through psycopg."""
    with make_proxy(password_server({"enabled": True, "authMethod": "md5"})) as backend:
        port = backend.port("postgresWire")
        passfile = tmp_path / "pgpass"
        passfile.write_text(f"127.0.0.1:{port}:memory:alice:s3cret\n")
        passfile.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(passfile))
        with make_proxy(config(f"postgresql://alice@127.0.0.1:{port}/memory")) as proxy:
            for _ in range(2):
                out = psql(proxy.port("postgresWire"), "SELECT 6 * 7")
                assert out.returncode == 0, out.stderr
                assert out.stdout.strip() == "42"
            assert proxy.server.clusters["pg"].engine.wire_pool is None


def test_a_unix_socket_endpoint_passes_through(
    make_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    directories = admin.execute("SHOW unix_socket_directories").fetchone()
    directory = (directories[0] if directories else "").split(",")[0].strip()
    if not directory.startswith("/"):
        pytest.skip(f"the server listens on no Unix socket directory ({directory!r})")
    endpoint = f"postgresql://postgres@/postgres?host={directory}&application_name={app}"
    with make_proxy(config(endpoint)) as proxy:
        assert proxy.server.clusters["pg"].engine.wire_pool is not None
        out = psql(proxy.port("postgresWire"), "SELECT 1/3::numeric")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "0.33333333333333333333"  # PostgreSQL's own digits
        [(address,)] = admin.execute(
            "SELECT client_addr::text FROM pg_stat_activity"
            " WHERE application_name = %s AND query LIKE 'SELECT 1/3%%'",
            [app],
        ).fetchall()
        assert address is None  # a Unix socket has no client address


def test_concurrent_clients_share_a_bounded_pool(
    make_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    """Eight pgbench clients, four admitted at a time, two pass-through connections."""
    separator = "&" if "?" in POSTGRES_URL else "?"
    endpoint = f"{POSTGRES_URL}{separator}application_name={app}"
    with make_proxy(config(endpoint, poolSize=2)) as proxy:
        seen: set[int] = set()
        watching = threading.Event()

        def watch() -> None:
            while not watching.is_set():
                seen.update(pid for pid, _, query in backends(admin, app) if "doubled" in query)
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            out = pgbench(proxy.port("postgresWire"), "-t", "100", "-c", "8", "-j", "2")
        finally:
            watching.set()
            watcher.join()
        assert out.returncode == 0, out.stderr
        assert "number of transactions actually processed: 800/800" in out.stdout
        assert 0 < len(seen) <= 2  # never more than the pass-through pool's two


def test_dml_passes_through_with_the_servers_tags_and_returning_rows(
    pg_proxy: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    admin.execute(f"CREATE TABLE {SCHEMA}.ledger (id int PRIMARY KEY, amount numeric)")
    port = pg_proxy.port("postgresWire")

    def tag(sql: str) -> str:
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             "-d", "postgres", "-c", sql, "-c", "\\echo :ROW_COUNT"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert tag(f"INSERT INTO {SCHEMA}.ledger VALUES (1, 1/3::numeric), (2, 2)") == "2"
    assert tag(f"UPDATE {SCHEMA}.ledger SET amount = amount * 3") == "2"
    returned = tag(f"DELETE FROM {SCHEMA}.ledger WHERE id = 1 RETURNING amount")
    assert returned.splitlines() == ["amount", "0.99999999999999999999", "(1 row)", "1"]
    assert admin.execute(f"SELECT id, amount FROM {SCHEMA}.ledger").fetchall() == [(2, 6)]
    with psycopg.connect(dsn(pg_proxy), autocommit=True) as conn:  # the extended protocol
        cur = conn.execute(f"INSERT INTO {SCHEMA}.ledger VALUES (%s, %s)", [3, 4])
        assert (cur.statusmessage, cur.rowcount) == ("INSERT 0 1", 1)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(f"INSERT INTO {SCHEMA}.ledger VALUES (%s, %s)", [3, 4])
        cur = conn.execute(f"DELETE FROM {SCHEMA}.ledger WHERE id = %s RETURNING id", [3])
        assert (cur.fetchall(), cur.statusmessage) == ([(3,)], "DELETE 1")
    ran = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        " AND query LIKE 'DELETE FROM%%'",
        [app],
    ).fetchone()
    assert ran == (1,)  # its last statement is ours: passed through, no DISCARD ALL after


async def test_a_connection_idle_past_the_limit_is_closed(
    engine: Any, admin: psycopg.Connection[Any], app: str
) -> None:
    pool = engine.wire_pool
    pool.max_idle_secs = 0.2
    first, second = await pool.acquire(), await pool.acquire()
    pool.release(first)
    await trio.sleep(0.3)
    pool.release(second)
    taken = await pool.acquire()  # the fresh one; the stale one is closed on the way
    assert taken is second and pool.idle == 0
    await wait_for(lambda: pids(admin, app) == {second.process_id})
    pool.release(taken)


def test_a_semicolon_in_the_text_goes_as_one_extended_statement(pg_proxy: Any) -> None:
    """A statement holding a semicolon is sent so the server would refuse a second one."""
    out = psql(pg_proxy.port("postgresWire"), "SELECT 1/3::numeric AS n, 'a;b' AS s")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0.33333333333333333333|a;b"
