"""Static plots (matplotlib, Agg): weekly metrics with 95% CI and 5-95% bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .metrics import WEEKLY

#: Okabe-Ito, the colour-blind-safe palette
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

PANELS = [
    ("tokens_per_employee", "Tokens"),
    ("cost_per_employee", "Token bill"),
    ("value_per_employee", "Real value"),
    ("net_value_per_employee", "Net value"),
    ("gaming_share", "Gaming share"),
    ("waste_share", "Waste share"),
    ("maxxer_share", "Maxxer share"),
    ("goodhart_rho", "Goodhart: metric-value rank correlation"),
    ("cutoff", "Top-decile cut-off"),
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def timeseries(series: dict[str, dict[str, np.ndarray]], path: Path, panels=PANELS, title: str = "") -> Path:
    """One panel per metric; one line per scenario with its CI band and 5-95% band.

    Args:
        series: scenario name -> weekly dict metric -> (weeks, replications).
        path: Where to write the PNG.
    """
    from .stats import band

    plt = _pyplot()
    cols = 3
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False, constrained_layout=True)
    for ax, (metric, label) in zip(axes.flat, panels):
        for i, (name, weekly) in enumerate(series.items()):
            b = band(weekly[metric])
            weeks = np.arange(1, len(b["mean"]) + 1)
            color = PALETTE[i % len(PALETTE)]
            ax.fill_between(weeks, b["p05"], b["p95"], color=color, alpha=0.12, linewidth=0)
            ax.fill_between(weeks, b["ci_low"], b["ci_high"], color=color, alpha=0.35, linewidth=0)
            ax.plot(weeks, b["mean"], color=color, linewidth=1.6, label=name)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("week")
        ax.set_ylabel(WEEKLY[metric][0])
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), frameon=False)
    fig.suptitle(title or "Weekly metrics: mean, 95% CI (dark) and 5-95% band (light)", fontsize=12)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
