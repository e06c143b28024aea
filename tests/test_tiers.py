"""Model tiers, the spend metric, routing and the implied price elasticity (MODEL.md §4.8, §9 item 9)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import STANDARD_TIERS, Economy
from sim.engine import Engine
from sim.errors import ScenarioError
from sim.loader import load_scenario
from sim.runner import price_elasticity, run_scenario

from .conftest import TEST_SEED, assert_below, ci, run, small

TIERS = ["economy.tiers=standard"]
SPEND = ["policies.leaderboard.metric=spend"]


def test_standard_tiers_are_the_documented_list_prices():
    e = Economy(tiers="standard")
    assert [t.name for t in e.tiers] == ["frontier", "mid", "small"]
    blended = [t.blended(e.input_share) for t in e.tiers]
    for t, spec, b in zip(e.tiers, STANDARD_TIERS, blended):
        assert b == pytest.approx(0.9 * spec["input_price"] + 0.1 * spec["output_price"])
    assert blended[0] > blended[1] > blended[2]  # frontier dearest, small cheapest
    assert e.tiers[0].quality > e.tiers[1].quality > e.tiers[2].quality


@pytest.mark.parametrize("tiers, message", [
    ("[{name: a, price: 1, input_price: 1, output_price: 2}]", "not both"),
    ("[{name: a, input_price: 1}]", "both 'input_price' and 'output_price'"),
    ("[{name: a, price: 1}, {name: a, price: 2}]", "unique"),
    ("[{name: a, price: -1}]", "price"),
    ("cheap", "'standard'"),
])
def test_bad_tiers_are_refused_with_the_reason(tmp_path, tiers, message):
    f = tmp_path / "t.yaml"
    f.write_text(f"extends: baseline\neconomy:\n  tiers: {tiers}\n")
    with pytest.raises(ScenarioError, match=message) as e:
        load_scenario(f)
    assert "economy.tiers" in str(e.value)


def test_routing_to_an_unknown_tier_names_file_line_and_the_tiers(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("extends: routing\npolicies:\n  routing:\n    default_tier: medium\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = str(e.value)
    assert "r.yaml:4:" in msg and "policies.routing.default_tier" in msg and "'medium'" in msg
    assert "Allowed: frontier, mid, small" in msg


def burn_shares(scn, weeks: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Per replication: the share of gaming tokens burnt on the small and on the frontier tier,
    over the last half of ``weeks`` weeks."""
    eng = Engine(scn, seed=TEST_SEED)
    small_y, frontier_y, all_y = (np.zeros(eng.R) for _ in range(3))
    for t in range(weeks):
        eng.step()
        if t >= weeks // 2:
            y = eng.y.astype(np.float64)
            small_y += (y * (eng.tier_y == eng.tier_names.index("small"))).sum(axis=1)
            frontier_y += (y * (eng.tier_y == eng.tier_names.index("frontier"))).sum(axis=1)
            all_y += y.sum(axis=1)
    assert (all_y > 0).all(), "no gaming at all: the test cannot tell the tiers apart"
    return small_y / all_y, frontier_y / all_y


def test_token_board_burns_on_the_cheapest_tier_spend_board_on_the_dearest():
    """MODEL.md §4.8: a token-count leaderboard makes maxxers burn on the cheapest tier, a
    spend leaderboard on the most expensive one. CI-separated across replications."""
    tokens = small("tiers", employees=300, weeks=12, replications=10)
    spend = small("tiers", *SPEND, employees=300, weeks=12, replications=10)
    small_tok, frontier_tok = burn_shares(tokens)
    small_sp, frontier_sp = burn_shares(spend)
    assert ci(small_tok)[1] > 0.9, "token board: gaming tokens mostly on the small tier"
    assert ci(frontier_sp)[1] > 0.9, "spend board: gaming tokens mostly on the frontier tier"
    assert_below(small_sp, small_tok, "share burnt on the small tier")
    assert_below(frontier_tok, frontier_sp, "share burnt on the frontier tier")


def test_productive_work_goes_to_the_highest_quality_tier_when_the_company_pays():
    eng = Engine(small("tiers", employees=200, weeks=4, replications=3), seed=TEST_SEED)
    eng.step()
    assert (eng.tier == eng.tier_names.index("frontier")).all()
    charged = Engine(small("tiers", "policies.cb.type=chargeback", "policies.cb.share=1",
                           employees=200, weeks=4, replications=3), seed=TEST_SEED)
    charged.step()
    # paying the price themselves, some employees move their work to cheaper tiers
    assert (charged.tier != charged.tier_names.index("frontier")).mean() > 0.2


def test_outputs_carry_tokens_and_spend_per_tier_that_add_up():
    res = run_scenario(small("tiers", employees=150, weeks=10, replications=3), seed=TEST_SEED)
    w = res.weekly
    names = ["frontier", "mid", "small"]
    tok = sum(w[f"tokens_per_employee[{n}]"] for n in names)
    spend = sum(w[f"spend_per_employee[{n}]"] for n in names)
    np.testing.assert_allclose(tok, w["tokens_per_employee"], rtol=1e-4)
    np.testing.assert_allclose(spend, w["cost_per_employee"], rtol=1e-4)
    summary = res.summary()
    assert summary["spend[frontier]"]["unit"] == "$/employee/week"
    # list prices do not move: a shift between tiers is not a price change
    assert summary["price_elasticity"]["mean"] is None
    assert "tokens[small]" in res.weekly_table().columns.str.replace("_per_employee", "").tolist()


def test_routing_moves_work_off_the_frontier_and_counts_the_justifications():
    base = run("tiers", "policies.leaderboard.active=false", employees=200, weeks=12, replications=10)
    routed = run("routing", employees=200, weeks=12, replications=10)
    assert_below(routed.runs["spend[frontier]"], base.runs["spend[frontier]"], "frontier spend")
    assert_below(base.runs["tokens[mid]"], routed.runs["tokens[mid]"], "mid-tier tokens")
    assert_below(routed.runs["cost"], base.runs["cost"], "the bill")
    # overhead is the justification time: $20 a request, so a positive multiple of 20 per week
    weekly = routed.weekly["overhead_per_employee"] * 200 / 20.0
    np.testing.assert_allclose(weekly, np.round(weekly), atol=1e-6)
    assert (weekly > 0).all()


def test_roi_approval_rule_approves_by_last_weeks_roi():
    never = run_scenario(small("routing", "policies.routing.rule=roi", "policies.routing.hurdle=1000",
                               employees=150, weeks=6, replications=3), seed=TEST_SEED)
    # nobody reaches an ROI of 1000: every request is refused, so no frontier tokens at all
    assert np.all(never.weekly["tokens_per_employee[frontier]"] == 0)


def test_tier_price_trend_moves_only_that_tiers_price(tmp_path):
    f = tmp_path / "step.yaml"
    f.write_text("extends: tiers\neconomy:\n  tiers:\n"
                 "    - {name: frontier, input_price: 15, output_price: 75}\n"
                 "    - {name: mid, input_price: 3, output_price: 15, quality: 0.9, speed: 1.5}\n"
                 "    - {name: small, input_price: 0.25, output_price: 2, quality: 0.7, speed: 3,\n"
                 "       price_trend: {kind: step, week: 5, factor: 0.5}}\n")
    size = ["employees=150", "weeks=10", "replications=3"]
    const = run_scenario(load_scenario("tiers", size), seed=TEST_SEED)
    step = run_scenario(load_scenario(f, size), seed=TEST_SEED)
    # the company pays: tiers and tokens do not move, the small tier's spend halves from week 5
    np.testing.assert_array_equal(step.weekly["tokens_per_employee"], const.weekly["tokens_per_employee"])
    a, b = const.weekly["spend_per_employee[small]"], step.weekly["spend_per_employee[small]"]
    assert (a[5:] > 0).all()
    np.testing.assert_allclose(b[:5], a[:5])
    np.testing.assert_allclose(b[5:], 0.5 * a[5:], rtol=1e-5)
    np.testing.assert_allclose(step.weekly["spend_per_employee[frontier]"], const.weekly["spend_per_employee[frontier]"])


def test_price_elasticity_formula():
    weeks = 20
    tokens = np.column_stack([np.full(weeks, 10.0), np.linspace(10, 40, weeks)])
    price = np.column_stack([np.full(weeks, 2.0), np.linspace(2, 0.5, weeks)])
    e = price_elasticity(tokens, price, weeks=1)
    assert np.isnan(e[0])  # constant price: undefined
    assert e[1] == pytest.approx(np.log(4) / np.log(0.25))  # tokens x4 as the price falls 4x: -1


def test_implied_elasticity_jevons_cases():
    """MODEL.md §9 item 9, against the constant-price run on the same workforce: zero with free
    tokens and the price falling alone; negative where employees pay the price; below -1
    (spend rises as the price falls) when autonomy outpaces the price."""
    from sim.compare import Comparison

    falling = ["economy.price_trend.kind=decline", "economy.price_trend.per_year=0.1"]
    autonomy = ["economy.attention_trend.kind=decline", "economy.attention_trend.per_year=0.0205"]
    size = dict(employees=200, weeks=52, replications=10)
    paid_terms = ["economy.price_share=1", "economy.attention_cost=0.5"]
    const = run("baseline", **size)
    free = run("baseline", "name=free", *falling, **size)
    both = run("baseline", "name=both", *falling, *autonomy, **size)
    paid_const = run("baseline", "name=paid_const", *paid_terms, **size)
    paid = run("baseline", "name=paid", *falling, *paid_terms, **size)
    el = Comparison([const, free, both]).elasticities()
    names = [r.scenario.name for r in (free, both)]
    assert el[names[0]]["mean"] == pytest.approx(0.0, abs=1e-6)  # tokens identical, replication by replication
    assert el[names[1]]["ci_high"] < -1.0, "autonomy outpacing price: elastic, spend rises"
    paid_el = Comparison([paid_const, paid]).elasticities()[paid.scenario.name]
    assert paid_el["ci_high"] < -0.2
    # the run's own trajectory elasticity is stated too (it includes learning over the year)
    assert free.summary()["price_elasticity"]["mean"] is not None
    assert const.summary()["price_elasticity"]["mean"] is None  # the price never moved


def test_run_prints_and_report_states_the_elasticity(tmp_path):
    from sim.cli import main

    out = tmp_path / "cmp"
    code = main(["compare", "baseline", "tiers", "tiers_roi_gate", "routing", "-r", "3", "-q",
                 "--set", "employees=100", "--set", "weeks=8", "--out", str(out)])
    assert code == 0
    html = (out / "report.html").read_text()
    assert "price_elasticity" in html and "spend[frontier]" in html


def test_compare_states_the_elasticity_when_prices_differ(tmp_path, capsys):
    from sim.cli import main

    f = tmp_path / "cheap.yaml"
    f.write_text("extends: baseline\nname: cheap\neconomy:\n  price_share: 1\n  attention_cost: 0.5\n"
                 "  price_trend: {kind: decline, per_year: 0.1}\n")
    g = tmp_path / "dear.yaml"
    g.write_text("extends: baseline\nname: dear\neconomy:\n  price_share: 1\n  attention_cost: 0.5\n")
    code = main(["compare", str(g), str(f), "-r", "4", "-q",
                 "--set", "employees=100", "--set", "weeks=20", "--out", str(tmp_path / "c")])
    assert code == 0
    out = capsys.readouterr().out
    assert "Implied price elasticity of demand against dear: -" in out
    assert "Implied price elasticity" in (tmp_path / "c" / "report.html").read_text()


@pytest.mark.parametrize("extra", [[], SPEND, ["economy.tiers=[{name: a, price: 1, quality: 0.5, speed: 4}, "
                                                 "{name: b, price: 9, quality: 1, speed: 1}, {name: c, price: 3, quality: 0.8, speed: 2}]"]])
def test_free_token_shortcut_picks_the_same_tiers_as_the_general_rule(extra):
    """With sigma = 0 the engine picks tiers by a shortcut (highest quality; fastest or dearest
    per metric unit to burn); it must agree with the employee-by-employee comparison."""
    scn = small("tiers", *extra, employees=300, weeks=8, replications=3)
    fast = Engine(scn, seed=TEST_SEED)
    general = Engine(scn, seed=TEST_SEED)
    general.tier_shortcut = False
    for _ in range(scn.weeks):
        fast.step()
        general.step()
        np.testing.assert_array_equal(fast.tier, general.tier)
        np.testing.assert_array_equal(fast.tier_y, general.tier_y)
    for k in fast.history:
        np.testing.assert_array_equal(fast.history[k], general.history[k], err_msg=k)
    assert len(np.unique(fast.tier_y)) >= 1 and fast.y.sum() > 0


def test_no_elasticity_between_scenarios_with_the_same_prices_but_different_tier_mixes():
    """Routing moves work between tiers; the list prices are the same, so no price elasticity."""
    from sim.compare import Comparison

    tiers = run("tiers", employees=150, weeks=8, replications=4)
    routed = run("routing", employees=150, weeks=8, replications=4)
    assert not np.allclose(tiers.runs["tokens[mid]"], routed.runs["tokens[mid]"])  # the mixes differ
    assert Comparison([tiers, routed]).elasticities()["routing"] is None


def test_set_reaches_into_lists_and_the_standard_tiers(tmp_path):
    """--set (and so sweeps) can address a tier by position, also inside `tiers: standard`."""
    scn = load_scenario("tiers", ["economy.tiers.2.input_price=0.1", "economy.tiers.0.quality=0.95"])
    assert scn.economy.tiers[2].input_price == 0.1 and scn.economy.tiers[0].quality == 0.95
    assert scn.economy.tiers[1].input_price == STANDARD_TIERS[1]["input_price"]
    assert load_scenario("sticker_shock", ["schedule.0.when.for_weeks=3"]).schedule[0].when.for_weeks == 3
    with pytest.raises(ScenarioError, match=r"'economy.tiers' is a list of 3; '5' is not a position in it \(0 to 2\)"):
        load_scenario("tiers", ["economy.tiers.5.price=1"])
    with pytest.raises(ScenarioError, match=r"economy.tiers.1.prise: unknown key 'prise'; did you mean 'price'"):
        load_scenario("tiers", ["economy.tiers.1.prise=1"])
