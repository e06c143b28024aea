"""Comparing scenarios on the same workforce and shocks (common random numbers, MODEL.md §6).

Replication r of every scenario draws its traits, network, shocks and noise from the same
streams, so the difference B_r - A_r removes the variation the scenarios share. Its CI is
compared with the CI an analyst would get from independent runs (Welch), so the gain from
pairing is visible per metric.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .config import Scenario
from .errors import ScenarioError
from .metrics import SUMMARY
from .runner import Results, run_scenario
from .stats import describe, t_quantile

#: how each headline metric reads in a sentence: verb, (word if higher, word if lower), noun
PHRASES = {
    "tokens": ("uses", ("more", "fewer"), "tokens"),
    "cost": ("costs", ("more", "less"), ""),
    "value": ("delivers", ("more", "less"), "real value"),
    "net_value": ("delivers", ("more", "less"), "net value"),
    "roi": ("has", ("higher", "lower"), "ROI"),
    "gaming_share": ("has", ("more", "less"), "gaming (share of tokens)"),
    "waste_share": ("has", ("more", "less"), "waste (share of tokens)"),
    "maxxer_share": ("ends with", ("more", "fewer"), "maxxers"),
    "goodhart_rho": ("has", ("higher", "lower"), "metric-value rank correlation"),
    "mean_skill": ("ends with", ("higher", "lower"), "mean skill"),
    "overhead": ("spends", ("more", "less"), "on audits"),
    "payouts": ("pays", ("more", "less"), "in bonuses"),
    "cutoff": ("has a top-decile cut-off", ("higher", "lower"), ""),
}
#: metrics that are shares or correlations: differences in points, not in percent
ABSOLUTE = {"gaming_share", "waste_share", "maxxer_share", "goodhart_rho", "mean_skill", "roi"}


@dataclass
class Difference:
    """Scenario minus baseline for one metric, paired by replication."""

    metric: str
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    rel: float | None  # mean / |baseline mean|
    rel_low: float | None
    rel_high: float | None
    paired_width: float | None
    unpaired_width: float | None

    @property
    def gain(self) -> float | None:
        """How many times narrower the paired CI is than the independent-runs CI."""
        if not self.paired_width or self.unpaired_width is None:
            return None
        return self.unpaired_width / self.paired_width

    @property
    def clear(self) -> bool:
        """True when the CI of the difference excludes zero."""
        return self.ci_low is not None and (self.ci_low > 0 or self.ci_high < 0)


def paired_difference(metric: str, base: np.ndarray, other: np.ndarray) -> Difference:
    """The paired difference other - base, its t-interval, and the unpaired (Welch) width."""
    ok = np.isfinite(base) & np.isfinite(other)
    a, b = base[ok], other[ok]
    d = describe(b - a)
    n = int(ok.sum())
    unpaired = None
    if n > 1:
        va, vb = a.var(ddof=1) / n, b.var(ddof=1) / n
        se = math.sqrt(va + vb)
        dof = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (n - 1)) if va + vb > 0 else n - 1
        unpaired = 2 * t_quantile(max(int(dof), 1)) * se
    scale = abs(float(a.mean())) if n else 0.0
    rel = lambda x: None if x is None or scale == 0 else x / scale  # noqa: E731
    width = None if d["ci_low"] is None else d["ci_high"] - d["ci_low"]
    return Difference(metric, d["mean"], d["ci_low"], d["ci_high"], rel(d["mean"]), rel(d["ci_low"]),
                      rel(d["ci_high"]), width, unpaired)


@dataclass
class Comparison:
    """Results of several scenarios run with one seed, and their paired differences."""

    results: list[Results]
    baseline: int = 0

    @property
    def names(self) -> list[str]:
        return [r.scenario.name for r in self.results]

    def differences(self) -> dict[str, dict[str, Difference]]:
        """scenario name -> metric -> Difference against the baseline (baseline excluded)."""
        base = self.results[self.baseline]
        out = {}
        for i, res in enumerate(self.results):
            if i != self.baseline:
                out[res.scenario.name] = {m: paired_difference(m, base.runs[m], res.runs[m]) for m in SUMMARY}
        return out

    def elasticities(self) -> dict[str, dict | None]:
        """scenario name -> the implied price elasticity of demand against the baseline (MODEL.md §9.9).

        Per replication, ln(tokens / baseline tokens) / ln(price / baseline price), with tokens
        the run's mean use and price its mean list price (``list_price``): the same workforce
        (common random numbers) facing two price paths. None where they match (within 0.1%).
        """
        base = self.results[self.baseline]
        out = {}
        for i, res in enumerate(self.results):
            if i == self.baseline:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                lp = np.log(res.runs["list_price"] / base.runs["list_price"])
                e = np.log(res.runs["tokens"] / base.runs["tokens"]) / lp
            ok = np.isfinite(e) & (np.abs(lp) > 1e-3)
            out[res.scenario.name] = describe(e[ok], "d ln tokens / d ln price") if ok.any() else None
        return out

    def verdicts(self) -> dict[str, list[str]]:
        """Plain-language sentences per scenario, headline metrics first."""
        base_name = self.names[self.baseline]
        out: dict[str, list[str]] = {}
        for name, diffs in self.differences().items():
            lines = []
            cost, value = diffs["cost"], diffs["value"]
            if cost.rel is not None and value.rel is not None:
                lines.append(f"{name} costs {fmt_rel(cost, True)} {'more' if cost.mean >= 0 else 'less'} than "
                             f"{base_name} for {fmt_rel(value, True)} {'more' if value.mean >= 0 else 'less'} "
                             "real value.")
            el = self.elasticities()[name]
            if el is not None:
                ci = "" if el["ci_low"] is None else f" [95% CI {el['ci_low']:.2f}, {el['ci_high']:.2f}]"
                kind = "elastic: spend moves against the price" if el["mean"] < -1 else "inelastic"
                lines.append(f"Implied price elasticity of demand against {base_name}: {el['mean']:.2f}{ci} ({kind}).")
            for metric in SUMMARY:
                if metric in ("cost", "value"):
                    continue
                lines.append(verdict(name, base_name, diffs[metric]))
            out[name] = lines
        return out


def fmt_rel(d: Difference, magnitude: bool = False) -> str:
    """Relative difference with CI; ``magnitude`` drops the sign (the sentence says more/less)."""
    lo, mid, hi = d.rel_low, d.rel, d.rel_high
    if magnitude and mid < 0:
        lo, mid, hi = -hi if hi is not None else None, -mid, -lo if lo is not None else None
    sign = "" if magnitude else "+"
    if lo is None:
        return f"{mid:{sign}.0%}"
    return f"{mid:{sign}.0%} [{lo:{sign}.0%}, {hi:{sign}.0%}]"


def fmt_diff(d: Difference, magnitude: bool = False) -> str:
    """A difference as the reader should see it: points for shares, percent of the baseline
    otherwise, and the metric's own unit where the baseline is zero."""
    if d.mean is None:
        return "n/a"
    lo, mid, hi = d.ci_low, d.mean, d.ci_high
    if magnitude and mid < 0:
        lo, mid, hi = (-hi if hi is not None else None), -mid, (-lo if lo is not None else None)
    sign = "" if magnitude else "+"
    if d.metric in ABSOLUTE or d.rel is None:
        share = d.metric.endswith("share")
        k, unit = (100, " pts") if share else (1, "" if d.metric in ABSOLUTE else f" {SUMMARY[d.metric][0]}")
        body = f"{mid * k:{sign}.3g}" if lo is None else f"{mid * k:{sign}.3g} [{lo * k:{sign}.3g}, {hi * k:{sign}.3g}]"
        return body + unit
    return fmt_rel(d, magnitude)


def verdict(name: str, base: str, d: Difference) -> str:
    verb, (up, down), noun = PHRASES[d.metric]
    if d.mean is None:
        return f"{name}: {d.metric} is undefined."
    if d.ci_low is not None and not d.clear:
        return f"{name} shows no clear difference from {base} in {d.metric.replace('_', ' ')} ({fmt_diff(d)})."
    word = up if d.mean >= 0 else down
    return " ".join(f"{name} {verb} {fmt_diff(d, magnitude=True)} {word} {noun} than {base}.".split())


def check_comparable(scenarios: list[Scenario]) -> list[str]:
    """Refuse comparisons that mean nothing; return warnings for those that lose pairing."""
    weeks = {s.weeks for s in scenarios}
    if len(weeks) > 1:
        listing = ", ".join(f"{s.name}: {s.weeks}" for s in scenarios)
        raise ScenarioError(f"cannot compare scenarios with different horizons (weeks: {listing}); "
                            "use --set weeks=N to align them")
    notes = []
    sizes = {s.employees for s in scenarios}
    if len(sizes) > 1:
        listing = ", ".join(f"{s.name}: {s.employees}" for s in scenarios)
        notes.append(f"WARNING: workforce sizes differ ({listing}). Per-employee metrics are still comparable, "
                     "but the workforces differ, so differences are not paired (common random numbers hold "
                     "only for the same size).")
    wf = {s.workforce.model_dump_json() for s in scenarios}
    if len(wf) > 1:
        notes.append("Note: the workforce distributions differ between scenarios; differences include that.")
    return notes


def compare(
    scenarios: list[Scenario],
    seed: int | None = None,
    replications: int | None = None,
    baseline: int = 0,
    workers: int = 1,
    progress=False,
) -> Comparison:
    """Run every scenario with the same seed and replication count, paired by replication."""
    if len(scenarios) < 2:
        raise ScenarioError("compare needs at least two scenarios")
    names = [s.name for s in scenarios]
    if len(set(names)) < len(names):
        raise ScenarioError(f"scenario names must differ to be compared (got {', '.join(names)}); "
                            "use --set name=... or distinct files")
    seed = scenarios[0].seed if seed is None else seed
    reps = replications or scenarios[0].replications
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        results = [run_scenario(s, seed, reps, workers=workers, progress=progress) for s in scenarios]
    return Comparison(results, baseline)
