"""The stylised facts of MODEL.md §9, items 1-8, as statistical tests across replications.

Every assertion is a CI-separated difference (95% t-intervals that do not overlap), or a
paired difference under common random numbers whose CI excludes zero; never a point value
at one seed. Runs are 400 employees x 52 weeks x 20 replications unless stated.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine import Engine

from .conftest import assert_below, assert_paired_positive, ci, run, small


@pytest.fixture(scope="module")
def base():
    return run("baseline")


@pytest.fixture(scope="module")
def board():
    return run("leaderboard")


def test_1_goodhart_rank_correlation_falls_under_a_leaderboard(base, board):
    assert_below(board.runs["goodhart_rho"], base.runs["goodhart_rho"], "mean rho over the horizon")
    # sharpest right after the board starts (prototype: 0.95 -> about 0.5)
    early = board.weekly["goodhart_rho"][:4].mean(axis=0)
    assert_below(early, base.weekly["goodhart_rho"][:4].mean(axis=0), "rho in weeks 1-4")
    assert ci(early)[2] < 0.75


def test_2_leaderboard_cost_outruns_value_and_net_value_falls(base, board):
    cost_rise = board.runs["cost"] / base.runs["cost"] - 1  # paired by replication (CRN)
    value_rise = board.runs["value"] / base.runs["value"] - 1
    assert_paired_positive(cost_rise - value_rise, "cost growth minus value growth")
    assert_below(board.runs["net_value"], base.runs["net_value"], "net value")


def test_2_cutoff_climbs_above_its_pre_leaderboard_level(base, board):
    pre = board.weekly["cutoff"][0]  # week 1 choices react to the pre-board distribution
    assert_below(base.runs["cutoff"], board.runs["cutoff"], "mean cut-off vs baseline")
    assert_below(pre * 1.3, board.weekly["cutoff"][8], "cut-off in week 9 vs 1.3x week 1")


def test_2_response_concentrates_around_the_cutoff():
    """Lazear & Rosen: under a leaderboard, many more employees sit just above last week's cut-off."""
    def share_near_cutoff(name):
        eng = Engine(small(name, employees=400, weeks=20, replications=20), seed=7)
        shares = []
        while eng.t < 20:
            cut = eng._pub.quantile(0.9)
            eng.step()
            near = (eng.m >= cut * 0.999) & (eng.m <= cut * 1.10)
            if eng.t > 4:
                shares.append(near.mean(axis=1))
        return np.mean(shares, axis=0)

    assert_below(share_near_cutoff("baseline"), share_near_cutoff("leaderboard"), "share just above the cut-off")


def test_3_use_it_or_lose_it_budget_fills_up_and_adds_waste_and_gaming(base):
    budget = run("budget")
    util = budget.weekly["budget_utilisation"]
    last_periods = util[-8:].mean(axis=0)
    first_period = util[:4].mean(axis=0)
    assert_below(first_period, last_periods, "utilisation rises over the year")
    assert ci(last_periods)[1] > 0.9, "utilisation converges towards 100%"
    # whatever the productivity: the least productive quartile fills its allocation too
    eng = Engine(small("budget", employees=400, weeks=52, replications=20), seed=7)
    (p,) = [p for p in eng.policies if p.name == "budget"]
    while eng.t < 48:  # twelve 4-week periods
        eng.step()
    alloc, spent = p.alloc.copy(), np.zeros_like(p.alloc)
    while eng.t < 52:  # the last period of the year
        eng.step()
        spent += eng.m * eng.scn.economy.price
    period_util = np.minimum(spent / alloc, 1.0)
    low = eng.a <= np.quantile(eng.a, 0.25, axis=1, keepdims=True)
    assert ci((period_util * low).sum(axis=1) / low.sum(axis=1))[1] > 0.85
    assert_below(base.runs["waste_share"], budget.runs["waste_share"], "waste")
    assert_below(base.runs["gaming_share"], budget.runs["gaming_share"], "gaming")
    assert_below(budget.runs["goodhart_rho"], base.runs["goodhart_rho"], "rho")


def test_4_roi_gate_cuts_gaming_at_a_visible_overhead(board):
    gate = run("roi_gate")
    assert_below(gate.runs["gaming_share"], board.runs["gaming_share"] * 0.5, "gaming vs half the leaderboard's")
    assert ci(gate.runs["overhead"])[1] > 0


@pytest.mark.parametrize("harsh", ["policies.roi_gate.hurdle=3", "policies.roi_gate.noise=1.5"])
def test_4_too_strict_or_too_noisy_gates_throttle_good_employees_and_slow_skill(harsh):
    gate = run("roi_gate")
    bad = run("roi_gate", harsh)
    assert_below(gate.weekly["throttled_share"].mean(axis=0), bad.weekly["throttled_share"].mean(axis=0), "throttled")
    assert_below(bad.runs["mean_skill"], gate.runs["mean_skill"], "final skill")


def test_5_sticker_shock_cost_climbs_switches_then_falls():
    res = run("sticker_shock")
    cost, gaming = res.weekly["cost_per_employee"], res.weekly["gaming_share"]
    peak = cost[:12].max(axis=0)
    assert_below(cost[0], peak, "cost climbs before the switch")
    assert_below(cost[-10:].mean(axis=0), peak, "cost falls after the switch")
    assert_below(gaming[-10:].mean(axis=0), gaming[:4].mean(axis=0), "gaming falls after the switch")
    assert (res.weekly["audits_per_employee"].sum(axis=0) > 0).all(), "every replication switched"


def test_6_holmstrom_milgrom_tokens_rise_with_the_bonus_and_net_value_peaks_at_zero():
    rates = [0.0, 0.5, 1.0, 2.0, 4.0]
    runs = [run("token_bonus", f"policies.token_bonus.rate={r}") for r in rates]
    for lo, hi in zip(runs, runs[1:]):
        assert_paired_positive(hi.runs["tokens"] - lo.runs["tokens"], "tokens rise with the rate")
    for other in runs[2:]:
        assert_below(other.runs["net_value"], runs[0].runs["net_value"], "net value below the zero-rate level")
    assert_paired_positive(runs[0].runs["net_value"] - runs[1].runs["net_value"], "net value at 0 vs 0.5")


def test_7_adoption_leaderboard_raises_skill_faster_early(base, board):
    assert_below(base.weekly["mean_skill"][9], board.weekly["mean_skill"][9], "mean skill at week 10")


def test_8_gaming_rises_with_status_seeking():
    """Gaming volume (Mtok per employee-week) under the leaderboard, for status-seeking with
    mean 0.1, 0.29 (default) and 0.71.

    Gaming rises steeply from 0.1 to the default and keeps rising on average beyond it, but
    from 0.29 to 0.71 the rise is small next to the imitation noise: honest high status-seekers
    crowd the board with productive over-use, which narrows the visible edge of maxxing (see
    docs/ODD.md). So the test asserts the rise from the low level to each higher one.
    """
    def gaming(res):
        return res.runs["gaming_share"] * res.runs["tokens"]

    low = run("leaderboard", "workforce.status_seeking.a=1", "workforce.status_seeking.b=9", replications=40)
    mid = run("leaderboard", replications=40)
    high = run("leaderboard", "workforce.status_seeking.a=5", "workforce.status_seeking.b=2", replications=40)
    # paired by replication: same productivity, aversion, skill, network and shocks (CRN)
    assert_paired_positive(gaming(mid) - gaming(low), "Beta(2,5) minus Beta(1,9)")
    assert_paired_positive(gaming(high) - gaming(low), "Beta(5,2) minus Beta(1,9)")
    assert gaming(high).mean() > gaming(mid).mean() * 0.9


def test_imitation_spreads_maxxing_under_a_leaderboard_but_drifts_under_none(base, board):
    start = board.weekly["maxxer_share"][0]
    assert_below(start, board.weekly["maxxer_share"][-1], "maxxer share rises within the year")
    drift = base.weekly["maxxer_share"][-1] - base.weekly["maxxer_share"][0]
    m, lo, hi = ci(drift)
    assert lo < 0.05 and hi > -0.05, "neutral drift without visible rewards"
