"""Shared helpers: small scenarios and statistics for the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sim.loader import load_scenario
from sim.runner import run_scenario
from sim.stats import describe

ROOT = Path(__file__).resolve().parent.parent
#: master seed of the statistical tests; SIM_TEST_SEED=n re-runs them on other draws
TEST_SEED = int(os.environ.get("SIM_TEST_SEED", "7"))
SHIPPED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


def small(name: str, *overrides: str, employees: int = 120, weeks: int = 16, replications: int = 4):
    """A shipped scenario shrunk for fast tests."""
    return load_scenario(
        ROOT / "scenarios" / f"{name}.yaml",
        [f"employees={employees}", f"weeks={weeks}", f"replications={replications}", *overrides],
    )


def run(name: str, *overrides: str, employees: int = 400, weeks: int = 52, replications: int = 20, seed: int | None = None):
    """Run a shipped scenario at a size large enough for statistics."""
    scn = small(name, *overrides, employees=employees, weeks=weeks, replications=replications)
    return run_scenario(scn, seed=TEST_SEED if seed is None else seed)


def ci(values) -> tuple[float, float, float]:
    d = describe(np.asarray(values))
    return d["mean"], d["ci_low"], d["ci_high"]


def assert_below(a, b, label: str = "") -> None:
    """CI-separated: the 95% CI of ``a`` lies entirely below that of ``b``."""
    ma, _, ha = ci(a)
    mb, lb, _ = ci(b)
    assert ha < lb, f"{label}: {ma:.4g} (CI high {ha:.4g}) not CI-below {mb:.4g} (CI low {lb:.4g})"


def assert_paired_positive(diff, label: str = "") -> None:
    """The 95% CI of a paired difference (common random numbers) lies above zero."""
    m, lo, _ = ci(diff)
    assert lo > 0, f"{label}: paired difference {m:.4g}, CI low {lo:.4g} not above 0"


@pytest.fixture(scope="session")
def shipped():
    return SHIPPED
