"""Queue: 500 queries submitted at once into a group that runs 4 at a time.

Admission is the proxy's job, so this measures what only the proxy can get wrong:
that every queued query finishes, that admission follows arrival (fairness), and what
the queue costs per query beyond the engine's own time.

Method:

- Two bursts: a DuckDB cross join calibrated, alone, to about `TARGET_MS` of
  execution, and `SELECT 1` (engine time near zero, so the proxy's own costs show).
  The cluster's cap (64) is far above the group's (4), so the group's FIFO queue is
  the only limit. Under load the 4 concurrent queries share the machine's cores and
  each takes longer; every figure below uses the execution times measured in the burst.
- 500 Trio tasks, each on its own already-open keep-alive connection, are released
  together; each POSTs and follows `nextUri` (a queued query long-polls) to the end.
- From the admin API's history: arrival order is the id's sequence number (the proxy
  numbers ids as it receives them), arrival time `createdAt`; admission time is
  `createdAt + queueMs`, finish time that plus `executionMs`. (`queueMs` starts when
  dispatch starts the query, a task hop after `createdAt` that a burst stretches to
  milliseconds, so admission times come out early by that hop.)
- Fairness: an inversion is a pair admitted in the opposite order to its arrival, more
  than `TIE_MS` apart (closer admissions are within the measurement's error);
  Kendall tau = 1 - 4 * inversions / (n (n - 1)) (1 = strict FIFO); the max overtake
  is the most later arrivals admitted before any one query.
- Queue overhead, two views. Wall: (wall time - ideal) / 500, where the ideal keeps 4
  slots always busy: sum(executionMs) / 4; the wall time each query adds through
  queueing, polling and I/O. Handover gap: with a backlog, the k-th admission (k >= 4)
  can happen as soon as the (k-4)-th slot frees, so gap = admitted - max(that free
  time, arrival), which is queueMs minus the time that query had to wait for slots:
  how long a free slot sat idle per handover (4 slots, so about 4x the wall view).
  It inherits the admission times' error, so it is approximate; the wall view is not.
- Cross-check of fairness on the client's own clock: the queries are alike, so
  completion order should follow arrival order as admission does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import requests
import trio

from benchmarks.harness import Proxy, percentiles
from benchmarks.scenarios.throughput import Meter, TrinoConnection

QUERIES = 500
SLOTS = 4
TARGET_MS = 15.0
#: Admissions closer than this are not ordered (see `kendall`).
TIE_MS = 1.0
CONFIG: dict[str, Any] = {
    "clusters": {"duck": {"engine": "duckDb", "maxRunningQueries": 64}},
    "clusterGroups": {
        "g": {"members": ["duck"], "maxRunningQueries": SLOTS, "maxQueuedQueries": 1000}
    },
    "routingFallback": "g",
}


def query_sql(scale: int) -> str:
    """A CPU-bound query whose duration grows with `scale` (Trino SQL, 10,000 * scale rows)."""
    return (
        "SELECT count(*), sum(x * y) FROM UNNEST(sequence(1, 10000)) AS t(x) "
        f"CROSS JOIN UNNEST(sequence(1, {scale})) AS u(y)"
    )


def history(admin_port: int) -> dict[str, dict[str, Any]]:
    """Every query record the proxy holds, by id."""
    response = requests.get(
        f"http://127.0.0.1:{admin_port}/api/queries", params={"limit": 10_000}, timeout=30
    )
    response.raise_for_status()
    return {record["id"]: record for record in response.json()}


async def serial(port: int, sql: str, count: int) -> list[str]:
    """Run `sql` `count` times on one connection; the query ids."""
    conn = await TrinoConnection.open(port)
    try:
        return [(await conn.query(sql)).id for _ in range(count)]
    finally:
        await conn.aclose()


def solo_ms(proxy: Proxy, sql: str, runs: int = 7) -> float:
    """Median executionMs of `sql` run alone, after two warm-up runs."""
    ids = trio.run(serial, proxy.port(), sql, runs + 2)
    records = history(proxy.port("adminApi"))
    return statistics.median(records[i]["executionMs"] for i in ids[2:])


def calibrate(proxy: Proxy) -> tuple[int, float]:
    """The scale whose query runs about TARGET_MS alone, and its median executionMs."""
    scale, measured = 100, 0.0
    for _ in range(4):
        measured = solo_ms(proxy, query_sql(scale))
        if abs(measured - TARGET_MS) < 0.2 * TARGET_MS:
            break
        scale = max(1, min(2000, round(scale * TARGET_MS / measured)))
    return scale, measured


async def burst(port: int, sql: str, count: int) -> list[dict[str, Any]]:
    """`count` queries released at once; per query: id, state, rows, client times."""
    conns = [await TrinoConnection.open(port) for _ in range(count)]
    go = trio.Event()
    out: list[dict[str, Any]] = []

    async def client(conn: TrinoConnection) -> None:
        await go.wait()
        sent = time.perf_counter()
        try:
            outcome = await conn.query(sql)
        except Exception as exc:  # counted as not finished OK
            out.append({"error": f"{type(exc).__name__}: {exc}", "sent": sent})
            return
        out.append(
            {
                "id": outcome.id,
                "state": outcome.state,
                "rows": outcome.rows,
                "polls": outcome.polls,
                "sent": sent,
                "done": time.perf_counter(),
            }
        )

    async with trio.open_nursery() as nursery:
        for conn in conns:
            nursery.start_soon(client, conn)
        await trio.sleep(0.2)  # every task is parked on the event
        go.set()
    for conn in conns:
        await conn.aclose()
    return out


def kendall(admitted: list[float], tolerance: float) -> tuple[int, float, int]:
    """(inversions, Kendall tau, max overtake) of admission times listed in arrival order.

    A pair counts as inverted only if the later arrival was admitted more than
    `tolerance` seconds earlier: queries granted slots in the same scheduler tick
    record their admission in wake-up order, which says nothing about the queue.
    """
    n = len(admitted)
    inversions = 0
    overtake = 0
    for i in range(n):  # O(n^2): 125k pairs for 500 queries
        later_first = sum(1 for j in range(i + 1, n) if admitted[i] - admitted[j] > tolerance)
        inversions += later_first
        overtake = max(overtake, later_first)
    tau = 1 - 4 * inversions / (n * (n - 1)) if n > 1 else 1.0
    return inversions, tau, overtake


def arrival_key(query_id: str) -> int:
    """The sequence number the proxy gave a query as it received it."""
    return int(query_id.split("_")[2])


def analyse(records: list[dict[str, Any]], slots: int) -> dict[str, Any]:
    """Fairness and handover gaps from history records (see the module notes)."""
    arrival = sorted(records, key=lambda r: arrival_key(r["id"]))
    arrived = [r["createdAt"] for r in arrival]
    admitted = [r["createdAt"] + r["queueMs"] / 1000 for r in arrival]
    finished = sorted(a + r["executionMs"] / 1000 for a, r in zip(admitted, arrival, strict=True))
    admission_order = sorted(range(len(arrival)), key=lambda i: admitted[i])
    admission_rank = [0] * len(arrival)
    for rank, i in enumerate(admission_order):
        admission_rank[i] = rank
    inversions, tau, overtake = kendall(admitted, TIE_MS / 1000)
    raw_inversions = kendall(admitted, 0.0)[0]
    gaps = []
    for k, i in enumerate(admission_order[slots:], start=slots):
        slot_free = max(finished[k - slots], arrived[i])
        gaps.append((admitted[i] - slot_free) * 1000)
    displacement = max(abs(rank - i) for i, rank in enumerate(admission_rank))
    return {
        "inversions": inversions,
        "inversions_any_gap": raw_inversions,
        "pairs": len(arrival) * (len(arrival) - 1) // 2,
        "kendall_tau": tau,
        "max_overtake": overtake,
        "max_displacement": displacement,
        "handover_gap_ms": percentiles(gaps) if gaps else None,
        "server_span_s": max(finished) - min(arrived),
    }


def measure(proxy: Proxy, sql: str, expected: list[int], solo: float) -> dict[str, Any]:
    """One burst of QUERIES submissions of `sql`, checked and analysed."""
    meter = Meter(proxy.pid)
    meter.start()
    results = trio.run(burst, proxy.port(), sql, QUERIES)
    meter.stop()
    cpu = meter.proxy_cpu
    records_by_id = history(proxy.port("adminApi"))
    ok = [
        r
        for r in results
        if r.get("state") == "FINISHED"
        and [[int(v) for v in row] for row in r["rows"]] == [expected]
    ]
    records = [records_by_id[r["id"]] for r in results if r.get("id") in records_by_id]
    wall = max(r.get("done", r["sent"]) for r in results) - min(r["sent"] for r in results)
    executions = [r["executionMs"] for r in records]
    ideal = sum(executions) / 1000 / SLOTS
    latencies = [(r["done"] - r["sent"]) * 1000 for r in results if "done" in r]
    # Cross-check on the client's clock: equal queries should complete in arrival order.
    completed = [r["done"] for r in sorted(ok, key=lambda r: arrival_key(r["id"]))]
    client_inversions, client_tau, client_overtake = kendall(completed, TIE_MS / 1000)
    return {
        "sql": sql,
        "solo_execution_ms": solo,
        "finished_ok_client": len(ok),
        "finished_ok_history": sum(1 for r in records if r["status"] == "FINISHED"),
        "errors": sorted({r["error"] for r in results if "error" in r})[:5],
        "wall_s": wall,
        "ideal_s": ideal,
        "overhead_per_query_ms": (wall - ideal) * 1000 / QUERIES,
        "execution_ms": percentiles(executions) if executions else None,
        "queue_ms_max": max((r["queueMs"] for r in records), default=float("nan")),
        "client_latency_ms": percentiles(latencies) if latencies else None,
        "polls_per_query": statistics.fmean(r.get("polls", 0) for r in results),
        "proxy_cpu_ms_per_query": cpu * 1000 / QUERIES,
        "other_cores": meter.other_cores,
        "client_completion": {
            "inversions": client_inversions,
            "kendall_tau": client_tau,
            "max_overtake": client_overtake,
        },
        **(analyse(records, SLOTS) if records else {}),
    }


def run(options: argparse.Namespace) -> dict[str, Any]:
    variants: dict[str, dict[str, Any]] = {}
    with Proxy(CONFIG) as proxy:
        scale, solo = calibrate(proxy)
        # count(*) and sum(x * y) = sum(x) * sum(y) over the cross join
        expected = [10_000 * scale, 50_005_000 * (scale * (scale + 1) // 2)]
        variants[f"~{TARGET_MS:g} ms query"] = measure(proxy, query_sql(scale), expected, solo)
        variants["SELECT 1"] = measure(proxy, "SELECT 1", [1], solo_ms(proxy, "SELECT 1"))
        rss = proxy.rss_mb()
    return {
        "queries": QUERIES,
        "slots": SLOTS,
        "tie_ms": TIE_MS,
        "variants": variants,
        "proxy_rss_mb": rss,
        "cpus": os.cpu_count(),
    }


def markdown(result: dict[str, Any]) -> list[str]:
    n, slots = result["queries"], result["slots"]
    variants = result["variants"]
    lines = [
        f"| queue: {n} queries at once, {slots} slots | " + " | ".join(variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    labels = [
        "finished OK (client / history)",
        "execution alone / in the burst (mean)",
        f"wall time / ideal (sum of executions / {slots})",
        f"queue overhead per query: (wall - ideal) / {n}",
        "slot handover gap (approximate), mean / p50",
        f"inversions (> {result['tie_ms']:g} ms apart) of {n * (n - 1) // 2:,} pairs, Kendall tau",
        "max overtake / max rank displacement",
        "cross-check, completion order on the client's clock: Kendall tau, max overtake",
        "proxy CPU per query / client polls per query",
        "other processes' load during the burst",
    ]
    columns = [_cells(v, n) for v in variants.values()]
    for i, label in enumerate(labels):
        lines.append(f"| {label} | " + " | ".join(column[i] for column in columns) + " |")
    return lines


def _cells(v: dict[str, Any], n: int) -> list[str]:
    nan = float("nan")
    gap = v.get("handover_gap_ms") or {"mean": nan, "p50": nan}
    execution = v.get("execution_ms") or {"mean": nan}
    return [
        f"{v['finished_ok_client']} / {v['finished_ok_history']} of {n}",
        f"{v['solo_execution_ms']:.1f} / {execution['mean']:.1f} ms",
        f"{v['wall_s']:.2f} / {v['ideal_s']:.2f} s",
        f"{v['overhead_per_query_ms']:.2f} ms",
        f"{gap['mean']:.2f} / {gap['p50']:.2f} ms",
        f"{v.get('inversions', 0):,}, {v.get('kendall_tau', nan):.4f}",
        f"{v.get('max_overtake', 0)} / {v.get('max_displacement', 0)}",
        f"{v['client_completion']['kendall_tau']:.4f}, {v['client_completion']['max_overtake']}",
        f"{v['proxy_cpu_ms_per_query']:.2f} ms / {v['polls_per_query']:.1f}",
        f"{v['other_cores']:.2f} cores",
    ]
