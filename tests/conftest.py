"""Shared fixtures: qflux servers on background threads, driven by real clients."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, NoReturn

import duckdb
import pytest

from qflux.logs import configure_logging
from qflux.testing import ThreadedServer, serve_in_thread, with_ephemeral_ports

configure_logging("json", "warning")

ProxyFactory = Callable[[dict[str, Any]], AbstractContextManager[ThreadedServer]]


def duckdb_config(**group: Any) -> dict[str, Any]:
    """One in-memory DuckDB cluster in group `g` (group settings from kwargs)."""
    return {
        "clusters": {"duck": {"engine": "duckDb", "maxRunningQueries": 8}},
        "clusterGroups": {"g": {"members": ["duck"], "maxRunningQueries": 8, **group}},
        "routingFallback": "g",
    }


@pytest.fixture
def make_proxy() -> ProxyFactory:
    """Start a server for a config mapping (ports made ephemeral); stops at block end."""

    def factory(config: dict[str, Any]) -> AbstractContextManager[ThreadedServer]:
        return serve_in_thread(with_ephemeral_ports(config))

    return factory


@pytest.fixture(scope="module")
def proxy() -> Iterator[ThreadedServer]:
    """A shared default-shaped server for tests that only run queries."""
    with serve_in_thread(with_ephemeral_ports(duckdb_config())) as server:
        yield server


@pytest.fixture
def named_duckdb_files(tmp_path: Any) -> Callable[..., dict[str, str]]:
    """DuckDB database files that each hold `whoami(name)`, so a query sees where it ran."""

    def make(*names: str) -> dict[str, str]:
        paths = {}
        for name in names:
            path = str(tmp_path / f"{name}.duckdb")
            with duckdb.connect(path) as conn:
                conn.execute("CREATE TABLE whoami AS SELECT ? AS name", [name])
            paths[name] = path
        return paths

    return make


def service_unavailable(reason: str) -> NoReturn:
    """Skip a test whose service is missing, or fail it where services are required (CI)."""
    if os.environ.get("QFLUX_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def record_of(proxy: ThreadedServer, query_id: str) -> Any:
    """The query's history record, read on the server's own thread."""
    return proxy.call(proxy.server.dispatcher.history.get, query_id)


def group_load(proxy: ThreadedServer, group: str = "g") -> tuple[int, int]:
    """(running, queued) of a group, read on the server's thread."""

    def read() -> tuple[int, int]:
        state = proxy.server.groups[group]
        return state.running, state.queued

    return proxy.call(read)
