"""The ``sim`` command line end to end: run, list, show, --help, on small sizes.

Every command runs in a real subprocess (``python -m sim.cli``). The runs use 60 employees,
8 weeks and 3 replications so the whole file stays within a few tens of seconds; the
results folder of the main run is shared by the tests that only read it.
"""

from __future__ import annotations

import ast
import csv
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml

from sim.metrics import SUMMARY
from sim.policies import REGISTRY

REPO = Path(__file__).resolve().parent.parent
SCENARIO = "leaderboard"
SMALL = ["--set", "employees=60", "--set", "weeks=8", "-r", "3"]
REPS, WEEKS = 3, 8
STAT_KEYS = ("mean", "sd", "ci_low", "ci_high", "p05", "p95", "unit")


def cli(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def small_run(cwd: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return cli(["run", SCENARIO, *SMALL, "--out", out, "-q", *extra], cwd)


# --- one shared run -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def main_run(tmp_path_factory):
    """``sim run leaderboard`` at small size, with plots, into a fresh folder."""
    cwd = tmp_path_factory.mktemp("main_run")
    out = cwd / "out"
    proc = ok(small_run(cwd, out))
    return proc, out


def test_run_prints_summary_table(main_run):
    proc, out = main_run
    text = proc.stdout
    assert f"{SCENARIO}: {REPS} replications x 60 employees x {WEEKS} weeks" in text
    for header in ("metric", "unit", "mean", "95% CI", "5-95% band"):
        assert header in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()}
    for metric, (unit, _) in SUMMARY.items():
        assert metric in rows, f"{metric} missing from the summary table"
        assert unit in rows[metric], f"{metric}: unit {unit!r} missing"
    assert f"results: {out}" in text


def test_run_writes_exactly_the_promised_files(main_run):
    _, out = main_run
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml", "report.html", "runs.csv", "summary.json", "timeseries.png", "weekly.csv",
    ]
    # the temporary folder was renamed, not left behind
    assert [p.name for p in out.parent.iterdir() if p.name != "out"] == []


def test_config_yaml(main_run):
    _, out = main_run
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    from sim import __version__

    assert cfg["sim_version"] == __version__
    assert isinstance(cfg["seed"], int)
    assert cfg["name"] == SCENARIO
    assert cfg["employees"] == 60
    assert cfg["weeks"] == WEEKS
    assert cfg["replications"] == REPS
    assert "leaderboard" in cfg["policies"]


def test_weekly_csv(main_run):
    _, out = main_run
    with open(out / "weekly.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == REPS * WEEKS
    for col in ("replication", "week", "tokens_per_employee", "goodhart_rho"):
        assert col in rows[0]
    pairs = {(int(r["replication"]), int(r["week"])) for r in rows}
    assert pairs == {(r, w) for r in range(REPS) for w in range(WEEKS)}
    assert all(float(r["tokens_per_employee"]) >= 0 for r in rows)


def test_runs_csv(main_run):
    _, out = main_run
    with open(out / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == REPS
    assert sorted(int(r["replication"]) for r in rows) == list(range(REPS))
    for metric in SUMMARY:
        assert metric in rows[0]


def test_summary_json(main_run):
    _, out = main_run
    summary = json.loads((out / "summary.json").read_text())
    metrics = summary["metrics"]
    assert set(metrics) == set(SUMMARY) | {"price_elasticity"}
    for name, d in metrics.items():
        for key in STAT_KEYS:
            assert key in d, f"{name}: no {key}"
        assert d["unit"] == (SUMMARY[name][0] if name in SUMMARY else "d ln tokens / d ln price")
        if d["mean"] is not None and d["ci_low"] is not None:
            assert d["ci_low"] <= d["mean"] <= d["ci_high"], (name, d)
    # the headline metrics are defined for this run
    for name in ("tokens", "cost", "value", "net_value"):
        assert metrics[name]["mean"] is not None
        assert metrics[name]["ci_low"] is not None
    assert summary["replications"] == REPS


def _png_chunks(data: bytes):
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        yield kind, body, crc
        pos += 12 + length


def test_timeseries_png_is_valid(main_run):
    _, out = main_run
    data = (out / "timeseries.png").read_bytes()
    assert len(data) > 1000
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = list(_png_chunks(data))
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    for kind, body, crc in chunks:
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width > 100 and height > 100


# --- determinism and --no-plots ---------------------------------------------------------------
def test_same_seed_is_byte_identical_and_no_plots_skips_png(main_run, tmp_path):
    _, out = main_run
    again = tmp_path / "again"
    ok(small_run(tmp_path, again, "--no-plots"))
    assert (again / "weekly.csv").read_bytes() == (out / "weekly.csv").read_bytes()
    assert (again / "runs.csv").read_bytes() == (out / "runs.csv").read_bytes()
    assert not (again / "timeseries.png").exists()
    assert sorted(p.name for p in again.iterdir()) == ["config.yaml", "runs.csv", "summary.json", "weekly.csv"]


def test_different_seed_changes_results(main_run, tmp_path):
    _, out = main_run
    seed = yaml.safe_load((out / "config.yaml").read_text())["seed"]
    other = tmp_path / "other"
    ok(small_run(tmp_path, other, "--no-plots", "--seed", str(seed + 1)))
    assert (other / "weekly.csv").read_bytes() != (out / "weekly.csv").read_bytes()
    assert yaml.safe_load((other / "config.yaml").read_text())["seed"] == seed + 1


# --- --out and --force ------------------------------------------------------------------------
def test_out_refuses_non_empty_folder_unless_forced(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "precious.txt").write_text("do not touch\n")
    (out / "sub").mkdir()
    (out / "sub" / "more.txt").write_text("nor this\n")
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}

    proc = cli(["run", SCENARIO, "--set", "employees=20", "--set", "weeks=2", "-r", "2",
                "--out", out, "-q", "--no-plots"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "--force" in proc.stderr and "not empty" in proc.stderr
    assert proc.stdout == ""
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")} == before
    assert (out / "precious.txt").read_text() == "do not touch\n"
    assert (out / "sub" / "more.txt").read_text() == "nor this\n"

    ok(cli(["run", SCENARIO, "--set", "employees=20", "--set", "weeks=2", "-r", "2",
            "--out", out, "-q", "--no-plots", "--force"], tmp_path))
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "runs.csv", "summary.json", "weekly.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no leftover temporary folder


def test_out_accepts_existing_empty_folder(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    ok(cli(["run", SCENARIO, "--set", "employees=20", "--set", "weeks=2", "-r", "2",
            "--out", out, "-q", "--no-plots"], tmp_path))
    assert (out / "weekly.csv").is_file()


# --- list and show ----------------------------------------------------------------------------
def test_list_shows_every_scenario_and_policy(tmp_path):
    proc = ok(cli(["list"], tmp_path))
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")}
    scenarios = sorted((REPO / "scenarios").glob("*.yaml"))
    assert scenarios, "no shipped scenarios found"
    for path in scenarios:
        assert path.stem in listed, f"scenario {path.name} not listed"
    for name in REGISTRY:
        assert name in listed, f"policy {name} not listed"


def test_show_resolves_overrides(tmp_path):
    proc = ok(cli(["show", SCENARIO, "--set", "economy.price=5"], tmp_path))
    data = yaml.safe_load(proc.stdout)
    assert data["economy"]["price"] == 5
    assert "leaderboard" in data["policies"]
    assert data["name"] == SCENARIO
    assert "extends" not in data  # fully resolved


def test_show_merges_extends(tmp_path):
    """A variant keeps its parent's policy and adds its own."""
    proc = ok(cli(["show", "roi_gate"], tmp_path))
    data = yaml.safe_load(proc.stdout)
    assert {"leaderboard", "roi_gate"} <= set(data["policies"])


# --- help and import cost -----------------------------------------------------------------------
def test_help_runs(tmp_path):
    proc = ok(cli(["--help"], tmp_path))
    for command in ("run", "list", "show"):
        assert command in proc.stdout
    proc = ok(cli(["run", "--help"], tmp_path))
    for flag in ("--set", "--seed", "--out", "--force", "--no-plots"):
        assert flag in proc.stdout


def test_version(tmp_path):
    from sim import __version__

    proc = ok(cli(["--version"], tmp_path))
    assert proc.stdout.strip() == f"sim {__version__}"


HEAVY = {"mesa", "matplotlib", "scipy", "pandas"}


def test_parser_does_not_import_heavy_libraries(tmp_path):
    code = (
        "import sys, sim.cli; sim.cli.parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'mesa','matplotlib','scipy','pandas','numpy'}))"
    )
    proc = ok(subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                             timeout=60))
    loaded = ast.literal_eval(proc.stdout.strip())
    assert not [m for m in loaded if m.split(".")[0] in HEAVY], loaded


def test_help_does_not_import_heavy_libraries(tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "sim.cli", "--help"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    imported = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            imported.add(name.split(".")[0])
    assert "sim" in imported  # the importtime output was parsed
    assert not imported & HEAVY, sorted(imported & HEAVY)
