"""Engine speed: agent-steps per second, measured, not asserted.

    .venv/bin/python benchmarks/bench.py            # the full table
    .venv/bin/python benchmarks/bench.py --quick     # N = 1,000 x R = 30 only

An agent-step is one employee for one week in one replication. Each figure is the best of
``--repeat`` runs of the leaderboard scenario (all of its mechanisms on, weekly metrics
collected), on one core. The machine is shared and noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def engine_rate(scenario: str, employees: int, replications: int, weeks: int = 52, repeat: int = 3) -> float:
    from sim.engine import Engine
    from sim.loader import load_scenario

    scn = load_scenario(ROOT / "scenarios" / f"{scenario}.yaml",
                        [f"employees={employees}", f"replications={replications}", f"weeks={weeks}"])
    Engine(scn, reps=[0]).run()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        eng = Engine(scn)
        t = time.perf_counter()
        eng.run()
        best = min(best, time.perf_counter() - t)
    return employees * replications * weeks / best


def wall(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only N = 1,000 x R = 30")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sizes = [(1000, 30)] if args.quick else [(100, 30), (1000, 30), (10_000, 30), (100_000, 1)]
    print(f"{'scenario':12s} {'employees':>10s} {'reps':>5s} {'M agent-steps/s':>16s}")
    for n, r in sizes:
        rate = engine_rate("leaderboard", n, r, repeat=args.repeat)
        print(f"{'leaderboard':12s} {n:>10,d} {r:>5d} {rate / 1e6:>16.2f}")
    if args.quick:
        return
    sim = str(Path(sys.executable).with_name("sim"))
    print(f"sim --help: {wall([sim, '--help']):.3f} s wall")
    t = wall([sim, "run", "scenarios/leaderboard.yaml", "-q", "--out", "/tmp/sim-bench-run", "--force"], repeat=2)
    print(f"sim run scenarios/leaderboard.yaml (1,000 x 52 weeks x 30 reps, with plots): {t:.2f} s wall")


if __name__ == "__main__":
    main()
