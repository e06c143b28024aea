"""Invariants every policy and every shipped scenario must satisfy (Axelrod-style shared checks)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from sim.engine import Engine
from sim.errors import ScenarioError
from sim.loader import check_policies, load_scenario
from sim.policies import REGISTRY, build
from sim.runner import run_scenario

from .conftest import ROOT, SHIPPED, small

POLICY_SCENARIOS = {name: name for name in REGISTRY if (ROOT / "scenarios" / f"{name}.yaml").exists()}
POLICY_SCENARIOS["none"] = "baseline"


def test_registry_names_unique_and_match():
    names = [cls.name for cls in REGISTRY.values()]
    assert len(names) == len(set(names)) == 9
    assert set(REGISTRY) == {"none", "leaderboard", "budget", "quota", "token_bonus", "roi_gate", "output_bonus",
                             "chargeback", "routing"}
    for name, cls in REGISTRY.items():
        assert cls.name == name and cls.__doc__ and cls.summary and cls.source


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_policy_has_a_shipped_scenario(name):
    assert (ROOT / "scenarios" / f"{POLICY_SCENARIOS.get(name, name)}.yaml").exists()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_parameters_declared_with_bounds_units_and_docs(name):
    cls = REGISTRY[name]
    for field, info in cls.Params.model_fields.items():
        if field in ("type", "active"):
            continue
        assert info.description, f"{name}.{field} has no description"
        if info.annotation in (float,):
            unit = (info.json_schema_extra or {}).get("unit")
            assert unit, f"{name}.{field} has no unit"
            assert any(type(m).__name__ in ("Ge", "Gt") for m in info.metadata), f"{name}.{field} has no lower bound"


def _bounded_fields(cls):
    for field, info in cls.Params.model_fields.items():
        for meta in info.metadata:
            kind = type(meta).__name__
            if kind in ("Ge", "Gt", "Le", "Lt"):
                bound = getattr(meta, kind.lower())
                yield field, kind, bound


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_out_of_bounds_parameters_rejected(name):
    cls = REGISTRY[name]
    checked = 0
    for field, kind, bound in _bounded_fields(cls):
        bad = {"Ge": bound - 1, "Gt": bound, "Le": bound + 1, "Lt": bound}[kind]
        with pytest.raises(ScenarioError) as err:
            build(name, {field: bad})
        assert f"policies.{name}.{field}" in str(err.value)
        checked += 1
    with pytest.raises(ScenarioError, match="unknown key"):
        build(name, {"no_such_parameter": 1})
    assert checked or name in ("none",)


@pytest.mark.parametrize("scenario", SHIPPED)
def test_same_seed_same_result_and_different_seed_differs(scenario):
    scn = small(scenario)
    a = run_scenario(scn, seed=3).weekly
    b = run_scenario(scn, seed=3).weekly
    c = run_scenario(scn, seed=4).weekly
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert not np.array_equal(a["value_per_employee"], c["value_per_employee"])


class Watcher:
    """Steps an engine and checks the per-employee invariants after every week."""

    def __init__(self, scn, seed=11):
        self.eng = Engine(scn, seed=seed)

    def run(self):
        eng = self.eng
        while eng.t < eng.scn.weeks:
            maxxer_before = eng.maxxer.copy()
            budgets = [p for p in eng.policies if p.name == "budget" and p.p.hard_cap]
            left_before = [np.maximum(p.alloc - p.spent, 0.0) for p in budgets]
            gates = [p for p in eng.policies if p.name == "roi_gate"]
            throttled_before = [(p.throttle > 0) & eng.active[p.id][:, None] for p in gates]
            eng.step()
            yield maxxer_before, left_before, budgets, throttled_before, gates


@pytest.mark.parametrize("scenario", SHIPPED)
def test_tokens_non_negative_honest_never_game_caps_respected(scenario):
    extra = ["policies.budget.hard_cap=true"] if scenario == "budget" else []
    w = Watcher(small(scenario, *extra, employees=150, weeks=20, replications=3))
    eng = w.eng
    for maxxer_before, left_before, budgets, throttled_before, gates in w.run():
        assert (eng.m >= 0).all() and (eng.x >= 0).all() and (eng.y >= 0).all()
        np.testing.assert_allclose(eng.x + eng.y, eng.m, rtol=1e-6)
        assert (eng.y[~maxxer_before] == 0).all(), "an honest employee burnt gaming tokens"
        for left, p in zip(left_before, budgets):
            spend = eng.m * eng.scn.economy.price
            assert (spend <= left * (1 + 1e-5) + 1e-6).all(), "hard budget cap exceeded"
        for thr, p in zip(throttled_before, gates):
            assert (eng.m[thr] <= p.p.throttle_cap * (1 + 1e-6)).all(), "throttle cap exceeded"
        for k, v in eng.history.items():
            row = v[eng.t - 1]
            if k not in ("payoff_honest", "payoff_maxxer", "roi", "goodhart_rho"):
                assert np.isfinite(row).all(), k
        h = eng.history
        t = eng.t - 1
        for share in ("gaming_share", "waste_share", "maxxer_share", "throttled_share"):
            assert ((h[share][t] >= 0) & (h[share][t] <= 1)).all(), share


def test_budget_without_hard_cap_can_overspend_but_utilisation_is_reported():
    res = run_scenario(small("budget", employees=150, weeks=12, replications=3), seed=2)
    util = res.weekly["budget_utilisation"]
    assert ((util >= 0) & (util <= 1)).all()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_policies_pickle(name):
    p = build(name, {})
    q = pickle.loads(pickle.dumps(p))
    assert q.p == p.p and q.name == p.name


def test_schedule_switches_by_week():
    scn = small("leaderboard", "policies.leaderboard.active=false", weeks=12)
    scn = scn.model_copy(update={"schedule": load_scenario(ROOT / "scenarios" / "leaderboard.yaml").schedule})
    data = scn.model_dump()
    data["schedule"] = [{"week": 6, "activate": ["leaderboard"]}]
    from sim.config import Scenario

    scn = Scenario.model_validate(data)
    check_policies(scn)
    eng = Engine(scn, seed=1)
    tokens = eng.run()["tokens_per_employee"].mean(axis=1)
    assert tokens[6:].mean() > tokens[:6].mean() * 1.2
    assert eng.active["leaderboard"].all()


def test_trigger_switches_each_replication_on_its_own_bill():
    scn = small("sticker_shock", weeks=30, replications=6, employees=200)
    eng = Engine(scn, seed=5)
    eng.run()
    assert not eng.active["leaderboard"].any() and eng.active["roi_gate"].all()
    audits = eng.history["audits_per_employee"]
    assert (audits[:3] == 0).all() and (audits.sum(axis=0) > 0).all()


def test_policies_stack():
    """Two policies at once: leaderboard status and a token bonus both reach visible payoffs."""
    both = small("leaderboard", "policies.token_bonus.rate=1.0", weeks=6)
    alone = small("leaderboard", weeks=6)
    pay_both = run_scenario(both, seed=1).weekly["payouts_per_employee"]
    pay_alone = run_scenario(alone, seed=1).weekly["payouts_per_employee"]
    assert (pay_both > 0).all() and (pay_alone == 0).all()


def test_invalid_scenario_values_rejected():
    with pytest.raises(ScenarioError, match="economy.price"):
        load_scenario(ROOT / "scenarios" / "baseline.yaml", ["economy.price=-1"])
    with pytest.raises(ScenarioError, match="workforce.*status_seeking"):
        load_scenario(ROOT / "scenarios" / "baseline.yaml", ["workforce.status_seeking.dist=lognormal"])
    with pytest.raises((ScenarioError, ValidationError)):
        load_scenario(ROOT / "scenarios" / "baseline.yaml", ["choice.quantiles=[1.5]"])
