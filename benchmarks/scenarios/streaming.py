"""Large results through each frontend: rows/s against the same client going direct,
and the proxy's peak memory, which must not grow with the result (1M vs 10M rows).

- Trino HTTP: the `trino` client directly against a coordinator (the mock one, which
  sends the rows as fast as it can, typed and encoded as qflux sends them), against the
  same client through qflux to that coordinator (Trino engine, pages passed through),
  and through qflux from its embedded DuckDB. DuckDB's own Python fetch in process is
  shown for scale: it is no Trino client, so it sets no ratio.
- PostgreSQL wire: psycopg streaming (`cursor.stream`) from PostgreSQL through qflux
  (postgres engine) against psycopg streaming from PostgreSQL directly: same client,
  same server, same rows.

Each row count gets a fresh proxy, so its peak RSS (VmHWM) belongs to that size alone.
Targets (reported, not asserted): >= 50% of the direct rows/s, peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

import duckdb
import psycopg
import trino

from benchmarks.harness import Proxy, free_port
from benchmarks.scenarios.trino_overhead import wait_for_coordinator

POSTGRES = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TARGET_RATIO = 0.5
TARGET_RSS_MB = 300.0


def run(options: argparse.Namespace) -> dict[str, Any]:
    sizes = [options.rows] if options.rows else ([200_000, 1_000_000] if options.quick
                                                 else [1_000_000, 10_000_000])  # fmt: skip
    return {"sizes": [_size(rows) for rows in sizes]}


def _size(rows: int) -> dict[str, Any]:
    port = free_port()
    coordinator = subprocess.Popen([sys.executable, "-m", "benchmarks.mock_trino", str(port)])
    try:
        wait_for_coordinator(port)
        return _measure(rows, port)
    finally:
        coordinator.terminate()
        coordinator.wait(timeout=10)


def _measure(rows: int, coordinator_port: int) -> dict[str, Any]:
    config = {
        "queryflux": {"frontends": {"postgresWire": {"enabled": True}}},
        "clusters": {
            "duck": {"engine": "duckDb", "maxRunningQueries": 4},
            "pg": {
                "engine": "postgres",
                "endpoint": "postgresql://postgres@127.0.0.1:5432/postgres",
            },
            "coordinator": {
                "engine": "trino",
                "endpoint": f"http://127.0.0.1:{coordinator_port}",
            },
        },
        "clusterGroups": {
            "duckdb": {"members": ["duck"], "maxRunningQueries": 4},
            "postgres": {"members": ["pg"], "maxRunningQueries": 4},
            "trino": {"members": ["coordinator"], "maxRunningQueries": 4},
        },
        "routers": [
            {
                "type": "header",
                "headerName": "X-Trino-Source",
                "headerValueToGroup": {"coordinator": "trino"},
            },
            {"type": "protocolBased", "trinoHttp": "duckdb", "postgresWire": "postgres"},
        ],
        "routingFallback": "duckdb",
    }
    out: dict[str, Any] = {"rows": rows}
    with Proxy(config) as proxy:
        out["proxy RSS before MB"] = proxy.rss_mb()
        duck_sql = f"SELECT i, 'row-' || i AS label, i * 0.5 AS half FROM range({rows}) t(i)"
        out["direct duckdb rows/s"] = _rate(rows, lambda: _duckdb_rows(duck_sql))
        out["trino client direct rows/s"] = _rate(
            rows, lambda: _trino_rows(coordinator_port, duck_sql)
        )
        out["trino client via qflux to the coordinator rows/s"] = _rate(
            rows, lambda: _trino_rows(proxy.port(), duck_sql, source="coordinator")
        )
        out["trino client via qflux rows/s"] = _rate(
            rows, lambda: _trino_rows(proxy.port(), duck_sql)
        )
        pg_sql = (
            f"SELECT i, 'row-' || i AS label, i * 0.5 AS half FROM generate_series(1, {rows}) i"
        )
        out["direct psycopg rows/s"] = _rate(rows, lambda: _psycopg_rows(POSTGRES, pg_sql))
        via = f"host=127.0.0.1 port={proxy.port('postgresWire')} user=postgres dbname=postgres"
        out["psycopg via qflux rows/s"] = _rate(rows, lambda: _psycopg_rows(via, pg_sql))
        out["proxy peak RSS MB"] = proxy.peak_rss_mb()
    direct = out["trino client direct rows/s"]
    out["trino passthrough ratio"] = (
        out["trino client via qflux to the coordinator rows/s"] / direct
    )
    out["trino ratio"] = out["trino client via qflux rows/s"] / direct
    out["postgres ratio"] = out["psycopg via qflux rows/s"] / out["direct psycopg rows/s"]
    return out


def _rate(rows: int, fetch: Any) -> float:
    started = time.perf_counter()
    count = fetch()
    assert count == rows, (count, rows)
    return rows / (time.perf_counter() - started)


def _duckdb_rows(sql: str) -> int:
    cursor = duckdb.connect().execute(sql)
    return sum(len(chunk) for chunk in iter(lambda: cursor.fetchmany(50_000), []))


def _trino_rows(port: int, sql: str, source: str = "bench") -> int:
    connection = trino.dbapi.connect(host="127.0.0.1", port=port, user="bench", source=source)
    cursor = connection.cursor()
    cursor.execute(sql)
    return sum(len(chunk) for chunk in iter(lambda: cursor.fetchmany(50_000), []))


def _psycopg_rows(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        return sum(1 for _ in cursor.stream(sql))


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "| streaming | rows | direct rows/s | via qflux rows/s | ratio | proxy RSS before / peak |",
        "|---|---|---|---|---|---|",
    ]
    for size in result["sizes"]:
        rss = f"{size['proxy RSS before MB']:.0f} / {size['proxy peak RSS MB']:.0f} MB"
        n, direct = f"{size['rows']:,}", f"{size['trino client direct rows/s']:,.0f}"
        lines += [
            f"| trino client, coordinator -> qflux (Trino engine) | {n} | {direct} |"
            f" {size['trino client via qflux to the coordinator rows/s']:,.0f} |"
            f" {size['trino passthrough ratio']:.2f} | {rss} |",
            f"| trino client, DuckDB in qflux | {n} | {direct} |"
            f" {size['trino client via qflux rows/s']:,.0f} | {size['trino ratio']:.2f} | {rss} |",
            f"| psycopg (PostgreSQL) | {n} | {size['direct psycopg rows/s']:,.0f} |"
            f" {size['psycopg via qflux rows/s']:,.0f} | {size['postgres ratio']:.2f} | {rss} |",
        ]
    scale = ", ".join(f"{s['direct duckdb rows/s']:,.0f}" for s in result["sizes"])
    lines.append(
        "direct rows/s for the trino client: the same client straight to the coordinator;"
        f" DuckDB's own in-process fetch, for scale: {scale} rows/s"
    )
    largest = result["sizes"][-1]
    ratio = min(
        largest["trino ratio"], largest["trino passthrough ratio"], largest["postgres ratio"]
    )
    rss = largest["proxy peak RSS MB"]
    lines.append(
        f"targets: >= {TARGET_RATIO:.0%} of direct: {'met' if ratio >= TARGET_RATIO else 'missed'}"
        f" (worst {ratio:.2f}); peak RSS < {TARGET_RSS_MB:.0f} MB:"
        f" {'met' if rss < TARGET_RSS_MB else 'missed'} ({rss:.0f} MB)"
    )
    return lines
