"""HTTP/1.1 framing without sockets: the response side of the reader, and the writers.

The request side is exercised through the Trino frontend machine in test_trino_http.py.
Valid inputs are checked against h11, which parses the same bytes independently.
"""

from __future__ import annotations

from typing import Any

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qflux.protocols.common import NEED_DATA
from qflux.protocols.http1 import (
    END,
    HttpError,
    Message,
    MessageReader,
    encode_request,
    encode_response,
)

HEAD_CAP = 1024
BODY_CAP = 2048

# (version, status, reason, headers, body, keep_alive): one response as either parser sees it.
Parsed = tuple[str, int, str, dict[str, str], bytes, bool]

# --- helpers ------------------------------------------------------------------------------


def reader(*, response: bool = True, head: int = HEAD_CAP, body: int = BODY_CAP) -> MessageReader:
    return MessageReader(response=response, max_head_bytes=head, max_body_bytes=body)


def run(pieces: list[bytes], *, eof: bool = True) -> list[Any]:
    """Everything the reader yields for `pieces` fed in order (and EOF): Messages, then
    END, or the HttpError that stopped it. Checks the buffer bound after every call."""
    r = reader()
    out: list[Any] = []
    for piece in [*pieces, b""] if eof else pieces:
        r.feed(piece)
        assert r.buffered_bytes <= r.max_buffered_bytes
        while True:
            try:
                result = r.next_message()
            except HttpError as exc:
                out.append(exc)
                return out
            assert r.buffered_bytes <= r.max_buffered_bytes
            if result is NEED_DATA:
                break
            out.append(result)
            if result is END:
                return out
    return out


def messages(data: bytes) -> list[Message]:
    """The whole messages in `data` followed by EOF, which must end cleanly."""
    out = run([data])
    assert out[-1] is END, out
    return out[:-1]


def one(data: bytes) -> Message:
    (message,) = messages(data)
    return message


def error_of(data: bytes, *, eof: bool = True) -> HttpError:
    out = run([data], eof=eof)
    assert isinstance(out[-1], HttpError), out
    return out[-1]


def summary(message: Message) -> Parsed:
    version, status, reason = message.start
    return version, int(status), reason, message.headers, message.body, message.keep_alive


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def h11_responses(data: bytes) -> list[Parsed]:
    """The responses h11 reads from `data` then EOF, as a client sending one GET per
    response (interim responses skipped, repeated headers comma-joined)."""
    client = h11.Connection(h11.CLIENT)
    out: list[Parsed] = []

    def send_request() -> None:
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "origin")]))
        client.send(h11.EndOfMessage())

    send_request()
    client.receive_data(data)
    client.receive_data(b"")
    response: h11.Response | None = None
    body = b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Response):
            response, body = event, b""
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            headers: dict[str, str] = {}
            for name, value in response.headers:
                key, text = name.decode("ascii"), _text(value)
                headers[key] = f"{headers[key]},{text}" if key in headers else text
            # A body delimited by the close leaves h11 DONE; the connection is over all the same.
            framed = response.status_code in (204, 304) or any(
                name in (b"content-length", b"transfer-encoding") for name, _ in response.headers
            )
            keep_alive = client.their_state is h11.DONE and framed
            version = response.http_version.decode()
            reason = _text(response.reason)
            out.append((version, response.status_code, reason, headers, body, keep_alive))
            if not keep_alive or not client.trailing_data[0]:
                return out
            client.start_next_cycle()
            send_request()
        elif isinstance(event, h11.ConnectionClosed):
            return out
        else:
            assert isinstance(event, h11.InformationalResponse), event


def h11_rejects(data: bytes) -> bool:
    try:
        h11_responses(data)
    except h11.RemoteProtocolError:
        return True
    return False


def response(
    status: str = "200 OK",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    version: str = "1.1",
) -> bytes:
    lines = [f"HTTP/{version} {status}", *(f"{n}: {v}" for n, v in headers or [])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sized(body: bytes, headers: list[tuple[str, str]] | None = None, **kw: Any) -> bytes:
    return response(headers=[*(headers or []), ("Content-Length", str(len(body)))], body=body, **kw)


CHUNKED = [("Transfer-Encoding", "chunked")]

# Chunk extensions (bare, valued, quoted), upper-case hex with leading zeros, trailers.
CHUNKED_WIRE = response(headers=[("Content-Type", "text/plain"), *CHUNKED]) + (
    b"5;name=value\r\nhello\r\n"
    b'00007;ext;q="a;b"\r\n, world\r\n'
    b"A\r\n0123456789\r\n"
    b"0;last\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n"
)


def every_split(data: bytes) -> list[list[bytes]]:
    """Two pieces cut at every byte boundary, and one byte at a time."""
    halves = [[data[:i], data[i:]] for i in range(1, len(data))]  # (b"" would be EOF)
    return [*halves, [data[i : i + 1] for i in range(len(data))]]


# --- bodies -------------------------------------------------------------------------------


def test_content_length_body() -> None:
    data = sized(b'{"ok": true}', [("Content-Type", "application/json"), ("X-A", "1")])
    message = one(data)
    assert message.status == 200
    assert message.start == ("1.1", "200", "OK")
    assert message.headers == {
        "content-type": "application/json",
        "x-a": "1",
        "content-length": "12",
    }
    assert message.body == b'{"ok": true}'
    assert message.keep_alive
    assert [summary(message)] == h11_responses(data)


def test_content_length_body_waits_for_every_byte() -> None:
    data = sized(b"0123456789")
    r = reader()
    r.feed(data[:-1])
    assert r.next_message() is NEED_DATA
    assert not r.between_messages
    r.feed(data[-1:])
    message = r.next_message()
    assert isinstance(message, Message)
    assert message.body == b"0123456789"
    assert r.between_messages
    assert r.next_message() is NEED_DATA


def test_zero_length_and_agreeing_repeated_content_lengths() -> None:
    assert one(sized(b"")).body == b""
    data = response(headers=[("Content-Length", "3"), ("Content-Length", "3")], body=b"abc")
    assert one(data).body == b"abc"
    assert one(response(headers=[("Content-Length", "3, 3")], body=b"abc")).body == b"abc"


def test_chunked_body_with_extensions_and_trailers() -> None:
    message = one(CHUNKED_WIRE)
    assert message.body == b"hello, world0123456789"
    assert message.headers == {"content-type": "text/plain", "transfer-encoding": "chunked"}
    assert message.keep_alive
    assert [summary(message)] == h11_responses(CHUNKED_WIRE)


@pytest.mark.parametrize("data", [CHUNKED_WIRE, CHUNKED_WIRE + sized(b"next")])
def test_chunked_body_split_at_every_byte_boundary(data: bytes) -> None:
    whole = run([data])
    assert all(isinstance(m, Message) for m in whole[:-1]) and whole[-1] is END
    for pieces in every_split(data):
        assert run(pieces) == whole


def test_chunked_without_trailers_and_empty_chunked_body() -> None:
    data = response(headers=CHUNKED) + b"3\r\nabc\r\n0\r\n\r\n"
    assert one(data).body == b"abc"
    empty = response(headers=CHUNKED) + b"0\r\n\r\n"
    assert one(empty).body == b""
    assert [summary(one(empty))] == h11_responses(empty)


def test_body_delimited_by_eof() -> None:
    data = response(headers=[("Content-Type", "text/plain")], body=b"all of it\r\n\r\nand more")
    r = reader()
    r.feed(data)
    assert r.next_message() is NEED_DATA  # no length: the body runs until the peer closes
    r.feed(b"!")
    assert r.next_message() is NEED_DATA
    r.feed(b"")
    assert r.eof
    message = r.next_message()
    assert isinstance(message, Message)
    assert message.body == b"all of it\r\n\r\nand more!"
    assert not message.keep_alive
    assert r.next_message() is END
    assert [summary(message)] == h11_responses(data + b"!")


@pytest.mark.parametrize(
    "data",
    [
        response(),
        response(version="1.0"),
        response(headers=[("Connection", "keep-alive")]),
        response(headers=[("Connection", "keep-alive")], version="1.0"),
    ],
)
def test_eof_delimited_body_never_keeps_the_connection(data: bytes) -> None:
    message = one(data + b"body")
    assert message.body == b"body"
    assert not message.keep_alive


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses_ignore_their_framing_headers(status: str) -> None:
    # 304 may announce the length of the representation it stands for; no body follows.
    data = response(status, [("Content-Length", "42"), ("ETag", '"x"')]) + sized(b"next")
    first, second = messages(data)
    assert first.status == int(status[:3])
    assert first.body == b""
    assert first.keep_alive
    assert second.body == b"next"
    assert [summary(first), summary(second)] == h11_responses(data)


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses_without_length_are_not_eof_delimited(status: str) -> None:
    r = reader()
    r.feed(response(status))
    message = r.next_message()
    assert isinstance(message, Message)
    assert message.body == b""
    assert message.keep_alive
    assert r.next_message() is NEED_DATA


def test_interim_responses_yield_only_the_real_one() -> None:
    data = (
        response("100 Continue")
        + response("102 Processing")
        + response("103 Early Hints", [("Link", "</style.css>; rel=preload")])
        + sized(b"done", [("X-Real", "yes")])
    )
    message = one(data)
    assert message.status == 200
    assert message.headers == {"x-real": "yes", "content-length": "4"}
    assert message.body == b"done"
    assert [summary(message)] == h11_responses(data)


def test_interim_response_alone_is_need_data() -> None:
    r = reader()
    r.feed(response("100 Continue"))
    assert r.next_message() is NEED_DATA
    r.feed(sized(b"ok"))
    message = r.next_message()
    assert isinstance(message, Message)
    assert message.status == 200
    assert message.body == b"ok"


def test_interim_response_split_at_every_byte_boundary() -> None:
    data = response("100 Continue") + sized(b"ok")
    whole = run([data])
    assert [m.status for m in whole[:-1]] == [200]
    for pieces in every_split(data):
        assert run(pieces) == whole


# --- keep-alive and message sequences ----------------------------------------------------


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        ("1.1", None, True),
        ("1.1", "keep-alive", True),
        ("1.1", "close", False),
        ("1.1", "Close", False),
        ("1.1", "keep-alive, close", False),
        ("1.1", "upgrade ,  CLOSE", False),
        ("1.0", None, False),
        ("1.0", "close", False),
        ("1.0", "keep-alive", True),
        ("1.0", "Keep-Alive", True),
        ("1.0", "foo, keep-alive", True),
    ],
)
def test_keep_alive_rules(version: str, connection: str | None, keep_alive: bool) -> None:
    headers = [("Connection", connection)] if connection is not None else []
    data = sized(b"x", headers, version=version)
    message = one(data)
    assert message.start[0] == version
    assert message.keep_alive is keep_alive
    if version == "1.1" or not keep_alive:  # h11 never keeps an HTTP/1.0 connection
        assert [summary(message)] == h11_responses(data)


BACK_TO_BACK = (
    sized(b"first")
    + response(headers=CHUNKED)
    + b"6\r\nsecond\r\n0\r\n\r\n"
    + response("204 No Content")
    + response("100 Continue")
    + sized(b"", [("X-N", "4")])
    + sized(b"last", [("Connection", "close")])
)


def test_back_to_back_responses_on_one_connection() -> None:
    parsed = messages(BACK_TO_BACK)
    assert [(m.status, m.body, m.keep_alive) for m in parsed] == [
        (200, b"first", True),
        (200, b"second", True),
        (204, b"", True),
        (200, b"", True),
        (200, b"last", False),
    ]
    assert [summary(m) for m in parsed] == h11_responses(BACK_TO_BACK)


def test_back_to_back_responses_split_at_every_byte_boundary() -> None:
    whole = run([BACK_TO_BACK])
    for pieces in every_split(BACK_TO_BACK):
        assert run(pieces) == whole


def test_stray_line_breaks_between_responses_are_skipped() -> None:
    data = sized(b"a") + b"\r\n\r\n" + sized(b"b")
    assert [m.body for m in messages(data)] == [b"a", b"b"]
    assert run([b"\r\n"]) == [END]


def test_between_messages_and_end() -> None:
    r = reader()
    assert r.between_messages
    r.feed(sized(b"a") + b"HTTP/1.1 2")
    assert isinstance(r.next_message(), Message)
    assert not r.between_messages  # part of the next response is already here
    assert r.next_message() is NEED_DATA
    r.feed(b"00 OK\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(r.next_message(), Message)
    assert r.between_messages
    r.feed(b"")
    assert r.next_message() is END
    assert r.next_message() is END
    r.feed(b"late")  # ignored after EOF
    assert r.next_message() is END


# --- caps ---------------------------------------------------------------------------------


def test_head_at_the_cap_is_accepted_one_byte_more_is_431() -> None:
    def head_of(pad: int) -> bytes:
        return response(headers=[("Content-Length", "0"), ("X-Pad", "p" * pad)])

    pad = HEAD_CAP - (len(head_of(0)) - 4)  # the cap counts the head before CRLF CRLF
    assert len(head_of(pad)) - 4 == HEAD_CAP
    assert one(head_of(pad)).headers["x-pad"] == "p" * pad
    assert error_of(head_of(pad + 1)).status == 431
    assert error_of(head_of(pad + 1), eof=False).status == 431


def test_head_over_the_cap_fails_before_it_ends() -> None:
    r = reader()
    r.feed(b"HTTP/1.1 200 OK\r\n")
    while r.buffered_bytes <= HEAD_CAP:
        assert r.next_message() is NEED_DATA
        r.feed(b"X-Flood: " + b"f" * 100 + b"\r\n")
    with pytest.raises(HttpError) as info:
        r.next_message()
    assert info.value.status == 431


def test_content_length_over_the_cap_fails_before_the_body() -> None:
    head = response(headers=[("Content-Length", str(BODY_CAP + 1))])
    assert error_of(head, eof=False).status == 413
    assert one(sized(b"b" * BODY_CAP)).body == b"b" * BODY_CAP


def test_huge_content_length_fails_at_the_cap() -> None:
    assert error_of(response(headers=[("Content-Length", "9" * 18)]), eof=False).status == 413
    assert error_of(response(headers=[("Content-Length", "9" * 19)]), eof=False).status == 400


def test_chunked_total_over_the_cap_fails_before_the_chunk_data() -> None:
    half = BODY_CAP // 2
    data = response(headers=CHUNKED) + f"{half:x}\r\n".encode() + b"a" * half + b"\r\n"
    at_cap = data + f"{half:x}\r\n".encode() + b"b" * half + b"\r\n0\r\n\r\n"
    assert len(one(at_cap).body) == BODY_CAP
    over = data + f"{half + 1:x}\r\n".encode()  # the size line alone is enough
    assert error_of(over, eof=False).status == 413
    huge = response(headers=CHUNKED) + b"ffffffffffffffff\r\n"
    assert error_of(huge, eof=False).status == 413


def test_eof_delimited_body_over_the_cap() -> None:
    assert len(one(response() + b"e" * BODY_CAP).body) == BODY_CAP
    r = reader()
    r.feed(response() + b"e" * BODY_CAP)
    assert r.next_message() is NEED_DATA
    r.feed(b"e")
    with pytest.raises(HttpError) as info:
        r.next_message()
    assert info.value.status == 413


def test_trailers_over_the_head_cap() -> None:
    data = response(headers=CHUNKED) + b"1\r\na\r\n0\r\n" + b"X-T: " + b"t" * HEAD_CAP
    assert error_of(data, eof=False).status == 431


def test_chunk_size_line_too_long() -> None:
    data = response(headers=CHUNKED) + b"1;" + b"e" * 1100
    assert error_of(data, eof=False).status == 400


def test_input_beyond_the_buffer_bound_is_dropped_then_fails() -> None:
    r = reader()
    flood = sized(b"x") * (r.max_buffered_bytes // len(sized(b"x")) + 10)
    r.feed(flood)
    assert r.buffered_bytes == 0  # one feed past the bound is refused whole
    r = reader()
    half = len(flood) // 2
    r.feed(flood[:half])
    r.feed(flood[half:])
    assert r.buffered_bytes <= r.max_buffered_bytes
    seen = 0
    with pytest.raises(HttpError) as info:
        while isinstance(r.next_message(), Message):
            seen += 1
    assert 0 < seen < flood.count(b"HTTP/1.1")
    assert info.value.status in (413, 431)


def test_buffer_bound_counts_the_decoded_chunked_body() -> None:
    r = reader()
    r.feed(response(headers=CHUNKED) + f"{BODY_CAP:x}\r\n".encode() + b"c" * BODY_CAP + b"\r\n")
    assert r.next_message() is NEED_DATA  # the body so far is held decoded
    r.feed(b"1" * (r.max_buffered_bytes - 10))  # one huge read, before any parsing
    assert r.buffered_bytes <= r.max_buffered_bytes
    with pytest.raises(HttpError) as info:
        r.next_message()
    assert info.value.status == 413


def test_chunked_body_read_chunk_by_chunk_stops_at_the_cap() -> None:
    r = reader()
    r.feed(response(headers=CHUNKED))
    for _ in range(200):
        r.feed(b"200\r\n" + b"d" * 0x200 + b"\r\n")
        assert r.buffered_bytes <= r.max_buffered_bytes
        try:
            r.next_message()
        except HttpError as exc:
            assert exc.status == 413
            break
    else:
        raise AssertionError("the chunked body cap was never reached")


# --- malformed input ----------------------------------------------------------------------

MALFORMED = {
    # status lines
    "no status code": (b"HTTP/1.1 OK\r\n\r\n", 502),
    "two-digit status": (b"HTTP/1.1 20 OK\r\n\r\n", 502),
    "four-digit status": (b"HTTP/1.1 2000 OK\r\n\r\n", 502),
    "letters in status": (b"HTTP/1.1 2x0 OK\r\n\r\n", 502),
    "HTTP/2": (b"HTTP/2 200 OK\r\n\r\n", 502),
    "lower-case protocol": (b"http/1.1 200 OK\r\n\r\n", 502),
    "not HTTP": (b"ICY 200 OK\r\n\r\n", 502),
    "bad minor version": (b"HTTP/1.x 200 OK\r\nContent-Length: 0\r\n\r\n", 502),
    "non-ASCII version": (b"HTTP/1.\xff 200 OK\r\n\r\n", 502),
    "request line": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 502),
    # header lines
    "header without colon": (b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n", 400),
    "space before colon": (b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", 400),
    "empty header name": (b"HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 0\r\n\r\n", 400),
    "obs-fold (space)": (b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n", 400),
    "obs-fold (tab)": (b"HTTP/1.1 200 OK\r\nX-A: b\r\n\tc\r\nContent-Length: 0\r\n\r\n", 400),
    "bare LF in head": (b"HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 0\r\n\r\n", 400),
    "bare CR in value": (b"HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n", 400),
    "NUL in value": (b"HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 0\r\n\r\n", 400),
    "DEL in value": (b"HTTP/1.1 200 OK\r\nX-A: b\x7fc\r\nContent-Length: 0\r\n\r\n", 400),
    # framing
    "CL and TE": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "TE and CL": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
    ),
    "disagreeing CLs": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    "disagreeing CL list": (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n12345", 400),
    "negative CL": (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 400),
    "signed CL": (b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", 400),
    "hex CL": (b"HTTP/1.1 200 OK\r\nContent-Length: 0x1\r\n\r\nx", 400),
    "empty CL": (b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", 400),
    "two numbers in CL": (b"HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\nx", 400),
    "superscript digit CL": ("HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\nxx".encode(), 400),
    "Arabic-Indic digit CL": ("HTTP/1.1 200 OK\r\nContent-Length: ٣\r\n\r\nxyz".encode(), 400),
    "gzip TE": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    "gzip, chunked TE": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    "chunked, gzip TE": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501),
    "identity TE": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc", 501),
    "chunked twice": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        501,
    ),
    # chunks
    "non-hex chunk size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    "empty chunk size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
    "negative chunk size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400),
    "0x chunk size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", 400),
    "17-digit chunk size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        400,
    ),
    "chunk data without CRLF": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        400,
    ),
    "chunk data with bare LF": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
        400,
    ),
    "chunk longer than its size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    # EOF in the middle
    "EOF in the status line": (b"HTTP/1.1 200", 400),
    "EOF in the head": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", 400),
    "EOF in a CL body": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", 400),
    "EOF before a CL body": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 400),
    "EOF in a chunk size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5", 400),
    "EOF in chunk data": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 400),
    "EOF before the last chunk": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        400,
    ),
    "EOF in the trailers": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
        400,
    ),
    "EOF in the second response": (b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 O", 400),
}

# Where h11 is more lenient than this reader: it unfolds obs-fold, takes bare LF as a line
# end, lets Transfer-Encoding override Content-Length, and so on.
H11_LENIENT = {
    "obs-fold (space)",
    "obs-fold (tab)",
    "bare LF in head",
    "DEL in value",
    "CL and TE",
    "TE and CL",
}


@pytest.mark.parametrize(("data", "status"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_response_is_an_http_error(data: bytes, status: int) -> None:
    assert error_of(data).status == status


@pytest.mark.parametrize(
    "data",
    [data for name, (data, _) in MALFORMED.items() if name not in H11_LENIENT],
    ids=[name for name in MALFORMED if name not in H11_LENIENT],
)
def test_malformed_responses_are_rejected_by_h11_too(data: bytes) -> None:
    assert h11_rejects(data)


@pytest.mark.parametrize(("data", "status"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_response_fed_one_byte_at_a_time(data: bytes, status: int) -> None:
    out = run([data[i : i + 1] for i in range(len(data))])
    assert isinstance(out[-1], HttpError)
    assert out[-1].status == status


def test_errors_carry_the_status_in_their_text() -> None:
    exc = error_of(b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n")
    assert str(exc).startswith("400 ")
    assert "NoColon" in exc.message


def test_undecodable_values_fall_back_to_latin1() -> None:
    message = one(sized(b"", [("X-Raw", "x")]).replace(b"X-Raw: x", b"X-Raw: caf\xe9"))
    assert message.headers["x-raw"] == "caf\xe9"
    assert one(sized(b"", [("X-Utf8", "café")])).headers["x-utf8"] == "café"


# --- fuzzing ------------------------------------------------------------------------------

VALID_RESPONSES = [
    sized(b"hello", [("Content-Type", "text/plain")]),
    sized(b"", [("Connection", "close")], version="1.0"),
    CHUNKED_WIRE,
    response("204 No Content"),
    response("304 Not Modified", [("Content-Length", "10")]),
    response("100 Continue") + sized(b"after continue"),
    sized(b"x" * 300),
]
RESPONSE_PARTS = st.sampled_from(
    [
        *VALID_RESPONSES,
        response() + b"until eof",
        sized(b"", [("Connection", "keep-alive")], version="1.0"),
        sized(b"bye", [("Connection", "close")]),
        response(headers=CHUNKED) + b"5\r\nhelloXX",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"\r\n\r\n",
        # Prefixes that noise completes: versions, lengths, chunk sizes.
        b"HTTP/1.",
        b"HTTP/1.1 200 OK\r\nContent-Length: ",
        response(headers=CHUNKED) + b"7d0\r\n" + b"c" * 2000 + b"\r\n",
        response(headers=[("Content-Length", str(BODY_CAP + 1))]),
    ]
)
CHUNKS = st.one_of(
    st.binary(max_size=3000),
    RESPONSE_PARTS,
    st.builds(
        lambda data, cut, noise: data[:cut] + noise,
        RESPONSE_PARTS,
        st.integers(0, 200),
        st.binary(max_size=300),
    ),
    # Floods, to reach the buffer bound.
    st.builds(lambda n, byte: byte * n, st.integers(1, 100_000), st.sampled_from([b"1", b"\r"])),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(CHUNKS, st.booleans()), max_size=12), st.booleans())
def test_fuzz_arbitrary_bytes_stay_bounded(chunks: list[tuple[bytes, bool]], eof: bool) -> None:
    r = reader()
    results = []
    for chunk, drain in [*chunks, (b"", True)] if eof else chunks:
        r.feed(chunk)
        assert r.buffered_bytes <= r.max_buffered_bytes
        while drain:
            try:
                result = r.next_message()
            except HttpError as exc:
                assert 400 <= exc.status <= 599
                return
            assert r.buffered_bytes <= r.max_buffered_bytes
            results.append(result)
            assert result is NEED_DATA or result is END or isinstance(result, Message)
            if result is END or result is NEED_DATA:
                break
    assert all(isinstance(m, Message) or m is NEED_DATA or m is END for m in results)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VALID_RESPONSES), min_size=1, max_size=5), st.data())
def test_fuzz_valid_responses_split_anywhere_match_h11(
    parts: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    out = run([p for p in pieces if p])  # (b"" would be EOF)
    assert out[-1] is END
    assert out == run([stream])
    # The reader reads on past a response that closes the connection; its caller stops.
    ours = [summary(m) for m in out[:-1]]
    last = next((i for i, m in enumerate(ours) if not m[-1]), len(ours))
    assert ours[: last + 1] == h11_responses(stream)


# --- writers ------------------------------------------------------------------------------

# Framing headers are the writer's (or the connection's) business, not the caller's.
_FRAMING = {"content-length", "transfer-encoding", "connection", "host"}
TOKENS = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    min_size=1,
    max_size=20,
)
HEADER_VALUES = st.text(
    alphabet=st.characters(
        codec="utf-8",  # no lone surrogates
        exclude_characters=[chr(c) for c in [*range(0, 9), *range(10, 32), 127]],
    ),
    max_size=40,
).filter(lambda v: v == v.strip(" \t"))
HEADERS = st.lists(
    st.tuples(TOKENS.filter(lambda n: n.lower() not in _FRAMING), HEADER_VALUES),
    max_size=8,
    unique_by=lambda h: h[0].lower(),
)


def h11_request(data: bytes) -> tuple[h11.Request, bytes]:
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    body = b""
    while not isinstance(event := server.next_event(), h11.EndOfMessage):
        assert isinstance(event, h11.Data)
        body += event.data
    return request, body


@settings(max_examples=300)
@given(
    st.integers(200, 599),
    HEADERS,
    st.lists(st.binary(max_size=300), max_size=4),
)
def test_encode_response_round_trip(
    status: int, headers: list[tuple[str, str]], parts: list[bytes]
) -> None:
    if status in (204, 304):
        parts = []
    data = encode_response(status, headers, parts)
    message = one(data)
    assert message.status == status
    assert message.body == b"".join(parts)
    assert message.keep_alive
    expected = {name.lower(): value for name, value in headers}
    if status not in (204, 304):
        expected["content-length"] = str(len(message.body))
    assert message.headers == expected
    assert h11_responses(data) == [summary(message)]


@settings(max_examples=300)
@given(
    TOKENS,
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60).map(
        lambda t: "/" + t
    ),
    HEADERS,
    st.binary(max_size=500),
)
def test_encode_request_round_trip(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    data = encode_request(method, target, [("Host", "origin"), *headers], body)
    r = reader(response=False)
    r.feed(data)
    message = r.next_message()
    assert isinstance(message, Message)
    assert message.start == (method, target, "1.1")
    assert message.body == body
    assert message.keep_alive
    expected = {"host": "origin", **{n.lower(): v for n, v in headers}}
    expected["content-length"] = str(len(body))
    assert message.headers == expected
    request, h11_body = h11_request(data)
    assert request.method.decode() == method
    assert request.target.decode() == target
    assert h11_body == body
    assert {n.decode(): _text(v) for n, v in request.headers} == expected


def test_encode_response_head() -> None:
    data = encode_response(200, [("Content-Type", "application/json")], [b'{"a":', b"1}"])
    assert data == (
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'
    )
    assert encode_response(204, [], []) == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert encode_response(304, [("ETag", '"e"')], []) == (
        b'HTTP/1.1 304 Not Modified\r\nETag: "e"\r\n\r\n'
    )
    odd = encode_response(599, [], [])
    assert odd == b"HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n"
    assert one(odd).start == ("1.1", "599", "")


def test_encode_request_head() -> None:
    data = encode_request("POST", "/v1/statement?x=1", [("Host", "h:8080")], b"SELECT 1")
    assert data == (
        b"POST /v1/statement?x=1 HTTP/1.1\r\nHost: h:8080\r\nContent-Length: 8\r\n\r\nSELECT 1"
    )
    assert encode_request("GET", "/", [], b"").endswith(b"Content-Length: 0\r\n\r\n")


BAD_TEXT = ["a\rb", "a\nb", "a\x00b", "\r\n", "a\r\nInjected: yes"]


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_writers_refuse_line_breaks_and_nul_in_headers(bad: str) -> None:
    for headers in ([(bad, "v")], [("X-Ok", bad)], [("X-Ok", "v"), ("X-Bad", bad)]):
        with pytest.raises(ValueError):
            encode_response(200, headers, [b"x"])
        with pytest.raises(ValueError):
            encode_request("GET", "/", headers, b"")


@pytest.mark.parametrize("target", ["/a b", "/a\rb", "/a\nb", "/a\x00b", "/\r\nX: y"])
def test_encode_request_refuses_bad_targets(target: str) -> None:
    with pytest.raises(ValueError):
        encode_request("GET", target, [], b"")


def test_an_unasked_protocol_switch_is_refused() -> None:
    """qflux never asks to switch protocols: bytes after a 101 are not HTTP any more."""
    r = reader()
    r.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")
    with pytest.raises(HttpError) as caught:
        r.next_message()
    assert caught.value.status == 502
