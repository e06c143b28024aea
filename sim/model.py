"""The Mesa face of the engine: ``TokenEconomy`` is a ``mesa.Model``, employees are ``mesa.Agent``s.

The model wraps one replication of the vectorised :class:`~sim.engine.Engine`. Each
:class:`Employee` is a view on its column of the engine's arrays: reading ``agent.skill``
reads the array, assigning it writes the array, so Mesa tools (DataCollector, AgentSet
``select``/``agg``/``groupby``, SolaraViz) see and steer the same state that batch runs use.

Example:
    >>> from sim.model import TokenEconomy
    >>> model = TokenEconomy("leaderboard", employees=200, rng=1)
    >>> model.step()
    >>> len(model.agents)
    200
"""

from __future__ import annotations

import functools
from pathlib import Path

import mesa
import numpy as np

from .config import Scenario
from .engine import Engine
from .metrics import WEEKLY


class Employee(mesa.Agent):
    """One employee: a view on column ``index`` of the engine's (1, N) arrays."""

    def __init__(self, model: TokenEconomy, index: int) -> None:
        super().__init__(model)
        self.index = index

    def _get(self, name: str) -> float:
        return float(getattr(self.model.engine, name)[0, self.index])

    def _set(self, name: str, value: float) -> None:
        getattr(self.model.engine, name)[0, self.index] = value

    productivity = property(lambda self: self._get("a"), lambda self, v: self._set("a", v),
                            doc="a_i, $ of value per unit of AI-assisted work")
    status_seeking = property(lambda self: self._get("s"), lambda self, v: self._set("s", v),
                              doc="s_i in [0, 1], weight on rank and recognition")
    gaming_aversion = property(lambda self: self._get("c"), lambda self, v: self._set("c", v),
                               doc="c_i, $/Mtok cost of burning tokens for show")
    skill = property(lambda self: self._get("k"), lambda self, v: self._set("k", v), doc="k_i in [0, 1]")
    tokens = property(lambda self: self._get("m"), doc="last week's tokens, Mtok (the metric)")
    productive_tokens = property(lambda self: self._get("x"), doc="last week's productive tokens, Mtok")
    gaming_tokens = property(lambda self: self._get("y"), doc="last week's gaming tokens, Mtok")
    value = property(lambda self: self._get("v"), doc="last week's real value, $")
    visible_payoff = property(lambda self: self._get("payoff"), doc="last week's visible payoff, $")

    @property
    def strategy(self) -> str:
        """'honest' or 'maxxer'; assignable."""
        return "maxxer" if self.model.engine.maxxer[0, self.index] else "honest"

    @strategy.setter
    def strategy(self, value: str) -> None:
        if value not in ("honest", "maxxer"):
            raise ValueError("strategy must be 'honest' or 'maxxer'")
        self.model.engine.maxxer[0, self.index] = value == "maxxer"

    @property
    def team(self) -> int:
        return int(self.model.engine.team[self.index])


def weekly_metric(model: TokenEconomy, metric: str) -> float:
    """A DataCollector reporter: the metric's value for the week just played."""
    t = model.engine.t - 1
    return float(model.engine.history[metric][t, 0]) if t >= 0 else float("nan")


class TokenEconomy(mesa.Model):
    """A Mesa model of one organisation under a token-incentive scenario.

    Args:
        config: A scenario (file path, shipped name or :class:`~sim.config.Scenario`).
        employees: Override the scenario's workforce size.
        weeks: Override the scenario's horizon.
        overrides: ``key.path=value`` strings, as for ``--set``.
        rng: Seed (int) or None. An int seed reproduces replication 0 of ``sim run --seed``.
    """

    def __init__(
        self,
        config: str | Path | Scenario = "baseline",
        *,
        employees: int | None = None,
        weeks: int | None = None,
        overrides: tuple[str, ...] | list[str] = (),
        rng: int | None = None,
    ) -> None:
        super().__init__(rng=rng)
        if isinstance(config, Scenario):
            scn = config
        else:
            from .loader import load_scenario

            scn = load_scenario(config, overrides)
        update = {k: v for k, v in (("employees", employees), ("weeks", weeks)) if v is not None}
        self.config = Scenario.model_validate({**scn.model_dump(), **update}) if update else scn
        seed = int(rng) if isinstance(rng, (int, np.integer)) else int(self.rng.integers(2**62))
        self.engine = Engine(self.config, reps=[0], seed=seed)
        Employee.create_agents(self, self.config.employees, index=list(range(self.config.employees)))
        self.datacollector = mesa.DataCollector(
            model_reporters={name: functools.partial(weekly_metric, metric=name) for name in WEEKLY},
            agent_reporters={"tokens": "tokens", "gaming_tokens": "gaming_tokens", "value": "value",
                             "skill": "skill", "strategy": "strategy"},
        )

    @property
    def week(self) -> int:
        """Weeks played so far."""
        return self.engine.t

    def switch_policy(self, activate: tuple[str, ...] | list[str] = (),
                      deactivate: tuple[str, ...] | list[str] = ()) -> None:
        """Switch the scenario's policies on or off from the next week on (e.g. the sticker-shock turn)."""
        self.engine.switch(activate, deactivate)

    @property
    def active_policies(self) -> list[str]:
        """Ids of the policies switched on now."""
        return [pid for pid, on in self.engine.active.items() if on[0]]

    def step(self) -> None:
        """Play one week, then collect data; stops running at the scenario's horizon."""
        self.engine.step()
        self.datacollector.collect(self)
        if self.engine.t >= self.config.weeks:
            self.running = False
