"""The pooled HTTP/1.1 client against real origins served in-process by Trio.

The origins read requests and write answers with h11 (or, to misbehave, with raw bytes),
so they share no code with the client under test.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from functools import partial

import attrs
import h11
import pytest
import trio
import trustme

from qflux.engines import http_client
from qflux.engines.http_client import HttpPool, TransportError

HOST = "127.0.0.1"

# An answer: h11 events to send, with raw bytes in between where the origin misbehaves (the
# connection then stays open unless h11 says otherwise); raw bytes to send before hanging
# up; or None to hang up without a word.
Reply = Sequence[h11.Event | bytes] | bytes | None


@attrs.define
class Seen:
    """One request as the origin received it."""

    connection: int  # which TCP connection, counted from 0
    index: int  # which request on that connection, counted from 0
    request: h11.Request
    body: bytes
    stream: trio.abc.Stream

    def header(self, name: str) -> str | None:
        values = [v.decode() for n, v in self.request.headers if n == name.encode()]
        return ",".join(values) if values else None


def ok(
    body: bytes = b"ok", status: int = 200, headers: list[tuple[str, str]] | None = None
) -> list[h11.Event]:
    """A Content-Length response."""
    head = [*(headers or []), ("Content-Length", str(len(body)))]
    return [h11.Response(status_code=status, headers=head), h11.Data(data=body), h11.EndOfMessage()]


def chunked(*chunks: bytes) -> list[h11.Event]:
    """A chunked response: h11 frames a response without length that way for HTTP/1.1."""
    return [
        h11.Response(status_code=200, headers=[("X-Framing", "chunked")]),
        *(h11.Data(data=chunk) for chunk in chunks),
        h11.EndOfMessage(),
    ]


async def answer_ok(seen: Seen) -> Reply:
    return ok(f"{seen.request.method.decode()} {seen.request.target.decode()}".encode())


@attrs.define
class Origin:
    """An h11 origin that answers each request with `respond`, and counts connections."""

    respond: Callable[[Seen], Awaitable[Reply]] = answer_ok
    ssl_context: ssl.SSLContext | None = None
    linger_zero: bool = False  # hang up with a reset rather than a FIN
    connections: int = 0
    open: int = 0
    max_open: int = 0
    closed: int = 0
    seen: list[Seen] = attrs.field(factory=list)
    port: int = 0

    async def start(self, nursery: trio.Nursery, host: str = HOST) -> Origin:
        listeners = await nursery.start(partial(trio.serve_tcp, self.handle, 0, host=host))
        self.port = listeners[0].socket.getsockname()[1]
        return self

    def url(self, host: str = HOST) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    async def handle(self, tcp: trio.SocketStream) -> None:
        number = self.connections
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        if self.linger_zero:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        stream: trio.abc.Stream = tcp
        try:
            if self.ssl_context is not None:
                stream = trio.SSLStream(tcp, self.ssl_context, server_side=True)
                await stream.do_handshake()
            await self._serve(number, stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
            pass  # the client went away or gave up on the handshake
        finally:
            self.open -= 1
            await trio.aclose_forcefully(tcp)
            self.closed += 1

    async def _serve(self, number: int, stream: trio.abc.Stream) -> None:
        conn = h11.Connection(h11.SERVER)
        for index in itertools.count():
            request, body = None, b""
            while not isinstance(event := conn.next_event(), h11.EndOfMessage):
                if event is h11.NEED_DATA:
                    conn.receive_data(bytes(await stream.receive_some(65_536)))
                elif isinstance(event, h11.ConnectionClosed):
                    return
                elif isinstance(event, h11.Request):
                    request = event
                else:
                    assert isinstance(event, h11.Data)
                    body += event.data
            assert request is not None
            seen = Seen(number, index, request, body, stream)
            self.seen.append(seen)
            reply = await self.respond(seen)
            if reply is None or isinstance(reply, bytes):
                if reply:
                    await stream.send_all(reply)
                return
            out = [event if isinstance(event, bytes) else conn.send(event) for event in reply]
            await stream.send_all(b"".join(raw or b"" for raw in out))  # in one write
            if conn.our_state is not h11.DONE:
                return  # the response said the connection closes
            conn.start_next_cycle()

    async def wait_closed(self, count: int) -> None:
        with trio.fail_after(5):
            while self.closed < count:
                await trio.sleep(0.005)
        await trio.sleep(0.02)  # and let the FIN reach the client's socket


PoolFactory = Callable[..., HttpPool]


@pytest.fixture
async def make_pool() -> AsyncIterator[PoolFactory]:
    """Pools with test defaults; their idle connections are closed after the test."""
    pools: list[HttpPool] = []

    def make(origin: str, **options: object) -> HttpPool:
        settings: dict[str, object] = {
            "ssl_context": None,
            "max_connections": 4,
            "connect_timeout": 5.0,
            "read_timeout": 5.0,
            **options,
        }
        pools.append(HttpPool(origin, **settings))  # type: ignore[arg-type]
        return pools[-1]

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture
def origin() -> Origin:
    return Origin()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- keep-alive ---------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(
    nursery: trio.Nursery, origin: Origin, make_pool: PoolFactory
) -> None:
    await origin.start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/v1/info", [("X-Trino-User", "alice")]) == (
        200,
        b"GET /v1/info",
    )
    status, body = await pool.request("POST", "/v1/statement?x=1", [], b"SELECT 1")
    assert (status, body) == (200, b"POST /v1/statement?x=1")
    assert origin.connections == 1
    first, second = origin.seen
    assert (first.connection, first.index, second.connection, second.index) == (0, 0, 0, 1)
    assert first.header("host") == f"{HOST}:{origin.port}"
    assert first.header("x-trino-user") == "alice"
    assert first.body == b""
    assert second.body == b"SELECT 1"
    assert second.header("content-length") == "8"
    pool.close()


async def test_status_and_body_of_an_error_response_pass_through(
    nursery: trio.Nursery, origin: Origin, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        return ok(b'{"message": "busy"}', status=503, headers=[("Retry-After", "1")])

    origin.respond = respond
    await origin.start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/", []) == (503, b'{"message": "busy"}')
    assert await pool.request("GET", "/", []) == (503, b'{"message": "busy"}')
    assert origin.connections == 1


async def test_idle_connection_closed_by_the_origin_is_replaced(
    nursery: trio.Nursery, origin: Origin, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        # Answer as if keeping the connection, then drop it (an idle timeout, say).
        await seen.stream.send_all(b"".join(h11_bytes(ok(b"once"))))
        return None

    origin.respond = respond
    await origin.start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/", []) == (200, b"once")
    await origin.wait_closed(1)
    assert await pool.request("GET", "/", []) == (200, b"once")
    assert origin.connections == 2
    assert [s.connection for s in origin.seen] == [0, 1]


async def test_connection_close_response_is_not_reused(
    nursery: trio.Nursery, origin: Origin, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        return ok(b"bye", headers=[("Connection", "close")])

    origin.respond = respond
    await origin.start(nursery)
    pool = make_pool(origin.url())
    for _ in range(3):
        assert await pool.request("GET", "/", []) == (200, b"bye")
    assert origin.connections == 3


async def test_close_drops_idle_connections(
    nursery: trio.Nursery, origin: Origin, make_pool: PoolFactory
) -> None:
    await origin.start(nursery)
    pool = make_pool(origin.url())
    await pool.request("GET", "/", [])
    pool.close()
    await origin.wait_closed(1)
    assert await pool.request("GET", "/", []) == (200, b"GET /")
    assert origin.connections == 2


def h11_bytes(events: list[h11.Event]) -> Iterator[bytes]:
    """The bytes an h11 server would send for `events`, outside any connection."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.next_event()
    conn.next_event()
    for event in events:
        yield conn.send(event) or b""


# --- failures and `unsent` ----------------------------------------------------------------


def hang_up_on(*requests: int) -> Callable[[Seen], Awaitable[Reply]]:
    """Answer every request but those numbered `requests` (from 0, over the whole origin),
    where the origin reads the request and then hangs up without a word."""
    counter = itertools.count()

    async def respond(seen: Seen) -> Reply:
        return None if next(counter) in requests else ok()

    return respond


@pytest.mark.parametrize("linger_zero", [False, True], ids=["fin", "reset"])
async def test_hang_up_on_a_fresh_connection_is_not_unsent(
    nursery: trio.Nursery, linger_zero: bool, make_pool: PoolFactory
) -> None:
    origin = await Origin(hang_up_on(0), linger_zero=linger_zero).start(nursery)
    pool = make_pool(origin.url())
    with pytest.raises(TransportError) as info:
        await pool.request("POST", "/v1/statement", [], b"SELECT 1")
    assert not info.value.unsent  # the origin may have acted on it
    assert origin.seen[0].body == b"SELECT 1"
    assert await pool.request("GET", "/", []) == (200, b"ok")


@pytest.mark.parametrize("linger_zero", [False, True], ids=["fin", "reset"])
async def test_hang_up_on_a_reused_connection_is_unsent(
    nursery: trio.Nursery, linger_zero: bool, make_pool: PoolFactory
) -> None:
    origin = await Origin(hang_up_on(1), linger_zero=linger_zero).start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/", []) == (200, b"ok")
    with pytest.raises(TransportError) as info:
        await pool.request("POST", "/v1/statement", [], b"SELECT 1")
    assert info.value.unsent  # a kept-alive connection that died: safe to send again
    assert [(s.connection, s.index) for s in origin.seen] == [(0, 0), (0, 1)]
    assert await pool.request("GET", "/", []) == (200, b"ok")
    assert origin.connections == 2


@pytest.mark.parametrize(
    "partial_answer",
    [b"H", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
)
async def test_partial_answer_on_a_reused_connection_is_not_unsent(
    nursery: trio.Nursery, partial_answer: bytes, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        return partial_answer if seen.index == 1 else ok()

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    await pool.request("GET", "/", [])
    with pytest.raises(TransportError) as info:
        await pool.request("GET", "/", [])
    assert not info.value.unsent


async def test_connect_refused_is_unsent(make_pool: PoolFactory) -> None:
    pool = make_pool(f"http://{HOST}:{free_port()}")
    with pytest.raises(TransportError) as info:
        await pool.request("POST", "/v1/statement", [], b"SELECT 1")
    assert info.value.unsent
    assert "cannot connect" in str(info.value)


async def test_read_timeout(nursery: trio.Nursery, make_pool: PoolFactory) -> None:
    async def respond(seen: Seen) -> Reply:
        if seen.connection == 0:
            await trio.sleep_forever()
        return ok()

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url(), read_timeout=0.2)
    start = trio.current_time()
    with pytest.raises(TransportError) as info:
        await pool.request("GET", "/", [])
    assert 0.2 <= trio.current_time() - start < 2
    assert not info.value.unsent
    assert "in time" in str(info.value)
    assert await pool.request("GET", "/", []) == (200, b"ok")


async def test_read_timeout_in_the_middle_of_the_body(
    nursery: trio.Nursery, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        await seen.stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await trio.sleep_forever()

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url(), read_timeout=0.2)
    with pytest.raises(TransportError) as info:
        await pool.request("GET", "/", [])
    assert not info.value.unsent


async def serve_silently(nursery: trio.Nursery, hung_up: list[bool]) -> int:
    """A TCP origin that never says a word; notes each connection the client closes."""

    async def silent(stream: trio.SocketStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError):
            while await stream.receive_some(65_536):
                pass
        hung_up.append(True)

    listeners = await nursery.start(partial(trio.serve_tcp, silent, 0, host=HOST))
    return listeners[0].socket.getsockname()[1]


async def wait_for(condition: Callable[[], object]) -> None:
    with trio.fail_after(5):
        while not condition():
            await trio.sleep(0.005)


async def test_connect_timeout_when_the_handshake_never_answers(
    nursery: trio.Nursery, make_pool: PoolFactory
) -> None:
    hung_up: list[bool] = []
    port = await serve_silently(nursery, hung_up)
    pool = make_pool(f"https://{HOST}:{port}", connect_timeout=0.2)
    with pytest.raises(TransportError) as info:
        await pool.request("GET", "/", [])
    assert info.value.unsent
    await wait_for(lambda: hung_up)  # the half-made connection is closed, not left to GC


async def test_cancelling_a_handshake_closes_the_connection(
    nursery: trio.Nursery, make_pool: PoolFactory
) -> None:
    hung_up: list[bool] = []
    port = await serve_silently(nursery, hung_up)
    pool = make_pool(f"https://{HOST}:{port}", max_connections=1)
    with trio.move_on_after(0.2) as scope:
        await pool.request("GET", "/", [])
    assert scope.cancelled_caught
    await wait_for(lambda: hung_up)
    with trio.move_on_after(0.2):  # and the slot came back
        await pool.request("GET", "/", [])
    await wait_for(lambda: len(hung_up) == 2)


@pytest.mark.parametrize(
    "answer",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_malformed_response_is_a_transport_error(
    nursery: trio.Nursery, answer: bytes, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        return answer

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    with pytest.raises(TransportError) as info:
        await pool.request("GET", "/", [])
    assert not info.value.unsent
    assert "malformed response" in str(info.value)


async def test_bytes_after_a_response_do_not_answer_the_next_request(
    nursery: trio.Nursery, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        if seen.connection == 0 and seen.index == 0:
            # A second, unasked-for response right behind the first.
            return [*ok(b"first"), b"".join(h11_bytes(ok(b"stale")))]
        return ok(b"fresh")

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/", []) == (200, b"first")
    assert await pool.request("GET", "/", []) == (200, b"fresh")


# --- response framing ---------------------------------------------------------------------


async def test_chunked_response(nursery: trio.Nursery, make_pool: PoolFactory) -> None:
    async def respond(seen: Seen) -> Reply:
        return chunked(b"hello", b", ", b"world" * 1000)

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    for _ in range(2):
        assert await pool.request("GET", "/", []) == (200, b"hello, " + b"world" * 1000)
    assert origin.connections == 1  # chunked framing keeps the connection


async def test_response_delimited_by_eof(nursery: trio.Nursery, make_pool: PoolFactory) -> None:
    big = bytes(range(256)) * 1000

    async def respond(seen: Seen) -> Reply:
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + big

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/", []) == (200, big)
    assert await pool.request("GET", "/", []) == (200, big)
    assert origin.connections == 2  # the end of the body was the end of the connection


async def test_http10_response(nursery: trio.Nursery, make_pool: PoolFactory) -> None:
    async def respond(seen: Seen) -> Reply:
        return b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/", []) == (200, b"ok")
    assert await pool.request("GET", "/", []) == (200, b"ok")
    assert origin.connections == 2


async def test_interim_response_is_skipped(nursery: trio.Nursery, make_pool: PoolFactory) -> None:
    async def respond(seen: Seen) -> Reply:
        return [h11.InformationalResponse(status_code=100, headers=[]), *ok(b"real")]

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("POST", "/", [], b"x") == (200, b"real")


@pytest.mark.parametrize(
    "reply",
    [
        ok(b"x" * 1001),
        chunked(b"x" * 600, b"x" * 401),
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1001,
    ],
    ids=["content-length", "chunked", "eof"],
)
async def test_response_over_the_body_cap(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, reply: Reply, make_pool: PoolFactory
) -> None:
    monkeypatch.setattr(http_client, "MAX_BODY_BYTES", 1000)

    async def respond(seen: Seen) -> Reply:
        return reply if seen.request.target == b"/big" else ok(b"x" * 1000)

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url())
    assert await pool.request("GET", "/", []) == (200, b"x" * 1000)  # at the cap
    with pytest.raises(TransportError) as info:
        await pool.request("GET", "/big", [])
    assert not info.value.unsent
    assert "too large" in str(info.value)


# --- concurrency and cancellation ---------------------------------------------------------


@pytest.mark.parametrize("max_connections", [1, 2])
async def test_max_connections(
    nursery: trio.Nursery, max_connections: int, make_pool: PoolFactory
) -> None:
    spans: list[tuple[float, float]] = []

    async def respond(seen: Seen) -> Reply:
        start = trio.current_time()
        await trio.sleep(0.1)
        spans.append((start, trio.current_time()))
        return ok(seen.request.target)

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url(), max_connections=max_connections)
    results: dict[str, tuple[int, bytes]] = {}

    async def get(target: str) -> None:
        results[target] = await pool.request("GET", target, [])

    async with trio.open_nursery() as inner:
        inner.start_soon(get, "/a")
        inner.start_soon(get, "/b")
    assert results == {"/a": (200, b"/a"), "/b": (200, b"/b")}
    assert origin.max_open == max_connections
    assert origin.connections == max_connections
    (_, first_end), (second_start, _) = sorted(spans)
    assert (second_start < first_end) is (max_connections > 1)  # served side by side?


async def test_cancelling_a_request_closes_its_connection(
    nursery: trio.Nursery, make_pool: PoolFactory
) -> None:
    arrived = trio.Event()
    hung_up = trio.Event()

    async def respond(seen: Seen) -> Reply:
        if seen.connection == 0:
            arrived.set()
            with trio.fail_after(5):
                assert await seen.stream.receive_some(100) == b""  # the client closed it
            hung_up.set()
            return None
        return ok()

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url(), max_connections=1)
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as inner:
            # The request is cancelled once the origin has it (and is taking its time).
            inner.start_soon(cancel_when, arrived, scope)
            await pool.request("GET", "/slow", [])
    assert scope.cancelled_caught
    with trio.fail_after(5):
        await hung_up.wait()
    assert await pool.request("GET", "/", []) == (200, b"ok")  # its slot came back, too
    assert origin.connections == 2


async def cancel_when(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def test_cancelling_a_request_on_a_reused_connection(
    nursery: trio.Nursery, make_pool: PoolFactory
) -> None:
    arrived = trio.Event()

    async def respond(seen: Seen) -> Reply:
        if seen.index == 1:
            arrived.set()
            await trio.sleep_forever()
        return ok()

    origin = await Origin(respond).start(nursery)
    pool = make_pool(origin.url(), max_connections=1)
    await pool.request("GET", "/", [])
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as inner:
            inner.start_soon(cancel_when, arrived, scope)
            await pool.request("GET", "/slow", [])
    assert scope.cancelled_caught
    assert await pool.request("GET", "/", []) == (200, b"ok")
    assert origin.connections == 2


# --- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *identities: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*identities).configure_cert(context)
    return context


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.mark.parametrize("host", [HOST, "localhost"])
async def test_https_with_a_trusted_ca(
    nursery: trio.Nursery, ca: trustme.CA, host: str, make_pool: PoolFactory
) -> None:
    origin = Origin(ssl_context=server_context(ca, HOST, "localhost"))
    await origin.start(nursery)
    pool = make_pool(origin.url(host), ssl_context=trusting(ca))
    assert await pool.request("GET", "/v1/info", []) == (200, b"GET /v1/info")
    assert await pool.request("POST", "/v1/statement", [], b"SELECT 1") == (
        200,
        b"POST /v1/statement",
    )
    assert origin.connections == 1
    assert origin.seen[1].body == b"SELECT 1"
    assert origin.seen[0].header("host") == f"{host}:{origin.port}"
    pool.close()


@pytest.mark.parametrize(
    "client",
    [
        lambda ca: trusting(trustme.CA()),  # another CA
        lambda ca: None,  # the system's CAs
        lambda ca: ssl.create_default_context(),
    ],
    ids=["other-ca", "default", "system-ca"],
)
async def test_https_with_an_untrusted_certificate_fails(
    nursery: trio.Nursery,
    ca: trustme.CA,
    client: Callable[[trustme.CA], ssl.SSLContext | None],
    make_pool: PoolFactory,
) -> None:
    origin = await Origin(ssl_context=server_context(ca, HOST)).start(nursery)
    pool = make_pool(origin.url(), ssl_context=client(ca))
    with pytest.raises(TransportError) as info:
        await pool.request("POST", "/v1/statement", [], b"SELECT 1")
    assert info.value.unsent
    assert "cannot connect" in str(info.value)
    assert origin.seen == []


async def test_https_with_a_certificate_for_another_host_fails(
    nursery: trio.Nursery, ca: trustme.CA, make_pool: PoolFactory
) -> None:
    origin = await Origin(ssl_context=server_context(ca, "elsewhere.example")).start(nursery)
    pool = make_pool(origin.url(), ssl_context=trusting(ca))
    with pytest.raises(TransportError) as info:
        await pool.request("GET", "/", [])
    assert info.value.unsent


async def test_https_without_verification_accepts_an_untrusted_certificate(
    nursery: trio.Nursery, ca: trustme.CA, make_pool: PoolFactory
) -> None:
    origin = await Origin(ssl_context=server_context(ca, "elsewhere.example")).start(nursery)
    pool = make_pool(origin.url(), ssl_context=unverified())
    assert await pool.request("GET", "/", []) == (200, b"GET /")
    assert await pool.request("GET", "/", []) == (200, b"GET /")
    assert origin.connections == 1


async def test_https_idle_connection_closed_by_the_origin_is_replaced(
    nursery: trio.Nursery, ca: trustme.CA, make_pool: PoolFactory
) -> None:
    async def respond(seen: Seen) -> Reply:
        await seen.stream.send_all(b"".join(h11_bytes(ok(b"once"))))
        if isinstance(seen.stream, trio.SSLStream):
            await seen.stream.aclose()  # a TLS goodbye, then the FIN
        return None

    origin = Origin(respond, ssl_context=server_context(ca, HOST))
    await origin.start(nursery)
    pool = make_pool(origin.url(), ssl_context=trusting(ca))
    assert await pool.request("GET", "/", []) == (200, b"once")
    await origin.wait_closed(1)
    assert await pool.request("GET", "/", []) == (200, b"once")
    assert origin.connections == 2


async def test_http_origin_ignores_the_ssl_context(
    nursery: trio.Nursery, origin: Origin, make_pool: PoolFactory
) -> None:
    await origin.start(nursery)
    pool = make_pool(origin.url(), ssl_context=ssl.create_default_context())
    assert pool.ssl_context is None
    assert await pool.request("GET", "/", []) == (200, b"GET /")


# --- the origin ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin_url", "host", "port", "host_header", "https"),
    [
        ("http://example.com", "example.com", 80, "example.com", False),
        ("http://example.com:80", "example.com", 80, "example.com", False),
        ("http://Example.COM:8080", "example.com", 8080, "example.com:8080", False),
        ("https://example.com", "example.com", 443, "example.com", True),
        ("https://example.com:443", "example.com", 443, "example.com", True),
        ("https://example.com:8443", "example.com", 8443, "example.com:8443", True),
        ("https://example.com:80", "example.com", 80, "example.com:80", True),
        ("http://[::1]:8080", "::1", 8080, "[::1]:8080", False),
        ("http://[::1]", "::1", 80, "[::1]", False),
        ("https://[2001:db8::1]", "2001:db8::1", 443, "[2001:db8::1]", True),
    ],
)
async def test_origin_parsing(
    origin_url: str, host: str, port: int, host_header: str, https: bool, make_pool: PoolFactory
) -> None:
    pool = make_pool(origin_url)
    assert (pool.host, pool.port, pool.host_header, pool.https) == (host, port, host_header, https)
    assert (pool.ssl_context is not None) is https


async def test_ipv6_origin(nursery: trio.Nursery, origin: Origin, make_pool: PoolFactory) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    await origin.start(nursery, host="::1")
    pool = make_pool(f"http://[::1]:{origin.port}")
    assert await pool.request("GET", "/", []) == (200, b"GET /")
    assert origin.seen[0].header("host") == f"[::1]:{origin.port}"


async def test_invalid_header_is_refused_before_connecting(make_pool: PoolFactory) -> None:
    pool = make_pool(f"http://{HOST}:{free_port()}")
    with pytest.raises(ValueError):
        await pool.request("GET", "/", [("X-Evil", "a\r\nInjected: 1")])
