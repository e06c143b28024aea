"""The vectorised engine agrees in distribution with the per-agent reference.

``benchmarks/reference.py`` re-implements the weekly rules (docs/ODD.md §7) as an idiomatic Mesa
model: one agent per employee, scalar state, a Python loop. It draws different random numbers, so
the two never agree draw by draw; they must agree in distribution. For each shipped scenario,
shrunk to 100 employees and 20 weeks, 30 engine replications and 30 reference replications are
reduced to the run-level metrics of MODEL.md §7 (``sim.runner.run_metrics``), and Welch's
two-sample t-test of equal means must not reject at the 5% level, Bonferroni-corrected over every
(scenario, metric) pair.

Checked far beyond what runs here (not part of the suite): 300-1,000 replications per side on all
nine scenarios, run-level and week by week, showed no difference larger than chance (largest
|t| 3.1 among ~2,500 weekly comparisons).

The last tests pin two engine bugs the reference exposed (both fixed since).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from benchmarks.reference import ReferenceEconomy, reference_rate, run_reference
from sim.config import Scenario
from sim.engine import Engine
from sim.metrics import WEEKLY
from sim.runner import run_metrics, run_scenario

from .conftest import TEST_SEED, small

EMPLOYEES, WEEKS, REPS = 100, 20, 30
SCENARIOS = [
    "baseline", "leaderboard", "budget", "roi_gate", "sticker_shock",
    "token_bonus", "quota", "output_bonus", "chargeback",
]
#: MODEL.md §7 run-level metrics (sim.runner.run_metrics)
RUN_METRICS = [
    "tokens", "cost", "value", "net_value", "gaming_share", "waste_share", "maxxer_share",
    "goodhart_rho", "mean_skill", "cutoff", "overhead", "payouts",
]
#: weekly policy metrics, averaged over the horizon: they check the policies' settle hooks
#: (visible payoffs, throttles, audits and fines, budget draw-down) directly
HORIZON_MEANS = ["payoff_honest", "payoff_maxxer", "throttled_share", "penalty_rate", "budget_utilisation"]
METRICS = RUN_METRICS + HORIZON_MEANS
ALPHA = 0.05 / (len(SCENARIOS) * len(METRICS))


def _summaries(weekly: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(run_metrics(weekly, EMPLOYEES))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a week without maxxers has no maxxer payoff
        for k in HORIZON_MEANS:
            out[k] = np.nanmean(weekly[k], axis=0)
    return out


@functools.cache
def _runs(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(engine, reference) run-level metrics of one scenario, each (REPS,)."""
    scn = small(name, employees=EMPLOYEES, weeks=WEEKS, replications=REPS)
    engine = run_scenario(scn, seed=TEST_SEED, replications=REPS)
    reference = run_reference(scn, replications=REPS, seed=TEST_SEED + 1)  # independent draws
    return _summaries(engine.weekly), _summaries(reference)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_engine_and_reference_agree_in_distribution(name, metric):
    eng, ref = _runs(name)
    a, b = eng[metric], ref[metric]
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    assert a.size >= REPS - 2 and b.size >= REPS - 2, f"{name}/{metric}: undefined in too many replications"
    if a.std() == 0 and b.std() == 0:
        # Constant in both (e.g. overhead 0 without an audit; the ROI gate audits everyone every 4
        # weeks, so its overhead is exactly 25 / 4): a t-test is undefined, the values must match
        # (to float32-vs-float64 rounding).
        assert a[0] == pytest.approx(b[0], rel=1e-6, abs=1e-9), f"{name}/{metric}: {a[0]} vs {b[0]}"
        return
    t, p = stats.ttest_ind(a, b, equal_var=False)
    pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    assert p > ALPHA, (
        f"{name}/{metric}: engine {a.mean():.5g} vs reference {b.mean():.5g} "
        f"(standardised difference {(a.mean() - b.mean()) / pooled:+.2f}, Welch t {t:+.2f}, p {p:.2g} <= {ALPHA:.2g})"
    )


def test_reference_layout_matches_the_engine():
    scn = small("roi_gate", employees=50, weeks=6, replications=2)
    weekly = run_reference(scn, replications=2, seed=1)
    assert set(weekly) == set(WEEKLY)
    assert all(v.shape == (6, 2) for v in weekly.values())
    again = run_reference(scn, replications=2, seed=1)
    for k in WEEKLY:  # reproducible from its seed
        np.testing.assert_array_equal(weekly[k], again[k])
    model = ReferenceEconomy(scn, rng=3)
    assert len(model.agents) == 50
    model.step()  # the agents are a real Mesa AgentSet of ReferenceEmployee
    assert model.steps == 1 and model.t == 1
    assert all(a.m >= 0 and a.x + a.y == pytest.approx(a.m) for a in model.agents)


def test_reference_rate_is_measured():
    assert reference_rate("leaderboard", employees=50, replications=1, weeks=2) > 0


# --- engine bugs found by the reference ----------------------------------------------------------
def _lone_employee_scenario() -> Scenario:
    # 17 employees in teams of 8: the last "team" is one employee; without cross links it has no
    # neighbour, so it can never imitate anyone. Payoffs are all 0 (no policy): adoption is 1/2.
    return small("baseline", "network.cross_links=0", "imitation.rate=1", "workforce.initial_maxxer_share=0.5",
                 employees=17, weeks=10, replications=20)


def test_reference_employee_without_neighbours_keeps_its_strategy():
    scn = _lone_employee_scenario()
    for r in range(scn.replications):
        model = ReferenceEconomy(scn, rng=r)
        lone = model.employees[16]
        start = lone.maxxer
        while model.running:
            model.step()
            assert lone.maxxer == start


def test_engine_employee_without_neighbours_keeps_its_strategy():
    eng = Engine(_lone_employee_scenario(), seed=TEST_SEED)
    start = eng.maxxer[:, 16].copy()
    for _ in range(10):
        eng.step()
        np.testing.assert_array_equal(eng.maxxer[:, 16], start)


def _gate_switched_off() -> Scenario:
    scn = small("roi_gate", employees=100, weeks=14, replications=4)
    return Scenario.model_validate({**scn.model_dump(), "schedule": [{"week": 8, "deactivate": ["roi_gate"]}]})


def test_reference_reports_no_throttle_once_the_gate_is_off():
    weekly = run_reference(_gate_switched_off(), replications=4, seed=TEST_SEED)
    assert weekly["throttled_share"][4:8].max() > 0  # throttles from the week-3 audit
    assert (weekly["throttled_share"][8:] == 0).all()


def test_engine_reports_no_throttle_once_the_gate_is_off():
    res = run_scenario(_gate_switched_off(), seed=TEST_SEED)
    assert res.weekly["throttled_share"][4:8].max() > 0
    assert (res.weekly["throttled_share"][8:] == 0).all()
