"""Running a sweep: points in chunks, on local processes or a dask cluster, streamed to disk.

``run_sweep(sweep, out)`` is the one function the CLI, the notebook and the benchmark call.

- Every point runs all its replications in one engine call (``run_scenario(scn, seed,
  batch_size=R)``) with the sweep's seed: common random numbers across points, so a point's
  numbers do not depend on the executor, the number of workers, the chunking or a resume.
- Points are grouped in chunks of ``chunk`` points; a task computes one chunk and the client
  writes it as ``chunks/chunk-NNNNNN.parquet``, atomically (temporary file, fsync, rename).
  A chunk file that exists is complete; nothing else counts as done.
- ``--resume`` recomputes only the chunks without a file, after checking that the sweep, its
  base scenario and its design are the ones the partial run used (``sweep.json``).
- Memory stays bounded: at most a few chunks per worker are in flight, and the summary is
  built by reading one chunk at a time.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ScenarioError
from .sweep_spec import Points, Sweep, load_sweep, sample, scenario_at

MANIFEST = "sweep.json"
FORMAT = 1


# --- what a task computes: pure functions of plain data ---------------------------------------
def job_of(sw: Sweep) -> dict:
    """The plain data every task needs (picklable, small)."""
    return {"model": sw.model, "base": sw.base, "names": [p.name for p in sw.params], "seed": sw.seed,
            "replications": sw.replications, "outcomes": list(sw.outcomes)}


def ishigami(x1, x2, x3, a: float = 7.0, b: float = 0.1):
    """The Ishigami function (Ishigami & Homma 1990), whose Sobol indices are known analytically."""
    return np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)


def run_chunk(job: dict, first: int, values: list[list[Any]]) -> dict[str, np.ndarray]:
    """Compute the points ``first, first + 1, ...`` whose parameter values are ``values[j][i]``.

    Returns the chunk's tidy table as columns: point, replication, one column per outcome
    (replication rows of each point, in order).
    """
    n = len(values[0])
    R = job["replications"]
    names = job["names"]
    cols: dict[str, np.ndarray] = {
        "point": np.repeat(np.arange(first, first + n, dtype=np.int64), R),
        "replication": np.tile(np.arange(R, dtype=np.int64), n),
    }
    if job["model"] == "ishigami":
        consts = dict(job["base"])
        args = {**consts, **{k: np.asarray(v, dtype=np.float64) for k, v in zip(names, values)}}
        y = ishigami(args["x1"], args["x2"], args["x3"], args["a"], args["b"])
        cols["y"] = np.repeat(np.broadcast_to(y, (n,)), R).astype(np.float64)
        return cols
    from .runner import run_scenario

    outs = {o: np.empty(n * R, dtype=np.float64) for o in job["outcomes"]}
    for i in range(n):
        scn = scenario_at(job["base"], names, [col[i] for col in values])
        res = run_scenario(scn, job["seed"], R, batch_size=R, fast=job.get("fast"))
        for o in job["outcomes"]:
            outs[o][i * R:(i + 1) * R] = res.runs[o]
    cols.update(outs)
    return cols


# --- the results folder -----------------------------------------------------------------------
def chunk_path(out: Path, k: int) -> Path:
    return out / "chunks" / f"chunk-{k:06d}.parquet"


def default_chunk(n_points: int) -> int:
    """About 100 files per sweep, 1 to 50 points each: progress, balance, few files."""
    return max(1, min(50, math.ceil(n_points / 100)))


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _atomic_table(path: Path, table) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    _atomic_bytes(path, sink.getvalue().to_pybytes())


def _column(values: list) -> Any:
    import pyarrow as pa

    if all(isinstance(v, bool) for v in values):
        return pa.array(values, pa.bool_())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.array(values, pa.int64())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.array([float(v) for v in values], pa.float64())
    return pa.array([str(v) for v in values], pa.string())


def points_table(sw: Sweep, pts: Points):
    """One row per point: its index, the value of each parameter, and SALib's raw sample."""
    import pyarrow as pa

    cols = {"point": pa.array(np.arange(len(pts), dtype=np.int64))}
    for j, p in enumerate(sw.params):
        cols[p.name] = _column(pts.values[j])
    for j, p in enumerate(sw.params):
        cols[f"raw:{p.name}"] = pa.array(pts.raw[:, j])
    return pa.table(cols)


def chunk_table(sw: Sweep, pts: Points, first: int, cols: dict[str, np.ndarray]):
    """A chunk's tidy table: point, replication, parameter values, outcomes."""
    import pyarrow as pa

    point = cols["point"]
    out = {"point": pa.array(point), "replication": pa.array(cols["replication"])}
    for j, p in enumerate(sw.params):
        out[p.name] = _column([pts.values[j][i] for i in point])
    for o in sw.outcomes:
        out[o] = pa.array(cols[o])
    meta = {b"sim.sweep": json.dumps({"name": sw.name, "first": first, "seed": sw.seed}).encode()}
    return pa.table(out).replace_schema_metadata(meta)


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two JSON documents, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in old:
                out.append(f"{key} added")
            elif k not in new:
                out.append(f"{key} removed")
            else:
                out += _diff(old[k], new[k], key)
        return out
    if old != new:
        short = lambda v: (json.dumps(v)[:40] + "...") if len(json.dumps(v)) > 43 else json.dumps(v)  # noqa: E731
        return [f"{prefix}: {short(old)} -> {short(new)}"]
    return []


def _manifest(sw: Sweep, pts: Points, chunk: int) -> dict:
    from .output import version

    return {"format": FORMAT, "sim_version": version(), "name": sw.name, "sweep_file": str(sw.path),
            "method": sw.spec.design.method, "problem": sw.problem(),
            "params": [{"name": p.name, "group": p.group, "kind": p.kind,
                        "levels": list(p.spec.levels) if p.spec.levels is not None else None}
                       for p in sw.params],
            "outcomes": sw.outcomes, "seed": sw.seed, "replications": sw.replications,
            "points": len(pts), "chunk": chunk, "chunks": math.ceil(len(pts) / chunk),
            "design_digest": pts.digest(), "fingerprint": sw.fingerprint(), "complete": False}


def read_manifest(out: Path) -> dict:
    path = Path(out) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{out}: no {MANIFEST} here; is this a folder written by `sim sweep`?") from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{path}: unreadable ({exc.__class__.__name__})") from None


def _prepare(sw: Sweep, pts: Points, out: Path, resume: bool, force: bool, chunk: int) -> tuple[dict, set[int]]:
    """Create or check the results folder; return the manifest and the chunks already done."""
    from .output import check_out

    man = _manifest(sw, pts, chunk)
    if resume:
        if not (out / MANIFEST).is_file():
            if out.exists() and any(out.iterdir()):
                raise ScenarioError(f"--resume {out}: no {MANIFEST} here, so nothing to resume")
            resume = False  # nothing there yet: an ordinary start
        else:
            old = read_manifest(out)
            man["chunk"], man["chunks"] = old.get("chunk", chunk), math.ceil(len(pts) / old.get("chunk", chunk))
            reasons = _diff(old.get("fingerprint"), man["fingerprint"])
            if not reasons and old.get("design_digest") != man["design_digest"]:
                reasons = ["the sampled design differs (another SALib version?)"]
            if not reasons and old.get("format") != FORMAT:
                reasons = [f"results format {old.get('format')} -> {FORMAT}"]
            if reasons:
                more = f" (and {len(reasons) - 3} more)" if len(reasons) > 3 else ""
                raise ScenarioError(
                    f"cannot resume {out}: the sweep changed since the partial run ({'; '.join(reasons[:3])}{more}); "
                    "restore it, or start again with --force or another --out")
            done = set()
            for p in (out / "chunks").glob("chunk-*.parquet"):
                try:
                    k = int(p.stem.split("-")[1])
                except (IndexError, ValueError):
                    continue
                if 0 <= k < man["chunks"]:
                    done.add(k)
            for tmp in (out / "chunks").glob(".chunk-*.tmp-*"):  # a write the kill interrupted
                tmp.unlink(missing_ok=True)
            man["complete"] = old.get("complete", False) and len(done) == man["chunks"]
            return man, done
    check_out(out, force)
    if out.exists() and force:
        shutil.rmtree(out)
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    _atomic_table(out / "points.parquet", points_table(sw, pts))
    _atomic_bytes(out / MANIFEST, json.dumps(man, indent=1).encode())
    return man, set()


# --- executors --------------------------------------------------------------------------------
def _local(job: dict, tasks: list[tuple[int, int, list]], workers: int) -> Iterator[tuple[int, dict]]:
    """Yield (chunk, columns) as chunks finish, on ``workers`` spawned processes (in-process for 1)."""
    if workers <= 1:
        for k, first, vals in tasks:
            yield k, run_chunk(job, first, vals)
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    pending: dict = {}
    todo = iter(tasks)
    try:
        while True:
            while len(pending) < 2 * workers:  # bounded: a few chunks per worker in flight
                t = next(todo, None)
                if t is None:
                    break
                pending[pool.submit(run_chunk, job, t[1], t[2])] = t[0]
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield pending.pop(fut), fut.result()
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _dask(job: dict, tasks: list[tuple[int, int, list]], address: str) -> Iterator[tuple[int, dict]]:
    """Yield (chunk, columns) as chunks finish on a dask.distributed cluster."""
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - a dependency
        raise ScenarioError("--scheduler needs the 'distributed' package") from None
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError(f"--scheduler {address}: cannot connect ({str(exc).splitlines()[0][:120]})") from None
    try:
        slots = max(2, 2 * sum(client.nthreads().values()))
        todo = iter(tasks)
        keys: dict = {}

        def submit():
            t = next(todo, None)
            if t is None:
                return None
            fut = client.submit(run_chunk, job, t[1], t[2], pure=False, key=f"sim-sweep-chunk-{t[0]}-{os.getpid()}")
            keys[fut.key] = t[0]
            return fut

        first = [f for f in (submit() for _ in range(slots)) if f is not None]
        if not first:
            return
        ac = as_completed(first, loop=client.loop)
        for fut in ac:
            cols = fut.result()
            k = keys.pop(fut.key)
            fut.release()
            nxt = submit()
            if nxt is not None:
                ac.add(nxt)
            yield k, cols
    finally:
        client.close()


# --- the driver -------------------------------------------------------------------------------
def run_sweep(
    sweep: Sweep | str | Path,
    out: str | Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | Callable[[int], None] = False,
) -> dict:
    """Run (or resume) a sweep into ``out``; return its manifest (with ``computed``: points run now).

    Args:
        sweep: A loaded Sweep or a sweep file.
        out: The results folder.
        workers: Local processes (ignored with ``scheduler``).
        scheduler: A dask.distributed scheduler address, e.g. ``tcp://127.0.0.1:8786``.
        resume: Continue a partial run in ``out``; refuses if the sweep changed.
        force: Replace a non-empty ``out``.
        progress: True for a tqdm bar over points, or a callable receiving points done.
    """
    sw = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    out = Path(out)
    if workers < 1:
        raise ScenarioError(f"--workers must be at least 1 (got {workers})")
    pts = sample(sw)
    from .sweep_spec import check_points

    check_points(sw, pts)
    chunk = sw.spec.chunk or default_chunk(len(pts))
    man, done = _prepare(sw, pts, out, resume, force, chunk)
    chunk, n_chunks, P = man["chunk"], man["chunks"], len(pts)
    tasks = []
    for k in range(n_chunks):
        if k in done:
            continue
        first, last = k * chunk, min((k + 1) * chunk, P)
        tasks.append((k, first, [col[first:last] for col in pts.values]))
    done_points = sum(min((k + 1) * chunk, P) - k * chunk for k in done)
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=P, initial=done_points, unit="point", desc=sw.name, dynamic_ncols=True, smoothing=0.1)
        tick = bar.update
    elif callable(progress):
        tick = progress
    else:
        tick = None
    job = job_of(sw)
    if sw.model != "ishigami" and tasks:  # the numba kernels pay off on a large enough sweep
        from . import _fast

        first = scenario_at(job["base"], job["names"], [col[0] for col in tasks[0][2]])
        points = sum(len(t[2][0]) for t in tasks)
        job["fast"] = _fast.wanted(points * sw.replications * first.employees * first.weeks)
    t0 = time.perf_counter()
    computed = 0
    log = open(out / "log.jsonl", "a")
    try:
        it = _dask(job, tasks, scheduler) if scheduler else _local(job, tasks, workers)
        for k, cols in it:
            first = k * chunk
            _atomic_table(chunk_path(out, k), chunk_table(sw, pts, first, cols))
            n = len(cols["point"]) // max(sw.replications, 1)
            computed += n
            log.write(json.dumps({"chunk": k, "points": n, "pid": os.getpid(), "time": time.time()}) + "\n")
            log.flush()
            if tick:
                tick(n)
    finally:
        log.close()
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0
    man["complete"] = True
    man["computed"] = computed
    man["elapsed_s"] = round(elapsed, 3)
    write_summary(out, man)
    _atomic_bytes(out / MANIFEST, json.dumps({k: v for k, v in man.items() if k not in ("computed", "elapsed_s")},
                                             indent=1).encode())
    return man


def iter_chunks(out: Path, columns: list[str] | None = None):
    """The result chunks of a sweep folder, one pyarrow table at a time, in point order."""
    import pyarrow.parquet as pq

    for p in sorted((Path(out) / "chunks").glob("chunk-*.parquet")):
        yield pq.read_table(p, columns=columns)


def read_results(out: str | Path):
    """The whole tidy results table (one row per point and replication) as a pandas DataFrame."""
    import pandas as pd

    tables = [t.to_pandas() for t in iter_chunks(Path(out))]
    if not tables:
        raise ScenarioError(f"{out}: no result chunks yet")
    return pd.concat(tables, ignore_index=True)


def write_summary(out: Path, man: dict) -> None:
    """``summary.parquet``: per point, the mean, sd and 95% CI of each outcome over replications.

    Reads one chunk at a time, so memory stays bounded whatever the sweep size.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .stats import t_quantile

    writer = None
    tmp = out / f".summary.parquet.tmp-{os.getpid()}"
    buf: list = []

    def flush() -> None:
        nonlocal writer
        if not buf:
            return
        table = pa.concat_tables(buf)
        buf.clear()
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table.cast(writer.schema))

    try:
        for t in iter_chunks(out):
            df = t.to_pandas()
            params = [p["name"] for p in man["params"]]
            g = df.groupby("point", sort=True)
            first = g[params].first()
            cols = {"point": first.index.to_numpy(), **{p: first[p].to_numpy() for p in params}}
            for o in man["outcomes"]:
                m, sd, n = g[o].mean(), g[o].std(ddof=1), g[o].count()
                half = np.array([t_quantile(int(k) - 1) if k > 1 else np.nan for k in n]) * sd.to_numpy() / np.sqrt(
                    np.maximum(n.to_numpy(), 1))
                cols[f"{o}"] = m.to_numpy()
                cols[f"{o}:sd"] = sd.to_numpy()
                cols[f"{o}:ci_low"] = m.to_numpy() - half
                cols[f"{o}:ci_high"] = m.to_numpy() + half
            buf.append(pa.table(cols))
            if sum(b.num_rows for b in buf) >= 20_000:  # row groups of about 20k points
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        os.replace(tmp, out / "summary.parquet")


# --- the command ------------------------------------------------------------------------------
def cmd_sweep(args) -> int:
    """``sim sweep SWEEP [--workers K] [--scheduler ADDRESS] [--out DIR] [--resume] [--force] [-q]``."""
    from .output import default_out

    sw = load_sweep(args.sweep)
    if args.resume and args.out is None:
        raise ScenarioError("--resume needs --out: the folder of the partial run")
    if args.resume and args.force:
        raise ScenarioError("--resume and --force contradict each other: --force starts again from scratch")
    if args.workers < 1:
        raise ScenarioError(f"--workers must be at least 1 (got {args.workers})")
    out = args.out or default_out(sw.name)
    pts_n = len(sample(sw))
    where = f"dask scheduler {args.scheduler}" if args.scheduler else f"{args.workers} local process(es)"
    if not args.quiet:
        print(f"{sw.name}: {sw.spec.design.method} design, {pts_n} points x {sw.replications} replications, "
              f"{len(sw.params)} parameters, on {where}", file=sys.stderr)
    try:
        man = run_sweep(sw, out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                        force=args.force, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"interrupted: the finished chunks are kept in {out}; continue with "
              f"sim sweep {args.sweep} --out {out} --resume", file=sys.stderr)
        return 130
    skipped = man["points"] - man["computed"]
    note = f" ({skipped} already done, not recomputed)" if args.resume and skipped else ""
    print(f"{man['points']} points x {man['replications']} replications: computed {man['computed']} in "
          f"{man['elapsed_s']:.1f} s{note}")
    print(f"results: {out} (next: sim analyze {out})")
    return 0
