"""Writing results folders: resolved config, weekly table, run table, summary, plots.

A folder is written under a temporary name and renamed when complete, so a folder that
exists under its final name is always whole.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import ScenarioError


def version() -> str:
    from . import __version__

    return __version__


def default_out(name: str, root: str | Path = "results") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / f"{name}-{stamp}-{n}"
    return path


def check_out(path: Path, force: bool = False) -> None:
    """Refuse a non-empty folder (unless forced) and an unwritable place, before any work."""
    try:
        path.exists()
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise ScenarioError(f"--out {path}: {parent} is a file, not a folder")
        if any(len(part.encode()) > 255 for part in path.parts):
            raise ScenarioError(f"--out {str(path)[:80]}...: a name in the path is too long")
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"--out: unusable path ({exc.__class__.__name__})") from None
    if path.exists() and not path.is_dir():
        raise ScenarioError(f"--out {path}: exists and is not a folder")
    if path.exists() and any(path.iterdir()) and not force:
        raise ScenarioError(f"--out {path}: folder is not empty; use --force to replace it")
    parent = path.parent if not path.exists() else path
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise ScenarioError(f"--out {path}: cannot write to {probe}")


def finite_json(obj):
    """JSON-ready copy with NaN/inf refused loudly (they must never reach a result file)."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        if not math.isfinite(obj):
            raise ValueError("a non-finite number reached a result file")
        return float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


#: weekly metrics that are undefined in some weeks (written as empty cells, never as NaN)
MAY_BE_UNDEFINED = {"roi", "goodhart_rho", "payoff_honest", "payoff_maxxer", "price_elasticity"}


def check_finite(table, name: str) -> None:
    """Fail loudly if a non-finite number is about to be written (undefined cells stay empty).

    ``table`` is a pandas DataFrame or a dict of columns (arrays or scalars)."""
    for col, values in table.items():
        values = np.asarray(values)
        if values.dtype.kind != "f":
            continue
        bad = ~np.isfinite(values)
        if col in MAY_BE_UNDEFINED or "[" in col:  # tier columns are empty for scenarios without tiers
            bad &= ~np.isnan(values)  # NaN means undefined here: written as an empty cell
        if bad.any():
            raise ValueError(f"{name}: column {col} holds {int(bad.sum())} non-finite value(s); refusing to write")


def _rows(table: dict) -> int:
    """Rows of a table given as a dict of columns (scalars repeat; all scalars: one row)."""
    return max((np.size(v) for v in table.values() if np.ndim(v)), default=1)


def concat_columns(parts: list[dict]) -> dict:
    """Stack tables given as dicts of columns (scalars repeat down their part); a column that a
    part lacks is NaN there, as pandas.concat does."""
    sizes = [_rows(p) for p in parts]
    names = list(dict.fromkeys(k for p in parts for k in p))
    out = {}
    for k in names:
        cols = []
        for p, n in zip(parts, sizes):
            v = p.get(k, np.nan)
            cols.append(np.asarray(v) if np.ndim(v) else np.full(n, v, dtype=object if isinstance(v, str) else None))
        out[k] = np.concatenate(cols)
    return out


def write_csv(path: Path, table: dict, float_format: str = "%.6g") -> None:
    """Write a dict of columns as CSV, as pandas' ``to_csv(index=False, float_format=...)`` does:
    floats formatted, NaN as an empty cell, scalars repeated down the column."""
    import csv

    n = _rows(table)
    cols = []
    for v in table.values():
        if not np.ndim(v):
            cols.append([str(v)] * n)
            continue
        v = np.asarray(v)
        if v.dtype.kind == "f":
            text = np.char.mod(float_format, v).astype(object)
            text[np.isnan(v)] = ""
            cols.append(text.tolist())
        else:
            cols.append([str(x) for x in v.tolist()])
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(table))
        w.writerows(zip(*cols))


def write_tables(folder: Path, weekly: dict, runs: dict) -> None:
    """weekly.csv and runs.csv, refused if a number that must be defined is not finite (a run's
    ROI and rho may be undefined)."""
    check_finite(weekly, "weekly.csv")
    check_finite({k: v for k, v in runs.items() if k not in ("roi", "goodhart_rho")}, "runs.csv")
    write_csv(folder / "weekly.csv", weekly)
    write_csv(folder / "runs.csv", runs)


def resolved_config(scn, seed: int, replications: int | None = None) -> dict:
    """The scenario as run: every field, the seed, and the package version."""
    data = scn.model_dump(mode="json")
    data["seed"] = seed
    if replications is not None:
        data["replications"] = replications
    return {"sim_version": version(), **data}


class AtomicFolder:
    """``with AtomicFolder(path) as tmp:`` writes into ``tmp``; renamed to ``path`` on success."""

    def __init__(self, path: Path, force: bool = False) -> None:
        self.path = Path(path)
        self.force = force

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.incomplete-", dir=self.path.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o777 & ~umask)  # mkdtemp's 0700 would stay on the results folder
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)


def write_run(results, out: Path, plots: bool = True, force: bool = False, renderer=None) -> Path:
    """Write one run's folder: config.yaml, weekly.csv, runs.csv, summary.json, plots.

    Args:
        renderer: A :class:`sim.plots.Renderer` that draws the figures in parallel while the
            tables are written (default: draw them in this process).
    """
    import yaml

    from .plots import Renderer

    renderer = renderer or Renderer(workers=0)  # no workers: nothing to close
    with AtomicFolder(out, force) as tmp:
        ts = None
        if plots:  # the slowest figure first: the workers draw it while the tables are written
            from .plots import timeseries

            ts = renderer.submit(timeseries, {results.scenario.name: results.weekly}, tmp / "timeseries.png",
                                 title=f"{results.scenario.name}: mean, 95% CI and 5-95% band over "
                                       f"{len(results.reps)} replications")
        summary = results.summary()
        cfg = resolved_config(results.scenario, results.seed, len(results.reps))
        (tmp / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        write_tables(tmp, results.weekly_columns(), results.run_columns())
        (tmp / "summary.json").write_text(
            json.dumps(finite_json({"scenario": results.scenario.name, "seed": results.seed,
                                    "replications": len(results.reps), "sim_version": version(),
                                    "metrics": summary}), indent=2)
        )
        if plots:
            from .report import write_report

            write_report(tmp / "report.html", [results], timeseries_png=ts, renderer=renderer)
    return out


def write_compare(comparison, out: Path, plots: bool = True, force: bool = False, notes=(), renderer=None) -> Path:
    """Write a comparison's folder: per-scenario configs, tables, summary with paired differences, report."""
    import dataclasses

    import yaml

    with AtomicFolder(out, force) as tmp:
        (tmp / "configs").mkdir()
        for r in comparison.results:
            cfg = resolved_config(r.scenario, r.seed, len(r.reps))
            (tmp / "configs" / f"{r.scenario.name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        write_tables(tmp, concat_columns([r.weekly_columns() for r in comparison.results]),
                     concat_columns([r.run_columns() for r in comparison.results]))
        diffs = {name: {m: {**dataclasses.asdict(d), "pairing_gain": d.gain} for m, d in ds.items()}
                 for name, ds in comparison.differences().items()}
        doc = {"baseline": comparison.names[comparison.baseline], "seed": comparison.results[0].seed,
               "replications": len(comparison.results[0].reps), "sim_version": version(),
               "scenarios": {r.scenario.name: r.summary() for r in comparison.results},
               "differences": diffs, "verdicts": comparison.verdicts(), "notes": list(notes)}
        (tmp / "summary.json").write_text(json.dumps(finite_json(doc), indent=2))
        if plots:
            from .report import write_report

            write_report(tmp / "report.html", comparison.results, comparison, notes, renderer=renderer)
    return out
