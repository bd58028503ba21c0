"""A kept-alive HTTP/1.1 connection pool to one origin, on Trio, for the Trino engine.

A Trino page request needs no redirects, cookies, proxies or auth flows: one request,
one whole JSON body, on a connection that stays open for the next page. Going straight
from a pooled Trio stream to the sans-IO reader costs a fraction of a general-purpose
client per request, and that cost is most of what the proxy adds to a fast query.

A connection that the origin closed while it sat idle is noticed before reuse (it has
become readable) and dropped; one that fails before any byte of the answer arrives is
reported as `unsent` when it was reused, so the caller may send again safely.
"""

from __future__ import annotations

import ssl
import urllib.parse

import attrs
import trio

from qflux.protocols.http1 import END, HttpError, Message, MessageReader, encode_request
from qflux.stream_io import receive_some, send_all

RECEIVE_BYTES = 65_536
MAX_HEAD_BYTES = 64 * 1024
#: A Trino page is at most its target result size (16 MB by default, 128 MB at most).
MAX_BODY_BYTES = 256 * 1024 * 1024


class TransportError(Exception):
    """The request did not complete; `unsent` when the origin cannot have acted on it."""

    def __init__(self, message: str, *, unsent: bool) -> None:
        super().__init__(message)
        self.unsent = unsent


@attrs.define
class _Connection:
    stream: trio.abc.Stream
    reader: MessageReader

    def _socket(self) -> trio.socket.SocketType:
        stream = self.stream
        if isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream
        assert isinstance(stream, trio.SocketStream)
        return stream.socket

    def readable_while_idle(self) -> bool:
        """An idle kept-alive connection with something to read was closed (or broken)."""
        return self._socket().is_readable()

    def close(self) -> None:
        """At once, without a TLS goodbye: nothing is owed to a connection given up."""
        self._socket().close()


class HttpPool:
    """Up to `max_connections` connections to `origin` (scheme://host:port)."""

    def __init__(
        self,
        origin: str,
        *,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        parts = urllib.parse.urlsplit(origin)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        default_port = self.port == (443 if self.https else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.ssl_context = ssl_context if self.https else None
        if self.https and self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: list[_Connection] = []
        self._slots = trio.Semaphore(max_connections)

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        *,
        shield: bool = False,
    ) -> tuple[int, bytes]:
        """(status, body) of one request; `target` is the path and query. With `shield`,
        a cancel that arrives once the request is being sent waits for its answer (still
        bounded by the read timeout), so the caller learns what the origin did with it."""
        data = encode_request(method, target, [("Host", self.host_header), *headers], body)
        try:
            self._slots.acquire_nowait()  # the common case, without a trip to the scheduler
        except trio.WouldBlock:
            await self._slots.acquire()
        try:
            conn, reused = self._take_idle()
            if conn is None:
                conn = await self._connect()
            ok = False
            try:
                message = await self._exchange(conn, data, reused, shield)
                # Bytes beyond the response (a server bug) would answer the next request.
                ok = message.keep_alive and conn.reader.between_messages
                return message.status, message.body
            finally:
                if ok:
                    self._idle.append(conn)
                else:
                    conn.close()
        finally:
            self._slots.release()

    def _take_idle(self) -> tuple[_Connection | None, bool]:
        while self._idle:
            conn = self._idle.pop()
            if not conn.readable_while_idle():
                return conn, True
            conn.close()
        return None, False

    async def _connect(self) -> _Connection:
        tcp: trio.SocketStream | None = None
        connected = False
        try:
            with trio.fail_after(self.connect_timeout):
                tcp = await trio.open_tcp_stream(self.host, self.port)
                stream: trio.abc.Stream = tcp
                if self.ssl_context is not None:
                    stream = trio.SSLStream(
                        stream, self.ssl_context, server_hostname=self.host, https_compatible=True
                    )
                    await stream.do_handshake()
            connected = True
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, ssl.SSLError) as exc:
            raise TransportError(f"cannot connect: {exc!r}", unsent=True) from exc
        finally:
            if tcp is not None and not connected:  # a failed or cancelled TLS handshake
                tcp.socket.close()
        reader = MessageReader(
            response=True, max_head_bytes=MAX_HEAD_BYTES, max_body_bytes=MAX_BODY_BYTES
        )
        return _Connection(stream, reader)

    async def _exchange(
        self, conn: _Connection, data: bytes, reused: bool, shield: bool
    ) -> Message:
        answered = False
        try:
            # One cancel scope for both the read timeout and the shield, not two: each
            # costs several microseconds, and every point query pays for them.
            deadline = trio.current_time() + self.read_timeout
            with trio.CancelScope(deadline=deadline, shield=shield):
                await send_all(conn.stream, data)
                drained = True  # the answer takes a round trip: wait before reading
                while True:
                    message = conn.reader.next_message()
                    if isinstance(message, Message):
                        return message
                    if message is END:
                        raise TransportError(
                            "connection closed before the response",
                            unsent=reused and not answered,
                        )
                    chunk = await receive_some(conn.stream, RECEIVE_BYTES, ready=not drained)
                    drained = len(chunk) < RECEIVE_BYTES
                    answered = answered or bool(chunk)
                    conn.reader.feed(chunk)
            raise TransportError("no response in time", unsent=False)
        except HttpError as exc:
            raise TransportError(f"malformed response: {exc.message}", unsent=False) from exc
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            unsent = reused and not answered
            raise TransportError(f"connection failed: {exc!r}", unsent=unsent) from exc

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
