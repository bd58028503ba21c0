"""HTTP/1.1 message framing, sans-IO: requests for the Trino frontend, responses for the
Trino engine.

Both ends need the same small part of HTTP/1.1: a head (start line and headers), then a
body framed by Content-Length or chunked coding, whole, on a kept-alive connection. This
reader does that in one pass over a buffer (one `find` for the head, slices for the
body), where a general-purpose machine spends more per request than a coordinator takes
to answer `SELECT 1`. Every size the peer announces is capped before it is used, and
the ambiguous framings behind request smuggling (Content-Length with Transfer-Encoding,
disagreeing Content-Lengths, folded or malformed headers) are refused.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import attrs

from .common import NEED_DATA, NeedData, ProtocolError

__all__ = ["END", "HttpError", "Message", "MessageReader", "encode_request", "encode_response"]

_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
#: Header lines, each `token:value` with no control character but tab: one pass for all.
_HEADER_LINES = re.compile(rb"(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
_BAD_OUT = re.compile(r"[\r\n\x00]")
_TARGET = re.compile(rb"[\x21-\x7e\x80-\xff]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_RESPONSE_VERSION = re.compile(rb"HTTP/1\.[0-9]")
_MAX_CHUNK_LINE = 1024
_NO_BODY_STATUSES = frozenset({204, 304})


class HttpError(ProtocolError):
    """The peer broke HTTP/1.1; `status` is the response a server would answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


class _End:
    def __repr__(self) -> str:
        return "END"


END = _End()
"""The peer closed the connection cleanly, between messages."""


@attrs.frozen(slots=True)
class Message:
    """One whole message. `start` is (method, target, version) for a request and
    (version, status, reason) for a response; header names are lower-cased and repeated
    headers joined with commas."""

    start: tuple[str, str, str]
    headers: dict[str, str]
    body: bytes
    keep_alive: bool

    @property
    def status(self) -> int:
        return int(self.start[1])


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _header_fields(block: bytes) -> dict[str, str]:
    """Validated header lines -> {lower-cased name: value}; repeated names joined by
    commas. The block is decoded at once: names are tokens, so a value that is not UTF-8
    is the only reason to go line by line (and read that value as Latin-1)."""
    try:
        lines = block.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        lines = [_text(line) for line in block.split(b"\r\n")]
    headers: dict[str, str] = {}
    for line in lines[:-1]:
        name, _, value = line.partition(":")
        key = name.lower()
        text = value.strip(" \t")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


class MessageReader:
    """Whole messages out of the bytes of one connection, one after another.

    `feed` buffers (b"" is EOF) and never raises; `next_message` returns a `Message`,
    `NEED_DATA`, `END`, or raises `HttpError`. The buffer never holds more than one
    message's caps plus one read, whatever the peer sends.
    """

    def __init__(self, *, response: bool, max_head_bytes: int, max_body_bytes: int) -> None:
        self.response = response
        self.max_head_bytes = max_head_bytes
        self.max_body_bytes = max_body_bytes
        self.max_buffered_bytes = max_head_bytes + max_body_bytes + 4 + 65_536
        self._kind = "Response" if response else "Request"
        self._buf = bytearray()
        self._eof = False
        self._overflow = False
        self._head: tuple[tuple[str, str, str], dict[str, str], bool] | None = None
        self._length = 0  # Content-Length; -1 chunked; -2 until EOF
        self._body = bytearray()  # chunked bodies, decoded so far
        self._chunk_left = -1  # bytes of the current chunk still due; -1 a size line is due
        self._in_trailers = False

    @property
    def eof(self) -> bool:
        return self._eof

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf) + len(self._body)

    @property
    def between_messages(self) -> bool:
        """Nothing of a next message has arrived (a stale kept-alive connection is safe to
        drop)."""
        return self._head is None and not self._buf

    def feed(self, data: bytes | bytearray) -> None:
        if not data:
            self._eof = True
        elif self._eof or self._overflow:
            return
        elif self.buffered_bytes + len(data) > self.max_buffered_bytes:
            self._overflow = True
        else:
            self._buf += data

    def next_message(self) -> Message | NeedData | _End:
        while True:
            if self._head is None:
                head = self._take_head()
                if head is NEED_DATA or head is END:
                    return head
            body = self._take_body()
            if body is NEED_DATA:
                return NEED_DATA
            assert self._head is not None
            start, headers, keep_alive = self._head
            self._head = None
            if self.response and start[1] == "101":  # never asked for: the stream is not HTTP
                raise HttpError(502, "unexpected 101 Switching Protocols")
            if self.response and start[1].startswith("1"):
                continue  # an interim response (100 Continue): the real one follows
            return Message(start, headers, body, keep_alive)

    # -- the head ------------------------------------------------------------------------

    def _take_head(self) -> NeedData | _End | None:
        buf = self._buf
        while buf.startswith(b"\r\n"):  # stray line breaks between messages (RFC 9112 2.2)
            del buf[:2]
        end = buf.find(b"\r\n\r\n", 0, self.max_head_bytes + 4)
        if end < 0:
            if len(buf) > self.max_head_bytes or self._overflow:
                raise HttpError(431, f"{self._kind} header fields too large")
            if self._eof:
                if buf:
                    raise HttpError(400, "connection closed in the middle of a message head")
                return END
            return NEED_DATA
        first = buf.find(b"\r\n", 0, end)
        start = self._start_line(bytes(buf[: first if first >= 0 else end]))
        block = bytes(buf[first + 2 : end + 2]) if first >= 0 else b""
        del buf[: end + 4]
        if not _HEADER_LINES.fullmatch(block):
            raise HttpError(400, f"malformed header in {block[:200]!r}")
        self._frame(start, _header_fields(block))
        return None

    def _start_line(self, line: bytes) -> tuple[str, str, str]:
        if self.response:
            version, _, rest = line.partition(b" ")
            status, _, reason = rest.partition(b" ")
            if not _RESPONSE_VERSION.fullmatch(version) or len(status) != 3 or not status.isdigit():
                raise HttpError(502, f"malformed status line {line[:80]!r}")
            return version[5:].decode(), status.decode(), _text(reason)
        parts = line.split(b" ")
        if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
            raise HttpError(400, f"malformed request line {line[:80]!r}")
        if parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise HttpError(505, "HTTP version not supported")
        return parts[0].decode("ascii"), parts[1].decode("latin-1"), parts[2][5:].decode()

    def _frame(self, start: tuple[str, str, str], headers: dict[str, str]) -> None:
        """How the body is delimited, and whether the connection stays open after it."""
        version = start[2] if not self.response else start[0]
        connection = headers.get("connection")
        tokens = {t.strip().lower() for t in connection.split(",")} if connection else ()
        keep_alive = "close" not in tokens if version == "1.1" else "keep-alive" in tokens
        coding = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if coding is not None:
            if length is not None:
                raise HttpError(400, "both Content-Length and Transfer-Encoding")
            if coding.strip().lower() != "chunked":
                raise HttpError(501, f"unsupported Transfer-Encoding {coding[:40]!r}")
            self._length, self._chunk_left = -1, -1
        elif length is not None:
            if "," in length:  # repeated: allowed only if every value is the same
                values = {v.strip() for v in length.split(",")}
                value = values.pop() if len(values) == 1 else ""
            else:
                value = length.strip()
            if not (value.isascii() and value.isdigit()) or len(value) > 18:
                raise HttpError(400, f"invalid Content-Length {length[:40]!r}")
            self._length = int(value)
        elif self.response and int(start[1]) not in _NO_BODY_STATUSES and start[1][0] != "1":
            self._length, keep_alive = -2, False
        else:
            self._length = 0
        if self.response and (int(start[1]) in _NO_BODY_STATUSES or start[1][0] == "1"):
            self._length = 0
        if self._length > self.max_body_bytes:
            raise HttpError(413, f"{self._kind} body too large")
        self._head = (start, headers, keep_alive)

    # -- the body ------------------------------------------------------------------------

    def _take_body(self) -> bytes | NeedData:
        if self._length >= 0:
            if len(self._buf) < self._length:
                return self._short()
            body = bytes(self._buf[: self._length])
            del self._buf[: self._length]
            return body
        if self._length == -2:
            if len(self._buf) > self.max_body_bytes or self._overflow:
                raise HttpError(413, f"{self._kind} body too large")
            if not self._eof:
                return NEED_DATA
            body = bytes(self._buf)
            self._buf.clear()
            return body
        return self._take_chunks()

    def _short(self) -> NeedData:
        if self._eof:
            raise HttpError(400, "connection closed in the middle of a message body")
        if self._overflow:
            raise HttpError(413, f"{self._kind} body too large")
        return NEED_DATA

    def _take_chunks(self) -> bytes | NeedData:
        buf = self._buf
        while True:
            if self._in_trailers:
                if buf[:2] == b"\r\n":
                    del buf[:2]
                else:
                    end = buf.find(b"\r\n\r\n", 0, self.max_head_bytes + 4)
                    if end < 0:
                        if len(buf) > self.max_head_bytes:
                            raise HttpError(431, "chunked trailers too large")
                        return self._short()
                    del buf[: end + 4]  # trailers carry nothing either end uses
                self._in_trailers = False
                body = bytes(self._body)
                self._body.clear()
                return body
            if self._chunk_left < 0:
                end = buf.find(b"\r\n", 0, _MAX_CHUNK_LINE)
                if end < 0:
                    if len(buf) >= _MAX_CHUNK_LINE:
                        raise HttpError(400, "chunk size line too long")
                    return self._short()
                size = bytes(buf[:end]).split(b";", 1)[0].strip(b" \t")
                if not _HEX.fullmatch(size):
                    raise HttpError(400, f"invalid chunk size {size[:20]!r}")
                del buf[: end + 2]
                chunk = int(size, 16)
                if chunk == 0:
                    self._in_trailers = True
                    continue
                if len(self._body) + chunk > self.max_body_bytes:
                    raise HttpError(413, f"{self._kind} body too large")
                self._chunk_left = chunk
            if len(buf) < self._chunk_left + 2:
                return self._short()
            if buf[self._chunk_left : self._chunk_left + 2] != b"\r\n":
                raise HttpError(400, "chunk data not followed by CRLF")
            self._body += buf[: self._chunk_left]
            del buf[: self._chunk_left + 2]
            self._chunk_left = -1


# --- writing ----------------------------------------------------------------------------

_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _head_lines(start: str, headers: list[tuple[str, str]]) -> str:
    fields = [f"{name}: {value}" for name, value in headers]
    if _BAD_OUT.search("".join(fields)):  # one search for all; then find which, to say
        for name, value in headers:
            if _BAD_OUT.search(name) or _BAD_OUT.search(value):
                raise ValueError(f"header {name!r} holds a line break or NUL")
    return "\r\n".join((start, *fields, "\r\n"))


def encode_response(status: int, headers: list[tuple[str, str]], body: list[bytes]) -> bytes:
    """A whole response: Content-Length is added unless the status carries no body."""
    if status not in _NO_BODY_STATUSES:
        headers = [*headers, ("Content-Length", str(sum(len(p) for p in body)))]
    head = _head_lines(f"HTTP/1.1 {status} {_REASONS.get(status, '')}", headers)
    return b"".join((head.encode("utf-8"), *body))


def encode_request(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """A whole request with its Content-Length (zero for none)."""
    if _BAD_OUT.search(target) or " " in target:
        raise ValueError(f"request target {target[:80]!r} is not valid")
    head = _head_lines(
        f"{method} {target} HTTP/1.1", [*headers, ("Content-Length", str(len(body)))]
    )
    return head.encode("utf-8") + body
