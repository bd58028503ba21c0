"""Socket reads and writes for the per-query path, without a scheduler trip per call.

Trio's `SocketStream` yields to the scheduler after every send or receive that succeeds
at once, and goes through four layers of wrappers to get there. A point query through
the proxy is four such calls (the client's request and reply, the backend's request
and reply), and those layers were a tenth of the proxy's time per query. Here the
operation is tried on the socket's descriptor first, and the task only waits when the
kernel says it would block.

Each call is still a cancel point (it raises Cancelled if its scope is cancelled). A
receive that finds bytes already waiting still yields, so a client that pipelines
without pause cannot keep the other tasks from running. Other streams (TLS) go through
their own methods. Errors are Trio's: ClosedResourceError for a socket closed here,
BrokenResourceError for one the peer broke.
"""

from __future__ import annotations

import errno
import os

import trio

__all__ = ["receive_some", "send_all"]


async def receive_some(
    stream: trio.abc.ReceiveStream, max_bytes: int, *, ready: bool = True
) -> bytes:
    """Up to `max_bytes` from `stream`; b"" at end of stream. `ready=False` says the
    bytes are not expected to be there yet (the peer was just sent a request, or the
    last read drained the socket): the read then waits first, rather than spend a
    system call and an exception on finding nothing."""
    if type(stream) is not trio.SocketStream:
        return bytes(await stream.receive_some(max_bytes))  # the same object for bytes
    sock = stream.socket
    if ready:
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            data = os.read(_descriptor(sock), max_bytes)
        except BlockingIOError:
            pass
        except OSError as exc:
            raise _stream_error(exc) from exc
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return data
    while True:
        await trio.lowlevel.wait_readable(sock)
        try:
            return os.read(_descriptor(sock), max_bytes)
        except BlockingIOError:
            continue
        except OSError as exc:
            raise _stream_error(exc) from exc


async def send_all(stream: trio.abc.SendStream, data: bytes | bytearray) -> None:
    """All of `data` to `stream`, waiting only while the kernel's buffer is full."""
    if type(stream) is not trio.SocketStream or not data:
        await stream.send_all(data)
        return
    sock = stream.socket
    if sock.did_shutdown_SHUT_WR:
        raise trio.ClosedResourceError("can't send data after sending EOF")
    await trio.lowlevel.checkpoint_if_cancelled()
    with memoryview(data) as view:
        sent = 0
        while True:
            try:
                sent += os.write(_descriptor(sock), view[sent:] if sent else view)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise _stream_error(exc) from exc
            if sent >= len(view):
                return
            await trio.lowlevel.wait_writable(sock)


def _descriptor(sock: trio.socket.SocketType) -> int:
    fd = sock.fileno()
    if fd < 0:
        raise trio.ClosedResourceError("the socket was already closed")
    return fd


def _stream_error(exc: OSError) -> trio.ClosedResourceError | trio.BrokenResourceError:
    if exc.errno == errno.EBADF:
        return trio.ClosedResourceError("the socket was already closed")
    return trio.BrokenResourceError(f"socket connection broken: {exc}")
