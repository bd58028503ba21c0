"""The Trino HTTP frontend driven by the real `trino` client (DB-API and low-level API)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests
import trino
from trino.client import ClientSession, TrinoQuery, TrinoRequest
from trino.exceptions import TrinoQueryError, TrinoUserError

from .conftest import duckdb_config, group_load, record_of, wait_until

LONG_QUERY = "SELECT sum(i) FROM range(10000000000) t(i)"


def connect(proxy, user="tester", **kwargs):
    return trino.dbapi.connect(host="127.0.0.1", port=proxy.port(), user=user, **kwargs)


def low_level_request(proxy, **session):
    return TrinoRequest(
        host="127.0.0.1",
        port=proxy.port(),
        client_session=ClientSession(user="tester", **session),
    )


def test_select_42(proxy):
    cur = connect(proxy).cursor()
    cur.execute("SELECT 42 AS answer")
    assert cur.fetchall() == [[42]]
    assert cur.description[0][0] == "answer"
    assert cur.description[0][1] == "integer"


def test_types_round_trip(proxy):
    cur = connect(proxy).cursor()
    cur.execute(  # Trino SQL, translated for DuckDB on the way
        """
        SELECT true, CAST(7 AS TINYINT), CAST(300 AS SMALLINT), 70000, 9007199254740993,
               CAST(1.5 AS REAL), CAST(2.25 AS DOUBLE), CAST(12345.67 AS DECIMAL(10,2)),
               'héllo ''q''', X'6162',
               DATE '2024-02-29', TIME '13:14:15.123456', TIMESTAMP '2024-01-02 03:04:05.678901',
               INTERVAL '3' DAY + INTERVAL '4' HOUR, ARRAY[1, NULL, 3], MAP(ARRAY['k'], ARRAY[1]),
               CAST(ROW(1, 'x') AS ROW(a INTEGER, b VARCHAR)),
               UUID '3f1c6c3e-7a38-4a42-9e6b-6c0f9c0c6b1e', CAST(NULL AS INTEGER)
        """
    )
    row = cur.fetchone()
    types = [column[1] for column in cur.description]
    assert types[:10] == [
        "boolean", "tinyint", "smallint", "integer", "bigint",
        "real", "double", "decimal(10,2)", "varchar", "varbinary",
    ]  # fmt: skip
    assert row[:10] == [
        True, 7, 300, 70000, 9007199254740993,
        1.5, 2.25, decimal.Decimal("12345.67"), "héllo 'q'", b"ab",
    ]  # fmt: skip
    assert row[10] == dt.date(2024, 2, 29)
    assert row[11] == dt.time(13, 14, 15, 123456)
    assert row[12] == dt.datetime(2024, 1, 2, 3, 4, 5, 678901)
    assert row[13] == dt.timedelta(days=3, hours=4)
    assert row[14] == [1, None, 3]
    assert row[15] == {"k": 1}
    assert tuple(row[16]) == (1, "x") and row[16].a == 1 and row[16].b == "x"
    assert row[17] == uuid.UUID("3f1c6c3e-7a38-4a42-9e6b-6c0f9c0c6b1e")
    assert row[18] is None


def test_two_million_rows_page_correctly_with_bounded_pages(make_proxy):
    config = duckdb_config()
    config["queryflux"] = {"frontends": {"trinoHttp": {"maxPageBytes": 262144}}}
    with make_proxy(config) as proxy:
        conn = connect(proxy)
        page_sizes: list[int] = []
        conn._http_session.hooks["response"].append(
            lambda response, **_: page_sizes.append(len(response.content))
        )
        cur = conn.cursor()
        cur.execute("SELECT i, 'row-' || i AS label FROM range(2000000) t(i) ORDER BY i")
        count = 0
        expected = 0
        while rows := cur.fetchmany(50_000):
            for i, label in rows:
                assert i == expected and label == f"row-{i}"
                expected += 1
            count += len(rows)
        assert count == 2_000_000
        assert len(page_sizes) > 20  # many pages, not one huge response
        assert max(page_sizes) < 262144 * 1.5  # each page bounded by maxPageBytes


def test_cancel_stops_the_query_at_the_engine(proxy):
    cur = connect(proxy).cursor()
    failures: list[BaseException] = []

    def execute() -> None:  # the client blocks in execute() until the first row
        try:
            cur.execute(LONG_QUERY)
            cur.fetchall()
        except BaseException as exc:  # the client reports the cancel as an error
            failures.append(exc)

    runner = threading.Thread(target=execute)
    runner.start()
    engine = proxy.server.clusters["duck"].engine
    wait_until(lambda: cur._query is not None and cur._query.query_id)
    wait_until(lambda: proxy.call(lambda: engine.active_calls) == 1)
    cur.cancel()
    # Stopped at the engine (the DuckDB worker thread returned), not only at the client.
    wait_until(lambda: proxy.call(lambda: engine.active_calls) == 0, timeout=2.0)
    runner.join(5)
    assert not runner.is_alive() and failures
    query_id = cur._query.query_id
    record = wait_until(lambda: (r := record_of(proxy, query_id)).status == "CANCELLED" and r)
    assert record.cancel_reason == "client_cancel"
    assert group_load(proxy) == (0, 0)
    again = connect(proxy).cursor()
    again.execute("SELECT 1")
    assert again.fetchall() == [[1]]


def test_client_that_disconnects_mid_query_frees_its_slot(proxy):
    port = proxy.port()
    session = requests.Session()
    first = session.post(
        f"http://127.0.0.1:{port}/v1/statement", data=LONG_QUERY, headers={"X-Trino-User": "t"}
    ).json()
    query_id = first["id"]
    wait_until(lambda: record_of(proxy, query_id).status == "RUNNING")

    # Poll on a raw keep-alive socket and hang up while the long poll is in flight.
    path = urlsplit(first["nextUri"]).path
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Trino-User: t\r\n\r\n".encode())
    sock.close()
    session.close()

    record = wait_until(lambda: (r := record_of(proxy, query_id)).status == "CANCELLED" and r)
    assert record.cancel_reason == "client_disconnect"
    wait_until(lambda: group_load(proxy) == (0, 0), timeout=2.0)
    engine = proxy.server.clusters["duck"].engine
    wait_until(lambda: proxy.call(lambda: engine.active_calls) == 0, timeout=2.0)


def hold_slot(proxy, group: str = "g"):
    """Start a query whose rows nobody reads: it keeps its slot until cancelled."""
    holder = TrinoQuery(low_level_request(proxy), "SELECT * FROM range(100000000) t(i)")
    holder.execute()
    wait_until(lambda: group_load(proxy, group)[0] == 1)
    return holder


def submit(proxy, sql):
    """POST a statement with the low-level API without waiting for rows (as execute() does)."""
    request = low_level_request(proxy)
    return request, request.process(request.post(sql))


def drain(request, status):
    """Poll nextUri to the end; return the rows and the final state."""
    rows = list(status.rows)
    while status.next_uri is not None:
        status = request.process(request.get(status.next_uri))
        rows.extend(status.rows)
    return rows, status.stats["state"]


def test_second_query_is_queued_then_completes(make_proxy):
    with make_proxy(duckdb_config(maxRunningQueries=1)) as proxy:
        holder = hold_slot(proxy)
        request, status = submit(proxy, "SELECT 2 AS two")
        assert status.stats["state"] == "QUEUED"
        assert "/queued/" in status.next_uri
        assert group_load(proxy) == (1, 1)
        holder.cancel()
        assert drain(request, status) == ([[2]], "FINISHED")
        record = record_of(proxy, status.id)
        assert record.status == "FINISHED" and record.queue_ms > 0


def test_queue_full_is_rejected_at_once(make_proxy):
    with make_proxy(duckdb_config(maxRunningQueries=1, maxQueuedQueries=1)) as proxy:
        holder = hold_slot(proxy)
        request, waiting = submit(proxy, "SELECT 1")
        assert waiting.stats["state"] == "QUEUED"
        cur = connect(proxy).cursor()
        with pytest.raises(TrinoQueryError) as failure:
            cur.execute("SELECT 3")
        assert failure.value.error_name == "QUERY_QUEUE_FULL"
        assert failure.value.error_type == "INSUFFICIENT_RESOURCES"
        assert "maxQueuedQueries=1" in failure.value.message
        holder.cancel()
        assert drain(request, waiting) == ([[1]], "FINISHED")


def test_queue_timeout_fails_with_clear_error(make_proxy):
    with make_proxy(duckdb_config(maxRunningQueries=1, queueTimeoutSecs=0.3)) as proxy:
        holder = hold_slot(proxy)
        cur = connect(proxy).cursor()
        with pytest.raises(TrinoQueryError) as failure:
            cur.execute("SELECT 4")
            cur.fetchall()
        assert failure.value.error_name == "EXCEEDED_TIME_LIMIT"
        assert "queueTimeoutSecs=0.3" in failure.value.message
        assert group_load(proxy) == (1, 0)
        holder.cancel()


@pytest.mark.parametrize(
    ("sql", "error_name", "fragment"),
    [
        ("SELEC 1", "SYNTAX_ERROR", 'syntax error at or near "SELEC"'),
        ("SELECT * FROM no_such_table", "TABLE_NOT_FOUND", "no_such_table"),
        ("SELECT 'x'::INTEGER", "INVALID_FUNCTION_ARGUMENT", "Could not convert string 'x'"),
    ],
)
def test_engine_errors_are_user_errors_with_duckdbs_message(proxy, sql, error_name, fragment):
    cur = connect(proxy).cursor()
    with pytest.raises(TrinoUserError) as failure:
        cur.execute(sql)
    assert failure.value.error_name == error_name
    assert fragment in failure.value.message


def test_parameters_bind_through_the_ast(proxy):
    cur = connect(proxy).cursor()
    cur.execute("SELECT ? + 1, ?, ?", [41, "it's", None])
    assert cur.fetchall() == [[42, "it's", None]]
    cur = connect(proxy, legacy_prepared_statements=True).cursor()
    cur.execute("SELECT ? * 2", [21])
    assert cur.fetchall() == [[42]]
    # Trino's arrays count from 1, a bound subscript too.
    for legacy in (True, False):
        cur = connect(proxy, legacy_prepared_statements=legacy).cursor()
        cur.execute("SELECT ARRAY[10, 20, 30][?]", [2])
        assert cur.fetchall() == [[20]]


def test_use_and_set_session_update_the_client_session(proxy):
    conn = connect(proxy)
    cur = conn.cursor()
    cur.execute("USE memory.main")
    cur.fetchall()
    assert conn._client_session.catalog == "memory"
    assert conn._client_session.schema == "main"
    cur.execute("SET SESSION query_max_run_time = '5m'")
    cur.fetchall()
    assert conn._client_session.properties == {"query_max_run_time": "5m"}


def test_query_max_run_time_cancels_with_timeout(proxy):
    cur = connect(proxy, session_properties={"query_max_run_time": "300ms"}).cursor()
    with pytest.raises(TrinoQueryError):
        cur.execute(LONG_QUERY)
        cur.fetchall()
    record = record_of(proxy, cur.query_id)
    assert record.status == "CANCELLED" and record.cancel_reason == "timeout"


def test_client_that_stops_polling_is_abandoned(make_proxy):
    config = duckdb_config()
    config["queryflux"] = {"frontends": {"trinoHttp": {"clientTimeoutSecs": 0.5}}}
    with make_proxy(config) as proxy:
        # Not hold_slot: its slot is held for only the half second, which a loaded
        # machine's polling can miss. The record tells that the query ran.
        holder = TrinoQuery(low_level_request(proxy), "SELECT * FROM range(100000000) t(i)")
        holder.execute()
        record = wait_until(
            lambda: (r := record_of(proxy, holder.query_id)).status == "CANCELLED" and r,
            timeout=5,
        )
        assert record.cancel_reason == "client_abandoned"
        assert record.cluster == "duck" and record.execution_ms > 0
        assert group_load(proxy) == (0, 0)


def _post_statement(port: int, sql: str, headers: dict[str, str]) -> dict:
    """The first page of `sql`, submitted with plain HTTP."""
    url = f"http://127.0.0.1:{port}/v1/statement"
    return requests.post(url, data=sql, headers=headers).json()


def test_a_delivered_last_page_can_be_fetched_again_then_is_forgotten(make_proxy, monkeypatch):
    """After the final page, the query is kept compact (encoded last page only) for a
    client that retries that page, then forgotten; nothing else is kept."""
    import qflux.frontends.trino_http as frontend

    monkeypatch.setattr(frontend, "DELIVERED_RETENTION_SECS", 1.0)
    monkeypatch.setattr(frontend, "REAPER_INTERVAL", 0.05)
    config = duckdb_config()
    config["queryflux"] = {"frontends": {"trinoHttp": {"maxPageBytes": 2048}}}
    with make_proxy(config) as proxy:
        trino_frontend = proxy.server.trino
        headers = {"X-Trino-User": "t"}
        page = _post_statement(proxy.port(), "SELECT i FROM range(2000) t(i)", headers)
        rows, last_uri = list(page.get("data", [])), None
        while "nextUri" in page:
            last_uri = page["nextUri"]
            page = requests.get(last_uri, headers=headers).json()
            rows += page.get("data", [])
        assert rows == [[i] for i in range(2000)] and page["stats"]["state"] == "FINISHED"
        query_id = page["id"]
        wait_until(lambda: proxy.call(lambda: query_id in trino_frontend._delivered), timeout=3)
        assert proxy.call(lambda: query_id in trino_frontend.queries) is False
        again = requests.get(last_uri, headers=headers)
        assert again.status_code == 200 and again.json() == page
        stale = requests.get(last_uri.rsplit("/", 1)[0] + "/1", headers=headers)
        assert stale.status_code == 410
        wait_until(lambda: proxy.call(lambda: not trino_frontend._delivered), timeout=5)
        assert requests.get(last_uri, headers=headers).status_code == 410
        assert proxy.call(lambda: (trino_frontend._live, trino_frontend._retained)) == ({}, [])


def test_retry_of_the_current_token_returns_the_same_page(proxy):
    port = proxy.port()
    headers = {"X-Trino-User": "t"}
    first = _post_statement(port, "SELECT * FROM range(5000000) t(i)", headers)
    next_uri = first["nextUri"]
    page = requests.get(next_uri, headers=headers)
    again = requests.get(next_uri, headers=headers)
    assert page.status_code == again.status_code == 200
    assert page.content == again.content
    stale = requests.get(first["nextUri"].rsplit("/", 1)[0] + "/0", headers=headers)
    assert stale.status_code == 410
    requests.delete(json.loads(page.content)["nextUri"], headers=headers)


def test_query_history_keeps_the_routing_trace(proxy):
    cur = connect(proxy).cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    record = record_of(proxy, cur.query_id)
    assert record.status == "FINISHED"
    assert record.group == "g" and record.cluster == "duck" and record.engine == "duckDb"
    assert record.routing_trace.fallback_used is True
    assert record.rows_returned == 1 and record.user == "tester"
    port = proxy.port("adminApi")
    info = requests.get(f"http://127.0.0.1:{port}/api/queries/{cur.query_id}").json()
    assert info["routingTrace"] == {"group": "g", "fallbackUsed": True, "steps": []}
    assert info["status"] == "FINISHED"


def test_header_and_protocol_routers_pick_the_group(make_proxy, named_duckdb_files):
    paths = named_duckdb_files("alpha", "beta")
    config = {
        "clusters": {
            name: {"engine": "duckDb", "databasePath": path} for name, path in paths.items()
        },
        "clusterGroups": {
            "a": {"members": ["alpha"], "maxRunningQueries": 2},
            "b": {"members": ["beta"], "maxRunningQueries": 2},
        },
        "routers": [
            {"type": "header", "headerName": "X-Target", "headerValueToGroup": {"b": "b"}},
            {"type": "protocolBased", "trinoHttp": "a"},
        ],
        "routingFallback": "b",
    }
    with make_proxy(config) as proxy:
        plain = connect(proxy).cursor()
        plain.execute("SELECT name FROM whoami")
        assert plain.fetchall() == [["alpha"]]
        routed = connect(proxy, http_headers={"X-Target": "b"}).cursor()
        routed.execute("SELECT name FROM whoami")
        assert routed.fetchall() == [["beta"]]
        trace = record_of(proxy, routed.query_id).routing_trace
        assert [step.router for step in trace.steps] == ["header"]
        assert trace.group == "b" and not trace.fallback_used


def test_unknown_path_and_bad_requests_get_http_errors(proxy):
    base = f"http://127.0.0.1:{proxy.port()}"
    assert requests.get(f"{base}/v1/nope").status_code == 404
    assert (
        requests.post(f"{base}/v1/statement", data="", headers={"X-Trino-User": "t"}).status_code
        == 400
    )
    gone = requests.get(f"{base}/v1/statement/executing/20200101_000000_00000_abcde/x1/1")
    assert gone.status_code == 410
    info = requests.get(f"{base}/v1/info").json()
    assert info["coordinator"] is True and info["nodeVersion"]["version"].startswith("qflux-")


def test_client_that_disconnects_while_queued_frees_its_place(make_proxy):
    with make_proxy(duckdb_config(maxRunningQueries=1)) as proxy:
        holder = hold_slot(proxy)
        port = proxy.port()
        sock = socket.create_connection(("127.0.0.1", port))
        body = b"SELECT 5"
        sock.sendall(
            b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nX-Trino-User: t\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        reply = json.loads(sock.recv(65536).split(b"\r\n\r\n", 1)[1])
        assert reply["stats"]["state"] == "QUEUED" and group_load(proxy) == (1, 1)
        path = urlsplit(reply["nextUri"]).path
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())  # a long poll...
        sock.close()  # ...that the client abandons
        record = wait_until(
            lambda: (r := record_of(proxy, reply["id"])).status == "CANCELLED" and r
        )
        assert record.cancel_reason == "client_disconnect"
        assert group_load(proxy) == (1, 0)
        holder.cancel()
        wait_until(lambda: group_load(proxy) == (0, 0))


def test_garbage_gets_an_http_error_and_the_server_carries_on(proxy):
    with socket.create_connection(("127.0.0.1", proxy.port())) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", proxy.port())) as sock:
        sock.sendall(
            b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 413")
    cur = connect(proxy).cursor()
    cur.execute("SELECT 'still here'")
    assert cur.fetchall() == [["still here"]]


def test_pytest_plugin_fixture_serves_the_embedded_default(qflux_proxy):
    cur = trino.dbapi.connect(host="127.0.0.1", port=qflux_proxy.port(), user="me").cursor()
    cur.execute("SELECT 6 * 7")
    assert cur.fetchall() == [[42]]


def _raw_info_request(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /v1/info HTTP/1.1\r\nHost: qflux\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, "closed before the answer"
        answer += chunk
    return answer


def test_an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not(make_proxy, monkeypatch):
    import qflux.frontends.trino_http as frontend

    monkeypatch.setattr(frontend, "KEEP_ALIVE_IDLE_SECS", 0.4)
    with make_proxy(duckdb_config()) as proxy:
        port = proxy.address("trinoHttp")[1]
        with (
            socket.create_connection(("127.0.0.1", port)) as idle,
            socket.create_connection(("127.0.0.1", port)) as busy,
        ):
            assert _raw_info_request(idle).startswith(b"HTTP/1.1 200")
            for _ in range(8):  # 1.2 s of requests, never 0.4 s apart
                assert _raw_info_request(busy).startswith(b"HTTP/1.1 200")
                time.sleep(0.15)
            idle.settimeout(5)
            assert idle.recv(1) == b""  # closed by the proxy long since
            assert _raw_info_request(busy).startswith(b"HTTP/1.1 200")


def test_a_query_outlasting_the_idle_timeout_in_its_post_is_not_cut(make_proxy, monkeypatch):
    import qflux.frontends.trino_http as frontend

    monkeypatch.setattr(frontend, "KEEP_ALIVE_IDLE_SECS", 0.3)
    with make_proxy(duckdb_config(maxRunningQueries=1)) as proxy:
        holder = hold_slot(proxy)
        request, status = submit(proxy, "SELECT 5 AS five")
        assert status.stats["state"] == "QUEUED"  # its POST's task waits for the slot
        time.sleep(1.0)  # over three idle timeouts, queued
        holder.cancel()
        assert drain(request, status) == ([[5]], "FINISHED")


def test_a_small_result_of_several_batches_is_answered_finished_in_its_post(proxy):
    _, status = submit(proxy, "SELECT i FROM range(70000) t(i) ORDER BY i")  # 2 batches
    assert status.next_uri is None and status.stats["state"] == "FINISHED"
    assert [row[0] for row in status.rows] == list(range(70000))


def _read_response(sock: socket.socket, buffered: bytes) -> tuple[bytes, bytes]:
    """One whole HTTP response (head and Content-Length body) and the bytes after it."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "closed before the answer"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        .split(b":")[1]
        .strip()
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed in the body"
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def test_a_post_answered_before_its_end_hands_the_connection_on_with_pipelined_requests(
    make_proxy,
):
    with make_proxy(duckdb_config(maxRunningQueries=1)) as proxy:
        holder = hold_slot(proxy)
        port = proxy.address("trinoHttp")[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sql = b"SELECT 7 AS seven"
            sock.sendall(
                b"POST /v1/statement HTTP/1.1\r\nHost: qflux\r\nX-Trino-User: t\r\n"
                b"Content-Length: %d\r\n\r\n%s"
                % (len(sql), sql)
                + b"GET /v1/info HTTP/1.1\r\nHost: qflux\r\n\r\n"  # pipelined behind it
            )
            first, rest = _read_response(sock, b"")
            page = json.loads(first.partition(b"\r\n\r\n")[2])
            assert page["stats"]["state"] == "QUEUED"  # still waiting for the slot
            info, rest = _read_response(sock, rest)  # answered while the query waits
            assert b'"coordinator"' in info
            assert group_load(proxy) == (1, 1)
            holder.cancel()
            next_uri = urlsplit(page["nextUri"])
            rows: list = []
            while True:
                sock.sendall(b"GET %s HTTP/1.1\r\nHost: qflux\r\n\r\n" % next_uri.path.encode())
                answer, rest = _read_response(sock, rest)
                page = json.loads(answer.partition(b"\r\n\r\n")[2])
                rows += page.get("data", [])
                if "nextUri" not in page:
                    break
                next_uri = urlsplit(page["nextUri"])
            assert rows == [[7]] and page["stats"]["state"] == "FINISHED"


def test_a_producer_failing_after_its_post_was_answered_leaves_the_connection_alone(
    proxy, monkeypatch
):
    from qflux.frontends.trino_query import TrinoQuery as ProxyQuery

    async def answer_then_fail(self, dispatcher):
        self.release_submit()  # as when the first page fills or the client waited long
        dispatcher.finish_local(self.handle)
        raise RuntimeError("a bug after the answer")

    monkeypatch.setattr(ProxyQuery, "_run", answer_then_fail)
    port = proxy.address("trinoHttp")[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sql = b"SELECT 1"
        sock.sendall(
            b"POST /v1/statement HTTP/1.1\r\nHost: qflux\r\nX-Trino-User: t\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(sql), sql)
        )
        first, rest = _read_response(sock, b"")
        assert first.startswith(b"HTTP/1.1 200") and b'"nextUri"' in first
        sock.sendall(b"GET /v1/info HTTP/1.1\r\nHost: qflux\r\n\r\n")
        info, rest = _read_response(sock, rest)  # the connection still serves, unharmed
        assert info.startswith(b"HTTP/1.1 200") and b'"coordinator"' in info
        next_uri = urlsplit(json.loads(first.partition(b"\r\n\r\n")[2])["nextUri"]).path
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: qflux\r\n\r\n" % next_uri.encode())
        last, rest = _read_response(sock, rest)  # the query's end, as the channel closed
        assert last.startswith(b"HTTP/1.1 200") and b'"nextUri"' not in last
        assert rest == b""
