"""What every benchmark scenario shares: qflux in its own process, timing, percentiles.

The proxy always runs as a separate `qflux serve` process (its memory and CPU are its
own, as in production); a scenario gives it a config mapping or takes the embedded
default. Paths are timed interleaved (one iteration of each path per round) so drift
on the machine hits every path alike.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class Proxy:
    """`qflux serve` in a subprocess; every listener on an ephemeral port unless the
    config names one. `address(name)` is (host, port) of a listener once ready."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.log = tempfile.NamedTemporaryFile("w+", prefix="qflux-bench-", suffix=".log")  # noqa: SIM115 - lives as long as the proxy
        args = [sys.executable, "-m", "qflux.cli", "serve", "--log-format", "json",
                "--log-level", "info"]  # fmt: skip
        self._config_file = None
        if config is None:
            args += ["--host", "127.0.0.1", "--trino-port", "0", "--admin-port", "0"]
        else:
            self._config_file = tempfile.NamedTemporaryFile("w", suffix=".yaml")  # noqa: SIM115
            yaml.safe_dump(with_ephemeral_ports(config), self._config_file)
            self._config_file.flush()
            args += ["-c", self._config_file.name]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(args, stderr=self.log)
        try:
            self.addresses = self._wait_ready()
        except BaseException:
            self.process.kill()  # never leave a half-started proxy behind
            self.process.wait()
            raise
        self.ready_secs = time.perf_counter() - self.started

    def _wait_ready(self) -> dict[str, tuple[str, int]]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.log.seek(0)
            for line in self.log:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "qflux ready":
                    return {
                        name: ("127.0.0.1", int(str(value).rsplit(":", 1)[1]))
                        for name, value in event.items()
                        if isinstance(value, str) and value.rsplit(":", 1)[-1].isdigit()
                    }
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(
                    f"qflux exited with {self.process.returncode}:\n{self.log.read()}"
                )
            time.sleep(0.01)
        raise RuntimeError("qflux did not start")

    def port(self, name: str = "trinoHttp") -> int:
        return self.addresses[name][1]

    @property
    def pid(self) -> int:
        return self.process.pid

    def peak_rss_mb(self) -> float:
        return status_mb(self.pid, "VmHWM:")

    def rss_mb(self) -> float:
        return status_mb(self.pid, "VmRSS:")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()
        if self._config_file is not None:
            self._config_file.close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def with_ephemeral_ports(config: dict[str, Any]) -> dict[str, Any]:
    """Listeners on 127.0.0.1 and port 0 unless the config says otherwise."""
    queryflux = dict(config.get("queryflux", {}))
    queryflux.setdefault("bindAddress", "127.0.0.1")
    frontends = {name: dict(value) for name, value in queryflux.get("frontends", {}).items()}
    frontends.setdefault("trinoHttp", {})
    for frontend in frontends.values():
        frontend.setdefault("port", 0)
    queryflux["frontends"] = frontends
    queryflux["adminApi"] = {"port": 0, **queryflux.get("adminApi", {})}
    return {**config, "queryflux": queryflux}


def status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    """Time each path once per round, alternating, so drift hits all paths alike (ms)."""
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


def overhead(samples: dict[str, list[float]], direct: str, proxied: str) -> dict[str, Any]:
    """Each path's percentiles and those of the per-round difference (proxied - direct)."""
    added = [b - a for a, b in zip(samples[direct], samples[proxied], strict=True)]
    return {
        "unit": "ms",
        "paths": {name: percentiles(values) for name, values in samples.items()},
        "added by the proxy path": percentiles(added),
    }


def latency_table(title: str, result: dict[str, Any]) -> list[str]:
    lines = [f"| {title} (ms) | p50 | p95 | p99 | mean |", "|---|---|---|---|---|"]
    rows = {**result["paths"], "added by the proxy path": result["added by the proxy path"]}
    for name, p in rows.items():
        lines.append(
            f"| {name} | {p['p50']:.3f} | {p['p95']:.3f} | {p['p99']:.3f} | {p['mean']:.3f} |"
        )
    return lines


def cpu_ticks() -> list[int] | None:
    """The machine's CPU time counters (Linux `/proc/stat`, all CPUs), or None."""
    try:
        with open("/proc/stat") as stat:
            return [int(field) for field in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """The share of CPU time the hypervisor gave to others between two readings (the
    8th counter, "steal"): a run with much of it is a noisy run."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    total = sum(after) - sum(before)
    return (after[7] - before[7]) / total if total > 0 else None
