"""Sweep files: parameters, designs and outcomes, validated before any work starts.

A sweep file (``sweeps/*.yaml``, format in ``docs/sweeps.md``) names a base scenario, the
parameters to vary, split EMA-Workbench style into *uncertainties* (workforce and market) and
*levers* (policy knobs), a design (``grid``, ``latin_hypercube``, ``sobol``, ``morris``), the
replications per point and the outcomes to keep. Sampling and analysis are SALib's.

Every mistake becomes one :class:`~sim.errors.ScenarioError` naming the sweep file, its line
and the valid choices, reusing the scenario loader's YAML-with-line-numbers machinery.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from .errors import ScenarioError
from .loader import _where_fn, check_policies, load_raw, read_yaml, resolve_path, set_key, validation_error
from .params import Strict

SHIPPED_SWEEPS = Path(__file__).resolve().parent.parent / "sweeps"
METHODS = ("grid", "latin_hypercube", "sobol", "morris")
#: test functions with known sensitivity indices, evaluated through the same machinery
TEST_MODELS = {"ishigami": {"x1", "x2", "x3", "a", "b"}}
ISHIGAMI_DEFAULTS = {"a": 7.0, "b": 0.1}


class ParamSpec(Strict):
    """One swept parameter: bounds with a distribution, or a list of levels."""

    bounds: tuple[float, float] | None = Field(None, description="[low, high]: the range sampled")
    levels: tuple[Any, ...] | None = Field(None, min_length=1, max_length=10_000,
                                           description="the discrete values taken (numbers, words, true/false)")
    dist: Literal["uniform", "loguniform", "triangular", "normal", "lognormal"] = "uniform"
    peak: float | None = Field(None, allow_inf_nan=False, description="triangular: the mode, within bounds")
    mean: float | None = Field(None, allow_inf_nan=False, description="normal: the mean")
    sd: float | None = Field(None, gt=0, allow_inf_nan=False, description="normal: the standard deviation")
    median: float | None = Field(None, gt=0, allow_inf_nan=False, description="lognormal: the median")
    sigma: float | None = Field(None, gt=0, allow_inf_nan=False, description="lognormal: the sd of the log")
    steps: int | None = Field(None, ge=2, le=10_000, description="grid: evenly spaced values between bounds")

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.levels is not None:
            if self.bounds is not None or self.steps is not None or self.dist != "uniform":
                raise ValueError("give either 'levels' or 'bounds' (with a distribution), not both")
            if len({json.dumps(v) for v in self.levels}) != len(self.levels):
                raise ValueError("levels must be distinct")
            if any(isinstance(v, (dict, list)) for v in self.levels):
                raise ValueError("levels must be plain values (numbers, words, true/false)")
            return self
        if self.bounds is not None:
            lo, hi = self.bounds
            if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
                raise ValueError(f"bounds must be two finite numbers, low < high (got [{lo}, {hi}])")
        need = {"uniform": ("bounds",), "loguniform": ("bounds",), "triangular": ("bounds", "peak"),
                "normal": ("mean", "sd"), "lognormal": ("median", "sigma")}[self.dist]
        for key in need:
            if getattr(self, key) is None:
                raise ValueError(f"a {self.dist} parameter needs '{key}'" +
                                 (" (or give 'levels')" if key == "bounds" else ""))
        extra = {"peak", "mean", "sd", "median", "sigma"} - set(need)
        for key in sorted(extra):
            if getattr(self, key) is not None:
                raise ValueError(f"'{key}' does not apply to a {self.dist} parameter")
        if self.dist == "loguniform" and self.bounds[0] <= 0:
            raise ValueError("a loguniform parameter needs bounds above 0")
        if self.dist == "triangular" and not self.bounds[0] <= self.peak <= self.bounds[1]:
            raise ValueError(f"peak {self.peak} must lie within bounds {list(self.bounds)}")
        if self.dist == "lognormal" and self.bounds is not None:
            raise ValueError("a lognormal parameter takes median and sigma, not bounds")
        return self

    def salib(self) -> tuple[list[float], str]:
        """(bounds, dist) of this parameter in a SALib problem; levels map [0, n) to an index."""
        if self.levels is not None:
            return [0.0, float(len(self.levels))], "unif"
        if self.dist == "uniform":
            return list(self.bounds), "unif"
        if self.dist == "loguniform":
            return list(self.bounds), "logunif"
        if self.dist == "triangular":
            lo, hi = self.bounds
            return [lo, hi, min((self.peak - lo) / (hi - lo), 1 - 1e-12)], "triang"
        if self.dist == "normal":
            if self.bounds is not None:
                return [*self.bounds, self.mean, self.sd], "truncnorm"
            return [self.mean, self.sd], "norm"
        return [math.log(self.median), self.sigma], "lognorm"


class Design(Strict):
    """How points are chosen (SALib samplers; grid is a full factorial)."""

    method: Literal["grid", "latin_hypercube", "sobol", "morris"]
    samples: int | None = Field(None, ge=1, le=10_000_000, description=(
        "latin_hypercube: points; sobol: base samples N (points = N(D+2), or N(2D+2) with second_order); "
        "morris: trajectories (points = N(D+1))"))
    levels: int = Field(4, ge=2, le=1000, description="morris: levels of the grid each parameter moves on")
    second_order: bool = Field(False, description="sobol: also estimate second-order indices")
    steps: int = Field(3, ge=2, le=10_000, description="grid: values per bounds-parameter without its own steps")
    seed: int = Field(1, ge=0, le=2**32 - 1, description="seed of the sampler (not of the model)")

    @model_validator(mode="after")
    def _samples(self) -> Design:
        if self.method != "grid" and self.samples is None:
            raise ValueError(f"design '{self.method}' needs 'samples'")
        if self.method == "grid" and self.samples is not None:
            raise ValueError("a grid takes no 'samples': its points are every combination of levels")
        if self.method == "sobol" and self.samples & (self.samples - 1):
            lo = 1 << (self.samples.bit_length() - 1)
            raise ValueError(f"sobol needs samples to be a power of 2 (Saltelli's scheme); try {lo} or {2 * lo}")
        return self


class SweepFile(Strict):
    """The top level of a sweep file (parameters are validated one by one, see ParamSpec)."""

    name: str = Field("sweep", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}$",
                      description="letters, digits and _ . + - (it names the results folder)")
    description: str = ""
    model: Literal["sim", "ishigami"] = Field("sim", description="sim, or a test function with known indices")
    scenario: str | None = Field(None, description="the base scenario: a file or a shipped name")
    constants: dict[str, Any] = Field(default_factory=dict, description="key.path: value, fixed for every point")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="model seed of every point (default: the scenario's)")
    replications: int | None = Field(None, ge=1, le=100_000, description="replications per point")
    design: Design
    uncertainties: dict[str, Any] = Field(default_factory=dict)
    levers: dict[str, Any] = Field(default_factory=dict)
    outcomes: tuple[str, ...] | None = Field(None, min_length=1, description="run metrics kept (default: all)")
    chunk: int | None = Field(None, ge=1, le=100_000, description="points per results file (default: about P/100)")

    @model_validator(mode="after")
    def _scenario(self) -> SweepFile:
        if self.model == "sim" and self.scenario is None:
            raise ValueError("a sweep of the model needs a base 'scenario'")
        if self.model != "sim" and self.scenario is not None:
            raise ValueError(f"the test function '{self.model}' takes no scenario")
        return self


@dataclass
class Param:
    """A validated parameter: its dotted path, group and spec, and how values are made exact."""

    name: str
    group: str  # "uncertainty" or "lever"
    spec: ParamSpec
    kind: str = "float"  # float, int, bool or str: the type of the field it sets
    line: int | None = None


@dataclass
class Sweep:
    """A loaded, validated sweep: everything needed to sample and run it."""

    path: Path
    spec: SweepFile
    params: list[Param]
    outcomes: list[str]
    base: dict  # the base scenario's merged raw data, constants applied (empty for test models)
    seed: int
    replications: int
    where: Any = field(repr=False, default=None)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def model(self) -> str:
        return self.spec.model

    def problem(self) -> dict:
        """The SALib problem: plain data."""
        bounds, dists = zip(*(p.spec.salib() for p in self.params))
        return {"num_vars": len(self.params), "names": [p.name for p in self.params],
                "bounds": [list(b) for b in bounds], "dists": list(dists)}

    def fingerprint(self) -> dict:
        """What a resumed run must share with the partial one (compared key by key)."""
        return {"sweep": self.spec.model_dump(mode="json"), "base_scenario": self.base,
                "seed": self.seed, "replications": self.replications, "outcomes": self.outcomes}


def resolve_sweep_path(name: str | Path) -> Path:
    """A sweep file as given, or a shipped one by name."""
    name = str(name)
    stem = name if name.endswith((".yaml", ".yml")) else name + ".yaml"
    for c in (Path(name), Path("sweeps") / stem, SHIPPED_SWEEPS / stem, SHIPPED_SWEEPS / Path(stem).name):
        try:
            if c.is_file():
                return c
        except (OSError, ValueError):
            continue
    shipped = sorted(p.stem for p in SHIPPED_SWEEPS.glob("*.yaml"))
    raise ScenarioError(f"sweep file not found: '{name}'", allowed=shipped, got=Path(name).stem)


def outcome_names(base: dict | None = None) -> list[str]:
    """Every run metric a sweep of ``base`` can keep: SUMMARY metrics, whole-run totals, and any
    the scenario adds (per-tier figures, for one). Found by a one-week run of a few employees."""
    from .metrics import WEEKLY
    from .runner import run_metrics, run_scenario

    names = list(run_metrics({k: np.zeros((1, 1)) for k in WEEKLY}, 1))
    if base is not None:
        try:
            tiny = {**copy.deepcopy(base), "employees": min(int(base.get("employees", 1000)), 20), "weeks": 1,
                    "replications": 1, "schedule": []}
            names += [k for k in run_scenario(scenario_at(tiny, [], []), 1).runs if k not in names]
        except Exception:  # noqa: BLE001 - a scenario that cannot run this small keeps the standard list
            pass
    return names


def _tree(data: dict) -> dict:
    """The base scenario with every default filled in (policies with their full parameters)."""
    from .config import Scenario
    from .policies import build

    scn = Scenario.model_validate(data)
    tree = scn.model_dump(mode="json")
    tree["policies"] = {pid: build(pid, raw).p.model_dump(mode="json") for pid, raw in scn.policies.items()}
    return tree


def _field(tree: dict, name: str, f: str, line: int | None, prefix: str = "") -> Any:
    """The current value at a dotted path of the base scenario, or a did-you-mean error."""
    node: Any = tree
    parts = name.split(".")
    for i, part in enumerate(parts):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):  # economy.tiers.0.price
            node = node[int(part)]
            continue
        if not isinstance(node, dict) or part not in node:
            here = ".".join(parts[:i]) or "the scenario"
            if not isinstance(node, dict):
                raise ScenarioError(f"'{here}' is a value, not a block of parameters", file=f, line=line,
                                    path=prefix + name)
            what = "policy" if parts[:i] == ["policies"] else "key"
            raise ScenarioError(f"unknown {what} '{part}' in {here}", file=f, line=line, path=prefix + name,
                                allowed=[str(k) for k in node], got=part)
        node = node[part]
    if isinstance(node, (dict, list)):
        raise ScenarioError(f"'{name}' is a block, not a single parameter; name one of its fields.", file=f,
                            line=line, path=prefix + name, allowed=[str(k) for k in node] if isinstance(node, dict) else None)
    return node


def set_path(data: dict, name: str, value: Any) -> None:
    """Set a dotted path in a scenario's raw data (creating blocks as ``--set`` does)."""
    set_key(data, name.split("."), value, name)


def scenario_at(base: dict, names: list[str], values) -> Any:
    """The validated scenario of one point: the base with each parameter set."""
    from .config import Scenario

    data = copy.deepcopy(base)
    for n, v in zip(names, values):
        set_path(data, n, v)
    scn = Scenario.model_validate(data)
    check_policies(scn)
    return scn


def load_sweep(name: str | Path) -> Sweep:
    """Read and validate a sweep file and its base scenario. Raises ScenarioError on any problem."""
    path = resolve_sweep_path(name)
    f = str(path)
    data, lines = read_yaml(path)
    if data is None:
        raise ScenarioError("the sweep file is empty", file=f)
    if not isinstance(data, dict):
        raise ScenarioError(f"a sweep must be a mapping of keys, not a {type(data).__name__}", file=f)
    where = _where_fn({k: (f, v) for k, v in lines.items()}, f)
    data.setdefault("name", path.stem if path.stem[:1].isalnum() else "sweep")
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, SweepFile, (), where, data) from None

    # parameters: each validated on its own, so errors point at its line
    params: list[Param] = []
    for group, key in (("uncertainty", "uncertainties"), ("lever", "levers")):
        for pname, raw in getattr(spec, key).items():
            line = lines.get((key, pname))
            if not isinstance(pname, str) or not pname:
                raise ScenarioError("a parameter must be named by its key path", file=f, line=line, path=key)
            if pname in {p.name for p in params}:
                raise ScenarioError(f"parameter '{pname}' is listed twice (as an uncertainty and a lever)",
                                    file=f, line=line, path=f"{key}.{pname}")
            if not isinstance(raw, dict):
                raise ScenarioError("a parameter takes a mapping: {bounds: [low, high]} or {levels: [...]}",
                                    file=f, line=line, path=f"{key}.{pname}")
            try:
                ps = ParamSpec.model_validate(raw)
            except ValidationError as exc:
                raise validation_error(exc, ParamSpec, (key, pname), where, raw) from None
            params.append(Param(pname, group, ps, line=line))
    if not params:
        raise ScenarioError("a sweep needs at least one parameter under 'uncertainties' or 'levers'", file=f)
    method = spec.design.method
    for p in params:
        at = (f"uncertainties.{p.name}" if p.group == "uncertainty" else f"levers.{p.name}")
        if p.spec.steps is not None and method != "grid":
            raise ScenarioError(f"'steps' applies to a grid design, not {method}", file=f, line=p.line, path=at)
        if method in ("grid", "morris") and p.spec.levels is None and p.spec.dist != "uniform":
            raise ScenarioError(f"a {method} design takes uniform bounds or levels, not a {p.spec.dist} "
                                "distribution", file=f, line=p.line, path=at)
    if method in ("sobol", "morris") and len(params) < 2:
        raise ScenarioError(f"a {method} design needs at least two parameters", file=f, line=lines.get(("design",)))

    # the model: a test function or the base scenario
    if spec.model != "sim":
        allowed = TEST_MODELS[spec.model]
        for p in params:
            if p.name not in allowed:
                raise ScenarioError(f"unknown parameter '{p.name}' of the {spec.model} function", file=f,
                                    line=p.line, path=p.name, allowed=allowed, got=p.name)
        for k in spec.constants:
            if k not in allowed:
                raise ScenarioError(f"unknown constant '{k}' of the {spec.model} function", file=f,
                                    line=lines.get(("constants", k)), path=f"constants.{k}", allowed=allowed, got=k)
        outs = ["y"]
        if spec.outcomes is not None and list(spec.outcomes) != outs:
            raise ScenarioError(f"the {spec.model} function has one outcome, 'y'", file=f,
                                line=lines.get(("outcomes",)), path="outcomes", allowed=outs)
        missing = {"x1", "x2", "x3"} - {p.name for p in params} - set(spec.constants)
        if missing:
            raise ScenarioError(f"the {spec.model} function needs x1, x2 and x3 (missing: {', '.join(sorted(missing))})",
                                file=f)
        base = {**ISHIGAMI_DEFAULTS, **{k: float(v) for k, v in spec.constants.items()}}
        sw = Sweep(path, spec, params, outs, base, spec.seed or 0, spec.replications or 1, where)
        for p in params:
            p.kind = "float"
        _check_levels(sw, f)
        return sw

    try:
        scn_path = resolve_path(spec.scenario, base=path.parent)
    except ScenarioError as exc:
        raise ScenarioError(exc.message, file=f, line=lines.get(("scenario",)), path="scenario",
                            allowed=exc.allowed, got=exc.got) from None
    base, _origin = load_raw(scn_path)
    base.setdefault("name", scn_path.stem)
    try:
        tree0 = _tree(base)
    except (ValidationError, ScenarioError) as exc:
        raise ScenarioError(f"the base scenario is invalid; check it with `sim show {spec.scenario}`",
                            file=f, line=lines.get(("scenario",)), path="scenario") from None
    for k, v in spec.constants.items():
        line = lines.get(("constants", k))
        _field(tree0, k, f, line, "constants.")
        set_path(base, k, v)
    base["name"] = spec.name
    try:
        tree = _tree(base)
    except ValidationError as exc:
        from .config import Scenario

        err = validation_error(exc, Scenario, (), None, base)
        key = next((k for k in spec.constants if err.path and err.path.startswith(k)), None)
        raise ScenarioError(err.message, file=f, line=lines.get(("constants", key)) if key else None,
                            path=err.path, allowed=err.allowed, got=err.got) from None
    except ScenarioError as exc:
        raise ScenarioError(exc.message, file=f, line=lines.get(("constants",)), path=exc.path,
                            allowed=exc.allowed, got=exc.got) from None
    for p in params:
        cur = _field(tree, p.name, f, p.line, "uncertainties." if p.group == "uncertainty" else "levers.")
        p.kind = ("bool" if isinstance(cur, bool) else "int" if isinstance(cur, int)
                  else "str" if isinstance(cur, str) else "float")
        if p.kind in ("bool", "str") and p.spec.levels is None:
            at = ("uncertainties." if p.group == "uncertainty" else "levers.") + p.name
            raise ScenarioError(f"'{p.name}' is a {'true/false' if p.kind == 'bool' else 'word'} setting: "
                                f"give its 'levels', not bounds", file=f, line=p.line, path=at)
    outs = outcome_names(base)
    if spec.outcomes is not None:
        for i, o in enumerate(spec.outcomes):
            if o not in outs:
                raise ScenarioError(f"unknown outcome '{o}'", file=f, line=lines.get(("outcomes", i)),
                                    path="outcomes", allowed=outs, got=o)
        outs = list(dict.fromkeys(spec.outcomes))
    seed = spec.seed if spec.seed is not None else int(tree["seed"])
    reps = spec.replications if spec.replications is not None else int(tree["replications"])
    base["replications"] = reps
    base["seed"] = seed
    sw = Sweep(path, spec, params, outs, base, seed, reps, where)
    _check_levels(sw, f)
    return sw


def _check_levels(sw: Sweep, f: str) -> None:
    """Each parameter's extreme values and levels, one at a time on the base: names the culprit's line."""
    for p in sw.params:
        s = p.spec
        if s.levels is not None:
            values = list(s.levels)
        elif s.bounds is not None:
            values = list(s.bounds)
        else:  # an unbounded normal or lognormal: its 0.1% and 99.9% quantiles
            b, d = s.salib()
            from SALib.util import scale_samples

            q = scale_samples(np.array([[0.001], [0.999]]), {"num_vars": 1, "bounds": [b], "dists": [d]})
            values = list(q[:, 0])
        at = ("uncertainties." if p.group == "uncertainty" else "levers.") + p.name
        what = "level" if s.levels is not None else "bound" if s.bounds is not None else "0.1-99.9% quantile"
        for v in values:
            v = exact(p, v)
            if sw.model != "sim":
                continue
            try:
                scenario_at(sw.base, [p.name], [v])
            except ValidationError as exc:
                from .config import Scenario

                err = validation_error(exc, Scenario, (), None, None)
                raise ScenarioError(f"{what} {v!r} is not allowed: {err.message}", file=f, line=p.line, path=at,
                                    allowed=err.allowed, got=err.got) from None
            except ScenarioError as exc:
                raise ScenarioError(f"{what} {v!r} is not allowed: {exc.message}", file=f, line=p.line, path=at,
                                    allowed=exc.allowed, got=exc.got) from None


def exact(p: Param, v: Any) -> Any:
    """A sampled number made into the field's type (ints rounded); levels pass through."""
    if p.spec.levels is not None:
        return v
    if p.kind == "int":
        return int(round(float(v)))
    return float(v)


@dataclass
class Points:
    """The design: the raw sample (SALib's matrix, what analysis needs) and the values run."""

    raw: np.ndarray  # (P, D) floats
    values: list[list[Any]]  # per parameter, the exact value of each point

    def __len__(self) -> int:
        return self.raw.shape[0]

    def digest(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.raw).tobytes())
        h.update(json.dumps(self.values, default=str).encode())
        return h.hexdigest()[:16]


def sample(sw: Sweep) -> Points:
    """Draw the design's points with SALib (grid: every combination of levels)."""
    d = sw.spec.design
    problem = sw.problem()
    if d.method == "grid":
        axes = []
        for p in sw.params:
            if p.spec.levels is not None:
                axes.append(np.arange(len(p.spec.levels)) + 0.5)  # centre of each level's slot
            else:
                axes.append(np.linspace(*p.spec.bounds, p.spec.steps or d.steps))
        raw = np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(-1, len(sw.params))
    elif d.method == "latin_hypercube":
        from SALib.sample import latin

        raw = latin.sample(problem, d.samples, seed=d.seed)
    elif d.method == "sobol":
        from SALib.sample import sobol

        raw = sobol.sample(problem, d.samples, calc_second_order=d.second_order, seed=d.seed)
    else:
        from SALib.sample import morris

        raw = morris.sample(problem, d.samples, num_levels=d.levels, seed=d.seed)
    raw = np.asarray(raw, dtype=np.float64)
    values = []
    for j, p in enumerate(sw.params):
        col = raw[:, j]
        if p.spec.levels is not None:
            idx = np.clip(np.floor(col).astype(np.int64), 0, len(p.spec.levels) - 1)
            values.append([p.spec.levels[i] for i in idx])
        else:
            values.append([exact(p, v) for v in col])
    return Points(raw, values)


def check_points(sw: Sweep, pts: Points, progress: bool = False) -> None:
    """Validate every point's scenario before any work starts; a failure names the point and values."""
    if sw.model != "sim":
        return
    from .config import Scenario

    names = [p.name for p in sw.params]
    seen: set[str] = set()
    for i in range(len(pts)):
        vals = [col[i] for col in pts.values]
        key = json.dumps(vals, default=str)
        if key in seen:  # grids and Morris revisit values: validate each combination once
            continue
        seen.add(key)
        try:
            scenario_at(sw.base, names, vals)
        except (ValidationError, ScenarioError) as exc:
            err = validation_error(exc, Scenario, (), None, None) if isinstance(exc, ValidationError) else exc
            desc = ", ".join(f"{n}={v!r}" for n, v in zip(names, vals))
            raise ScenarioError(f"point {i} ({desc}) is not a valid scenario: "
                                f"{(err.path + ': ') if err.path else ''}{err.message}", file=str(sw.path)) from None
