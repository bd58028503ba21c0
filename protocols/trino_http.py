"""Trino client REST protocol (v1), server side, sans-IO over the HTTP/1.1 reader.

Bytes in -> events (`SubmitStatement`, `FetchResults`, ...); events out (`QueryResults`, ...)
-> bytes. No sockets and no Trio: the trinoHttp frontend driver owns the I/O, this module
owns HTTP framing, routing, header parsing and the size caps. Wire reference:
https://trino.io/docs/current/develop/client-protocol.html
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs
import orjson

from .common import NEED_DATA, LocalProtocolError, NeedData, ProtocolError, transition
from .http1 import END, HttpError, Message, MessageReader, encode_response

__all__ = [
    "NEED_DATA", "CancelStatement", "ClientSession", "ConnectionClosed", "EncodedResults",
    "FetchResults",
    "GetQueryInfo", "GetServerInfo", "JsonResponse", "LocalProtocolError", "NoContent",
    "ProtocolError", "QueryResults", "RemoteProtocolError", "SessionUpdate", "SubmitStatement",
    "TextResponse", "TrinoHttpConnection", "encode_results", "parse_client_session",
    "parse_data_size", "parse_duration",
]  # fmt: skip

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 1024 * 1024
MAX_WAIT_SECONDS = 60.0


class RemoteProtocolError(ProtocolError):
    """The peer broke HTTP or the Trino protocol; carries the response to send back."""

    def __init__(self, status_code: int, message: str, headers: Sequence[tuple[str, str]] = ()):
        super().__init__(f"{status_code} {message}")
        self.status_code = status_code
        self.message = message
        self.headers = tuple(headers)


# --- events -------------------------------------------------------------------------------

Stage: TypeAlias = Literal["queued", "executing"]


@attrs.frozen
class ClientSession:
    """Client settings from the `X-Trino-*` (or legacy `X-Presto-*`) request headers."""

    user: str | None = None
    original_user: str | None = None
    catalog: str | None = None
    schema: str | None = None
    path: str | None = None
    source: str | None = None
    client_tags: tuple[str, ...] = ()
    session_properties: Mapping[str, str] = attrs.field(factory=dict)
    client_info: str | None = None
    client_capabilities: tuple[str, ...] = ()
    time_zone: str | None = None
    language: str | None = None
    trace_token: str | None = None
    transaction_id: str | None = None  # None also when the client sent "NONE"
    prepared_statements: Mapping[str, str] = attrs.field(factory=dict)
    extra_credentials: Mapping[str, str] = attrs.field(factory=dict)
    roles: str | None = None
    resource_estimates: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)  # all, names lower-cased


@attrs.frozen
class SubmitStatement:
    """`POST /v1/statement`: start a query."""

    sql: str
    session: ClientSession
    keep_alive: bool = True


@attrs.frozen
class FetchResults:
    """`GET nextUri`: the next page; `max_wait` bounds a long poll (capped at 60 s)."""

    query_id: str
    slug: str
    token: int
    stage: Stage
    max_wait: float | None = None
    target_result_size: int | None = None


@attrs.frozen
class CancelStatement:
    """`DELETE nextUri` (or the token-less executing URI): cancel the query."""

    query_id: str
    slug: str
    token: int | None
    stage: Stage


@attrs.frozen
class GetQueryInfo:
    query_id: str


@attrs.frozen
class GetServerInfo:
    pass


@attrs.frozen
class ConnectionClosed:
    """The peer closed the connection cleanly between requests."""


Event: TypeAlias = (
    SubmitStatement | FetchResults | CancelStatement | GetQueryInfo | GetServerInfo
    | ConnectionClosed
)  # fmt: skip


@attrs.frozen
class SessionUpdate:
    """Session changes the client must apply, sent as `X-Trino-Set-*` response headers."""

    set_catalog: str | None = None
    set_schema: str | None = None
    set_path: str | None = None
    set_session: Mapping[str, str] = attrs.field(factory=dict)
    clear_session: tuple[str, ...] = ()
    added_prepare: Mapping[str, str] = attrs.field(factory=dict)
    deallocated_prepare: tuple[str, ...] = ()
    started_transaction_id: str | None = None
    clear_transaction_id: bool = False
    set_role: Mapping[str, str] = attrs.field(factory=dict)  # catalog -> role spec
    set_authorization_user: str | None = None
    reset_authorization_user: bool = False

    def headers(self) -> list[tuple[str, str]]:
        """One header per entry, values URL-encoded the way Trino's URLEncoder does."""
        q = urllib.parse.quote_plus
        out: list[tuple[str, str]] = []
        for name, value in (
            ("Catalog", self.set_catalog), ("Schema", self.set_schema), ("Path", self.set_path),
            ("Authorization-User", self.set_authorization_user),
        ):  # fmt: skip
            if value is not None:
                out.append((f"X-Trino-Set-{name}", value))
        out += [("X-Trino-Set-Session", f"{k}={q(v)}") for k, v in self.set_session.items()]
        out += [("X-Trino-Clear-Session", k) for k in self.clear_session]
        out += [("X-Trino-Added-Prepare", f"{q(k)}={q(v)}") for k, v in self.added_prepare.items()]
        out += [("X-Trino-Deallocated-Prepare", q(k)) for k in self.deallocated_prepare]
        if self.started_transaction_id is not None:
            out.append(("X-Trino-Started-Transaction-Id", self.started_transaction_id))
        if self.clear_transaction_id:
            out.append(("X-Trino-Clear-Transaction-Id", "true"))
        out += [("X-Trino-Set-Role", f"{k}={q(v)}") for k, v in self.set_role.items()]
        if self.reset_authorization_user:
            out.append(("X-Trino-Reset-Authorization-User", "true"))
        return out


@attrs.frozen
class QueryResults:
    """One page of a statement: HTTP 200 with Trino's QueryResults JSON.

    `data_json` is an already-encoded JSON array of rows, spliced in verbatim: pages can be
    large, so they are never decoded or re-encoded here.
    """

    id: str
    info_uri: str
    next_uri: str | None = None
    partial_cancel_uri: str | None = None
    columns: list[dict[str, Any]] | None = None
    data_json: bytes | None = None
    stats: dict[str, Any] = attrs.field(factory=dict)
    error: dict[str, Any] | None = None
    warnings: list[Any] = attrs.field(factory=list)
    update_type: str | None = None
    update_count: int | None = None
    set_headers: SessionUpdate | None = None


@attrs.frozen
class EncodedResults:
    """A QueryResults page encoded once (`encode_results`), to be sent again as is.

    Made of bytes and strings only, so a server can keep many (a retried last page)
    without the garbage collector walking a page's dicts and lists each pass.
    """

    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def encode_results(page: QueryResults) -> EncodedResults:
    extra = tuple(page.set_headers.headers()) if page.set_headers else ()
    return EncodedResults(b"".join(_query_results_body(page)), extra)


@attrs.frozen
class JsonResponse:
    status: int
    body: object
    headers: Sequence[tuple[str, str]] = ()


@attrs.frozen
class TextResponse:
    status: int
    text: str
    headers: Sequence[tuple[str, str]] = ()


@attrs.frozen
class NoContent:
    """204, the answer to a DELETE."""

    headers: Sequence[tuple[str, str]] = ()


OutgoingEvent: TypeAlias = QueryResults | EncodedResults | JsonResponse | TextResponse | NoContent

# --- durations and data sizes (airlift syntax) --------------------------------------------

_NUMBER_UNIT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\s*", re.ASCII)
_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BYTES = {u: 1024**i for i, u in enumerate(("B", "kB", "MB", "GB", "TB", "PB"))}


def _number_unit(text: str, units: Mapping[str, float | int], what: str) -> float:
    match = _NUMBER_UNIT.fullmatch(text)
    if match is None or match[2] not in units:
        raise ValueError(f"invalid {what}: {text[:64]!r}")
    value = float(match[1]) * units[match[2]]
    if not math.isfinite(value):
        raise ValueError(f"{what} out of range: {text[:64]!r}")
    return value


def parse_duration(text: str) -> float:
    """Trino duration ("200ms", "1.5s", "2m") -> seconds."""
    return _number_unit(text, _SECONDS, "duration")


def parse_data_size(text: str) -> int:
    """Trino data size ("500B", "16kB", "1MB"; powers of 1024) -> bytes."""
    size = int(_number_unit(text, _BYTES, "data size"))
    if size >= 2**63:
        raise ValueError(f"data size out of range: {text[:64]!r}")
    return size


# --- session parsing ----------------------------------------------------------------------


#: Header name prefixes (lower-cased) with their display form; the first wins.
_PREFIXES = (("x-trino-", "X-Trino-"), ("x-presto-", "X-Presto-"))

#: {name after the prefix, lower-cased: (display header name, value)}
_Found: TypeAlias = dict[str, tuple[str, str]]


def _client_headers(headers: Mapping[str, str]) -> _Found:
    """The `X-Trino-*` and legacy `X-Presto-*` headers in one pass over the request's
    few headers (instead of two lookups for each of the eighteen names a session has);
    `X-Trino-` wins where a client sent both."""
    found: _Found = {}
    for key, value in headers.items():
        if key.startswith("x-"):
            for lower, display in _PREFIXES:
                if key.startswith(lower):
                    name = key[len(lower) :]
                    if lower == "x-trino-" or name not in found:
                        found[name] = (display + _title(name), value)
                    break
    return found


@functools.cache
def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _pairs(header: str, raw: str, *, decode_names: bool = False) -> dict[str, str]:
    """`a=x,b=y` (repeats already joined by ","), values URL-decoded as Trino does."""
    result: dict[str, str] = {}
    for item in _items(raw):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise RemoteProtocolError(400, f"Invalid {header} header: {item[:200]!r}")
        key = urllib.parse.unquote_plus(key) if decode_names else key
        result[key] = urllib.parse.unquote_plus(value.strip())
    return result


def _basic_auth_user(value: str | None) -> str | None:
    scheme, _, token = (value or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError covers UnicodeDecodeError, non-ASCII
        return None
    return decoded.partition(":")[0] or None


#: Session headers by name after the prefix: (ClientSession field, how its value reads).
_SINGLE, _LIST, _PAIRS, _NAMED_PAIRS = range(4)
_SESSION_FIELDS = {
    "user": ("user", _SINGLE), "original-user": ("original_user", _SINGLE),
    "catalog": ("catalog", _SINGLE), "schema": ("schema", _SINGLE),
    "path": ("path", _SINGLE), "source": ("source", _SINGLE),
    "client-tags": ("client_tags", _LIST), "session": ("session_properties", _PAIRS),
    "client-info": ("client_info", _SINGLE),
    "client-capabilities": ("client_capabilities", _LIST),
    "time-zone": ("time_zone", _SINGLE), "language": ("language", _SINGLE),
    "trace-token": ("trace_token", _SINGLE), "transaction-id": ("transaction_id", _SINGLE),
    "prepared-statement": ("prepared_statements", _NAMED_PAIRS),
    "extra-credential": ("extra_credentials", _PAIRS), "role": ("roles", _SINGLE),
    "resource-estimate": ("resource_estimates", _PAIRS),
}  # fmt: skip


def parse_client_session(headers: Mapping[str, str]) -> ClientSession:
    """Headers (lower-cased names) -> ClientSession; a malformed list header -> 400.
    Only the headers the client sent are read: most send two or three of eighteen."""
    fields: dict[str, Any] = {}
    for name, (header, raw) in _client_headers(headers).items():
        known = _SESSION_FIELDS.get(name)
        if known is None:
            continue
        field, kind = known
        if kind is _SINGLE:
            fields[field] = raw.strip() or None
        elif kind is _LIST:
            fields[field] = tuple(_items(raw))
        else:
            fields[field] = _pairs(header, raw, decode_names=kind is _NAMED_PAIRS)
    if (fields.get("transaction_id") or "NONE").upper() == "NONE":
        fields.pop("transaction_id", None)
    if fields.get("user") is None:
        fields["user"] = _basic_auth_user(headers.get("authorization"))
    return ClientSession(headers=headers, **fields)


# --- request routing ----------------------------------------------------------------------


@attrs.frozen
class _Request:
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    keep_alive: bool


def _param(req: _Request, name: str, parse: Callable[[str], Any]) -> Any:
    raw = req.query.get(name)
    if raw is None:
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise RemoteProtocolError(400, f"Invalid {name}: {exc}") from None


def _stage(req: _Request) -> Stage:
    return "queued" if req.params["stage"] == "queued" else "executing"


def _fetch(req: _Request) -> Event:
    return FetchResults(
        query_id=req.params["query_id"],
        slug=req.params["slug"],
        token=int(req.params["token"]),
        stage=_stage(req),
        max_wait=_param(req, "maxWait", lambda s: min(parse_duration(s), MAX_WAIT_SECONDS)),
        target_result_size=_param(req, "targetResultSize", parse_data_size),
    )


def _cancel(req: _Request) -> Event:
    token = req.params.get("token")
    token_value = None if token is None else int(token)
    return CancelStatement(req.params["query_id"], req.params["slug"], token_value, _stage(req))


def _submit(req: _Request) -> Event:
    # The SQL arrives with the body; it is filled in at end of message.
    return SubmitStatement("", parse_client_session(req.headers), req.keep_alive)


_Handler: TypeAlias = Callable[[_Request], Event]
_ID, _SLUG, _TOK = r"(?P<query_id>[A-Za-z0-9_]+)", r"(?P<slug>[A-Za-z0-9]+)", r"(?P<token>\d{1,19})"
_STATEMENT = r"/v1/statement/(?P<stage>queued|executing)"
_ROUTE_TABLE: tuple[tuple[str, dict[str, _Handler]], ...] = (
    (r"/v1/statement", {"POST": _submit}),
    (rf"{_STATEMENT}/{_ID}/{_SLUG}/{_TOK}", {"GET": _fetch, "DELETE": _cancel}),
    (rf"/v1/statement/(?P<stage>executing)/{_ID}/{_SLUG}", {"DELETE": _cancel}),
    (rf"/v1/query/{_ID}", {"GET": lambda r: GetQueryInfo(r.params["query_id"])}),
    (r"/v1/info", {"GET": lambda r: GetServerInfo()}),
)
_ROUTES = tuple((re.compile(pattern, re.ASCII), methods) for pattern, methods in _ROUTE_TABLE)


def _route(method: str, target: str) -> tuple[_Handler, dict[str, str], str]:
    """(handler, path params, query string) for a request target, else 404 / 405."""
    path, _, query = target.partition("?")
    if not path.startswith("/"):  # absolute-form, as sent through some HTTP proxies
        try:
            split = urllib.parse.urlsplit(target)
        except ValueError:
            raise RemoteProtocolError(404, "Not Found") from None
        path, query = split.path, split.query
    for pattern, methods in _ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        params = match.groupdict()
        if int(params.get("token") or 0) >= 2**62:
            break
        if method not in methods:
            allow = [("Allow", ", ".join(methods))]
            raise RemoteProtocolError(405, f"Method {method[:20]} not allowed", allow)
        return methods[method], params, query
    raise RemoteProtocolError(404, f"Not Found: {path[:200]}")


# --- response encoding --------------------------------------------------------------------


def _dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the standard encoder has no limit
        return json.dumps(value, separators=(",", ":")).encode()


def _query_results_body(r: QueryResults) -> list[bytes]:
    """Body chunks, joined once with the head: `data_json` is never copied twice. The
    members before the rows and those after are each encoded at once, in Trino's order."""
    before: dict[str, Any] = {"id": r.id, "infoUri": r.info_uri}
    for key, value in (
        ("partialCancelUri", r.partial_cancel_uri), ("nextUri", r.next_uri),
        ("columns", r.columns),
    ):  # fmt: skip
        if value is not None:
            before[key] = value
    after: dict[str, Any] = {"stats": r.stats}
    for name, member in (
        ("error", r.error), ("warnings", r.warnings), ("updateType", r.update_type),
        ("updateCount", r.update_count),
    ):  # fmt: skip
        if member is not None:
            after[name] = member
    parts = [_dumps(before)[:-1]]
    if r.data_json is not None:
        parts += (b',"data":', r.data_json)
    parts += (b",", _dumps(after)[1:])
    return parts


_JSON, _TEXT = "application/json", "text/plain; charset=utf-8"
_PAGE_HEAD = f"HTTP/1.1 200 OK\r\nContent-Type: {_JSON}\r\nContent-Length: ".encode()


def _encode(event: OutgoingEvent) -> tuple[int, list[tuple[str, str]], list[bytes]]:
    """(status, headers, body chunks) for an outgoing event."""
    if isinstance(event, QueryResults):
        extra = event.set_headers.headers() if event.set_headers else []
        return 200, [("Content-Type", _JSON), *extra], _query_results_body(event)
    if isinstance(event, EncodedResults):
        return 200, [("Content-Type", _JSON), *event.headers], [event.body]
    if isinstance(event, NoContent):
        return 204, list(event.headers), []
    if isinstance(event, JsonResponse):
        status, ctype, body = event.status, _JSON, _dumps(event.body)
    elif isinstance(event, TextResponse):
        status, ctype, body = event.status, _TEXT, event.text.encode("utf-8", "replace")
    else:
        raise LocalProtocolError(f"cannot send {type(event).__name__}")
    if not 200 <= status <= 599 or status in (204, 304):
        raise LocalProtocolError(f"status {status} cannot carry a body")
    return status, [("Content-Type", ctype), *event.headers], [body]


# --- the connection -----------------------------------------------------------------------


class _State(enum.Enum):
    IDLE = "idle"  # waiting for the next whole request
    SERVING = "serving"  # event handed out, waiting for our response
    CLOSED = "closed"  # no more requests on this connection
    ERROR = "error"  # protocol broken (peer, or a failed send); only error_response() is left

    __hash__ = object.__hash__  # members are singletons: a C hash for each transition lookup


_S = _State
_TRANSITIONS: dict[tuple[_State, str], _State] = {
    (_S.IDLE, "request"): _S.SERVING,
    (_S.IDLE, "eof"): _S.CLOSED,
    (_S.SERVING, "respond"): _S.IDLE,
    (_S.SERVING, "respond_and_close"): _S.CLOSED,
    (_S.IDLE, "remote_error"): _S.ERROR,
    (_S.SERVING, "send_failed"): _S.ERROR,
    **{(s, "error_response"): _S.CLOSED for s in (_S.IDLE, _S.SERVING, _S.ERROR)},
}


class TrinoHttpConnection:
    """Server side of one client connection: keep-alive, pipelining, bounded buffers.

    Memory stays under `max_buffered_bytes` whatever the peer sends: input beyond it is
    dropped and the connection fails (413 / 431) once parsing reaches the gap.
    """

    def __init__(
        self,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self._reader = MessageReader(
            response=False, max_head_bytes=max_header_bytes, max_body_bytes=max_body_bytes
        )
        self._state = _State.IDLE
        self._error: ProtocolError | None = None  # sticky: raised again by next_event()
        self._keep_alive = True
        self._request_headers: dict[str, str] = {}

    # -- state -----------------------------------------------------------------------------

    def _move(self, trigger: str) -> None:
        self._state = transition(_TRANSITIONS, self._state, trigger)

    def _fail(self, exc: RemoteProtocolError) -> RemoteProtocolError:
        self._move("remote_error")
        self._error = exc
        return exc

    @property
    def peer_closed(self) -> bool:
        """EOF was fed: a client gone while its request is served (a long poll) shows here."""
        return self._reader.eof

    @property
    def should_close(self) -> bool:
        """Close the connection after the current response (or now, if none is due)."""
        return self._state in (_State.CLOSED, _State.ERROR) or not self._keep_alive

    @property
    def request_headers(self) -> Mapping[str, str]:
        """Lower-cased headers of the request being served (e.g. auth on nextUri polls)."""
        return self._request_headers

    @property
    def buffered_bytes(self) -> int:
        return self._reader.buffered_bytes

    @property
    def max_buffered_bytes(self) -> int:
        """Hard bound on `buffered_bytes`, for sizing and for tests."""
        return self._reader.max_buffered_bytes

    # -- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; b"" means EOF. Never parses, never raises for input."""
        if data and self._reader.eof:
            raise LocalProtocolError("data received after EOF")
        if self._state not in (_State.CLOSED, _State.ERROR) or not data:
            self._reader.feed(data)

    def next_event(self) -> Event | NeedData:
        """The next request event, `NEED_DATA`, or RemoteProtocolError (then send
        `error_response(exc)` and close)."""
        if self._error is not None:
            raise self._error
        if self._state is _State.CLOSED:
            return ConnectionClosed()
        if self._state is _State.SERVING:
            return NEED_DATA
        try:
            message = self._reader.next_message()
            if message is NEED_DATA:
                return NEED_DATA
            if message is END:
                self._move("eof")
                return ConnectionClosed()
            assert isinstance(message, Message)
            return self._request(message)
        except HttpError as exc:
            raise self._fail(RemoteProtocolError(exc.status, exc.message)) from None
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None

    def _request(self, message: Message) -> Event:
        method, target, _ = message.start
        headers = message.headers
        self._keep_alive = message.keep_alive
        self._request_headers = headers
        handler, params, query = _route(method, target)
        qs = dict(urllib.parse.parse_qsl(query, keep_blank_values=True)) if query else {}
        event = handler(_Request(params, qs, headers, self._keep_alive))
        if isinstance(event, SubmitStatement):
            if not message.body:
                raise RemoteProtocolError(400, "SQL statement is empty")
            try:
                sql = message.body.decode("utf-8")
            except UnicodeDecodeError:
                raise RemoteProtocolError(400, "SQL statement is not valid UTF-8") from None
            event = SubmitStatement(sql, event.session, event.keep_alive)
        self._move("request")
        return event

    # -- sending ---------------------------------------------------------------------------

    def send(self, event: OutgoingEvent) -> bytes:
        """The complete response to the request being served, as bytes to write."""
        if self._state is not _State.SERVING:
            raise LocalProtocolError(f"no request to respond to in state {self._state.name}")
        if type(event) is EncodedResults and not event.headers and self._keep_alive:
            # Most answers: a page and nothing else, so no header needs checking.
            self._move("respond")
            return b"%s%d\r\n\r\n%s" % (_PAGE_HEAD, len(event.body), event.body)
        status, headers, body = _encode(event)
        if not self._keep_alive:
            headers.append(("Connection", "close"))
        try:
            data = encode_response(status, headers, body)
        except ValueError as exc:
            self._move("send_failed")
            self._error = LocalProtocolError(f"cannot send response: {exc}")
            raise self._error from exc
        self._move("respond" if self._keep_alive else "respond_and_close")
        return data

    def error_response(self, exc: RemoteProtocolError) -> bytes:
        """The plain-text response `exc` describes, with `Connection: close`; the
        connection is finished after it."""
        for name, value in exc.headers:
            if any(c in name + value for c in "\r\n\0"):
                raise LocalProtocolError(f"invalid header {name!r}")
        self._move("error_response")
        body = exc.message.encode("utf-8", "replace")
        headers = [("Content-Type", _TEXT), ("Connection", "close"), *exc.headers]
        return encode_response(exc.status_code, headers, [body])
