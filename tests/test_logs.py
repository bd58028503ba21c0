"""The per-second caches on the per-query path: log timestamps and query ids."""

from __future__ import annotations

import datetime
import re

import pytest

import qflux.core as core
import qflux.logs as logs

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def stamp(stamper: logs.IsoUtcStamper) -> str:
    return stamper(None, "info", {})["timestamp"]


def test_timestamp_is_iso_utc_with_microseconds_and_now() -> None:
    before = datetime.datetime.now(datetime.UTC)
    text = stamp(logs.IsoUtcStamper())
    after = datetime.datetime.now(datetime.UTC)
    assert ISO_UTC.fullmatch(text), text
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert before - datetime.timedelta(microseconds=1) <= parsed <= after


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (1_700_000_000.0, "2023-11-14T22:13:20.000000Z"),
        (1_700_000_000.000042, "2023-11-14T22:13:20.000042Z"),
        (1_700_000_000.999999, "2023-11-14T22:13:20.999999Z"),
        (1_700_000_001.5, "2023-11-14T22:13:21.500000Z"),  # the next second is formatted anew
        (1_700_000_000.25, "2023-11-14T22:13:20.250000Z"),  # and so is going back to one
    ],
)
def test_timestamp_follows_the_clock_across_seconds(
    monkeypatch: pytest.MonkeyPatch, now: float, expected: str
) -> None:
    stamper = logs.IsoUtcStamper()
    monkeypatch.setattr(logs.time, "time", lambda: 1_700_000_001.0)
    stamp(stamper)  # a cached second other than the one asked for next
    monkeypatch.setattr(logs.time, "time", lambda: now)
    assert stamp(stamper) == expected


def test_query_ids_take_the_current_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.time, "time", lambda: 1_700_000_000.4)
    first = core.new_query_id()
    monkeypatch.setattr(core.time, "time", lambda: 1_700_000_061.9)
    second = core.new_query_id()
    shape = re.compile(r"\d{8}_\d{6}_\d{5}_[0-9a-f]{5}")
    assert shape.fullmatch(first) and shape.fullmatch(second)
    assert first.startswith("20231114_221320_")
    assert second.startswith("20231114_221421_")
    assert int(second.split("_")[2]) == (int(first.split("_")[2]) + 1) % 100_000


def test_a_running_query_names_itself_in_log_context_and_only_while_it_runs(proxy) -> None:
    """Log lines written while a query runs (engines included) carry its id; the task's
    own context is as it was afterwards, as a PostgreSQL session's task runs many."""
    from structlog.contextvars import bind_contextvars, get_contextvars

    from qflux.core import FrontendProtocol, Session

    async def run_one() -> tuple[str, dict, dict, dict]:
        dispatcher = proxy.server.dispatcher
        bind_contextvars(peer="client-1")
        before = dict(get_contextvars())
        handle = dispatcher.submit(Session(protocol=FrontendProtocol.TRINO_HTTP), "SELECT 1")
        async with dispatcher.run(handle) as result:
            during = dict(get_contextvars())
            async for _ in result:
                pass
        return handle.id, before, during, dict(get_contextvars())

    query_id, before, during, after = proxy.call_async(run_one)
    assert during == {**before, "query_id": query_id}
    assert after == before == {"peer": "client-1"}
