"""The "query finished" line: written after the frontend's answer, never lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import qflux.dispatch
from qflux.core import FrontendProtocol, QueryRecord, QueryStatus
from qflux.dispatch import FinishedLines


class Lines:
    """Stands in for the module's logger: what it was asked to write, in order."""

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.written.append({"event": event, **fields})


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    lines = Lines()
    monkeypatch.setattr(qflux.dispatch, "log", lines)
    return lines.written


def record(query_id: str) -> QueryRecord:
    done = QueryRecord(id=query_id, protocol=FrontendProtocol.TRINO_HTTP, sql="SELECT 1")
    done.status = QueryStatus.FINISHED
    return done


@asynccontextmanager
async def writing(lines: FinishedLines) -> AsyncIterator[None]:
    """`lines.run` runs in the block and is stopped at its end."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lines.run)
        await trio.testing.wait_all_tasks_blocked()
        yield
        nursery.cancel_scope.cancel()


def finished(logs: list[dict[str, Any]]) -> list[str]:
    return [line["query_id"] for line in logs if line["event"] == "query finished"]


def test_without_a_writer_task_each_line_is_written_at_once(logs: list[dict[str, Any]]) -> None:
    FinishedLines().add(record("q1"))
    assert finished(logs) == ["q1"]


async def test_with_a_writer_the_line_waits_until_the_adding_task_yields(
    logs: list[dict[str, Any]],
) -> None:
    lines = FinishedLines()
    async with writing(lines):
        lines.add(record("q1"))
        lines.add(record("q2"))
        assert finished(logs) == []  # the answer goes out first, in this same step
        await trio.testing.wait_all_tasks_blocked()
        assert finished(logs) == ["q1", "q2"]
        lines.add(record("q3"))  # while the writer rests: written after the rest
        await trio.sleep(0.05)
        assert finished(logs) == ["q1", "q2", "q3"]


async def test_lines_pending_when_the_writer_stops_are_written_then(
    logs: list[dict[str, Any]],
) -> None:
    lines = FinishedLines()
    async with writing(lines):
        lines.add(record("q1"))
    assert finished(logs) == ["q1"]
    lines.add(record("q2"))  # after the writer: at once
    assert finished(logs) == ["q1", "q2"]
