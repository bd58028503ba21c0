"""qflux benchmarks: the cost of going through the proxy, measured against going direct.

    python benchmarks/run.py            # every scenario
    python benchmarks/run.py --quick    # fewer iterations, smaller results
    python benchmarks/run.py latency    # one scenario

The proxy runs as its own process (`qflux serve`, embedded DuckDB) so its memory is
measured apart from the client's. Each scenario runs the direct path and the proxied
path in one run, interleaved, after a warm-up. Results: a markdown table on stdout
and a JSON file (with machine info) under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import trino

RESULTS = Path(__file__).resolve().parent / "results"


class Proxy:
    """`qflux serve` in a subprocess on ephemeral ports; its log goes to a file."""

    def __init__(self) -> None:
        self.log = tempfile.NamedTemporaryFile("w+", prefix="qflux-bench-", suffix=".log")  # noqa: SIM115 - lives as long as the proxy
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qflux.cli", "serve", "--host", "127.0.0.1",
             "--trino-port", "0", "--admin-port", "0", "--log-format", "json",
             "--log-level", "info"],
            stderr=self.log,
        )  # fmt: skip
        self.port = self._wait_ready()

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            for line in self.log:
                event = json.loads(line)
                if event.get("event") == "qflux ready":
                    return int(event["trinoHttp"].rsplit(":", 1)[1])
            if self.process.poll() is not None:
                raise RuntimeError(f"qflux exited with {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError("qflux did not start")

    def peak_rss_mb(self) -> float:
        return self._status_mb("VmHWM:")

    def rss_mb(self) -> float:
        return self._status_mb("VmRSS:")

    def _status_mb(self, key: str) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "mean": statistics.fmean(ordered),
    }


def interleaved(
    paths: dict[str, Callable[[], Any]], iterations: int, warmup: int
) -> dict[str, list[float]]:
    """Time each path once per round, alternating, so drift hits all paths alike."""
    for _ in range(warmup):
        for fn in paths.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(iterations):
        for name, fn in paths.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def latency(proxy: Proxy, quick: bool) -> dict[str, Any]:
    """`SELECT 1`: DuckDB in process vs the trino client through qflux (to DuckDB)."""
    direct = duckdb.connect()
    cursor = trino.dbapi.connect(host="127.0.0.1", port=proxy.port, user="bench").cursor()

    def via_qflux() -> None:
        cursor.execute("SELECT 1")
        cursor.fetchall()

    samples = interleaved(
        {
            "direct duckdb": lambda: direct.sql("SELECT 1").fetchall(),
            "trino client via qflux": via_qflux,
        },
        iterations=100 if quick else 500,
        warmup=20 if quick else 50,
    )  # fmt: skip
    added = [b - a for a, b in zip(*samples.values(), strict=True)]
    return {
        "unit": "ms",
        "paths": {name: percentiles(values) for name, values in samples.items()},
        "added by the proxy path": percentiles(added),
    }


def streaming(proxy: Proxy, quick: bool, rows: int | None = None) -> dict[str, Any]:
    """Rows/s for a wide-ish result: DuckDB fetch in process vs the trino client via qflux."""
    rows = rows or (200_000 if quick else 1_000_000)
    sql = f"SELECT i, 'row-' || i AS label, i * 0.5 AS half FROM range({rows}) t(i)"
    direct = duckdb.connect()
    cursor = trino.dbapi.connect(host="127.0.0.1", port=proxy.port, user="bench").cursor()
    out: dict[str, Any] = {"rows": rows, "proxy RSS before MB": proxy.rss_mb()}
    start = time.perf_counter()
    assert len(direct.sql(sql).fetchall()) == rows
    out["direct duckdb rows/s"] = rows / (time.perf_counter() - start)
    start = time.perf_counter()
    cursor.execute(sql)
    count = sum(len(chunk) for chunk in iter(lambda: cursor.fetchmany(50_000), []))
    assert count == rows
    out["trino client via qflux rows/s"] = rows / (time.perf_counter() - start)
    out["ratio"] = out["trino client via qflux rows/s"] / out["direct duckdb rows/s"]
    out["proxy peak RSS MB"] = proxy.peak_rss_mb()
    return out


TPCH_Q5 = """
SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM customer, orders, lineitem, supplier, nation, region
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey
  AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey
  AND n_regionkey = r_regionkey AND r_name = 'ASIA'
  AND o_orderdate >= date '1994-01-01' AND o_orderdate < date '1994-01-01' + interval '1' year
GROUP BY n_name ORDER BY revenue DESC
"""


def translation(proxy: Proxy, quick: bool) -> dict[str, Any]:
    """Trino -> DuckDB translation cost per query: cold (parse + write) and cached."""
    from qflux.translate import Translator

    out: dict[str, Any] = {"unit": "ms"}
    rounds = 50 if quick else 300
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


SCENARIOS = {"latency": latency, "streaming": streaming, "translation": translation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, help="rows for the streaming scenario")
    args = parser.parse_args()
    chosen = args.scenarios or list(SCENARIOS)
    proxy = Proxy()
    try:
        results = {
            name: streaming(proxy, args.quick, args.rows)
            if name == "streaming"
            else SCENARIOS[name](proxy, args.quick)
            for name in chosen
        }
    finally:
        proxy.close()
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "quick": args.quick,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{report['when'].replace(':', '')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(markdown(results))
    print(f"\nwritten: {path}")


def markdown(results: dict[str, Any]) -> str:
    lines = []
    if "latency" in results:
        lat = results["latency"]
        lines += ["| SELECT 1 (ms) | p50 | p95 | p99 | mean |", "|---|---|---|---|---|"]
        rows = {**lat["paths"], "added by the proxy path": lat["added by the proxy path"]}
        for name, p in rows.items():
            lines.append(
                f"| {name} | {p['p50']:.3f} | {p['p95']:.3f} | {p['p99']:.3f} | {p['mean']:.3f} |"
            )
        lines.append("")
    if "streaming" in results:
        st = results["streaming"]
        lines += [
            f"| streaming {st['rows']:,} rows | rows/s |",
            "|---|---|",
            f"| direct duckdb | {st['direct duckdb rows/s']:,.0f} |",
            f"| trino client via qflux | {st['trino client via qflux rows/s']:,.0f} |",
            f"| ratio | {st['ratio']:.2f} |",
            f"| proxy RSS before / peak | {st['proxy RSS before MB']:.0f} / "
            f"{st['proxy peak RSS MB']:.0f} MB |",
        ]
    if "translation" in results:
        tr = results["translation"]
        lines += ["", "| translation trino -> duckdb (ms) | p50 | p99 |", "|---|---|---|"]
        for name in ("simple", "tpch q5"):
            for kind in ("cold", "cached"):
                p = tr[name][kind]
                lines.append(f"| {name}, {kind} | {p['p50']:.4f} | {p['p99']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
