"""Hypothesis properties over generated valid scenarios: every one runs, and the invariants hold."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings

from sim.engine import Engine
from sim.loader import check_policies
from sim.runner import run_scenario

from .strategies import scenarios

EXAMPLES = int(os.environ.get("SIM_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenarios())
def test_any_valid_scenario_runs_with_invariants(scn):
    check_policies(scn)
    eng = Engine(scn)
    while eng.t < scn.weeks:
        honest = ~eng.maxxer.copy()
        eng.step()
        assert (eng.m >= 0).all() and (eng.y >= 0).all() and (eng.x >= 0).all()
        assert (eng.y[honest] == 0).all()
        assert np.isfinite(eng.m).all() and np.isfinite(eng.v).all() and np.isfinite(eng.payoff).all()
        assert (eng.k >= 0).all() and (eng.k <= 1).all()
    h = eng.history
    for name in ("tokens_per_employee", "cost_per_employee", "value_per_employee", "net_value_per_employee",
                 "gaming_share", "waste_share", "maxxer_share", "mean_skill", "cutoff", "budget_utilisation"):
        assert np.isfinite(h[name]).all(), name
    for share in ("gaming_share", "waste_share", "maxxer_share", "budget_utilisation", "throttled_share"):
        assert ((h[share] >= 0) & (h[share] <= 1 + 1e-9)).all(), share
    rho = h["goodhart_rho"][np.isfinite(h["goodhart_rho"])]
    assert ((rho >= -1 - 1e-9) & (rho <= 1 + 1e-9)).all()


@settings(max_examples=max(EXAMPLES // 3, 5), deadline=None)
@given(scenarios())
def test_same_seed_same_result_and_batching_irrelevant(scn):
    a = run_scenario(scn, batch_size=1).weekly
    b = run_scenario(scn).weekly
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@settings(max_examples=max(EXAMPLES // 3, 5), deadline=None)
@given(scenarios())
def test_summary_is_consistent(scn):
    res = run_scenario(scn)
    for name, d in res.summary().items():
        if d["mean"] is None:
            continue
        assert d["p05"] <= d["mean"] + 1e-9 <= d["p95"] + 2e-9 or d["n"] < 3
        if d["ci_low"] is not None:
            assert d["ci_low"] <= d["mean"] <= d["ci_high"]
