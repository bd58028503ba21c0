"""Trino -> DuckDB translation cost per query: cold (parse + write) and cached."""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.harness import percentiles

TPCH_Q5 = """
SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM customer, orders, lineitem, supplier, nation, region
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey
  AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey
  AND n_regionkey = r_regionkey AND r_name = 'ASIA'
  AND o_orderdate >= date '1994-01-01' AND o_orderdate < date '1994-01-01' + interval '1' year
GROUP BY n_name ORDER BY revenue DESC
"""


def run(options: argparse.Namespace) -> dict[str, Any]:
    from qflux.translate import Translator

    out: dict[str, Any] = {"unit": "ms"}
    rounds = 50 if options.quick else 300
    for name, sql in {"simple": "SELECT approx_distinct(x) FROM t", "tpch q5": TPCH_Q5}.items():
        cold, warm = [], []
        for i in range(rounds):
            translator = Translator()
            variant = f"{sql} -- {i}"  # a distinct text each round: a true cache miss
            start = time.perf_counter()
            translator.translate(variant, "trino", "duckdb")
            cold.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            translator.translate(variant, "trino", "duckdb")
            warm.append((time.perf_counter() - start) * 1000)
        out[name] = {"cold": percentiles(cold), "cached": percentiles(warm)}
    return out


def markdown(result: dict[str, Any]) -> list[str]:
    lines = ["| translation trino -> duckdb (ms) | p50 | p99 |", "|---|---|---|"]
    for name in ("simple", "tpch q5"):
        for kind in ("cold", "cached"):
            p = result[name][kind]
            lines.append(f"| {name}, {kind} | {p['p50']:.4f} | {p['p99']:.4f} |")
    return lines
