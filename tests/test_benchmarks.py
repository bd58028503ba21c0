"""The benchmark suite stays runnable: every scenario imports with the packages the
test install brings (a scenario needing a dropped dependency fails here, not minutes
into a full benchmark run)."""

from __future__ import annotations

import importlib

import pytest

from benchmarks.run import SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_imports_and_has_its_entry_points(name: str) -> None:
    module = importlib.import_module(f"benchmarks.scenarios.{name}")
    assert callable(module.run) and callable(module.markdown)


def _path(tps: float, p50: float) -> dict[str, object]:
    return {"clients": {"1": {"tps": tps, "latency ms": {"p50": p50}}}}


@pytest.mark.parametrize(("proxied_p50", "verdict"), [(0.30, "met"), (0.40, "missed")])
def test_pgwire_reports_the_added_latency_against_its_target(
    proxied_p50: float, verdict: str
) -> None:
    from benchmarks.scenarios.pgwire import ratios

    found = ratios(
        {
            "PostgreSQL direct": _path(10_000, 0.10),
            "qflux -> PostgreSQL": _path(2_000, proxied_p50),
        }
    )
    added = found["qflux added p50 over PostgreSQL direct, 1 client (ms)"]
    assert added["value"] == pytest.approx(proxied_p50 - 0.10)
    assert added["target"] == "<= 0.25 ms"
    assert added["verdict"] == verdict
    assert found["qflux / PgBouncer TPS, 8 clients"]["verdict"] == "n/a"  # PgBouncer did not run


def test_pgwire_table_states_duckdbs_own_time_for_the_statement() -> None:
    from benchmarks.scenarios.pgwire import markdown, ratios

    paths = {"qflux -> DuckDB": {"status": "ok", **_path(500, 2.0)}}
    paths["qflux -> DuckDB"]["clients"]["1"].update(
        failed=0, **{"latency ms": {"p50": 2.0, "p99": 3.0}}
    )
    paths["qflux -> DuckDB"]["clients"]["8"] = dict(paths["qflux -> DuckDB"]["clients"]["1"])
    result = {
        "rounds": 1,
        "seconds per run": 3,
        "paths": paths,
        "ratios": ratios(paths),
        "DuckDB in process": {"p50 ms": 0.5, "p99 ms": 0.9},
    }
    text = "\n".join(markdown(result))
    assert "DuckDB in process, the same statement: p50 0.500 ms, p99 0.900 ms" in text
    assert "at most 2,000 TPS" in text


def test_steal_is_the_hypervisors_share_of_the_cpu_time_between_readings() -> None:
    from benchmarks.harness import cpu_ticks, steal_share

    before = [100, 0, 50, 800, 0, 0, 0, 50, 0, 0]
    after = [200, 0, 100, 1500, 0, 0, 0, 150, 0, 0]  # 950 ticks, 100 of them stolen
    assert steal_share(before, after) == pytest.approx(100 / 950)
    assert steal_share(None, after) is None
    assert steal_share(after, after) is None  # no time passed
    ticks = cpu_ticks()
    assert ticks is None or len(ticks) >= 8


def test_trino_overhead_reports_what_a_request_costs_after_idling() -> None:
    from benchmarks.scenarios.trino_overhead import markdown, parse_after_idle

    parse = parse_after_idle(rounds=20)
    assert parse["back to back"] > 0 and parse["after 1 ms idle"] > 0
    result = {
        "paths": {},
        "added by the proxy path": {"p50": 0.4, "p95": 0.6, "p99": 0.9, "mean": 0.45},
        "targets": {"p50 <= 0.30 ms": "missed"},
        "request parse us": {"back to back": 21.0, "after 1 ms idle": 104.0},
    }
    text = "\n".join(markdown(result))
    assert "21 µs back to back, 104 µs after 1 ms idle" in text
