"""Summary figures at a fixed seed match tests/baseline/summary.json (regenerated only by
scripts/regenerate_baseline.py, on purpose). Guards against silent drift of the model."""

from __future__ import annotations

import json

import pytest

from scripts.regenerate_baseline import OUT, compute


@pytest.fixture(scope="module")
def figures():
    return compute()


def test_baseline_figures_unchanged(figures):
    pinned = json.loads(OUT.read_text())
    assert pinned["size"] == figures["size"] and pinned["seed"] == figures["seed"]
    assert pinned["scenarios"].keys() == figures["scenarios"].keys(), "scenarios added or removed: regenerate"
    for name, metrics in pinned["scenarios"].items():
        for metric, value in metrics.items():
            got = figures["scenarios"][name][metric]
            if value is None:
                assert got is None, f"{name}.{metric}"
            else:
                assert got == pytest.approx(value, rel=1e-6, abs=1e-9), f"{name}.{metric} drifted"
