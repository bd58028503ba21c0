"""`Dispatcher.run` on the embedded DuckDB cluster: what leaves the block, what the
record says, and that the group's slot and the log context are given back every way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from structlog.contextvars import get_contextvars

import qflux
from qflux.core import CancelReason, ErrorCode, FrontendProtocol, QueryError, Session
from qflux.server import Server

from .conftest import duckdb_config


@asynccontextmanager
async def server(**group: object) -> AsyncIterator[Server]:
    config = {**duckdb_config(**group), "queryflux": {"frontends": {"trinoHttp": {"port": 0}}}}
    config["queryflux"]["adminApi"] = {"port": 0}
    async with qflux.serve(qflux.load_config(config)) as running:
        yield running


def submit(running: Server, sql: str = "SELECT 42 AS answer"):
    return running.dispatcher.submit(Session(protocol=FrontendProtocol.TRINO_HTTP), sql)


def settled(running: Server) -> None:
    """Nothing holds or waits for a slot, and no query id is left in the log context."""
    group = running.groups["g"]
    assert (group.running, group.queued) == (0, 0)
    assert "query_id" not in get_contextvars()
    assert not running.dispatcher.active


async def test_rows_stream_inside_the_block_and_the_record_finishes():
    async with server() as running:
        handle = submit(running)
        async with running.dispatcher.run(handle) as result:
            assert get_contextvars()["query_id"] == handle.id
            rows = [batch.to_pylist() async for batch in result]
        assert rows == [[{"answer": 42}]]
        assert handle.record.status == "FINISHED"
        assert handle.record.rows_returned == 1
        settled(running)


async def test_an_engine_error_at_start_is_a_query_error_and_the_slot_is_freed():
    async with server() as running:
        handle = submit(running, "SELECT * FROM no_such_table")
        with pytest.raises(QueryError) as raised:
            async with running.dispatcher.run(handle):
                pytest.fail("the block must not run")
        assert raised.value.code is not ErrorCode.INTERNAL
        assert handle.record.status == "FAILED"
        assert "no_such_table" in (handle.record.error or "")
        settled(running)


async def test_a_query_error_from_the_block_leaves_as_it_is():
    async with server() as running:
        handle = submit(running)
        refused = QueryError(ErrorCode.INVALID_ARGUMENT, "the client asked for a bad format")
        with pytest.raises(QueryError) as raised:
            async with running.dispatcher.run(handle):
                raise refused
        assert raised.value is refused
        assert handle.record.status == "FAILED"
        assert handle.record.error == "the client asked for a bad format"
        settled(running)


async def test_a_bug_in_the_block_is_an_internal_error_naming_its_cause():
    async with server() as running:
        handle = submit(running)
        bug = RuntimeError("frontend bug")
        with pytest.raises(QueryError) as raised:
            async with running.dispatcher.run(handle):
                raise bug
        assert raised.value.code is ErrorCode.INTERNAL
        assert raised.value.__cause__ is bug
        assert handle.record.status == "FAILED"
        assert handle.record.error == "internal error: RuntimeError('frontend bug')"
        settled(running)


async def test_cancelling_the_handle_mid_stream_reports_the_reason():
    async with server() as running:
        handle = submit(running, "SELECT * FROM range(10000000)")
        with pytest.raises(QueryError) as raised:
            async with running.dispatcher.run(handle) as result:
                async for _ in result:
                    handle.cancel(CancelReason.CLIENT_CANCEL)
                    await trio.sleep(1)
                    pytest.fail("the cancel must stop the block")
        assert raised.value.code is ErrorCode.CANCELLED
        assert str(CancelReason.CLIENT_CANCEL) in raised.value.message
        assert handle.record.status == "CANCELLED"
        settled(running)


async def test_a_query_cancelled_in_the_queue_never_held_a_slot():
    async with server(maxRunningQueries=1) as running:
        first, second = submit(running), submit(running)
        outcome: list[QueryError] = []

        async def queued() -> None:
            try:
                async with running.dispatcher.run(second):
                    pytest.fail("the second query must not be admitted")
            except QueryError as exc:
                outcome.append(exc)

        async with running.dispatcher.run(first) as result:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(queued)
                await trio.sleep(0.05)
                assert running.groups["g"].queued == 1
                second.cancel(CancelReason.CLIENT_CANCEL)
            async for _ in result:
                pass
        assert [exc.code for exc in outcome] == [ErrorCode.CANCELLED]
        assert second.record.status == "CANCELLED"
        assert second.record.cluster is None
        assert first.record.status == "FINISHED"
        settled(running)


async def test_a_cancel_from_outside_passes_through_and_frees_the_slot():
    async with server() as running:
        handle = submit(running)
        with trio.move_on_after(0.05) as outer:
            async with running.dispatcher.run(handle):
                await trio.sleep_forever()
        assert outer.cancelled_caught  # the caller's own cancel, not turned into an error
        settled(running)
