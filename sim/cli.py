"""The ``sim`` command line. Heavy libraries are imported only by the commands that use them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override any scenario field, e.g. --set policies.leaderboard.prize=500 or --set economy.tiers.0.input_price=5 (repeatable)")


def _run_args(p: argparse.ArgumentParser) -> None:
    _scenario_args(p)
    p.add_argument("-r", "--replications", type=int, help="replications (default: the scenario's, 30)")
    p.add_argument("--seed", type=int, help="master seed (default: the scenario's)")
    p.add_argument("--out", type=Path, help="output folder (default: results/<scenario>-<timestamp>)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    p.add_argument("--workers", type=int, default=1, help="processes to run replications on (default 1)")
    p.add_argument("--batch-size", type=int, help="replications stepped together (default: all that fit)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like every other error of ``sim`` (exit code 2)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="sim",
        description="Agent-based simulator of corporate AI-token incentive policies (tokenmaxxing).",
        epilog="Example: sim run scenarios/leaderboard.yaml",
    )
    ap.add_argument("--version", action="store_true", help="print the version and exit")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run one scenario and write a results folder",
                         description="Run every replication of a scenario; print a summary; write results.")
    run.add_argument("scenario", help="a scenario file, or the name of a shipped scenario")
    _run_args(run)
    cmp = sub.add_parser("compare", help="run scenarios on the same workforce and compare them, paired",
                         description="Run every scenario with the same seed (common random numbers); print a "
                                     "side-by-side table and paired differences against the baseline; write a "
                                     "folder with report.html.")
    cmp.add_argument("scenarios", nargs="+", help="two or more scenario files or shipped names")
    cmp.add_argument("--baseline", help="the scenario to compare against (default: the first)")
    _run_args(cmp)
    sub.add_parser("list", help="list the shipped scenarios and the policies")
    show = sub.add_parser("show", help="print a scenario fully resolved (after extends and --set)")
    show.add_argument("scenario")
    _scenario_args(show)
    sw = sub.add_parser("sweep", help="run a parameter sweep (grid, Latin hypercube, Sobol, Morris), resumable",
                        description="Run every point of a sweep file, replications batched per point, writing "
                                    "results to disk in atomic chunks as points finish.")
    sw.add_argument("sweep", help="a sweep file (sweeps/*.yaml)")
    sw.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="run on a dask.distributed cluster, e.g. tcp://127.0.0.1:8786, instead of local processes")
    sw.add_argument("--out", type=Path, help="output folder (default: results/<sweep>-<timestamp>)")
    sw.add_argument("--resume", action="store_true",
                    help="continue an interrupted sweep in --out: finished points are not recomputed")
    sw.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    an = sub.add_parser("analyze", help="sensitivity indices, response plots and regime maps of a sweep's results",
                        description="Compute Sobol or Morris indices with confidence intervals per outcome, one- "
                                    "and two-parameter response plots and a regime map from a sweep folder.")
    an.add_argument("results", type=Path, help="a sweep results folder written by `sim sweep`")
    an.add_argument("--outcomes", nargs="+", help="outcomes to analyse (default: all the sweep kept)")
    an.add_argument("--regime", nargs=2, metavar=("X", "Y"),
                    help="the two parameters of the regime map (default: status-seeking x leaderboard prize "
                         "when both were swept, else the first two)")
    an.add_argument("--no-plots", action="store_true", help="print and write the indices only")
    viz = sub.add_parser("viz", help="open the interactive Goodhart's-law app in the browser (needs sim[viz])",
                         description="Serve the interactive app (Mesa SolaraViz) on 127.0.0.1.")
    viz.add_argument("scenario", nargs="?", default="leaderboard",
                     help="the scenario to start from (default: leaderboard)")
    viz.add_argument("--port", type=int, default=8765, help="port to serve on (default 8765; 0 picks a free one)")
    viz.add_argument("--host", default="127.0.0.1", help="interface to serve on (default 127.0.0.1)")
    viz.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    return ap


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def print_summary(summary: dict, title: str, file=sys.stdout) -> None:
    from .metrics import SUMMARY

    rows = [("metric", "unit", "mean", "95% CI", "5-95% band")]
    for k, d in summary.items():
        rows.append((k, SUMMARY[k][0] if k in SUMMARY else d.get("unit", ""), _fmt(d["mean"]), f"[{_fmt(d['ci_low'])}, {_fmt(d['ci_high'])}]",
                     f"[{_fmt(d['p05'])}, {_fmt(d['p95'])}]"))
    _table(rows, title, file)


def check_seed(seed) -> None:
    from .errors import ScenarioError

    if seed is not None and not 0 <= seed < 2**63:
        raise ScenarioError(f"--seed must be between 0 and 2**63 - 1 (got {seed})")


def _preload() -> None:
    """Import now what the results need later (scipy's t quantile for the intervals).

    A Ctrl-C that lands while a module is being imported can be lost: CPython runs the import
    lock's clean-up callback, which ignores exceptions, so the KeyboardInterrupt disappears (and
    the run goes on) or resurfaces at exit (the process then dies of SIGINT instead of exiting
    with 130). Importing before the long computation keeps that window to the start-up."""
    from scipy.special import stdtrit  # noqa: F401


def cmd_run(args) -> int:
    from .loader import load_scenario
    from .output import check_out, default_out, write_run
    from .runner import run_scenario

    from .errors import ScenarioError

    scn = load_scenario(args.scenario, args.overrides)
    check_seed(args.seed)
    for flag in ("replications", "workers", "batch_size"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise ScenarioError(f"--{flag.replace('_', '-')} must be at least 1 (got {v})")
    out = args.out or default_out(scn.name)
    check_out(out, args.force)
    _preload()
    from .plots import Renderer

    with Renderer(0 if args.no_plots else None) as figures:  # its workers warm up while the engine runs
        res = run_scenario(scn, args.seed, args.replications, batch_size=args.batch_size, workers=args.workers,
                           progress=not args.quiet)
        write_run(res, out, plots=not args.no_plots, force=args.force, renderer=figures)
    n = len(res.reps)
    print_summary(res.summary(), f"{scn.name}: {n} replications x {scn.employees} employees x {scn.weeks} weeks, "
                                 f"seed {res.seed}")
    print(f"results: {out}" + ("" if args.no_plots else " (open report.html)"))
    return 0


def cmd_compare(args) -> int:
    from .compare import check_comparable, compare, fmt_diff
    from .errors import ScenarioError
    from .loader import load_scenario
    from .metrics import SUMMARY
    from .output import check_out, default_out, write_compare
    from .report import width

    scns = [load_scenario(name, args.overrides) for name in args.scenarios]
    check_seed(args.seed)
    names = [s.name for s in scns]
    for flag in ("replications", "workers"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise ScenarioError(f"--{flag} must be at least 1 (got {v})")
    base = 0
    if args.baseline is not None:
        if args.baseline not in names:
            raise ScenarioError(f"--baseline '{args.baseline}' is not among the scenarios", allowed=names,
                                got=args.baseline)
        base = names.index(args.baseline)
    notes = check_comparable(scns)
    for n in notes:
        print(n, file=sys.stderr)
    out = args.out or default_out("compare-" + "-".join(names))
    check_out(out, args.force)
    _preload()
    from .plots import Renderer

    with Renderer(0 if args.no_plots else None) as figures:  # its workers warm up while the engine runs
        comp = compare(scns, args.seed, args.replications, base, workers=args.workers, progress=not args.quiet)
        write_compare(comp, out, plots=not args.no_plots, force=args.force, notes=notes, renderer=figures)
    sums = {r.scenario.name: r.summary() for r in comp.results}
    rows = [("metric", "unit", *names)]
    for k in SUMMARY:
        rows.append((k, SUMMARY[k][0], *(f"{_fmt(sums[n][k]['mean'])} [{_fmt(sums[n][k]['ci_low'])}, "
                                         f"{_fmt(sums[n][k]['ci_high'])}]" for n in names)))
    r0 = comp.results[0]
    _table(rows, f"{len(r0.reps)} paired replications x {r0.scenario.employees} employees x {r0.scenario.weeks} "
                 f"weeks, seed {r0.seed}: mean [95% CI]")
    for name, diffs in comp.differences().items():
        rows = [("metric", f"{name} - {names[base]}", "paired width", "unpaired width", "gain")]
        for k, d in diffs.items():
            rows.append((k, fmt_diff(d), width(d, d.paired_width), width(d, d.unpaired_width),
                         "n/a" if d.gain is None else f"{d.gain:.1f}x"))
        print()
        _table(rows, f"paired differences: {name} vs {names[base]}")
        print()
        for line in comp.verdicts()[name]:
            print(f"  - {line}")
    print(f"\nresults: {out} (open report.html)")
    return 0


def _table(rows, title: str, file=sys.stdout) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    print(title, file=file)
    for j, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))),
              file=file)
        if j == 0:
            print("  ".join("-" * w for w in widths), file=file)


def cmd_list(args) -> int:
    import yaml

    from .loader import SHIPPED
    from .policies import REGISTRY

    print("Scenarios (scenarios/):")
    for path in sorted(SHIPPED.glob("*.yaml")):
        desc = (yaml.safe_load(path.read_text()) or {}).get("description", "")
        print(f"  {path.stem:16s} {desc}")
    print("Policies:")
    for name, cls in REGISTRY.items():
        print(f"  {name:16s} {cls.summary}")
    return 0


def cmd_show(args) -> int:
    import yaml

    from .loader import load_scenario

    scn = load_scenario(args.scenario, args.overrides)
    print(yaml.safe_dump(scn.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def cmd_sweep(args) -> int:
    from .sweep import cmd_sweep as run

    return run(args)


def cmd_analyze(args) -> int:
    from .analyze import cmd_analyze as run

    return run(args)


def cmd_viz(args) -> int:
    from .viz import serve

    return serve(args.scenario, port=args.port, host=args.host, open_browser=not args.no_browser)


def main(argv: list[str] | None = None) -> int:
    import signal

    # Ctrl-C must stop a run even when the shell started us with SIGINT ignored (a background
    # job in a non-interactive shell): restore Python's KeyboardInterrupt handler
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parser().parse_args(argv)
    if args.version:
        from . import __version__

        print(f"sim {__version__}")
        return 0
    if not args.command:
        parser().print_help()
        return 0
    from .errors import ScenarioError

    try:
        return {"run": cmd_run, "compare": cmd_compare, "list": cmd_list, "show": cmd_show,
                "sweep": cmd_sweep, "analyze": cmd_analyze, "viz": cmd_viz}[args.command](args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: stopped before finishing; no results folder was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
