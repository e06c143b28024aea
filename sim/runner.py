"""Running a scenario: batches of replications, optionally in parallel, into tidy results.

``run_scenario(config, seed)`` is the one function the CLI, the notebooks and the app call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import Scenario
from .metrics import SUMMARY, WEEKLY

#: batch size by default: as many replications as fit in about this many employee slots
BATCH_SLOTS = 1_000_000


@dataclass
class Results:
    """The weekly history of every replication of one scenario, with what is derived from it.

    Attributes:
        scenario: The resolved scenario.
        seed: The master seed.
        reps: Replication indices, in column order.
        weekly: metric -> array (weeks, replications).
    """

    scenario: Scenario
    seed: int
    reps: list[int]
    weekly: dict[str, np.ndarray]
    _runs: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def runs(self) -> dict[str, np.ndarray]:
        """Run-level metrics per replication: the SUMMARY metrics plus whole-run totals."""
        if self._runs is None:
            self._runs = run_metrics(self.weekly, self.scenario.employees)
        return self._runs

    def summary(self) -> dict[str, dict]:
        """metric -> {mean, sd, ci_low, ci_high, p05, p95, n, unit} across replications.

        The SUMMARY metrics, the implied price elasticity of demand (undefined, all None, when the
        price does not move), and with model tiers the tokens and spend per tier."""
        from .stats import describe

        out = {k: describe(self.runs[k], SUMMARY[k][0]) for k in SUMMARY}
        out["price_elasticity"] = describe(self.runs["price_elasticity"], EXTRA_UNITS["price_elasticity"])
        for k in self.runs:
            if "[" in k:
                out[k] = describe(self.runs[k], EXTRA_UNITS[k.split("[")[0]])
        return out

    def weekly_columns(self) -> dict:
        """The tidy weekly table's columns (one row per replication and week), without pandas."""
        W, R = next(iter(self.weekly.values())).shape
        cols = {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replication": np.repeat(self.reps, W),
            "week": np.tile(np.arange(W), R),
        }
        for k, v in self.weekly.items():
            cols[k] = v.T.ravel()
        return cols

    def run_columns(self) -> dict:
        """One row per replication: totals and final values (the columns, without pandas)."""
        return {"scenario": self.scenario.name, "seed": self.seed, "replication": np.asarray(self.reps), **self.runs}

    def weekly_table(self):
        """The tidy weekly table, as a pandas DataFrame: one row per replication and week."""
        import pandas as pd

        return pd.DataFrame(self.weekly_columns())

    def run_table(self):
        """One row per replication, as a pandas DataFrame: totals and final values."""
        import pandas as pd

        return pd.DataFrame(self.run_columns())


#: units of the summary entries beyond SUMMARY
EXTRA_UNITS = {
    "price_elasticity": "d ln tokens / d ln price",
    "tokens": "Mtok/employee/week",
    "spend": "$/employee/week",
}
#: weeks averaged at each end of a run for the implied price elasticity
ELASTICITY_WEEKS = 4


def price_elasticity(tokens: np.ndarray, price: np.ndarray, weeks: int = ELASTICITY_WEEKS) -> np.ndarray:
    """The implied (arc) price elasticity of demand over a run, per replication (MODEL.md §9.9).

    ln(tokens at the end / tokens at the start) / ln(list price at the end / at the start), each
    end averaged over ``weeks`` weeks (with tiers, the geometric mean of the tiers' list prices,
    so that a shift between tiers is not read as a price change). It is the whole response along the
    run's price path, including whatever else moved with it (learning, an autonomy trend,
    policies); NaN where the price did not move (within 0.1%).
    """
    k = max(1, min(weeks, tokens.shape[0] // 2))
    t0, t1 = tokens[:k].mean(axis=0), tokens[-k:].mean(axis=0)
    p0, p1 = price[:k].mean(axis=0), price[-k:].mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.log(p1 / p0)
        out = np.log(t1 / t0) / lp
    return np.where(np.isfinite(out) & (np.abs(lp) > 1e-3), out, np.nan)


def run_metrics(weekly: dict[str, np.ndarray], employees: int) -> dict[str, np.ndarray]:
    """Totals and finals per replication from a weekly history (weeks, R)."""
    w = weekly
    tok = w["tokens_per_employee"]
    tot_tok = tok.sum(axis=0)
    safe = np.where(tot_tok > 0, tot_tok, 1.0)
    cost = w["cost_per_employee"].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rho = np.nanmean(w["goodhart_rho"], axis=0)
    out = {
        "tokens": tok.mean(axis=0),
        "cost": w["cost_per_employee"].mean(axis=0),
        "value": w["value_per_employee"].mean(axis=0),
        "net_value": w["net_value_per_employee"].mean(axis=0),
        "roi": np.where(cost > 0, w["value_per_employee"].sum(axis=0) / np.where(cost > 0, cost, 1.0), np.nan),
        "gaming_share": np.where(tot_tok > 0, (w["gaming_share"] * tok).sum(axis=0) / safe, 0.0),
        "waste_share": np.where(tot_tok > 0, (w["waste_share"] * tok).sum(axis=0) / safe, 0.0),
        "maxxer_share": w["maxxer_share"][-1],
        "goodhart_rho": rho,
        "mean_skill": w["mean_skill"][-1],
        "overhead": w["overhead_per_employee"].mean(axis=0),
        "payouts": w["payouts_per_employee"].mean(axis=0),
        "cutoff": w["cutoff"].mean(axis=0),
    }
    for k in ("tokens", "cost", "value", "net_value"):
        src = {"tokens": "tokens_per_employee"}.get(k, f"{k}_per_employee")
        out[f"total_{k}"] = w[src].sum(axis=0) * employees
    out["price_elasticity"] = price_elasticity(tok, w["list_price"])
    out["list_price"] = w["list_price"].mean(axis=0)
    for k, v in w.items():  # model tiers: tokens_per_employee[frontier] -> tokens[frontier]
        if "[" in k:
            kind, tier = k.split("[")
            out[f"{kind.split('_')[0]}[{tier}"] = v.mean(axis=0)
    return out


def _run_batch(scn: Scenario, reps: list[int], seed: int, fast: bool | None = None) -> dict[str, np.ndarray]:
    from .engine import Engine

    return Engine(scn, reps, seed, fast=fast).run()


def batches(n_reps: int, employees: int, batch_size: int | None) -> list[list[int]]:
    size = batch_size or max(1, min(n_reps, BATCH_SLOTS // max(employees, 1)))
    return [list(range(i, min(i + size, n_reps))) for i in range(0, n_reps, size)]


def run_scenario(
    scn: Scenario,
    seed: int | None = None,
    replications: int | None = None,
    *,
    batch_size: int | None = None,
    workers: int = 1,
    progress: bool | Callable[[int], None] = False,
    fast: bool | None = None,
) -> Results:
    """Run every replication of a scenario and return its Results.

    Replication r's numbers do not depend on ``batch_size`` or ``workers`` (MODEL.md §6).

    Args:
        scn: A validated scenario.
        seed: Master seed; defaults to the scenario's ``seed``.
        replications: Number of replications; defaults to the scenario's.
        batch_size: Replications stepped together as one array; defaults to as many as fit.
        workers: Processes to spread batches over.
        progress: True for a tqdm bar, or a callable receiving replication-weeks done.
        fast: Use the engine's numba kernels (True), numpy only (False), or decide by the run's
            size (None; :func:`sim._fast.wanted`). The numbers are the same either way.
    """
    seed = scn.seed if seed is None else int(seed)
    if replications is not None:
        scn = scn.model_copy(update={"replications": int(replications)})
    R, W = scn.replications, scn.weeks
    from . import _fast

    fast = _fast.wanted(R * scn.employees * W, fast)
    if fast and workers <= 1:
        _fast.kernels()  # imported before the run, not inside it (see sim.cli._preload)
    plan = batches(R, scn.employees, batch_size)
    if workers > 1 and len(plan) < workers:  # give every worker something to do
        plan = batches(R, scn.employees, math.ceil(R / workers))
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=R * W, unit="rep-week", desc=scn.name, leave=False, dynamic_ncols=True)
        tick = bar.update
    elif callable(progress):
        tick = progress
    else:
        tick = None
    try:
        parts: list[dict[str, np.ndarray]] = []
        if workers <= 1:
            from .engine import Engine

            for reps in plan:
                eng = Engine(scn, reps, seed, fast=fast)
                parts.append(eng.run(progress=(lambda n, k=len(reps): tick(k * n)) if tick else None))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
            try:
                futures = [pool.submit(_run_batch, scn, reps, seed, fast) for reps in plan]
                for reps, fut in zip(plan, futures):
                    parts.append(fut.result())
                    if tick:
                        tick(len(reps) * W)
            except BaseException:  # Ctrl-C or a failure: stop the workers now, do not wait for them
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
    finally:
        if bar is not None:
            bar.close()
    weekly = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}
    return Results(scn, seed, list(range(R)), weekly)
