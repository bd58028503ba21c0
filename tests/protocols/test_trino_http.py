"""The Trino HTTP machine without sockets: bytes in -> events, events in -> bytes."""

from __future__ import annotations

import base64
import json
import urllib.parse

import h11
import pytest
import requests
import trino.client
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from qflux.protocols.http1 import encode_response
from qflux.protocols.trino_http import (
    NEED_DATA,
    CancelStatement,
    ConnectionClosed,
    EncodedResults,
    FetchResults,
    GetQueryInfo,
    GetServerInfo,
    JsonResponse,
    LocalProtocolError,
    NoContent,
    QueryResults,
    RemoteProtocolError,
    SessionUpdate,
    SubmitStatement,
    TextResponse,
    TrinoHttpConnection,
    parse_data_size,
    parse_duration,
)

# --- helpers ------------------------------------------------------------------------------


def request(
    method: str = "GET",
    target: str = "/v1/info",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    version: str = "1.1",
) -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: proxy"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def submit(sql: str = "SELECT 1", headers: list[tuple[str, str]] | None = None) -> bytes:
    return request("POST", "/v1/statement", headers, sql.encode())


def event_of(data: bytes, **kwargs: int) -> object:
    conn = TrinoHttpConnection(**kwargs)
    conn.receive_data(data)
    return conn.next_event()


def error_of(data: bytes, **kwargs: int) -> RemoteProtocolError:
    conn = TrinoHttpConnection(**kwargs)
    conn.receive_data(data)
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    return info.value


def parse_response(data: bytes, method: bytes = b"GET") -> tuple[h11.Response, bytes, bytes]:
    """(response, body, trailing bytes) as an HTTP client reads them."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "proxy")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    response = client.next_event()
    assert isinstance(response, h11.Response)
    body = b""
    while not isinstance(event := client.next_event(), h11.EndOfMessage):
        assert isinstance(event, h11.Data), event
        body += event.data
    return response, body, client.trailing_data[0]


def header_values(response: h11.Response, name: str) -> list[str]:
    return [v.decode() for n, v in response.headers if n == name.lower().encode()]


def serving(data: bytes) -> tuple[TrinoHttpConnection, object]:
    conn = TrinoHttpConnection()
    conn.receive_data(data)
    return conn, conn.next_event()


# --- requests -> events -------------------------------------------------------------------


def test_submit_statement_parses_the_whole_session() -> None:
    headers = [
        ("X-Trino-User", "alice"),
        ("X-Trino-Original-User", "root"),
        ("X-Trino-Catalog", "hive"),
        ("X-Trino-Schema", "web"),
        ("X-Trino-Path", "hive.web"),
        ("X-Trino-Source", "dbt"),
        ("X-Trino-Client-Tags", " etl , ,nightly,"),
        ("X-Trino-Session", "query_max_run_time=1h, hive.x=a%2Cb+c%3D"),
        ("X-Trino-Session", "join_distribution_type=BROADCAST"),
        ("X-Trino-Client-Info", "info"),
        ("X-Trino-Client-Capabilities", "PATH,PARAMETRIC_DATETIME"),
        ("X-Trino-Time-Zone", "Europe/Paris"),
        ("X-Trino-Language", "fr-FR"),
        ("X-Trino-Trace-Token", "tt"),
        ("X-Trino-Transaction-Id", "tx-1"),
        ("X-Trino-Prepared-Statement", "q1=SELECT+%2A+FROM+t+WHERE+a+%3D+%3F,q2=SELECT+1"),
        ("X-Trino-Extra-Credential", "k1=v%201, k2=v2"),
        ("X-Trino-Role", "system=ROLE%7Badmin%7D"),
        ("X-Trino-Resource-Estimate", "EXECUTION_TIME=1m,PEAK_MEMORY=1GB"),
        ("X-Custom", "a"),
        ("X-Custom", "b"),
    ]
    event = event_of(submit("SELECT 'é'", headers))
    assert isinstance(event, SubmitStatement)
    assert event.sql == "SELECT 'é'"
    assert event.keep_alive is True
    s = event.session
    assert (s.user, s.original_user, s.catalog, s.schema, s.path, s.source) == (
        "alice", "root", "hive", "web", "hive.web", "dbt",
    )  # fmt: skip
    assert s.client_tags == ("etl", "nightly")
    assert s.session_properties == {
        "query_max_run_time": "1h",
        "hive.x": "a,b c=",
        "join_distribution_type": "BROADCAST",
    }
    assert (s.client_info, s.time_zone, s.language, s.trace_token) == (
        "info", "Europe/Paris", "fr-FR", "tt",
    )  # fmt: skip
    assert s.client_capabilities == ("PATH", "PARAMETRIC_DATETIME")
    assert s.transaction_id == "tx-1"
    assert s.prepared_statements == {"q1": "SELECT * FROM t WHERE a = ?", "q2": "SELECT 1"}
    assert s.extra_credentials == {"k1": "v 1", "k2": "v2"}
    assert s.roles == "system=ROLE%7Badmin%7D"
    assert s.resource_estimates == {"EXECUTION_TIME": "1m", "PEAK_MEMORY": "1GB"}
    assert s.headers["x-custom"] == "a,b"
    assert s.headers["x-trino-user"] == "alice"
    assert s.headers["content-length"] == str(len("SELECT 'é'".encode()))
    assert all(name == name.lower() for name in s.headers)


def test_minimal_session_defaults() -> None:
    event = event_of(submit("SELECT 1", [("X-Trino-Transaction-Id", "NONE")]))
    assert isinstance(event, SubmitStatement)
    s = event.session
    assert s.user is None and s.catalog is None and s.transaction_id is None
    assert s.client_tags == () and s.session_properties == {} and s.prepared_statements == {}


def test_legacy_presto_headers_and_trino_precedence() -> None:
    headers = [
        ("X-Presto-User", "old"),
        ("X-Presto-Catalog", "tpch"),
        ("X-Presto-Session", "a=1"),
        ("X-Trino-Catalog", "hive"),
    ]
    event = event_of(submit("SELECT 1", headers))
    assert isinstance(event, SubmitStatement)
    assert event.session.user == "old"
    assert event.session.catalog == "hive"
    assert event.session.session_properties == {"a": "1"}
    # In either order.
    event = event_of(submit("SELECT 1", [("X-Trino-Schema", "new"), ("X-Presto-Schema", "old")]))
    assert isinstance(event, SubmitStatement)
    assert event.session.schema == "new"


@pytest.mark.parametrize(
    ("headers", "user"),
    [
        ([("Authorization", "Basic " + base64.b64encode(b"bob:s3:cret").decode())], "bob"),
        ([("Authorization", "basic " + base64.b64encode("zoë:pw".encode()).decode())], "zoë"),
        (
            [("X-Trino-User", "carol"), ("Authorization", "Basic Ym9iOnB3")],
            "carol",
        ),
        ([("Authorization", "Basic !!!not-base64")], None),
        ([("Authorization", "Bearer abc.def")], None),
        ([], None),
    ],
)
def test_user_falls_back_to_basic_auth(headers: list[tuple[str, str]], user: str | None) -> None:
    event = event_of(submit("SELECT 1", headers))
    assert isinstance(event, SubmitStatement)
    assert event.session.user == user


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Trino-Session", "a=1,broken"),
        ("X-Presto-Session", "=1"),
        ("X-Trino-Prepared-Statement", "q1"),
        ("X-Trino-Extra-Credential", "k"),
    ],
)
def test_malformed_pair_header_is_400_naming_the_header(header: str, value: str) -> None:
    exc = error_of(submit("SELECT 1", [(header, value)]))
    assert exc.status_code == 400
    assert header in exc.message


def test_headers_sent_by_the_trino_client_parse_back() -> None:
    session = trino.client.ClientSession(
        user="dave",
        catalog="hive",
        schema="default",
        source="tests",
        properties={"a": "x, y=z", "b": "100%+"},
        client_tags=["t1", "t2"],
        roles={"system": "admin"},
        timezone="UTC",
        extra_credential=[("cred", "v a+l,ue")],
        transaction_id="NONE",
    )
    session.prepared_statements = {"p": "SELECT a, b FROM t WHERE c = 'x+y'"}
    trino_request = trino.client.TrinoRequest("localhost", 8080, session)
    headers = [(k, v) for k, v in trino_request.http_headers.items() if v is not None]
    event = event_of(submit("SELECT 1", headers))
    assert isinstance(event, SubmitStatement)
    s = event.session
    assert (s.user, s.catalog, s.schema, s.source, s.time_zone) == (
        "dave", "hive", "default", "tests", "UTC",
    )  # fmt: skip
    assert s.session_properties == {"a": "x, y=z", "b": "100%+"}
    assert s.client_tags == ("t1", "t2")
    assert s.prepared_statements == {"p": "SELECT a, b FROM t WHERE c = 'x+y'"}
    assert s.extra_credentials == {"cred": "v a+l,ue"}
    assert s.transaction_id is None
    assert s.roles is not None and s.roles.startswith("system=")
    assert "NUMBER" in s.client_capabilities


@pytest.mark.parametrize(
    ("body", "message"), [(b"", "SQL statement is empty"), (b"SELECT \xff", "UTF-8")]
)
def test_bad_sql_body_is_400(body: bytes, message: str) -> None:
    exc = error_of(request("POST", "/v1/statement", body=body))
    assert exc.status_code == 400
    assert message in exc.message


def test_chunked_request_body() -> None:
    data = (
        b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"7\r\nSELECT \r\n1\r\n1\r\n0\r\n\r\n"
    )
    event = event_of(data)
    assert isinstance(event, SubmitStatement)
    assert event.sql == "SELECT 1"


def test_fetch_results() -> None:
    event = event_of(
        request("GET", "/v1/statement/executing/20240101_000000_00001_abcde/y7a2/3?maxWait=1.5s")
    )
    assert event == FetchResults("20240101_000000_00001_abcde", "y7a2", 3, "executing", 1.5, None)
    event = event_of(
        request("GET", "/v1/statement/queued/q1/s1/0?maxWait=200ms&targetResultSize=16kB")
    )
    assert event == FetchResults("q1", "s1", 0, "queued", 0.2, 16 * 1024)
    event = event_of(request("GET", "/v1/statement/queued/q1/s1/7?maxWait=2h"))
    assert isinstance(event, FetchResults) and event.max_wait == 60.0


def test_absolute_form_target() -> None:
    event = event_of(request("GET", "http://proxy:8080/v1/statement/queued/q/s/1?maxWait=1s"))
    assert event == FetchResults("q", "s", 1, "queued", 1.0, None)


@pytest.mark.parametrize(
    "query", ["maxWait=", "maxWait=5", "maxWait=-1s", "maxWait=1x", "targetResultSize=1mb"]
)
def test_bad_query_params_are_400(query: str) -> None:
    exc = error_of(request("GET", f"/v1/statement/executing/q/s/1?{query}"))
    assert exc.status_code == 400
    assert query.split("=")[0] in exc.message


def test_cancel_statement() -> None:
    assert event_of(request("DELETE", "/v1/statement/executing/q/s/4")) == CancelStatement(
        "q", "s", 4, "executing"
    )
    assert event_of(request("DELETE", "/v1/statement/queued/q/s/0")) == CancelStatement(
        "q", "s", 0, "queued"
    )
    assert event_of(request("DELETE", "/v1/statement/executing/q/s")) == CancelStatement(
        "q", "s", None, "executing"
    )


def test_query_info_and_server_info() -> None:
    assert event_of(request("GET", "/v1/query/20240101_x")) == GetQueryInfo("20240101_x")
    assert event_of(request("GET", "/v1/info")) == GetServerInfo()


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/v1/info/state",
        "/v1/statement/",
        "/v1/statement/running/q/s/1",
        "/v1/statement/executing/q-1/s/1",
        "/v1/statement/executing/q/s_1/1",
        "/v1/statement/executing/q/s/-1",
        "/v1/statement/executing/q/s/4611686018427387904",  # 2**62
        "/v1/statement/executing/q/s/99999999999999999999999",
        "/v1/statement/queued/q/s",
        "/v1/query/a%20b",
        "*",
    ],
)
def test_unknown_paths_are_404(target: str) -> None:
    assert error_of(request("GET", target)).status_code == 404


@pytest.mark.parametrize(
    ("method", "target", "allow"),
    [
        ("GET", "/v1/statement", "POST"),
        ("PUT", "/v1/statement/executing/q/s/1", "GET, DELETE"),
        ("GET", "/v1/statement/executing/q/s", "DELETE"),
        ("POST", "/v1/info", "GET"),
        ("HEAD", "/v1/info", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(method: str, target: str, allow: str) -> None:
    exc = error_of(request(method, target))
    assert exc.status_code == 405
    assert dict(exc.headers)["Allow"] == allow


def test_largest_token_is_accepted() -> None:
    event = event_of(request("GET", f"/v1/statement/executing/q/s/{2**62 - 1}"))
    assert isinstance(event, FetchResults) and event.token == 2**62 - 1


# --- events -> bytes ----------------------------------------------------------------------


def test_query_results_json_and_verbatim_data() -> None:
    conn, _ = serving(submit())
    data_json = b'[[1, "a\\u00e9"],[2,null] ]'
    out = conn.send(
        QueryResults(
            id="q1",
            info_uri="http://proxy/ui/query.html?q1",
            next_uri="http://proxy/v1/statement/executing/q1/s/1",
            columns=[{"name": "x", "type": "integer"}],
            data_json=data_json,
            stats={"state": "RUNNING"},
        )
    )
    response, body, _ = parse_response(out, b"POST")
    assert response.status_code == 200
    assert header_values(response, "content-type") == ["application/json"]
    assert header_values(response, "content-length") == [str(len(body))]
    assert b',"data":' + data_json + b',"stats"' in body
    decoded = json.loads(body)
    assert list(decoded) == ["id", "infoUri", "nextUri", "columns", "data", "stats", "warnings"]
    assert decoded["data"] == [[1, "aé"], [2, None]]
    assert decoded["warnings"] == []


def test_query_results_all_fields_in_trino_order() -> None:
    conn, _ = serving(submit())
    out = conn.send(
        QueryResults(
            id="q1",
            info_uri="i",
            next_uri=None,
            partial_cancel_uri="p",
            error={"message": "boom", "errorName": "X"},
            warnings=[{"message": "w"}],
            update_type="INSERT",
            update_count=0,
        )
    )
    decoded = json.loads(parse_response(out)[1])
    assert list(decoded) == [
        "id", "infoUri", "partialCancelUri", "stats", "error", "warnings", "updateType",
        "updateCount",
    ]  # fmt: skip
    assert decoded["updateCount"] == 0 and decoded["error"]["message"] == "boom"


def test_session_update_headers_are_read_back_by_the_trino_client() -> None:
    update = SessionUpdate(
        set_catalog="iceberg",
        set_schema="sales",
        set_path="iceberg.sales",
        set_session={"a": "x, y=z+1%", "b": "two words"},
        clear_session=("old",),
        added_prepare={"p1": "SELECT a, b FROM t WHERE c = 'x+y'"},
        deallocated_prepare=("gone",),
        started_transaction_id="tx-9",
        clear_transaction_id=True,
        set_role={"system": "ROLE{admin}"},
        set_authorization_user="eve",
    )
    conn, _ = serving(submit())
    out = conn.send(QueryResults(id="q1", info_uri="i", data_json=b"[[1]]", set_headers=update))
    response, body, _ = parse_response(out, b"POST")
    assert header_values(response, "x-trino-set-session") == ["a=x%2C+y%3Dz%2B1%25", "b=two+words"]
    assert header_values(response, "x-trino-clear-transaction-id") == ["true"]
    assert header_values(response, "x-trino-set-path") == ["iceberg.sales"]

    # Hand the response to the trino client's own decoding, the way requests would.
    http_response = requests.Response()
    http_response.status_code = 200
    http_response._content = body
    pairs = [(n.decode(), v.decode()) for n, v in response.headers]
    http_response.headers = CaseInsensitiveDict(urllib3.HTTPHeaderDict(pairs))
    client_session = trino.client.ClientSession(user="u", properties={"old": "1", "keep": "2"})
    client_session.prepared_statements = {"gone": "SELECT 2"}
    status = trino.client.TrinoRequest("localhost", 8080, client_session).process(http_response)
    assert status.rows == [[1]]
    assert client_session.properties == {"keep": "2", "a": "x, y=z+1%", "b": "two words"}
    assert client_session.catalog == "iceberg" and client_session.schema == "sales"
    assert client_session.prepared_statements == {"p1": "SELECT a, b FROM t WHERE c = 'x+y'"}
    assert client_session.roles["system"] == "ROLE{admin}"
    assert client_session.authorization_user == "eve"
    assert http_response.headers["X-Trino-Started-Transaction-Id"] == "tx-9"


def test_json_text_and_no_content_responses() -> None:
    conn, _ = serving(request("GET", "/v1/info"))
    out = conn.send(JsonResponse(200, {"starting": False, "v": "é"}, [("X-A", "1")]))
    response, body, _ = parse_response(out)
    assert json.loads(body) == {"starting": False, "v": "é"}
    assert header_values(response, "x-a") == ["1"]

    conn, _ = serving(request("GET", "/v1/query/q"))
    response, body, _ = parse_response(conn.send(TextResponse(404, "Query not found: q")))
    assert (response.status_code, body) == (404, b"Query not found: q")
    assert header_values(response, "content-type") == ["text/plain; charset=utf-8"]

    conn, _ = serving(request("DELETE", "/v1/statement/executing/q/s/1"))
    response, body, _ = parse_response(conn.send(NoContent()))
    assert (response.status_code, body) == (204, b"")


def test_error_response_closes_the_connection() -> None:
    conn = TrinoHttpConnection()
    conn.receive_data(request("PUT", "/v1/info"))
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert conn.should_close
    with pytest.raises(RemoteProtocolError):  # the error sticks
        conn.next_event()
    response, body, _ = parse_response(conn.error_response(info.value))
    assert response.status_code == 405 and response.reason == b"Method Not Allowed"
    assert header_values(response, "connection") == ["close"]
    assert header_values(response, "allow") == ["GET"]
    assert body == b"Method PUT not allowed"
    with pytest.raises(LocalProtocolError):
        conn.error_response(info.value)


def test_error_response_after_malformed_http() -> None:
    conn = TrinoHttpConnection()
    conn.receive_data(b"NOT HTTP AT ALL\r\n\r\n")
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_code == 400
    response, _, _ = parse_response(conn.error_response(info.value))
    assert response.status_code == 400


# --- connection lifecycle -----------------------------------------------------------------


def test_keep_alive_two_sequential_requests() -> None:
    conn = TrinoHttpConnection()
    conn.receive_data(submit("SELECT 1"))
    first = conn.next_event()
    assert isinstance(first, SubmitStatement) and first.sql == "SELECT 1"
    assert conn.next_event() is NEED_DATA  # serving: nothing more until we respond
    conn.send(QueryResults(id="q", info_uri="i", next_uri="n"))
    assert not conn.should_close
    assert conn.next_event() is NEED_DATA
    conn.receive_data(request("GET", "/v1/statement/executing/q/s/1"))
    assert conn.next_event() == FetchResults("q", "s", 1, "executing")
    conn.send(QueryResults(id="q", info_uri="i"))
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()
    assert conn.should_close


def test_pipelined_requests_are_served_in_order() -> None:
    conn = TrinoHttpConnection()
    conn.receive_data(
        submit("SELECT 1")
        + request("GET", "/v1/info")
        + request("DELETE", "/v1/statement/executing/q/s")
    )
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), SubmitStatement)
    assert conn.next_event() is NEED_DATA
    assert conn.peer_closed
    conn.send(QueryResults(id="q", info_uri="i"))
    assert conn.next_event() == GetServerInfo()
    conn.send(JsonResponse(200, {}))
    assert conn.next_event() == CancelStatement("q", "s", None, "executing")
    conn.send(NoContent())
    assert conn.next_event() == ConnectionClosed()


def test_connection_close_and_http10() -> None:
    conn = TrinoHttpConnection()
    conn.receive_data(submit("SELECT 1", [("Connection", "close")]))
    event = conn.next_event()
    assert isinstance(event, SubmitStatement) and event.keep_alive is False
    assert conn.should_close
    response, _, _ = parse_response(conn.send(QueryResults(id="q", info_uri="i")), b"POST")
    assert header_values(response, "connection") == ["close"]
    assert conn.next_event() == ConnectionClosed()

    conn = TrinoHttpConnection()
    conn.receive_data(request("POST", "/v1/statement", body=b"SELECT 2", version="1.0"))
    event = conn.next_event()
    assert isinstance(event, SubmitStatement) and event.keep_alive is False
    out = conn.send(QueryResults(id="q", info_uri="i"))
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert conn.should_close


def test_upgrade_header_is_ignored_and_connection_continues() -> None:
    conn, event = serving(
        request("GET", "/v1/info", [("Connection", "Upgrade"), ("Upgrade", "h2c")])
    )
    assert event == GetServerInfo()
    conn.send(JsonResponse(200, {}))
    conn.receive_data(request("GET", "/v1/info"))
    assert conn.next_event() == GetServerInfo()


def test_peer_close_during_long_poll() -> None:
    conn, event = serving(request("GET", "/v1/statement/executing/q/s/1?maxWait=30s"))
    assert isinstance(event, FetchResults)
    assert not conn.peer_closed
    conn.receive_data(b"")
    assert conn.peer_closed
    assert conn.next_event() is NEED_DATA
    conn.send(QueryResults(id="q", info_uri="i"))
    assert conn.next_event() == ConnectionClosed()


def test_eof_mid_request_is_remote_error() -> None:
    conn = TrinoHttpConnection()
    conn.receive_data(b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nSEL")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()

    conn = TrinoHttpConnection()
    conn.receive_data(b"GET /v1/info HTTP/1.1\r\nHo")
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_eof_on_fresh_connection() -> None:
    conn = TrinoHttpConnection()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


def test_body_over_cap_by_content_length_is_413_before_the_body() -> None:
    conn = TrinoHttpConnection(max_body_bytes=100)
    conn.receive_data(b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_code == 413
    response, _, _ = parse_response(conn.error_response(info.value), b"POST")
    assert response.status_code == 413


def test_chunked_body_over_cap_is_413() -> None:
    chunk = b"40\r\n" + b"x" * 64 + b"\r\n"
    data = b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    exc = error_of(data + chunk * 3, max_body_bytes=128)
    assert exc.status_code == 413


def test_body_at_cap_is_accepted() -> None:
    event = event_of(submit("S" * 100), max_body_bytes=100)
    assert isinstance(event, SubmitStatement) and len(event.sql) == 100


def test_header_flood_is_431() -> None:
    # One endless header line: h11 gives up once the incomplete head passes the cap.
    conn = TrinoHttpConnection(max_header_bytes=1024)
    conn.receive_data(b"GET /v1/info HTTP/1.1\r\nX-Big: ")
    for _ in range(100):
        conn.receive_data(b"a" * 100)
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.status_code == 431
    # A complete head that is still too large.
    headers = [(f"X-H{i}", "v" * 50) for i in range(40)]
    assert error_of(request("GET", "/v1/info", headers), max_header_bytes=1024).status_code == 431


def test_pipelining_flood_stays_bounded_then_fails() -> None:
    conn = TrinoHttpConnection(max_body_bytes=1000, max_header_bytes=1000)
    conn.receive_data(request("GET", "/v1/info"))
    assert conn.next_event() == GetServerInfo()
    for _ in range(10_000):  # the peer keeps sending while we are still serving
        conn.receive_data(b"x" * 100)
        assert conn.buffered_bytes <= conn.max_buffered_bytes
    conn.send(JsonResponse(200, {}))
    with pytest.raises(RemoteProtocolError):
        while conn.next_event() is not NEED_DATA:
            pass


def test_local_misuse_raises_local_protocol_error() -> None:
    conn = TrinoHttpConnection()
    with pytest.raises(LocalProtocolError):
        conn.send(NoContent())  # nothing to respond to yet
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"more")

    conn, _ = serving(request())
    with pytest.raises(LocalProtocolError):
        conn.send(GetServerInfo())  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        conn.send(JsonResponse(204, {}))
    with pytest.raises(LocalProtocolError):
        conn.send(TextResponse(200, "x", [("X-Bad", "a\r\nInjected: yes")]))
    with pytest.raises(LocalProtocolError):
        conn.send(NoContent())  # the machine is broken after a failed send
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    response, _, _ = parse_response(conn.error_response(RemoteProtocolError(500, "oops")))
    assert response.status_code == 500


# --- helpers for the driver ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("200ms", 0.2), ("1.5s", 1.5), ("2m", 120.0), (" 3 h ", 10800.0),
     ("1d", 86400.0), ("10us", 1e-5), ("0ns", 0.0)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [("500B", 500), ("16kB", 16384), ("1MB", 1 << 20), ("1.5GB", 3 << 29), ("2 TB", 2 << 40)],
)
def test_parse_data_size(text: str, size: int) -> None:
    assert parse_data_size(text) == size


@pytest.mark.parametrize(
    "text", ["", "1", "s", "1 sec", "-1s", "1e3s", "1.s", ".5s", "1S", "\u0661s", "9" * 400 + "d"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    "text", ["", "1", "1kb", "1mB", "1 KB", "-1B", "9" * 400 + "PB", "99999PB"]
)
def test_parse_data_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_data_size(text)


# --- fuzzing ------------------------------------------------------------------------------

SMALL = {"max_body_bytes": 2048, "max_header_bytes": 1024}


def drain(conn: TrinoHttpConnection) -> bool:
    """Pull events, answering each; False once the connection is finished."""
    while True:
        try:
            event = conn.next_event()
        except RemoteProtocolError as exc:
            assert 400 <= exc.status_code <= 599
            conn.error_response(exc)
            return False
        if event is NEED_DATA:
            return True
        if isinstance(event, ConnectionClosed):
            return False
        conn.send(NoContent() if isinstance(event, CancelStatement) else TextResponse(200, "ok"))
        assert conn.buffered_bytes <= conn.max_buffered_bytes


REQUEST_PARTS = st.sampled_from(
    [
        submit("SELECT 1", [("X-Trino-Session", "a=1"), ("X-Trino-User", "u")]),
        request("GET", "/v1/statement/executing/q/s/1?maxWait=1s&targetResultSize=1MB"),
        request("DELETE", "/v1/statement/queued/q/s/0"),
        request("GET", "/v1/info"),
        request("GET", "/nope"),
        b"POST /v1/statement HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nSEL\r\n5\r\nECT 1\r\n0\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        request("GET", "/v1/info", [("X-Trino-Session", "%zz=%ff,b=\xe9")]),
    ]
)


# Raw noise, valid requests, and valid prefixes with noise after them (to get past the
# request line and into header, routing and body parsing).
CHUNKS = st.one_of(
    st.binary(max_size=3000),
    REQUEST_PARTS,
    st.builds(
        lambda req, cut, noise: req[:cut] + noise,
        REQUEST_PARTS,
        st.integers(0, 200),
        st.binary(max_size=300),
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CHUNKS, max_size=12))
def test_fuzz_arbitrary_bytes(chunks: list[bytes]) -> None:
    conn = TrinoHttpConnection(**SMALL)
    for chunk in chunks:
        if not chunk:
            continue
        conn.receive_data(chunk)
        assert conn.buffered_bytes <= conn.max_buffered_bytes
        if not drain(conn):
            return
    conn.receive_data(b"")
    drain(conn)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REQUEST_PARTS, min_size=1, max_size=5), st.data())
def test_fuzz_valid_requests_split_anywhere(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))

    def run(pieces: list[bytes]) -> list[object]:
        conn = TrinoHttpConnection(**SMALL)
        seen: list[object] = []
        for piece in [*pieces, b""]:
            conn.receive_data(piece)
            assert conn.buffered_bytes <= conn.max_buffered_bytes
            while True:
                try:
                    event = conn.next_event()
                except RemoteProtocolError as exc:
                    seen.append(exc.status_code)
                    return seen
                if event is NEED_DATA or isinstance(event, ConnectionClosed):
                    if isinstance(event, ConnectionClosed):
                        seen.append(event)
                    break
                seen.append(event)
                conn.send(NoContent())
        return seen

    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert run([p for p in pieces if p]) == run([stream])


def test_decoded_values_match_urllib() -> None:
    value = "a,b=c d+e%"
    header = f"k={urllib.parse.quote_plus(value)}"
    event = event_of(submit("SELECT 1", [("X-Trino-Session", header)]))
    assert isinstance(event, SubmitStatement)
    assert event.session.session_properties == {"k": value}


@pytest.mark.parametrize("body", [b"{}", b'{"id":"q","data":[[1]]}', b"x" * 70_000])
def test_a_plain_page_is_framed_as_the_general_encoder_frames_it(body: bytes) -> None:
    conn, _ = serving(submit())
    fast = conn.send(EncodedResults(body))
    assert fast == encode_response(200, [("Content-Type", "application/json")], [body])
    response, received, _ = parse_response(fast, b"POST")
    assert response.status_code == 200 and received == body
    assert not conn.should_close  # kept alive, ready for the next request
