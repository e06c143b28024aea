"""Analysing a sweep: sensitivity indices, response plots and regime maps.

``analyze(out)`` reads a folder written by ``sim sweep`` and writes ``out/analysis/``:

- ``indices.csv`` / ``indices.json``: per outcome and parameter, SALib's Sobol first-order and
  total indices with 95% confidence half-widths (``sobol`` designs), Morris mu*, mu and sigma
  with mu*'s 95% half-width (``morris``), or RBD-FAST first-order indices (``latin_hypercube``;
  no indices for a ``grid``). Indices are computed on each point's mean over replications.
- ``indices_s2.csv``: Sobol second-order indices per pair, when the design asked for them.
- ``indices.png``: the indices per outcome, with their confidence intervals.
- ``response_<outcome>.png``: one panel per parameter, the outcome's mean with its 95% CI band
  (replication rows pooled in bins of the parameter: its levels, or deciles).
- ``response2_<outcome>.png``: the outcome against one parameter for low, middle and high
  values of another (the regime pair), each with its CI band: interactions at a glance.
- ``regime_map.png`` / ``regime_map.csv``: gaming share (or the first outcome kept) over two
  parameters, binned, with contours.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from .errors import ScenarioError


def _load(out: Path):
    import pandas as pd

    from .sweep import read_manifest

    man = read_manifest(out)
    if not man.get("complete"):
        raise ScenarioError(f"{out}: the sweep is not complete; finish it with `sim sweep {man.get('sweep_file')} "
                            f"--out {out} --resume`")
    try:
        summary = pd.read_parquet(out / "summary.parquet")
        points = pd.read_parquet(out / "points.parquet")
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{out}: cannot read the results ({exc.__class__.__name__})") from None
    if len(summary) != man["points"]:
        raise ScenarioError(f"{out}: summary.parquet has {len(summary)} points, the sweep {man['points']}")
    return man, points, summary


def resolve_param(name: str, params: list[str]) -> str:
    """A parameter by its full path or an unambiguous tail (``prize``, ``leaderboard.prize``)."""
    if name in params:
        return name
    hits = [p for p in params if p.endswith("." + name) or p.split(".")[-2:-1] == [name]]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ScenarioError(f"--regime: '{name}' matches several parameters", allowed=hits)
    raise ScenarioError(f"--regime: unknown parameter '{name}'", allowed=params, got=name)


def default_regime(params: list[str]) -> tuple[str, str] | None:
    """Status-seeking x leaderboard prize when both were swept, else the first two parameters."""
    if len(params) < 2:
        return None
    status = next((p for p in params if "status_seeking" in p), None)
    prize = next((p for p in params if p == "policies.leaderboard.prize"), None) or \
        next((p for p in params if p.endswith(".prize")), None)
    if status and prize:
        return status, prize
    return params[0], params[1]


def sensitivity(man: dict, points, summary, outcome: str):
    """One outcome's indices as a DataFrame (one row per parameter), or None for a grid."""
    import pandas as pd

    problem = man["problem"]
    method = man["method"]
    Y = summary[outcome].to_numpy(dtype=np.float64)
    names = problem["names"]
    group = {p["name"]: p["group"] for p in man["params"]}
    if method == "grid":
        return None
    bad = ~np.isfinite(Y)
    if bad.any():
        raise ValueError(f"{outcome} is undefined at {int(bad.sum())} of {len(Y)} points")
    seed = 12345
    if method == "sobol":
        from SALib.analyze import sobol

        second = man["fingerprint"]["sweep"]["design"].get("second_order", False)
        r = sobol.analyze(problem, Y, calc_second_order=second, conf_level=0.95, seed=seed)
        df = pd.DataFrame({"S1": r["S1"], "S1_conf": r["S1_conf"], "ST": r["ST"], "ST_conf": r["ST_conf"]})
        if second:  # pairs i < j, as extra rows "a x b" with S2 and its half-width
            D = len(names)
            pairs = [(i, j) for i in range(D) for j in range(i + 1, D)]
            df.attrs["S2"] = pd.DataFrame({"outcome": outcome,
                                           "parameter": [f"{names[i]} x {names[j]}" for i, j in pairs],
                                           "S2": [r["S2"][i, j] for i, j in pairs],
                                           "S2_conf": [r["S2_conf"][i, j] for i, j in pairs]})
    elif method == "morris":
        from SALib.analyze import morris

        X = points[[f"raw:{n}" for n in names]].to_numpy(dtype=np.float64)
        levels = man["fingerprint"]["sweep"]["design"].get("levels", 4)
        r = morris.analyze(problem, X, Y, conf_level=0.95, num_levels=levels, seed=seed)
        df = pd.DataFrame({"mu_star": r["mu_star"], "mu_star_conf": r["mu_star_conf"], "mu": r["mu"],
                           "sigma": r["sigma"]})
    else:
        from SALib.analyze import rbd_fast

        X = points[[f"raw:{n}" for n in names]].to_numpy(dtype=np.float64)
        # M harmonics; the bootstrap halves the sample, and needs it well above 2M
        M = min(10, len(Y) // 8)
        if M < 1:
            raise ValueError(f"RBD-FAST needs at least 8 points (got {len(Y)})")
        r = rbd_fast.analyze(problem, X, Y, M=M, conf_level=0.95, seed=seed)
        df = pd.DataFrame({"S1": r["S1"], "S1_conf": r["S1_conf"]})
    df.insert(0, "parameter", names)
    df.insert(0, "outcome", outcome)
    df.insert(2, "group", [group[n] for n in names])
    return df


# --- binned means with confidence intervals, pooled from per-point summaries ------------------
def _bins(values, max_bins: int, levels: int = 12) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(bin index per point, bin labels, bin centre or level position) for one parameter.

    A parameter with at most ``levels`` distinct values (a grid axis, levels) is binned by
    value; any other by quantiles into ``max_bins`` bins.
    """
    import pandas as pd

    s = pd.Series(values)
    uniq = pd.unique(s)
    if len(uniq) <= max(levels, max_bins) or not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        try:
            order = sorted(uniq)
        except TypeError:
            order = list(uniq)
        pos = {v: i for i, v in enumerate(order)}
        idx = s.map(pos).to_numpy()
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        centres = np.array(order, dtype=np.float64) if numeric else np.arange(len(order), dtype=np.float64)
        return idx, [str(v) for v in order], centres
    cut, edges = pd.qcut(s.astype(float), max_bins, labels=False, retbins=True, duplicates="drop")
    idx = cut.to_numpy()
    centres = np.array([s[idx == b].mean() for b in range(len(edges) - 1)])
    return idx, [f"{edges[b]:.3g}-{edges[b + 1]:.3g}" for b in range(len(edges) - 1)], centres


def pooled(summary, outcome: str, R: int, mask) -> tuple[float, float, float, int]:
    """Mean and 95% CI over the replication rows of the points in ``mask`` (exact pooling)."""
    from .stats import t_quantile

    m = summary[outcome].to_numpy()[mask]
    sd = summary[f"{outcome}:sd"].to_numpy()[mask]
    ok = np.isfinite(m)
    m, sd = m[ok], np.nan_to_num(sd[ok])
    n = m.size * R
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(m.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    ss = (R - 1) * float((sd**2).sum()) + R * float(((m - mean) ** 2).sum())
    half = t_quantile(n - 1) * math.sqrt(ss / (n - 1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def response_table(summary, param: str, outcome: str, R: int, max_bins: int = 10):
    """The 1-D response: per bin of ``param``, the outcome's mean and 95% CI."""
    import pandas as pd

    idx, labels, centres = _bins(summary[param].to_numpy(), max_bins)
    rows = []
    for b, lab in enumerate(labels):
        mean, lo, hi, n = pooled(summary, outcome, R, idx == b)
        rows.append({"bin": lab, "x": centres[b], "mean": mean, "ci_low": lo, "ci_high": hi, "rows": n})
    return pd.DataFrame(rows)


def regime_bins(points: int) -> int:
    """Bins per axis of a regime map: about 5 points per cell, 2 to 8 bins."""
    return max(2, min(8, int(math.sqrt(points / 5))))


def regime_table(summary, x: str, y: str, outcome: str, R: int, bins: int | None = None):
    """The 2-D regime map: per (x bin, y bin), the outcome's mean and 95% CI."""
    import pandas as pd

    bins = bins or regime_bins(len(summary))
    ix, xl, xc = _bins(summary[x].to_numpy(), bins)
    iy, yl, yc = _bins(summary[y].to_numpy(), bins)
    rows = []
    for a in range(len(xl)):
        for b in range(len(yl)):
            mean, lo, hi, n = pooled(summary, outcome, R, (ix == a) & (iy == b))
            rows.append({"x_bin": xl[a], "y_bin": yl[b], "x": xc[a], "y": yc[b], "mean": mean, "ci_low": lo,
                         "ci_high": hi, "rows": n})
    return pd.DataFrame(rows)


# --- plots ------------------------------------------------------------------------------------
def _short(name: str) -> str:
    return ".".join(name.split(".")[-2:])


def _unit(outcome: str) -> str:
    from .metrics import SUMMARY

    return SUMMARY.get(outcome, ("",))[0]


def plot_indices(table, method: str, path: Path, title: str) -> Path:
    from .plots import PALETTE, _figure

    outcomes = list(dict.fromkeys(table["outcome"]))
    cols = min(3, len(outcomes))
    rows = -(-len(outcomes) // cols)
    D = table["parameter"].nunique()
    fig = _figure(figsize=(4.6 * cols, (0.45 * D + 1.6) * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, o in zip(axes.flat, outcomes):
        t = table[table["outcome"] == o]
        labels = [_short(p) for p in t["parameter"]]
        ypos = np.arange(len(t))
        if method == "morris":
            ax.errorbar(t["mu_star"], t["sigma"], xerr=t["mu_star_conf"], fmt="o", color=PALETTE[0], capsize=3)
            for xv, yv, lab in zip(t["mu_star"], t["sigma"], labels):
                ax.annotate(lab, (xv, yv), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel("mu* (mean |elementary effect|)")
            ax.set_ylabel("sigma")
        else:
            h = 0.38
            ax.barh(ypos - h / 2, t["S1"], h, xerr=t["S1_conf"], color=PALETTE[0], capsize=2, label="first order S1")
            if "ST" in t:
                ax.barh(ypos + h / 2, t["ST"], h, xerr=t["ST_conf"], color=PALETTE[1], capsize=2, label="total ST")
            ax.set_yticks(ypos, labels, fontsize=8)
            ax.invert_yaxis()
            ax.axvline(0, color="0.5", linewidth=0.8)
            ax.set_xlabel("share of variance (95% CI)")
        ax.set_title(o, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_visible(False)
    if method != "morris":
        axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_response(summary, params: list[str], outcome: str, R: int, path: Path, title: str) -> Path:
    from .plots import PALETTE, _figure

    cols = min(3, len(params))
    rows = -(-len(params) // cols)
    fig = _figure(figsize=(4.3 * cols, 3.1 * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, p in zip(axes.flat, params):
        t = response_table(summary, p, outcome, R)
        numeric = np.issubdtype(summary[p].dtype, np.number) and summary[p].dtype != bool
        if numeric:
            ax.scatter(summary[p], summary[outcome], s=6, color="0.6", alpha=0.5, linewidths=0, label="point means")
        x = t["x"].to_numpy()
        ax.fill_between(x, t["ci_low"], t["ci_high"], color=PALETTE[0], alpha=0.3, linewidth=0, label="95% CI")
        ax.plot(x, t["mean"], "o-", color=PALETTE[0], markersize=3, linewidth=1.6, label="mean")
        if not numeric:
            ax.set_xticks(x, list(t["bin"]), fontsize=8)
        ax.set_xlabel(_short(p))
        ax.set_ylabel(f"{outcome} ({_unit(outcome)})" if _unit(outcome) else outcome, fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(params):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_response2(summary, x: str, y: str, outcome: str, R: int, path: Path, title: str) -> Path:
    """The outcome against ``x`` for low, middle and high ``y`` (its levels if it has 3 or fewer)."""
    import pandas as pd

    from .plots import PALETTE, _figure

    yv = summary[y]
    if yv.nunique() <= 3:
        groups = [(str(v), (yv == v).to_numpy()) for v in sorted(yv.unique())]
    else:
        terc = pd.qcut(yv.astype(float), 3, labels=False, duplicates="drop").to_numpy()
        groups = []
        for g in range(int(np.nanmax(terc)) + 1):
            sel = yv[terc == g]
            groups.append((f"{sel.min():.3g}-{sel.max():.3g}", terc == g))
    fig = _figure(figsize=(6.2, 4.2))
    ax = fig.subplots()
    for i, (lab, mask) in enumerate(groups):
        t = response_table(summary[mask].reset_index(drop=True), x, outcome, R, max_bins=8)
        color = PALETTE[i % len(PALETTE)]
        ax.fill_between(t["x"], t["ci_low"], t["ci_high"], color=color, alpha=0.25, linewidth=0)
        ax.plot(t["x"], t["mean"], "o-", color=color, markersize=3, label=f"{_short(y)} {lab}")
    ax.set_xlabel(_short(x))
    ax.set_ylabel(f"{outcome} ({_unit(outcome)})" if _unit(outcome) else outcome)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_regime(table, x: str, y: str, outcome: str, path: Path, title: str) -> Path:
    from .plots import _figure

    xs, ys = list(dict.fromkeys(table["x_bin"])), list(dict.fromkeys(table["y_bin"]))
    grid = table.pivot(index="y_bin", columns="x_bin", values="mean").loc[ys, xs].to_numpy(dtype=np.float64)
    fig = _figure(figsize=(6.6, 5.0))
    ax = fig.subplots()
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, label=f"{outcome} ({_unit(outcome)})" if _unit(outcome) else outcome)
    if np.isfinite(grid).all() and min(grid.shape) >= 3 and np.nanmax(grid) > np.nanmin(grid):
        cs = ax.contour(np.arange(len(xs)), np.arange(len(ys)), grid, levels=4, colors="white", linewidths=0.8)
        ax.clabel(cs, fontsize=7, fmt="%.3g")
    ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(ys)), ys, fontsize=7)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


# --- the driver -------------------------------------------------------------------------------
def analyze(out: str | Path, outcomes: list[str] | None = None, regime: tuple[str, str] | None = None,
            plots: bool = True) -> dict:
    """Compute indices (and plots) for a finished sweep folder; write them to ``out/analysis``.

    Returns:
        {"indices": DataFrame or None, "files": [paths], "notes": [str], "regime": (x, y) or None}
    """
    import pandas as pd

    out = Path(out)
    man, points, summary = _load(out)
    kept = man["outcomes"]
    if outcomes:
        for o in outcomes:
            if o not in kept:
                raise ScenarioError(f"--outcomes: '{o}' was not kept by this sweep", allowed=kept, got=o)
    outcomes = list(outcomes or kept)
    params = [p["name"] for p in man["params"]]
    R = man["replications"]
    pair = None
    if regime:
        pair = (resolve_param(regime[0], params), resolve_param(regime[1], params))
        if pair[0] == pair[1]:
            raise ScenarioError("--regime needs two different parameters")
    else:
        pair = default_regime(params)
    dest = out / "analysis"
    dest.mkdir(exist_ok=True)
    notes, files = [], []
    tables = []
    for o in outcomes:
        try:
            t = sensitivity(man, points, summary, o)
        except ValueError as exc:
            notes.append(f"{o}: no indices ({exc})")
            continue
        if t is not None:
            tables.append(t)
    if man["method"] == "grid":
        notes.append("grid design: no sensitivity indices (use sobol or morris); response plots and regime map only")
    elif man["method"] == "latin_hypercube":
        notes.append("latin_hypercube design: first-order indices by RBD-FAST (no total indices; use sobol for those)")
    s2 = [t.attrs["S2"] for t in tables if "S2" in t.attrs]
    for t in tables:
        t.attrs.clear()
    indices = pd.concat(tables, ignore_index=True) if tables else None
    second = pd.concat(s2, ignore_index=True) if s2 else None
    if second is not None:
        second.to_csv(dest / "indices_s2.csv", index=False, float_format="%.6g")
        files.append(dest / "indices_s2.csv")
    if indices is not None:
        indices.to_csv(dest / "indices.csv", index=False, float_format="%.6g")
        doc = {"method": man["method"], "points": man["points"], "replications": R,
               "indices": json.loads(indices.to_json(orient="records"))}
        (dest / "indices.json").write_text(json.dumps(doc, indent=1))
        files += [dest / "indices.csv", dest / "indices.json"]
    regime_outcome = "gaming_share" if "gaming_share" in kept else outcomes[0]
    if pair is not None:
        rt = regime_table(summary, pair[0], pair[1], regime_outcome, R)
        rt.to_csv(dest / "regime_map.csv", index=False, float_format="%.6g")
        files.append(dest / "regime_map.csv")
    else:
        notes.append("one parameter: no regime map or two-parameter plots")
    if plots:
        label = f"{man['name']}: {man['method']}, {man['points']} points x {R} replications"
        if indices is not None:
            files.append(plot_indices(indices, man["method"], dest / "indices.png",
                                      f"{label}: {'Morris' if man['method'] == 'morris' else 'Sobol' if man['method'] == 'sobol' else 'RBD-FAST'} indices"))
        for o in outcomes:
            files.append(plot_response(summary, params, o, R, dest / f"response_{o}.png",
                                       f"{label}\n{o}: mean and 95% CI by parameter"))
            if pair is not None:
                files.append(plot_response2(summary, pair[0], pair[1], o, R, dest / f"response2_{o}.png",
                                            f"{o} by {_short(pair[0])} and {_short(pair[1])} (95% CI)"))
        if pair is not None:
            files.append(plot_regime(rt, pair[0], pair[1], regime_outcome, dest / "regime_map.png",
                                     f"regime map: mean {regime_outcome} over {_short(pair[0])} x {_short(pair[1])}"))
    return {"indices": indices, "second_order": second, "files": files, "notes": notes, "regime": pair,
            "manifest": man}


def _fmt(v) -> str:
    from .cli import _fmt as f

    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f(v)


def cmd_analyze(args) -> int:
    """``sim analyze RESULTS [--outcomes ...] [--regime X Y] [--no-plots]``."""
    from .cli import _table

    res = analyze(args.results, args.outcomes, tuple(args.regime) if args.regime else None, plots=not args.no_plots)
    t = res["indices"]
    man = res["manifest"]
    if t is not None:
        for o in dict.fromkeys(t["outcome"]):
            sub = t[t["outcome"] == o]
            if man["method"] == "morris":
                rows = [("parameter", "group", "mu*", "95% CI", "mu", "sigma")]
                for _, r in sub.iterrows():
                    rows.append((r.parameter, r.group, _fmt(r.mu_star), f"+/- {_fmt(r.mu_star_conf)}", _fmt(r.mu),
                                 _fmt(r.sigma)))
            else:
                head = ("parameter", "group", "S1", "95% CI") + (("ST", "95% CI") if "ST" in sub else ())
                rows = [head]
                for _, r in sub.iterrows():
                    row = (r.parameter, r.group, f"{r.S1:.3f}", f"+/- {r.S1_conf:.3f}")
                    if "ST" in sub:
                        row += (f"{r.ST:.3f}", f"+/- {r.ST_conf:.3f}")
                    rows.append(row)
            _table(rows, f"{o} ({man['method']}, {man['points']} points x {man['replications']} replications)",
                   file=sys.stdout)
            print()
    for n in res["notes"]:
        print(f"note: {n}", file=sys.stderr)
    print(f"analysis: {Path(args.results) / 'analysis'} ({len(res['files'])} files)")
    return 0
