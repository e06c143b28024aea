"""Sweeps: sweep files and their errors, designs, reproducibility across executors, resume.

The model sweeps here are tiny (tens of employees, a few weeks, a few replications): they
test the machinery, not the model.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.errors import ScenarioError
from sim.runner import run_scenario
from sim.sweep import read_manifest, read_results, run_sweep
from sim.sweep_spec import load_sweep, sample, scenario_at

REPO = Path(__file__).resolve().parent.parent

TINY = """\
name: tiny
scenario: leaderboard
constants: {{employees: 60, weeks: 6}}
replications: 3
seed: 11
design:
  method: {method}
  {design}
uncertainties:
  workforce.status_seeking.a: {{bounds: [1, 5]}}
  economy.price: {{bounds: [1, 6]}}
levers:
  policies.leaderboard.prize: {{bounds: [0, 800]}}
  network.team_size: {{levels: [4, 8, 16]}}
outcomes: [cost, gaming_share, net_value]
{extra}"""


def tiny(tmp_path: Path, method: str = "latin_hypercube", design: str = "samples: 12", extra: str = "",
         name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(TINY.format(method=method, design=design, extra=extra))
    return path


def table(out: Path) -> pd.DataFrame:
    return read_results(out).sort_values(["point", "replication"]).reset_index(drop=True)


# --- the sweep file and its designs -----------------------------------------------------------
@pytest.mark.parametrize("method, design, n", [
    ("latin_hypercube", "samples: 12", 12),
    ("sobol", "samples: 8", 8 * (4 + 2)),
    ("sobol", "samples: 8\n  second_order: true", 8 * (2 * 4 + 2)),
    ("morris", "samples: 5\n  levels: 4", 5 * (4 + 1)),
    ("grid", "steps: 2", 2 * 2 * 2 * 3),
])
def test_designs_have_salib_shapes_and_values_in_range(tmp_path, method, design, n):
    path = tiny(tmp_path, method, design)
    sw = load_sweep(path)
    pts = sample(sw)
    assert len(pts) == n and pts.raw.shape == (n, 4)
    status, price, prize, team = pts.values
    assert all(1 <= v <= 5 for v in status) and all(1 <= v <= 6 for v in price) and all(0 <= v <= 800 for v in prize)
    assert set(team) <= {4, 8, 16} and all(isinstance(v, int) for v in team)
    if method != "morris":  # Morris trajectories move on a few grid levels; the others cover each level
        assert set(team) == {4, 8, 16}
    if method == "grid":
        assert sorted(set(price)) == [1.0, 6.0] and len({tuple(r) for r in zip(*pts.values)}) == n
    # same file, same points
    assert sample(load_sweep(path)).digest() == pts.digest()


def test_integer_fields_are_rounded_and_points_validate(tmp_path):
    path = tiny(tmp_path, extra="chunk: 4\n").read_text().replace(
        "network.team_size: {levels: [4, 8, 16]}", "network.team_size: {bounds: [3, 9]}")
    (tmp_path / "r.yaml").write_text(path)
    sw = load_sweep(tmp_path / "r.yaml")
    pts = sample(sw)
    team = pts.values[3]
    assert all(isinstance(v, int) and 3 <= v <= 9 for v in team)
    assert np.allclose(team, np.round(pts.raw[:, 3]))
    scn = scenario_at(sw.base, [p.name for p in sw.params], [c[0] for c in pts.values])
    assert scn.network.team_size == team[0] and scn.employees == 60 and scn.weeks == 6


BAD = [
    # (file text, expected line, fragments of the message)
    ("scenario: leaderboard\ndesign: {method: grid}\nuncertanties:\n  economy.price: {bounds: [1, 2]}\n", 3,
     ["unknown key 'uncertanties'", "did you mean 'uncertainties'", "Allowed:"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  policies.leaderboard.prise: {bounds: [1, 2]}\n", 4,
     ["levers.policies.leaderboard.prise", "did you mean 'prize'", "top_share"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  economy.prize: {bounds: [1, 2]}\n", 4,
     ["unknown key 'prize' in economy", "did you mean 'price'"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n\n  economy.price: {bounds: [2, 1]}\n", 5,
     ["levers.economy.price", "low < high"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  economy.price: {bounds: [-1, 2]}\n", 4,
     ["levers.economy.price", "bound -1.0 is not allowed", "greater than or equal to 0"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  network.kind: {levels: [small_world, wel_mixed]}\n",
     4, ["level 'wel_mixed'", "did you mean 'well_mixed'"]),
    ("scenario: leaderboard\ndesign:\n  method: latin_hypercub\n  samples: 4\nlevers:\n  economy.price: {bounds: [1, 2]}\n",
     3, ["design.method", "invalid choice 'latin_hypercub'", "did you mean 'latin_hypercube'", "morris, sobol"]),
    ("scenario: leaderboard\ndesign: {method: sobol, samples: 100}\nlevers:\n  economy.price: {bounds: [1, 2]}\n"
     "  economy.x0: {bounds: [1, 2]}\n", 2, ["power of 2", "64 or 128"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  economy.price: {bounds: [1, 2], bonds: 3}\n", 4,
     ["levers.economy.price.bonds", "did you mean 'bounds'"]),
    ("scenario: leaderbord\ndesign: {method: grid}\nlevers:\n  economy.price: {bounds: [1, 2]}\n", 1,
     ["scenario file not found", "did you mean 'leaderboard'"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  economy.price: {bounds: [1, 2]}\n"
     "outcomes: [cost, gamng_share]\n", 5, ["unknown outcome 'gamng_share'", "did you mean 'gaming_share'"]),
    ("scenario: leaderboard\nconstants: {employes: 10}\ndesign: {method: grid}\nlevers:\n"
     "  economy.price: {bounds: [1, 2]}\n", 2, ["constants.employes", "did you mean 'employees'"]),
    ("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  policies.quota.floor: {levels: [1]}\n", 4,
     ["unknown policy 'quota'", "leaderboard"]),
    ("scenario: leaderboard\ndesign: {method: morris, samples: 4}\nlevers:\n  economy.price: {bounds: [1, 2]}\n"
     "  economy.x0: {mean: 1, sd: 2, dist: normal}\n", 5, ["morris design takes uniform bounds or levels"]),
]


@pytest.mark.parametrize("text, line, fragments", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_sweep_file_gives_one_line_with_file_and_line(tmp_path, capsys, text, line, fragments):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    rc = main(["sweep", str(path), "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:{line}: "), err
    for frag in fragments:
        assert frag in err, (frag, err)
    assert not (tmp_path / "out").exists()


def test_bad_sweep_file_from_the_real_cli_has_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("scenario: leaderboard\ndesign: {method: grid}\nlevers:\n  economy.price: {bounds: [1, 2]}\n"
                    "replicatons: 3\n")
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", str(path), "-q"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"error: {path}:5: replicatons: unknown key 'replicatons'; did you mean "
                                   "'replications'? Allowed: chunk, constants, description, design, levers, model, "
                                   "name, outcomes, replications, scenario, seed, uncertainties.")
    assert not (tmp_path / "results").exists()


# --- running: the points are the model's numbers, whatever the executor -----------------------
def test_a_point_is_run_scenario_at_its_values_with_the_sweeps_seed(tmp_path):
    path = tiny(tmp_path)
    sw = load_sweep(path)
    pts = sample(sw)
    run_sweep(sw, tmp_path / "out")
    got = table(tmp_path / "out")
    assert len(got) == len(pts) * 3
    for i in (0, 7):
        scn = scenario_at(sw.base, [p.name for p in sw.params], [c[i] for c in pts.values])
        res = run_scenario(scn, seed=11, replications=3)
        rows = got[got.point == i]
        for o in ("cost", "gaming_share", "net_value"):
            np.testing.assert_array_equal(rows[o].to_numpy(), res.runs[o])
        assert rows["economy.price"].iloc[0] == pts.values[1][i]
    man = read_manifest(tmp_path / "out")
    assert man["complete"] and man["points"] == 12
    summ = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    np.testing.assert_allclose(summ["cost"], got.groupby("point")["cost"].mean().to_numpy())


def test_same_results_on_one_or_two_workers_and_any_chunking(tmp_path):
    a = run_sweep(tiny(tmp_path, extra="chunk: 1\n"), tmp_path / "w1", workers=1)
    b = run_sweep(tiny(tmp_path, extra="chunk: 1\n"), tmp_path / "w2", workers=2)
    c = run_sweep(tiny(tmp_path, extra="chunk: 5\n", name="c.yaml"), tmp_path / "c5", workers=2)
    assert a["chunks"] == 12 and c["chunks"] == 3
    t1 = table(tmp_path / "w1")
    pd.testing.assert_frame_equal(t1, table(tmp_path / "w2"))
    pd.testing.assert_frame_equal(t1, table(tmp_path / "c5"))
    assert t1["cost"].nunique() > 12  # points and replications differ: not a constant


def test_common_random_numbers_across_points(tmp_path):
    """Every point uses the sweep's seed: two points differing only in an inert knob agree exactly."""
    path = tmp_path / "crn.yaml"
    path.write_text("scenario: baseline\nconstants: {employees: 50, weeks: 4}\nreplications: 3\n"
                    "design: {method: grid}\nlevers:\n  policies.none.active: {levels: [true, false]}\n")
    run_sweep(path, tmp_path / "out")
    t = table(tmp_path / "out")
    a, b = t[t.point == 0], t[t.point == 1]
    np.testing.assert_array_equal(a["cost"].to_numpy(), b["cost"].to_numpy())
    assert a["cost"].nunique() == 3  # replications differ from one another


def test_out_folder_rules(tmp_path, capsys):
    path = tiny(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("keep")
    assert main(["sweep", str(path), "--out", str(out), "-q"]) == 2
    assert "not empty" in capsys.readouterr().err and (out / "x").read_text() == "keep"
    assert main(["sweep", str(path), "--resume", "-q"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(out), "--resume", "-q"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(out), "--force", "-q"]) == 0
    assert not (out / "x").exists() and read_manifest(out)["complete"]
    assert main(["sweep", str(path), "--out", str(out), "--workers", "0", "-q"]) == 2


# --- lossless and resumable -------------------------------------------------------------------
def _chunk_files(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "chunks").glob("chunk-*.parquet")}


def test_sigkill_then_resume_gives_identical_results_without_recomputing(tmp_path):
    text = TINY.format(method="latin_hypercube", design="samples: 80", extra="chunk: 2\n").replace(
        "{employees: 60, weeks: 6}", "{employees: 150, weeks: 20}")
    path = tmp_path / "kill.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(path), "--out", str(out), "-q"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if (out / "chunks").is_dir() and len(_chunk_files(out)) >= 3:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read()}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    before = _chunk_files(out)
    assert 3 <= len(before) < 40, len(before)
    assert not read_manifest(out)["complete"]
    # analysis refuses a partial sweep
    from sim.analyze import analyze

    with pytest.raises(ScenarioError, match="not complete"):
        analyze(out)
    man = run_sweep(path, out, resume=True)
    done_before = 2 * len(before)  # every chunk holds 2 points
    assert man["computed"] == 80 - done_before, "finished points were recomputed, or some were skipped"
    after = _chunk_files(out)
    assert len(after) == 40 and all(after[n] == before[n] for n in before), "a finished chunk was rewritten"
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    chunks = [e["chunk"] for e in log]
    assert len(chunks) == len(set(chunks)), "a chunk was computed twice"
    run_sweep(path, tmp_path / "straight")
    pd.testing.assert_frame_equal(table(out), table(tmp_path / "straight"))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"),
                                  pd.read_parquet(tmp_path / "straight" / "summary.parquet"))
    # resuming a finished sweep computes nothing
    assert run_sweep(path, out, resume=True)["computed"] == 0


def test_resume_refuses_a_changed_sweep_or_scenario_and_says_why(tmp_path, capsys):
    scn = tmp_path / "mine.yaml"
    scn.write_text("extends: leaderboard\nname: mine\neconomy: {price: 3.0}\n")
    path = tiny(tmp_path, extra="chunk: 3\n")
    path.write_text(path.read_text().replace("scenario: leaderboard", "scenario: mine.yaml"))
    out = tmp_path / "out"
    run_sweep(path, out)
    assert (out / "chunks" / "chunk-000003.parquet").exists()
    (out / "chunks" / "chunk-000003.parquet").unlink()  # as if interrupted
    original = path.read_text()
    path.write_text(original.replace("samples: 12", "samples: 16"))
    assert main(["sweep", str(path), "--out", str(out), "--resume", "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "design.samples: 12 -> 16" in err and "--force" in err, err
    path.write_text(original)
    scn.write_text("extends: leaderboard\nname: mine\neconomy: {price: 3.5}\n")
    assert main(["sweep", str(path), "--out", str(out), "--resume", "-q"]) == 2
    err = capsys.readouterr().err
    assert "base_scenario.economy.price: 3.0 -> 3.5" in err, err
    assert not (out / "chunks" / "chunk-000003.parquet").exists()  # nothing was run
    scn.write_text("extends: leaderboard\nname: mine\neconomy: {price: 3.0}\n")
    assert main(["sweep", str(path), "--out", str(out), "--resume", "-q"]) == 0
    assert "computed 3 " in capsys.readouterr().out


# --- a real dask cluster on 127.0.0.1 ---------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped afterwards."""
    dask = Path(sys.executable).parent / "dask"
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(dask), "worker", addr, "--nthreads", "1", "--host", "127.0.0.1",
                                           "--dashboard-address", ":0", "--no-nanny"], cwd=REPO, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(addr, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
            assert len(client.scheduler_info()["workers"]) == 2
        yield addr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    assert all(p.poll() is not None for p in procs)


def test_dask_cluster_gives_the_same_results_as_local(tmp_path, dask_cluster, capsys):
    path = tiny(tmp_path, method="sobol", design="samples: 4", extra="chunk: 3\n")
    run_sweep(path, tmp_path / "local", workers=1)
    assert main(["sweep", str(path), "--out", str(tmp_path / "dask"), "--scheduler", dask_cluster, "-q"]) == 0
    assert "computed 24 " in capsys.readouterr().out
    pd.testing.assert_frame_equal(table(tmp_path / "local"), table(tmp_path / "dask"))
    log = [json.loads(line) for line in (tmp_path / "dask" / "log.jsonl").read_text().splitlines()]
    assert sorted(e["chunk"] for e in log) == list(range(8))


def test_a_shipped_sweep_loads(shipped_sweep):
    sw = load_sweep(shipped_sweep)
    pts = sample(sw)
    assert len(pts) >= 1 and math.isfinite(pts.raw.sum())


@pytest.fixture(params=sorted(p.name for p in (REPO / "sweeps").glob("*.yaml")))
def shipped_sweep(request):
    return REPO / "sweeps" / request.param


# --- memory: results stream to disk -----------------------------------------------------------
MEM_CHILD = """
import json, sys
from pathlib import Path
from sim.sweep import run_sweep

src, out = Path(sys.argv[1]), Path(sys.argv[2])
man = run_sweep(src, out)
assert man["complete"]
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print("MEMORY " + json.dumps(hwm * 1024))
"""


def test_memory_does_not_grow_with_the_results(tmp_path):
    """100x more result rows (replications) must not raise the sweep process's peak memory.

    The Ishigami sweep of 10,240 points runs once with 1 replication per point and once with
    100 (1,024,000 rows, about 50 MB as a table): streamed in chunks, the peaks are equal within
    noise; held in memory, the second would be 50 MB or more higher.
    """
    peaks = {}
    for reps in (1, 100):
        text = (REPO / "sweeps" / "ishigami.yaml").read_text().replace("replications: 1 ", f"replications: {reps} ")
        text = text.replace("samples: 1024", "samples: 2048")
        src = tmp_path / f"m{reps}.yaml"
        src.write_text(text)
        proc = subprocess.run([sys.executable, "-c", MEM_CHILD, str(src), str(tmp_path / f"out{reps}")],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        peaks[reps] = json.loads(proc.stdout.split("MEMORY ", 1)[1])
    rows = pd.read_parquet(tmp_path / "out100" / "chunks", columns=["y"])
    assert len(rows) == 2048 * 5 * 100
    assert peaks[100] - peaks[1] < 20 * 2**20, {k: v / 2**20 for k, v in peaks.items()}


def test_a_tier_inside_tiers_standard_can_be_swept(tmp_path):
    """economy.tiers.0.input_price addresses the frontier tier of `tiers: standard`."""
    path = tmp_path / "tiers.yaml"
    path.write_text("name: t\nscenario: tiers\nconstants: {employees: 60, weeks: 4}\nreplications: 2\nseed: 3\n"
                    "design: {method: grid}\nuncertainties:\n  economy.tiers.0.input_price: {levels: [5, 15]}\n"
                    "outcomes: [tokens, 'spend[frontier]']\n")
    out = tmp_path / "out"
    run_sweep(load_sweep(path), out, workers=1, progress=False)
    t = table(out)
    cheap, dear = (t[t["economy.tiers.0.input_price"] == v].sort_values("replication") for v in (5, 15))
    # the company pays, so usage is the same; the frontier bill follows the blended price (0.9 x in + 0.1 x 75)
    np.testing.assert_allclose(cheap["tokens"].to_numpy(), dear["tokens"].to_numpy())
    ratio = dear["spend[frontier]"].to_numpy() / cheap["spend[frontier]"].to_numpy()
    np.testing.assert_allclose(ratio, (0.9 * 15 + 7.5) / (0.9 * 5 + 7.5), rtol=1e-6)
