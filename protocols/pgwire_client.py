"""PostgreSQL frontend/backend protocol 3.0, client side, sans-IO.

What the PostgreSQL engine speaks when a PostgreSQL-wire client's rows can pass through
untouched: the server's messages in -> events, and the few messages a client sends
(startup, authentication, a simple Query or one unnamed extended-protocol statement)
-> bytes. The events are the server machine's own (`qflux.protocols.pgwire`),
except where a message is best kept as sent: `DataRowBatch`, a run of DataRow messages
with their count, and the RowDescription and notice messages, which the frontend
forwards without decoding a value.

The machine checks framing and caps every length before use; what the messages mean
(authentication, when a result ends) is for the driver, as in any sans-IO client.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import TypeAlias

import attrs

from .common import NEED_DATA, NeedData, ProtocolError
from .pgwire import (
    AuthenticationCleartextPassword,
    AuthenticationMD5Password,
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    BackendKeyData,
    BindComplete,
    CloseComplete,
    CommandComplete,
    EmptyQueryResponse,
    ErrorResponse,
    Field,
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    ParameterDescription,
    ParameterStatus,
    ParseComplete,
    PortalSuspended,
    ReadyForQuery,
    RowDescription,
)

__all__ = [
    "BackendEvent", "DataRowBatch", "NoticeMessage",
    "NotificationResponse", "PgClientConnection",
    "RowDescriptionMessage", "ServerProtocolError", "Unsupported", "cancel_request",
    "password_message", "sasl_initial_response", "simple_query", "split_after_rows",
    "ssl_request", "startup_message", "statement",
]  # fmt: skip

#: The largest message accepted from a server: a DataRow may carry several 1 GB values
#: in principle, but one that size is no point query, and a bound must hold.
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: DataRows gathered into one batch stop growing past this many bytes.
BATCH_BYTES = 256 * 1024
PROTOCOL_3_0 = 196_608
SSL_REQUEST_CODE = 80_877_103
CANCEL_REQUEST_CODE = 80_877_102

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_HEADER = struct.Struct(">ci")
_FIELD = struct.Struct(">IhIhih")  # table oid, column attr, type oid, size, modifier, format
_DATA_ROW = 0x44  # "D"


class ServerProtocolError(ProtocolError):
    """The server sent something this client cannot read: the connection is unusable."""


@attrs.frozen
class DataRowBatch:
    """Consecutive DataRow messages exactly as the server sent them."""

    encoded: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    count: int


@attrs.frozen
class RowDescriptionMessage:
    """A RowDescription as the server sent it (header included), to forward as it is;
    `parse()` reads its fields when they are wanted."""

    encoded: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")

    def parse(self) -> RowDescription:
        try:
            return _row_description(_Body(self.encoded[5:]))
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
            raise ServerProtocolError("malformed 'T' message from the server") from exc


@attrs.frozen
class NoticeMessage:
    """A NoticeResponse as the server sent it, to forward in its place among the rows."""

    encoded: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")

    def parse(self) -> NoticeResponse:
        try:
            return NoticeResponse(_error_fields(_Body(self.encoded[5:])))
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
            raise ServerProtocolError("malformed 'N' message from the server") from exc


@attrs.frozen
class NotificationResponse:
    process_id: int
    channel: str
    payload: str


@attrs.frozen
class Unsupported:
    """A message this client never asks for (COPY, function call results), or an
    authentication method it does not speak (kind "R", `detail` the method's code)."""

    kind: str
    detail: str = ""


BackendEvent: TypeAlias = (
    AuthenticationOk | AuthenticationCleartextPassword | AuthenticationMD5Password
    | AuthenticationSASL | AuthenticationSASLContinue | AuthenticationSASLFinal
    | ParameterStatus | BackendKeyData | NegotiateProtocolVersion | ReadyForQuery
    | RowDescriptionMessage | DataRowBatch | CommandComplete | EmptyQueryResponse | ErrorResponse
    | NoticeMessage | ParseComplete | BindComplete | CloseComplete | NoData
    | ParameterDescription | PortalSuspended | NotificationResponse | Unsupported
)  # fmt: skip


class PgClientConnection:
    """The server's byte stream -> events. `receive_data(b"")` is EOF; after it,
    `next_event` raises ServerProtocolError once the buffered messages are read."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._pos = 0
        self._eof = False

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
            return
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def next_event(self) -> BackendEvent | NeedData:
        buffer, pos = self._buffer, self._pos
        available = len(buffer) - pos
        if available < 5:
            return self._need_data(available)
        end = self._message_end(buffer, pos)
        if end > len(buffer):
            return self._need_data(available)
        if buffer[pos] == _DATA_ROW:
            return self._data_rows(buffer, pos, end)
        if buffer[pos] in _FORWARDED:
            self._pos = end
            return _FORWARDED[buffer[pos]](bytes(buffer[pos:end]))
        kind = chr(buffer[pos])
        body = bytes(buffer[pos + 5 : end])
        self._pos = end
        parse = _PARSERS.get(kind)
        if parse is None:
            if kind in _UNSUPPORTED:
                return Unsupported(kind)
            raise ServerProtocolError(f"unknown message type {kind!r} from the server")
        try:
            return parse(_Body(body))
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
            raise ServerProtocolError(f"malformed {kind!r} message from the server") from exc

    def _need_data(self, available: int) -> NeedData:
        if self._eof:
            where = "mid-message" if available else "before the response"
            raise ServerProtocolError(f"the server closed the connection {where}")
        return NEED_DATA

    def _message_end(self, buffer: bytearray, pos: int) -> int:
        (length,) = _INT32.unpack_from(buffer, pos + 1)
        if length < 4 or length > self.max_message_bytes:
            raise ServerProtocolError(
                f"server message of {length} bytes (at most {self.max_message_bytes})"
            )
        return pos + 1 + length

    def _data_rows(self, buffer: bytearray, pos: int, end: int) -> DataRowBatch:
        """The run of complete DataRows from `pos` (the first ends at `end`)."""
        count, limit, size = 1, pos + BATCH_BYTES, len(buffer)
        while end + 5 <= size and buffer[end] == _DATA_ROW and end < limit:
            following = self._message_end(buffer, end)
            if following > size:
                break
            end = following
            count += 1
        self._pos = end
        return DataRowBatch(bytes(buffer[pos:end]), count)


def split_after_rows(encoded: bytes, rows: int) -> int:
    """The offset in a DataRowBatch's bytes (notices may be among them) just past its
    first `rows` DataRows: where a portal read `rows` at a time stops."""
    pos = 0
    while rows > 0:
        kind = encoded[pos]
        (length,) = _INT32.unpack_from(encoded, pos + 1)
        pos += 1 + length
        rows -= kind == _DATA_ROW
    return pos


# --- messages to the server ----------------------------------------------------------------


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + _INT32.pack(len(body) + 4) + body


def _cstring(text: str) -> bytes:
    data = text.encode()
    if b"\0" in data:
        raise ValueError("a PostgreSQL message string cannot contain a NUL character")
    return data + b"\0"


def startup_message(parameters: Mapping[str, str]) -> bytes:
    body = _INT32.pack(PROTOCOL_3_0)
    body += b"".join(_cstring(k) + _cstring(v) for k, v in parameters.items()) + b"\0"
    return _INT32.pack(len(body) + 4) + body


def ssl_request() -> bytes:
    return _INT32.pack(8) + _INT32.pack(SSL_REQUEST_CODE)


def cancel_request(process_id: int, secret: bytes) -> bytes:
    body = _INT32.pack(CANCEL_REQUEST_CODE) + struct.pack(">I", process_id) + secret
    return _INT32.pack(len(body) + 4) + body


def password_message(data: bytes) -> bytes:
    return _message(b"p", data)


def sasl_initial_response(mechanism: str, data: bytes) -> bytes:
    return _message(b"p", _cstring(mechanism) + _INT32.pack(len(data)) + data)


def statement(sql: str) -> bytes:
    """One statement through the unnamed statement and portal, text results, then Sync:
    one round trip, and the server refuses a string holding several statements."""
    parse = _message(b"P", b"\0" + _cstring(sql) + b"\0\0")
    bind = _message(b"B", b"\0\0" + b"\0\0" + b"\0\0" + b"\0\0")  # no params, text results
    return parse + bind + _DESCRIBE_PORTAL + _EXECUTE_ALL + _SYNC


def simple_query(sql: str) -> bytes:
    return _message(b"Q", _cstring(sql))


_DESCRIBE_PORTAL = _message(b"D", b"P\0")
_EXECUTE_ALL = _message(b"E", b"\0" + _INT32.pack(0))
_SYNC = _message(b"S", b"")


# --- messages from the server --------------------------------------------------------------


class _Body:
    """A cursor over one message body; struct and slicing raise on a short body."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int16(self) -> int:
        (value,) = _INT16.unpack_from(self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = _INT32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> str:
        end = self.data.index(b"\0", self.pos)
        start, self.pos = self.pos, end + 1
        return self.data[start:end].decode()

    def rest(self) -> bytes:
        start, self.pos = self.pos, len(self.data)
        return self.data[start:]


def _authentication(body: _Body) -> BackendEvent:
    code = body.int32()
    if code == 0:
        return AuthenticationOk()
    if code == 3:
        return AuthenticationCleartextPassword()
    if code == 5:
        return AuthenticationMD5Password(body.rest())
    if code == 10:
        mechanisms = []
        while (name := body.string()) != "":
            mechanisms.append(name)
        return AuthenticationSASL(tuple(mechanisms))
    if code == 11:
        return AuthenticationSASLContinue(body.rest())
    if code == 12:
        return AuthenticationSASLFinal(body.rest())
    return Unsupported("R", str(code))  # Kerberos, GSSAPI, SSPI


def _row_description(body: _Body) -> RowDescription:
    fields = []
    for _ in range(body.int16()):
        name = body.string()
        table, attr, oid, size, modifier, fmt = _FIELD.unpack_from(body.data, body.pos)
        body.pos += _FIELD.size
        fields.append(
            Field(
                name,
                type_oid=oid,
                type_size=size,
                type_modifier=modifier,
                format=fmt,
                table_oid=table,
                column_attr=attr,
            )
        )
    return RowDescription(tuple(fields))


def _error_fields(body: _Body) -> dict[str, str]:
    fields: dict[str, str] = {}
    while body.pos < len(body.data) and body.data[body.pos] != 0:
        code = chr(body.data[body.pos])
        body.pos += 1
        fields[code] = body.string()
    return fields


def _ready(body: _Body) -> ReadyForQuery:
    status = chr(body.data[0])
    if status not in ("I", "T", "E"):
        raise ValueError(status)
    return ReadyForQuery(status)  # type: ignore[arg-type]


def _key_data(body: _Body) -> BackendKeyData:
    process_id = body.int32() & 0xFFFFFFFF
    secret = body.rest()
    if not 4 <= len(secret) <= 256:
        raise ValueError("cancel key length")
    return BackendKeyData(process_id, secret)


def _negotiate(body: _Body) -> NegotiateProtocolVersion:
    newest = body.int32() & 0xFFFF
    return NegotiateProtocolVersion(newest, tuple(body.string() for _ in range(body.int32())))


def _notification(body: _Body) -> NotificationResponse:
    return NotificationResponse(body.int32() & 0xFFFFFFFF, body.string(), body.string())


def _parameter_description(body: _Body) -> ParameterDescription:
    return ParameterDescription(tuple(body.int32() & 0xFFFFFFFF for _ in range(body.int16())))


_PARSERS: dict[str, Callable[[_Body], BackendEvent]] = {
    "R": _authentication,
    "S": lambda b: ParameterStatus(b.string(), b.string()),
    "K": _key_data,
    "v": _negotiate,
    "Z": _ready,
    "C": lambda b: CommandComplete(b.string()),
    "I": lambda b: EmptyQueryResponse(),
    "E": lambda b: ErrorResponse(_error_fields(b)),
    "1": lambda b: ParseComplete(),
    "2": lambda b: BindComplete(),
    "3": lambda b: CloseComplete(),
    "n": lambda b: NoData(),
    "t": _parameter_description,
    "s": lambda b: PortalSuspended(),
    "A": _notification,
}
_UNSUPPORTED = frozenset("GHWdcV")
#: Messages kept as sent, for a frontend to forward (by their first byte).
_FORWARDED: dict[int, Callable[[bytes], BackendEvent]] = {
    ord("T"): RowDescriptionMessage,
    ord("N"): NoticeMessage,
}  # COPY in/out/both, CopyData, CopyDone, function call
