"""`pgbench -n -S` through qflux's PostgreSQL frontend, against PostgreSQL direct, PgBouncer
and buenavista.

Two backends, each with its own reference paths:

- PostgreSQL (127.0.0.1:5432, user postgres, trust): direct, via qflux (postgres engine)
  and via PgBouncer (transaction pooling). The database `qflux_bench` is created and
  `pgbench -i -s 1`-ed when missing and kept between runs; nothing else is touched.
- DuckDB pgbench tables (100k accounts, primary keys as `pgbench -i` makes them) in a
  fresh file: DuckDB in process running the same statement (the least any server in
  front of it takes), via qflux (duckDb engine) and via
  buenavista, a Python PostgreSQL proxy for DuckDB, run from its own virtualenv
  (`QFLUX_BENCH_BUENAVISTA_PYTHON` or `benchmarks/.venv-buenavista/bin/python`). DuckDB lets
  one process hold a file, so buenavista serves a byte-for-byte copy of the same file.
  buenavista 0.5 declares too few dependencies and calls an API DuckDB 2 removed:

      python3 -m venv benchmarks/.venv-buenavista
      benchmarks/.venv-buenavista/bin/pip install buenavista "duckdb<2" pyarrow python-dateutil

Every server is started before the first run and stopped in `finally`. Paths are run back
to back for each client count (1 client, 8 clients on 2 threads), after a 1 s warm-up;
a full run repeats that twice and keeps, per path and client count, the round with the
better TPS (every round's TPS is kept in the result too). TPS is pgbench's (without
connection time); latency percentiles come from pgbench's per-transaction log.
A missing PgBouncer or buenavista is reported as "not installed", never an error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.harness import Proxy, free_port, interleaved, percentiles
from qflux.testing import pgbench_tables

ROOT = Path(__file__).resolve().parents[2]
PG_HOST, PG_PORT, PG_USER, PG_DATABASE = "127.0.0.1", 5432, "postgres", "qflux_bench"
DUCKDB_CATALOG = "bench"  # the file bench.duckdb: its catalog, the dbname clients give
CLIENTS = {1: 1, 8: 2}  # clients -> pgbench threads
T = TypeVar("T")
BUENAVISTA_VENV_PYTHON = ROOT / "benchmarks" / ".venv-buenavista" / "bin" / "python"

ACCOUNTS = 100_000
DUCKDB_TABLES = pgbench_tables(ACCOUNTS)


@dataclass(frozen=True)
class Route:
    """One way for pgbench to reach a backend; `mode` is pgbench's `-M`."""

    name: str
    port: int
    dbname: str
    mode: str = "simple"

    @property
    def label(self) -> str:
        return self.name if self.mode == "simple" else f"{self.name} (-M {self.mode})"


class Paths:
    """The routes to measure and, in table order, every path's status ("ok" or why not).
    A path that cannot start is recorded, not raised, so it does not cost the others."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack
        self.routes: list[Route] = []
        self.status: dict[str, str] = {}
        self.proxies: dict[str, Proxy] = {}

    def add(self, name: str, port: int, dbname: str, modes: tuple[str, ...] = ("simple",)) -> None:
        for mode in modes:
            route = Route(name, port, dbname, mode)
            self.routes.append(route)
            self.status[route.label] = "ok"

    def skip(self, name: str, reason: str) -> None:
        self.status[name] = reason

    def drop(self, route: Route, reason: str) -> None:
        self.routes.remove(route)
        self.status[route.label] = reason

    def start(self, name: str, factory: Callable[[], AbstractContextManager[T]]) -> T | None:
        """Enter `factory()` on the stack (stopped when the scenario ends), or record why not."""
        try:
            return self.stack.enter_context(factory())
        except Exception as exc:
            self.skip(name, f"failed to start: {one_line(exc)}")
            return None

    def qflux(self, name: str, cluster: dict[str, Any], dbname: str) -> None:
        proxy = self.start(name, lambda: Proxy(qflux_config(cluster)))
        if proxy is not None:
            self.proxies[name] = proxy
            self.add(name, proxy.port("postgresWire"), dbname, ("simple", "prepared"))


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Start every path, warm each up, then run the rounds; servers stop even on error."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise RuntimeError(
            "pgwire: pgbench not found on PATH (Debian: apt-get install postgresql-client)"
        )
    seconds = 3 if options.quick else 10
    rounds = 1 if options.quick else 2
    version = subprocess.run([pgbench, "--version"], capture_output=True, text=True)
    result: dict[str, Any] = {
        "pgbench": version.stdout.strip(),
        "seconds per run": seconds,
        "rounds": rounds,
        "kept": "per path and client count, the round with the best TPS",
        "cpus": os.cpu_count(),
        "load average before": os.getloadavg(),  # other work on the machine skews TPS
    }
    with (
        tempfile.TemporaryDirectory(prefix="qflux-bench-pgwire-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        paths = Paths(stack)
        start_postgres_paths(paths, pgbench, work, result)
        result["DuckDB in process"] = start_duckdb_paths(paths, work, options.quick)
        for route in list(paths.routes):  # warm-up (pools filled, pages cached), smoke test
            warm = pgbench_run(pgbench, route, 8, 1, work / "warmup", log=False)
            if "error" in warm:
                paths.drop(route, f"failed: {warm['error']}")
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {
            route.label: {clients: [] for clients in CLIENTS} for route in paths.routes
        }
        for _ in range(rounds):  # interleaved: every path back to back per client count
            for clients in CLIENTS:
                for route in paths.routes:
                    sample = pgbench_run(pgbench, route, clients, seconds, work / "log")
                    runs[route.label][clients].append(sample)
        result["qflux peak RSS MB"] = {
            name: round(proxy.peak_rss_mb(), 1) for name, proxy in paths.proxies.items()
        }
    result["load average after"] = os.getloadavg()
    result["paths"] = {
        label: (
            {"status": status}
            if status != "ok"
            else {
                "status": status,
                "clients": {str(n): best(samples) for n, samples in runs[label].items()},
            }
        )
        for label, status in paths.status.items()
    }
    result["ratios"] = ratios(result["paths"])
    return result


def start_postgres_paths(paths: Paths, pgbench: str, work: Path, result: dict[str, Any]) -> None:
    """PostgreSQL direct, through qflux and through PgBouncer; all unavailable without it."""
    names = ("PostgreSQL direct", "qflux -> PostgreSQL", "PgBouncer -> PostgreSQL")
    try:
        result["postgres database"] = prepare_postgres(pgbench)
    except Exception as exc:  # no server here: the DuckDB paths are still measured
        for name in names:
            paths.skip(name, f"unavailable: {one_line(exc)}")
        return
    paths.add(names[0], PG_PORT, PG_DATABASE, ("simple", "prepared"))
    endpoint = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
    cluster = {"engine": "postgres", "endpoint": endpoint, "maxRunningQueries": 16, "poolSize": 16}
    paths.qflux(names[1], cluster, PG_DATABASE)
    if shutil.which("pgbouncer") is None:
        paths.skip(names[2], "not installed")
    elif (port := paths.start(names[2], lambda: pgbouncer(work))) is not None:
        paths.add(names[2], port, PG_DATABASE)


def start_duckdb_paths(paths: Paths, work: Path, quick: bool) -> dict[str, float]:
    """The DuckDB pgbench tables through qflux and through buenavista (on a copy); what
    DuckDB itself takes for the statement, measured first (one process holds the file)."""
    database = work / f"{DUCKDB_CATALOG}.duckdb"
    create_duckdb_tables(database)
    floor = duckdb_point_query_ms(database, 300 if quick else 2_000)
    cluster = {"engine": "duckDb", "databasePath": str(database), "maxRunningQueries": 16}
    paths.qflux("qflux -> DuckDB", cluster, DUCKDB_CATALOG)
    name = "buenavista -> DuckDB"
    python = buenavista_python()
    if python is None:
        paths.skip(name, "not installed")
        return floor
    copy = work / "buenavista" / database.name
    copy.parent.mkdir()
    shutil.copyfile(database, copy)
    if (port := paths.start(name, lambda: buenavista(python, copy))) is not None:
        paths.add(name, port, DUCKDB_CATALOG)
    return floor


def qflux_config(cluster: dict[str, Any]) -> dict[str, Any]:
    """One cluster behind the PostgreSQL frontend; trust auth (no static users)."""
    return {
        "queryflux": {"frontends": {"postgresWire": {"enabled": True}}},
        "clusters": {"bench": cluster},
        "clusterGroups": {"bench": {"members": ["bench"], "maxRunningQueries": 16}},
        "routingFallback": "bench",
    }


def prepare_postgres(pgbench: str) -> str:
    """Create `qflux_bench` and its pgbench tables when missing; say which was done."""
    import psycopg

    base = f"host={PG_HOST} port={PG_PORT} user={PG_USER} connect_timeout=5"
    done = "already initialised"
    with psycopg.connect(f"{base} dbname=postgres", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE])
        if found.fetchone() is None:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
            done = "created"
    with psycopg.connect(f"{base} dbname={PG_DATABASE}", autocommit=True) as conn:
        ready = conn.execute("SELECT to_regclass('public.pgbench_branches') IS NOT NULL").fetchone()
        if ready and ready[0]:
            ready = conn.execute("SELECT count(*) = 1 FROM pgbench_branches").fetchone()
    if not (ready and ready[0]):
        where = ["-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER]
        init = subprocess.run(
            [pgbench, "-i", "-s", "1", "-q", *where, PG_DATABASE],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if init.returncode != 0:
            raise RuntimeError(f"pgbench -i failed: {init.stderr.strip()}")
        done = "initialised" if done == "already initialised" else "created and initialised"
    return f"{PG_DATABASE}: {done}; left in place for the next run"


def create_duckdb_tables(database: Path) -> None:
    """pgbench's tables in a new DuckDB file, written in a storage format older DuckDB
    releases read too (buenavista's venv may need one: 0.5 calls a removed DuckDB API)."""
    import duckdb

    conn = duckdb.connect(str(database), config={"storage_compatibility_version": "v1.0.0"})
    try:
        for statement in DUCKDB_TABLES:
            conn.execute(statement)
    finally:
        conn.close()


def duckdb_point_query_ms(database: Path, iterations: int) -> dict[str, float]:
    """pgbench -S's statement run by DuckDB in this process, random accounts: the time
    any server in front of DuckDB pays per transaction before its own."""
    import random

    import duckdb

    conn = duckdb.connect(str(database), read_only=True)

    def point_query() -> None:
        aid = random.randint(1, ACCOUNTS)
        conn.execute(f"SELECT abalance FROM pgbench_accounts WHERE aid = {aid}").fetchall()

    try:
        samples = interleaved({"duckdb": point_query}, iterations, warmup=100)["duckdb"]
    finally:
        conn.close()
    found = percentiles(samples)
    return {"p50 ms": found["p50"], "p99 ms": found["p99"]}


def buenavista_python() -> str | None:
    """The buenavista venv's python, if one is configured or at the conventional place."""
    configured = os.environ.get("QFLUX_BENCH_BUENAVISTA_PYTHON")
    candidate = Path(configured) if configured else BUENAVISTA_VENV_PYTHON
    return str(candidate) if candidate.exists() else None


@contextlib.contextmanager
def server(
    args: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[int]:
    """A server subprocess, ready once `port` accepts connections; always stopped on the
    way out (terminate, then kill after 10 s)."""
    with log.open("w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_answering(process, port, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_answering(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until the port accepts connections; the warm-up run then checks it answers."""
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection((PG_HOST, port), timeout=1).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not listening on port {port} after 60 s") from exc
        time.sleep(0.05)


def pgbouncer(work: Path) -> AbstractContextManager[int]:
    """PgBouncer in transaction mode in front of PostgreSQL, trust auth, a pool as large
    as qflux's. As root it must drop to `nobody`, which then has to read its files."""
    home = work / "pgbouncer"
    home.mkdir()
    port = free_port()
    (home / "userlist.txt").write_text(f'"{PG_USER}" ""\n')
    (home / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{PG_DATABASE} = host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={PG_DATABASE}\n"
        "[pgbouncer]\n"
        f"listen_addr = {PG_HOST}\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {home / 'userlist.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 16\nmax_client_conn = 200\n"
        "logfile =\npidfile =\n"
    )
    args = [shutil.which("pgbouncer") or "pgbouncer", "-q"]
    if os.geteuid() == 0:
        for path in (work, home, *home.iterdir()):
            path.chmod(0o755)
        args += ["-u", "nobody"]
    return server([*args, str(home / "pgbouncer.ini")], port, work / "pgbouncer.log")


def buenavista(python: str, database: Path) -> AbstractContextManager[int]:
    """buenavista's DuckDB PostgreSQL server (its `examples.duckdb_postgres` entry point,
    which takes the database file and BUENAVISTA_HOST/_PORT), trust auth."""
    port = free_port()
    env = {**os.environ, "BUENAVISTA_HOST": PG_HOST, "BUENAVISTA_PORT": str(port)}
    args = [python, "-m", "buenavista.examples.duckdb_postgres", str(database)]
    return server(args, port, database.parent / "buenavista.log", env)


def pgbench_run(
    pgbench: str, route: Route, clients: int, seconds: int, logs: Path, log: bool = True
) -> dict[str, Any]:
    """One `pgbench -n -S` run: its TPS and failures, latency from its transaction log."""
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    threads = CLIENTS.get(clients, 1)
    args = [pgbench, "-n", "-S", "-M", route.mode, "-c", str(clients), "-j", str(threads),
            "-T", str(seconds), "-h", PG_HOST, "-p", str(route.port), "-U", PG_USER]  # fmt: skip
    if log:
        args += ["-l", "--log-prefix", str(logs / "tx")]
    out = subprocess.run(
        [*args, route.dbname], capture_output=True, text=True, timeout=seconds + 120,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
    )  # fmt: skip
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", out.stdout, re.M)
    done = re.search(r"^number of transactions actually processed: (\d+)", out.stdout, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", out.stdout, re.M)
    latencies_ms: list[float] = []
    failed_in_log = 0
    for file in logs.glob("tx.*"):
        with file.open() as lines:
            for line in lines:  # client_id transaction_no time script_no time_epoch time_us
                field = line.split(maxsplit=3)[2]
                if field.isdigit():
                    latencies_ms.append(int(field) / 1000)
                else:  # "failed" (or "skipped", "serialization", "deadlock")
                    failed_in_log += 1
    shutil.rmtree(logs, ignore_errors=True)
    sample: dict[str, Any] = {
        "tps": float(tps.group(1)) if tps else 0.0,
        "transactions": int(done.group(1)) if done else len(latencies_ms),
        "failed": int(failed.group(1)) if failed else failed_in_log,
        "latency ms": percentiles(latencies_ms) if latencies_ms else None,
    }
    if out.returncode != 0 or tps is None:
        sample["error"] = one_line(
            out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode
        )
    return sample


def best(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the best TPS, every round's TPS and any round's error."""
    kept = dict(max(samples, key=lambda sample: sample["tps"]))
    kept["tps per round"] = [sample["tps"] for sample in samples]
    if errors := [sample["error"] for sample in samples if "error" in sample]:
        kept["errors"] = errors
    return kept


#: Latency the PostgreSQL path may add at the median, one client (ms).
TARGET_ADDED_P50_MS = 0.25
#: ratio name -> (numerator path, denominator path, clients, target: at least this).
TPS_TARGETS = {
    "qflux / PgBouncer TPS, 8 clients": ("qflux -> PostgreSQL", "PgBouncer -> PostgreSQL", 8, 0.40),
    "qflux-DuckDB / buenavista TPS, 1 client": ("qflux -> DuckDB", "buenavista -> DuckDB", 1, 20),
    "qflux-DuckDB / buenavista TPS, 8 clients": ("qflux -> DuckDB", "buenavista -> DuckDB", 8, 20),
}


def ratios(paths: dict[str, Any]) -> dict[str, Any]:
    """The figures the targets are about, reported as met/missed (never asserted);
    a path that did not run gives "n/a"."""

    def sample(name: str, clients: int) -> dict[str, Any] | None:
        found = paths.get(name, {}).get("clients", {}).get(str(clients))
        return found if found and found["tps"] > 0 and "error" not in found else None

    qflux, direct = sample("qflux -> PostgreSQL", 1), sample("PostgreSQL direct", 1)
    added = qflux["latency ms"]["p50"] - direct["latency ms"]["p50"] if qflux and direct else None
    out: dict[str, Any] = {
        "qflux added p50 over PostgreSQL direct, 1 client (ms)": {
            "value": added,
            "target": f"<= {TARGET_ADDED_P50_MS:g} ms",
            "verdict": "n/a" if added is None else _met(added <= TARGET_ADDED_P50_MS),
        }
    }
    for name, (numerator, denominator, clients, target) in TPS_TARGETS.items():
        a, b = sample(numerator, clients), sample(denominator, clients)
        value = a["tps"] / b["tps"] if a and b else None
        verdict = "n/a" if value is None else _met(value >= target)
        out[name] = {"value": value, "target": f">= {target:g}x", "verdict": verdict}
    return out


def _met(met: bool) -> str:
    return "met" if met else "missed"


def one_line(value: object) -> str:
    return " ".join(str(value).split())[:300]


def markdown(result: dict[str, Any]) -> list[str]:
    rounds = result["rounds"]
    kept = "" if rounds == 1 else f", best of {rounds}"
    lines = [
        f"| pgbench -n -S, {result['seconds per run']} s{kept} | 1 client TPS | p50 ms | p99 ms "
        "| 8 clients TPS | p50 ms | p99 ms | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in result["paths"].items():
        if entry["status"] != "ok":
            lines.append(f"| {name} | {entry['status']} | | | | | | |")
            continue
        cells: list[str] = []
        failed = 0
        for clients in ("1", "8"):
            sample = entry["clients"][clients]
            failed += sample["failed"]
            latency = sample["latency ms"]
            if sample.get("error") or latency is None:
                cells += [f"error: {sample.get('error', 'no transactions')}", "", ""]
            else:
                cells += [f"{sample['tps']:,.0f}", f"{latency['p50']:.3f}", f"{latency['p99']:.3f}"]
        lines.append(f"| {name} | {' | '.join(cells)} | {failed} |")
    floor = result.get("DuckDB in process")
    if floor:
        lines.append(
            f"DuckDB in process, the same statement: p50 {floor['p50 ms']:.3f} ms, p99 "
            f"{floor['p99 ms']:.3f} ms; one client through any server gets at most "
            f"{1000 / floor['p50 ms']:,.0f} TPS"
        )
    lines += ["", "| ratio | value | target | verdict |", "|---|---|---|---|"]
    for name, ratio in result["ratios"].items():
        value = "n/a" if ratio["value"] is None else f"{ratio['value']:.3f}"
        if ratio["value"] is not None and "TPS" in name:
            value += "x"
        lines.append(f"| {name} | {value} | {ratio['target'] or 'none set'} | {ratio['verdict']} |")
    return lines
