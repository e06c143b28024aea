"""MODEL.md §6: replication r is bit-identical however it is batched, and on any worker count;
two scenarios with the same seed face the same workforce and shocks (common random numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine import Engine
from sim.runner import run_scenario
from sim.streams import SHOCKS, Stream, replication_seed

from .conftest import small


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("scenario", ["leaderboard", "sticker_shock", "roi_gate", "budget", "output_bonus"])
def test_batch_size_does_not_change_results(scenario):
    scn = small(scenario, replications=5, weeks=14)
    one = run_scenario(scn, seed=99, batch_size=1).weekly
    two = run_scenario(scn, seed=99, batch_size=2).weekly
    all_ = run_scenario(scn, seed=99, batch_size=5).weekly
    assert_same(one, all_)
    assert_same(two, all_)


def test_a_replication_alone_equals_its_column_in_a_batch():
    scn = small("leaderboard", replications=6, weeks=10)
    batch = Engine(scn, reps=range(6), seed=5).run()
    alone = Engine(scn, reps=[4], seed=5).run()
    for k in batch:
        np.testing.assert_array_equal(batch[k][:, 4:5], alone[k], err_msg=k)


def test_two_processes_give_identical_results():
    scn = small("sticker_shock", replications=4, weeks=12)
    serial = run_scenario(scn, seed=21, workers=1).weekly
    parallel = run_scenario(scn, seed=21, workers=2).weekly
    assert_same(serial, parallel)


def test_replication_seed_is_the_spawned_child():
    master = 1234
    children = np.random.SeedSequence(master).spawn(3)
    for r, child in enumerate(children):
        assert replication_seed(master, r).generate_state(4).tolist() == child.generate_state(4).tolist()


def test_common_random_numbers_across_scenarios():
    base = Engine(small("baseline"), seed=8)
    lead = Engine(small("roi_gate"), seed=8)
    for name in ("a", "s", "c", "k", "maxxer", "neighbours"):
        np.testing.assert_array_equal(getattr(base, name), getattr(lead, name), err_msg=name)
    # the shock stream is the same whatever the policies
    np.testing.assert_array_equal(base._shocks.next(), lead._shocks.next())
    np.testing.assert_array_equal(base._choice.next(), lead._choice.next())
    np.testing.assert_array_equal(base._imitation.next(), lead._imitation.next())


def test_different_replications_differ():
    eng = Engine(small("baseline", replications=3), seed=8)
    assert not np.array_equal(eng.a[0], eng.a[1])


def test_adding_a_policy_does_not_shift_other_streams():
    """Draws of existing processes do not depend on which policies exist (starsim-style)."""
    a = Engine(small("leaderboard"), seed=3)
    b = Engine(small("roi_gate"), seed=3)  # leaderboard + roi_gate, with its own audit stream
    for _ in range(5):
        np.testing.assert_array_equal(a._shocks.next(), b._shocks.next())


def test_ranking_is_scipys_on_ties_and_signed_zeros():
    """The engine's ranking gives scipy's tie-averaged ranks and the sorted values (its numba
    twin is tested equal to it in test_fast_path)."""
    from scipy.stats import rankdata

    from sim.engine import rank_data

    rng = np.random.default_rng(0)
    a = rng.normal(0, 100, (7, 300)).astype(np.float32)
    a[0, :50] = 5.0  # a tie group
    a[1, :] = 0.0  # all tied
    a[2, :10] = -0.0  # signed zeros are ties of +0
    a[3, 5:20] = -3.5  # negative ties
    ranks_np, sorted_np = rank_data(a)
    np.testing.assert_array_equal(ranks_np, rankdata(a + np.float32(0.0), axis=1) - 1)
    np.testing.assert_array_equal(sorted_np, np.sort(a + np.float32(0.0), axis=1))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5), st.integers(1, 60), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_ranking_matches_scipy_on_any_tie_pattern(rows, n, distinct, seed):
    """Tie-averaged ranks equal scipy's rankdata for any pattern of ties: values drawn from a few
    distinct levels (so groups of every size, at row starts and ends, singletons between)."""
    from scipy.stats import rankdata

    from sim.engine import rank_data

    rng = np.random.default_rng(seed)
    levels = rng.normal(0, 10, distinct).astype(np.float32)
    a = np.where(rng.random((rows, n)) < 0.5, rng.choice(levels, (rows, n)), rng.normal(0, 10, (rows, n))).astype(np.float32)
    ranks, sorted_values = rank_data(a)
    np.testing.assert_array_equal(ranks, rankdata(a, axis=1) - 1)
    np.testing.assert_array_equal(sorted_values, np.sort(a, axis=1))


def test_changing_one_trait_distribution_keeps_the_other_traits():
    """Each trait has its own stream: a different status-seeking Beta leaves productivity,
    aversion, skill and initial strategies untouched (common random numbers)."""
    a = Engine(small("leaderboard"), seed=4)
    b = Engine(small("leaderboard", "workforce.status_seeking.a=5", "workforce.status_seeking.b=2"), seed=4)
    assert not np.array_equal(a.s, b.s)
    for name in ("a", "c", "k", "maxxer"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_throttle_caps_and_charges_the_same_weeks():
    """A failed audit caps use for throttle_weeks weeks, charged and counted in each of them."""
    scn = small("roi_gate", "policies.roi_gate.hurdle=50", "policies.roi_gate.throttle_weeks=3",
                "policies.roi_gate.audit_every=5", weeks=10, replications=1, employees=50)
    eng = Engine(scn, seed=1)
    (gate,) = [p for p in eng.policies if p.name == "roi_gate"]
    shares = []
    while eng.t < 10:
        eng.step()
        shares.append(eng.history["throttled_share"][eng.t - 1, 0])
    # audits at the end of weeks 5 and 10 fail everyone (hurdle 50): weeks 6-8 are capped
    assert shares[:5] == [0.0] * 5 and shares[5:8] == [1.0] * 3 and shares[8] == 0.0


@pytest.mark.parametrize("team_size,employees", [(1, 24), (2, 24), (3, 24), (5, 40), (8, 48), (8, 50), (9, 45), (12, 48)])
def test_teammates_sum_is_reduceat_bit_for_bit(team_size, employees):
    """The gaming burden's team sums take a strided shortcut for equal teams of up to 8; it must
    equal numpy's add.reduceat exactly (same order of additions), for any team size."""
    eng = Engine(small("leaderboard", f"network.team_size={team_size}", employees=employees, replications=3, weeks=1))
    y = np.random.default_rng(team_size).lognormal(size=(3, employees)).astype(np.float32)
    y[:, ::3] = 0.0
    expected = np.repeat(np.add.reduceat(y, eng.team_start, axis=1), eng.team_size, axis=1) - y
    assert np.array_equal(eng._teammates_sum(y).view(np.int32), expected.view(np.int32))
