"""Ctrl-C stops promptly with one line, and leaves no folder that looks complete."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT


@pytest.mark.parametrize("command", [
    ["run", "leaderboard", "--set", "employees=20000", "--workers", "1"],
    ["run", "leaderboard", "--set", "employees=20000", "--workers", "2"],
    ["compare", "baseline", "leaderboard", "--set", "employees=20000"],
])
def test_sigint_stops_within_two_seconds_and_writes_nothing(tmp_path, command):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", *command, "-q", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)  # well into the computation
    assert proc.poll() is None, "finished before the signal: make the run longer"
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert time.perf_counter() - sent < 2.0
    assert proc.returncode == 130
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == ["interrupted: stopped before finishing; no results folder was written"], err
    assert not out.exists() and list(tmp_path.iterdir()) == []
