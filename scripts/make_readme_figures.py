"""Regenerate the README's figure(s) from the project's own code; never draw them by hand.

    .venv/bin/python scripts/make_readme_figures.py

Writes ``docs/img/sticker_shock.png``: the shipped ``sticker_shock`` scenario next to
``baseline`` and ``leaderboard`` at their default size (1,000 employees, 52 weeks, 30 paired
replications, the scenarios' seed), plotted by ``sim.plots.timeseries`` with its mean, 95% CI
and 5-95% bands. Prints the path, and the week the bill trigger fired in each replication.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.loader import load_scenario
from sim.plots import timeseries
from sim.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img" / "sticker_shock.png"
SCENARIOS = ["baseline", "leaderboard", "sticker_shock"]
REPLICATIONS = 30
PANELS = [
    ("cost_per_employee", "Token bill"),
    ("gaming_share", "Gaming share"),
    ("goodhart_rho", "Goodhart: metric-value rank correlation"),
    ("throttled_share", "Employees throttled by the ROI gate"),
]


def trigger_weeks(scn, cost: np.ndarray) -> list[int | None]:
    """Per replication, the first week the scenario's bill trigger is in force (None: never).

    The trigger counts consecutive weeks with the bill above the line and switches policies
    from the following week (sim/engine.py, management triggers)."""
    when = next(e.when for e in scn.schedule if e.when)
    weeks = []
    for r in range(cost.shape[1]):
        run = 0
        week = None
        for t, c in enumerate(cost[:, r]):
            run = run + 1 if c > when.above else 0
            if run >= when.for_weeks:
                week = t + 2  # 0-based week t is week t+1; the switch acts from the week after
                break
        weeks.append(week)
    return weeks


def main() -> Path:
    scenarios = [load_scenario(name) for name in SCENARIOS]
    seed = scenarios[0].seed  # one seed for all: paired replications (common random numbers)
    results = {s.name: run_scenario(s, seed, REPLICATIONS) for s in scenarios}
    r0 = results[SCENARIOS[0]]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    timeseries({name: r.weekly for name, r in results.items()}, OUT, panels=PANELS,
               title=f"Sticker shock vs baseline and leaderboard: mean, 95% CI and 5-95% band "
                     f"({len(r0.reps)} replications x {r0.scenario.employees:,} employees, seed {seed})")
    print(OUT)
    shock = results["sticker_shock"]
    weeks = trigger_weeks(shock.scenario, shock.weekly["cost_per_employee"])
    fired = sorted(w for w in weeks if w is not None)
    if fired:
        print(f"sticker_shock: ROI gate in force from week {fired[0]}-{fired[-1]} "
              f"(median {int(np.median(fired))}) in {len(fired)} of {len(weeks)} replications")
    else:
        print(f"sticker_shock: the trigger never fired in {len(weeks)} replications")
    return OUT


if __name__ == "__main__":
    main()
