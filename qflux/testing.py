"""Run qflux for a test suite that is not Trio: a server on a background thread.

    with qflux.testing.serve_in_thread(config) as proxy:
        conn = trino.dbapi.connect(host="127.0.0.1", port=proxy.port("trinoHttp"), user="me")

The server runs its own `trio.run` on a daemon thread; the context manager returns
once every port is bound and stops the server (draining) when the block exits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from os import PathLike
from typing import Any

import trio

from qflux.config import Config, default_config, load_config
from qflux.server import Server, serve

#: Ports every test server should use unless told otherwise: all ephemeral, so tests
#: run in parallel and never collide with a qflux (or Trino) already on the machine.
EPHEMERAL_PORTS = {
    "queryflux": {
        "frontends": {"trinoHttp": {"port": 0}, "postgresWire": {"port": 0}},
        "adminApi": {"port": 0},
        "shutdownGraceSecs": 5,
    }
}


class ThreadedServer:
    """Handle on a server running on another thread; safe to call from the test's thread."""

    def __init__(self, server: Server, token: trio.lowlevel.TrioToken) -> None:
        self.server = server
        self._token = token

    def address(self, name: str = "trinoHttp") -> tuple[str, int]:
        return self.server.address(name)

    def port(self, name: str = "trinoHttp") -> int:
        return self.server.address(name)[1]

    def url(self, name: str = "trinoHttp") -> str:
        return self.server.url(name)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run a sync function on the server's Trio thread (e.g. to read live state)."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def call_async(self, afn: Any, *args: Any) -> Any:
        """Run an async function on the server's Trio thread and wait for it."""
        return trio.from_thread.run(afn, *args, trio_token=self._token)


def with_ephemeral_ports(config: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge EPHEMERAL_PORTS under `config` (explicit ports in `config` win)."""
    return _merge(EPHEMERAL_PORTS, config)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@contextmanager
def serve_in_thread(
    config: Config | Mapping[str, Any] | str | PathLike[str] | None = None,
    *,
    startup_timeout: float = 30.0,
) -> Iterator[ThreadedServer]:
    """Start qflux on a daemon thread; `None` is the embedded default on ephemeral ports."""
    if config is None:
        config = load_config(with_ephemeral_ports({}) | _default_sections())
    elif isinstance(config, Mapping) or not isinstance(config, Config):
        config = load_config(config)
    ready = threading.Event()
    stop = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        try:
            async with serve(config) as server:
                box["handle"] = ThreadedServer(server, trio.lowlevel.current_trio_token())
                ready.set()
                await trio.to_thread.run_sync(stop.wait)
        except BaseException as exc:  # surfaced to the caller's thread below
            box["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=trio.run, args=(main,), name="qflux-server", daemon=True)
    thread.start()
    if not ready.wait(startup_timeout):
        raise TimeoutError(f"qflux did not start within {startup_timeout}s")
    if "error" in box:
        raise box["error"]
    try:
        yield box["handle"]
    finally:
        stop.set()
        thread.join(timeout=60)
        if "error" in box:
            raise box["error"]


def _default_sections() -> dict[str, Any]:
    """The embedded default's clusters, groups and fallback, as a mapping."""
    from qflux.config import config_to_dict

    data = config_to_dict(default_config())
    data.pop("queryflux", None)
    return data


def pgbench_tables(accounts: int = 100_000) -> tuple[str, ...]:
    """DuckDB DDL for the tables `pgbench -S` reads (pgbench's own `-i` needs features
    DuckDB lacks), with `accounts` rows in pgbench_accounts and the primary keys `-i`
    creates, which a point query's plan uses: for tests and benchmarks."""
    return (
        "CREATE TABLE pgbench_branches(bid INTEGER PRIMARY KEY, bbalance INTEGER, filler VARCHAR)",
        "INSERT INTO pgbench_branches SELECT i, 0, '' FROM range(1, 2) t(i)",
        "CREATE TABLE pgbench_tellers(tid INTEGER PRIMARY KEY, bid INTEGER, tbalance INTEGER,"
        " filler VARCHAR)",
        "INSERT INTO pgbench_tellers SELECT i, 1, 0, '' FROM range(1, 11) t(i)",
        "CREATE TABLE pgbench_accounts(aid INTEGER PRIMARY KEY, bid INTEGER, abalance INTEGER,"
        " filler VARCHAR)",
        f"INSERT INTO pgbench_accounts SELECT i, 1, 0, '' FROM range(1, {accounts + 1}) t(i)",
        "CREATE TABLE pgbench_history(tid int, bid int, aid int, delta int, mtime timestamp,"
        " filler varchar)",
    )
