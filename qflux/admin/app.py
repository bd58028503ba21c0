"""The admin API: health for load balancers, query history, live group state, cancel.

A plain ASGI callable served by hypercorn on its own port, so it never competes with
the query frontends' connection handling.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from qflux import __version__
from qflux.core import CancelReason

if TYPE_CHECKING:
    from qflux.server import Server

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class AdminApp:
    def __init__(self, server: Server) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, body = self.route(scope["method"], scope["path"], scope.get("query_string", b""))
        payload = json.dumps(body, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def route(self, method: str, path: str, query: bytes) -> tuple[int, Any]:
        server = self.server
        parts = [part for part in path.split("/") if part]
        if method == "GET" and parts in (["health"], ["healthz"]):
            if server.draining:
                return 503, {"status": "draining"}
            return 200, {"status": "ok", "version": __version__}
        if method == "GET" and parts == ["api", "queries"]:
            raw_limit = parse_qs(query.decode()).get("limit", ["100"])[0]
            if not raw_limit.isdigit():
                return 400, {"error": f"limit must be a positive integer, got {raw_limit!r}"}
            limit = int(raw_limit)
            records = server.dispatcher.history.recent(max(1, min(limit, 10_000)))
            return 200, [record.to_json() for record in records]
        if len(parts) == 3 and parts[:2] == ["api", "queries"]:
            if method == "GET":
                record = server.dispatcher.history.get(parts[2])
                if record is None:
                    return 404, {"error": f"no query {parts[2]}"}
                return 200, record.to_json()
            if method == "DELETE":
                handle = server.dispatcher.active.get(parts[2])  # type: ignore[call-overload]
                if handle is None:
                    return 404, {"error": f"no running query {parts[2]}"}
                handle.cancel(CancelReason.ADMIN)
                return 202, {"cancelled": parts[2]}
        if method == "GET" and parts == ["api", "clusters"]:
            return 200, server.cluster_state()
        if method == "GET" and parts == ["api", "translation"]:
            return 200, server.dispatcher.translator.stats()
        return 404, {"error": f"no route for {method} {path}"}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
