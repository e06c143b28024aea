"""Summary figures at a fixed seed match tests/baseline/summary.json (regenerated only by
scripts/regenerate_baseline.py, on purpose). Guards against silent drift of the model.

Bit-for-bit equality holds for the same numpy version and SIMD paths (the pinned file records
them). On another platform the float32 transcendental functions may differ in the last bit,
a discrete choice can flip, and the trajectories part; there the figures must still agree to
within 10%, which any real model change of note exceeds."""

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
    same_platform = pinned.get("platform") == figures["platform"]
    rel, abs_ = (1e-6, 1e-9) if same_platform else (0.10, 0.02)
    assert pinned["scenarios"].keys() == figures["scenarios"].keys(), "scenarios added or removed: regenerate"
    for name, metrics in pinned["scenarios"].items():
        for metric, value in metrics.items():
            got = figures["scenarios"][name][metric]
            if value is None:
                assert got is None, f"{name}.{metric}"
            else:
                assert got == pytest.approx(value, rel=rel, abs=abs_), f"{name}.{metric} drifted"
