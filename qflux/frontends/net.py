"""Small socket helpers the frontend drivers share."""

from __future__ import annotations

import trio


def peer_address(stream: trio.SocketStream) -> str | None:
    """`host:port` of the client, for records and logs; None once the socket is gone."""
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return None
    return f"{host}:{port}"
