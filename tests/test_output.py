"""Writing a run: the pandas-free CSV writer, and figures drawn in forked workers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.loader import load_scenario
from sim.output import check_finite, concat_columns, write_csv
from sim.plots import Renderer, timeseries
from sim.runner import run_scenario

from .conftest import ROOT

SIZE = ["employees=40", "replications=3", "weeks=5"]


@pytest.fixture(scope="module")
def runs():
    return [run_scenario(load_scenario(ROOT / "scenarios" / f"{n}.yaml", SIZE)) for n in ("leaderboard", "tiers", "roi_gate")]


def test_csv_writer_matches_pandas_to_csv(runs, tmp_path):
    """weekly.csv and runs.csv are written without pandas, byte for byte as pandas writes them
    (NaN as an empty cell, %.6g floats), including a comparison that stacks scenarios with and
    without tier columns."""
    for r in runs:
        for cols, table in ((r.weekly_columns(), r.weekly_table()), (r.run_columns(), r.run_table())):
            write_csv(tmp_path / "ours.csv", cols)
            table.to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6g")
            assert (tmp_path / "ours.csv").read_text() == (tmp_path / "pandas.csv").read_text()
    write_csv(tmp_path / "ours.csv", concat_columns([r.weekly_columns() for r in runs]))
    pd.concat([r.weekly_table() for r in runs]).to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6g")
    ours = (tmp_path / "ours.csv").read_text()
    assert ours == (tmp_path / "pandas.csv").read_text()
    assert ",," in ours  # tier columns are empty for the scenarios without tiers


def test_check_finite_refuses_infinity_in_a_dict_table():
    check_finite({"scenario": "x", "cost": np.array([1.0, 2.0])}, "t.csv")
    with pytest.raises(ValueError, match="column cost holds 1 non-finite"):
        check_finite({"scenario": "x", "cost": np.array([1.0, np.inf])}, "t.csv")


def test_forked_renderer_draws_the_same_figure_as_this_process(runs, tmp_path):
    series = {runs[0].scenario.name: runs[0].weekly}
    timeseries(series, tmp_path / "here.png")
    with Renderer(workers=2) as r:
        assert r.pool is not None
        fut = r.submit(timeseries, series, tmp_path / "there.png")
        assert fut.result(timeout=120) == tmp_path / "there.png"
    assert (tmp_path / "there.png").read_bytes() == (tmp_path / "here.png").read_bytes()


def test_renderer_passes_a_failure_on_and_stops_its_workers(tmp_path):
    """Run in a fresh interpreter: forcing workers=1 forks even while other threads run, and
    pytest's process has threads from earlier tests (a fork copies any lock they hold)."""
    import subprocess
    import sys

    code = f"""
import os
from sim.plots import Renderer, timeseries
r = Renderer(workers=1)
fut = r.submit(timeseries, {{"x": {{}}}}, {str(tmp_path / "bad.png")!r})
try:
    fut.result(timeout=120)
    print("no error")
except KeyError:
    print("KeyError")
pids = [p.pid for p in r.pool._processes.values()]
r.close(failed=True)
import time
def running(pid):  # gone, or a zombie waiting to be reaped, is stopped (the executor's own thread
    try:           # may reap it first, after which Process.is_alive() cannot tell: ECHILD)
        with open(f"/proc/{{pid}}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between it and the read
        return False
for pid in pids:
    end = time.monotonic() + 10
    while running(pid) and time.monotonic() < end:
        time.sleep(0.05)
    print("alive" if running(pid) else "stopped")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines[0] == "KeyError", out.stdout + out.stderr
    assert lines[1:] and set(lines[1:]) == {"stopped"}, out.stdout + out.stderr
    inline = Renderer(workers=0)  # no workers: drawn when submitted, errors kept in the future
    assert inline.pool is None
    with pytest.raises(KeyError):
        inline.submit(timeseries, {"x": {}}, tmp_path / "bad.png").result()


def test_results_folder_gets_the_usual_permissions(tmp_path):
    """The folder is built under a private temporary name, but lands with the umask's permissions."""
    import os

    from sim.output import AtomicFolder

    umask = os.umask(0o022)
    try:
        with AtomicFolder(tmp_path / "run") as tmp:
            (tmp / "x.txt").write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "run" / "x.txt").read_text() == "x"
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755
