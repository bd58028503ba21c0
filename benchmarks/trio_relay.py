"""A byte relay on Trio: what one extra hop through a Trio process costs at the least.

Each accepted connection is joined to a new connection to the target, and bytes are
copied both ways as they come, unread. The Trino-path benchmark puts it beside qflux
so the table shows the runtime's own floor for an extra hop: no parsing, routing or
encoding, just two sockets and the scheduler.

    python -m benchmarks.trio_relay LISTEN_PORT TARGET_PORT
"""

from __future__ import annotations

import sys
from functools import partial

import trio

CHUNK = 65_536


async def _pipe(source: trio.SocketStream, sink: trio.SocketStream) -> None:
    try:
        while data := await source.receive_some(CHUNK):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await trio.aclose_forcefully(sink)


async def _relay(target_port: int, client: trio.SocketStream) -> None:
    try:
        target = await trio.open_tcp_stream("127.0.0.1", target_port)
    except OSError:
        await trio.aclose_forcefully(client)
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_pipe, client, target)
        nursery.start_soon(_pipe, target, client)


async def main(listen_port: int, target_port: int) -> None:
    await trio.serve_tcp(partial(_relay, target_port), listen_port, host="127.0.0.1")


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]), int(sys.argv[2]))
