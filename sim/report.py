"""A self-contained HTML report (one file, plots embedded) for ``sim run`` and ``sim compare``.

Everything in it is generated from the numbers: the executive summary, the tables and the
plots. It carries the resolved configurations, the seed and the package version, so anyone
can reproduce it.
"""

from __future__ import annotations

import base64
import html
import tempfile
import time
from pathlib import Path

import numpy as np

from .metrics import SUMMARY
from .plots import bars, frontier, goodhart_scatter, timeseries

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#444;font-size:.92em} .summary{background:#f3f7fb;border-left:4px solid #0072B2;padding:.8em 1.2em}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0} th,td{border:1px solid #ccc;padding:.3em .55em;text-align:right}
th{background:#eef2f6} td:first-child,th:first-child{text-align:left} .unit{color:#555;font-size:.85em}
img{max-width:100%;height:auto;border:1px solid #ddd;margin:.4em 0} figcaption{font-size:.9em;color:#333}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.8em} .clear{font-weight:600}
"""


def _path(p) -> Path:
    """A figure's path, waiting for it if it is still being drawn (a future)."""
    return Path(p.result() if hasattr(p, "result") else p)


def _img(path: Path, alt: str, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    a = abs(x)
    return f"{x:,.0f}" if a >= 1000 else f"{x:.1f}" if a >= 10 else f"{x:.3f}"


def _cell(d: dict) -> str:
    ci = "" if d["ci_low"] is None else f" [{_fmt(d['ci_low'])}, {_fmt(d['ci_high'])}]"
    return f"{_fmt(d['mean'])}{ci}"


def summary_table(summaries: dict[str, dict]) -> str:
    names = list(summaries)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    extra = {"price_elasticity": ("d ln tokens / d ln price", "implied price elasticity of demand over the run: "
                                  "ln(tokens end/start) / ln(price end/start); n/a where the price is constant")}
    for n in names:  # model tiers
        for k, d in summaries[n].items():
            if "[" in k and k not in extra:
                extra[k] = (d.get("unit", ""), f"{k.split('[')[0]} on the {k.split('[')[1][:-1]} tier")
    empty = {"mean": None, "ci_low": None}
    for metric, (unit, meaning) in {**SUMMARY, **extra}.items():
        cells = "".join(f"<td>{_cell(summaries[n].get(metric, empty))}</td>" for n in names)
        rows.append(f'<tr><td title="{html.escape(meaning)}">{metric} <span class="unit">({html.escape(unit)})</span>'
                    f"</td>{cells}</tr>")
    return f"<table><caption>Mean and 95% CI across replications</caption><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def width(d, w) -> str:
    """A CI width in the unit of its difference: points for shares, % of the baseline, or raw."""
    from .compare import ABSOLUTE

    if w is None:
        return "n/a"
    if d.metric.endswith("share"):
        return f"{w * 100:.2f} pts"
    if d.metric in ABSOLUTE or d.rel is None or not d.mean:
        return _fmt(w)
    return f"{w * d.rel / d.mean:.1%}"


def difference_table(comparison) -> str:
    from .compare import fmt_diff

    out = []
    for name, diffs in comparison.differences().items():
        rows = []
        for metric, d in diffs.items():
            gain = d.gain
            cls = ' class="clear"' if d.clear else ""
            rows.append(f"<tr><td>{metric}</td><td{cls}>{html.escape(fmt_diff(d))}</td>"
                        f"<td>{width(d, d.paired_width)}</td><td>{width(d, d.unpaired_width)}</td>"
                        f"<td>{'n/a' if gain is None else f'{gain:.1f}x'}</td></tr>")
        base = comparison.names[comparison.baseline]
        out.append(
            f"<table><caption>{html.escape(name)} minus {html.escape(base)}, paired by replication "
            "(bold: the 95% CI excludes zero; shares in percentage points, others in % of the baseline mean)"
            "</caption><tr><th>metric</th><th>difference [95% CI]</th><th>paired CI width</th>"
            "<th>unpaired CI width</th><th>pairing gain</th></tr>" + "".join(rows) + "</table>")
    return "".join(out)


def executive_summary(comparison=None, results=None) -> list[str]:
    """Three to five sentences generated from the numbers."""
    if comparison is None:
        r = results
        s = r.summary()
        scn = r.scenario
        g = lambda k, spec: "n/a" if s[k]["mean"] is None else format(s[k]["mean"], spec)  # noqa: E731
        roi = "undefined (free tokens)" if s["roi"]["mean"] is None else g("roi", ".2f")
        rho = ("undefined (fewer than three employees)" if s["goodhart_rho"]["mean"] is None
               else f"{g('goodhart_rho', '.2f')} (1 would be perfect)")
        return [
            f"{scn.name}: {len(r.reps)} replications of {scn.employees:,} employees over {scn.weeks} weeks (seed {r.seed}).",
            f"The token bill averages ${g('cost', ',.0f')} per employee-week [{_fmt(s['cost']['ci_low'])}, "
            f"{_fmt(s['cost']['ci_high'])}] for ${g('value', ',.0f')} of real value, an ROI of {roi}; "
            f"net of attention time and overhead, ${g('net_value', ',.0f')} per employee-week.",
            f"Gaming is {g('gaming_share', '.1%')} of tokens and waste (use past the point where value stops paying "
            f"for the price) {g('waste_share', '.1%')}; by the final week maxxers are {g('maxxer_share', '.0%')} of "
            "the workforce.",
            f"The metric management sees tracks real value with a rank correlation of {rho}.",
        ]
    res = comparison.results
    sums = {r.scenario.name: r.summary() for r in res}
    base = comparison.names[comparison.baseline]
    scn = res[0].scenario
    def val(n: str, k: str, default: float) -> float:
        v = sums[n][k]["mean"]
        return default if v is None else v

    best = max(sums, key=lambda n: val(n, "net_value", -np.inf))
    worst = min(sums, key=lambda n: val(n, "net_value", np.inf))
    gaming = max(sums, key=lambda n: val(n, "gaming_share", -np.inf))
    rho = min(sums, key=lambda n: val(n, "goodhart_rho", np.inf))
    lines = [
        f"We compared {len(res)} policies ({', '.join(sums)}) on the same {scn.employees:,}-employee workforce "
        f"and the same shocks over {scn.weeks} weeks, {len(res[0].reps)} paired replications (seed {res[0].seed}).",
        f"{best} gives the highest net value (${sums[best]['net_value']['mean']:,.0f} per employee-week) and "
        f"{worst} the lowest (${sums[worst]['net_value']['mean']:,.0f}).",
    ]
    verdicts = comparison.verdicts()
    for name in list(verdicts)[:2]:
        lines.append(verdicts[name][0])
    r_rho, b_rho = sums[rho]["goodhart_rho"]["mean"], sums[base]["goodhart_rho"]["mean"]
    tail = ("." if r_rho is None or b_rho is None else
            f", and the metric tracks value worst under {rho} (rank correlation {r_rho:.2f} vs {b_rho:.2f} for {base}).")
    lines.append(f"Gaming is highest under {gaming} ({val(gaming, 'gaming_share', 0.0):.1%} of tokens){tail}")
    return lines[:5]


def snapshot(results, week: int | None = None):
    """Per-employee tokens, value and strategy of replication 0 at a week (default: the last)."""
    from .engine import Engine

    eng = Engine(results.scenario, reps=[results.reps[0]], seed=results.seed)
    stop = results.scenario.weeks if week is None else week
    while eng.t < stop:
        eng.step()
    return eng.m[0].copy(), eng.v[0].copy(), eng.maxxer[0].copy(), eng.t


def _scatter(results: list, path: Path) -> Path:
    """The Goodhart scatter of up to four scenarios (replays replication 0 of each: a figure job)."""
    return goodhart_scatter({r.scenario.name: snapshot(r) for r in results[:4]}, path)


def write_report(path: Path, results: list, comparison=None, notes: list[str] = (), timeseries_png=None,
                 renderer=None) -> Path:
    """Write the single-file HTML report for one run (one Results) or a comparison.

    Args:
        timeseries_png: The weekly-metrics figure if it is already drawn (a Path, or a future of one).
        renderer: A :class:`sim.plots.Renderer` to draw the figures in parallel (default: in this process).
    """
    import yaml

    from . import __version__
    from .output import resolved_config
    from .plots import Renderer

    names = [r.scenario.name for r in results]
    renderer = renderer or Renderer(workers=0)  # no workers: nothing to close
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        # the figures that need no summary go first, so the workers draw them while it is computed
        series = {r.scenario.name: r.weekly for r in results}
        jobs = {"weekly": timeseries_png if timeseries_png is not None else renderer.submit(timeseries, series, t / "ts.png"),
                "scatter": renderer.submit(_scatter, results, t / "scatter.png")}
        boards = {r.scenario.name: r.weekly for r in results if any(
            (v or {}).get("type", k) == "leaderboard" for k, v in r.scenario.policies.items())}
        if boards:
            base = results[comparison.baseline if comparison else 0]
            if base.scenario.name not in boards:
                boards = {base.scenario.name: base.weekly, **boards}
            jobs["cutoff"] = renderer.submit(timeseries, boards, t / "cutoff.png",
                                             panels=[("cutoff", "Top-decile cut-off"), ("tokens_per_employee", "Tokens")],
                                             title="Leaderboard cut-off escalation: mean, 95% CI and 5-95% band")
        summaries = {r.scenario.name: r.summary() for r in results}
        lines = executive_summary(comparison, results[0] if comparison is None else None)
        jobs["frontier"] = renderer.submit(frontier, summaries, t / "frontier.png")
        jobs["gaming"] = renderer.submit(bars, summaries, [("gaming_share", "Gaming share"), ("waste_share", "Waste share"),
                                                           ("maxxer_share", "Maxxer share")], t / "gaming.png",
                                         "Gaming, waste and maxxers (mean and 95% CI)")
        captions = {  # in the report's order
            "weekly": ("Weekly metrics per scenario with confidence bands",
                       "Weekly metrics: mean (line), 95% CI (dark band) and 5-95% band (light) across replications."),
            "frontier": ("Cost versus real value per scenario",
                         "Each scenario's mean token bill and real value per employee-week, with 95% CIs."),
            "gaming": ("Gaming share, waste share and maxxer share per scenario",
                       "Gaming: tokens burnt for the metric only. Waste: productive tokens past the point where "
                       "their value falls below the price. Maxxers: share of employees at the final week."),
            "scatter": ("Tokens versus real value per employee",
                        "Each dot is one employee in replication 0 at the final week. A tight rising cloud means the "
                        "metric tracks value; maxxers (triangles) sit to the right of their value."),
            "cutoff": ("Leaderboard cut-off over the weeks",
                       "The tokens needed to make the top decile each week: a positional arms race."),
        }
        figures = [_img(_path(jobs[k]), *captions[k]) for k in captions if k in jobs]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>sim report: {html.escape(' vs '.join(names))}</title><style>{CSS}</style></head><body>",
        f"<h1>{'Policy comparison' if comparison else 'Scenario report'}: {html.escape(', '.join(names))}</h1>",
        f"<p class='meta'>Generated {time.strftime('%Y-%m-%d %H:%M')} by sim {__version__}; seed {results[0].seed}; "
        f"{len(results[0].reps)} replications x {results[0].scenario.employees:,} employees x "
        f"{results[0].scenario.weeks} weeks.</p>",
        "<h2>Executive summary</h2><div class='summary'>" + "".join(f"<p>{html.escape(s)}</p>" for s in lines) + "</div>",
    ]
    if notes:
        parts.append("".join(f"<p><strong>{html.escape(n)}</strong></p>" for n in notes))
    parts.append("<h2>Results</h2>" + summary_table(summaries))
    if comparison is not None:
        parts.append("<h2>Paired differences</h2><p>Every scenario ran on the same workforce and shocks (common random "
                     "numbers), so replication r of one scenario is paired with replication r of the baseline. The "
                     "paired CI width is compared with the width an analysis of independent runs would give; the "
                     "gain shows where pairing helps.</p>" + difference_table(comparison))
        parts.append("<h3>In plain words</h3><ul>" + "".join(
            f"<li>{html.escape(v)}</li>" for vs in comparison.verdicts().values() for v in vs) + "</ul>")
    parts.append("<h2>Figures</h2>" + "".join(figures))
    parts.append("<h2>Reproduce</h2><p>Each scenario as run, fully resolved:</p>")
    for r in results:
        cfg = yaml.safe_dump(resolved_config(r.scenario, r.seed, len(r.reps)), sort_keys=False)
        parts.append(f"<details><summary>{html.escape(r.scenario.name)}</summary><pre>{html.escape(cfg)}</pre></details>")
    parts.append("</body></html>")
    path.write_text("".join(parts), encoding="utf-8")
    return path


__all__ = ["write_report", "executive_summary"]
