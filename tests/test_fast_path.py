"""The numba kernels (sim._kernels) are exact twins of the engine's numpy path.

Every number of every run must be the same, bit for bit, on either path: the path is chosen for
speed only (sim._fast.wanted), so a result must never depend on it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from sim import _fast
from sim.engine import Engine, Published, _rank_sums, average_ranks, rank_data
from sim.streams import BLOCK_WEEKS, SHOCKS, Stream, generators

from .conftest import SHIPPED, small
from .strategies import scenarios

pytestmark = pytest.mark.skipif(not _fast.available(), reason="numba is not installed (or SIM_NO_NUMBA is set)")

EXAMPLES = int(os.environ.get("SIM_HYPOTHESIS_EXAMPLES", "60"))


def run_both(scn, weeks=None):
    """Step a numpy engine and a kernels engine side by side; compare their state every week."""
    a, b = Engine(scn, fast=False), Engine(scn, fast=True)
    assert a.nb is None and b.nb is not None
    for _ in range(scn.weeks if weeks is None else weeks):
        a.step()
        b.step()
        for name in ("m", "x", "y", "v", "cost", "payoff", "metric", "k", "maxxer"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype, name
            # the same bits (array_equal alone would let -0 pass for +0)
            assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), f"week {a.t}: {name} differs"
    for name, h in a.history.items():
        np.testing.assert_array_equal(h, b.history[name], err_msg=name)
    return a, b


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_is_bit_identical_on_both_paths(name):
    run_both(small(name, employees=150, weeks=20, replications=3))


@pytest.mark.parametrize("overrides", [
    ["network.kind=well_mixed"],
    ["network.team_size=1", "network.cross_links=0"],  # nobody has a neighbour: nobody revises
    ["network.team_size=5", "network.cross_links=0"],  # some teams smaller (150 = 30 x 5) and isolated none
    ["employees=160"],  # the default teams of 8 dividing N: the teammates' sums unrolled
    ["network.team_size=3"],  # other equal teams of at most 8: the teammates' sums member by member
    ["network.team_size=7"],  # teams that do not divide N: numpy's reduceat for the teammates' sums
    ["network.team_size=12"],  # teams above 8: reduceat too
    ["imitation.mutation=0.05"],
    ["economy.shock_sd=0"],
    ["economy.price=0"],
    ["employees=1"],
    ["employees=2"],
    ["employees=37"],  # odd N: the normal stream's odd width
])
def test_kernels_match_numpy_on_network_and_size_variants(overrides):
    run_both(small("leaderboard", *overrides, employees=150, weeks=12, replications=2))


def test_kernels_match_numpy_when_a_policy_is_switched_mid_run():
    """Policies active in some replications only take the masked numpy code; a schedule switches."""
    scn = small("sticker_shock", employees=120, weeks=30, replications=4)
    a, b = run_both(scn)
    assert len({tuple(v) for v in a.active.values()}) > 1 or any(v.any() for v in a.active.values())


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_any_valid_scenario_is_bit_identical_on_both_paths(scn):
    run_both(scn)


@pytest.mark.parametrize("width", [1, 2, 3, 1000, 1001])
@pytest.mark.parametrize("normal", [False, True])
@pytest.mark.parametrize("reps", [[0, 3, 7], [5], [0, 1, 2, 9]])
def test_raw_uniforms_equal_generator_random(width, normal, reps):
    """The kernels' PCG64 and uniforms are Generator.random's, bit for bit, for odd and even
    batch sizes (the kernel steps replications in pairs)."""
    a = Stream(11, reps, SHOCKS, width, normal=normal)
    b = Stream(11, reps, SHOCKS, width, normal=normal, nb=_fast.kernels())
    for _ in range(3 * BLOCK_WEEKS + 1):
        x, y = a.next(), b.next()
        assert x.shape == y.shape == (len(reps), width)
        assert np.array_equal(x.view(np.uint32), y.view(np.uint32))
    # and the generators are left in the same state
    ga, gb = generators(11, reps, SHOCKS), b.gens
    for g in ga:
        g.random((3 * BLOCK_WEEKS + 4, width), dtype=np.float32)  # the blocks drawn above (4 blocks)
    for g1, g2 in zip(ga, gb):  # (the spare half-word kept by random() is unused: has_uint32 is 0)
        s1, s2 = g1.bit_generator.state, g2.bit_generator.state
        assert s1["state"] == s2["state"] and s1["has_uint32"] == s2["has_uint32"] == 0


@pytest.mark.parametrize("acc", [np.float64, np.float32])
def test_row_sums_are_numpys_pairwise_sums(acc):
    """row_sums reproduces numpy's row sums bit for bit (float32 data into float64 or float32),
    for every tree shape up to 300, longer rows up to the cast buffer, any number of rows (the
    kernel runs four at a time), rows of zeros of either sign, and infinities. Float32 rows
    longer than numpy's cast buffer too (float64 sums of those numpy casts block by block, and
    the engine leaves them to numpy)."""
    nb = _fast.kernels()
    rng = np.random.default_rng(1)
    longer = [20_001, 100_000] if acc is np.float32 else []
    for n in [*range(1, 300), 511, 999, 1000, 1001, 4096, np.getbufsize(), *longer]:
        rows = int(rng.integers(1, 10))
        a = (rng.standard_normal((rows, n)) * rng.lognormal(0, 3, (rows, n))).astype(np.float32)
        a[0, : n // 2] = np.abs(a[0, : n // 2])
        a[-1] = -0.0 if n % 2 else 0.0
        if n % 7 == 0:
            a[rows // 2, n // 3] = np.inf
        got = np.empty(rows, dtype=acc)
        nb.row_sums(a, *nb.pairwise_plan(n), acc(0.0), got)
        want = a.sum(axis=1, dtype=acc)
        assert np.array_equal(got.view(np.uint64 if acc is np.float64 else np.uint32),
                              want.view(np.uint64 if acc is np.float64 else np.uint32)), n


def test_rank_sums_kernel_matches_numpy():
    """rho's three sums: the kernel's products and pairwise sums equal numpy's, bit for bit,
    including rows longer than numpy's buffer."""
    nb = _fast.kernels()
    rng = np.random.default_rng(2)
    for n in (3, 7, 8, 150, 1000, 1001, 20_001):
        a, b = rng.normal(size=(5, n)).astype(np.float32), rng.normal(size=(5, n)).astype(np.float32)
        b[:, ::4] = 0.0  # ties
        ra, rb = average_ranks(a), average_ranks(b)
        for x, y in zip(_rank_sums(ra, rb, nb), _rank_sums(ra, rb)):
            assert x.dtype == y.dtype == np.float32 and np.array_equal(x.view(np.uint32), y.view(np.uint32)), n


def test_published_fit_kernels_match_numpy():
    """The published log-logistic fit (mu, inv_scale) from the kernels equals numpy's, bit for
    bit: spread-out metrics, zeros (the 1e-9 floor), equal quartiles (the 1e-3 floor), NaN."""
    nb = _fast.kernels()
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 40, 1000):
        m = rng.lognormal(2, 1.5, (6, n)).astype(np.float32)
        m[1] = 0.0
        m[2] = 7.5
        m[3, : n // 2] = 0.0
        m[4, 0] = np.nan
        s = np.sort(m, axis=1)
        a, b = Published(s), Published(s, nb)
        for x, y in ((a.mu, b.mu), (a.inv_scale, b.inv_scale)):
            assert x.dtype == y.dtype == np.float32 and x.shape == y.shape == (6, 1)
            assert np.array_equal(x.view(np.uint32), y.view(np.uint32)), n


def test_listing_kernel_matches_flatnonzero():
    """The kernels' listing of who may game (finite values) equals numpy's flatnonzero, in order,
    for row lengths around the 64-column masks, densities from none to all, and NaN (not listed)."""
    nb = _fast.kernels()
    rng = np.random.default_rng(4)
    for n in (1, 63, 64, 65, 127, 128, 300, 1000):
        for density in (0.0, 0.11, 0.5, 1.0):
            x = np.where(rng.random((3, n)) < density, rng.normal(size=(3, n)), np.inf).astype(np.float32)
            x[1, :: 7] = np.nan
            rows, cols = np.empty(3 * n, dtype=np.int64), np.empty(3 * n, dtype=np.int64)
            k = 0
            for r in range(3):
                k = nb._list_finite(x[r], r, rows, cols, k)
            want = np.flatnonzero(x < np.inf)
            assert k == want.size, (n, density)
            assert np.array_equal(rows[:k] * n + cols[:k], want), (n, density)


def test_ranking_kernels_match_numpy_on_ties_signed_zeros_and_infinities():
    nb = _fast.kernels()
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, 5.0, -3.5, np.inf, -np.inf, 1e-45, -1e-45], dtype=np.float32)
    for trial in range(200):
        a = rng.normal(0, 100, (4, int(rng.integers(1, 90)))).astype(np.float32)
        a[:, ::3] = rng.choice(special, a[:, ::3].shape)
        r1, s1 = rank_data(a)
        r2, s2 = rank_data(a, nb)
        r3, s3 = rank_data(a, nb, values=False)  # ranks only (rho's second ranking)
        assert np.array_equal(r1, r2) and np.array_equal(r1, r3) and s3 is None, trial
        assert np.array_equal(s1.view(np.int32), s2.view(np.int32)), trial


def test_the_path_is_chosen_by_size_and_can_be_forced(monkeypatch):
    assert _fast.wanted(10, fast=True)
    assert not _fast.wanted(10**12, fast=False)
    monkeypatch.setattr(_fast, "loaded", lambda: False)
    assert not _fast.wanted(_fast.MIN_WORK - 1)
    assert _fast.wanted(_fast.MIN_WORK)
    monkeypatch.setattr(_fast, "loaded", lambda: True)  # already paid for: used whatever the size
    assert _fast.wanted(10)
    monkeypatch.setenv("SIM_NO_NUMBA", "1")
    assert not _fast.available()
    assert not _fast.wanted(10**12, fast=True)
    assert Engine(small("baseline", employees=10, weeks=2, replications=1), fast=True).nb is None
