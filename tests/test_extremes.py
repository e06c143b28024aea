"""Numeric extremes: each one runs with finite outputs and the invariants holding, or is refused.

The extremes of the issue, across the shipped scenarios they concern: one and two employees,
one week, a zero price and a $10,000/Mtok price, a workforce of maxxers, no status seeking,
an ROI audit every week, certain detection of gaming, and a zero budget (refused: the
allocation must be positive). Then every declared parameter at each of its bounds. Each run
is stepped week by week (as in ``tests/test_invariants.py``): tokens are never negative,
honest employees never game, skills and shares stay in [0, 1], and every defined weekly
metric is finite; the results tables and summary hold no NaN or infinity where a value is
defined. Finally a few extremes go end to end through ``sim run`` and the result files are
checked: ``summary.json`` is strict JSON (no NaN/Infinity constants) and no cell of
``weekly.csv`` or ``runs.csv`` reads nan or inf (an undefined cell is empty).

Bugs found here were pinned as strict xfails until fixed; all are fixed (the last: a bad `a`/`b` of a
Beta trait given without `dist` is now reported at its own key, e.g. workforce.status_seeking.a).
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from sim.config import Scenario
from sim.engine import Engine
from sim.errors import ScenarioError
from sim.loader import check_policies, load_scenario
from sim.output import MAY_BE_UNDEFINED, check_finite
from sim.policies import REGISTRY
from sim.runner import run_scenario

from .strategies import bounds

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # finiteness is asserted, not warned

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
WITH_GATE = ["roi_gate", "sticker_shock"]
SHARES = ("gaming_share", "waste_share", "maxxer_share", "budget_utilisation", "throttled_share")


def load(name: str, *overrides: str, employees: int = 60, weeks: int = 12, replications: int = 3) -> Scenario:
    """A shipped scenario, small, with overrides applied after the size (so they can change it)."""
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml",
                         [f"employees={employees}", f"weeks={weeks}", f"replications={replications}", *overrides])


def step_and_check(scn: Scenario, seed: int = 11) -> Engine:
    """Step every week; check the per-employee invariants and the weekly metrics after each."""
    eng = Engine(scn, seed=seed)
    while eng.t < scn.weeks:
        honest = ~eng.maxxer.copy()
        eng.step()
        for name in ("m", "x", "y", "v", "payoff", "k"):
            assert np.isfinite(getattr(eng, name)).all(), f"{name} not finite at week {eng.t - 1}"
        assert (eng.m >= 0).all() and (eng.x >= 0).all() and (eng.y >= 0).all(), "negative tokens"
        np.testing.assert_allclose(eng.x + eng.y, eng.m, rtol=1e-5, atol=1e-6)
        assert (eng.y[honest] == 0).all(), "an honest employee burnt gaming tokens"
        assert ((eng.k >= 0) & (eng.k <= 1)).all(), "skill outside [0, 1]"
        t = eng.t - 1
        for name, series in eng.history.items():
            row = series[t]
            if name in MAY_BE_UNDEFINED:
                assert not np.isinf(row).any(), f"{name} infinite at week {t}"
            else:
                assert np.isfinite(row).all(), f"{name} not finite at week {t}: {row}"
        for share in SHARES:
            row = eng.history[share][t]
            assert ((row >= 0) & (row <= 1 + 1e-9)).all(), f"{share} outside [0, 1] at week {t}: {row}"
        rho = eng.history["goodhart_rho"][t]
        rho = rho[np.isfinite(rho)]
        assert ((rho >= -1 - 1e-6) & (rho <= 1 + 1e-6)).all()
    return eng


def check_results(scn: Scenario, seed: int = 11):
    """The batch runner on the same scenario: tables and summary finite where defined."""
    res = run_scenario(scn, seed=seed)
    check_finite(res.weekly_table(), "weekly.csv")
    check_finite(res.run_table().drop(columns=["roi", "goodhart_rho"]), "runs.csv")
    for metric, d in res.summary().items():
        for stat, x in d.items():
            assert x is None or not isinstance(x, float) or math.isfinite(x), (metric, stat, x)
    return res


def runs_clean(scn: Scenario) -> tuple[Engine, object]:
    check_policies(scn)
    return step_and_check(scn), check_results(scn)


# --- the extremes of the issue, across the scenarios they concern ------------------------------
EXTREMES: dict[str, tuple[list[str], list[str]]] = {
    # id: (overrides, scenarios)
    "one-employee": (["employees=1"], SHIPPED),
    "two-employees": (["employees=2"], SHIPPED),
    "one-week": (["weeks=1"], SHIPPED),
    "one-employee-one-week-one-rep": (["employees=1", "weeks=1", "replications=1"], SHIPPED),
    "price-zero": (["economy.price=0"], SHIPPED),
    "price-10000": (["economy.price=10000"], SHIPPED),
    "price-10000-employee-pays-all": (["economy.price=10000", "economy.price_share=1"], SHIPPED),
    "all-maxxers": (["workforce.initial_maxxer_share=1"], SHIPPED),
    "no-maxxers": (["workforce.initial_maxxer_share=0"], SHIPPED),
    "no-status-seeking": (["workforce.status_seeking={dist: constant, value: 0}"], SHIPPED),
    "all-status-seeking": (["workforce.status_seeking={dist: constant, value: 1}"], SHIPPED),
    "no-skill": (["workforce.initial_skill={dist: constant, value: 0}"], SHIPPED),
    "audit-every-week": (["policies.roi_gate.audit_every=1"], WITH_GATE),
    "certain-detection": (["policies.roi_gate.detection=1000"], WITH_GATE),
    "audit-weekly-certain-detection-all-maxxers": (
        ["policies.roi_gate.audit_every=1", "policies.roi_gate.detection=1000", "workforce.initial_maxxer_share=1"],
        WITH_GATE),
    "gate-two-employees-price-10000": (
        ["employees=2", "policies.roi_gate.audit_every=1", "policies.roi_gate.detection=1000", "economy.price=10000"],
        WITH_GATE),
    "budget-tiny": (["policies.budget.allocation=1e-9"], ["budget"]),
    "budget-tiny-hard-cap": (["policies.budget.allocation=1e-9", "policies.budget.hard_cap=true"], ["budget"]),
    "budget-hard-cap-price-zero": (["policies.budget.hard_cap=true", "economy.price=0"], ["budget"]),
    "budget-one-week-periods": (["policies.budget.period_weeks=1", "policies.budget.hard_cap=true"], ["budget"]),
}
CASES = [
    pytest.param(name, extreme, id=f"{extreme}-{name}") for extreme, (_, names) in EXTREMES.items() for name in names
]


def at_price(price: str) -> str:
    """The standard tiers, all at one price: what `economy.price` means for a tiered scenario."""
    tiers = ", ".join(f"{{name: {n}, price: {price}, quality: {q}, speed: {v}}}"
                      for n, q, v in (("frontier", 1, 1), ("mid", 0.9, 1.5), ("small", 0.7, 3)))
    return f"economy.tiers=[{tiers}]"


@pytest.mark.parametrize("name, extreme", CASES)
def test_extreme_runs_with_invariants(name, extreme):
    overrides, _ = EXTREMES[extreme]
    tiered = bool(load(name).economy.tiers)
    price = next((o.split("=")[1] for o in overrides if o.startswith("economy.price=")), None)
    if tiered and price:  # economy.price is unused with tiers: price the tiers instead
        overrides = [at_price(price) if o.startswith("economy.price=") else o for o in overrides]
    scn = load(name, *overrides)
    eng, res = runs_clean(scn)
    h = eng.history
    if price == "0":
        assert (h["cost_per_employee"] == 0).all()
        assert np.isnan(h["roi"]).all(), "ROI must be undefined (NaN, written empty) when nothing is spent"
        assert res.summary()["roi"]["mean"] is None
    if "workforce.initial_maxxer_share=0" in overrides and scn.imitation.mutation == 0:
        assert (h["gaming_share"] == 0).all() and (h["maxxer_share"] == 0).all()
    if "policies.roi_gate.audit_every=1" in overrides and name == "roi_gate":
        np.testing.assert_allclose(h["audits_per_employee"], scn.policies["roi_gate"].get("audit_share", 1.0))
    if "policies.roi_gate.detection=1000" in overrides:
        assert (h["penalty_rate"] <= h["audits_per_employee"] + 1e-12).all()


def test_zero_budget_refused_naming_the_key():
    """allocation is declared > 0: zero is refused up front, naming the key and the bound."""
    with pytest.raises(ScenarioError) as info:
        load("budget", "policies.budget.allocation=0")
    msg = str(info.value)
    assert "policies.budget.allocation" in msg
    assert "greater than 0" in msg
    assert "--set" in msg
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize("value", ["0", "-1", "-1e-9"])
def test_non_positive_budget_refused_in_a_file(tmp_path, value):
    path = tmp_path / "zero_budget.yaml"
    path.write_text(f"extends: budget\npolicies:\n  budget:\n    allocation: {value}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.path == "policies.budget.allocation"
    assert info.value.line == 4
    assert "zero_budget.yaml:4:" in str(info.value)


def test_zero_employees_and_weeks_refused():
    for override, key in [("employees=0", "employees"), ("weeks=0", "weeks"), ("replications=0", "replications")]:
        with pytest.raises(ScenarioError, match=key):
            load("leaderboard", override)


# --- every declared parameter at each of its bounds --------------------------------------------


def _declared():
    """(dotted key, FieldInfo, scenario that exercises it) for every declared int/float parameter."""
    out = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
            elif hasattr(info.default, "dist"):  # a workforce distribution: its default family
                walk(type(info.default), f"{prefix}{name}.")
            elif ann in (int, float) and prefix + name not in ("seed", "replications", "weeks", "employees"):
                out.append((prefix + name, info, "sticker_shock"))

    walk(Scenario, "")
    home = {"none": "baseline", "leaderboard": "leaderboard"}
    for pid, cls in REGISTRY.items():
        for name, info in cls.Params.model_fields.items():
            if info.annotation in (int, float):
                out.append((f"policies.{pid}.{name}", info, home.get(pid, pid)))
    return out


def _edge_cases():
    """(key, nearest allowed value, nearest refused value, scenario, side) at each declared bound."""
    cases = []
    for key, info, scenario in _declared():
        lo, lo_strict, hi, hi_strict = bounds(info)
        is_int = info.annotation is int
        if lo is not None:
            below = lo - 1 if is_int else math.nextafter(lo, -math.inf)
            above = lo + 1 if is_int else math.nextafter(lo, math.inf)
            cases.append((key, above if lo_strict else lo, lo if lo_strict else below, scenario, "min"))
        if hi is not None:
            below = hi - 1 if is_int else math.nextafter(hi, -math.inf)
            above = hi + 1 if is_int else math.nextafter(hi, math.inf)
            cases.append((key, below if hi_strict else hi, hi if hi_strict else above, scenario, "max"))
    return cases


#: the divisors' lower bounds (x0, half_saturation, attention_cost >= 1e-3) keep float32 finite
EDGE_BUGS: set[tuple[str, str]] = set()


@pytest.mark.parametrize(
    "key, value, scenario",
    [pytest.param(k, v, s, id=f"{k}={v!r}")
     for k, v, _, s, side in _edge_cases()],
)
def test_parameter_at_its_bound_runs(key, value, scenario):
    """Each declared parameter at each declared bound (the nearest allowed value) loads and runs clean."""
    scn = load(scenario, f"{key}={value!r}", employees=40, weeks=8, replications=2)
    runs_clean(scn)


@pytest.mark.parametrize(
    "key, value, scenario",
    [pytest.param(k, bad, s, id=f"{k}={bad!r}") for k, _, bad, s, side in _edge_cases()],
)
def test_parameter_just_outside_its_bound_refused(key, value, scenario):
    """One step past each declared bound is refused, naming the key and the bound."""
    with pytest.raises(ScenarioError) as info:
        load(scenario, f"{key}={value!r}")
    msg = str(info.value)
    assert key in msg and len(msg.splitlines()) == 1
    assert re.search(r"(greater|less) than", msg), msg


# --- tiny positive divisors ---------------------------------------------------------------------
def test_tiny_price_gives_finite_roi():
    scn = load("leaderboard", "economy.price=1e-38")
    res = check_results(scn)
    assert not np.isinf(res.weekly["roi"]).any()


@pytest.mark.parametrize("overrides", [
    ["economy.x0=1e-38"],
    ["learning.half_saturation=1e-300"],
    ["economy.attention_cost=1e-300", "workforce.initial_skill={dist: constant, value: 0}"],
], ids=["x0", "half_saturation", "attention_cost"])
def test_tiny_divisors_are_refused_up_front(overrides):
    """Tiny positive divisors would overflow float32 arithmetic: their lower bounds refuse them."""
    with pytest.raises(ScenarioError) as info:
        load("roi_gate", *overrides)
    key = overrides[0].split("=")[0]
    assert key in str(info.value) and "greater than or equal to 0.001" in str(info.value)


# --- end to end: NaN and infinity never reach a result file -----------------------------------
CSV_BAD = {"nan", "-nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}
HTML_BAD = re.compile(r"(?<![\w.])(NaN|-?Infinity|-?inf|nan)(?![\w.])")


def strict_json(text: str):
    def refuse(const):
        raise ValueError(f"{const} in a result file")

    return json.loads(text, parse_constant=refuse)


def csv_cells(path: Path):
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows)
        for row in rows:
            yield from zip(header, row)


def sim_run(tmp_path: Path, *args: str, plots: bool = False) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sim.cli", "run", *args, "-q", "--out", str(out)] + ([] if plots else ["--no-plots"])
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return proc, out


def assert_clean_files(proc: subprocess.CompletedProcess, out: Path) -> dict:
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert proc.returncode == 0, proc.stderr
    summary = strict_json((out / "summary.json").read_text())
    for name in ("weekly.csv", "runs.csv"):
        for col, cell in csv_cells(out / name):
            if col != "scenario":
                assert cell.strip().lower() not in CSV_BAD, f"{name}: {col} = {cell!r}"
    if (out / "report.html").exists():
        html = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", (out / "report.html").read_text())
        bad = HTML_BAD.search(html)
        assert bad is None, html[max(0, bad.start() - 100): bad.end() + 50]
    return summary


E2E = {
    "price-zero": ("leaderboard", ["economy.price=0"]),
    "price-zero-budget-hard-cap": ("budget", ["economy.price=0", "policies.budget.hard_cap=true"]),
    "one-employee-one-week": ("roi_gate", ["employees=1", "weeks=1"]),
    "gate-extremes": ("sticker_shock", ["economy.price=10000", "workforce.initial_maxxer_share=1",
                                        "policies.roi_gate.audit_every=1", "policies.roi_gate.detection=1000"]),
}


@pytest.mark.parametrize("extreme", list(E2E))
def test_cli_extremes_write_no_nan(tmp_path, extreme):
    scenario, overrides = E2E[extreme]
    sets = [a for o in ["employees=30", "weeks=4", *overrides] for a in ("--set", o)]
    reps = ["-r", "1"] if extreme == "one-employee-one-week" else ["-r", "3"]
    proc, out = sim_run(tmp_path, scenario, *sets, *reps)
    summary = assert_clean_files(proc, out)
    metrics = summary["metrics"]
    if "economy.price=0" in overrides:
        assert metrics["roi"]["mean"] is None and metrics["cost"]["mean"] == 0
        roi = [cell for col, cell in csv_cells(out / "weekly.csv") if col == "roi"]
        assert roi and all(cell == "" for cell in roi), "undefined ROI must be written as empty cells"
    if extreme == "one-employee-one-week":
        assert metrics["tokens"]["sd"] is None and metrics["goodhart_rho"]["mean"] is None


def test_cli_extreme_with_plots_writes_no_nan(tmp_path):
    """The default run (plots and report.html on) at a $10,000 price with every hook firing."""
    scenario, overrides = E2E["gate-extremes"]
    sets = [a for o in ["employees=30", "weeks=4", *overrides] for a in ("--set", o)]
    proc, out = sim_run(tmp_path, scenario, *sets, "-r", "3", plots=True)
    assert_clean_files(proc, out)
    assert (out / "report.html").exists() and (out / "timeseries.png").exists()


@pytest.mark.parametrize("command, overrides", [
    (["run", "leaderboard"], ["economy.price=0"]),
    (["run", "leaderboard"], ["employees=2"]),
    (["compare", "baseline", "leaderboard"], ["employees=2"]),
], ids=["run-price-zero", "run-two-employees", "compare-two-employees"])
def test_report_handles_undefined_metrics(tmp_path, command, overrides):
    sets = [a for o in ["employees=30", "weeks=3", *overrides] for a in ("--set", o)]
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "sim.cli", *command, *sets, "-r", "2", "-q", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr[-800:]
    assert proc.returncode == 0
    assert (out / "report.html").exists()
