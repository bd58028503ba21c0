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
