"""Analysis of sweeps: the sensitivity pipeline checked on Ishigami, then on the model.

The Ishigami function's Sobol indices are known analytically; it runs through the same
``run_sweep`` (chunks, parquet, summary) and ``analyze`` code as the model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analyze import analyze, pooled, regime_table, resolve_param, response_table
from sim.cli import main
from sim.errors import ScenarioError
from sim.stats import describe
from sim.sweep import read_results, run_sweep

REPO = Path(__file__).resolve().parent.parent


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total Sobol indices of the Ishigami function (Sobol' & Levitan 1999)."""
    pi = math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * pi**8 / 225
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


@pytest.fixture(scope="module")
def ishigami_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ish") / "out"
    man = run_sweep(REPO / "sweeps" / "ishigami.yaml", out)
    return out, man


def test_ishigami_sobol_indices_recovered_through_the_sweep_machinery(ishigami_run):
    out, man = ishigami_run
    assert man["points"] == 1024 * (3 + 2) and man["chunks"] > 1  # really chunked and merged
    res = analyze(out, plots=False)
    t = res["indices"].set_index("parameter")
    s1, st = ishigami_indices()
    assert np.allclose(s1, [0.3139, 0.4424, 0.0], atol=1e-3) and np.allclose(st, [0.5576, 0.4424, 0.2437], atol=1e-3)
    for i, x in enumerate(["x1", "x2", "x3"]):
        for name, exact in (("S1", s1[i]), ("ST", st[i])):
            est, conf = t.loc[x, name], t.loc[x, f"{name}_conf"]
            assert 0 < conf < 0.1, (x, name, conf)
            # within the bootstrap 95% CI (plus a little slack for the CI's own error)
            assert abs(est - exact) <= conf + 0.01, f"{x} {name}: {est:.3f} +/- {conf:.3f}, analytic {exact:.3f}"
    # the ordering a user would read off: x2 first-order dominant, x3 only through its interaction with x1
    assert t.loc["x3", "ST"] - t.loc["x3", "S1"] > 0.15


def test_ishigami_values_are_the_function(ishigami_run):
    out, _ = ishigami_run
    df = read_results(out)
    x1, x2, x3 = (df[c].to_numpy() for c in ("x1", "x2", "x3"))
    np.testing.assert_allclose(df["y"], np.sin(x1) + 7 * np.sin(x2) ** 2 + 0.1 * x3**4 * np.sin(x1), rtol=1e-12)


def test_ishigami_morris_ranks_parameters(tmp_path):
    text = (REPO / "sweeps" / "ishigami.yaml").read_text().replace("method: sobol ", "method: morris").replace(
        "samples: 1024", "samples: 200").replace("  seed: 1", "  seed: 1\n  levels: 4")
    (tmp_path / "m.yaml").write_text(text)
    run_sweep(tmp_path / "m.yaml", tmp_path / "out")
    t = analyze(tmp_path / "out", plots=False)["indices"].set_index("parameter")
    assert (t["mu_star"] >= t["mu"].abs() - 1e-9).all() and (t["sigma"] >= 0).all()
    # every input matters (mu* well above 0); x3 acts only through its interaction with x1
    # (b x3^4 sin x1): its effects cancel on average (mu near 0) and vary most (largest sigma/mu*)
    assert (t["mu_star"] > 3).all()
    assert abs(t.loc["x3", "mu"]) < 0.2 * t.loc["x3", "mu_star"]
    assert (t["sigma"] / t["mu_star"]).idxmax() == "x3"
    # x1's effect sin(x1') - sin(x1) keeps one sign on the 4-level grid: mu = mu*
    assert t.loc["x1", "mu"] == pytest.approx(t.loc["x1", "mu_star"])


# --- the model ---------------------------------------------------------------------------------
GRID = """\
name: tinygrid
scenario: leaderboard
constants: {employees: 60, weeks: 6}
replications: 4
seed: 5
design: {method: grid}
uncertainties:
  workforce.status_seeking.a: {levels: [1, 4]}
levers:
  policies.leaderboard.prize: {bounds: [0, 800], steps: 3}
  economy.price: {levels: [2, 4]}
outcomes: [cost, gaming_share]
"""


def test_grid_response_and_regime_map_pool_replication_rows_exactly(tmp_path):
    (tmp_path / "g.yaml").write_text(GRID)
    out = tmp_path / "out"
    run_sweep(tmp_path / "g.yaml", out)
    res = analyze(out, plots=False)
    assert res["indices"] is None and any("grid" in n for n in res["notes"])
    assert res["regime"] == ("workforce.status_seeking.a", "policies.leaderboard.prize")
    rows = read_results(out)
    summary = pd.read_parquet(out / "summary.parquet")
    rt = pd.read_csv(out / "analysis" / "regime_map.csv")
    assert len(rt) == 2 * 3
    for _, cell in rt.iterrows():
        sel = rows[(rows["workforce.status_seeking.a"] == cell.x) & (rows["policies.leaderboard.prize"] == cell.y)]
        d = describe(sel["gaming_share"].to_numpy())
        assert cell.rows == len(sel) == 2 * 4
        assert cell["mean"] == pytest.approx(d["mean"], rel=1e-5)  # CSV keeps 6 digits
        assert cell.ci_low == pytest.approx(d["ci_low"], rel=1e-5) and cell.ci_high == pytest.approx(d["ci_high"], rel=1e-5)
    rsp = response_table(summary, "economy.price", "cost", 4)
    for _, r in rsp.iterrows():
        d = describe(rows.loc[rows["economy.price"] == r.x, "cost"].to_numpy())
        assert r["mean"] == pytest.approx(d["mean"]) and r.ci_high == pytest.approx(d["ci_high"])
    # the price drives the bill: cost at price 4 is CI-above cost at price 2
    assert rsp.iloc[1].ci_low > rsp.iloc[0].ci_high
    # a custom pair, by unambiguous tails
    assert regime_table(summary, "economy.price", "policies.leaderboard.prize", "cost", 4)["rows"].sum() == len(rows)
    assert analyze(out, regime=("price", "prize"), plots=False)["regime"] == ("economy.price",
                                                                            "policies.leaderboard.prize")


def test_pooled_ci_of_one_replication_points(tmp_path):
    summary = pd.DataFrame({"y": [1.0, 2.0, 4.0], "y:sd": [np.nan] * 3})
    m, lo, hi, n = pooled(summary, "y", 1, np.ones(3, bool))
    d = describe(np.array([1.0, 2.0, 4.0]))
    assert n == 3 and m == pytest.approx(d["mean"]) and lo == pytest.approx(d["ci_low"])


def test_sim_analyze_writes_indices_and_plots(tmp_path, capsys):
    text = (REPO / "sweeps" / "demo.yaml").read_text()
    text = text.replace("employees: 200", "employees: 60").replace("weeks: 26", "weeks: 6").replace(
        "replications: 8", "replications: 3").replace("samples: 40", "samples: 24")
    (tmp_path / "d.yaml").write_text(text)
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "d.yaml"), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out)]) == 0
    cap = capsys.readouterr()
    assert "gaming_share (latin_hypercube, 24 points x 3 replications)" in cap.out and "RBD-FAST" in cap.err
    a = out / "analysis"
    t = pd.read_csv(a / "indices.csv")
    assert set(t["outcome"]) == {"cost", "net_value", "gaming_share", "maxxer_share", "goodhart_rho"}
    assert len(t) == 5 * 4 and t[["S1", "S1_conf"]].notna().all().all()
    assert set(t["group"]) == {"uncertainty", "lever"}
    pngs = {p.name for p in a.glob("*.png")}
    assert {"indices.png", "regime_map.png", "response_cost.png", "response2_gaming_share.png"} <= pngs
    for p in a.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    rm = pd.read_csv(a / "regime_map.csv")
    assert rm["rows"].sum() == 24 * 3  # every replication row lands in one cell


def test_analyze_errors(tmp_path, capsys):
    (tmp_path / "g.yaml").write_text(GRID)
    out = tmp_path / "out"
    run_sweep(tmp_path / "g.yaml", out)
    assert main(["analyze", str(out), "--outcomes", "gaming_shar", "--no-plots"]) == 2
    assert "did you mean 'gaming_share'" in capsys.readouterr().err
    assert main(["analyze", str(out), "--regime", "prise", "price", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'prise'" in err and "policies.leaderboard.prize" in err
    assert main(["analyze", str(tmp_path), "--no-plots"]) == 2
    assert "no sweep.json" in capsys.readouterr().err
    with pytest.raises(ScenarioError, match="several parameters"):
        resolve_param("leaderboard", ["policies.leaderboard.prize", "policies.leaderboard.top_share"])


def test_ishigami_second_order_index_of_x1_x3(tmp_path):
    """S2(x1, x3) = V13 / V = 0.244; the other pairs do not interact (S2 = 0)."""
    text = (REPO / "sweeps" / "ishigami.yaml").read_text().replace("second_order", "x").replace(
        "  seed: 1", "  seed: 1\n  second_order: true")
    (tmp_path / "s2.yaml").write_text(text)
    man = run_sweep(tmp_path / "s2.yaml", tmp_path / "out")
    assert man["points"] == 1024 * (2 * 3 + 2)
    res = analyze(tmp_path / "out", plots=False)
    s2 = res["second_order"].set_index("parameter")
    _, st = ishigami_indices()
    assert (tmp_path / "out" / "analysis" / "indices_s2.csv").exists()
    for pair, exact in (("x1 x x2", 0.0), ("x1 x x3", st[2]), ("x2 x x3", 0.0)):
        est, conf = s2.loc[pair, "S2"], s2.loc[pair, "S2_conf"]
        assert abs(est - exact) <= conf + 0.02, f"S2 {pair}: {est:.3f} +/- {conf:.3f}, analytic {exact:.3f}"
