"""TokenEconomy is a real mesa.Model over the same engine that batch runs use."""

from __future__ import annotations

import pickle

import mesa
import numpy as np
import pytest

from sim.model import Employee, TokenEconomy
from sim.runner import run_scenario

from .conftest import small


def test_is_a_mesa_model_with_agents_and_datacollector():
    model = TokenEconomy(small("leaderboard"), rng=3)
    assert isinstance(model, mesa.Model)
    assert len(model.agents) == 120
    assert all(isinstance(a, Employee) for a in model.agents)
    for _ in range(4):
        model.step()
    assert model.week == 4 and model.steps == 4
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 4 and {"tokens_per_employee", "goodhart_rho", "maxxer_share"} <= set(df.columns)
    agents = model.datacollector.get_agent_vars_dataframe()
    assert len(agents) == 4 * 120 and {"tokens", "strategy", "skill"} <= set(agents.columns)


def test_agents_read_and_write_their_row_of_the_arrays():
    model = TokenEconomy(small("baseline"), rng=1)
    model.step()
    eng = model.engine
    agent = next(iter(model.agents))
    assert agent.tokens == eng.m[0, agent.index]
    assert agent.productivity == eng.a[0, agent.index]
    agent.skill = 0.99
    assert eng.k[0, agent.index] == 0.99
    agent.strategy = "maxxer"
    assert eng.maxxer[0, agent.index]
    # AgentSet tools see the same state
    total = model.agents.agg("tokens", sum)
    assert np.isclose(total, eng.m.sum())
    maxxers = model.agents.select(lambda a: a.strategy == "maxxer")
    assert len(maxxers) == int(eng.maxxer.sum())


def test_same_numbers_as_replication_zero_of_a_batch_run():
    scn = small("roi_gate", weeks=10)
    model = TokenEconomy(scn, rng=42)
    while model.running:
        model.step()
    batch = run_scenario(scn, seed=42)
    df = model.datacollector.get_model_vars_dataframe()
    np.testing.assert_array_equal(df["cost_per_employee"].to_numpy(), batch.weekly["cost_per_employee"][:, 0])
    assert model.week == 10 and not model.running


def test_shipped_name_overrides_and_custom_reporter():
    model = TokenEconomy("leaderboard", employees=50, weeks=3, overrides=["economy.price=5"], rng=2)
    assert model.config.economy.price == 5 and len(model.agents) == 50

    def gamers(m):
        return sum(a.gaming_tokens > 0 for a in m.agents)

    dc = mesa.DataCollector(model_reporters={"gamers": gamers})
    model.step()
    dc.collect(model)
    assert dc.get_model_vars_dataframe()["gamers"].iloc[0] >= 0


def test_reporters_pickle():
    model = TokenEconomy(small("baseline"), rng=1)
    pickle.dumps(model.datacollector.model_reporters)


def test_switch_policy_now_changes_the_next_weeks():
    """A live switch (the app's "switch policy now") takes effect from the next week, like a schedule entry."""
    from sim.model import TokenEconomy

    live = TokenEconomy("sticker_shock", employees=300, rng=5)
    assert "roi_gate" not in live.active_policies
    for _ in range(2):
        live.step()
    live.switch_policy(activate=["roi_gate"], deactivate=["leaderboard"])
    assert "roi_gate" in live.active_policies and "leaderboard" not in live.active_policies
    for _ in range(6):
        live.step()
    kept = TokenEconomy("sticker_shock", employees=300, rng=5)
    for _ in range(8):
        kept.step()
    h_live, h_kept = live.engine.history, kept.engine.history
    # identical before the switch, different after it (the gate throttles, the board is gone)
    assert h_live["tokens_per_employee"][:2, 0].tolist() == h_kept["tokens_per_employee"][:2, 0].tolist()
    assert h_live["throttled_share"][2:8, 0].sum() > 0
    assert np.all(h_live["payouts_per_employee"][2:8, 0] == 0)
    with pytest.raises(KeyError, match="no policy 'nope'.*leaderboard"):
        live.switch_policy(activate=["nope"])
