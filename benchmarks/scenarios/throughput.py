"""Throughput: queries/s and latency at 1, 8 and 64 concurrent clients, per frontend.

The clients must cost far less than the proxy, or the benchmark measures them: the
`trino` client in 64 threads is GIL-bound. So each Trino client here is a Trio task
speaking the Trino REST protocol itself over one raw keep-alive HTTP/1.1 connection
(POST /v1/statement, then GET each `nextUri` until there is none) and parsing only the
JSON it needs; PostgreSQL clients are asyncpg connections (C-accelerated, asyncio, run
after the Trio phases in the same thread). Both sides' CPU time per query is reported,
so a client that became the bottleneck shows. The proxy's CPU comes from
/proc/<pid>/stat (utime + stime, all its threads: Trio and the DuckDB workers).

Each measurement runs a warm-up, then counts the queries that complete inside a fixed
window; after the window the clients finish what they started and stop. "Other load"
is the CPU (in cores) the rest of the machine used during the window: a benchmark
sharing its cores with other work says so instead of just looking slow.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import orjson
import trio

from benchmarks.harness import Proxy, percentiles

CONCURRENCY = (1, 8, 64)
SELECT_1 = "SELECT 1"
#: Small enough to stay CPU-cheap in DuckDB, big enough to be a real plan (Trino SQL).
AGGREGATE = "SELECT count(*), sum(x) FROM UNNEST(sequence(1, 10000)) AS t(x)"
EXPECTED = {SELECT_1: [[1]], AGGREGATE: [[10_000, 50_005_000]]}

CONFIG: dict[str, Any] = {
    "queryflux": {"frontends": {"postgresWire": {"enabled": True}}},
    "clusters": {"duck": {"engine": "duckDb", "maxRunningQueries": 8}},
    "clusterGroups": {"g": {"members": ["duck"], "maxRunningQueries": 8, "maxQueuedQueries": 1000}},
    "routingFallback": "g",
}


class QueryFailed(Exception):
    """The proxy answered with a Trino error (or an HTTP status other than 200)."""


@dataclass
class QueryOutcome:
    id: str
    state: str
    rows: list[Any]
    polls: int  # GETs after the POST


class TrinoConnection:
    """One keep-alive HTTP/1.1 connection speaking the Trino client protocol.

    Deliberately minimal (the proxy always sends Content-Length; no chunked bodies,
    no redirects) so a client costs a small fraction of a query's proxy time.
    """

    def __init__(self, stream: trio.SocketStream, port: int, user: str) -> None:
        self.stream = stream
        self._prefix = f"Host: 127.0.0.1:{port}\r\nX-Trino-User: {user}\r\n"
        self._buffer = bytearray()

    @classmethod
    async def open(cls, port: int, user: str = "bench") -> TrinoConnection:
        return cls(await trio.open_tcp_stream("127.0.0.1", port), port, user)

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request, return (status, body) of its response."""
        head = f"{method} {target} HTTP/1.1\r\n{self._prefix}Content-Length: {len(body)}\r\n\r\n"
        await self.stream.send_all(head.encode() + body)
        buffer = self._buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            await self._fill()
        header = bytes(buffer[:end]).lower()
        status = int(header[9:12])
        start = header.find(b"\r\ncontent-length:")
        if start < 0:
            raise QueryFailed(f"HTTP {status} without Content-Length")
        line_end = header.find(b"\r\n", start + 2)
        length = int(header[start + 17 : line_end if line_end >= 0 else None])
        end += 4
        while len(buffer) < end + length:
            await self._fill()
        payload = bytes(buffer[end : end + length])
        del buffer[: end + length]
        return status, payload

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65_536)
        if not data:
            raise ConnectionError("server closed the connection")
        self._buffer += data

    async def query(self, sql: str) -> QueryOutcome:
        """Submit `sql` and follow `nextUri` to the end; raise QueryFailed on an error."""
        status, body = await self.request("POST", "/v1/statement", sql.encode())
        rows: list[Any] = []
        polls = 0
        while True:
            if status != 200:
                raise QueryFailed(f"HTTP {status}: {body[:200]!r}")
            page = orjson.loads(body)
            if page.get("data"):
                rows += page["data"]
            error = page.get("error")
            if error:
                raise QueryFailed(f"{error.get('errorName')}: {error.get('message')}")
            next_uri = page.get("nextUri")
            if not next_uri:
                return QueryOutcome(page["id"], page["stats"]["state"], rows, polls)
            polls += 1
            status, body = await self.request("GET", next_uri[next_uri.index("/", 8) :])


@dataclass
class Window:
    """What one load window counted."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"


def proxy_cpu_secs(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_secs() -> float:
    """CPU time every process on the machine has used (all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Meter:
    """Proxy, client and everything else's CPU plus wall time over a window.

    "Other" is the rest of the machine (other processes): when it is high, the
    numbers were taken on a busy machine and say so.
    """

    pid: int
    wall: float = 0.0
    proxy_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0

    def start(self) -> None:
        self.wall, self.proxy_cpu = time.perf_counter(), proxy_cpu_secs(self.pid)
        self.client_cpu, self.machine_cpu = time.process_time(), machine_busy_secs()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.wall
        self.proxy_cpu = proxy_cpu_secs(self.pid) - self.proxy_cpu
        self.client_cpu = time.process_time() - self.client_cpu
        self.machine_cpu = machine_busy_secs() - self.machine_cpu

    @property
    def other_cores(self) -> float:
        return max(0.0, self.machine_cpu - self.proxy_cpu - self.client_cpu) / self.wall


def summarize(window: Window, meter: Meter) -> dict[str, Any]:
    done = len(window.latencies_ms)
    per_query = 1000 / done if done else float("nan")
    p = percentiles(window.latencies_ms) if done else {"p50": float("nan"), "p99": float("nan")}
    return {
        "queries": done,
        "qps": done / meter.wall,
        "p50_ms": p["p50"],
        "p99_ms": p["p99"],
        "errors": window.errors,
        "first_error": window.first_error,
        "proxy_cpu_ms_per_query": meter.proxy_cpu * per_query,
        "client_cpu_ms_per_query": meter.client_cpu * per_query,
        "proxy_cores": meter.proxy_cpu / meter.wall,
        "other_cores": meter.other_cores,
    }


# -- Trino HTTP ----------------------------------------------------------------


async def trino_load(
    port: int, pid: int, sql: str, clients: int, warmup: float, seconds: float
) -> dict[str, Any]:
    """`clients` tasks, each on its own connection, submitting `sql` back to back."""
    window = Window()
    meter = Meter(pid)
    measuring = False
    window_end = trio.current_time() + warmup + seconds

    async def client() -> None:
        conn = await TrinoConnection.open(port)
        try:
            while trio.current_time() < window_end:
                started = time.perf_counter()
                try:
                    await conn.query(sql)
                except (QueryFailed, OSError, ConnectionError, trio.BrokenResourceError) as exc:
                    if measuring:
                        window.error(exc)
                    await conn.aclose()
                    conn = await TrinoConnection.open(port)
                    continue
                if measuring and trio.current_time() < window_end:
                    window.latencies_ms.append((time.perf_counter() - started) * 1000)
        finally:
            await conn.aclose()

    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(client)
        await trio.sleep(warmup)
        measuring = True
        meter.start()
        await trio.sleep_until(window_end)
        meter.stop()
        measuring = False
    return summarize(window, meter)


# -- PostgreSQL wire ------------------------------------------------------------


async def pg_load(
    port: int, pid: int, sql: str, clients: int, warmup: float, seconds: float
) -> dict[str, Any]:
    """The same measurement with asyncpg connections (extended protocol, prepared once)."""
    import asyncpg

    loop = asyncio.get_running_loop()
    window = Window()
    meter = Meter(pid)
    measuring = False
    window_end = loop.time() + warmup + seconds

    def connect() -> Awaitable[asyncpg.Connection]:
        return asyncpg.connect(
            host="127.0.0.1", port=port, user="bench", database="memory", ssl=False
        )

    async def client() -> None:
        conn = await connect()
        try:
            while loop.time() < window_end:
                started = time.perf_counter()
                try:
                    await conn.fetch(sql)
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                    if measuring:
                        window.error(exc)
                    if conn.is_closed():
                        conn = await connect()
                    continue
                if measuring and loop.time() < window_end:
                    window.latencies_ms.append((time.perf_counter() - started) * 1000)
        finally:
            await conn.close()

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(warmup)
    measuring = True
    meter.start()
    await asyncio.sleep(max(0.0, window_end - loop.time()))
    meter.stop()
    measuring = False
    await asyncio.gather(*tasks)
    return summarize(window, meter)


# -- the scenario ----------------------------------------------------------------


async def check_trino(port: int, sql: str) -> None:
    """The load loops ignore results, so check once that the path answers correctly."""
    conn = await TrinoConnection.open(port)
    try:
        rows = (await conn.query(sql)).rows
    finally:
        await conn.aclose()
    if [[int(value) for value in row] for row in rows] != EXPECTED[sql]:
        raise AssertionError(f"{sql!r} returned {rows!r} through qflux")


async def check_pg(port: int, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user="bench", database="memory", ssl=False
    )
    try:
        rows = [list(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()
    if rows != EXPECTED[sql]:
        raise AssertionError(f"{sql!r} returned {rows!r} through qflux")


def run(options: argparse.Namespace) -> dict[str, Any]:
    seconds = 2.0 if options.quick else 10.0
    warmup = 0.5 if options.quick else 1.0
    rows: list[dict[str, Any]] = []
    with Proxy(CONFIG) as proxy:
        trino_port, pg_port = proxy.port("trinoHttp"), proxy.port("postgresWire")
        paths: list[tuple[str, str, str, int]] = [
            ("trino http", "SELECT 1", SELECT_1, trino_port),
            ("trino http", "aggregate", AGGREGATE, trino_port),
            ("postgres wire", "SELECT 1", SELECT_1, pg_port),
        ]
        for frontend, label, sql, port in paths:
            if frontend == "trino http":
                trio.run(check_trino, port, sql)
            else:
                asyncio.run(check_pg(port, sql))
            for clients in CONCURRENCY:
                if frontend == "trino http":
                    result = trio.run(trino_load, port, proxy.pid, sql, clients, warmup, seconds)
                else:
                    result = asyncio.run(pg_load(port, proxy.pid, sql, clients, warmup, seconds))
                rows.append({"frontend": frontend, "query": label, "clients": clients, **result})
                print(f"   {frontend}, {label}, {clients} clients: {result['qps']:,.0f} q/s",
                      file=sys.stderr, flush=True)  # fmt: skip
        rss = proxy.rss_mb()
        peak = proxy.peak_rss_mb()
    return {
        "window_secs": seconds,
        "warmup_secs": warmup,
        "queries": {"SELECT 1": SELECT_1, "aggregate": AGGREGATE},
        "config": CONFIG,
        "rows": rows,
        "proxy_rss_mb": rss,
        "proxy_peak_rss_mb": peak,
        "cpus": os.cpu_count(),
    }


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        f"| throughput, {result['window_secs']:g} s per row, DuckDB | clients | q/s "
        "| p50 ms | p99 ms | errors | proxy CPU ms/q | client CPU ms/q | proxy cores "
        "| other load (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['frontend']}, {row['query']} | {row['clients']} | {row['qps']:,.0f} "
            f"| {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['errors']} "
            f"| {row['proxy_cpu_ms_per_query']:.2f} | {row['client_cpu_ms_per_query']:.2f} "
            f"| {row['proxy_cores']:.2f} | {row['other_cores']:.2f} |"
        )
    return lines
