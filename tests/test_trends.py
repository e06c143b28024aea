"""Price and autonomy trends (MODEL.md §2, §9 item 9: Jevons)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import Trend

from .conftest import assert_below, run

FALLING_PRICE = ["economy.price_trend.kind=decline", "economy.price_trend.per_year=0.1"]  # 10x a year
#: tokens per developer x18.6 in 9 months (Jellyfish 2026): tau falls about 49x a year
RISING_AUTONOMY = ["economy.attention_trend.kind=decline", "economy.attention_trend.per_year=0.0205"]


def test_trend_values():
    assert Trend().at(3.0, 40) == 3.0
    step = Trend(kind="step", week=10, factor=0.5)
    assert step.at(4.0, 9) == 4.0 and step.at(4.0, 10) == 2.0
    decline = Trend(kind="decline", per_year=0.1)
    assert decline.at(3.0, 0) == 3.0 and decline.at(3.0, 52) == pytest.approx(0.3)
    assert decline.at(3.0, 26) == pytest.approx(3.0 * 0.1**0.5)


def test_jevons_price_decline_alone_with_free_tokens_lowers_spend():
    const = run("baseline", replications=12, employees=300)
    cheap = run("baseline", *FALLING_PRICE, replications=12, employees=300)
    # with sigma = 0 usage does not respond to the price at all: same tokens, replication by replication
    np.testing.assert_allclose(cheap.runs["tokens"], const.runs["tokens"], rtol=1e-6)
    assert_below(cheap.runs["total_cost"], const.runs["total_cost"], "spend with the price falling 10x a year")


def test_jevons_autonomy_outpacing_price_raises_tokens_and_spend():
    const = run("baseline", replications=12, employees=300)
    both = run("baseline", *FALLING_PRICE, *RISING_AUTONOMY, replications=12, employees=300)
    assert_below(const.runs["total_tokens"], both.runs["total_tokens"], "tokens")
    assert_below(const.runs["total_cost"], both.runs["total_cost"], "spend over the horizon")
    # x* scales as 1/tau: tokens rise by more than the price falls
    w = both.weekly["tokens_per_employee"]
    assert (w[-4:].mean(axis=0) / w[:4].mean(axis=0)).min() > 10


def test_a_price_step_applies_from_its_week():
    res = run("baseline", "economy.price_trend.kind=step", "economy.price_trend.week=5",
              "economy.price_trend.factor=2", replications=3, employees=100, weeks=10)
    ratio = res.weekly["cost_per_employee"] / res.weekly["tokens_per_employee"]
    np.testing.assert_allclose(ratio[:5], 3.0, rtol=1e-5)
    np.testing.assert_allclose(ratio[5:], 6.0, rtol=1e-5)
