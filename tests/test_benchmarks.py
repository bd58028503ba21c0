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
