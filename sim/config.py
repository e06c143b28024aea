"""Typed scenario configuration (MODEL.md §2, §4, §8), validated by pydantic.

A scenario is plain data. Defaults are the calibration of MODEL.md §8 and its feasibility
prototype; ``docs/ODD.md`` cites the source of each. Loading from YAML (with ``extends``
and ``--set``) lives in :mod:`sim.loader`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from .metrics import WEEKLY
from .params import Strict, param


# --- trait distributions -------------------------------------------------------------------
class Lognormal(Strict):
    """Lognormal given by its median and the sd of its logarithm."""

    dist: Literal["lognormal"] = "lognormal"
    median: float = param(1.0, gt=0, le=1e9, unit="trait unit", doc="median (exp of mu)")
    sigma: float = param(0.5, ge=0, le=5, unit="log units", doc="sd of the log")


class Beta(Strict):
    """Beta(a, b) on [0, 1]."""

    dist: Literal["beta"] = "beta"
    a: float = param(2.0, gt=0, le=1e4, unit="-", doc="first shape parameter")
    b: float = param(5.0, gt=0, le=1e4, unit="-", doc="second shape parameter")


class Uniform(Strict):
    """Uniform on [low, high]."""

    dist: Literal["uniform"] = "uniform"
    low: float = param(0.0, ge=-1e9, le=1e9, unit="trait unit", doc="lower bound")
    high: float = param(1.0, ge=-1e9, le=1e9, unit="trait unit", doc="upper bound")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be at least low")
        return self


class Constant(Strict):
    """Every employee gets the same value."""

    dist: Literal["constant"] = "constant"
    value: float = param(1.0, ge=-1e9, le=1e9, unit="trait unit", doc="the value")


Distribution = Annotated[Lognormal | Beta | Uniform | Constant, Field(discriminator="dist")]
UNIT_INTERVAL_DISTS = ("beta", "uniform", "constant")


class Workforce(Strict):
    """Employee traits (MODEL.md §2), drawn once per replication."""

    productivity: Distribution = Lognormal(median=450.0, sigma=0.5)
    """a_i, $ of value per unit of AI-assisted work per week (prototype: median $450, sigma 0.5)."""
    status_seeking: Distribution = Beta(a=2.0, b=5.0)
    """s_i in [0, 1], weight on rank and recognition (MODEL.md §2: Beta(2, 5))."""
    gaming_aversion: Distribution = Lognormal(median=2.0, sigma=0.8)
    """c_i, $/Mtok linear cost of burning tokens for show (prototype: median $2, sigma 0.8)."""
    initial_skill: Distribution = Beta(a=5.0, b=5.0)
    """k_i at week 0 in [0, 1] (prototype: Beta(5, 5))."""
    initial_maxxer_share: float = param(
        0.1, ge=0, le=1, unit="share", doc="share of maxxers at week 0 (prototype: 10%)"
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_distributions(cls, data: Any) -> Any:
        """A partial distribution (``{median: 500}``) keeps the default's family and other fields."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            value = out.get(name)
            if isinstance(value, dict) and isinstance(field.default, Strict) and hasattr(field.default, "dist"):
                if value.get("dist", field.default.dist) == field.default.dist:
                    out[name] = {**field.default.model_dump(), **value}
        return out

    @model_validator(mode="after")
    def _unit_interval(self) -> Workforce:
        for name in ("status_seeking", "initial_skill"):
            d = getattr(self, name)
            lo, hi = {
                "beta": (0.0, 1.0),
                "uniform": (getattr(d, "low", 0), getattr(d, "high", 1)),
                "constant": (getattr(d, "value", 0), getattr(d, "value", 0)),
                "lognormal": (0.0, float("inf")),
            }[d.dist]
            if d.dist == "lognormal" or lo < 0 or hi > 1:
                raise ValueError(f"{name} must lie in [0, 1]: use beta, or uniform/constant in [0, 1]")
        for name in ("productivity", "gaming_aversion"):
            d = getattr(self, name)
            if d.dist == "uniform" and d.low < 0 or d.dist == "constant" and d.value < 0:
                raise ValueError(f"{name} must be non-negative")
        return self


class Trend(Strict):
    """How a price or cost moves over the weeks: constant, one step, or a steady decline."""

    kind: Literal["constant", "step", "decline"] = "constant"
    week: int = Field(0, ge=0, le=100_000, description="step: the first week at the new level")
    factor: float = param(1.0, gt=0, le=1e6, unit="x", doc="step: multiplier from `week` on")
    per_year: float = param(
        1.0, gt=0, le=1e3, unit="x per year", doc="decline: multiplier per 52 weeks (0.1 = 10x cheaper a year)"
    )

    def at(self, base: float, week: int) -> float:
        """The value in a given week (0-based) of a quantity whose week-0 value is ``base``."""
        if self.kind == "step":
            return base * self.factor if week >= self.week else base
        if self.kind == "decline":
            return base * self.per_year ** (week / 52.0)
        return base


class Tier(Strict):
    """A model tier (MODEL.md §4.8): its price, the quality of its work and its speed.

    Give either one blended ``price`` or ``input_price`` and ``output_price`` (blended with the
    economy's ``input_share``).
    """

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$", description="the tier's name, e.g. frontier")
    price: float | None = param(None, ge=0, le=1e4, unit="$/Mtok", doc="blended price; or give input and output prices")
    input_price: float | None = param(None, ge=0, le=1e4, unit="$/Mtok", doc="list price of input tokens")
    output_price: float | None = param(None, ge=0, le=1e5, unit="$/Mtok", doc="list price of output tokens")
    quality: float = param(1.0, gt=0, le=10, unit="x", doc="multiplier on real value V_i (frontier = 1)")
    speed: float = param(
        1.0, gt=0, le=100, unit="x", doc="relative throughput: burning a Mtok for show costs c_i / speed of effort"
    )
    price_trend: Trend | None = None
    """How this tier's price moves (default: the economy's ``price_trend``)."""

    @model_validator(mode="after")
    def _priced(self) -> Tier:
        split = (self.input_price is None, self.output_price is None)
        if self.price is None and any(split):
            raise ValueError(f"tier '{self.name}': give 'price', or both 'input_price' and 'output_price'")
        if self.price is not None and not all(split):
            raise ValueError(f"tier '{self.name}': give 'price' or input/output prices, not both")
        return self

    def blended(self, input_share: float) -> float:
        """The blended price per Mtok at week 0."""
        if self.price is not None:
            return self.price
        return input_share * self.input_price + (1.0 - input_share) * self.output_price


#: ``tiers: standard``: list prices per Mtok (input, output) of late-2025 model families, within
#: the ranges of MODEL.md §8 (simonw/llm-prices): a frontier model at $15/$75 (Claude Opus 4.1),
#: a mid model at $3/$15 (Claude Sonnet 4.5), a small model at $0.25/$2 (GPT-5 mini). Quality is
#: the ratio of SWE-bench Verified scores to the frontier's, rounded; speed the ratio of output
#: throughput (Artificial Analysis). See docs/ODD.md, departure 25.
STANDARD_TIERS = (
    {"name": "frontier", "input_price": 15.0, "output_price": 75.0, "quality": 1.0, "speed": 1.0},
    {"name": "mid", "input_price": 3.0, "output_price": 15.0, "quality": 0.9, "speed": 1.5},
    {"name": "small", "input_price": 0.25, "output_price": 2.0, "quality": 0.7, "speed": 3.0},
)


class Economy(Strict):
    """Prices, value function and frictions (MODEL.md §2-§4, §8)."""

    price: float = param(
        3.0, ge=0, le=1e4, unit="$/Mtok", doc="blended token price p (simonw/llm-prices: $0.5-5); unused with tiers"
    )
    attention_cost: float = param(
        4.0, ge=1e-3, le=1e4, unit="$/Mtok", doc="tau, human attention per productive Mtok (prototype)"
    )
    price_share: float = param(
        0.0, ge=0, le=1, unit="share", doc="sigma, share of the price the employee bears (0: company pays)"
    )
    x0: float = param(8.0, ge=1e-3, le=1e6, unit="Mtok/week", doc="scale of the value curve V = a k ln(1 + x/x0)")
    gamma: float = param(0.01, ge=0, le=1e3, unit="$/Mtok^2", doc="convexity of the gaming cost C(y)")
    shock_sd: float = param(0.2, ge=0, le=0.9, unit="share", doc="sd of the weekly value shock epsilon")
    gaming_burden: float = param(
        0.3, ge=0, le=1e3, unit="$/Mtok", doc="delta, review burden per gaming Mtok on each teammate"
    )
    price_trend: Trend = Trend()
    """How the token price moves (a16z "LLMflation": about 10x cheaper a year at constant capability)."""
    attention_trend: Trend = Trend()
    """How tau moves as agents need less supervision per token (the "autonomy" trend, MODEL.md §9.9)."""
    tiers: tuple[Tier, ...] = ()
    """Model tiers (MODEL.md §4.8); empty: one blended ``price``. ``standard``: frontier, mid, small."""
    input_share: float = param(
        0.9, ge=0, le=1, unit="share", doc="share of input tokens when blending a tier's input and output prices"
    )

    @field_validator("tiers", mode="before")
    @classmethod
    def _standard(cls, v):
        if v == "standard":
            return STANDARD_TIERS
        if isinstance(v, str):
            raise ValueError("tiers must be a list of tiers or 'standard'")
        return v

    @field_validator("tiers", mode="after")
    @classmethod
    def _tier_names(cls, v):
        names = [t.name for t in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"tier names must be unique (repeated: {', '.join(dup)})")
        return v


class Learning(Strict):
    """Skill growth with productive use (MODEL.md §4.5)."""

    rate: float = param(0.02, ge=0, le=1, unit="1/week", doc="eta, skill growth rate")
    half_saturation: float = param(30.0, ge=1e-3, le=1e6, unit="Mtok/week", doc="x_1/2 of the learning curve")
    decay: float = param(0.002, ge=0, le=1, unit="1/week", doc="skill decay without use")


class Network(Strict):
    """Who imitates whom (MODEL.md §2, §4.6)."""

    kind: Literal["small_world", "well_mixed"] = "small_world"
    team_size: int = Field(8, ge=1, le=1000, description="employees per team")
    cross_links: int = Field(2, ge=0, le=20, description="links per employee to other teams")
    rewire: float = param(0.1, ge=0, le=1, unit="probability", doc="chance a cross link goes to a random team")


class Choice(Strict):
    """Bounded-rational menu choice (MODEL.md §4.2)."""

    temperature: float = param(20.0, gt=0, le=1e6, unit="$", doc="lambda, logit noise")
    quantiles: tuple[float, ...] = Field(
        (0.5, 0.75, 0.9), min_length=1, max_length=9, description="levels of last week's metric on the menu"
    )
    margin: float = param(
        0.05, ge=0, le=0.5, unit="share", doc="mean aim above a published cut-off (each employee's aim ~ U[0, 2 margin])"
    )

    @model_validator(mode="after")
    def _levels(self) -> Choice:
        if any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError("quantiles must lie strictly between 0 and 1")
        return self


class Imitation(Strict):
    """Fermi pairwise comparison on visible payoff (MODEL.md §4.6)."""

    rate: float = param(0.25, ge=0, le=1, unit="1/week", doc="q, chance an employee revises its strategy")
    intensity: float = param(0.05, ge=0, le=100, unit="1/$", doc="beta, selection intensity (calibrated, see ODD)")
    mutation: float = param(
        0.0, ge=0, le=1, unit="1/week", doc="chance an employee switches strategy at random (exploration)"
    )


class Trigger(Strict):
    """Fire when a weekly metric stays above (or below) a threshold for some weeks."""

    metric: str = Field(description="a weekly metric, e.g. cost_per_employee")
    above: float | None = Field(None, allow_inf_nan=False)
    below: float | None = Field(None, allow_inf_nan=False)
    for_weeks: int = Field(1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_side(self) -> Trigger:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        if self.metric not in WEEKLY:
            import difflib

            close = difflib.get_close_matches(self.metric, list(WEEKLY), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown metric '{self.metric}'{hint} Allowed: {', '.join(sorted(WEEKLY))}")
        return self


class ScheduleEntry(Strict):
    """Switch policies on and off at a given week, or when a trigger fires (once)."""

    week: int | None = Field(None, ge=0, le=100_000)
    when: Trigger | None = None
    activate: tuple[str, ...] = ()
    deactivate: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_cause(self) -> ScheduleEntry:
        if (self.week is None) == (self.when is None):
            raise ValueError("give exactly one of 'week' or 'when'")
        if not self.activate and not self.deactivate:
            raise ValueError("an entry must activate or deactivate at least one policy")
        return self


class Scenario(Strict):
    """A whole scenario: workforce, economy, policies and their schedule."""

    name: str = Field("scenario", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}$",
                      description="letters, digits and _ . + - (it names the results folder)")
    description: str = ""
    seed: int = Field(20261122, ge=0, le=2**63 - 1)
    replications: int = Field(30, ge=1, le=100_000)
    weeks: int = Field(52, ge=1, le=100_000)
    employees: int = Field(1000, ge=1, le=100_000_000)
    workforce: Workforce = Workforce()
    economy: Economy = Economy()
    learning: Learning = Learning()
    network: Network = Network()
    choice: Choice = Choice()
    imitation: Imitation = Imitation()
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Policy id -> parameters; ``type`` defaults to the id. Validated by :mod:`sim.policies`."""
    schedule: tuple[ScheduleEntry, ...] = ()
