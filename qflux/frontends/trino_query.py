"""One Trino-protocol query on the proxy: a producer task and the pages clients poll.

A Trino query outlives the HTTP request that submitted it: the client polls `nextUri`
for pages, possibly over several connections. So the query runs in a task of its own
(`produce`), inside dispatch's cancel scope, pushing Arrow batches into a channel of
capacity one; each poll drains at most one page's worth of bytes from it. The engine
therefore runs only as fast as the client reads, and memory stays bounded.

That task is the submitting connection's own: most queries end within the POST, and
then `submit.finish()` answers it with the final page straight from the producer, with
no second task, channel or wake-up in between. Rows of a still-unanswered POST are
encoded into its page directly. Once the POST is answered before the end (a page is
full, or the frontend's timer says the client has waited long enough:
`submit.release()`), another task serves the connection and this one only produces.

Every page carries a token; the page for the current token is kept so a client that
lost a response can fetch it again (as the Trino client does on a network error).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import pyarrow as pa
import trio

from qflux.core import (
    CancelReason,
    QueryError,
    QueryStatus,
    TrinoRows,
    new_query_id,
    random_hex,
)
from qflux.dispatch import Dispatcher, QueryHandle
from qflux.frontends.trino_types import TrinoEncoder
from qflux.protocols.trino_http import EncodedResults, QueryResults, SessionUpdate

#: Trino's numeric error codes for the names in ErrorCode (StandardErrorCode).
TRINO_ERROR_CODES = {
    "GENERIC_USER_ERROR": 0,
    "SYNTAX_ERROR": 1,
    "ABANDONED_QUERY": 2,
    "USER_CANCELED": 3,
    "INVALID_FUNCTION_ARGUMENT": 7,
    "NOT_SUPPORTED": 13,
    "TABLE_NOT_FOUND": 46,
    "GENERIC_INTERNAL_ERROR": 65536,
    "NO_NODES_AVAILABLE": 65541,
    "SERVER_SHUTTING_DOWN": 65545,
    "QUERY_QUEUE_FULL": 131074,
    "EXCEEDED_TIME_LIMIT": 131075,
}


def trino_error(error: QueryError) -> dict[str, Any]:
    """The `error` object of a failed QueryResults, as Trino's clients parse it."""
    return {
        "message": error.message,
        "errorCode": TRINO_ERROR_CODES.get(error.code.error_name, 65536),
        "errorName": error.code.error_name,
        "errorType": error.code.error_type,
        "failureInfo": {
            "type": error.cause_type,
            "message": error.message,
            "suppressed": [],
            "stack": [],
        },
    }


#: With rows in hand, how long a poll waits for more (or for the end) before replying.
#: Small results end within microseconds, so their one page says FINISHED.
LINGER_SECS = 0.002
#: A wait for rows longer than this is worth watching the client's socket for a hang-up.
WATCH_AFTER_SECS = 0.02


class Submit(Protocol):
    """The POST of a query whose producer runs in the submitting connection's task."""

    async def finish(self) -> None:
        """Answer with the final page (`TrinoQuery.submit_page`), from the producer."""

    def release(self) -> None:
        """Answer with the page so far, and let another task serve the connection."""

    def rows_arrived(self) -> None:
        """The first rows are in the page: answer soon even if the end is not near."""


def rejected(error: QueryError) -> QueryResults:
    """The final page of a query refused before it was registered."""
    return QueryResults(
        id=new_query_id(),
        info_uri="",
        stats={"state": "FAILED", "queued": False, "scheduled": False},
        error=trino_error(error),
    )


class TrinoQuery:
    """Proxy-side state of one query submitted over Trino HTTP."""

    def __init__(
        self,
        handle: QueryHandle,
        *,
        base_uri: str,
        max_page_bytes: int,
        update: SessionUpdate | None = None,
        update_type: str | None = None,
    ) -> None:
        self.handle = handle
        self.id: str = handle.record.id  # read for every page and log line: no property
        self.slug = random_hex(8)  # unguessable: only the client knows its query's URIs
        self.base_uri = base_uri
        self.max_page_bytes = max_page_bytes
        self.update = update
        self.update_type = update_type
        self.token = -1  # token of the page most recently handed out (POST = 0)
        self.last_page: QueryResults | None = None
        self.last_encoded: EncodedResults | None = None  # the final page, as sent
        self.last_seen = trio.current_time()
        self.polls_in_flight = 0
        self.final_page_built = False  # the last page exists; the client may not have it
        self.delivered = False  # the last page was written to the client's socket
        self.error: QueryError | None = None
        self.schema: pa.Schema | None = None
        self.update_count: int | None = None  # rows a DML statement changed, if told
        self._encoder: TrinoEncoder | None = None
        self._pending: pa.RecordBatch | TrinoRows | None = None
        self._cluster_columns: list[dict[str, Any]] | None = None
        self._bytes_per_row = 0.0
        self._produced_all = False
        self._receive_ended = False  # the channel said end-of-channel
        #: The POST, while it is unanswered and the producer runs in its connection's task.
        self.submit: Submit | None = None
        self._submit_chunks: list[bytes] = []  # its page's rows, encoded as they come
        self._submit_bytes = 0
        #: Rows for polls: opened only once polls may come (most queries end in the POST).
        self._send: trio.MemorySendChannel[pa.RecordBatch | TrinoRows] | None = None
        self._receive: trio.MemoryReceiveChannel[pa.RecordBatch | TrinoRows] | None = None
        self._started = time.time()

    @property
    def finished(self) -> bool:
        """The producer is done (success, failure or cancel)."""
        return self._produced_all

    # -- the producer: runs in the frontend's nursery -------------------------

    async def produce(self, dispatcher: Dispatcher) -> None:
        """Run the query to completion, feeding batches to polls as they ask."""
        try:
            if self.error is not None:  # failed before it could run (bad parameters ...)
                dispatcher.finish_local(self.handle, self.error)
            elif self.update_type is not None:  # answered locally: nothing to execute
                self.schema = pa.schema([])
                dispatcher.finish_local(self.handle)
            else:
                await self._run(dispatcher)
        except QueryError as exc:
            self.error = exc
        finally:
            self._end_channel()  # sync: pollers see the error before end-of-channel
        if self.submit is not None:  # the POST waits still: its page is the last
            await self._finish_submit()

    async def _run(self, dispatcher: Dispatcher) -> None:
        async with dispatcher.run(self.handle) as result:
            self.schema = result.schema
            if result.trino_columns is not None:  # a Trino cluster: its rows as sent
                self._cluster_columns = result.trino_columns
                async for rows in result.trino_rows():
                    await self._hand_over(rows)
            else:
                async for batch in result:
                    await self._hand_over(batch)
            self.update_count = result.update_count
            # All rows are out: let polls finish the last page now, not after the
            # engine and the group slot are released.
            self._end_channel()

    def _end_channel(self) -> None:
        self._produced_all = True
        if self._send is not None:
            self._send.close()

    def _channel(
        self,
    ) -> tuple[
        trio.MemorySendChannel[pa.RecordBatch | TrinoRows],
        trio.MemoryReceiveChannel[pa.RecordBatch | TrinoRows],
    ]:
        """The channel to polls, opened on first use (closed already if all is out)."""
        if self._send is None or self._receive is None:
            self._send, self._receive = trio.open_memory_channel[pa.RecordBatch | TrinoRows](1)
            if self._produced_all:
                self._send.close()
        return self._send, self._receive

    async def _finish_submit(self) -> None:
        submit, self.submit = self.submit, None
        assert submit is not None
        await submit.finish()

    async def _hand_over(self, rows: pa.RecordBatch | TrinoRows) -> None:
        """Into the unanswered POST's page, else to the next poll. With room in the
        channel this goes on without yielding, so a result that ends here closes the
        channel before the poll wakes: one wake-up, and the page it builds is the last."""
        if self.submit is not None:
            first = not self._submit_chunks
            self._pending = rows
            while self._pending is not None and self._submit_bytes < self.max_page_bytes:
                chunk = self._encode_slice(self.max_page_bytes - self._submit_bytes)
                self._submit_chunks.append(chunk)
                self._submit_bytes += len(chunk)
            if self._submit_bytes >= self.max_page_bytes:  # a full page: send it now
                self.release_submit()
            elif first:
                self.submit.rows_arrived()
            if self._pending is None:
                return
            rows, self._pending = self._pending, None  # what did not fit: the next poll's
        send = self._channel()[0]
        try:
            send.send_nowait(rows)
        except trio.WouldBlock:
            await send.send(rows)

    # -- the POST, answered by the producer or the frontend's timer -------------

    def submit_page(self) -> QueryResults:
        """The POST's page: the rows encoded into it so far; the last if all are."""
        self.token += 1
        chunks, self._submit_chunks, self._submit_bytes = self._submit_chunks, [], 0
        page = self._page(chunks)
        self.last_page = page
        return page

    def release_submit(self) -> None:
        """Answer the POST now with what it has; polls take the rest."""
        submit, self.submit = self.submit, None
        if submit is not None:
            submit.release()

    # -- polls ----------------------------------------------------------------

    async def next_page(
        self, max_wait: float, on_long_wait: Callable[[], None] | None = None
    ) -> QueryResults:
        """Build the next page: the data that is ready, waiting at most `max_wait`
        for the first rows; once some rows are in hand, never wait for more.
        `on_long_wait` is called once the wait for the first rows passes WATCH_AFTER_SECS."""
        self.token += 1
        chunks: list[bytes] = []
        size = 0
        end = trio.current_time() + max_wait
        while size < self.max_page_bytes:
            if self._pending is None:
                self._pending = await self._next_rows(end, bool(chunks), on_long_wait)
                if self._pending is None:
                    break
            chunk = self._encode_slice(self.max_page_bytes - size)
            chunks.append(chunk)
            size += len(chunk)
        page = self._page(chunks)
        self.last_page = page
        return page

    async def _next_rows(
        self, end: float, in_hand: bool, on_long_wait: Callable[[], None] | None
    ) -> pa.RecordBatch | TrinoRows | None:
        """The next rows, or None if none come in time or the result has ended. With
        rows in hand, wait only a moment, for the end of a small result. Rows already
        waiting cost no cancel scope, and a wait costs one unless it grows long."""
        try:
            return self._channel()[1].receive_nowait()
        except trio.WouldBlock:
            pass
        except trio.EndOfChannel:
            return None
        now = trio.current_time()
        if in_hand:
            return await self._receive_by(min(end, now + LINGER_SECS))
        if on_long_wait is not None and now + WATCH_AFTER_SECS < end:
            rows = await self._receive_by(now + WATCH_AFTER_SECS)
            if rows is not None or self._receive_ended:
                return rows
            on_long_wait()
        return await self._receive_by(end)

    async def _receive_by(self, deadline: float) -> pa.RecordBatch | TrinoRows | None:
        with trio.CancelScope(deadline=deadline):
            try:
                return await self._channel()[1].receive()
            except trio.EndOfChannel:
                self._receive_ended = True
                return None
        return None

    def _encode_slice(self, budget: int) -> bytes:
        """Encode as many pending rows as fit in `budget` bytes; keep the rest."""
        batch = self._pending
        assert batch is not None
        self._pending = None
        if isinstance(batch, TrinoRows):  # already a page of the cluster's JSON
            return batch.json
        if self._encoder is None:  # the result schema carries the engine's type hints
            self._encoder = TrinoEncoder(self.schema or batch.schema, batch)
        if self._bytes_per_row == 0.0:
            self._bytes_per_row = max(8.0, batch.nbytes / max(batch.num_rows, 1) * 1.5)
        rows = max(1, min(batch.num_rows, int(budget / self._bytes_per_row)))
        if rows < batch.num_rows:
            self._pending = batch.slice(rows)
            batch = batch.slice(0, rows)
        chunk = self._encoder.encode_rows(batch)
        self._bytes_per_row = 0.5 * self._bytes_per_row + 0.5 * (len(chunk) / rows)
        return chunk

    def _page(self, chunks: list[bytes]) -> QueryResults:
        more = not self._produced_all or self._pending is not None or self._has_buffered()
        done = not more
        if done:
            self.final_page_built = True
        state = self._state(done)
        columns = self._columns()
        return QueryResults(
            id=self.id,
            info_uri=f"{self.base_uri}/v1/query/{self.id}",
            next_uri=None if done else self._uri(self.token + 1),
            partial_cancel_uri=None,
            columns=columns,
            data_json=_join_rows(chunks) if chunks else None,
            stats=self._stats(state),
            error=trino_error(self.error) if done and self.error else None,
            warnings=[],
            update_type=self.update_type,
            update_count=self.update_count if done else None,
            set_headers=self.update if done and self.error is None else None,
        )

    def _has_buffered(self) -> bool:
        return self._receive is not None and self._receive.statistics().current_buffer_used > 0

    def _columns(self) -> list[dict[str, Any]] | None:
        if self._cluster_columns is not None:
            return self._cluster_columns
        if self._encoder is not None:
            return self._encoder.columns
        if self.schema is not None and (self._produced_all or len(self.schema) == 0):
            self._encoder = TrinoEncoder(self.schema, None)
            return self._encoder.columns
        return None

    def _state(self, done: bool) -> str:
        if done:
            return "FAILED" if self.error else "FINISHED"
        status = self.handle.record.status
        return "QUEUED" if status is QueryStatus.QUEUED else "RUNNING"

    def _stats(self, state: str) -> dict[str, Any]:
        record = self.handle.record
        elapsed = int((time.time() - self._started) * 1000)
        queued = state == "QUEUED"
        return {
            "state": state,
            "queued": queued,
            "scheduled": not queued,
            "nodes": 0 if queued else 1,
            "totalSplits": 0,
            "queuedSplits": 0,
            "runningSplits": 0,
            "completedSplits": 0,
            "cpuTimeMillis": 0,
            "wallTimeMillis": elapsed,
            "queuedTimeMillis": int(record.queue_ms) if not queued else elapsed,
            "elapsedTimeMillis": elapsed,
            "processedRows": record.rows_returned,
            "processedBytes": 0,
            "physicalInputBytes": 0,
            "peakMemoryBytes": 0,
            "spilledBytes": 0,
        }

    def stage(self) -> str:
        return "queued" if self.handle.record.status is QueryStatus.QUEUED else "executing"

    def _uri(self, token: int) -> str:
        return f"{self.base_uri}/v1/statement/{self.stage()}/{self.id}/{self.slug}/{token}"

    def cancel(self, reason: CancelReason) -> None:
        self.handle.cancel(reason)

    def is_idle_for(self, seconds: float) -> bool:
        return self.polls_in_flight == 0 and trio.current_time() - self.last_seen > seconds


def _join_rows(chunks: list[bytes]) -> bytes:
    """Merge JSON arrays of rows (`[[..],[..]]`) into one array without re-parsing."""
    if len(chunks) == 1:
        return chunks[0]
    inner = [chunk[1:-1] for chunk in chunks if len(chunk) > 2]
    return b"[" + b",".join(inner) + b"]"
