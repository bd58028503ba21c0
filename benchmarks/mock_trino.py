"""A Trino coordinator that answers at once: `SELECT 1` in one FINISHED page.

The Trino-path overhead benchmark needs a backend whose own cost is close to nothing,
so what remains is the proxy's. Every POST to /v1/statement gets the same one-row
page; `GET /v1/info` says the server is up (qflux's health check); DELETE is accepted.
HTTP/1.1 keep-alive over h11, on Trio, one task per connection.

    python -m benchmarks.mock_trino PORT
"""

from __future__ import annotations

import itertools
import json
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
            while not isinstance(await _next(conn, stream), h11.EndOfMessage):
                pass  # the SQL: every statement gets the same answer
            if request.method == b"POST":
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
