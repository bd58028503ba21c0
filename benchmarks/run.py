"""qflux benchmarks: the cost of going through the proxy, measured against going direct.

    python benchmarks/run.py                 # every scenario
    python benchmarks/run.py --quick         # fewer iterations, smaller results
    python benchmarks/run.py trino_overhead  # one scenario (or several)

The proxy runs as its own process (`qflux serve`) so its memory and CPU are measured
apart from the clients'. Each scenario runs the direct path and the proxied path in one
run, interleaved, after a warm-up. Results: a markdown table on stdout and a JSON file
(with machine info) under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` from a checkout
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import cpu_ticks, steal_share  # noqa: E402 - after the path fix

RESULTS = ROOT / "benchmarks" / "results"

#: In the order a full run goes through them.
SCENARIOS = (
    "trino_overhead",
    "latency",
    "pgwire",
    "throughput",
    "streaming",
    "queue",
    "translation",
    "connections",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    parser.add_argument("--quick", action="store_true", help="short runs, small results")
    parser.add_argument("--rows", type=int, help="rows for the streaming scenario")
    options = parser.parse_args()
    chosen = options.scenarios or list(SCENARIOS)
    # Every scenario is imported first: a missing package fails the run at once, not
    # after the scenarios before it have run for minutes.
    modules = {name: importlib.import_module(f"benchmarks.scenarios.{name}") for name in chosen}
    results: dict[str, Any] = {}
    try:
        for name, module in modules.items():
            print(f"-- {name}", file=sys.stderr, flush=True)
            started, ticks = time.perf_counter(), cpu_ticks()
            results[name] = module.run(options)
            results[name]["seconds"] = round(time.perf_counter() - started, 1)
            steal = steal_share(ticks, cpu_ticks())
            if steal is not None:  # how noisy this machine was while the scenario ran
                results[name]["cpu steal"] = round(steal, 4)
    finally:  # what ran is reported even when a later scenario fails
        if results:
            report_results(results, options, chosen)


def report_results(results: dict[str, Any], options: argparse.Namespace, chosen: list[str]) -> None:
    """The JSON file and the markdown tables of the scenarios that ran."""
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "quick": options.quick,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    label = "all" if not options.scenarios else "-".join(chosen)
    path = RESULTS / f"{report['when'].replace(':', '')}-{label}.json"  # runs may overlap
    path.write_text(json.dumps(report, indent=2))
    print(markdown(results))
    print(f"\nwritten: {path}")


def machine() -> dict[str, Any]:
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory = meminfo.read_text().splitlines()[0].split(":", 1)[1].strip()
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")),
            "",
        )  # fmt: skip
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
    }


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for name, result in results.items():
        module = importlib.import_module(f"benchmarks.scenarios.{name}")
        lines += module.markdown(result)
        if "cpu steal" in result:
            lines.append(f"CPU time taken by the hypervisor meanwhile: {result['cpu steal']:.1%}")
        lines.append("")
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    main()
