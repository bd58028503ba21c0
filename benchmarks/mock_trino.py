"""A Trino coordinator that answers at once: `SELECT 1` in one FINISHED page.

The Trino-path benchmarks need a backend whose own cost is close to nothing, so what
remains is the proxy's. A POST to /v1/statement gets a one-row page, unless the SQL
names `range(N)`: then N rows of (i, 'row-' || i, i * 0.5) follow page by page through
`nextUri`, typed and encoded as qflux's own frontend sends that DuckDB query, so the
streaming benchmark can give the same client the same rows directly.
`GET /v1/info` says the server is up (qflux's health check); DELETE is accepted.
HTTP/1.1 keep-alive over h11, on Trio, one task per connection.

    python -m benchmarks.mock_trino PORT
"""

from __future__ import annotations

import itertools
import json
import re
import sys

import h11
import trio

_counter = itertools.count()
_INFO = json.dumps({"nodeVersion": {"version": "mock"}, "starting": False}).encode()


def _page(query_id: str) -> bytes:
    return json.dumps(
        {
            "id": query_id,
            "infoUri": f"http://mock/ui/query.html?{query_id}",
            "columns": [
                {
                    "name": "_col0",
                    "type": "integer",
                    "typeSignature": {"rawType": "integer", "arguments": []},
                }
            ],
            "data": [[1]],
            "stats": {"state": "FINISHED", "queued": False, "scheduled": True},
            "warnings": [],
        }
    ).encode()


PAGE_ROWS = 20_000
_RANGE = re.compile(rb"range\((\d+)\)")
_STREAM_COLUMNS = [
    {"name": "i", "type": "bigint", "typeSignature": {"rawType": "bigint", "arguments": []}},
    {"name": "label", "type": "varchar",
     "typeSignature": {"rawType": "varchar",
                       "arguments": [{"kind": "LONG", "value": 2147483647}]}},
    {"name": "half", "type": "decimal(21,1)",
     "typeSignature": {"rawType": "decimal", "arguments": [{"kind": "LONG", "value": 21},
                                                          {"kind": "LONG", "value": 1}]}},
]  # fmt: skip
_streams: dict[str, tuple[int, int]] = {}  # query id -> (rows sent, rows in all)


def _rows_page(query_id: str, host: str) -> bytes:
    """The next page of a `range(N)` query, with a nextUri while rows remain."""
    sent, total = _streams.pop(query_id)
    end = min(sent + PAGE_ROWS, total)
    data = ",".join(f'[{i},"row-{i}","{i // 2}.{5 if i % 2 else 0}"]' for i in range(sent, end))
    page: dict[str, object] = {
        "id": query_id,
        "infoUri": f"http://{host}/ui/query.html?{query_id}",
        "columns": _STREAM_COLUMNS,
        "stats": {"state": "RUNNING" if end < total else "FINISHED"},
        "warnings": [],
    }
    if end < total:
        _streams[query_id] = (end, total)
        page["nextUri"] = f"http://{host}/v1/statement/executing/{query_id}/x/{end}"
    body = json.dumps(page).encode()
    return body[:-1] + b',"data":[' + data.encode() + b"]}"


async def _next(conn: h11.Connection, stream: trio.SocketStream) -> object:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await stream.receive_some(65536))


async def _serve(stream: trio.SocketStream) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            request = await _next(conn, stream)
            if not isinstance(request, h11.Request):
                return
            sql = b""
            while not isinstance(event := await _next(conn, stream), h11.EndOfMessage):
                sql += getattr(event, "data", b"")
            host = dict(request.headers).get(b"host", b"mock").decode()
            if request.method == b"POST" and (rows := _RANGE.search(sql)):
                query_id = f"mock_{next(_counter)}"
                _streams[query_id] = (0, int(rows.group(1)))
                body = _rows_page(query_id, host)
            elif request.method == b"GET" and request.target.startswith(b"/v1/statement/"):
                body = _rows_page(request.target.decode().split("/")[4], host)
            elif request.method == b"POST":
                body = _page(f"mock_{next(_counter)}")
            elif request.target.startswith(b"/v1/info"):
                body = _INFO
            else:  # DELETE of a query: nothing is running
                body = b""
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            await stream.send_all(
                conn.send(h11.Response(status_code=200, headers=headers))
                + conn.send(h11.Data(data=body))
                + conn.send(h11.EndOfMessage())
            )
            conn.start_next_cycle()
    except (h11.ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
        return


async def main(port: int) -> None:
    await trio.serve_tcp(_serve, port, host="127.0.0.1")


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]))
