"""`SELECT 1` through the Trino HTTP frontend to embedded DuckDB, against DuckDB in process."""

from __future__ import annotations

import argparse
from typing import Any

import duckdb
import trino

from benchmarks.harness import Proxy, interleaved, latency_table, overhead


def run(options: argparse.Namespace) -> dict[str, Any]:
    with Proxy() as proxy:
        direct = duckdb.connect()
        cursor = trino.dbapi.connect(host="127.0.0.1", port=proxy.port(), user="bench").cursor()

        def via_qflux() -> None:
            cursor.execute("SELECT 1")
            cursor.fetchall()

        samples = interleaved(
            {
                "direct duckdb": lambda: direct.sql("SELECT 1").fetchall(),
                "trino client via qflux": via_qflux,
            },
            iterations=100 if options.quick else 500,
            warmup=20 if options.quick else 50,
        )
    return overhead(samples, "direct duckdb", "trino client via qflux")


def markdown(result: dict[str, Any]) -> list[str]:
    return latency_table("SELECT 1, DuckDB", result)
