"""Hypothesis strategies for valid scenarios, built from the declared parameter bounds."""

from __future__ import annotations

from typing import Literal, get_args, get_origin

from hypothesis import strategies as st

from sim.config import Scenario
from sim.policies import REGISTRY


def bounds(info) -> tuple[float | None, bool, float | None, bool]:
    """(low, low is strict, high, high is strict) of a declared field."""
    lo = hi = None
    lo_strict = hi_strict = False
    for meta in info.metadata:
        kind = type(meta).__name__
        if kind in ("Ge", "Gt"):
            lo, lo_strict = getattr(meta, kind.lower()), kind == "Gt"
        if kind in ("Le", "Lt"):
            hi, hi_strict = getattr(meta, kind.lower()), kind == "Lt"
    return lo, lo_strict, hi, hi_strict


def field_value(info, cap: float = 1e4):
    """A strategy for one declared parameter, within its bounds (upper end capped)."""
    ann = info.annotation
    lo, _, hi, _ = bounds(info)
    if ann is bool:
        return st.booleans()
    if get_origin(ann) is Literal:
        return st.sampled_from(get_args(ann))
    if ann is int:
        return st.integers(int(lo if lo is not None else 0), int(min(hi if hi is not None else 50, 60)))
    if ann is float:
        lo = 0.0 if lo is None else float(lo)
        hi = min(float(hi) if hi is not None else cap, cap)
        gt = any(type(m).__name__ == "Gt" for m in info.metadata)
        lt = any(type(m).__name__ == "Lt" for m in info.metadata)
        return st.floats(lo, hi, exclude_min=gt, exclude_max=lt, allow_nan=False, allow_infinity=False)
    return None


@st.composite
def policy_params(draw, name: str) -> dict:
    cls = REGISTRY[name]
    out = {}
    for field, info in cls.Params.model_fields.items():
        if field in ("type", "default_tier", "justify"):
            continue
        strat = field_value(info)
        if strat is not None and draw(st.booleans()):
            out[field] = draw(strat)
    return out


@st.composite
def scenarios(draw) -> Scenario:
    """A small valid scenario: any stack of policies, maybe a schedule and a trigger."""
    names = draw(st.lists(st.sampled_from(sorted(REGISTRY)), min_size=0, max_size=4, unique=True))
    policies = {n: draw(policy_params(n)) for n in names}
    data = {
        "employees": draw(st.integers(1, 60)),
        "weeks": draw(st.integers(1, 8)),
        "replications": draw(st.integers(1, 3)),
        "seed": draw(st.integers(0, 2**32)),
        "network": {"kind": draw(st.sampled_from(["small_world", "well_mixed"])),
                    "team_size": draw(st.integers(1, 12)), "cross_links": draw(st.integers(0, 3))},
        "economy": {"price": draw(st.floats(0.0, 50.0)), "price_share": draw(st.floats(0.0, 1.0)),
                    "gamma": draw(st.floats(0.0, 1.0)), "shock_sd": draw(st.floats(0.0, 0.9))},
        "workforce": {"initial_maxxer_share": draw(st.floats(0.0, 1.0)),
                      "status_seeking": {"dist": "beta", "a": draw(st.floats(0.1, 10)), "b": draw(st.floats(0.1, 10))}},
        "imitation": {"rate": draw(st.floats(0.0, 1.0)), "intensity": draw(st.floats(0.0, 1.0)),
                      "mutation": draw(st.floats(0.0, 0.2))},
        "policies": policies,
    }
    if "routing" in names or draw(st.booleans()):  # model tiers (routing needs them)
        data["economy"]["tiers"] = "standard"
        del data["economy"]["price"]  # tiers carry their own prices
    if names and draw(st.booleans()):
        pid = draw(st.sampled_from(names))
        if draw(st.booleans()):
            data["schedule"] = [{"week": draw(st.integers(0, 8)), "deactivate": [pid]}]
        else:
            data["schedule"] = [{"when": {"metric": "cost_per_employee", "above": draw(st.floats(0, 500)),
                                          "for_weeks": draw(st.integers(1, 3))}, "deactivate": [pid]}]
    return Scenario.model_validate(data)
