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


def _figure(**kw):
    """A matplotlib Figure drawn with Agg, without pyplot (whose import alone costs ~0.6 s)."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def timeseries(series: dict[str, dict[str, np.ndarray]], path: Path, panels=PANELS, title: str = "") -> Path:
    """One panel per metric; one line per scenario with its CI band and 5-95% band.

    Args:
        series: scenario name -> weekly dict metric -> (weeks, replications).
        path: Where to write the PNG.
    """
    from .stats import band

    cols = 3
    rows = -(-len(panels) // cols)
    fig = _figure(figsize=(4.2 * cols, 2.9 * rows + 0.9))
    axes = fig.subplots(rows, cols, squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - 0.8 / (2.9 * rows + 0.9), bottom=0.85 / (2.9 * rows + 0.9),
                        hspace=0.55, wspace=0.3)
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
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False)
    fig.suptitle(title or "Weekly metrics: mean, 95% CI (dark) and 5-95% band (light)", fontsize=12)
    fig.savefig(path, dpi=90)
    return path


def _errbar(d: dict) -> tuple[float, float]:
    lo = d["mean"] - d["ci_low"] if d["ci_low"] is not None else 0.0
    hi = d["ci_high"] - d["mean"] if d["ci_high"] is not None else 0.0
    return lo, hi


def frontier(summaries: dict[str, dict], path: Path) -> Path:
    """Cost vs real value, one point per scenario with 95% CI error bars."""
    fig = _figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    for i, (name, s) in enumerate(summaries.items()):
        c, v = s["cost"], s["value"]
        ax.errorbar(c["mean"], v["mean"], xerr=np.array(_errbar(c))[:, None], yerr=np.array(_errbar(v))[:, None],
                    fmt="o", color=PALETTE[i % len(PALETTE)], capsize=4, markersize=8, label=name)
        ax.annotate(name, (c["mean"], v["mean"]), textcoords="offset points", xytext=(8, 6), fontsize=9)
    ax.set_xlabel("token bill ($/employee/week)")
    ax.set_ylabel("real value ($/employee/week)")
    ax.set_title("Cost vs real value (mean and 95% CI per scenario)")
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=90)
    return path


def bars(summaries: dict[str, dict], metrics: list[tuple[str, str]], path: Path, title: str) -> Path:
    """One bar group per metric, one bar per scenario, with 95% CI error bars."""
    fig = _figure(figsize=(4.6 * len(metrics), 3.8), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)
    names = list(summaries)
    for ax, (metric, label) in zip(axes[0], metrics):
        means = [summaries[n][metric]["mean"] or 0.0 for n in names]
        errs = np.array([_errbar(summaries[n][metric]) for n in names]).T
        ax.bar(range(len(names)), means, yerr=errs, capsize=4,
               color=[PALETTE[i % len(PALETTE)] for i in range(len(names))])
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_ylabel(f"{label} ({SUMMARY_UNITS.get(metric, '')})")
        ax.set_title(label)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    fig.savefig(path, dpi=90)
    return path


def goodhart_scatter(snapshots: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, int]], path: Path) -> Path:
    """Metric (tokens) vs real value per employee in one replication, coloured by strategy.

    Args:
        snapshots: scenario -> (tokens, value, is_maxxer, week) for replication 0.
    """
    from .engine import average_ranks, rank_correlation

    n = len(snapshots)
    fig = _figure(figsize=(max(4.4 * n, 8.0), 4.2), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)
    for ax, (name, (m, v, maxxer, week)) in zip(axes[0], snapshots.items()):
        rho = float(rank_correlation(average_ranks(m[None]), average_ranks(v[None]))[0]) if m.size > 2 else float("nan")
        ax.scatter(m[~maxxer], v[~maxxer], s=8, alpha=0.5, color=PALETTE[0], label="honest")
        ax.scatter(m[maxxer], v[maxxer], s=10, alpha=0.7, color=PALETTE[3], marker="^", label="maxxer")
        ax.set_title(f"{name}, week {week}: Spearman rho = {rho:.2f}", fontsize=10)
        ax.set_xlabel("metric: tokens (Mtok/week)")
        ax.set_ylabel("real value ($/week)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("The Goodhart gap: metric vs real value (replication 0)")
    fig.savefig(path, dpi=90)
    return path


SUMMARY_UNITS = {
    "gaming_share": "share of tokens", "waste_share": "share of tokens", "maxxer_share": "share of employees",
    "cost": "$/employee/week", "value": "$/employee/week", "net_value": "$/employee/week",
}


def _warm() -> None:
    """Run once in each figure worker: import matplotlib and draw a little text (fonts load once)."""
    import io

    fig = _figure(figsize=(1, 1))
    fig.text(0.5, 0.5, "warm")
    fig.savefig(io.BytesIO(), format="png")
    from scipy.special import stdtrit  # noqa: F401 - the CI bands use it


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Renderer:
    """Draws figures in forked worker processes while the caller goes on.

    ``with Renderer() as r:`` forks the workers at once; they import matplotlib (about 0.5 s)
    while the engine runs. ``r.submit(fn, *args)`` returns a future for ``fn(*args)``. The
    figures of a report are independent, so two workers halve the time spent drawing. With
    ``workers=0``, on one core, off Linux (``fork`` is missing or unsafe there), or while other
    Python threads run (a fork could copy a lock one of them holds), each figure is drawn in
    this process when it is submitted: the same files, only slower.

    Args:
        workers: Worker processes (default: 2 on Linux with 2 cores or more and no other
            Python thread running, else 0).
    """

    def __init__(self, workers: int | None = None) -> None:
        import multiprocessing as mp
        import sys

        n = workers
        if n is None:  # two workers, if there are two cores and forking is safe (no other thread runs)
            import threading

            n = 2 if _cpus() >= 2 and threading.active_count() == 1 else 0
        self.pool = None
        # fork only on Linux: macOS offers it, but its system libraries are not fork-safe
        if n >= 1 and sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods():
            import warnings
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(n, mp_context=mp.get_context("fork"), initializer=_warm)
            with warnings.catch_warnings():
                # Python counts the OS threads of native libraries (OpenBLAS keeps idle ones, and
                # guards fork itself); no Python thread runs here when the default is taken
                warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
                self.pool.submit(int)  # with fork, every worker starts now and warms up in the background

    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        if self.pool is not None:
            return self.pool.submit(fn, *args, **kwargs)
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the future
            fut.set_exception(exc)
        return fut

    def close(self, failed: bool = False) -> None:
        if self.pool is None:
            return
        if failed:  # Ctrl-C or an error: stop the workers now, do not wait for their figures
            for proc in list((getattr(self.pool, "_processes", None) or {}).values()):
                proc.kill()  # SIGKILL: a fork inherits the parent's SIGTERM handlers, which may not exit
            self.pool.shutdown(wait=False, cancel_futures=True)
        else:
            self.pool.shutdown()
        self.pool = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)
