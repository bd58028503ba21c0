"""PostgreSQL frontend/backend protocol 3.0 (and 3.2), server side, sans-IO.

Bytes in -> events (`StartupMessage`, `Query`, `Parse`, `Bind`, ...); events out
(`RowDescription`, `DataRows`, `ReadyForQuery`, ...) -> bytes. No sockets and no Trio: the
pgWire frontend driver owns the I/O (and TLS), this module owns framing, the message flow,
validation and the size caps. Wire reference: the PostgreSQL manual, chapter "Frontend/Backend
Protocol" (sections "Message Flow", "Message Formats", "Error and Notice Message Fields"),
https://www.postgresql.org/docs/current/protocol.html

Where the manual leaves room, this follows what the PostgreSQL server does: the same SQLSTATEs
and messages for the same faults, the 10,000-byte startup packet limit, the small-message and
auth-token limits, the Flush/Sync leniency during COPY FROM STDIN, and an Int32 holding the
whole protocol version (major << 16 | minor) in NegotiateProtocolVersion (libpq reads it so).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from .common import NEED_DATA, LocalProtocolError, NeedData, ProtocolError, transition

__all__ = [
    "NEED_DATA", "AuthenticationCleartextPassword", "AuthenticationMD5Password",
    "AuthenticationOk", "AuthenticationSASL", "AuthenticationSASLContinue",
    "AuthenticationSASLFinal", "BackendKeyData", "Bind", "BindComplete", "CancelRequest", "Close",
    "CloseComplete", "CommandComplete", "ConnectionClosed", "CopyData", "CopyDone", "CopyFail",
    "CopyInResponse", "CopyOutResponse", "DataRow", "DataRows", "Describe", "EmptyQueryResponse",
    "ErrorResponse", "Event", "Execute", "Field", "Flush", "GSSENCRequest", "GSSENCResponse",
    "LocalProtocolError", "NegotiateProtocolVersion", "NoData", "NoticeResponse",
    "OutgoingEvent", "ParameterDescription", "ParameterStatus", "Parse", "ParseComplete",
    "PasswordMessage", "PgServerConnection", "PortalSuspended", "ProtocolError", "Query",
    "ReadyForQuery", "RemoteProtocolError", "RowDescription", "SASLInitialResponse",
    "SASLResponse", "SSLRequest", "SSLResponse", "StartupMessage", "State", "Sync", "Terminate",
    "encode_data_rows", "error", "notice",
]  # fmt: skip

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_STARTUP_BYTES = 10_000  # the server's MAX_STARTUP_PACKET_LENGTH
SMALL_MESSAGE_BYTES = 10_000  # Sync, Flush, Describe, Close, Execute, ... (PQ_SMALL_MESSAGE_LIMIT)
AUTH_MESSAGE_BYTES = 65_535  # password and SASL messages (PG_MAX_AUTH_TOKEN_LENGTH)
BUFFER_SLACK_BYTES = 64 * 1024  # room for a pipelined message header past one maximal message

SSL_REQUEST_CODE = 80877103  # 1234.5679
GSSENC_REQUEST_CODE = 80877104  # 1234.5680
CANCEL_REQUEST_CODE = 80877102  # 1234.5678
NEWEST_MINOR_VERSION = 2  # 3.2 (PostgreSQL 18): longer cancel keys; messages otherwise as 3.0

PROTOCOL_VIOLATION = "08P01"
PROGRAM_LIMIT_EXCEEDED = "54000"
FEATURE_NOT_SUPPORTED = "0A000"
CHARACTER_NOT_IN_REPERTOIRE = "22021"
INVALID_PARAMETER_VALUE = "22023"
INVALID_AUTHORIZATION_SPECIFICATION = "28000"


class RemoteProtocolError(ProtocolError):
    """The client broke the protocol. Send `error_response()` back, then close."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate
        self.message = message

    def error_response(self) -> ErrorResponse:
        return error(self.sqlstate, self.message, severity="FATAL")


def _violation(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(PROTOCOL_VIOLATION, message)


# --- incoming events ----------------------------------------------------------------------


@attrs.frozen
class SSLRequest:
    """Reply with `SSLResponse`; after 'S' the driver runs TLS and feeds decrypted bytes."""


@attrs.frozen
class GSSENCRequest:
    """Reply with `GSSENCResponse`."""


@attrs.frozen
class CancelRequest:
    """Cancel the query of another session; no reply, the connection is finished."""

    process_id: int
    secret_key: bytes = attrs.field(repr=False)  # 4 bytes in 3.0, up to 256 in 3.2


@attrs.frozen
class StartupMessage:
    """`parameters` holds the run-time parameters (`user`, `database`, `options`, ...);
    protocol options (`_pq_.*`) are kept apart in `protocol_options`."""

    protocol: tuple[int, int]
    parameters: Mapping[str, str] = attrs.field(factory=dict)
    protocol_options: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def requested_minor(self) -> int:
        return self.protocol[1]

    @property
    def user(self) -> str:
        return self.parameters["user"]  # always present: checked when parsing

    @property
    def database(self) -> str:
        return self.parameters.get("database") or self.user

    def negotiation(
        self, newest_minor: int = 0, supported_options: Collection[str] = ()
    ) -> NegotiateProtocolVersion | None:
        """The NegotiateProtocolVersion to send before authenticating, or None if the client
        asked for nothing newer than `newest_minor` and no unknown `_pq_` option."""
        unrecognized = tuple(n for n in self.protocol_options if n not in supported_options)
        if self.requested_minor <= newest_minor and not unrecognized:
            return None
        return NegotiateProtocolVersion(min(self.requested_minor, newest_minor), unrecognized)


@attrs.frozen
class PasswordMessage:
    """Answer to AuthenticationCleartextPassword (the password) or MD5 ("md5" + hex digest)."""

    password: str = attrs.field(repr=False)


@attrs.frozen
class SASLInitialResponse:
    mechanism: str
    data: bytes = attrs.field(repr=False)  # b"" when the client sent none (length -1)


@attrs.frozen
class SASLResponse:
    data: bytes = attrs.field(repr=False)


@attrs.frozen
class Query:
    sql: str


@attrs.frozen
class Parse:
    name: str
    sql: str
    param_types: tuple[int, ...] = ()  # type OIDs; 0 leaves a parameter's type unspecified


@attrs.frozen
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]  # none (all text), one (for all) or one per parameter
    params: tuple[bytes | None, ...]  # None is SQL NULL
    result_formats: tuple[int, ...]  # none (all text), one (for all) or one per column

    def param_format(self, index: int) -> int:
        """Format code (0 text, 1 binary) of parameter `index`."""
        formats = self.param_formats
        return formats[index] if len(formats) > 1 else formats[0] if formats else 0


@attrs.frozen
class Describe:
    kind: Literal["S", "P"]  # prepared statement or portal
    name: str


@attrs.frozen
class Execute:
    portal: str
    max_rows: int  # 0: no limit (a negative count on the wire means the same)


@attrs.frozen
class Close:
    kind: Literal["S", "P"]
    name: str


@attrs.frozen
class Flush:
    pass


@attrs.frozen
class Sync:
    pass


@attrs.frozen
class Terminate:
    pass


@attrs.frozen
class CopyData:
    """Both directions: COPY FROM STDIN data in, COPY TO STDOUT data out."""

    data: bytes


@attrs.frozen
class CopyDone:
    """Both directions."""


@attrs.frozen
class CopyFail:
    message: str


@attrs.frozen
class ConnectionClosed:
    """The client closed its side; nothing more will come from it."""


Event: TypeAlias = (
    SSLRequest | GSSENCRequest | CancelRequest | StartupMessage | PasswordMessage
    | SASLInitialResponse | SASLResponse | Query | Parse | Bind | Describe | Execute | Close
    | Flush | Sync | Terminate | CopyData | CopyDone | CopyFail | ConnectionClosed
)  # fmt: skip

# --- outgoing events ----------------------------------------------------------------------


@attrs.frozen
class SSLResponse:
    accept: bool


@attrs.frozen
class GSSENCResponse:
    accept: bool = False


@attrs.frozen
class AuthenticationOk:
    pass


@attrs.frozen
class AuthenticationCleartextPassword:
    pass


@attrs.frozen
class AuthenticationMD5Password:
    salt: bytes  # 4 bytes


@attrs.frozen
class AuthenticationSASL:
    mechanisms: tuple[str, ...]  # e.g. ("SCRAM-SHA-256",)


@attrs.frozen
class AuthenticationSASLContinue:
    data: bytes = attrs.field(repr=False)


@attrs.frozen
class AuthenticationSASLFinal:
    data: bytes = attrs.field(repr=False)


@attrs.frozen
class ParameterStatus:
    name: str
    value: str


@attrs.frozen
class BackendKeyData:
    process_id: int  # 0 .. 2**32 - 1
    secret_key: bytes = attrs.field(repr=False)  # 4 bytes in 3.0; 4 to 256 in 3.2


@attrs.frozen
class NegotiateProtocolVersion:
    """Sent right after the StartupMessage; the connection then speaks 3.`newest_minor`."""

    newest_minor: int
    unrecognized: tuple[str, ...] = ()


@attrs.frozen
class ReadyForQuery:
    status: Literal["I", "T", "E"]  # idle, in a transaction block, in a failed one


@attrs.frozen(kw_only=True)
class Field:
    """One RowDescription column; everything but the name is keyword-only."""

    name: str = attrs.field(kw_only=False)
    type_oid: int
    type_size: int  # pg_type.typlen: -1 varlena, -2 cstring
    type_modifier: int = -1
    format: int = 0  # 0 text, 1 binary
    table_oid: int = 0
    column_attr: int = 0


@attrs.frozen
class RowDescription:
    fields: tuple[Field, ...]


@attrs.frozen
class DataRow:
    values: tuple[bytes | None, ...]  # None is SQL NULL


@attrs.frozen
class DataRows:
    """DataRow messages already encoded (`encode_data_rows`), sent as they are."""

    encoded: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


@attrs.frozen
class CommandComplete:
    tag: str  # "SELECT 5", "INSERT 0 1", "BEGIN", ...


@attrs.frozen
class EmptyQueryResponse:
    pass


@attrs.frozen
class ErrorResponse:
    """`fields`: one-letter codes (S, V, C, M, D, H, P, ...) to values, sent in order."""

    fields: Mapping[str, str]

    @property
    def sqlstate(self) -> str | None:
        return self.fields.get("C")

    @property
    def severity(self) -> str | None:
        return self.fields.get("V", self.fields.get("S"))


@attrs.frozen
class NoticeResponse:
    fields: Mapping[str, str]


@attrs.frozen
class ParseComplete:
    pass


@attrs.frozen
class BindComplete:
    pass


@attrs.frozen
class CloseComplete:
    pass


@attrs.frozen
class NoData:
    pass


@attrs.frozen
class ParameterDescription:
    type_oids: tuple[int, ...]


@attrs.frozen
class PortalSuspended:
    pass


@attrs.frozen
class CopyInResponse:
    """Start COPY FROM STDIN: the client then sends CopyData until CopyDone or CopyFail."""

    format: int  # 0 text, 1 binary
    column_formats: tuple[int, ...]  # all 0 when `format` is 0


@attrs.frozen
class CopyOutResponse:
    """Start COPY TO STDOUT: then CopyData messages, CopyDone and CommandComplete."""

    format: int
    column_formats: tuple[int, ...]


OutgoingEvent: TypeAlias = (
    SSLResponse | GSSENCResponse | AuthenticationOk | AuthenticationCleartextPassword
    | AuthenticationMD5Password | AuthenticationSASL | AuthenticationSASLContinue
    | AuthenticationSASLFinal | ParameterStatus | BackendKeyData | NegotiateProtocolVersion
    | ReadyForQuery | RowDescription | DataRow | DataRows | CommandComplete | EmptyQueryResponse
    | ErrorResponse | NoticeResponse | ParseComplete | BindComplete | CloseComplete | NoData
    | ParameterDescription | PortalSuspended | CopyInResponse | CopyOutResponse | CopyData
    | CopyDone
)  # fmt: skip

_ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "PANIC"})
_NOTICE_SEVERITIES = frozenset({"WARNING", "NOTICE", "DEBUG", "INFO", "LOG"})


def _fields(
    sqlstate: str,
    message: str,
    severity: str,
    detail: str | None,
    hint: str | None,
    position: int | None,
) -> dict[str, str]:
    if len(sqlstate) != 5 or not sqlstate.isascii() or not sqlstate.isalnum():
        raise LocalProtocolError(f"invalid SQLSTATE {sqlstate!r}")
    # S may be localized; V (PostgreSQL 9.6+) never is. Clients read either.
    fields = {"S": severity, "V": severity, "C": sqlstate.upper(), "M": message}
    if detail is not None:
        fields["D"] = detail
    if hint is not None:
        fields["H"] = hint
    if position is not None:
        fields["P"] = str(position)  # 1-based, in characters of the query string
    return fields


def error(
    sqlstate: str,
    message: str,
    severity: str = "ERROR",
    detail: str | None = None,
    hint: str | None = None,
    position: int | None = None,
) -> ErrorResponse:
    if severity not in _ERROR_SEVERITIES:
        raise LocalProtocolError(f"error severity must be ERROR, FATAL or PANIC, not {severity}")
    return ErrorResponse(_fields(sqlstate, message, severity, detail, hint, position))


def notice(
    sqlstate: str,
    message: str,
    severity: str = "NOTICE",
    detail: str | None = None,
    hint: str | None = None,
    position: int | None = None,
) -> NoticeResponse:
    if severity not in _NOTICE_SEVERITIES:
        raise LocalProtocolError(f"notice severity must be one of {sorted(_NOTICE_SEVERITIES)}")
    return NoticeResponse(_fields(sqlstate, message, severity, detail, hint, position))


# --- encoding -----------------------------------------------------------------------------

_INT16 = struct.Struct(">h")
_UINT16 = struct.Struct(">H")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_FIELD = struct.Struct(">IhIhih")  # table oid, column attr, type oid, size, modifier, format
_NULL = _INT32.pack(-1)
_CACHED_LENGTHS = 1024
_LENGTH_PREFIX = tuple(_INT32.pack(n) for n in range(_CACHED_LENGTHS))
_ROW_HEADERS = tuple(b"D\0\0\0\0" + _UINT16.pack(n) for n in range(1665))  # up to 1664 cols


def _message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _INT32.pack(len(body) + 4) + body


def _cstring(text: str) -> bytes:
    if "\0" in text:
        raise LocalProtocolError(f"NUL character in string {text[:50]!r}")
    return text.encode("utf-8") + b"\0"


def _row_header(ncols: int) -> bytes:
    if not 0 <= ncols <= 0xFFFF:
        raise LocalProtocolError(f"a DataRow holds at most 65535 columns, not {ncols}")
    return b"D\0\0\0\0" + _UINT16.pack(ncols)


def encode_data_rows(rows: Iterable[Sequence[bytes | None]]) -> bytes:
    """DataRow messages for many rows, concatenated; values are bytes (or bytearray,
    memoryview) in the column's wire format, or None for NULL.

    One bytearray; per value just a cached length prefix and the value appended. A row's
    length is patched in after its values. Rows start on a path that does not test for None
    or long values; the first such value switches the rest of the call to the checked path.
    """
    out = bytearray()
    prefix, headers, cached = _LENGTH_PREFIX, _ROW_HEADERS, _CACHED_LENGTHS
    null, pack, pack_into = _NULL, _INT32.pack, _INT32.pack_into
    checked = False
    for row in rows:
        start = len(out)
        ncols = len(row)
        out += headers[ncols] if ncols < 1665 else _row_header(ncols)
        if not checked:
            try:
                for value in row:
                    out += prefix[len(value)]  # type: ignore[arg-type]
                    out += value  # type: ignore[arg-type]
            except (TypeError, IndexError):  # a NULL or a long value: redo the row, checked
                del out[start + 7 :]
                checked = True
        if checked:
            for value in row:
                if value is None:
                    out += null
                else:
                    n = len(value)
                    out += prefix[n] if n < cached else pack(n)
                    out += value
        pack_into(out, start + 1, len(out) - start - 1)
    return bytes(out)


def _format_code(code: int) -> int:
    if code not in (0, 1):
        raise LocalProtocolError(f"format code must be 0 or 1, not {code}")
    return code


def _copy_response(kind: bytes, event: CopyInResponse | CopyOutResponse) -> bytes:
    formats = [_format_code(code) for code in event.column_formats]
    if _format_code(event.format) == 0 and any(formats):
        raise LocalProtocolError("a text COPY has text (0) column formats only")
    body = [struct.pack(">bH", event.format, len(formats))]
    body += [_INT16.pack(code) for code in formats]
    return _message(kind, b"".join(body))


def _fields_body(fields: Mapping[str, str]) -> bytes:
    parts: list[bytes] = []
    for code, value in fields.items():
        if len(code) != 1 or code == "\0" or not code.isascii():
            raise LocalProtocolError(f"invalid field code {code!r}")
        parts += (code.encode(), _cstring(value))
    parts.append(b"\0")
    return b"".join(parts)


def _auth(code: int, data: bytes = b"") -> bytes:
    return _message(b"R", _INT32.pack(code) + data)


def _encode_md5(event: AuthenticationMD5Password) -> bytes:
    if len(event.salt) != 4:
        raise LocalProtocolError("an MD5 salt is 4 bytes")
    return _auth(5, bytes(event.salt))


def _encode_sasl(event: AuthenticationSASL) -> bytes:
    if not event.mechanisms or not all(event.mechanisms):
        raise LocalProtocolError("AuthenticationSASL needs at least one (non-empty) mechanism")
    return _auth(10, b"".join(map(_cstring, event.mechanisms)) + b"\0")


def _encode_key_data(event: BackendKeyData) -> bytes:
    if not 4 <= len(event.secret_key) <= 256:
        raise LocalProtocolError("a cancel secret key is 4 to 256 bytes")
    return _message(b"K", _UINT32.pack(event.process_id) + bytes(event.secret_key))


def _encode_negotiate(event: NegotiateProtocolVersion) -> bytes:
    if not 0 <= event.newest_minor <= 0xFFFF:
        raise LocalProtocolError(f"invalid minor version {event.newest_minor}")
    version = 3 << 16 | event.newest_minor
    body = struct.pack(">Ii", version, len(event.unrecognized))
    return _message(b"v", body + b"".join(map(_cstring, event.unrecognized)))


def _encode_ready(event: ReadyForQuery) -> bytes:
    if event.status not in ("I", "T", "E"):
        raise LocalProtocolError(f"invalid transaction status {event.status!r}")
    return b"Z\0\0\0\x05" + event.status.encode()


def _encode_row_description(event: RowDescription) -> bytes:
    parts = [_UINT16.pack(len(event.fields))]
    for f in event.fields:
        parts.append(_cstring(f.name))
        fmt = _format_code(f.format)
        parts.append(
            _FIELD.pack(f.table_oid, f.column_attr, f.type_oid, f.type_size, f.type_modifier, fmt)
        )
    return _message(b"T", b"".join(parts))


def _encode_parameter_description(event: ParameterDescription) -> bytes:
    oids = event.type_oids
    return _message(b"t", _UINT16.pack(len(oids)) + struct.pack(f">{len(oids)}I", *oids))


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    SSLResponse: lambda e: b"S" if e.accept else b"N",
    GSSENCResponse: lambda e: b"G" if e.accept else b"N",
    AuthenticationOk: lambda e: _auth(0),
    AuthenticationCleartextPassword: lambda e: _auth(3),
    AuthenticationMD5Password: _encode_md5,
    AuthenticationSASL: _encode_sasl,
    AuthenticationSASLContinue: lambda e: _auth(11, bytes(e.data)),
    AuthenticationSASLFinal: lambda e: _auth(12, bytes(e.data)),
    ParameterStatus: lambda e: _message(b"S", _cstring(e.name) + _cstring(e.value)),
    BackendKeyData: _encode_key_data,
    NegotiateProtocolVersion: _encode_negotiate,
    ReadyForQuery: _encode_ready,
    RowDescription: _encode_row_description,
    DataRow: lambda e: encode_data_rows((e.values,)),
    DataRows: lambda e: bytes(e.encoded),
    CommandComplete: lambda e: _message(b"C", _cstring(e.tag)),
    EmptyQueryResponse: lambda e: b"I\0\0\0\x04",
    ErrorResponse: lambda e: _message(b"E", _fields_body(e.fields)),
    NoticeResponse: lambda e: _message(b"N", _fields_body(e.fields)),
    ParseComplete: lambda e: b"1\0\0\0\x04",
    BindComplete: lambda e: b"2\0\0\0\x04",
    CloseComplete: lambda e: b"3\0\0\0\x04",
    NoData: lambda e: b"n\0\0\0\x04",
    ParameterDescription: _encode_parameter_description,
    PortalSuspended: lambda e: b"s\0\0\0\x04",
    CopyInResponse: lambda e: _copy_response(b"G", e),
    CopyOutResponse: lambda e: _copy_response(b"H", e),
    CopyData: lambda e: _message(b"d", bytes(e.data)),
    CopyDone: lambda e: b"c\0\0\0\x04",
}

# --- decoding -----------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError(
            CHARACTER_NOT_IN_REPERTOIRE, 'invalid byte sequence for encoding "UTF8"'
        ) from None


class _Reader:
    """A cursor over one message body; every read is bounds-checked."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _advance(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > len(self.data):
            raise _violation("insufficient data left in message")
        self.pos = start + n
        return start

    def byte(self) -> str:
        return chr(self.data[self._advance(1)])

    def int16(self) -> int:
        return int(_INT16.unpack_from(self.data, self._advance(2))[0])

    def uint16(self) -> int:
        return int(_UINT16.unpack_from(self.data, self._advance(2))[0])

    def int32(self) -> int:
        return int(_INT32.unpack_from(self.data, self._advance(4))[0])

    def int16s(self, count: int) -> tuple[int, ...]:
        return struct.unpack_from(f">{count}h", self.data, self._advance(2 * count))

    def uint32s(self, count: int) -> tuple[int, ...]:
        return struct.unpack_from(f">{count}I", self.data, self._advance(4 * count))

    def take(self, n: int) -> bytes:
        start = self._advance(n)
        return self.data[start : self.pos]

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise _violation("invalid string in message")
        start, self.pos = self.pos, end + 1
        return _text(self.data[start:end])

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise _violation("invalid message format")


def _check_formats(codes: tuple[int, ...]) -> tuple[int, ...]:
    for code in codes:
        if code not in (0, 1):
            raise RemoteProtocolError(INVALID_PARAMETER_VALUE, f"unsupported format code: {code}")
    return codes


def _parse_query(r: _Reader) -> Query:
    sql = r.string()
    r.end()
    return Query(sql)


def _parse_parse(r: _Reader) -> Parse:
    name, sql = r.string(), r.string()
    types = r.uint32s(r.uint16())
    r.end()
    return Parse(name, sql, types)


def _parse_bind(r: _Reader) -> Bind:
    portal, statement = r.string(), r.string()
    formats = _check_formats(r.int16s(r.uint16()))
    count = r.uint16()
    if len(formats) > 1 and len(formats) != count:
        message = f"bind message has {len(formats)} parameter formats but {count} parameters"
        raise _violation(message)
    params: list[bytes | None] = []
    for _ in range(count):
        size = r.int32()
        if size < -1:
            raise _violation(f"invalid parameter length {size}")
        params.append(None if size == -1 else r.take(size))
    results = _check_formats(r.int16s(r.uint16()))
    r.end()
    return Bind(portal, statement, formats, tuple(params), results)


def _kind_and_name(r: _Reader, what: str) -> tuple[Literal["S", "P"], str]:
    kind = r.byte()
    name = r.string()
    r.end()
    if kind == "S":
        return "S", name
    if kind == "P":
        return "P", name
    raise _violation(f"invalid {what} message subtype {ord(kind)}")


def _parse_describe(r: _Reader) -> Describe:
    return Describe(*_kind_and_name(r, "DESCRIBE"))


def _parse_close(r: _Reader) -> Close:
    return Close(*_kind_and_name(r, "CLOSE"))


def _parse_execute(r: _Reader) -> Execute:
    portal = r.string()
    max_rows = r.int32()
    r.end()
    return Execute(portal, max(max_rows, 0))


_Parser: TypeAlias = Callable[[_Reader], Event]


def _empty(event: Flush | Sync | Terminate | CopyDone) -> _Parser:
    def parse(r: _Reader) -> Event:
        r.end()
        return event

    return parse


def _parse_copy_fail(r: _Reader) -> CopyFail:
    message = r.string()
    r.end()
    return CopyFail(message)


def _parse_function_call(r: _Reader) -> Event:
    raise RemoteProtocolError(FEATURE_NOT_SUPPORTED, "function call messages are not supported")


# Frontend message types of the query phase: parser, and body size limit (None: the
# connection's max_message_bytes). 'p' (auth) is valid only during authentication.
_PARSERS: dict[int, tuple[_Parser, int | None]] = {
    ord("Q"): (_parse_query, None),
    ord("P"): (_parse_parse, None),
    ord("B"): (_parse_bind, None),
    ord("D"): (_parse_describe, SMALL_MESSAGE_BYTES),
    ord("E"): (_parse_execute, SMALL_MESSAGE_BYTES),
    ord("C"): (_parse_close, SMALL_MESSAGE_BYTES),
    ord("H"): (_empty(Flush()), SMALL_MESSAGE_BYTES),
    ord("S"): (_empty(Sync()), SMALL_MESSAGE_BYTES),
    ord("X"): (_empty(Terminate()), SMALL_MESSAGE_BYTES),
    ord("d"): (lambda r: CopyData(r.rest()), None),
    ord("c"): (_empty(CopyDone()), SMALL_MESSAGE_BYTES),
    ord("f"): (_parse_copy_fail, SMALL_MESSAGE_BYTES),
    ord("F"): (_parse_function_call, None),
}
_EXTENDED = frozenset(map(ord, "PBDECH"))  # an error after these starts skipping to Sync
_COPY = frozenset(map(ord, "dcf"))
_COPY_IGNORED = frozenset(map(ord, "HS"))  # the server ignores Flush/Sync during copy-in
_COPY_IN_TYPES = _COPY | _COPY_IGNORED | {ord("X")}

# --- the connection -----------------------------------------------------------------------


class State(enum.Enum):
    STARTUP = "startup"  # reading a startup packet (the first, or one after SSL/GSS)
    SSL_RESPONSE = "ssl_response"  # SSLRequest read: send SSLResponse
    GSSENC_RESPONSE = "gssenc_response"  # GSSENCRequest read: send GSSENCResponse
    AUTHENTICATING = "authenticating"  # our turn: an auth request, AuthenticationOk or an error
    PASSWORD = "password"  # cleartext/MD5 request sent: reading a PasswordMessage
    SASL_INITIAL = "sasl_initial"  # AuthenticationSASL sent: reading SASLInitialResponse
    SASL = "sasl"  # our turn mid-SASL: SASLContinue, SASLFinal or an error
    SASL_RESPONSE = "sasl_response"  # SASLContinue sent: reading SASLResponse
    READY = "ready"  # query phase
    SKIP_TO_SYNC = "skip_to_sync"  # error in an extended-query batch: input dropped until Sync
    COPY_IN = "copy_in"  # CopyInResponse sent: CopyData until CopyDone or CopyFail
    ERROR = "error"  # the client broke the protocol: only the ErrorResponse is left to send
    CLOSED = "closed"  # Terminate, CancelRequest or a fatal error: nothing more either way

    # Members are singletons: identity hashes them in C, where Enum's own hash is a Python
    # call, and every message looks its (state, trigger) up in the table below.
    __hash__ = object.__hash__


_S = State
_LIVE = tuple(s for s in State if s not in (_S.ERROR, _S.CLOSED))
_OUR_TURN = frozenset({_S.SSL_RESPONSE, _S.GSSENC_RESPONSE, _S.AUTHENTICATING, _S.SASL})

# Every state change, by (state, trigger). "recv X": next_event() returned X; "send X":
# send(X). Sends that leave the state as it is are listed in _SENDABLE below. EOF is not a
# state: next_event() returns ConnectionClosed from then on, and sending stays possible.
_TRANSITIONS: dict[tuple[State, str], State] = {
    (_S.STARTUP, "recv SSLRequest"): _S.SSL_RESPONSE,
    (_S.SSL_RESPONSE, "send SSLResponse"): _S.STARTUP,
    (_S.STARTUP, "recv GSSENCRequest"): _S.GSSENC_RESPONSE,
    (_S.GSSENC_RESPONSE, "send GSSENCResponse"): _S.STARTUP,
    (_S.STARTUP, "recv CancelRequest"): _S.CLOSED,
    (_S.STARTUP, "recv StartupMessage"): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, "send AuthenticationCleartextPassword"): _S.PASSWORD,
    (_S.AUTHENTICATING, "send AuthenticationMD5Password"): _S.PASSWORD,
    (_S.PASSWORD, "recv PasswordMessage"): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, "send AuthenticationSASL"): _S.SASL_INITIAL,
    (_S.SASL_INITIAL, "recv SASLInitialResponse"): _S.SASL,
    (_S.SASL, "send AuthenticationSASLContinue"): _S.SASL_RESPONSE,
    (_S.SASL_RESPONSE, "recv SASLResponse"): _S.SASL,
    (_S.SASL, "send AuthenticationSASLFinal"): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, "send AuthenticationOk"): _S.READY,
    (_S.READY, "send ErrorResponse"): _S.READY,
    (_S.READY, "send ErrorResponse in extended query"): _S.SKIP_TO_SYNC,
    (_S.SKIP_TO_SYNC, "send ErrorResponse"): _S.SKIP_TO_SYNC,
    (_S.SKIP_TO_SYNC, "recv Sync"): _S.READY,
    (_S.READY, "send CopyInResponse"): _S.COPY_IN,
    (_S.COPY_IN, "recv CopyDone"): _S.READY,
    (_S.COPY_IN, "recv CopyFail"): _S.READY,
    (_S.COPY_IN, "send ErrorResponse"): _S.READY,
    (_S.COPY_IN, "send ErrorResponse in extended query"): _S.SKIP_TO_SYNC,
    **{(s, "recv Terminate"): _S.CLOSED for s in _LIVE},
    **{(s, "remote error"): _S.ERROR for s in _LIVE},
    **{(s, "send fatal ErrorResponse"): _S.CLOSED for s in (*_LIVE, _S.ERROR)},
}

_ASYNC = frozenset({NoticeResponse, ParameterStatus})
_QUERY_REPLIES = frozenset({
    ParameterStatus, BackendKeyData, ReadyForQuery, RowDescription, DataRow, DataRows,
    CommandComplete, EmptyQueryResponse, NoticeResponse, ParseComplete, BindComplete,
    CloseComplete, NoData, ParameterDescription, PortalSuspended, CopyOutResponse, CopyData,
    CopyDone,
})  # fmt: skip
_SENDABLE: dict[State, frozenset[type]] = {
    _S.STARTUP: frozenset(),
    _S.SSL_RESPONSE: frozenset(),
    _S.GSSENC_RESPONSE: frozenset(),
    _S.AUTHENTICATING: frozenset({NoticeResponse, NegotiateProtocolVersion}),
    _S.PASSWORD: frozenset({NoticeResponse}),
    _S.SASL_INITIAL: frozenset({NoticeResponse}),
    _S.SASL: frozenset({NoticeResponse}),
    _S.SASL_RESPONSE: frozenset({NoticeResponse}),
    _S.READY: _QUERY_REPLIES,
    _S.SKIP_TO_SYNC: _ASYNC,
    _S.COPY_IN: _ASYNC,
    _S.ERROR: frozenset({NoticeResponse}),
    _S.CLOSED: frozenset(),
}
_CHANGES_STATE = frozenset({
    SSLResponse, GSSENCResponse, AuthenticationCleartextPassword, AuthenticationMD5Password,
    AuthenticationSASL, AuthenticationSASLContinue, AuthenticationSASLFinal, AuthenticationOk,
    CopyInResponse, ErrorResponse,
})  # fmt: skip


class PgServerConnection:
    """Server side of one client connection, from the first startup packet to Terminate.

    Incoming lengths are checked before anything is allocated: a startup packet body over
    `max_startup_bytes`, or a message body over `max_message_bytes` (smaller limits for
    messages that are small by nature), fails with SQLSTATE 54000. Input buffered beyond
    `max_buffered_bytes` is dropped and fails the connection once parsing reaches the gap;
    a driver that keeps reading while a query runs should pause once `buffered_bytes` nears
    `max_message_bytes`.

    Error in an extended-query batch: once an ErrorResponse is sent after Parse, Bind,
    Describe, Execute, Close or Flush, `next_event()` drops input until Sync (Terminate and
    EOF still come through), as the server does. This covers the messages not yet returned.
    """

    def __init__(
        self,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_startup_bytes: int = DEFAULT_MAX_STARTUP_BYTES,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.max_startup_bytes = max_startup_bytes
        self.max_buffered_bytes = max(max_message_bytes, max_startup_bytes) + BUFFER_SLACK_BYTES
        self._state = State.STARTUP
        self._buffer = bytearray()
        self._overflow = self._eof = False
        self._error: RemoteProtocolError | None = None  # sticky: raised again by next_event()
        self._ssl_done = self._gss_done = False
        self._sasl_mechanisms: tuple[str, ...] = ()
        self._extended = False  # the last query-phase message was an extended-query one
        self._protocol_minor = 0

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def protocol_minor(self) -> int:
        """3.<minor> in use: the requested minor, lowered by a NegotiateProtocolVersion."""
        return self._protocol_minor

    @property
    def peer_closed(self) -> bool:
        """EOF was fed: the client sends nothing more (it may still read)."""
        return self._eof

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def _move(self, trigger: str) -> None:
        self._state = transition(_TRANSITIONS, self._state, trigger)

    def _fail(self, exc: RemoteProtocolError) -> RemoteProtocolError:
        self._move("remote error")
        self._error = exc
        self._buffer.clear()
        return exc

    # -- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes from the client; b"" means EOF. Never parses, never raises for input."""
        if not data:
            self._eof = True
        elif self._eof:
            raise LocalProtocolError("data received after EOF")
        elif self._state is State.ERROR or self._state is State.CLOSED:
            pass
        elif self._overflow or len(self._buffer) + len(data) > self.max_buffered_bytes:
            self._overflow = True
        else:
            self._buffer += data

    def next_event(self) -> Event | NeedData:
        """The next client event, `NEED_DATA`, or RemoteProtocolError (then send the error's
        `error_response()` and close)."""
        if self._error is not None:
            raise self._error
        try:
            while True:
                state = self._state
                if state is State.CLOSED:
                    self._buffer.clear()
                    return ConnectionClosed()
                if state in _OUR_TURN:
                    return ConnectionClosed() if self._eof else NEED_DATA
                event = self._startup_packet() if state is State.STARTUP else self._message()
                if event is NEED_DATA:
                    if self._overflow:
                        raise RemoteProtocolError(
                            PROGRAM_LIMIT_EXCEEDED,
                            f"more than {self.max_buffered_bytes} bytes of unread input",
                        )
                    return ConnectionClosed() if self._eof else NEED_DATA
                if event is not None:
                    new = _TRANSITIONS.get((self._state, f"recv {type(event).__name__}"))
                    if new is not None:
                        self._state = new
                    return event
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None

    def _consume(self, start: int, end: int) -> bytes:
        """Bytes [start:end) of the buffer (one copy); drops everything before `end`."""
        with memoryview(self._buffer) as view:
            body = view[start:end].tobytes()
        del self._buffer[:end]  # O(1) at the front of a bytearray
        return body

    def _startup_packet(self) -> Event | NeedData | None:
        buffer = self._buffer
        if len(buffer) < 4:
            return NEED_DATA
        size = _INT32.unpack_from(buffer)[0] - 4
        if size < 4:
            raise _violation("invalid length of startup packet")
        if size > self.max_startup_bytes:
            raise RemoteProtocolError(
                PROGRAM_LIMIT_EXCEEDED,
                f"startup packet of {size} bytes is over the limit of {self.max_startup_bytes}",
            )
        if len(buffer) < 4 + size:
            return NEED_DATA
        body = self._consume(4, 4 + size)
        code = _UINT32.unpack_from(body)[0]
        if code == SSL_REQUEST_CODE and not self._ssl_done and size == 4:
            return SSLRequest()
        if code == GSSENC_REQUEST_CODE and not self._gss_done and size == 4:
            return GSSENCRequest()
        if code == CANCEL_REQUEST_CODE:
            if not 12 <= size <= 264:
                raise _violation("invalid length of cancel request packet")
            return CancelRequest(_UINT32.unpack_from(body, 4)[0], body[8:])
        major, minor = code >> 16, code & 0xFFFF
        if major != 3:
            raise RemoteProtocolError(
                FEATURE_NOT_SUPPORTED,
                f"unsupported frontend protocol {major}.{minor}: server supports 3.0 to "
                f"3.{NEWEST_MINOR_VERSION}",
            )
        return self._startup_message(minor, body[4:])

    def _startup_message(self, minor: int, data: bytes) -> StartupMessage:
        # name\0value\0 ... name\0value\0 \0
        if not data.endswith(b"\0"):
            raise _violation("invalid startup packet layout: expected terminator as last byte")
        items = data[:-1].split(b"\0")
        if items.pop() != b"" or len(items) % 2 or not all(items[::2]):
            raise _violation("invalid startup packet layout: expected terminator as last byte")
        parameters: dict[str, str] = {}
        options: dict[str, str] = {}
        for i in range(0, len(items), 2):
            name, value = _text(items[i]), _text(items[i + 1])
            (options if name.startswith("_pq_.") else parameters)[name] = value
        if not parameters.get("user"):
            raise RemoteProtocolError(
                INVALID_AUTHORIZATION_SPECIFICATION,
                "no PostgreSQL user name specified in startup packet",
            )
        self._protocol_minor = minor
        return StartupMessage((3, minor), parameters, options)

    def _message(self) -> Event | NeedData | None:
        """One typed message for the current state; None when it was dropped."""
        buffer, state = self._buffer, self._state
        if not buffer:
            return NEED_DATA
        kind = buffer[0]
        if state is State.READY or state is State.SKIP_TO_SYNC or state is State.COPY_IN:
            entry = _PARSERS.get(kind)
            if entry is None:
                raise _violation(f"invalid frontend message type {kind}")
            parser, limit = entry
            if state is State.COPY_IN and kind not in _COPY_IN_TYPES:
                raise _violation(f"unexpected message type 0x{kind:02X} during COPY from stdin")
        elif kind == ord("p"):
            parser, limit = self._auth_parser(), AUTH_MESSAGE_BYTES
        elif kind == ord("X"):
            parser, limit = _PARSERS[kind]
        else:
            expected = "password" if state is State.PASSWORD else "SASL"
            raise _violation(f"expected {expected} response, got message type {kind}")
        if len(buffer) < 5:
            return NEED_DATA
        size = _INT32.unpack_from(buffer, 1)[0] - 4
        if size < 0:
            raise _violation("invalid message length")
        limit = self.max_message_bytes if limit is None else min(limit, self.max_message_bytes)
        if size > limit:
            raise RemoteProtocolError(
                PROGRAM_LIMIT_EXCEEDED,
                f"message of type {chr(kind)!r} with {size} bytes is over the limit of {limit}",
            )
        if len(buffer) < 5 + size:
            return NEED_DATA
        body = self._consume(5, 5 + size)
        if state is State.SKIP_TO_SYNC and kind != ord("S") and kind != ord("X"):
            return None
        if state is State.COPY_IN:
            if kind in _COPY_IGNORED:
                return None
        elif kind in _COPY:
            self._extended = False
            return None  # leftovers of a failed COPY FROM STDIN: dropped, as the server does
        event = parser(_Reader(body))
        if state is not State.COPY_IN:
            self._extended = kind in _EXTENDED
        return event

    def _auth_parser(self) -> _Parser:
        if self._state is State.PASSWORD:
            return _parse_password
        if self._state is State.SASL_INITIAL:
            return self._parse_sasl_initial
        return lambda r: SASLResponse(r.rest())

    def _parse_sasl_initial(self, r: _Reader) -> SASLInitialResponse:
        mechanism = r.string()
        size = r.int32()
        data = b"" if size == -1 else r.take(size)
        r.end()
        if mechanism not in self._sasl_mechanisms:
            raise _violation("client selected an invalid SASL authentication mechanism")
        return SASLInitialResponse(mechanism, data)

    # -- sending ---------------------------------------------------------------------------

    def send(self, event: OutgoingEvent) -> bytes:
        """The bytes of one outgoing message, checked against the state it is sent in."""
        kind = type(event)
        encoder = _ENCODERS.get(kind)
        if encoder is None:
            raise LocalProtocolError(f"cannot send {kind.__name__}")
        state = self._state
        if kind in _CHANGES_STATE:
            trigger = self._send_trigger(event)
            if (state, trigger) not in _TRANSITIONS:
                raise LocalProtocolError(f"cannot {trigger} in state {state.name}")
        elif kind in _SENDABLE[state]:
            trigger = None
        else:
            raise LocalProtocolError(f"cannot send {kind.__name__} in state {state.name}")
        if (
            isinstance(event, BackendKeyData)
            and self._protocol_minor < 2
            and len(event.secret_key) != 4
        ):
            raise LocalProtocolError("protocol 3.0 takes a 4-byte cancel secret key")
        try:
            data = encoder(event)
        except (struct.error, TypeError, ValueError, OverflowError) as exc:
            raise LocalProtocolError(f"cannot encode {kind.__name__}: {exc}") from exc
        if trigger is not None:
            self._move(trigger)
            self._after_send(event)
        elif isinstance(event, NegotiateProtocolVersion):
            self._protocol_minor = min(self._protocol_minor, event.newest_minor)
        return data

    def _send_trigger(self, event: OutgoingEvent) -> str:
        name = type(event).__name__
        if not isinstance(event, ErrorResponse):
            return f"send {name}"
        fatal = event.severity in ("FATAL", "PANIC")
        if fatal or self._state not in (State.READY, State.SKIP_TO_SYNC, State.COPY_IN):
            return "send fatal ErrorResponse"  # before the query phase, any error is fatal
        if self._extended and self._state is not State.SKIP_TO_SYNC:
            return "send ErrorResponse in extended query"
        return "send ErrorResponse"

    def _after_send(self, event: OutgoingEvent) -> None:
        if isinstance(event, AuthenticationSASL):
            self._sasl_mechanisms = tuple(event.mechanisms)
        elif isinstance(event, SSLResponse):
            self._ssl_done, self._gss_done = True, self._gss_done or event.accept
            if event.accept and self._buffer:
                self._fail(_violation("received unencrypted data after SSL request"))
        elif isinstance(event, GSSENCResponse):
            self._gss_done, self._ssl_done = True, self._ssl_done or event.accept
            if event.accept and self._buffer:
                self._fail(_violation("received unencrypted data after GSSAPI encryption request"))


def _parse_password(r: _Reader) -> PasswordMessage:
    password = r.string()
    r.end()
    return PasswordMessage(password)
