"""The PostgreSQL client machine without sockets, checked against the server machine: what
the server machine writes, the client reads back as the same events, and what the client
writes, the server machine reads as the messages meant."""

from __future__ import annotations

import struct

import pytest

from qflux.protocols import pgwire as pg
from qflux.protocols import pgwire_client as wire
from qflux.protocols.common import NEED_DATA


def server_bytes(*events: object) -> bytes:
    return b"".join(pg._ENCODERS[type(event)](event) for event in events)


def read_all(client: wire.PgClientConnection) -> list[object]:
    events = []
    while (event := client.next_event()) is not NEED_DATA:
        events.append(event)
    return events


SERVER_EVENTS = [
    pg.AuthenticationOk(),
    pg.AuthenticationCleartextPassword(),
    pg.AuthenticationMD5Password(b"salt"),
    pg.AuthenticationSASL(("SCRAM-SHA-256", "SCRAM-SHA-256-PLUS")),
    pg.AuthenticationSASLContinue(b"r=abc,s=xyz,i=4096"),
    pg.AuthenticationSASLFinal(b"v=proof"),
    pg.ParameterStatus("TimeZone", "Europe/Paris"),
    pg.BackendKeyData(4_000_000_000, b"\x01\x02\x03\x04"),
    pg.NegotiateProtocolVersion(0, ("_pq_.unknown",)),
    pg.RowDescription(
        (
            pg.Field("id", type_oid=23, type_size=4, table_oid=16384, column_attr=1),
            pg.Field("é", type_oid=1700, type_size=-1, type_modifier=655366),
        )
    ),
    pg.CommandComplete("SELECT 2"),
    pg.EmptyQueryResponse(),
    pg.error("22012", "division by zero", hint="do not"),
    pg.notice("01000", "careful"),
    pg.ParseComplete(),
    pg.BindComplete(),
    pg.CloseComplete(),
    pg.NoData(),
    pg.ParameterDescription((23, 4_000_000_000)),
    pg.PortalSuspended(),
    pg.ReadyForQuery("T"),
]


def readable(event: object) -> object:
    """A RowDescription or notice comes as its message, to forward; parsed, the event."""
    forwarded = isinstance(event, wire.RowDescriptionMessage | wire.NoticeMessage)
    return event.parse() if forwarded else event  # type: ignore[union-attr]


def test_every_server_message_reads_back_as_the_event_written() -> None:
    client = wire.PgClientConnection()
    client.receive_data(server_bytes(*SERVER_EVENTS))
    events = read_all(client)
    assert [readable(event) for event in events] == SERVER_EVENTS
    [description] = [e for e in events if isinstance(e, wire.RowDescriptionMessage)]
    assert description.encoded == server_bytes(SERVER_EVENTS[9])  # exactly as sent


def test_events_are_the_same_however_the_bytes_are_split() -> None:
    data = server_bytes(*SERVER_EVENTS)
    client = wire.PgClientConnection()
    events: list[object] = []
    for i in range(len(data)):
        client.receive_data(data[i : i + 1])
        events += read_all(client)
    assert [readable(event) for event in events] == SERVER_EVENTS


def test_data_rows_come_as_runs_of_the_bytes_sent_with_their_count() -> None:
    rows = pg.encode_data_rows([(b"1", None), (b"two", b"")] * 3)
    client = wire.PgClientConnection()
    client.receive_data(rows + server_bytes(pg.CommandComplete("SELECT 6")) + rows[:7])
    batch, done = read_all(client)
    assert batch == wire.DataRowBatch(rows, 6)
    assert done == pg.CommandComplete("SELECT 6")
    client.receive_data(rows[7:])  # a run cut mid-message resumes at its first whole row
    assert read_all(client) == [wire.DataRowBatch(rows, 6)]


def test_a_long_run_of_rows_is_cut_into_batches() -> None:
    row = pg.encode_data_rows([(b"x" * 1000,)])
    client = wire.PgClientConnection()
    client.receive_data(row * 1000)
    batches = read_all(client)
    assert len(batches) > 1
    assert sum(b.count for b in batches) == 1000  # type: ignore[attr-defined]
    assert b"".join(b.encoded for b in batches) == row * 1000  # type: ignore[attr-defined]
    assert all(len(b.encoded) <= wire.BATCH_BYTES + len(row) for b in batches)  # type: ignore[attr-defined]


@pytest.mark.parametrize("length", [3, -1, 1025])
def test_a_length_out_of_bounds_is_refused_before_reading_on(length: int) -> None:
    client = wire.PgClientConnection(max_message_bytes=1024)
    client.receive_data(b"D" + struct.pack(">i", length))
    with pytest.raises(wire.ServerProtocolError, match="server message of"):
        client.next_event()


def test_unknown_malformed_and_cut_off_messages_are_errors() -> None:
    client = wire.PgClientConnection()
    client.receive_data(b"?\0\0\0\x04")
    with pytest.raises(wire.ServerProtocolError, match="unknown message type"):
        client.next_event()
    client = wire.PgClientConnection()
    client.receive_data(b"Z\0\0\0\x05Q")  # not a transaction status
    with pytest.raises(wire.ServerProtocolError, match="malformed 'Z'"):
        client.next_event()
    client = wire.PgClientConnection()
    client.receive_data(b"T\0\0\0\x06\0\x01")  # one field, and no field follows
    description = client.next_event()
    with pytest.raises(wire.ServerProtocolError, match="malformed 'T'"):
        description.parse()  # type: ignore[union-attr]
    client = wire.PgClientConnection()
    client.receive_data(b"R\0\0\0\x08\0\0\0\x07")  # GSSAPI: for the driver to refuse
    assert client.next_event() == wire.Unsupported("R", "7")
    client = wire.PgClientConnection()
    client.receive_data(b"C\0\0\0\x09SEL")
    assert client.next_event() is NEED_DATA
    client.receive_data(b"")
    with pytest.raises(wire.ServerProtocolError, match="closed the connection mid-message"):
        client.next_event()


def test_copy_responses_are_reported_as_unsupported() -> None:
    client = wire.PgClientConnection()
    client.receive_data(server_bytes(pg.CopyOutResponse(0, (0,))))
    assert read_all(client) == [wire.Unsupported("H")]


def test_the_server_machine_reads_what_the_client_writes() -> None:
    server = pg.PgServerConnection()
    parameters = {"user": "ann", "database": "db", "options": "-c x=1"}
    server.receive_data(wire.startup_message(parameters))
    startup = server.next_event()
    assert isinstance(startup, pg.StartupMessage)
    assert startup.protocol == (3, 0)
    assert dict(startup.parameters) == parameters
    server.send(pg.AuthenticationSASL(("SCRAM-SHA-256",)))
    server.receive_data(wire.sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc"))
    assert server.next_event() == pg.SASLInitialResponse("SCRAM-SHA-256", b"n,,n=,r=abc")
    server.send(pg.AuthenticationSASLContinue(b"r=abcdef,s=c2FsdA==,i=4096"))
    server.receive_data(wire.password_message(b"c=biws,r=abcdef,p=cHJvb2Y="))
    assert server.next_event() == pg.SASLResponse(b"c=biws,r=abcdef,p=cHJvb2Y=")
    server.send(pg.AuthenticationSASLFinal(b"v=c2lnbmF0dXJl"))
    server.send(pg.AuthenticationOk())
    server.send(pg.ReadyForQuery("I"))
    server.receive_data(wire.statement("SELECT 'ü'") + wire.simple_query("SELECT 2"))
    assert read_server(server) == [
        pg.Parse("", "SELECT 'ü'", ()),
        pg.Bind("", "", (), (), ()),
        pg.Describe("P", ""),
        pg.Execute("", 0),
        pg.Sync(),
        pg.Query("SELECT 2"),
    ]


def test_a_nul_in_a_statement_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="NUL"):
        wire.statement("SELECT '\0'")


def test_ssl_and_cancel_requests_are_read_as_such() -> None:
    server = pg.PgServerConnection()
    server.receive_data(wire.ssl_request())
    assert isinstance(server.next_event(), pg.SSLRequest)
    server = pg.PgServerConnection()
    server.receive_data(wire.cancel_request(4_000_000_000, b"\x01\x02\x03\x04"))
    cancel = server.next_event()
    assert isinstance(cancel, pg.CancelRequest)
    assert (cancel.process_id, cancel.secret_key) == (4_000_000_000, b"\x01\x02\x03\x04")


def read_server(server: pg.PgServerConnection) -> list[object]:
    events = []
    while True:
        event = server.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, pg.Sync | pg.Query):
            server.send(pg.ReadyForQuery("I"))
