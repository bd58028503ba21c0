"""The PostgreSQL wire machine without sockets: bytes in -> events, events in -> bytes.

Input bytes are built by hand from the protocol chapter's "Message Formats", or were recorded
from psql and psycopg (libpq 18); the live-client tests at the end re-record them through a
throwaway listener in this process.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qflux.protocols import pgwire as pg

# --- helpers ------------------------------------------------------------------------------


def i16(n: int) -> bytes:
    return struct.pack(">h", n)


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


def i32(n: int) -> bytes:
    return struct.pack(">i", n)


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def cstr(text: str | bytes) -> bytes:
    return (text.encode() if isinstance(text, str) else text) + b"\0"


def msg(kind: bytes, body: bytes = b"") -> bytes:
    """A typed message: Byte1 type, Int32 length (counting itself), body."""
    return kind + i32(len(body) + 4) + body


def packet(body: bytes) -> bytes:
    """A startup-phase packet: Int32 length (counting itself), body; no type byte."""
    return i32(len(body) + 4) + body


def startup(params: dict[str, str] | None = None, minor: int = 0, major: int = 3) -> bytes:
    pairs = params if params is not None else {"user": "alice", "database": "db"}
    body = b"".join(cstr(k) + cstr(v) for k, v in pairs.items()) + b"\0"
    return packet(u32(major << 16 | minor) + body)


SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"  # 8, 80877103
GSSENC_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x30"  # 8, 80877104
SYNC, FLUSH, TERMINATE, COPY_DONE = msg(b"S"), msg(b"H"), msg(b"X"), msg(b"c")


def query(sql: str) -> bytes:
    return msg(b"Q", cstr(sql))


def parse(name: str, sql: str, oids: Sequence[int] = ()) -> bytes:
    return msg(b"P", cstr(name) + cstr(sql) + u16(len(oids)) + b"".join(map(u32, oids)))


def bind(
    portal: str = "",
    statement: str = "",
    formats: Sequence[int] = (),
    params: Sequence[bytes | None] = (),
    results: Sequence[int] = (),
) -> bytes:
    body = cstr(portal) + cstr(statement) + u16(len(formats)) + b"".join(map(i16, formats))
    body += u16(len(params))
    for value in params:
        body += i32(-1) if value is None else i32(len(value)) + value
    return msg(b"B", body + u16(len(results)) + b"".join(map(i16, results)))


def describe(kind: bytes = b"P", name: str = "") -> bytes:
    return msg(b"D", kind + cstr(name))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return msg(b"E", cstr(portal) + i32(max_rows))


def close(kind: bytes = b"S", name: str = "") -> bytes:
    return msg(b"C", kind + cstr(name))


def copy_data(data: bytes) -> bytes:
    return msg(b"d", data)


def drain(conn: pg.PgServerConnection, data: bytes = b"") -> list[Any]:
    """Feed `data`, then every event until NEED_DATA (or ConnectionClosed)."""
    if data:
        conn.receive_data(data)
    out: list[Any] = []
    while (event := conn.next_event()) is not pg.NEED_DATA:
        out.append(event)
        if isinstance(event, pg.ConnectionClosed):
            break
    return out


def ready(**kwargs: int) -> pg.PgServerConnection:
    """A connection in the query phase."""
    conn = pg.PgServerConnection(**kwargs)
    assert drain(conn, startup()) == [
        pg.StartupMessage((3, 0), {"user": "alice", "database": "db"})
    ]
    conn.send(pg.AuthenticationOk())
    return conn


def error_of(conn: pg.PgServerConnection, data: bytes) -> pg.RemoteProtocolError:
    conn.receive_data(data)
    with pytest.raises(pg.RemoteProtocolError) as info:
        while conn.next_event() is not pg.NEED_DATA:
            pass
    assert conn.state is pg.State.ERROR
    return info.value


def only_event(data: bytes) -> Any:
    conn = ready()
    events = drain(conn, data)
    assert len(events) == 1, events
    return events[0]


# --- startup phase ------------------------------------------------------------------------


def test_startup_message() -> None:
    conn = pg.PgServerConnection()
    assert conn.state is pg.State.STARTUP
    params = {"user": "alice", "database": "shop", "application_name": "psql", "options": ""}
    [event] = drain(conn, startup(params))
    assert event == pg.StartupMessage((3, 0), params, {})
    assert (event.user, event.database, event.requested_minor) == ("alice", "shop", 0)
    assert event.negotiation() is None
    assert conn.state is pg.State.AUTHENTICATING
    assert conn.next_event() is pg.NEED_DATA  # our turn


def test_database_defaults_to_user() -> None:
    [event] = drain(pg.PgServerConnection(), startup({"user": "bob"}))
    assert event.database == "bob"


def test_psql_recorded_session() -> None:
    """Recorded from psql 15 (libpq, sslmode=prefer, PGPASSWORD=pw, PGAPPNAME=cap)."""
    recorded = (
        b"\x00\x00\x00\x08\x04\xd2\x16/"
        b"\x00\x00\x005\x00\x03\x00\x00user\x00alice\x00database\x00db\x00"
        b"application_name\x00cap\x00\x00"
        b"p\x00\x00\x00\x07pw\x00"
        b"Q\x00\x00\x00\rselect 1\x00"
        b"X\x00\x00\x00\x04"
    )
    conn = pg.PgServerConnection()
    assert drain(conn, recorded) == [pg.SSLRequest()]
    assert conn.send(pg.SSLResponse(False)) == b"N"
    assert drain(conn) == [
        pg.StartupMessage((3, 0), {"user": "alice", "database": "db", "application_name": "cap"})
    ]
    assert conn.send(pg.AuthenticationCleartextPassword()) == b"R\0\0\0\x08\0\0\0\x03"
    assert drain(conn) == [pg.PasswordMessage("pw")]
    conn.send(pg.AuthenticationOk())
    assert drain(conn) == [pg.Query("select 1"), pg.Terminate(), pg.ConnectionClosed()]
    assert conn.state is pg.State.CLOSED


def test_ssl_request_accepted_then_startup() -> None:
    conn = pg.PgServerConnection()
    assert drain(conn, SSL_REQUEST) == [pg.SSLRequest()]
    assert conn.state is pg.State.SSL_RESPONSE
    assert conn.next_event() is pg.NEED_DATA
    assert conn.send(pg.SSLResponse(True)) == b"S"
    assert conn.state is pg.State.STARTUP
    # the driver now runs TLS and feeds the decrypted bytes
    assert [type(e) for e in drain(conn, startup())] == [pg.StartupMessage]


def test_gssenc_request_refused() -> None:
    conn = pg.PgServerConnection()
    assert drain(conn, GSSENC_REQUEST) == [pg.GSSENCRequest()]
    assert conn.send(pg.GSSENCResponse(False)) == b"N"
    # a client may then try SSL, since GSS was refused
    assert drain(conn, SSL_REQUEST) == [pg.SSLRequest()]
    assert conn.send(pg.SSLResponse(False)) == b"N"
    assert [type(e) for e in drain(conn, startup())] == [pg.StartupMessage]


def test_gssenc_after_refused_ssl_is_allowed() -> None:
    conn = pg.PgServerConnection()
    drain(conn, SSL_REQUEST)
    conn.send(pg.SSLResponse(False))
    assert drain(conn, GSSENC_REQUEST) == [pg.GSSENCRequest()]


@pytest.mark.parametrize(
    ("first", "accept", "second"),
    [
        (SSL_REQUEST, True, SSL_REQUEST),
        (SSL_REQUEST, False, SSL_REQUEST),
        (SSL_REQUEST, True, GSSENC_REQUEST),  # GSS only after SSL was refused
        (GSSENC_REQUEST, False, GSSENC_REQUEST),
    ],
)
def test_repeated_negotiation_is_refused(first: bytes, accept: bool, second: bytes) -> None:
    conn = pg.PgServerConnection()
    drain(conn, first)
    reply = pg.SSLResponse(accept) if first == SSL_REQUEST else pg.GSSENCResponse(accept)
    conn.send(reply)
    exc = error_of(conn, second)
    assert exc.sqlstate == "0A000"
    assert "unsupported frontend protocol 1234.5679" in exc.message or "1234.5680" in exc.message


def test_unencrypted_data_after_ssl_request_is_refused() -> None:
    """Bytes that arrived before TLS started were not encrypted: possibly injected."""
    conn = pg.PgServerConnection()
    conn.receive_data(SSL_REQUEST + startup())
    assert conn.next_event() == pg.SSLRequest()
    assert conn.send(pg.SSLResponse(True)) == b"S"
    with pytest.raises(pg.RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.sqlstate == "08P01"
    assert info.value.message == "received unencrypted data after SSL request"
    assert conn.send(info.value.error_response())[:1] == b"E"
    assert conn.state is pg.State.CLOSED


def test_unencrypted_data_is_fine_when_ssl_is_refused() -> None:
    conn = pg.PgServerConnection()
    conn.receive_data(SSL_REQUEST + startup())
    assert conn.next_event() == pg.SSLRequest()
    conn.send(pg.SSLResponse(False))
    assert isinstance(conn.next_event(), pg.StartupMessage)


@pytest.mark.parametrize("key", [b"\x01\x02\x03\x04", bytes(range(32)), bytes(256)])
def test_cancel_request(key: bytes) -> None:
    conn = pg.PgServerConnection()
    data = packet(u32(80877102) + u32(4_000_000_000) + key)
    assert drain(conn, data) == [pg.CancelRequest(4_000_000_000, key), pg.ConnectionClosed()]
    assert conn.state is pg.State.CLOSED
    assert "secret_key" not in repr(pg.CancelRequest(1, key))
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.ReadyForQuery("I"))


def test_cancel_request_exact_bytes() -> None:
    data = b"\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x30\x39\xde\xad\xbe\xef"
    assert drain(pg.PgServerConnection(), data)[0] == pg.CancelRequest(12345, b"\xde\xad\xbe\xef")


@pytest.mark.parametrize("size", [0, 3, 257])
def test_cancel_request_key_length(size: int) -> None:
    exc = error_of(pg.PgServerConnection(), packet(u32(80877102) + u32(1) + bytes(size)))
    assert exc.sqlstate == "08P01"


def test_protocol_3_2_and_protocol_options() -> None:
    params = {"user": "u", "_pq_.compression": "on", "_pq_.other": "x"}
    conn = pg.PgServerConnection()
    [event] = drain(conn, startup(params, minor=2))
    assert event.protocol == (3, 2) and event.requested_minor == 2
    assert event.parameters == {"user": "u"}  # protocol options are not run-time parameters
    assert event.protocol_options == {"_pq_.compression": "on", "_pq_.other": "x"}
    assert conn.protocol_minor == 2
    # a 3.0 server answers both; a 3.2 one that knows one option only the other
    assert event.negotiation() == pg.NegotiateProtocolVersion(0, ("_pq_.compression", "_pq_.other"))
    negotiate = event.negotiation(2, {"_pq_.compression"})
    assert negotiate == pg.NegotiateProtocolVersion(2, ("_pq_.other",))
    assert event.negotiation(2, {"_pq_.compression", "_pq_.other"}) is None
    # Int32 carries the whole version, 3 << 16 | minor, as the server sends and libpq reads it
    assert conn.send(pg.NegotiateProtocolVersion(0, ("_pq_.other",))) == (
        b"v\x00\x00\x00\x17\x00\x03\x00\x00\x00\x00\x00\x01_pq_.other\x00"
    )
    assert conn.protocol_minor == 0


def test_negotiate_protocol_version_bytes() -> None:
    conn = pg.PgServerConnection()
    drain(conn, startup({"user": "u"}, minor=5))
    assert conn.send(pg.NegotiateProtocolVersion(2)) == b"v\0\0\0\x0c\0\x03\0\x02\0\0\0\0"
    assert conn.protocol_minor == 2


def test_future_minor_is_accepted_for_negotiation() -> None:
    [event] = drain(pg.PgServerConnection(), startup({"user": "u"}, minor=9999))
    assert event.negotiation(2) == pg.NegotiateProtocolVersion(2, ())


@pytest.mark.parametrize(("major", "minor"), [(2, 0), (4, 0), (1234, 5681)])
def test_unsupported_protocol(major: int, minor: int) -> None:
    exc = error_of(pg.PgServerConnection(), startup({"user": "u"}, minor=minor, major=major))
    assert exc.sqlstate == "0A000"
    assert f"unsupported frontend protocol {major}.{minor}" in exc.message


@pytest.mark.parametrize(
    ("data", "sqlstate"),
    [
        (packet(u32(196608) + b"user\0alice\0"), "08P01"),  # no final terminator
        (packet(u32(196608) + b"user\0alice"), "08P01"),
        (packet(u32(196608) + b"user\0\0"), "08P01"),  # name without value
        (packet(u32(196608) + b"\0user\0alice\0\0"), "08P01"),  # empty name
        (packet(u32(196608)), "08P01"),
        (packet(u32(196608) + b"\0"), "28000"),  # no user
        (packet(u32(196608) + b"user\0\0\0"), "28000"),  # empty user
        (packet(u32(196608) + b"database\0db\0\0"), "28000"),
        (packet(u32(196608) + b"user\0\xff\0\0"), "22021"),
        (b"\x00\x00\x00\x07\x00\x03\x00", "08P01"),  # length below 8
        (b"\xff\xff\xff\xff", "08P01"),  # negative length
        (packet(u32(80877103) + b"x"), "0A000"),  # SSLRequest with a body
    ],
)
def test_bad_startup_packets(data: bytes, sqlstate: str) -> None:
    assert error_of(pg.PgServerConnection(), data).sqlstate == sqlstate


def test_startup_packet_cap_is_checked_from_the_length_alone() -> None:
    conn = pg.PgServerConnection(max_startup_bytes=100)
    ok = startup({"user": "u", "x": "y" * 80})
    assert len(ok) - 4 <= 100 and len(drain(conn, ok)) == 1
    exc = error_of(pg.PgServerConnection(max_startup_bytes=100), i32(105))  # 101-byte body
    assert exc.sqlstate == "54000"
    assert error_of(pg.PgServerConnection(), i32(10_005)).sqlstate == "54000"  # default 10_000


def test_eof() -> None:
    conn = pg.PgServerConnection()
    conn.receive_data(b"")
    assert conn.next_event() == pg.ConnectionClosed()
    assert conn.peer_closed
    with pytest.raises(pg.LocalProtocolError):
        conn.receive_data(b"x")

    conn = ready()
    conn.receive_data(query("select 1")[:6])
    conn.receive_data(b"")
    assert conn.next_event() == pg.ConnectionClosed()  # mid-message: nothing more will come
    assert conn.send(pg.ReadyForQuery("I"))  # the client may still be reading

    conn = pg.PgServerConnection()
    drain(conn, startup())
    conn.receive_data(b"")
    assert conn.next_event() == pg.ConnectionClosed()  # even while it is our turn


# --- authentication -----------------------------------------------------------------------


def authenticating() -> pg.PgServerConnection:
    conn = pg.PgServerConnection()
    drain(conn, startup())
    return conn


def test_cleartext_password() -> None:
    conn = authenticating()
    assert conn.send(pg.AuthenticationCleartextPassword()) == b"R\0\0\0\x08\0\0\0\x03"
    assert conn.state is pg.State.PASSWORD
    assert drain(conn, msg(b"p", cstr("s3cret"))) == [pg.PasswordMessage("s3cret")]
    assert "s3cret" not in repr(pg.PasswordMessage("s3cret"))
    assert conn.state is pg.State.AUTHENTICATING
    assert conn.send(pg.AuthenticationOk()) == b"R\0\0\0\x08\0\0\0\x00"
    assert conn.state is pg.State.READY


def test_md5_password() -> None:
    conn = authenticating()
    salt = b"\x01\x02\x03\x04"
    assert conn.send(pg.AuthenticationMD5Password(salt)) == b"R\0\0\0\x0c\0\0\0\x05" + salt
    digest = "md5" + "0" * 32
    assert drain(conn, msg(b"p", cstr(digest))) == [pg.PasswordMessage(digest)]
    with pytest.raises(pg.LocalProtocolError):
        authenticating().send(pg.AuthenticationMD5Password(b"abc"))


def test_scram_exchange() -> None:
    conn = authenticating()
    offer = pg.AuthenticationSASL(("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"))
    assert conn.send(offer) == (
        b"R\x00\x00\x00\x2a\x00\x00\x00\x0aSCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00"
    )
    assert conn.state is pg.State.SASL_INITIAL
    first = b"n,,n=,r=rOprNGfwEbeRWgbNEkqO"
    data = msg(b"p", cstr("SCRAM-SHA-256") + i32(len(first)) + first)
    assert drain(conn, data) == [pg.SASLInitialResponse("SCRAM-SHA-256", first)]
    assert conn.state is pg.State.SASL
    assert conn.send(pg.AuthenticationSASLContinue(b"r=abc")) == b"R\0\0\0\x0d\0\0\0\x0br=abc"
    final = b"c=biws,r=abc,p=xyz"
    assert drain(conn, msg(b"p", final)) == [pg.SASLResponse(final)]
    assert conn.send(pg.AuthenticationSASLFinal(b"v=xyz")) == b"R\0\0\0\x0d\0\0\0\x0cv=xyz"
    conn.send(pg.AuthenticationOk())
    assert conn.state is pg.State.READY


def test_sasl_initial_response_without_data() -> None:
    conn = authenticating()
    conn.send(pg.AuthenticationSASL(("SCRAM-SHA-256",)))
    data = msg(b"p", cstr("SCRAM-SHA-256") + i32(-1))
    assert drain(conn, data) == [pg.SASLInitialResponse("SCRAM-SHA-256", b"")]


@pytest.mark.parametrize(
    "body",
    [
        cstr("SCRAM-SHA-1") + i32(1) + b"x",  # a mechanism we did not offer
        cstr("SCRAM-SHA-256") + i32(5) + b"x",  # length past the end
        cstr("SCRAM-SHA-256") + i32(1) + b"xy",  # trailing byte
        cstr("SCRAM-SHA-256") + i32(-2),
        b"SCRAM-SHA-256",  # no NUL
    ],
)
def test_bad_sasl_initial_response(body: bytes) -> None:
    conn = authenticating()
    conn.send(pg.AuthenticationSASL(("SCRAM-SHA-256",)))
    assert error_of(conn, msg(b"p", body)).sqlstate == "08P01"


@pytest.mark.parametrize("body", [b"pw", b"pw\0x", b"p\0w\0"])
def test_bad_password_message(body: bytes) -> None:
    conn = authenticating()
    conn.send(pg.AuthenticationCleartextPassword())
    assert error_of(conn, msg(b"p", body)).message in (
        "invalid string in message",
        "invalid message format",
    )


def test_other_messages_during_authentication() -> None:
    conn = authenticating()
    conn.send(pg.AuthenticationCleartextPassword())
    exc = error_of(conn, query("select 1"))
    assert (exc.sqlstate, exc.message) == (
        "08P01",
        "expected password response, got message type 81",
    )
    conn = authenticating()
    conn.send(pg.AuthenticationSASL(("SCRAM-SHA-256",)))
    assert "expected SASL response" in error_of(conn, SYNC).message
    conn = authenticating()
    conn.send(pg.AuthenticationCleartextPassword())
    assert drain(conn, TERMINATE) == [pg.Terminate(), pg.ConnectionClosed()]


def test_auth_message_cap() -> None:
    conn = authenticating()
    conn.send(pg.AuthenticationCleartextPassword())
    assert error_of(conn, b"p" + i32(65_540)).sqlstate == "54000"


def test_auth_error_closes_the_connection() -> None:
    conn = authenticating()
    conn.send(pg.AuthenticationCleartextPassword())
    drain(conn, msg(b"p", cstr("wrong")))
    failed = pg.error("28P01", 'password authentication failed for user "alice"', "FATAL")
    assert conn.send(failed)[:1] == b"E"
    assert conn.state is pg.State.CLOSED
    assert conn.next_event() == pg.ConnectionClosed()


@pytest.mark.parametrize(
    ("before", "event"),
    [
        (b"", pg.AuthenticationOk()),
        (b"", pg.SSLResponse(False)),
        (SSL_REQUEST, pg.GSSENCResponse(False)),
        (SSL_REQUEST, pg.AuthenticationOk()),
        (startup(), pg.AuthenticationSASLContinue(b"x")),
        (startup(), pg.AuthenticationSASLFinal(b"x")),
        (startup(), pg.ReadyForQuery("I")),
        (startup(), pg.ParameterStatus("a", "b")),
        (startup(), pg.DataRows(b"")),
        (startup(), pg.SSLResponse(True)),
    ],
)
def test_events_out_of_turn(before: bytes, event: Any) -> None:
    conn = pg.PgServerConnection()
    drain(conn, before)
    with pytest.raises(pg.LocalProtocolError):
        conn.send(event)


def test_sasl_continue_needs_a_response_first() -> None:
    conn = authenticating()
    conn.send(pg.AuthenticationSASL(("SCRAM-SHA-256",)))
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.AuthenticationSASLContinue(b"x"))  # SASLInitialResponse not read yet
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.AuthenticationOk())


def test_backend_key_data_length_follows_the_protocol_version() -> None:
    conn = ready()
    assert conn.send(pg.BackendKeyData(1234, b"\xde\xad\xbe\xef")) == (
        b"K\x00\x00\x00\x0c\x00\x00\x04\xd2\xde\xad\xbe\xef"
    )
    with pytest.raises(pg.LocalProtocolError, match="4-byte"):
        conn.send(pg.BackendKeyData(1, bytes(32)))
    conn = pg.PgServerConnection()
    drain(conn, startup({"user": "u"}, minor=2))
    conn.send(pg.AuthenticationOk())
    key = bytes(range(32))
    assert conn.send(pg.BackendKeyData(7, key)) == b"K\0\0\0\x28\0\0\0\x07" + key
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.BackendKeyData(7, bytes(257)))
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.BackendKeyData(-1, bytes(4)))


# --- query phase: incoming ----------------------------------------------------------------


def test_simple_query() -> None:
    assert only_event(query("SELECT 'é'")) == pg.Query("SELECT 'é'")
    assert only_event(query("")) == pg.Query("")


def test_parse() -> None:
    event = only_event(parse("s1", "select $1, $2", (23, 4_294_967_295)))
    assert event == pg.Parse("s1", "select $1, $2", (23, 4_294_967_295))
    assert only_event(parse("", "select 1")) == pg.Parse("", "select 1", ())


def test_bind() -> None:
    data = bind("p1", "s1", (0, 1), (b"42", None), (1,))
    event = only_event(data)
    assert event == pg.Bind("p1", "s1", (0, 1), (b"42", None), (1,))
    assert [event.param_format(i) for i in range(2)] == [0, 1]
    single = only_event(bind(formats=(1,), params=(b"a", b"", b"c")))
    assert single.params == (b"a", b"", b"c")
    assert [single.param_format(i) for i in range(3)] == [1, 1, 1]
    assert only_event(bind()) == pg.Bind("", "", (), (), ())
    assert only_event(bind()).param_format(0) == 0


def test_bind_many_parameters() -> None:
    params = tuple(str(i).encode() for i in range(65_535))
    assert only_event(bind(params=params)).params == params


def test_bind_exact_bytes() -> None:
    data = (
        b"B\x00\x00\x00\x1e"  # length 30
        b"\x00stmt\x00"  # unnamed portal, statement "stmt"
        b"\x00\x01\x00\x01"  # one format code: binary
        b"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x07\xff\xff\xff\xff"  # int4 7, NULL
        b"\x00\x00"  # no result formats
    )
    assert only_event(data) == pg.Bind("", "stmt", (1,), (b"\x00\x00\x00\x07", None), ())


@pytest.mark.parametrize(
    ("data", "sqlstate", "message"),
    [
        (bind(formats=(0, 1), params=(b"a",)), "08P01", "bind message has 2 parameter formats"),
        (bind(formats=(2,), params=(b"a",)), "22023", "unsupported format code: 2"),
        (bind(results=(0, -1)), "22023", "unsupported format code: -1"),
        (
            msg(b"B", b"\0\0" + u16(0) + u16(1) + i32(-2) + u16(0)),
            "08P01",
            "invalid parameter length -2",
        ),
        (msg(b"B", b"\0\0" + u16(0) + u16(1) + i32(5) + b"ab" + u16(0)), "08P01", "insufficient"),
        (msg(b"B", b"\0\0" + u16(0) + u16(0) + u16(0) + b"!"), "08P01", "invalid message format"),
        (msg(b"B", b"\0\0" + u16(3) + i16(0)), "08P01", "insufficient data"),
        (msg(b"B", b"\0"), "08P01", "invalid string in message"),
    ],
)
def test_bad_bind(data: bytes, sqlstate: str, message: str) -> None:
    exc = error_of(ready(), data)
    assert exc.sqlstate == sqlstate
    assert message in exc.message


def test_describe_execute_close() -> None:
    assert only_event(describe(b"S", "s1")) == pg.Describe("S", "s1")
    assert only_event(describe(b"P", "")) == pg.Describe("P", "")
    assert only_event(execute("p1", 100)) == pg.Execute("p1", 100)
    assert only_event(execute("", -5)) == pg.Execute("", 0)  # the server reads <= 0 as "all"
    assert only_event(close(b"P", "p1")) == pg.Close("P", "p1")
    assert only_event(close(b"S", "")) == pg.Close("S", "")
    assert only_event(FLUSH) == pg.Flush()
    assert only_event(SYNC) == pg.Sync()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (describe(b"X", "a"), "invalid DESCRIBE message subtype 88"),
        (close(b"x", "a"), "invalid CLOSE message subtype 120"),
        (msg(b"E", cstr("") + b"\0\0"), "insufficient data left in message"),
        (msg(b"S", b"\0"), "invalid message format"),
        (msg(b"Q", b"select 1"), "invalid string in message"),
        (msg(b"Q", b"select 1\0\0"), "invalid message format"),
        (msg(b"Z", b""), "invalid frontend message type 90"),
        (msg(b"p", cstr("pw")), "invalid frontend message type 112"),  # only during auth
        (b"\x00", "invalid frontend message type 0"),  # the type byte alone is enough
    ],
)
def test_malformed_messages(data: bytes, message: str) -> None:
    exc = error_of(ready(), data)
    assert (exc.sqlstate, exc.message) == ("08P01", message)


def test_invalid_utf8() -> None:
    exc = error_of(ready(), msg(b"Q", b"select '\xc3\x28'\0"))
    assert exc.sqlstate == "22021"
    assert error_of(ready(), msg(b"P", b"\xff\0x\0" + u16(0))).sqlstate == "22021"


def test_function_call_is_not_supported() -> None:
    data = msg(b"F", u32(1) + u16(0) + u16(0) + i16(0))
    exc = error_of(ready(), data)
    assert exc.sqlstate == "0A000"


def test_terminate() -> None:
    conn = ready()
    assert drain(conn, TERMINATE + query("ignored")) == [pg.Terminate(), pg.ConnectionClosed()]
    assert conn.state is pg.State.CLOSED
    assert conn.next_event() == pg.ConnectionClosed()
    assert conn.buffered_bytes == 0


def test_message_caps_are_checked_from_the_header_alone() -> None:
    exc = error_of(ready(max_message_bytes=1000), b"Q" + i32(1005))  # 1001-byte body
    assert exc.sqlstate == "54000"
    assert len(drain(ready(max_message_bytes=1000), query("x" * 998))) == 1  # 999 + NUL
    assert error_of(ready(), b"S" + i32(10_005)).sqlstate == "54000"  # small-message cap
    assert error_of(ready(), b"d" + i32(16 * 1024 * 1024 + 5)).sqlstate == "54000"
    assert error_of(ready(), b"Q" + i32(3)).sqlstate == "08P01"  # length counts itself
    assert error_of(ready(), b"Q" + i32(-1)).sqlstate == "08P01"


def test_remote_error_is_sticky() -> None:
    conn = ready()
    exc = error_of(conn, b"\x00")
    conn.receive_data(query("select 1"))  # ignored now
    with pytest.raises(pg.RemoteProtocolError) as again:
        conn.next_event()
    assert again.value is exc
    assert conn.buffered_bytes == 0
    reply = conn.send(exc.error_response())
    assert reply == msg(b"E", b"SFATAL\0VFATAL\0C08P01\0Minvalid frontend message type 0\0\0")
    assert conn.state is pg.State.CLOSED
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.ReadyForQuery("I"))


# --- the extended-query error rule --------------------------------------------------------


BATCH = (
    parse("", "select boom")
    + bind()
    + describe()
    + execute()
    + query("skipped too")
    + msg(b"F", b"anything")
    + SYNC
    + query("select 2")
)


def test_error_in_extended_query_discards_until_sync() -> None:
    conn = ready()
    conn.receive_data(BATCH)
    assert conn.next_event() == pg.Parse("", "select boom", ())
    conn.send(pg.error("42703", 'column "boom" does not exist', position=8))
    assert conn.state is pg.State.SKIP_TO_SYNC
    assert conn.next_event() == pg.Sync()  # Bind, Describe, Execute, Query, FunctionCall: gone
    assert conn.state is pg.State.READY
    assert conn.send(pg.ReadyForQuery("I")) == b"Z\0\0\0\x05I"
    assert drain(conn) == [pg.Query("select 2")]


def test_error_after_execute_in_the_middle_of_rows() -> None:
    conn = ready()
    conn.receive_data(parse("", "select 1") + bind() + execute() + execute() + SYNC)
    assert [conn.next_event() for _ in range(3)] == [
        pg.Parse("", "select 1", ()),
        pg.Bind("", "", (), (), ()),
        pg.Execute("", 0),
    ]
    conn.send(pg.DataRow((b"1",)))
    conn.send(pg.error("22012", "division by zero"))
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.ReadyForQuery("E"))  # not before Sync
    conn.send(pg.notice("01000", "still allowed", "WARNING"))
    assert drain(conn) == [pg.Sync()]
    conn.send(pg.ReadyForQuery("I"))


def test_discard_arrives_in_pieces() -> None:
    conn = ready()
    drain(conn, parse("", "x"))
    conn.send(pg.error("42601", "syntax error"))
    for byte in (bind(params=(b"x" * 100,)) + execute() + SYNC)[:-1]:
        assert drain(conn, bytes([byte])) == []
    assert drain(conn, SYNC[-1:]) == [pg.Sync()]


def test_flush_counts_as_extended_query() -> None:
    conn = ready()
    assert drain(conn, FLUSH) == [pg.Flush()]
    conn.send(pg.error("XX000", "failed"))
    assert conn.state is pg.State.SKIP_TO_SYNC


def test_error_in_simple_query_does_not_discard() -> None:
    conn = ready()
    drain(conn, parse("", "x") + SYNC)  # an earlier extended batch, finished
    conn.send(pg.ReadyForQuery("I"))
    conn.receive_data(query("select boom") + query("select 2"))
    assert conn.next_event() == pg.Query("select boom")
    conn.send(pg.error("42703", 'column "boom" does not exist'))
    assert conn.state is pg.State.READY
    conn.send(pg.ReadyForQuery("I"))
    assert drain(conn) == [pg.Query("select 2")]


def test_error_at_sync_does_not_discard() -> None:
    """A COMMIT failing at Sync: the batch is over, nothing is skipped."""
    conn = ready()
    drain(conn, parse("", "insert") + bind() + execute() + SYNC)
    conn.send(pg.error("40001", "could not serialize access"))
    assert conn.state is pg.State.READY
    conn.send(pg.ReadyForQuery("I"))


def test_terminate_and_eof_while_discarding() -> None:
    conn = ready()
    drain(conn, parse("", "x"))
    conn.send(pg.error("42601", "syntax error"))
    assert drain(conn, bind() + TERMINATE) == [pg.Terminate(), pg.ConnectionClosed()]
    conn = ready()
    drain(conn, parse("", "x"))
    conn.send(pg.error("42601", "syntax error"))
    conn.receive_data(bind())
    conn.receive_data(b"")
    assert conn.next_event() == pg.ConnectionClosed()


def test_framing_is_still_checked_while_discarding() -> None:
    conn = ready()
    drain(conn, parse("", "x"))
    conn.send(pg.error("42601", "syntax error"))
    assert error_of(conn, bind() + b"\x01").message == "invalid frontend message type 1"
    conn = ready()
    drain(conn, parse("", "x"))
    conn.send(pg.error("42601", "syntax error"))
    assert error_of(conn, b"E" + i32(20_000)).sqlstate == "54000"


def test_fatal_error_closes() -> None:
    conn = ready()
    drain(conn, parse("", "x"))
    conn.send(pg.error("57P01", "terminating connection", "FATAL"))
    assert conn.state is pg.State.CLOSED
    assert conn.next_event() == pg.ConnectionClosed()


# --- COPY ---------------------------------------------------------------------------------


def test_copy_in() -> None:
    conn = ready()
    assert drain(conn, query("copy t from stdin")) == [pg.Query("copy t from stdin")]
    assert conn.send(pg.CopyInResponse(0, (0, 0))) == b"G\0\0\0\x0b\0\0\x02\0\0\0\0"
    assert conn.state is pg.State.COPY_IN
    data = copy_data(b"1\ta\n") + FLUSH + SYNC + copy_data(b"") + COPY_DONE + query("next")
    assert drain(conn, data) == [
        pg.CopyData(b"1\ta\n"),  # Flush and Sync are ignored during copy-in, as the server does
        pg.CopyData(b""),
        pg.CopyDone(),
        pg.Query("next"),
    ]
    assert conn.state is pg.State.READY


def test_copy_fail() -> None:
    conn = ready()
    drain(conn, query("copy t from stdin"))
    conn.send(pg.CopyInResponse(1, (1,)))
    assert drain(conn, copy_data(b"x") + msg(b"f", cstr("client gave up"))) == [
        pg.CopyData(b"x"),
        pg.CopyFail("client gave up"),
    ]
    assert conn.state is pg.State.READY


def test_other_messages_during_copy_in() -> None:
    conn = ready()
    drain(conn, query("copy t from stdin"))
    conn.send(pg.CopyInResponse(0, ()))
    exc = error_of(conn, query("select 1"))
    assert exc.message == "unexpected message type 0x51 during COPY from stdin"
    conn = ready()
    drain(conn, query("copy t from stdin"))
    conn.send(pg.CopyInResponse(0, ()))
    assert drain(conn, TERMINATE) == [pg.Terminate(), pg.ConnectionClosed()]


def test_error_during_copy_in_drops_the_rest_of_the_data() -> None:
    conn = ready()
    drain(conn, query("copy t from stdin"))
    conn.send(pg.CopyInResponse(0, ()))
    drain(conn, copy_data(b"bad row\n"))
    conn.send(pg.error("22P02", "invalid input syntax"))
    assert conn.state is pg.State.READY
    conn.send(pg.ReadyForQuery("I"))
    data = copy_data(b"more\n") + COPY_DONE + msg(b"f", cstr("x")) + query("select 1")
    assert drain(conn, data) == [pg.Query("select 1")]


def test_error_during_extended_copy_in_skips_to_sync() -> None:
    """libpq sends Parse/Bind/Describe/Execute/Sync up front, then the data, then Sync."""
    batch = parse("", "copy t from stdin") + bind() + describe() + execute() + SYNC
    conn = ready()
    conn.receive_data(batch)
    assert [type(conn.next_event()) for _ in range(4)] == [
        pg.Parse,
        pg.Bind,
        pg.Describe,
        pg.Execute,
    ]
    conn.send(pg.CopyInResponse(0, ()))
    assert drain(conn, copy_data(b"a\n")) == [pg.CopyData(b"a\n")]  # the first Sync: ignored
    conn.send(pg.error("22P02", "invalid input syntax"))
    assert conn.state is pg.State.SKIP_TO_SYNC
    assert drain(conn, copy_data(b"b\n") + COPY_DONE + SYNC) == [pg.Sync()]


def test_copy_out() -> None:
    conn = ready()
    drain(conn, query("copy t to stdout"))
    assert conn.send(pg.CopyOutResponse(0, (0, 0))) == b"H\0\0\0\x0b\0\0\x02\0\0\0\0"
    assert conn.send(pg.CopyData(b"1\ta\n")) == b"d\0\0\0\x081\ta\n"
    assert conn.send(pg.CopyDone()) == b"c\0\0\0\x04"
    assert conn.send(pg.CommandComplete("COPY 1")) == b"C\0\0\0\x0bCOPY 1\0"
    assert conn.state is pg.State.READY
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.CopyOutResponse(0, (1,)))  # a text COPY has text columns
    with pytest.raises(pg.LocalProtocolError):
        conn.send(pg.CopyOutResponse(2, ()))


# --- query phase: outgoing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (pg.ParameterStatus("client_encoding", "UTF8"), b"S\0\0\0\x19client_encoding\0UTF8\0"),
        (pg.ReadyForQuery("I"), b"Z\0\0\0\x05I"),
        (pg.ReadyForQuery("T"), b"Z\0\0\0\x05T"),
        (pg.ReadyForQuery("E"), b"Z\0\0\0\x05E"),
        (
            pg.RowDescription((pg.Field("id", type_oid=23, type_size=4),)),
            b"T\0\0\0\x1b\0\x01id\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
        ),
        (
            pg.RowDescription(
                (
                    pg.Field(
                        "n",
                        table_oid=16384,
                        column_attr=2,
                        type_oid=1043,
                        type_size=-1,
                        type_modifier=14,
                        format=1,
                    ),
                )
            ),
            b"T\0\0\0\x1a\0\x01n\0\0\0\x40\0\0\x02\0\0\x04\x13\xff\xff\0\0\0\x0e\0\x01",
        ),
        (pg.RowDescription(()), b"T\0\0\0\x06\0\0"),
        (
            pg.DataRow((b"1", None, b"")),
            b"D\0\0\0\x13\0\x03\0\0\0\x011\xff\xff\xff\xff\0\0\0\0",
        ),
        (pg.DataRow(()), b"D\0\0\0\x06\0\0"),
        (pg.CommandComplete("SELECT 1"), b"C\0\0\0\x0dSELECT 1\0"),
        (pg.CommandComplete("INSERT 0 3"), b"C\0\0\0\x0fINSERT 0 3\0"),
        (pg.EmptyQueryResponse(), b"I\0\0\0\x04"),
        (pg.ParseComplete(), b"1\0\0\0\x04"),
        (pg.BindComplete(), b"2\0\0\0\x04"),
        (pg.CloseComplete(), b"3\0\0\0\x04"),
        (pg.NoData(), b"n\0\0\0\x04"),
        (pg.PortalSuspended(), b"s\0\0\0\x04"),
        (pg.ParameterDescription((23, 25)), b"t\0\0\0\x0e\0\x02\0\0\0\x17\0\0\0\x19"),
        (pg.ParameterDescription(()), b"t\0\0\0\x06\0\0"),
        (pg.DataRows(b"D\0\0\0\x06\0\0"), b"D\0\0\0\x06\0\0"),
        (
            pg.error("42P01", 'relation "t" does not exist', position=15),
            b'E\0\0\0\x3bSERROR\0VERROR\0C42P01\0Mrelation "t" does not exist\0P15\0\0',
        ),
        (
            pg.notice("00000", "skipping", detail="d", hint="h"),
            b"N\0\0\0\x2cSNOTICE\0VNOTICE\0C00000\0Mskipping\0Dd\0Hh\0\0",
        ),
        (
            pg.ErrorResponse({"S": "ERROR", "C": "XX000", "M": "m"}),
            msg(b"E", b"SERROR\0CXX000\0Mm\0\0"),
        ),
        (pg.BackendKeyData(2**32 - 1, b"abcd"), b"K\0\0\0\x0c\xff\xff\xff\xffabcd"),
    ],
)
def test_outgoing_bytes(event: Any, expected: bytes) -> None:
    assert ready().send(event) == expected


@pytest.mark.parametrize(
    "event",
    [
        pg.CommandComplete("a\0b"),
        pg.ParameterStatus("x\0", "y"),
        pg.ErrorResponse({"": "x"}),
        pg.ErrorResponse({"MM": "x"}),
        pg.ErrorResponse({"M": "\0"}),
        pg.ReadyForQuery("X"),  # type: ignore[arg-type]
        pg.RowDescription((pg.Field("x", type_oid=23, type_size=4, format=2),)),
        pg.RowDescription((pg.Field("x", type_oid=-1, type_size=4),)),
        pg.DataRow(("text",)),  # type: ignore[arg-type]
        pg.DataRow((b"x",) * 70_000),
        pg.ParameterDescription((2**32,)),
        pg.CommandComplete("\ud800"),  # not encodable
    ],
)
def test_unencodable_events(event: Any) -> None:
    with pytest.raises(pg.LocalProtocolError):
        ready().send(event)


def test_not_an_event() -> None:
    with pytest.raises(pg.LocalProtocolError):
        ready().send(pg.Query("select 1"))  # type: ignore[arg-type]


def test_error_and_notice_constructors() -> None:
    event = pg.error("42601", "syntax error", "FATAL", detail="d", hint="h", position=3)
    assert list(event.fields.items()) == [
        ("S", "FATAL"),
        ("V", "FATAL"),
        ("C", "42601"),
        ("M", "syntax error"),
        ("D", "d"),
        ("H", "h"),
        ("P", "3"),
    ]
    assert (event.sqlstate, event.severity) == ("42601", "FATAL")
    assert pg.notice("01000", "careful", "WARNING").fields["V"] == "WARNING"
    for bad in (
        lambda: pg.error("4260", "x"),
        lambda: pg.error("42 01", "x"),
        lambda: pg.error("42601", "x", "NOTICE"),
        lambda: pg.notice("00000", "x", "ERROR"),
    ):
        with pytest.raises(pg.LocalProtocolError):
            bad()
    exc = pg.RemoteProtocolError("08P01", "invalid message format")
    assert exc.error_response() == pg.error("08P01", "invalid message format", "FATAL")
    assert str(exc) == "08P01: invalid message format"


def test_ssl_and_gss_response_bytes() -> None:
    for event, expected in ((pg.SSLResponse(True), b"S"), (pg.SSLResponse(False), b"N")):
        conn = pg.PgServerConnection()
        drain(conn, SSL_REQUEST)
        assert conn.send(event) == expected
    conn = pg.PgServerConnection()
    drain(conn, GSSENC_REQUEST)
    assert conn.send(pg.GSSENCResponse()) == b"N"


def test_field_defaults() -> None:
    field = pg.Field("x", type_oid=25, type_size=-1)
    assert (field.table_oid, field.column_attr, field.type_modifier, field.format) == (0, 0, -1, 0)


# --- encode_data_rows ---------------------------------------------------------------------


def reference_data_row(values: Sequence[bytes | None]) -> bytes:
    body = u16(len(values))
    for value in values:
        body += i32(-1) if value is None else i32(len(value)) + value
    return msg(b"D", body)


def test_encode_data_rows() -> None:
    rows = [
        (b"1", b"hello"),
        (None, b""),
        (b"x" * 5000, None),  # past the cached length prefixes
        (),
        (b"2", b"after the checked switch"),
        (bytearray(b"ba"), memoryview(b"mv")),
    ]
    assert pg.encode_data_rows(rows) == b"".join(map(reference_data_row, rows))  # type: ignore[arg-type]
    assert pg.encode_data_rows([]) == b""
    assert pg.encode_data_rows(iter([(b"a",)])) == reference_data_row((b"a",))
    wide = (b"v",) * 2000
    assert pg.encode_data_rows([wide]) == reference_data_row(wide)


def test_encode_data_rows_rejects_text() -> None:
    with pytest.raises(TypeError):
        pg.encode_data_rows([(b"ok", "not bytes")])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        pg.encode_data_rows([(None,), (b"ok", "not bytes")])  # type: ignore[list-item]


@given(
    st.lists(
        st.lists(st.none() | st.binary(max_size=20) | st.binary(min_size=1020, max_size=1030)),
        max_size=20,
    )
)
def test_encode_data_rows_matches_the_reference(rows: list[list[bytes | None]]) -> None:
    assert pg.encode_data_rows(rows) == b"".join(map(reference_data_row, rows))


# --- splitting, pipelining ----------------------------------------------------------------

SCRAM_FIRST = b"n,,n=,r=fyko+d2lbbFgONRv9qkxdawL"
SESSION = (
    SSL_REQUEST
    + startup({"user": "alice", "database": "db", "application_name": "t"})
    + msg(b"p", cstr("SCRAM-SHA-256") + i32(len(SCRAM_FIRST)) + SCRAM_FIRST)
    + msg(b"p", b"c=biws,r=fyko,p=proof")
    + query("select 1; select 2")
    + parse("s1", "select $1::int4", (23,))
    + bind("", "s1", (1,), (b"\0\0\0\x07",), (1,))
    + describe(b"P", "")
    + execute("", 10)
    + SYNC
    + parse("", "select boom")
    + bind()
    + execute()
    + SYNC
    + query("copy t from stdin")
    + copy_data(b"1\n" * 50)
    + COPY_DONE
    + close(b"S", "s1")
    + FLUSH
    + SYNC
    + TERMINATE
)


def answer(conn: pg.PgServerConnection, event: Any) -> None:
    """What a server would reply, as far as the machine's state is concerned."""
    if isinstance(event, pg.SSLRequest):
        conn.send(pg.SSLResponse(False))
    elif isinstance(event, pg.StartupMessage):
        conn.send(pg.AuthenticationSASL(("SCRAM-SHA-256",)))
    elif isinstance(event, pg.SASLInitialResponse):
        conn.send(pg.AuthenticationSASLContinue(b"r=fyko,s=salt,i=4096"))
    elif isinstance(event, pg.SASLResponse):
        conn.send(pg.AuthenticationSASLFinal(b"v=sig"))
        conn.send(pg.AuthenticationOk())
        conn.send(pg.ReadyForQuery("I"))
    elif isinstance(event, pg.Parse) and "boom" in event.sql:
        conn.send(pg.error("42703", 'column "boom" does not exist'))
    elif isinstance(event, pg.Query) and event.sql.startswith("copy"):
        conn.send(pg.CopyInResponse(0, (0,)))
    elif isinstance(event, pg.Sync):
        conn.send(pg.ReadyForQuery("I"))


EXPECTED_SESSION = [
    pg.SSLRequest(),
    pg.StartupMessage((3, 0), {"user": "alice", "database": "db", "application_name": "t"}),
    pg.SASLInitialResponse("SCRAM-SHA-256", SCRAM_FIRST),
    pg.SASLResponse(b"c=biws,r=fyko,p=proof"),
    pg.Query("select 1; select 2"),
    pg.Parse("s1", "select $1::int4", (23,)),
    pg.Bind("", "s1", (1,), (b"\0\0\0\x07",), (1,)),
    pg.Describe("P", ""),
    pg.Execute("", 10),
    pg.Sync(),
    pg.Parse("", "select boom", ()),
    pg.Sync(),  # Bind and Execute discarded after the error
    pg.Query("copy t from stdin"),
    pg.CopyData(b"1\n" * 50),
    pg.CopyDone(),
    pg.Close("S", "s1"),
    pg.Flush(),
    pg.Sync(),
    pg.Terminate(),
    pg.ConnectionClosed(),
]


def run_session(chunks: Iterator[bytes] | Sequence[bytes]) -> list[Any]:
    conn = pg.PgServerConnection()
    events: list[Any] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        while (event := conn.next_event()) is not pg.NEED_DATA:
            events.append(event)
            if isinstance(event, pg.ConnectionClosed):
                return events
            answer(conn, event)
    return events


def test_whole_session_at_once() -> None:
    assert run_session([SESSION]) == EXPECTED_SESSION


def test_session_split_at_every_byte_boundary() -> None:
    for i in range(1, len(SESSION)):
        assert run_session([SESSION[:i], SESSION[i:]]) == EXPECTED_SESSION, i


def test_session_one_byte_at_a_time() -> None:
    assert run_session(SESSION[i : i + 1] for i in range(len(SESSION))) == EXPECTED_SESSION


@given(st.lists(st.integers(min_value=0, max_value=len(SESSION)), max_size=30))
def test_session_split_anywhere(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(SESSION)]
    chunks = [SESSION[a:b] for a, b in itertools.pairwise(points) if b > a]
    assert run_session(chunks) == EXPECTED_SESSION


# --- bounded memory, fuzzing --------------------------------------------------------------


def test_unread_input_is_bounded() -> None:
    conn = ready(max_message_bytes=1000)
    limit = conn.max_buffered_bytes
    syncs = SYNC * (limit // len(SYNC) + 100)
    for start in range(0, len(syncs), 4096):
        conn.receive_data(syncs[start : start + 4096])
        assert conn.buffered_bytes <= limit
    count = 0
    with pytest.raises(pg.RemoteProtocolError) as info:
        while conn.next_event() == pg.Sync():
            count += 1
    assert info.value.sqlstate == "54000"
    assert 0 < count <= limit // len(SYNC)


def test_big_message_arriving_in_small_pieces() -> None:
    conn = ready()
    data = copy_data(b"x" * 1_000_000)
    drain(conn, query("copy t from stdin"))
    conn.send(pg.CopyInResponse(0, ()))
    for start in range(0, len(data), 1000):
        conn.receive_data(data[start : start + 1000])
        if start + 1000 < len(data):
            assert conn.next_event() is pg.NEED_DATA
    assert conn.next_event() == pg.CopyData(b"x" * 1_000_000)
    assert conn.buffered_bytes == 0


def fuzz(conn: pg.PgServerConnection, chunks: list[bytes], reply: Callable[[Any], None]) -> None:
    """Only RemoteProtocolError may escape; the buffer never outgrows its bound."""
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            assert conn.buffered_bytes <= conn.max_buffered_bytes
            while (event := conn.next_event()) is not pg.NEED_DATA:
                if isinstance(event, pg.ConnectionClosed):
                    return
                reply(event)
    except pg.RemoteProtocolError as exc:
        assert len(exc.sqlstate) == 5
        assert conn.send(exc.error_response())[:1] == b"E"
        assert conn.state is pg.State.CLOSED


FRONTEND_TYPES = st.sampled_from(list(b"QPBDECHSXdcfFpZ\x00"))
FRAMES = st.builds(
    lambda kind, body: bytes([kind]) + i32(len(body) + 4) + body,
    FRONTEND_TYPES,
    st.binary(max_size=40),
)
VALID = st.sampled_from(
    [
        query("select 1"),
        parse("", "select $1", (23,)),
        bind(params=(b"1", None)),
        describe(),
        execute(),
        close(),
        FLUSH,
        SYNC,
        copy_data(b"row"),
        COPY_DONE,
        msg(b"f", cstr("stop")),
        query("copy t from stdin"),
    ]
)
INPUT = st.lists(FRAMES | VALID | st.binary(max_size=12), max_size=25).map(b"".join)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=6))
def test_fuzz_startup(data: bytes, cuts: list[int]) -> None:
    conn = pg.PgServerConnection(max_startup_bytes=200)

    def reply(event: Any) -> None:
        if isinstance(event, pg.SSLRequest):
            conn.send(pg.SSLResponse(False))
        elif isinstance(event, pg.GSSENCRequest):
            conn.send(pg.GSSENCResponse(False))
        elif isinstance(event, pg.StartupMessage):
            conn.send(pg.AuthenticationCleartextPassword())
        elif isinstance(event, pg.PasswordMessage):
            conn.send(pg.AuthenticationOk())

    fuzz(conn, chunked(data, cuts), reply)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(INPUT, st.lists(st.integers(min_value=0), max_size=6), st.data())
def test_fuzz_query_phase(data: bytes, cuts: list[int], choices: st.DataObject) -> None:
    conn = ready(max_message_bytes=64)

    def reply(event: Any) -> None:
        action = choices.draw(st.sampled_from(["none", "error", "fatal", "copy", "ready"]))
        if action == "error" and conn.state is not pg.State.CLOSED:
            conn.send(pg.error("XX000", "failed"))
        elif action == "fatal" and conn.state is not pg.State.CLOSED:
            conn.send(pg.error("XX000", "failed", "FATAL"))
        elif action == "copy" and conn.state is pg.State.READY:
            conn.send(pg.CopyInResponse(0, ()))
        elif action == "ready" and conn.state is pg.State.READY:
            conn.send(pg.ReadyForQuery("I"))

    fuzz(conn, chunked(data, cuts), reply)
    assert conn.buffered_bytes <= conn.max_buffered_bytes


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=1, max_size=3000), max_size=40))
def test_fuzz_memory_bound(chunks: list[bytes]) -> None:
    """A peer that only sends, while nobody parses, holds at most max_buffered_bytes."""
    conn = ready(max_message_bytes=100)
    for chunk in chunks * 30:
        conn.receive_data(chunk)
        assert conn.buffered_bytes <= conn.max_buffered_bytes
    fuzz(conn, [], lambda event: None)


def test_transition_table_is_consistent() -> None:
    assert set(pg._SENDABLE) == set(pg.State)
    for (state, trigger), target in pg._TRANSITIONS.items():
        assert isinstance(state, pg.State) and isinstance(target, pg.State)
        assert trigger.startswith(("recv ", "send ", "remote error"))
        name = trigger.split()[1]
        assert trigger == "remote error" or name in pg.__all__ or name == "fatal"
    for kind in pg._ENCODERS:
        assert kind.__name__ in pg.__all__


# --- real clients -------------------------------------------------------------------------


class MiniServer:
    """A throwaway TCP listener in this process: each connection runs the machine and
    `respond(conn, event)`; the events and raw input of every connection are recorded."""

    def __init__(self, respond: Callable[[pg.PgServerConnection, Any], list[Any]]) -> None:
        self.respond = respond
        self.sessions: list[tuple[list[Any], bytearray]] = []
        self.errors: list[BaseException] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> MiniServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(10)
        self._listener.close()
        if self.errors:
            raise self.errors[0]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket) -> None:
        events: list[Any] = []
        raw = bytearray()
        self.sessions.append((events, raw))
        conn = pg.PgServerConnection()
        sock.settimeout(10)
        try:
            while True:
                event = conn.next_event()
                if event is pg.NEED_DATA:
                    data = sock.recv(65536)
                    raw += data
                    conn.receive_data(data)
                    continue
                events.append(event)
                if isinstance(event, pg.ConnectionClosed | pg.Terminate | pg.CancelRequest):
                    return
                replies = self.respond(conn, event)
                sock.sendall(b"".join(conn.send(reply) for reply in replies))
        except BaseException as exc:  # surfaced by __exit__
            self.errors.append(exc)
        finally:
            sock.close()


INT4 = pg.Field("n", type_oid=23, type_size=4)
TEXT = pg.Field("t", type_oid=25, type_size=-1)


class Backend:
    """Answers like a tiny PostgreSQL: password auth, `select` of one value, echo of $1."""

    def __init__(self, newest_minor: int = 0, key: bytes = b"\x00\x01\x02\x03") -> None:
        self.newest_minor = newest_minor
        self.key = key
        self.bound: dict[str, pg.Bind] = {}

    def __call__(self, conn: pg.PgServerConnection, event: Any) -> list[Any]:
        if isinstance(event, pg.SSLRequest):
            return [pg.SSLResponse(False)]
        if isinstance(event, pg.GSSENCRequest):
            return [pg.GSSENCResponse(False)]
        if isinstance(event, pg.StartupMessage):
            negotiate = event.negotiation(self.newest_minor)
            return [*([negotiate] if negotiate else []), pg.AuthenticationCleartextPassword()]
        if isinstance(event, pg.PasswordMessage):
            if event.password != "pw":
                return [pg.error("28P01", "password authentication failed", "FATAL")]
            return [
                pg.AuthenticationOk(),
                *(
                    pg.ParameterStatus(name, value)
                    for name, value in (
                        ("server_version", "16.0"),
                        ("server_encoding", "UTF8"),
                        ("client_encoding", "UTF8"),
                        ("standard_conforming_strings", "on"),
                        ("DateStyle", "ISO, MDY"),
                        ("integer_datetimes", "on"),
                    )
                ),
                pg.BackendKeyData(4242, self.key),
                pg.ReadyForQuery("I"),
            ]
        if isinstance(event, pg.Query):
            if event.sql.strip() == "":
                return [pg.EmptyQueryResponse(), pg.ReadyForQuery("I")]
            return [
                pg.RowDescription((INT4,)),
                pg.DataRows(pg.encode_data_rows([(b"1",), (None,), (b"3",)])),
                pg.CommandComplete("SELECT 3"),
                pg.ReadyForQuery("I"),
            ]
        if isinstance(event, pg.Parse):
            if "boom" in event.sql:
                return [pg.error("42601", 'syntax error at or near "boom"', position=8)]
            return [pg.ParseComplete()]
        if isinstance(event, pg.Bind):
            self.bound[event.portal] = event
            return [pg.BindComplete()]
        if isinstance(event, pg.Describe):
            if event.kind == "S":
                return [pg.ParameterDescription((25,)), pg.RowDescription((TEXT,))]
            return [pg.RowDescription((TEXT,) if self.bound[event.name].params else (INT4,))]
        if isinstance(event, pg.Execute):
            bound = self.bound[event.portal]
            if not bound.params:  # "select n from t"
                rows = pg.encode_data_rows([(b"1",), (None,), (b"3",)])
                return [pg.DataRows(rows), pg.CommandComplete("SELECT 3")]
            value = bound.params[0]
            if bound.param_format(0) == 1 and value is not None:
                value = b"binary:" + value.hex().encode()
            return [pg.DataRow((value,)), pg.CommandComplete("SELECT 1")]
        if isinstance(event, pg.Close):
            return [pg.CloseComplete()]
        if isinstance(event, pg.Sync):
            return [pg.ReadyForQuery("I")]
        return []


# Fixed so that the recorded message sequence does not depend on the environment
CLIENT_ENV = {"PGSSLMODE": "prefer", "PGGSSENCMODE": "disable", "PGCONNECT_TIMEOUT": "5"}


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql() -> None:
    with MiniServer(Backend()) as server:
        env = {**os.environ, **CLIENT_ENV, "PGPASSWORD": "pw", "PGAPPNAME": "cap"}
        command = ["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(server.port)]
        command += ["-U", "alice", "-d", "db", "-c", "select n from t"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n\n3\n"
    [(events, raw)] = server.sessions
    assert [type(e) for e in events] == [
        pg.SSLRequest,  # sslmode=prefer
        pg.StartupMessage,
        pg.PasswordMessage,
        pg.Query,
        pg.Terminate,
    ]
    startup_event = events[1]
    assert startup_event.protocol == (3, 0)
    assert startup_event.parameters["user"] == "alice"
    assert startup_event.parameters["database"] == "db"
    assert startup_event.parameters["application_name"] == "cap"
    assert events[2] == pg.PasswordMessage("pw") and events[3] == pg.Query("select n from t")
    assert raw.startswith(SSL_REQUEST)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_wrong_password() -> None:
    with MiniServer(Backend()) as server:
        env = {**os.environ, **CLIENT_ENV, "PGPASSWORD": "nope"}
        command = ["psql", "-X", "-w", "-h", "127.0.0.1", "-p", str(server.port), "-U", "a"]
        command += ["-d", "db", "-c", "select 1"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr


def psycopg_connect(port: int, **kwargs: Any) -> Any:
    psycopg = pytest.importorskip("psycopg")
    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        user="alice",
        password="pw",
        dbname="db",
        connect_timeout=5,
        sslmode="prefer",
        gssencmode="disable",
        autocommit=True,
        **kwargs,
    )


def test_psycopg_extended_protocol() -> None:
    with MiniServer(Backend()) as server, psycopg_connect(server.port) as client:
        assert client.execute("select %s::text", ["héllo"]).fetchall() == [("héllo",)]
        assert client.execute("select %b::text", ["x"]).fetchall() == [("binary:78",)]
        assert client.execute("select n from t").fetchall() == [(1,), (None,), (3,)]
        for _ in range(6):  # past prepare_threshold: a named statement, Describe S
            assert client.execute("select %s::text", ["p"]).fetchone() == ("p",)
    [(events, _raw)] = server.sessions
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["SSLRequest", "StartupMessage", "PasswordMessage"]
    first = events[3:8]
    assert [type(e) for e in first] == [pg.Parse, pg.Bind, pg.Describe, pg.Execute, pg.Sync]
    assert first[0].sql == "select $1::text"
    assert first[1].params == ("héllo".encode(),) and first[1].param_formats in ((), (0,))
    named = [e for e in events if isinstance(e, pg.Parse) and e.name]
    assert named and named[0].sql == "select $1::text"
    assert any(isinstance(e, pg.Bind) and e.statement == named[0].name for e in events)
    assert events[-1] in (pg.Terminate(), pg.ConnectionClosed())


def test_psycopg_error_discards_until_sync() -> None:
    psycopg = pytest.importorskip("psycopg")
    with MiniServer(Backend()) as server, psycopg_connect(server.port) as client:
        with pytest.raises(psycopg.errors.SyntaxError) as info:
            client.execute("select boom %s", [1])
        assert info.value.diag.sqlstate == "42601"
        assert info.value.diag.statement_position == "8"
        assert client.execute("select %s::text", ["after"]).fetchone() == ("after",)
    [(events, _raw)] = server.sessions
    boom = next(i for i, e in enumerate(events) if isinstance(e, pg.Parse) and "boom" in e.sql)
    # psycopg sent Bind, Describe, Execute after the Parse; the machine dropped them
    assert isinstance(events[boom + 1], pg.Sync)
    assert isinstance(events[boom + 2], pg.Parse)


def test_psycopg_pipeline() -> None:
    with MiniServer(Backend()) as server, psycopg_connect(server.port) as client:
        with client.pipeline():
            cursors = [client.execute("select %s::text", [str(i)]) for i in range(5)]
        assert [c.fetchone() for c in cursors] == [(str(i),) for i in range(5)]
    [(events, _raw)] = server.sessions
    assert sum(isinstance(e, pg.Execute) for e in events) == 5


def test_psycopg_protocol_3_2() -> None:
    psycopg = pytest.importorskip("psycopg")
    if psycopg.pq.version() < 180000:
        pytest.skip("libpq before 18 speaks protocol 3.0 only")
    key = bytes(range(32))
    server = MiniServer(Backend(newest_minor=2, key=key))
    with server, psycopg_connect(server.port, max_protocol_version="3.2") as client:
        assert client.pgconn.full_protocol_version == 30002
        assert client.pgconn.backend_pid == 4242
        client.cancel_safe()  # a second connection: CancelRequest with the 32-byte key
    events = [e for events, _ in server.sessions for e in events]
    startup_event = next(e for e in events if isinstance(e, pg.StartupMessage))
    assert startup_event.protocol == (3, 2)
    assert pg.CancelRequest(4242, key) in events


def test_psycopg_downgraded_to_3_0() -> None:
    psycopg = pytest.importorskip("psycopg")
    if psycopg.pq.version() < 180000:
        pytest.skip("libpq before 18 speaks protocol 3.0 only")
    server = MiniServer(Backend(newest_minor=0))
    with server, psycopg_connect(server.port, max_protocol_version="3.2") as client:
        assert client.pgconn.full_protocol_version == 30000  # after NegotiateProtocolVersion
        assert client.execute("select %s::text", ["ok"]).fetchone() == ("ok",)
        client.cancel_safe()
    events = [e for events, _ in server.sessions for e in events]
    assert pg.CancelRequest(4242, b"\x00\x01\x02\x03") in events
