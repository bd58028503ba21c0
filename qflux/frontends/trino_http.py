"""Trino HTTP frontend: sockets <-> the sans-IO machine <-> TrinoQuery <-> dispatch.

Each connection runs one request at a time (HTTP/1.1). A POST runs its query in the
connection's own task and answers from there when the query ends, which most do at
once; if it has not after `SUBMIT_WAIT` (or a page is full), the page so far is sent
and a new task takes over the connection while this one goes on producing
(`_Submit`). Once a request has waited `trino_query.WATCH_AFTER_SECS` for rows, a
watcher peeks at the socket, so a client that goes away during a long poll (a queued
or running query is always being long-polled) is noticed at once and its query
cancelled. A client that stops polling without that (crashed between polls, dead NAT)
is caught by the reaper after `clientTimeoutSecs`, as Trino does.
"""

from __future__ import annotations

import contextlib
import heapq
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
import trio

from qflux import __version__
from qflux.core import CancelReason, ErrorCode, FrontendProtocol, QueryError, Session
from qflux.dispatch import Dispatcher
from qflux.frontends.net import peer_address
from qflux.frontends.timers import Timers
from qflux.frontends.trino_query import LINGER_SECS, WATCH_AFTER_SECS, TrinoQuery, rejected
from qflux.frontends.trino_statements import rewrite
from qflux.protocols.trino_http import (
    NEED_DATA,
    CancelStatement,
    ConnectionClosed,
    EncodedResults,
    FetchResults,
    GetQueryInfo,
    GetServerInfo,
    JsonResponse,
    NoContent,
    QueryResults,
    RemoteProtocolError,
    SubmitStatement,
    TextResponse,
    TrinoHttpConnection,
    encode_results,
    parse_duration,
)
from qflux.stream_io import receive_some, send_all
from qflux.tags import session_tags

if TYPE_CHECKING:
    from qflux.config import TrinoHttpConfig

log = structlog.get_logger("qflux.trino")

RECEIVE_BYTES = 65_536
#: Trino's default long-poll wait for a results page.
DEFAULT_MAX_WAIT = 1.0
#: How long the POST waits for the first rows, so short queries answer in one trip.
SUBMIT_WAIT = 0.1
#: A connection idle this long between requests is closed (clients reconnect).
KEEP_ALIVE_IDLE_SECS = 300.0
#: How often at most a connection's idleness is looked at: a closed connection's
#: pending look stays in the timer heap this long.
KEEP_ALIVE_CHECK_SECS = 30.0
#: A fully delivered query is kept this long so a client can re-fetch the last page.
DELIVERED_RETENTION_SECS = 30.0
REAPER_INTERVAL = 1.0
#: How late a POST's own deadlines (watch, answer) may run, for fewer timer wake-ups.
TIMER_RESOLUTION_SECS = 0.005
_CLIENT_GONE = frozenset(
    {CancelReason.CLIENT_CANCEL, CancelReason.CLIENT_DISCONNECT, CancelReason.CLIENT_ABANDONED}
)


class TrinoHttpFrontend:
    def __init__(
        self, dispatcher: Dispatcher, config: TrinoHttpConfig, *, external_address: str | None
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config
        self.external_address = external_address.rstrip("/") if external_address else None
        self.queries: dict[str, TrinoQuery] = {}  # every query a client may ask about
        #: Those not yet delivered: the reaper looks at these each pass ...
        self._live: dict[str, TrinoQuery] = {}
        #: ... and at the others only once their retention may be over:
        #: (when, query id), a heap.
        self._retained: list[tuple[float, str]] = []
        #: A delivered query, for a retry of its last page: (slug, token, body, headers),
        #: strings and bytes only, which the garbage collector stops tracking. Kept
        #: whole, a query is some twenty objects that every full collection walks; at a
        #: thousand queries a second for 30 s that made pauses of 40-70 ms.
        self._delivered: dict[str, tuple[str, int, bytes, tuple[tuple[str, str], ...]]] = {}
        self._nursery: trio.Nursery | None = None
        self._timers = Timers(resolution=TIMER_RESOLUTION_SECS)
        self._started = time.time()

    async def serve(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._reap)
            nursery.start_soon(self._timers.run)
            await nursery.start(trio.serve_listeners, self._handle_connection, listeners)
            task_status.started()

    # -- connections ------------------------------------------------------------

    async def _handle_connection(self, stream: trio.SocketStream) -> None:
        conn = TrinoHttpConnection(max_body_bytes=self.config.max_request_bytes)
        successor = await self._serve_connection(stream, conn, peer_address(stream))
        if successor is not None:  # returning would close the stream under it
            await successor.wait()

    async def _resume_connection(
        self,
        stream: trio.SocketStream,
        conn: TrinoHttpConnection,
        peer: str | None,
        response: bytes,
        query: TrinoQuery,
        done: trio.Event,
    ) -> None:
        """Send a POST's page for the task still producing its query, then serve the
        connection's next requests; `done` once the connection is closed."""
        try:
            try:
                await send_all(stream, response)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await _close_quietly(stream)
                return
            self._mark_delivered(query)
            successor = await self._serve_connection(stream, conn, peer)
            if successor is not None:
                await successor.wait()
        finally:
            done.set()

    async def _serve_connection(
        self, stream: trio.SocketStream, conn: TrinoHttpConnection, peer: str | None
    ) -> trio.Event | None:
        """Serve requests until the connection closes; or until another task serves it,
        then the Event it sets when it has closed the connection."""
        idle = _KeepAlive(self._timers)
        successor: trio.Event | None = None
        drained = False  # the last read took all there was: the next one waits first
        async with trio.open_nursery() as watchers:
            try:
                with idle.scope:
                    while True:
                        event = conn.next_event()
                        if event is NEED_DATA:
                            idle.waiting_since = trio.current_time()
                            data = await receive_some(stream, RECEIVE_BYTES, ready=not drained)
                            idle.waiting_since = None
                            drained = len(data) < RECEIVE_BYTES
                            conn.receive_data(data)
                            continue
                        if isinstance(event, ConnectionClosed):
                            break
                        served = await self._serve_request(event, conn, stream, peer, watchers)
                        if isinstance(served, trio.Event):
                            successor = served
                            break
                        if not served:
                            break  # the client went away mid-request
                        if conn.should_close:
                            break
            except RemoteProtocolError as exc:
                await _send_quietly(stream, conn.error_response(exc))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            except Exception:  # a bug must cost one connection, never the server
                log.exception("trino connection failed", peer=peer)
                await _send_quietly(
                    stream, conn.error_response(RemoteProtocolError(500, "internal error"))
                )
            finally:
                idle.stopped = True
                watchers.cancel_scope.cancel()
                if successor is None:
                    await _close_quietly(stream)
        return successor

    async def _serve_request(
        self,
        event: Any,
        conn: TrinoHttpConnection,
        stream: trio.SocketStream,
        peer: str | None,
        watchers: trio.Nursery,
    ) -> bool | trio.Event:
        """Serve one request and send the response; False if the client hung up first.
        If another task serves the connection from now on, the Event it sets when done.

        Hanging up while a request about a query is in flight (a long poll, or the
        submit itself) is how a killed client looks: that query is cancelled. Most
        answers are ready within milliseconds, so the socket is only watched once a
        wait grows long (`TrinoQuery.next_page` says when); a task per request would
        cost more than the request. A close *between* requests is normal HTTP (curl,
        pooled clients) and is left to the client timeout.
        """
        serving: list[TrinoQuery] = []
        watch = _Watch(stream, conn, serving, watchers)
        if isinstance(event, SubmitStatement):
            return await self._serve_submit(event, conn, stream, peer, watch)
        response = await self._respond(event, conn, serving, watch.start)
        watch.stop()
        if conn.peer_closed:
            return False
        await send_all(stream, response)
        for query in serving:  # only now has the client got the last page
            self._mark_delivered(query)
        return True

    async def _serve_submit(
        self,
        event: SubmitStatement,
        conn: TrinoHttpConnection,
        stream: trio.SocketStream,
        peer: str | None,
        watch: _Watch,
    ) -> bool | trio.Event:
        try:
            query = self._submit(event, peer)
        except QueryError as exc:  # refused before it exists (shutting down)
            await send_all(stream, conn.send(rejected(exc)))
            return True
        watch.serving.append(query)
        submit = _Submit(self, query, stream, conn, peer, watch)
        query.submit = submit
        self._timers.call_at(trio.current_time() + WATCH_AFTER_SECS, submit.watch_now)
        try:
            await query.produce(self.dispatcher)
        except Exception:
            if submit.successor is None:
                raise  # the connection is still this task's: it answers the failure
            # Another task owns the connection now: a word here would garble its answers.
            log.exception("trino query failed after its POST was answered", query_id=query.id)
        finally:
            submit.answered = True  # answered, or never to be: the timers leave it alone
        return submit.sent if submit.successor is None else submit.successor

    def _mark_delivered(self, query: TrinoQuery) -> None:
        """The client has this query's latest page: if it was the last, keep only its
        bytes, for a retry of it."""
        query.delivered = query.final_page_built
        if query.delivered:
            self._entomb(query)

    async def _respond(
        self,
        event: Any,
        conn: TrinoHttpConnection,
        serving: list[TrinoQuery],
        on_long_wait: Callable[[], None],
    ) -> bytes:
        if isinstance(event, FetchResults):
            polled = self._find(event.query_id, event.slug)
            if polled is None:
                return conn.send(self._delivered_page(event))
            if event.token == polled.token and polled.last_page is not None:
                return conn.send(polled.last_page)  # a retry of the page we just sent
            if event.token != polled.token + 1:
                return conn.send(
                    TextResponse(410, f"Invalid token {event.token}; expected {polled.token + 1}")
                )
            serving.append(polled)
            polled.polls_in_flight += 1
            try:
                page = await polled.next_page(event.max_wait or DEFAULT_MAX_WAIT, on_long_wait)
                return conn.send(_sendable(polled, page))
            finally:
                polled.polls_in_flight -= 1
                polled.last_seen = trio.current_time()
        if isinstance(event, CancelStatement):
            cancelled = self._find(event.query_id, event.slug)
            if cancelled is not None:
                cancelled.cancel(CancelReason.CLIENT_CANCEL)
            return conn.send(NoContent())
        if isinstance(event, GetQueryInfo):
            record = self.dispatcher.history.get(event.query_id)
            if record is None:
                return conn.send(TextResponse(404, f"Query not found: {event.query_id}"))
            return conn.send(JsonResponse(200, record.to_json()))
        if isinstance(event, GetServerInfo):
            return conn.send(JsonResponse(200, self._server_info()))
        raise AssertionError(f"unhandled event {event!r}")

    # -- queries ----------------------------------------------------------------

    def _submit(self, event: SubmitStatement, peer: str | None) -> TrinoQuery:
        client = event.session
        session = Session(
            protocol=FrontendProtocol.TRINO_HTTP,
            user=client.user,
            database=client.catalog,
            schema=client.schema,
            source=client.source,
            tags=session_tags(client.client_tags, client.session_properties),
            properties=client.session_properties,  # the request's own: no copy needed
            headers=client.headers,
            client_address=peer,
        )
        handle = self.dispatcher.submit(session, event.sql)
        base_uri = self.external_address or _base_uri(client.headers)
        query = TrinoQuery(handle, base_uri=base_uri, max_page_bytes=self.config.max_page_bytes)
        try:
            plan = rewrite(event.sql, client.prepared_statements)
            if plan.sql is None:
                query.update, query.update_type = plan.update, plan.update_type
            else:
                handle.sql = plan.sql
            max_run = client.session_properties.get("query_max_run_time")
            if max_run:
                handle.set_timeout(parse_duration(max_run))
        except QueryError as exc:
            query.error = exc
        except ValueError as exc:
            query.error = QueryError(
                ErrorCode.INVALID_ARGUMENT, f"invalid session property query_max_run_time: {exc}"
            )
        self.queries[query.id] = query
        self._live[query.id] = query
        return query

    def _delivered_page(self, event: FetchResults) -> EncodedResults | TextResponse:
        """A retry of a delivered query's last page; else the query is gone."""
        kept = self._delivered.get(event.query_id)
        if kept is None or kept[0] != event.slug:
            return TextResponse(410, "Query not found or expired")
        _, token, body, headers = kept
        if event.token != token:
            return TextResponse(410, f"Invalid token {event.token}; expected {token + 1}")
        return EncodedResults(body, headers)

    def _find(self, query_id: str, slug: str) -> TrinoQuery | None:
        query = self.queries.get(query_id)
        if query is None or query.slug != slug:
            return None
        return query

    async def _reap(self) -> None:
        """Cancel queries nobody polls any more; forget delivered ones.

        A pass costs the live queries plus the kept ones whose retention is up, not
        every query of the last 30 s: at a thousand queries a second, scanning them
        all stalled every query for over 10 ms once a second.
        """
        timeout = self.config.client_timeout_secs
        while True:
            await trio.sleep(REAPER_INTERVAL)
            for query_id, query in list(self._live.items()):
                if query.finished and query.error is not None:  # its error page is owed
                    del self._live[query_id]
                    self._retain(query_id, query.last_seen)
                elif query.is_idle_for(timeout):
                    log.info("query abandoned by client", query_id=query_id, idle_secs=timeout)
                    query.cancel(CancelReason.CLIENT_ABANDONED)
                    if query.finished:
                        del self._live[query_id], self.queries[query_id]
            now = trio.current_time()
            while self._retained and self._retained[0][0] <= now:
                _, query_id = heapq.heappop(self._retained)
                if self._delivered.pop(query_id, None) is not None:
                    continue
                kept = self.queries.get(query_id)
                if kept is None:  # delivered after all, and kept as such meanwhile
                    continue
                if kept.is_idle_for(DELIVERED_RETENTION_SECS):
                    del self.queries[query_id]
                else:  # polled meanwhile: kept until it has not been for the full time
                    self._retain(query_id, max(kept.last_seen, now))

    def _entomb(self, query: TrinoQuery) -> None:
        """A delivered query: keep only its last page's bytes, for a retry of it. Done
        as each query is delivered, so freeing queries never piles up into a stall."""
        page = query.last_encoded
        if page is None or self.queries.get(query.id) is not query:
            return
        del self.queries[query.id]
        self._live.pop(query.id, None)
        self._delivered[query.id] = (query.slug, query.token, page.body, page.headers)
        self._retain(query.id, trio.current_time())

    def _retain(self, query_id: str, last_seen: float) -> None:
        """Keep a finished query until DELIVERED_RETENTION_SECS after its last poll."""
        expires = last_seen + DELIVERED_RETENTION_SECS
        heapq.heappush(self._retained, (expires, query_id))

    def undelivered(self) -> int:
        """Queries whose client has not yet fetched the final page (a query its client
        cancelled, dropped or abandoned counts as fetched: nobody is coming for it)."""
        return sum(
            1
            for query in self._live.values()
            if not query.delivered and query.handle.cancel_reason not in _CLIENT_GONE
        )

    def _server_info(self) -> dict[str, Any]:
        return {
            "nodeVersion": {"version": f"qflux-{__version__}"},
            "environment": "qflux",
            "coordinator": True,
            "starting": not self.dispatcher.accepting,
            "uptime": f"{time.time() - self._started:.2f}s",
        }


def _sendable(query: TrinoQuery, page: QueryResults) -> QueryResults | EncodedResults:
    """The final page encoded here, and kept so: a retry of it is answered from these
    bytes once the query itself is forgotten, without encoding it a second time."""
    if not query.final_page_built:
        return page
    query.last_encoded = encode_results(page)
    return query.last_encoded


class _KeepAlive:
    """Closes a connection that has waited KEEP_ALIVE_IDLE_SECS for its client's bytes.

    A wait notes when it began; the frontend's timer task looks at least every
    KEEP_ALIVE_CHECK_SECS and cancels `scope` only during a wait that has lasted the
    whole time. So a request costs two attribute writes, not two moves of a cancel
    scope's deadline, and a long answer (a query run in its POST's task) is never cut.
    """

    def __init__(self, timers: Timers) -> None:
        self.scope = trio.CancelScope()
        self.waiting_since: float | None = None
        self.stopped = False
        self._timers = timers
        self._check_from(trio.current_time())

    def _check_from(self, start: float) -> None:
        now = trio.current_time()
        when = min(start + KEEP_ALIVE_IDLE_SECS, now + KEEP_ALIVE_CHECK_SECS)
        self._timers.call_at(when, self._check)

    def _check(self) -> None:
        if self.stopped:
            return
        since = self.waiting_since
        if since is not None and trio.current_time() - since >= KEEP_ALIVE_IDLE_SECS:
            self.scope.cancel()
        else:
            self._check_from(trio.current_time() if since is None else since)


class _Submit:
    """A POST whose query runs in the connection's task: answered from there at the end
    (`finish`), or earlier with the page so far, from a new task that then serves the
    connection (`release`), once a page is full or the client has waited SUBMIT_WAIT."""

    def __init__(
        self,
        frontend: TrinoHttpFrontend,
        query: TrinoQuery,
        stream: trio.SocketStream,
        conn: TrinoHttpConnection,
        peer: str | None,
        watch: _Watch,
    ) -> None:
        self._frontend, self._query = frontend, query
        self._stream, self._conn, self._peer, self._watch = stream, conn, peer, watch
        self._started = trio.current_time()
        self.answered = False
        #: Set once `release` gave the connection to another task: when it is closed.
        self.successor: trio.Event | None = None
        self.sent = False  # `finish` sent the page whole: the connection can go on

    async def finish(self) -> None:
        self.answered = True
        self._watch.stop()
        if self._conn.peer_closed:
            return
        query = self._query
        response = self._conn.send(_sendable(query, query.submit_page()))
        try:
            await send_all(self._stream, response)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the query is done; the connection is closed when it returns
        self.sent = True
        self._frontend._mark_delivered(query)

    def release(self) -> None:
        self.answered = True
        self._watch.stop()
        if self._conn.peer_closed:
            return  # the watcher cancelled the query: the connection closes with it
        query = self._query
        response = self._conn.send(_sendable(query, query.submit_page()))
        self.successor = done = trio.Event()
        frontend = self._frontend
        assert frontend._nursery is not None
        frontend._nursery.start_soon(
            frontend._resume_connection, self._stream, self._conn, self._peer, response, query, done
        )

    def rows_arrived(self) -> None:
        self._frontend._timers.call_at(trio.current_time() + LINGER_SECS, self._answer_now)

    def watch_now(self) -> None:
        """Still running: watch for a hang-up, and answer by SUBMIT_WAIT at the latest."""
        if not self.answered:
            self._watch.start()
            self._frontend._timers.call_at(self._started + SUBMIT_WAIT, self._answer_now)

    def _answer_now(self) -> None:
        if not self.answered:
            self._query.release_submit()


class _Watch:
    """Watches a client's socket while its request waits, for the hang-up of a killed
    client: EOF cancels the queries the request serves, which ends the wait at once."""

    def __init__(
        self,
        stream: trio.SocketStream,
        conn: TrinoHttpConnection,
        serving: list[TrinoQuery],
        nursery: trio.Nursery,
    ) -> None:
        self._stream, self._conn = stream, conn
        self.serving, self._nursery = serving, nursery
        self._scope: trio.CancelScope | None = None

    def start(self) -> None:
        if self._scope is None:
            self._scope = trio.CancelScope()
            self._nursery.start_soon(self._watch, self._scope)

    def stop(self) -> None:
        """Cancelling unregisters the socket at once, so the connection can read again
        before the watcher task has even unwound."""
        if self._scope is not None:
            self._scope.cancel()

    async def _watch(self, scope: trio.CancelScope) -> None:
        if scope.cancel_called:  # stopped before this task first ran: the socket is not ours
            return
        sock = self._stream.socket
        with scope:
            try:
                await trio.lowlevel.wait_readable(sock)
                peeked = await sock.recv(1, socket.MSG_PEEK)
            except (OSError, trio.ClosedResourceError, trio.BusyResourceError):
                peeked = b""
            if not peeked:  # pipelined bytes would mean the client is alive
                self._conn.receive_data(b"")
                for query in self.serving:
                    query.cancel(CancelReason.CLIENT_DISCONNECT)


def _base_uri(headers: Mapping[str, str]) -> str:
    """Where clients should send follow-up requests when no externalAddress is set."""
    proto = headers.get("x-forwarded-proto", "http").split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    return f"{proto}://{host.split(',')[0].strip()}"


async def _send_quietly(stream: trio.SocketStream, data: bytes) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(data)


async def _close_quietly(stream: trio.SocketStream) -> None:
    with (
        trio.CancelScope(shield=True),
        contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError),
    ):
        await stream.aclose()
