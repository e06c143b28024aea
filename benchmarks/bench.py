"""Engine speed and memory, measured, not asserted.

    .venv/bin/python benchmarks/bench.py            # the full table
    .venv/bin/python benchmarks/bench.py --quick     # N = 1,000 x R = 30 only

An agent-step is one employee for one week in one replication. Each figure is the best of
``--repeat`` runs of the leaderboard scenario (all of its mechanisms on, weekly metrics
collected), on one core. The machine is shared and noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def scenario(employees: int, replications: int, weeks: int = 52, name: str = "leaderboard", extra=()):
    from sim.loader import load_scenario

    return load_scenario(ROOT / "scenarios" / f"{name}.yaml",
                         [f"employees={employees}", f"replications={replications}", f"weeks={weeks}", *extra])


#: three tiers that all equal the one blended price: the leaderboard's behaviour, the tiers' machinery
SAME_TIERS = ["economy.tiers=[{name: a, price: 3}, {name: b, price: 3}, {name: c, price: 3}]"]


def engine_seconds(employees: int, replications: int, weeks: int = 52, repeat: int = 3, name: str = "leaderboard",
                   extra=(), fast: bool = True) -> float:
    """Best wall time of ``repeat`` runs; ``fast``: the numba kernels (True) or numpy only (False)."""
    from sim.engine import Engine

    scn = scenario(employees, replications, weeks, name, extra)
    Engine(scenario(min(employees, 100), 1, 2, name, extra), fast=fast).run()  # warm-up (imports, numba cache)
    best = float("inf")
    for _ in range(repeat):
        eng = Engine(scn, fast=fast)
        t = time.perf_counter()
        eng.run()
        best = min(best, time.perf_counter() - t)
    return best


def engine_rate(employees: int, replications: int, weeks: int = 52, repeat: int = 3, fast: bool = True) -> float:
    return employees * replications * weeks / engine_seconds(employees, replications, weeks, repeat, fast=fast)


def peak_bytes_per_employee(employees: int, weeks: int = 52) -> tuple[float, float]:
    """(state bytes, peak bytes) per employee of one replication, measured in a fresh process.

    State is every array the engine and its policies keep between weeks; peak adds the step's
    temporaries, as traced by tracemalloc (numpy reports its buffers to it)."""
    code = f"""
import sys, tracemalloc
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from sim.engine import Engine
from sim.loader import load_scenario
path = {str(ROOT / 'scenarios' / 'leaderboard.yaml')!r}
Engine(load_scenario(path, ["employees=10", "weeks=2", "replications=1"])).run()
tracemalloc.start()
eng = Engine(load_scenario(path, ["employees={employees}", "weeks={weeks}", "replications=1"]))
eng.run()
peak = tracemalloc.get_traced_memory()[1]
def arrays(obj):
    return [v for v in vars(obj).values() if isinstance(v, np.ndarray)]
state = sum(a.nbytes for a in arrays(eng) + arrays(eng._pub) + [x for p in eng.policies for x in arrays(p)]
            if a.size >= {employees})
print(state, peak)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    state, peak = map(int, out.stdout.split())
    return state / employees, peak / employees


#: scenario runs in the 1- vs 2-process scaling figure: about 3 s on 1 process, long enough that the
#: pool's start and hand-offs weigh little (8 runs took 0.4 s on 2 processes and measured 1.72-1.75x)
SCALING_RUNS = 32


def sweep_seconds(workers: int, points: int = SCALING_RUNS, employees: int = 1000, replications: int = 30) -> float:
    """Wall time of ``points`` independent scenario runs spread over ``workers`` processes."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp

    from sim.runner import _run_batch

    scn = scenario(employees, replications)
    from sim import _fast

    fast = _fast.wanted(points * employees * replications * 52)  # as a sweep of these runs decides
    jobs = [(scn, list(range(replications)), seed, fast) for seed in range(points)]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(_run_batch, *zip(*jobs[:workers])))  # warm the workers up
        t = time.perf_counter()
        list(pool.map(_run_batch, *zip(*jobs)))
        return time.perf_counter() - t


def wall(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def fit_exponent(xs, ys) -> float:
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def ceiling(employees: int = 1000, replications: int = 30, repeat: int = 5) -> dict[str, float]:
    """Milliseconds per week of the work no implementation of these rules, as numpy (with the
    engine's numba kernels for the draws and the rankings) runs it here, can skip; the engine's
    throughput cannot exceed R N / (their sum).

    Measured on the arrays of a real leaderboard run (after 20 weeks), per week:
    - the random draws: a uniform per employee for the choice, a normal for the shock, two
      uniforms for imitation (the streams the engine reads, drawn the same way);
    - two exact tie-averaged rankings: the metric (leaderboard percentiles, published cut-off)
      and real value (Goodhart's rho);
    - the transcendental functions, one whole-array call each: exp for the logit weight of each
      of the K menu levels; for each of the 2 per-employee levels, log1p (value) and the log
      and exp of the forecast percentile; log1p for the gaming bound, log1p for real value.
    Everything else in the step (the arithmetic, the policies, the bookkeeping) comes on top.
    """
    import numpy as np

    from sim import _fast
    from sim.engine import Engine, rank_data
    from sim.streams import CHOICE, IMITATION, SHOCKS, Stream

    R, N = replications, employees
    nb = _fast.kernels() if _fast.available() else None  # the draws and rankings as the engine makes them
    eng = Engine(scenario(N, R))
    for _ in range(20):
        eng.step()
    K = 1 + len(eng.scn.choice.quantiles) + 1  # the optimum, the published quantiles, the leaderboard's target

    def best(fn, n=52):
        t = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            t = min(t, (time.perf_counter() - t0) / n)
        return t * 1e3

    reps = list(range(R))
    streams = [Stream(1, reps, CHOICE, N, nb=nb), Stream(1, reps, SHOCKS, N, normal=True, nb=nb),
               Stream(1, reps, IMITATION, 2 * N, nb=nb)]
    out = {"rng_ms": best(lambda: [s.next() for s in streams])}
    metric, value = eng.metric.copy(), eng.v.copy()
    out["ranking_ms"] = best(lambda: (rank_data(metric, nb), rank_data(value, nb)), 20)
    a = np.random.default_rng(0).random((R, N), dtype=np.float32)
    calls = [np.exp] * K + [np.log1p, np.log, np.exp] * 2 + [np.log1p, np.log1p]
    out["math_ms"] = best(lambda: [f(a) for f in calls], 20)
    out["one_pass_ms"] = best(lambda: a + a, 50)  # one elementwise pass, for scale
    out["total_ms"] = out["rng_ms"] + out["ranking_ms"] + out["math_ms"]
    out["ceiling"] = R * N / (out["total_ms"] / 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only N = 1,000 x R = 30")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    from sim import _fast

    fig: dict[str, float] = {}
    fast = _fast.available()
    print(f"numba kernels: {'on' if fast else 'off (numba missing or SIM_NO_NUMBA set): numpy only'}")
    print(f"{'implementation':24s} {'employees':>10s} {'reps':>5s} {'M agent-steps/s':>16s}")
    sizes = [(1000, 30)] if args.quick else [(100, 30), (1000, 30), (10_000, 30), (100_000, 1)]
    for n, r in sizes:
        for path in ([True] if fast else []) + [False]:  # interleaved, so that machine noise hits both alike
            rate = engine_rate(n, r, repeat=args.repeat, fast=path)
            key = f"engine_{n}x{r}" if path == fast else f"engine_numpy_{n}x{r}"
            fig[key] = rate
            label = "engine (numba kernels)" if path else "engine (numpy only)"
            print(f"{label:24s} {n:>10,d} {r:>5d} {rate / 1e6:>16.2f}")
    if fast:
        print(f"numba kernels / numpy only at 1,000 x 30: {fig['engine_1000x30'] / fig['engine_numpy_1000x30']:.2f}x "
              "(the same numbers, bit for bit)")
    # model tiers (issue: within 15% of the engine without tiers), interleaved so that machine
    # noise hits both alike; best of `repeat` each
    plain = tiers = same = float("inf")
    for _ in range(args.repeat):
        plain = min(plain, engine_seconds(1000, 30, repeat=1, fast=fast))
        same = min(same, engine_seconds(1000, 30, repeat=1, extra=SAME_TIERS, fast=fast))
        tiers = min(tiers, engine_seconds(1000, 30, repeat=1, name="tiers", fast=fast))
    fig["tiers_machinery_over_plain"] = plain / same
    fig["tiers_scenario_over_plain"] = plain / tiers
    rate = lambda s: 1000 * 30 * 52 / s / 1e6  # noqa: E731
    print(f"model tiers, 1,000 x 30 (leaderboard without tiers: {rate(plain):.2f} M agent-steps/s):")
    print(f"  the tier machinery (3 tiers at the one price, same behaviour): {rate(same):.2f} M/s, "
          f"{plain / same:.1%} of the throughput without tiers")
    print(f"  scenarios/tiers.yaml (standard tiers; more maxxers, who burn on the small tier): {rate(tiers):.2f} M/s, "
          f"{plain / tiers:.1%}")
    c = ceiling()
    fig["ceiling"], fig["ceiling_ms"] = c["ceiling"], c["total_ms"]
    print(f"irreducible work per week at 1,000 x 30 (see ceiling()): random draws {c['rng_ms']:.2f} ms, two exact "
          f"rankings {c['ranking_ms']:.2f} ms, transcendental functions {c['math_ms']:.2f} ms; total "
          f"{c['total_ms']:.2f} ms, a ceiling of {c['ceiling'] / 1e6:.1f} M agent-steps/s (the whole step takes "
          f"{plain / 52 * 1e3:.2f} ms; one elementwise pass {c['one_pass_ms'] * 1e3:.0f} us)")
    if args.quick:
        return
    try:
        from benchmarks.reference import reference_rate
    except ImportError:
        reference_rate = None
    if reference_rate is not None:
        for n in (100, 1000):
            rate = reference_rate("leaderboard", n, 1, 10)
            fig[f"reference_{n}"] = rate
            print(f"{'Mesa reference':14s} {n:>10,d} {1:>5d} {rate / 1e6:>16.2f}")
        print(f"engine / reference at N=1,000: {fig['engine_1000x30'] / fig['reference_1000']:.0f}x")
    state, peak = peak_bytes_per_employee(200_000)
    fig["state_bytes_per_employee"], fig["peak_bytes_per_employee"] = state, peak
    print(f"memory per employee (200,000 x 1 replication, 52 weeks): state {state:.0f} bytes, peak with the "
          f"step's temporaries {peak:.0f} bytes; 1,000,000 employees: about {peak * 1e6 / 2**20:.0f} MiB "
          "on top of the interpreter")
    weeks = [13, 26, 52, 104]
    t_weeks = [engine_seconds(1000, 30, w, repeat=3) for w in weeks]
    ns = [10_000, 40_000, 160_000]
    t_ns = [engine_seconds(n, 1, 13, repeat=2) for n in ns]
    fig["exponent_weeks"], fig["exponent_employees"] = fit_exponent(weeks, t_weeks), fit_exponent(ns, t_ns)
    print(f"cost ~ weeks^{fig['exponent_weeks']:.2f} (13-104 weeks at 1,000 x 30), ~ employees^{fig['exponent_employees']:.2f} "
          f"(10,000-160,000 employees x 1 replication; N log N over this range fits an exponent of about 1.1)")
    one, two = sweep_seconds(1), sweep_seconds(2)
    fig["scaling_2_workers"] = one / two
    print(f"{SCALING_RUNS} scenario runs (1,000 x 30 x 52): {one:.1f} s on 1 process, {two:.1f} s on 2: {one / two:.2f}x")
    sim = str(Path(sys.executable).with_name("sim"))
    fig["help_s"] = wall([sim, "--help"])
    print(f"sim --help: {fig['help_s']:.3f} s wall")
    fig["run_s"] = wall([sim, "run", "scenarios/leaderboard.yaml", "-q", "--out", "/tmp/sim-bench-run", "--force"], 2)
    print(f"sim run scenarios/leaderboard.yaml (1,000 x 52 weeks x 30 reps, with plots and report): "
          f"{fig['run_s']:.2f} s wall")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2))


if __name__ == "__main__":
    main()
