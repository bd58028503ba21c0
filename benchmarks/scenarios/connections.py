"""Connections: proxy memory per idle client connection, and cold start to ready.

A proxy in front of BI tools and pooled drivers holds many connections that do nothing
most of the time, so their cost must be small (target < 50 KB each). Both kinds are
real sessions, not bare TCP: PostgreSQL-wire connections complete the startup handshake
(StartupMessage, trust auth, ParameterStatus ... ReadyForQuery), Trino HTTP connections
stay open (keep-alive) after one request each. Raw sockets on Trio keep the client side
cheap and avoid any client-side pooling. RSS is read after a warm-up session of each
kind (so one-off imports and caches are not billed to connections) and again after
each batch of `CONNECTIONS`; the difference per connection is reported.

Cold start is spawn to the "qflux ready" log line with the embedded default config
(`Proxy.ready_secs`), min and median of `STARTS` (target < 1 s), both as Python runs in
this environment and with a bytecode cache; for attribution, the time for a fresh
interpreter just to import qflux's server is measured too.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import trio

from benchmarks.harness import Proxy
from benchmarks.scenarios.throughput import TrinoConnection

CONNECTIONS = 1000
STARTS = 5
KB_TARGET = 50.0
READY_TARGET_S = 1.0
#: Handshakes in flight at once: fast, without overrunning the listen backlog.
OPENING = 64
CONFIG: dict[str, Any] = {
    "queryflux": {"frontends": {"postgresWire": {"enabled": True}}},
    "clusters": {"duck": {"engine": "duckDb", "maxRunningQueries": 8}},
    "clusterGroups": {"g": {"members": ["duck"], "maxRunningQueries": 8}},
    "routingFallback": "g",
}


def raise_fd_limit(needed: int) -> None:
    """Lift the soft fd limit (inherited by the proxy) to hold `needed` descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# -- PostgreSQL wire: a raw session up to ReadyForQuery --------------------------


def startup_message(user: str, database: str) -> bytes:
    """Protocol 3.0 StartupMessage."""
    params = f"user\0{user}\0database\0{database}\0\0".encode()
    body = struct.pack("!i", 196_608) + params
    return struct.pack("!i", len(body) + 4) + body


async def read_until(stream: trio.SocketStream, kind: bytes) -> None:
    """Read backend messages up to and including the first of type `kind`."""
    buffer = bytearray()
    while True:
        while len(buffer) >= 5:
            length = int.from_bytes(buffer[1:5], "big")
            if len(buffer) < 1 + length:
                break
            tag, body = buffer[:1], bytes(buffer[5 : 1 + length])
            del buffer[: 1 + length]
            if tag == b"E":
                raise RuntimeError(f"server error: {body!r}")
            if tag == b"R" and body[:4] != b"\0\0\0\0":
                raise RuntimeError("server asked for a password; the benchmark expects trust")
            if tag == kind:
                return
        data = await stream.receive_some(65_536)
        if not data:
            raise ConnectionError("server closed the connection")
        buffer += data


async def pg_session(port: int) -> trio.SocketStream:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(startup_message("bench", "memory"))
    await read_until(stream, b"Z")
    return stream


async def pg_query(stream: trio.SocketStream, sql: str) -> None:
    """A simple-protocol query, read to ReadyForQuery."""
    body = sql.encode() + b"\0"
    await stream.send_all(b"Q" + struct.pack("!i", len(body) + 4) + body)
    await read_until(stream, b"Z")


# -- Trino HTTP: a keep-alive connection after one request -----------------------


async def http_session(port: int) -> TrinoConnection:
    conn = await TrinoConnection.open(port)
    status, _ = await conn.request("GET", "/v1/info")
    if status != 200:
        raise RuntimeError(f"GET /v1/info answered {status}")
    return conn


# -- measurement -----------------------------------------------------------------


async def open_many(opener: Callable[[], Awaitable[Any]], count: int) -> list[Any]:
    limiter = trio.CapacityLimiter(OPENING)
    opened: list[Any] = []

    async def one() -> None:
        async with limiter:
            opened.append(await opener())

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(one)
    return opened


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def idle_memory(proxy: Proxy) -> dict[str, Any]:
    pg_port, http_port = proxy.port("postgresWire"), proxy.port("trinoHttp")
    # Warm-up: one full session of each kind, so lazy imports are not per-connection cost.
    stream = await pg_session(pg_port)
    await pg_query(stream, "SELECT 1")
    await stream.aclose()
    warm = await http_session(http_port)
    await warm.query("SELECT 1")
    await warm.aclose()
    await trio.sleep(0.5)

    steps: list[dict[str, Any]] = [
        {"step": "baseline", "rss_mb": proxy.rss_mb(), "fds": fds(proxy.pid)}
    ]
    held: list[Any] = []
    batches = [
        ("PostgreSQL wire, after startup", lambda: pg_session(pg_port)),
        ("Trino HTTP keep-alive, after 1 request", lambda: http_session(http_port)),
    ]
    for label, opener in batches:
        held += await open_many(opener, CONNECTIONS)
        await trio.sleep(1.0)  # let the proxy settle (tasks parked, buffers released)
        rss = proxy.rss_mb()
        before = steps[-1]["rss_mb"]
        steps.append(
            {
                "step": label,
                "rss_mb": rss,
                "fds": fds(proxy.pid),
                "kb_per_connection": (rss - before) * 1024 / CONNECTIONS,
            }
        )
    for conn in held:
        await conn.aclose()
    await trio.sleep(1.0)
    steps.append({"step": "all closed", "rss_mb": proxy.rss_mb(), "fds": fds(proxy.pid)})
    return {"connections": CONNECTIONS, "steps": steps}


@contextmanager
def environment(changes: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for child processes."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        _set_environment(changes)
        yield
    finally:
        _set_environment(saved)


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def cold_starts(count: int) -> dict[str, dict[str, Any]]:
    """Spawn-to-ready times, interleaved, as this environment runs Python and with a
    bytecode cache (as a wheel install has; an editable checkout under
    PYTHONDONTWRITEBYTECODE recompiles every module at every start)."""
    with tempfile.TemporaryDirectory(prefix="qflux-pyc-") as cache:
        modes: dict[str, dict[str, str | None]] = {
            "as run here": {},
            "with a bytecode cache": {
                "PYTHONPYCACHEPREFIX": cache,
                "PYTHONDONTWRITEBYTECODE": None,
            },
        }
        with environment(modes["with a bytecode cache"]), Proxy():
            pass  # fills the cache
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        rss: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(count):
            for mode, changes in modes.items():
                with environment(changes), Proxy() as proxy:
                    times[mode].append(proxy.ready_secs)
                    rss[mode].append(proxy.rss_mb())
    return {
        mode: {
            "secs": times[mode],
            "min_s": min(times[mode]),
            "median_s": statistics.median(times[mode]),
            "rss_mb": statistics.median(rss[mode]),
        }
        for mode in modes
    }


def import_secs() -> float:
    """How long a fresh interpreter takes to import qflux's server and CLI (timed inside)."""
    timed = "import time; t = time.perf_counter(); import qflux.cli, qflux.server; "
    timed += "print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", timed], check=True, capture_output=True)
    return float(out.stdout)


def run(options: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit(2 * CONNECTIONS + 1024)
    with Proxy(CONFIG) as proxy:
        memory = trio.run(idle_memory, proxy)
    return {
        **memory,
        "kb_target": KB_TARGET,
        "starts": STARTS,
        "ready": cold_starts(STARTS),
        "ready_target_s": READY_TARGET_S,
        "interpreter_and_imports_s": min(import_secs() for _ in range(3)),
    }


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def markdown(result: dict[str, Any]) -> list[str]:
    n = result["connections"]
    lines = [
        f"| connections: proxy RSS with {n:,} idle clients | RSS MB | fds | KB/connection "
        "| target |",
        "|---|---|---|---|---|",
    ]
    for step in result["steps"]:
        kb = step.get("kb_per_connection")
        target = (
            f"< {result['kb_target']:g} KB: {_verdict(kb < result['kb_target'])}"
            if kb is not None
            else ""
        )
        kb_cell = f"{kb:.1f}" if kb is not None else ""
        label = step["step"] if kb is None else f"+{n:,} {step['step']}"
        lines.append(f"| {label} | {step['rss_mb']:.1f} | {step['fds']} | {kb_cell} | {target} |")
    target = result["ready_target_s"]
    lines += [
        "",
        f"| cold start to ready, {result['starts']} starts, default config | min / median s "
        "| RSS at ready | target (median) |",
        "|---|---|---|---|",
    ]
    for mode, ready in result["ready"].items():
        lines.append(
            f"| spawn to `qflux ready`, {mode} | {ready['min_s']:.2f} / {ready['median_s']:.2f} "
            f"| {ready['rss_mb']:.0f} MB | < {target:g} s: {_verdict(ready['median_s'] < target)} |"
        )
    lines.append(
        "| of which `import qflux.cli, qflux.server`, as run here (min of 3) "
        f"| {result['interpreter_and_imports_s']:.2f} | | |"
    )
    return lines
