"""sim compare: common random numbers make policy differences paired and their CIs narrow."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from sim.compare import check_comparable, compare, paired_difference, verdict
from sim.errors import ScenarioError
from sim.loader import load_scenario

from .conftest import ROOT, small


@pytest.fixture(scope="module")
def shipped_pair():
    """The shipped leaderboard-vs-baseline pair at its default size (1,000 x 52 weeks x 30)."""
    scns = [load_scenario(ROOT / "scenarios" / f"{n}.yaml") for n in ("baseline", "leaderboard")]
    return compare(scns)


def test_pairing_narrows_value_and_net_value_cis_at_least_twofold(shipped_pair):
    diffs = shipped_pair.differences()["leaderboard"]
    for metric in ("value", "net_value"):
        d = diffs[metric]
        assert d.gain >= 2.0, f"{metric}: paired {d.paired_width:.3g} vs unpaired {d.unpaired_width:.3g}"
    # and the verdict on the headline trade-off reads as promised
    line = shipped_pair.verdicts()["leaderboard"][0]
    assert line.startswith("leaderboard costs ") and "more than baseline for " in line and "more real value" in line


def test_paired_difference_matches_a_paired_t_interval():
    rng = np.random.default_rng(0)
    a = rng.normal(100, 10, 25)
    b = a + rng.normal(5, 2, 25)
    d = paired_difference("value", a, b)
    res = stats.ttest_rel(b, a)
    lo, hi = res.confidence_interval(0.95)
    assert d.ci_low == pytest.approx(lo) and d.ci_high == pytest.approx(hi)
    welch = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert d.unpaired_width == pytest.approx(welch.high - welch.low, rel=0.05)
    assert d.rel == pytest.approx((b - a).mean() / a.mean())
    assert d.clear and d.gain > 3


def test_verdict_says_no_clear_difference_when_the_ci_spans_zero():
    rng = np.random.default_rng(1)
    a = rng.normal(100, 10, 20)
    d = paired_difference("cost", a, a + rng.normal(0, 1, 20))
    if not d.clear:
        assert "no clear difference" in verdict("x", "base", d)


def test_different_horizons_are_refused_and_sizes_warned():
    with pytest.raises(ScenarioError, match="different horizons"):
        check_comparable([small("baseline", weeks=10), small("leaderboard", weeks=12)])
    notes = check_comparable([small("baseline", employees=50), small("leaderboard", employees=60)])
    assert any("not paired" in n for n in notes)
    assert check_comparable([small("baseline"), small("leaderboard")]) == []


def test_duplicate_names_refused():
    with pytest.raises(ScenarioError, match="names must differ"):
        compare([small("baseline"), small("baseline")])


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sim.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_cli_compare_writes_a_report_and_paired_summary(tmp_path):
    out = tmp_path / "cmp"
    r = cli("compare", "baseline", "leaderboard", "roi_gate", "--set", "employees=80", "--set", "weeks=10",
            "-r", "5", "--out", out, "-q", "--baseline", "leaderboard", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "paired differences: baseline vs leaderboard" in r.stdout
    assert "paired width" in r.stdout and "unpaired width" in r.stdout
    assert {"report.html", "summary.json", "weekly.csv", "runs.csv", "configs"} <= {p.name for p in out.iterdir()}
    doc = json.loads((out / "summary.json").read_text())
    assert doc["baseline"] == "leaderboard" and set(doc["differences"]) == {"baseline", "roi_gate"}
    d = doc["differences"]["roi_gate"]["gaming_share"]
    assert d["ci_low"] <= d["mean"] <= d["ci_high"] and "paired_width" in d and "unpaired_width" in d
    html = (out / "report.html").read_text()
    assert "Executive summary" in html and "Paired differences" in html and html.count("data:image/png;base64") >= 5
    assert "seed" in html and "sim_version" in html


def test_cli_compare_errors(tmp_path):
    r = cli("compare", "baseline", "leaderboard", "--set", "employees=20", "--set", "weeks=3", "-r", "2",
            "--baseline", "leaderbord", "--out", tmp_path / "x", cwd=tmp_path)
    assert r.returncode == 2 and "did you mean 'leaderboard'" in r.stderr and not (tmp_path / "x").exists()
    (tmp_path / "short.yaml").write_text("extends: baseline.yaml\nname: short\nweeks: 5\n")
    r = cli("compare", "leaderboard", "short.yaml", "--set", "employees=20", "--out", tmp_path / "y", cwd=tmp_path)
    assert r.returncode == 2 and "different horizons" in r.stderr and "Traceback" not in r.stderr
    r = cli("compare", "baseline", cwd=tmp_path)
    assert r.returncode == 2 and "at least two" in r.stderr


def test_cli_compare_warns_on_different_sizes(tmp_path):
    (tmp_path / "big.yaml").write_text("extends: leaderboard.yaml\nname: big\nemployees: 60\n")
    r = cli("compare", "baseline", "big.yaml", "--set", "weeks=4", "-r", "2", "--out", tmp_path / "z", "-q",
            "--no-plots", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "WARNING: workforce sizes differ" in r.stderr
