"""The educators' app: a live Goodhart's-law demo in the browser (``sim viz``).

Two halves, so the notebooks and tests can use the model and figures without a browser:

- :class:`TeachingEconomy`, a :class:`~sim.model.TokenEconomy` whose constructor takes the app's
  knobs (leaderboard prize and visibility, budget size and use-it-or-lose-it, audit interval and
  noise, token price, workforce status-seeking and gaming aversion, model tiers, the policy in
  force at week 0). Each knob becomes a ``--set`` override of a real scenario field, so the app
  runs the same model as ``sim run``; the figure functions (:func:`cost_value_figure`,
  :func:`gaming_figure`, :func:`goodhart_figure`, :func:`network_figure`, :func:`tiers_figure`,
  :func:`leaderboard_table`) draw any ``TokenEconomy``.
- :func:`serve`, which serves the Mesa SolaraViz page of :mod:`sim.viz_app` (needs the ``viz``
  extra: solara) on a loopback port until Ctrl-C.

Example:
    >>> from sim.viz import TeachingEconomy
    >>> m = TeachingEconomy("leaderboard", employees=100, prize=600, rng=1)
    >>> m.config.policies["leaderboard"]["prize"]
    600.0
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Scenario
from .errors import ScenarioError
from .loader import load_scenario
from .model import TokenEconomy
from .plots import PALETTE

#: Policies the app always carries (switched off when the scenario lacks them), so every knob
#: has a field to set and "switch policy now" can bring any of them in.
SWITCHABLE = ("leaderboard", "budget", "roi_gate", "output_bonus")

#: The "policy at week 0" choices: label -> policy types switched on (None: as the scenario says).
POLICY_CHOICES: dict[str, tuple[str, ...] | None] = {
    "as in scenario": None,
    "none (laissez-faire)": (),
    "leaderboard": ("leaderboard",),
    "budget": ("budget",),
    "leaderboard + ROI gate": ("leaderboard", "roi_gate"),
    "ROI gate": ("roi_gate",),
    "output bonus": ("output_bonus",),
}
STRATEGY_COLOURS = {"honest": PALETTE[0], "maxxer": PALETTE[3]}
DEFAULT_EMPLOYEES = 300  # stepping and redrawing stay well under a second at this size


@dataclass(frozen=True)
class Knob:
    """One slider or toggle of the app, tied to one scenario field."""

    name: str
    label: str
    field: str  # the scenario field it sets, as a --set path (documentation and the info panel)
    kind: str  # "float", "int" or "bool"
    min: float = 0.0
    max: float = 1.0
    step: float = 1.0


KNOBS: tuple[Knob, ...] = (
    Knob("prize", "Leaderboard prize $/wk", "policies.leaderboard.prize", "float", 0, 1500, 50),
    Knob("visibility", "Board share (visibility)", "policies.leaderboard.top_share",
         "float", 0.01, 0.5, 0.01),
    Knob("budget", "Budget $/period", "policies.budget.allocation", "float", 100, 4000, 100),
    Knob("use_it_or_lose_it", "Budget: use it or lose it", "policies.budget.use_it_or_lose_it", "bool"),
    Knob("audit_every", "Audit every (weeks)", "policies.roi_gate.audit_every", "int", 1, 13, 1),
    Knob("audit_noise", "Audit noise (log sd)", "policies.roi_gate.noise", "float", 0, 1.5, 0.05),
    Knob("price", "Token price $/Mtok", "economy.price", "float", 0.5, 15, 0.5),
    Knob("status_seeking", "Status-seeking (mean)", "workforce.status_seeking", "float",
         0.02, 0.9, 0.02),
    Knob("gaming_aversion", "Gaming aversion $/Mtok", "workforce.gaming_aversion", "float",
         0.1, 10, 0.1),
    # on: the standard frontier / mid / small tiers at list prices (the token price knob is then unused)
    Knob("tiers", "Model tiers (frontier / mid / small)", "economy.tiers", "bool"),
)
KNOB_NAMES = tuple(k.name for k in KNOBS)


def _policy_ids(scn: Scenario) -> dict[str, str]:
    """Policy type -> the first id of that type in the scenario."""
    out: dict[str, str] = {}
    for pid, raw in scn.policies.items():
        out.setdefault(raw.get("type") or pid, pid)
    return out


def _policy_param(scn: Scenario, ptype: str, field: str):
    from .policies import build

    pid = _policy_ids(scn).get(ptype)
    if pid is not None:
        return getattr(build(pid, scn.policies[pid]).p, field)
    from .policies import REGISTRY

    return REGISTRY[ptype].Params.model_fields[field].default


def knob_values(scn: Scenario) -> dict[str, float | int | bool]:
    """The scenario's value of every knob (the sliders' starting positions)."""
    wf = scn.workforce
    ss, ga = wf.status_seeking, wf.gaming_aversion
    ss_mean = {"beta": lambda d: d.a / (d.a + d.b), "uniform": lambda d: (d.low + d.high) / 2,
               "constant": lambda d: d.value}[ss.dist](ss)
    ga_median = {"lognormal": lambda d: d.median, "uniform": lambda d: (d.low + d.high) / 2,
                 "constant": lambda d: d.value, "beta": lambda d: d.a / (d.a + d.b)}[ga.dist](ga)
    return {
        "prize": _policy_param(scn, "leaderboard", "prize"),
        "visibility": _policy_param(scn, "leaderboard", "top_share"),
        "budget": _policy_param(scn, "budget", "allocation"),
        "use_it_or_lose_it": _policy_param(scn, "budget", "use_it_or_lose_it"),
        "audit_every": _policy_param(scn, "roi_gate", "audit_every"),
        "audit_noise": _policy_param(scn, "roi_gate", "noise"),
        "price": scn.economy.price,
        "status_seeking": float(ss_mean),
        "gaming_aversion": float(ga_median),
        "tiers": bool(scn.economy.tiers),
    }


def knob_overrides(scn: Scenario, policy: str = "as in scenario", **knobs) -> list[str]:
    """``--set`` strings that give ``scn`` the app's knob settings.

    Policies of :data:`SWITCHABLE` types the scenario lacks are added switched off; a knob left
    at None (or at the scenario's value) is not overridden, so the default app runs exactly the
    scenario. Raises ScenarioError for an unknown knob or policy choice.
    """
    unknown = set(knobs) - set(KNOB_NAMES)
    if unknown:
        bad = sorted(unknown)[0]
        raise ScenarioError(f"unknown app knob '{bad}'", allowed=KNOB_NAMES, got=bad)
    if policy not in POLICY_CHOICES:
        raise ScenarioError(f"unknown policy choice '{policy}'", allowed=POLICY_CHOICES, got=policy)
    ids = _policy_ids(scn)
    out = [f"policies.{ptype}={{active: false}}" for ptype in SWITCHABLE if ptype not in ids]
    ids.update({ptype: ptype for ptype in SWITCHABLE if ptype not in ids})
    stack = POLICY_CHOICES[policy]
    if stack is not None:
        for pid, raw in scn.policies.items():
            if (raw.get("type") or pid) != "none":
                out.append(f"policies.{pid}.active={str((raw.get('type') or pid) in stack).lower()}")
        out += [f"policies.{ptype}.active=true" for ptype in stack if ptype not in _policy_ids(scn)]
    current = knob_values(scn)
    wf = scn.workforce
    for knob in KNOBS:
        value = knobs.get(knob.name)
        if value is None or value == current[knob.name] or (
                knob.kind == "float" and math.isclose(float(value), float(current[knob.name]), rel_tol=1e-12)):
            continue
        if knob.name == "status_seeking":
            ss = wf.status_seeking
            conc = ss.a + ss.b if ss.dist == "beta" else 7.0  # keep the spread, move the mean
            mean = min(max(float(value), 1e-3), 1 - 1e-3)
            out.append(f"workforce.status_seeking={{dist: beta, a: {mean * conc!r}, b: {(1 - mean) * conc!r}}}")
        elif knob.name == "tiers":  # the standard tiers, or one model at the economy's price
            out.append("economy.tiers=standard" if value else "economy.tiers=[]")
        elif knob.name == "gaming_aversion":
            ga = wf.gaming_aversion
            sigma = ga.sigma if ga.dist == "lognormal" else 0.8
            out.append(f"workforce.gaming_aversion={{dist: lognormal, median: {float(value)!r}, sigma: {sigma!r}}}")
        else:
            ptype, _, field = knob.field.partition(".")[2].partition(".") if knob.field.startswith("policies.") \
                else ("", "", "")
            path = f"policies.{ids[ptype]}.{field}" if ptype else knob.field
            text = str(bool(value)).lower() if knob.kind == "bool" else repr(int(value) if knob.kind == "int"
                                                                             else float(value))
            out.append(f"{path}={text}")
    return out


class TeachingEconomy(TokenEconomy):
    """A :class:`~sim.model.TokenEconomy` built from a scenario plus the app's knobs.

    Args:
        config: A shipped scenario name or a scenario file (named ``config`` as in TokenEconomy;
            Mesa's SolaraViz reserves ``scenario`` for its own Scenario objects).
        policy: Which policies are on at week 0 (a key of :data:`POLICY_CHOICES`).
        employees: Workforce size (the app's default keeps stepping live).
        weeks: Horizon; None keeps the scenario's.
        prize, visibility, budget, use_it_or_lose_it, audit_every, audit_noise, price,
            status_seeking, gaming_aversion, tiers: The knobs of :data:`KNOBS`; None keeps the
            scenario's value. ``tiers=True`` gives the standard frontier / mid / small tiers
            (MODEL.md §4.8), ``False`` one model at ``price``.
        rng: Seed. ``TeachingEconomy(s, rng=k)`` with no knobs moved plays exactly
            ``TokenEconomy(s, rng=k)``.
    """

    def __init__(
        self,
        config: str | Path = "leaderboard",
        *,
        policy: str = "as in scenario",
        employees: int = DEFAULT_EMPLOYEES,
        weeks: int | None = None,
        prize: float | None = None,
        visibility: float | None = None,
        budget: float | None = None,
        use_it_or_lose_it: bool | None = None,
        audit_every: int | None = None,
        audit_noise: float | None = None,
        price: float | None = None,
        status_seeking: float | None = None,
        gaming_aversion: float | None = None,
        tiers: bool | None = None,
        rng: int | None = None,
    ) -> None:
        base = load_scenario(config)
        knobs = dict(prize=prize, visibility=visibility, budget=budget, use_it_or_lose_it=use_it_or_lose_it,
                     audit_every=audit_every, audit_noise=audit_noise, price=price,
                     status_seeking=status_seeking, gaming_aversion=gaming_aversion, tiers=tiers)
        overrides = knob_overrides(base, policy, **knobs)
        super().__init__(config, employees=employees, weeks=weeks, overrides=overrides, rng=rng)
        self.scenario_name = str(config)
        self.overrides = overrides
        self.knobs = knob_values(self.config)
        #: (first week, active policy ids): a new entry whenever the set in force changes
        self.regimes: list[tuple[int, tuple[str, ...]]] = []

    def step(self) -> None:
        active = tuple(self.active_policies)
        if not self.regimes or self.regimes[-1][1] != active:
            self.regimes.append((self.week, active))
        super().step()


# --- what the views show (plain functions of any TokenEconomy) ---------------------------------
def series(model: TokenEconomy, metric: str) -> np.ndarray:
    """The weekly values of ``metric`` for the weeks played so far."""
    return np.asarray(model.engine.history[metric][: model.week, 0], dtype=float)


def latest(model: TokenEconomy, metric: str) -> float:
    """Last week's value of ``metric`` (nan before the first week)."""
    return float(model.engine.history[metric][model.week - 1, 0]) if model.week else float("nan")


def incentive_policies(model: TokenEconomy) -> list[str]:
    """The active policies other than ``none``, for labels."""
    return [pid for pid in model.active_policies if (model.config.policies[pid].get("type") or pid) != "none"]


def regimes(model: TokenEconomy) -> list[tuple[int, tuple[str, ...]]]:
    """When each set of policies was in force: TeachingEconomy records it; else the current set."""
    got = getattr(model, "regimes", None)
    return list(got) if got else [(0, tuple(model.active_policies))]


def _regime_label(pids) -> str:
    shown = [p for p in pids if p != "none"]
    return " + ".join(shown) if shown else "no policy"


def _figure(width: float = 5.6, height: float = 3.3):
    from .plots import _figure as figure  # no pyplot: safe in server threads

    return figure(figsize=(width, height), dpi=90, layout="constrained")


def _mark_regimes(ax, model: TokenEconomy) -> None:
    for i, (week, pids) in enumerate(regimes(model)):
        if i:  # a switch: from `week` on (weeks are plotted 1-based)
            ax.axvline(week + 0.5, color="0.35", linestyle="--", linewidth=1)
        ax.annotate(_regime_label(pids), (week + 0.6, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    color="0.3", va="top", ha="left")


def _weeks_axis(ax, model: TokenEconomy) -> None:
    ax.set_xlim(0.5, max(model.config.weeks, 2) + 0.5)
    ax.set_xlabel("week")
    ax.grid(alpha=0.3)


def _finish_weekly(ax, model: TokenEconomy, ylabel: str, title: str, legend: str, floor: bool = True) -> None:
    """The common finish of a weekly line figure: policy switches, week axis, labels, legend."""
    _mark_regimes(ax, model)
    _weeks_axis(ax, model)
    if floor:
        ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc=legend)


def cost_value_figure(model: TokenEconomy):
    """Token bill and real value per employee-week over the weeks played."""
    fig = _figure()
    ax = fig.add_subplot()
    weeks = np.arange(1, model.week + 1)
    ax.plot(weeks, series(model, "value_per_employee"), color=PALETTE[2], lw=2, label="real value")
    ax.plot(weeks, series(model, "cost_per_employee"), color=PALETTE[3], lw=2, label="token bill")
    ax.plot(weeks, series(model, "net_value_per_employee"), color=PALETTE[0], lw=1.2, ls=":", label="net value")
    _finish_weekly(ax, model, "$ per employee-week", "Cost and real value", "lower right", floor=False)
    return fig


def gaming_figure(model: TokenEconomy):
    """Share of tokens burnt for the metric and share of employees playing maxxer."""
    fig = _figure()
    ax = fig.add_subplot()
    weeks = np.arange(1, model.week + 1)
    ax.plot(weeks, 100 * series(model, "gaming_share"), color=PALETTE[3], lw=2, label="gaming share of tokens")
    ax.plot(weeks, 100 * series(model, "maxxer_share"), color=PALETTE[1], lw=2, label="maxxers among employees")
    _finish_weekly(ax, model, "%", "Gaming and maxxers", "center right")
    return fig


TIER_COLOURS = {"frontier": PALETTE[3], "mid": PALETTE[1], "small": PALETTE[2]}


def tier_shares(model: TokenEconomy) -> dict[str, float]:
    """Each model tier's share of last week's tokens (empty without tiers or before week 1)."""
    names = model.engine.tier_names
    if not names or not model.week:
        return {}
    tokens = {n: latest(model, f"tokens_per_employee[{n}]") for n in names}
    total = sum(tokens.values())
    return {n: (t / total if total > 0 else 0.0) for n, t in tokens.items()}


def tiers_figure(model: TokenEconomy):
    """Tokens per employee-week on each model tier (MODEL.md §4.8); without tiers, how to get them."""
    fig = _figure()
    ax = fig.add_subplot()
    names = model.engine.tier_names
    if not names:
        ax.text(0.5, 0.5, "One model for all work.\nTick 'Model tiers' and press Reset to let\nemployees "
                "route work to frontier, mid and small models.", ha="center", va="center", fontsize=9,
                transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title("Model tiers", fontsize=10)
        return fig
    weeks = np.arange(1, model.week + 1)
    for i, n in enumerate(names):
        ax.plot(weeks, series(model, f"tokens_per_employee[{n}]"), lw=2, label=n,
                color=TIER_COLOURS.get(n, PALETTE[(i + 4) % len(PALETTE)]))
    _finish_weekly(ax, model, "Mtok per employee-week", "Tokens by model tier", "center right")
    return fig


def snapshot(model: TokenEconomy) -> dict[str, np.ndarray]:
    """Last week's per-employee arrays: tokens (the metric), gaming tokens, value, maxxer."""
    e = model.engine
    return {"tokens": np.asarray(e.m[0], float), "gaming": np.asarray(e.y[0], float),
            "value": np.asarray(e.v[0], float), "maxxer": np.asarray(e.maxxer[0], bool)}


def goodhart_figure(model: TokenEconomy):
    """Each employee's metric (tokens) against real value, coloured by strategy, rho in the title."""
    fig = _figure()
    ax = fig.add_subplot()
    s = snapshot(model)
    for name, mask in (("honest", ~s["maxxer"]), ("maxxer", s["maxxer"])):
        ax.scatter(s["tokens"][mask], s["value"][mask], s=9 if name == "honest" else 13, alpha=0.6,
                   color=STRATEGY_COLOURS[name], marker="o" if name == "honest" else "^",
                   label=f"{name} ({int(mask.sum())})")
    rho = latest(model, "goodhart_rho")
    ax.set_title(f"Goodhart: metric vs real value, week {model.week}, Spearman rho = "
                 + ("n/a" if math.isnan(rho) else f"{rho:.2f}"), fontsize=10)
    ax.set_xlabel("metric: tokens last week (Mtok)")
    ax.set_ylabel("real value last week ($)")
    ax.grid(alpha=0.3)
    if model.week:
        ax.legend(fontsize=8, loc="upper left")
    return fig


def leaderboard_table(model: TokenEconomy, top: int = 10):
    """The top ``top`` employees by tokens last week, with their real value beside their tokens."""
    import pandas as pd

    s = snapshot(model)
    order = np.argsort(-s["tokens"], kind="stable")[:top]
    value_rank = np.empty(len(s["value"]), int)
    value_rank[np.argsort(-s["value"], kind="stable")] = np.arange(1, len(s["value"]) + 1)
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "employee": order,
        "strategy": np.where(s["maxxer"][order], "maxxer", "honest"),
        "tokens (Mtok)": s["tokens"][order].round(1),
        "of which gaming": s["gaming"][order].round(1),
        "real value ($)": s["value"][order].round(0),
        "rank by value": value_rank[order],
    })


def _layout(model: TokenEconomy) -> np.ndarray:
    """Team centres on a spiral, members on a small circle around theirs (deterministic)."""
    e = model.engine
    n_teams = len(e.team_start)
    i = np.arange(n_teams)
    golden = math.pi * (3 - math.sqrt(5))
    centres = np.c_[np.sqrt(i + 0.5) * np.cos(i * golden), np.sqrt(i + 0.5) * np.sin(i * golden)]
    pos_in_team = np.arange(model.config.employees) - e.team_start[e.team]
    angle = 2 * math.pi * pos_in_team / np.maximum(e.team_size[e.team], 1)
    return centres[e.team] + 0.32 * np.c_[np.cos(angle), np.sin(angle)]


def network_edges(model: TokenEconomy) -> np.ndarray:
    """Every link of the imitation network once, as (E, 2) employee indices."""
    e = model.engine
    nbr, deg = e.neighbours[0], e.degree
    src = np.repeat(np.arange(len(deg)), deg)
    dst = np.concatenate([nbr[i, : deg[i]] for i in range(len(deg))]) if len(deg) else np.zeros(0, int)
    pairs = np.sort(np.c_[src, dst], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def network_figure(model: TokenEconomy):
    """The team small-world network (who imitates whom), employees coloured by strategy."""
    from matplotlib.collections import LineCollection

    fig = _figure(5.6, 4.2)
    ax = fig.add_subplot()
    cache = getattr(model, "_viz_network", None)
    if cache is None:
        cache = (_layout(model), network_edges(model))
        try:
            model._viz_network = cache
        except AttributeError:  # pragma: no cover
            pass
    pos, edges = cache
    same_team = model.engine.team[edges[:, 0]] == model.engine.team[edges[:, 1]]
    ax.add_collection(LineCollection(pos[edges[same_team]], colors="0.75", linewidths=0.4))
    ax.add_collection(LineCollection(pos[edges[~same_team]], colors="0.55", linewidths=0.4, alpha=0.5))
    maxxer = snapshot(model)["maxxer"]
    for name, mask in (("honest", ~maxxer), ("maxxer", maxxer)):
        ax.scatter(pos[mask, 0], pos[mask, 1], s=12, color=STRATEGY_COLOURS[name], zorder=3,
                   label=f"{name} ({int(mask.sum())})")
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.axis("off")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, 1.02), ncols=2, frameon=False)
    ax.set_title(f"Team network (teams of {model.config.network.team_size}, "
                 f"{model.config.network.cross_links} cross links each), week {model.week}", fontsize=10)
    return fig


# --- serving -----------------------------------------------------------------------------------
VIZ_HINT = "pip install -e '.[viz]'"


def require_viz() -> None:
    """Raise a one-line ScenarioError when the ``viz`` extra (solara) is not installed."""
    import importlib.util

    missing = [m for m in ("solara", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ScenarioError(f"sim viz needs the viz extra ({', '.join(missing)} not installed): run {VIZ_HINT}")


def _bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise ScenarioError(f"--port must be between 0 and 65535 (got {port})")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ScenarioError(f"--host {host}: cannot resolve ({exc})") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        hint = "; choose another with --port, or --port 0 for a free one" if port else ""
        raise ScenarioError(f"cannot serve on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(scenario: str | Path = "leaderboard", *, port: int = 8765, host: str = "127.0.0.1",
          open_browser: bool = True) -> int:
    """Serve the app for ``scenario`` until Ctrl-C; print the URL first.

    Returns:
        0 after a clean shutdown.

    Raises:
        ScenarioError: The viz extra is missing, the scenario is invalid, or the port is taken.
    """
    require_viz()
    scn = load_scenario(scenario)  # a typo fails here, in one line, before anything is served
    TeachingEconomy(scenario, employees=min(scn.employees, 20), weeks=1)  # the app's model builds
    os.environ["SIM_VIZ_SCENARIO"] = str(scenario)
    os.environ["SOLARA_APP"] = "sim.viz_app:page"
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")  # a closed network: no phoning home
    os.environ.setdefault("SOLARA_MODE", "production")
    import uvicorn
    from solara.server import settings

    settings.telemetry.mixpanel_enable = False
    from . import viz_assets

    sock = _bind(host, port)  # a busy port is refused before any download
    try:  # the page's JavaScript and CSS: fetched once from npm when missing
        viz_assets.ensure(log=lambda msg: print(msg, file=sys.stderr, flush=True))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"sim viz: warning: {exc}; the page will try the public CDN instead", file=sys.stderr, flush=True)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    config = uvicorn.Config("solara.server.starlette:app", log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    print(f"sim viz: {scn.name} at {url}  (Ctrl-C to stop)", flush=True)

    if open_browser:
        def _open() -> None:
            import time
            import webbrowser

            for _ in range(300):
                if server.started:
                    webbrowser.open(url)
                    return
                time.sleep(0.1)

        threading.Thread(target=_open, daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("sim viz: stopped", file=sys.stderr, flush=True)
    return 0
