"""The SolaraViz page of ``sim viz`` (imports solara: needs the ``viz`` extra).

``sim viz`` (:func:`sim.viz.serve`) serves ``page`` from this module; the scenario comes from
the ``SIM_VIZ_SCENARIO`` environment variable it sets. In a notebook, ``App("leaderboard")``
displays the same app inline.

Mesa's SolaraViz gives the sidebar (play, step, reset, and the sliders, which take effect on
Reset); the components below are the live views plus the "switch policy now" control, which
acts on the running model from the next week on.
"""

from __future__ import annotations

import math
import os

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from . import viz
from .loader import load_scenario
from .metrics import WEEKLY


def model_params(scenario: str) -> dict:
    """SolaraViz ``model_params``: the knobs, starting at the scenario's values."""
    scn = load_scenario(scenario)
    start = viz.knob_values(scn)
    params: dict = {
        "config": str(scenario),
        "policy": {"type": "Select", "value": "as in scenario", "values": list(viz.POLICY_CHOICES),
                   "label": "Policy at week 0"},
        "employees": {"type": "SliderInt", "value": min(viz.DEFAULT_EMPLOYEES, scn.employees), "min": 50,
                      "max": 2000, "step": 50, "label": "Employees"},
        "rng": {"type": "SliderInt", "value": 1, "min": 0, "max": 99, "step": 1, "label": "Seed"},
    }
    for k in viz.KNOBS:
        if k.kind == "bool":
            params[k.name] = {"type": "Checkbox", "value": bool(start[k.name]), "label": k.label}
        else:
            value = start[k.name]
            lo, hi = min(k.min, value), max(k.max, value)
            params[k.name] = {"type": "SliderInt" if k.kind == "int" else "SliderFloat", "value": value,
                              "min": lo, "max": hi, "step": k.step, "label": k.label}
    return params


def _fmt(x: float, unit: str = "") -> str:
    return "n/a" if math.isnan(x) else f"{x:,.0f}{unit}" if abs(x) >= 100 else f"{x:.2f}{unit}"


@solara.component
def StatusPanel(model):
    """Week, policies in force, knob settings, and the "switch policy now" control."""
    update_counter.get()
    pids = [p for p in model.config.policies if (model.config.policies[p].get("type") or p) != "none"]
    chosen, set_chosen = solara.use_state(None)
    in_force = viz.incentive_policies(model)
    selection = in_force if chosen is None else chosen

    def switch_now(target=None):
        target = list(selection if target is None else target)
        model.switch_policy(activate=target, deactivate=[p for p in pids if p not in target])
        set_chosen(None)
        force_update()

    def sticker_turn():
        switch_now([p for p in pids if (model.config.policies[p].get("type") or p) == "roi_gate"])

    with solara.Card(f"{model.config.name}: week {model.week} of {model.config.weeks}"):
        solara.Text(f"Week {model.week}", classes=["sim-week"], style={"font-size": "1.6em", "font-weight": "bold"})
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>In force:</b> {' + '.join(in_force) or 'no policy'} "
                    "(a switch applies from the next week)", classes=["sim-in-force"])
        solara.SelectMultiple("Policies to have in force", values=selection, all_values=pids,
                              on_value=set_chosen)
        with solara.Row():
            solara.Button("Switch policy now", color="warning", on_click=switch_now, classes=["sim-switch"])
            solara.Button("Sticker-shock turn: ROI gate only", outlined=True, on_click=sticker_turn,
                          classes=["sim-sticker"])
        k = model.knobs
        eco = model.config.economy
        price = ("token prices by model tier: " + ", ".join(f"{t.name} ${t.blended(eco.input_share):.2f}/Mtok"
                                                            for t in eco.tiers)) if k["tiers"] else \
            f"Token price ${k['price']:.2f}/Mtok"
        solara.Text(
            f"{price} · leaderboard prize ${k['prize']:.0f}/week, top "
            f"{100 * k['visibility']:.0f}% on the board · budget ${k['budget']:.0f}/period"
            f"{' use-it-or-lose-it' if k['use_it_or_lose_it'] else ''} · audits every {k['audit_every']} weeks, "
            f"noise {k['audit_noise']:.2f} · status-seeking {k['status_seeking']:.2f}, gaming aversion "
            f"${k['gaming_aversion']:.2f}/Mtok · {model.config.employees} employees",
            style={"font-size": "0.85em"}, classes=["sim-settings"])
        for entry in model.config.schedule:
            when = (f"week {entry.week}" if entry.week is not None else
                    f"{entry.when.metric} {'above' if entry.when.above is not None else 'below'} "
                    f"{entry.when.above if entry.when.above is not None else entry.when.below} "
                    f"for {entry.when.for_weeks} weeks")
            change = ", ".join([f"+{p}" for p in entry.activate] + [f"-{p}" for p in entry.deactivate])
            solara.Text(f"Schedule: {when} → {change}", style={"font-size": "0.85em"})


def _caption(model, metrics: list[tuple[str, str]]) -> str:
    if not model.week:
        return "no weeks played yet: press Step or ▶"
    parts = []
    for metric, label in metrics:
        x = viz.latest(model, metric)
        unit = WEEKLY[metric][0]
        parts.append(f"{label} {_fmt(100 * x, '%') if unit.startswith('share') else '$' + _fmt(x)}")
    return f"week {model.week}: " + ", ".join(parts)


def _plot(model, make, caption: str, css: str):
    fig = make(model)
    with solara.Column(classes=[css]):
        solara.FigureMatplotlib(fig, format="png")
        solara.Text(caption, classes=[f"{css}-caption"], style={"font-size": "0.9em"})


@solara.component
def CostValue(model):
    update_counter.get()
    _plot(model, viz.cost_value_figure,
          _caption(model, [("cost_per_employee", "bill"), ("value_per_employee", "value"),
                           ("net_value_per_employee", "net")]), "sim-cost")


@solara.component
def Gaming(model):
    update_counter.get()
    _plot(model, viz.gaming_figure,
          _caption(model, [("gaming_share", "gaming"), ("maxxer_share", "maxxers")]), "sim-gaming")


@solara.component
def Goodhart(model):
    update_counter.get()
    rho = viz.latest(model, "goodhart_rho")
    _plot(model, viz.goodhart_figure, "no weeks played yet" if not model.week else
          f"week {model.week}: Goodhart rho {rho:.2f} (1 = the metric ranks people as their value does)",
          "sim-goodhart")


@solara.component
def Leaderboard(model):
    update_counter.get()
    with solara.Column(classes=["sim-leaderboard"]):
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>Leaderboard, week {model.week}: top 10 by tokens</b>, "
                    "real value beside")
        if model.week:
            table = viz.leaderboard_table(model)
            solara.HTML(tag="div", unsafe_innerHTML=table.to_html(index=False, border=0, classes="sim-table"))
            solara.Text(f"{int((table['strategy'] == 'maxxer').sum())} of the top 10 are maxxers; median rank "
                        f"by real value {int(table['rank by value'].median())} of {model.config.employees}",
                        style={"font-size": "0.9em"})
        else:
            solara.Text("no weeks played yet")


@solara.component
def Network(model):
    update_counter.get()
    _plot(model, viz.network_figure, f"week {model.week}: {int(viz.snapshot(model)['maxxer'].sum())} maxxers of "
          f"{model.config.employees}; strategies spread along these links by imitation", "sim-network")


@solara.component
def Tiers(model):
    update_counter.get()
    shares = viz.tier_shares(model)
    caption = ("one model for all work" if not model.engine.tier_names else
               "no weeks played yet" if not model.week else
               f"week {model.week}: " + ", ".join(f"{n} {100 * x:.0f}%" for n, x in shares.items()) + " of tokens")
    _plot(model, viz.tiers_figure, caption, "sim-tiers")


@solara.component
def Views(model):
    """The live views, laid out in two columns.

    Mesa's own ComponentsView puts components in a draggable grid whose JavaScript (a Vue 2
    build of vue-grid-layout) fails under the Vue 3 front end solara 1.64 uses with ipyvue 3
    ("GlobalVue.use is not a function", a blank page), so the app lays its views out itself.
    """
    with solara.Column(style={"padding": "8px"}):
        StatusPanel(model)
        for row in ((CostValue, Gaming), (Goodhart, Leaderboard), (Network, Tiers)):
            with solara.Columns([1, 1]):
                for view in row:
                    with solara.Card(margin=0):
                        view(model)
        with solara.Card("How to read this", margin=0):
            solara.HTML(tag="div", unsafe_innerHTML=GUIDE)


GUIDE = """<ul>
<li><b>Cost and real value</b>: the token bill and the value the work creates, per employee-week.
  A dashed line marks a policy switch.</li>
<li><b>Gaming and maxxers</b>: the share of tokens burnt only for the metric, and the share of
  employees playing <i>maxxer</i> (they copy whoever's visible payoff is higher).</li>
<li><b>Goodhart scatter</b>: each dot is an employee, tokens (the measure) against real value.
  The rank correlation rho is near 0.9 without incentives; a reward on tokens pulls them apart.</li>
<li><b>Leaderboard</b>: the top 10 by tokens, with each one's rank by real value beside.</li>
<li><b>Model tiers</b> (tick the box, then Reset): frontier, mid and small models at list prices.
  Real work goes where it pays; tokens burnt for a token board go to the cheapest, fastest tier.</li>
<li><b>Sliders</b> (left) take effect on <b>Reset</b>; <b>Switch policy now</b> acts on the running model.</li>
</ul>"""


def initial_model(params: dict) -> viz.TeachingEconomy:
    """The model the sliders' starting positions describe."""
    return viz.TeachingEconomy(**{k: v["value"] if isinstance(v, dict) else v for k, v in params.items()})


@solara.component
def App(scenario: str = "leaderboard"):
    """The app for ``scenario`` (display it in a notebook, or serve it): Mesa's SolaraViz gives
    the sidebar (play, step, reset, sliders); :func:`Views` the live views."""
    params = solara.use_memo(lambda: model_params(scenario), [scenario])
    model = solara.use_reactive(solara.use_memo(lambda: initial_model(params), [params]))
    SolaraViz(model, components=[], model_params=params, name="sim: tokenmaxxing and Goodhart's law",
              play_interval=150)
    Views(model.value)


@solara.component
def Page():
    return App(os.environ.get("SIM_VIZ_SCENARIO", "leaderboard"))


page = Page
