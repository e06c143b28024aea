"""The vectorised weekly step (MODEL.md §4), over arrays shaped (replications, employees).

One :class:`Engine` holds a batch of replications of one scenario. Every state variable is
an array with one row per replication and one column per employee; the week is a fixed
sequence of whole-array operations, with no Python loop over employees. The Mesa model
(:mod:`sim.model`) and the batch runner (:mod:`sim.runner`) both drive this same engine.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _fast
from ._alloc import tune_malloc
from .config import Scenario, Uniform
from .metrics import WEEKLY
from .policies import Budget, Leaderboard, Policy, RoiGate, build
from .streams import CHOICE, IMITATION, MUTATION, NETWORK, SHOCKS, TRAITS, Stream, generators, policy_key


#: no menu level exceeds this many Mtok per employee-week (keeps float32 arithmetic finite)
MAX_TOKENS = 1e6


#: traits and networks of recent engines, keyed by everything they are drawn from: a sweep's points
#: share them (common random numbers), and drawing them again cost a fifth of a point's time
_CACHE: dict = {}
_CACHE_BYTES = 64 * 2**20  # at most this much is kept; the oldest entries go first


def _cached(key: tuple, make):
    """``make()``, remembered under ``key`` (its arrays made read-only)."""
    value = _CACHE.get(key)
    if value is None:
        value = make()
        arrays = [a for a in (value if isinstance(value, tuple) else (value,)) if isinstance(a, np.ndarray)]
        for a in arrays:
            a.flags.writeable = False
        size = sum(a.nbytes for a in arrays)
        if size <= _CACHE_BYTES // 4:
            while _CACHE and size + sum(v[1] for v in _CACHE.values()) > _CACHE_BYTES:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = (value, size)
        return value
    return value[0]


def draw_trait(g: np.random.Generator, dist, n: int) -> np.ndarray:
    """Draw ``n`` values of one trait distribution from generator ``g``."""
    if dist.dist == "lognormal":
        return dist.median * np.exp(dist.sigma * g.standard_normal(n))
    if dist.dist == "beta":
        return g.beta(dist.a, dist.b, n)
    if dist.dist == "uniform":
        return g.uniform(dist.low + 0.0, dist.high + 0.0, n)  # + 0.0: -0.0 becomes 0.0
    return np.full(n, float(dist.value))


def rank_data(a: np.ndarray, nb=None, key: np.ndarray | None = None,
              values: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Ranks 0..N-1 along the last axis of a 2-D array (ties get their average rank), and
    the sorted values.

    Values are compared at float32 resolution: each is packed with its column index into one
    int64 key (order-preserving float bits in the high half), so one direct sort, cheaper
    than an argsort, yields both the order and the sorted values. Values equal at that
    resolution are ties.

    Args:
        a: The values, (R, N).
        nb: The numba kernels (:func:`sim._fast.kernels`) for the keys and the ties, or None for numpy.
        key: With the kernels, ``a``'s keys already made (by the kernel that wrote ``a``); sorted
            in place.
        values: With the kernels, False skips the sorted values (returned as None).

    Returns:
        (ranks, sorted values), both float32 and shaped like ``a``.
    """
    R, N = a.shape
    a = np.asarray(a, dtype=np.float32)
    if nb is not None:
        if key is None:
            key = np.empty((R, N), dtype=np.int64)
            nb.sort_keys(np.ascontiguousarray(a).view(np.int32), key)
        key.sort(axis=1)
        ranks = np.empty((R, N), dtype=np.float32)
        sorted_values = np.empty((R, N if values else 0), dtype=np.float32)
        nb.tie_ranks(key, ranks, sorted_values.view(np.int32))
        if not values:
            return ranks, None
        return ranks, sorted_values
    bits = (a + np.float32(0.0)).view(np.int32)  # + 0 turns -0 into +0
    bits = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # negative floats: reverse the magnitude order
    key = (bits.astype(np.int64) << 32) | np.arange(N, dtype=np.int64)
    key.sort(axis=1)
    ranks, hi = _ties_numpy(key)
    sorted_values = (hi ^ ((hi >> 31) & 0x7FFFFFFF)).view(np.float32)
    return ranks, sorted_values


def _ties_numpy(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numpy twin of :func:`sim._kernels.tie_ranks`.

    Every position starts as its own rank; only the elements in a tie group (usually few:
    employees on one shared menu level, or at zero) are then given their group's mean position.
    """
    R, N = key.shape
    hi = (key >> 32).astype(np.int32)
    starts = np.empty(R * N + 1, dtype=bool)  # a group starts here (flat; every row starts one)
    by_row = starts[: R * N].reshape(R, N)
    by_row[:, 0] = True
    np.not_equal(hi[:, 1:], hi[:, :-1], out=by_row[:, 1:])
    starts[R * N] = True
    ranked = np.empty((R, N), dtype=np.float32)
    ranked[:] = np.arange(N, dtype=np.float32)
    tied = np.flatnonzero(~(starts[:-1] & starts[1:]))  # members of groups of 2 or more
    if tied.size:  # groups never span rows, as every row starts a group
        first = starts[tied]
        head = np.flatnonzero(first)
        lengths = np.empty_like(head)
        lengths[:-1] = head[1:] - head[:-1]
        lengths[-1] = tied.size - head[-1]
        mean_pos = (tied[head] % N + (lengths - 1) * 0.5).astype(np.float32)
        ranked.ravel()[tied] = np.repeat(mean_pos, lengths)
    order = (key & 0xFFFFFFFF) + (np.arange(R, dtype=np.int64) * N)[:, None]
    ranks = np.empty(R * N, dtype=np.float32)
    ranks[order.ravel()] = ranked.ravel()
    return ranks.reshape(R, N), hi


def average_ranks(a: np.ndarray, nb=None) -> np.ndarray:
    """Ranks along the last axis with ties averaged (see :func:`rank_data`)."""
    return rank_data(a, nb)[0]


def rank_correlation(ra: np.ndarray, rb: np.ndarray, nb=None) -> np.ndarray:
    """Pearson correlation of two rank arrays, row by row (Spearman's rho)."""
    return _rho(*_rank_sums(ra, rb, nb))


def _rank_sums(ra: np.ndarray, rb: np.ndarray, nb=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the sums of (ra - c)^2, (rb - c)^2 and (ra - c)(rb - c), float32, with c the mean
    rank (N - 1) / 2 (tie-averaged ranks 0..N-1 always have it). ``nb``: the numba kernels, which
    make the three products and their sums in one pass, as numpy sums them)."""
    centre = np.float32((ra.shape[1] - 1) / 2.0)
    if nb is not None:
        sums = np.empty((3, ra.shape[0]), dtype=np.float32)
        nb.rank_sums(ra, rb, centre, *nb.pairwise_plan(ra.shape[1]), sums)  # the same float32 sums as below
        return sums[0], sums[1], sums[2]
    da = ra - centre
    db = rb - centre
    return (da * da).sum(axis=1), (db * db).sum(axis=1), (da * db).sum(axis=1)


def _rows(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """The first axis' subarrays as a tuple: unpacking an array by iterating over it costs more
    (numpy stops the iteration with an IndexError whose message it formats)."""
    return tuple([a[i] for i in range(a.shape[0])])


def _stack(arrays) -> np.ndarray:
    """np.stack of same-shaped arrays (or scalars) along a new first axis, in one C call."""
    return np.array(arrays)


def _rho(aa: np.ndarray, bb: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The correlation from :func:`_rank_sums` (elementwise: any shape; NaN where a row is constant)."""
    den = np.sqrt(aa * bb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, ab / np.where(den > 0, den, 1.0), np.nan)


@functools.lru_cache(maxsize=256)
def _nearest_rank(level: float, n: int) -> int:
    """The position of the nearest-rank ``level`` quantile among ``n`` sorted values."""
    return min(n - 1, max(0, int(math.ceil(level * n)) - 1))


class Published:
    """Last week's metric distribution, as the organisation publishes it (MODEL.md §4.1).

    ``quantile`` is exact (nearest rank). ``cdf`` is a log-logistic curve fitted to the
    published quartiles: employees forecast their percentile from a summary, not from
    everyone's exact numbers (a departure recorded in docs/ODD.md).
    """

    def __init__(self, sorted_metric: np.ndarray, nb=None) -> None:
        self.sorted = sorted_metric
        self.n = sorted_metric.shape[1]
        self._quantiles: dict[float, np.ndarray] = {}
        at = [self._index(q) for q in (0.25, 0.5, 0.75)]
        if nb is not None:  # the same numbers, in two kernels around numpy's log
            R = sorted_metric.shape[0]
            q = np.empty((R, 3), dtype=np.float32)
            self.mu, self.inv_scale = np.empty((R, 1), dtype=np.float32), np.empty((R, 1), dtype=np.float32)
            nb.quartiles(sorted_metric, *at, q)
            nb.log_logistic_fit(np.log(q, out=q), self.mu, self.inv_scale)
            return
        with np.errstate(divide="ignore"):
            logs = np.log(np.maximum(sorted_metric[:, at], np.float32(1e-9)))  # one call for the three quartiles
        q25, q50, q75 = logs[:, 0:1], logs[:, 1:2], logs[:, 2:3]
        self.mu = q50.astype(np.float32)
        self.inv_scale = (2.0 * math.log(3.0) / np.maximum(q75 - q25, 1e-3)).astype(np.float32)

    @classmethod
    def of(cls, metric: np.ndarray) -> Published:
        return cls(np.sort(metric.astype(np.float32), axis=1))

    def _index(self, level: float) -> int:
        return _nearest_rank(level, self.n)

    def quantile(self, level: float) -> np.ndarray:
        """The nearest-rank quantile of last week's metric, per replication, shaped (R, 1) (a
        view of the sorted metric, made once per level)."""
        q = self._quantiles.get(level)
        if q is None:
            i = self._index(level)
            q = self._quantiles[level] = self.sorted[:, i : i + 1]
        return q

    def cdf(self, m: np.ndarray) -> np.ndarray:
        """Forecast percentile of metric level ``m`` (float32)."""
        with np.errstate(divide="ignore", over="ignore"):
            z = (np.log(m) - self.mu) * self.inv_scale
            return np.float32(1.0) / (np.float32(1.0) + np.exp(-z))


class _Slots:
    """The arrays a week's metrics sum, stacked so that the kernels sum each kind in one call
    (:meth:`sums`); the kernels write m, x, y, value, cost and the next skill straight into them."""

    NAMES_S = ("m", "y", "cost", "v", "waste", "x")  # summed into float64
    NAMES_P = ("payouts", "visible", "pay_maxxer", "k")  # summed in float32

    def __init__(self, R: int, N: int) -> None:
        self.S = S = np.empty((len(self.NAMES_S), R, N), dtype=np.float32)
        self.P = P = np.empty((len(self.NAMES_P), R, N), dtype=np.float32)
        self.m, self.y, self.cost, self.v, self.waste, self.x = _rows(S)
        self.payouts, self.visible, self.pay_maxxer, self.k = _rows(P)

    def sums(self, nb) -> tuple[np.ndarray, np.ndarray]:
        """Each row's sum, S's in float64 and P's in float32, as numpy's ``S.sum(axis=2,
        dtype=np.float64)`` and ``P.sum(axis=2)`` (bit for bit; rows of N <= np.getbufsize()),
        by the kernels' pairwise sums."""
        K, R, N = self.S.shape
        plan = nb.pairwise_plan(N)
        s64, p32 = np.empty((K, R)), np.empty((self.P.shape[0], R), dtype=np.float32)
        nb.row_sums(self.S.reshape(K * R, N), *plan, np.float64(0.0), s64.reshape(-1))
        nb.row_sums(self.P.reshape(-1, N), *plan, np.float32(0.0), p32.reshape(-1))
        return s64, p32

    def hold(self, **arrays: np.ndarray) -> None:
        """Copy in any array that is not its slot (one rebound since, e.g. y scaled by tiers)."""
        for name, a in arrays.items():
            slot = getattr(self, name)
            if a is not slot:
                np.copyto(slot, a)


class _WeekSums(NamedTuple):
    """One recorded week: the sums and values the weekly metrics are derived from (per
    replication unless noted; None where the scenario has no such policy or tiers)."""

    tot_m: Any
    tot_y: Any
    tot_cost: Any
    tot_v: Any
    waste: Any
    x_sum: Any
    overhead: Any
    payouts: Any
    n_max: Any
    rho: Any  # the three rank sums, or None for N <= 2
    k_sum: Any  # the skills' float32 sum (the mean skill is it over N: numpy's mean of float32)
    cutoff: Any
    util: Any
    audits: Any
    detections: Any
    throttled: Any
    pay_maxxer: Any
    pay_sum: Any
    tau: float
    list_price: float
    tier_tok: list
    tier_prices: list | None


class WeekOutcome:
    """What happened this week, and what policies add to it in ``settle``."""

    def __init__(self, m, x, y, v, cost, slots: _Slots | None = None) -> None:
        R = m.shape[0]
        self.m, self.x, self.y, self.v, self.cost = m, x, y, v, cost
        self.slots = slots  # visible payoffs and payouts start at 0 in their slots, if given
        self.v_key: np.ndarray | None = None  # the value's sort keys, if a kernel made them
        if slots is None:
            self.visible, self.payouts = np.zeros_like(m), np.zeros_like(m)
        else:
            slots.P[:2] = 0.0
            self.visible, self.payouts = slots.visible, slots.payouts
        self.overhead = np.zeros(R)
        self.audits = np.zeros(R)
        self.detections = np.zeros(R)


class Week:
    """The context a policy sees: the week, prices, traits, and last week's published metric."""

    def __init__(self, eng: Engine, pub: Published) -> None:
        self.eng = eng
        self.t = eng.t
        self.R, self.N = eng.R, eng.N
        self.price = eng.price
        self.aim = eng.aim  # (R, N): 1 + each employee's aim above a published cut-off
        self.a, self.c, self.k = eng.a, eng.c, eng.k
        self.s = eng._s32  # float32, as the choice arithmetic
        self.pub = pub
        self.m0: np.ndarray | None = None
        #: metric per token: None when the metric is tokens, else this week's price (per employee with tiers)
        self.mu = None

    def tokens_of(self, level):
        """Tokens (Mtok) that reach a level of the published metric."""
        return level if self.mu is None else level / np.maximum(self.mu, np.float32(1e-9))

    def metric_of(self, m):
        """The published metric of ``m`` tokens."""
        return m if self.mu is None else m * self.mu

    def percentile(self, m: np.ndarray, top_share: float) -> tuple[np.ndarray, np.ndarray]:
        """This week's percentile in [0, 1] and top-board membership, from exact ranks."""
        r = self.eng.metric_ranks(m)
        return r / max(self.N - 1, 1), r >= self.top_rank(top_share)

    def top_rank(self, top_share: float) -> float:
        """The lowest rank on a top board of ``top_share`` of the employees."""
        return self.N - max(1, math.ceil(top_share * self.N)) - 1e-9

    def draws(self, policy: Policy) -> tuple[np.ndarray, ...]:
        """The policy's own draws for this week (uniforms, then normals)."""
        return self.eng.policy_draws(policy)


def _arg_best(values: list[np.ndarray], better) -> np.ndarray:
    """Index of the best of several same-shaped arrays, elementwise; ties go to the first (as
    numpy's argmax/argmin, without stacking them)."""
    best = values[0]
    idx = np.zeros(best.shape, dtype=np.int8)
    for j, v in enumerate(values[1:], start=1):
        win = better(v, best)
        idx[win] = j
        best = np.where(win, v, best)
    return idx


class Engine:
    """A batch of replications of one scenario, stepped one week at a time.

    Args:
        scn: The validated scenario.
        reps: Which replication indices this batch holds (defaults to all of them).
        seed: The master seed (defaults to the scenario's).
        fast: Use the numba kernels (True), numpy only (False), or decide by the batch's size
            (None; see :func:`sim._fast.wanted`). Both give the same numbers, bit for bit.
    """

    def __init__(self, scn: Scenario, reps: Sequence[int] | None = None, seed: int | None = None,
                 fast: bool | None = None) -> None:
        tune_malloc()
        self.scn = scn
        self.seed = scn.seed if seed is None else int(seed)
        self.reps = list(range(scn.replications)) if reps is None else list(reps)
        self.R, self.N = len(self.reps), scn.employees
        #: the numba kernels, or None for the numpy path
        self.nb = _fast.kernels() if _fast.wanted(self.R * self.N * scn.weeks, fast) else None
        self.t = 0
        self.policies = [build(pid, raw) for pid, raw in scn.policies.items()]
        e = scn.economy
        # the organisation's metric is the leaderboard's: tokens, or spend (price x tokens)
        self.spend_metric = any(isinstance(p, Leaderboard) and p.p.metric == "spend" for p in self.policies)
        self.J = len(e.tiers)
        self.tier_names = [t.name for t in e.tiers]
        if self.J:
            self._tier_base = [t.blended(e.input_share) for t in e.tiers]
            self._tier_trend = [t.price_trend or e.price_trend for t in e.tiers]
            self._tier_q = np.array([t.quality for t in e.tiers], dtype=np.float32)
            self._tier_inv_speed = np.array([1.0 / t.speed for t in e.tiers], dtype=np.float32)
        self.tier = np.zeros((self.R, self.N), dtype=np.int8)
        #: pick tiers by the closed-form shortcut when nobody pays a price (tested equal to the general rule)
        self.tier_shortcut = True
        self.active = {p.id: np.full(self.R, bool(p.p.active)) for p in self.policies}
        self._cp_cache = None  # (key, sigma, cost per token) of the last week's _cost_per_token
        self._on_cache: dict = {}  # policy id -> _on_state
        self._price_col = None  # (price, its (R, 1) float32 column)
        # rows short enough for numpy to sum in one block of its cast buffer (read once: the
        # kernels' sums match numpy's for such rows)
        self._slots_fit = self.N <= np.getbufsize()
        self._triggers = [
            (e, np.zeros(self.R, dtype=np.int64), np.zeros(self.R, dtype=bool)) for e in scn.schedule if e.when
        ]
        self._draw_traits()
        self._build_network()
        self._s32 = self.s
        self._oms32 = 1.0 - self.s
        self._c32 = self.c
        self._zeros32 = np.zeros((self.R, self.N), dtype=np.float32)
        N = self.N
        nb = self.nb
        self._shocks = Stream(self.seed, self.reps, SHOCKS, N, normal=True, nb=nb)
        self._choice = Stream(self.seed, self.reps, CHOICE, N, nb=nb)
        self._imitation = Stream(self.seed, self.reps, IMITATION, 2 * N, nb=nb)
        self._mutation = Stream(self.seed, self.reps, MUTATION, N, nb=nb) if scn.imitation.mutation > 0 else None
        self._policy_streams = {
            p.id: (
                Stream(self.seed, self.reps, policy_key(p.id), p.uniforms * N, nb=nb) if p.uniforms else None,
                Stream(self.seed, self.reps, policy_key(p.id) + 500_000, p.normals * N, normal=True, nb=nb)
                if p.normals
                else None,
            )
            for p in self.policies
        }
        for p in self.policies:
            p.reset(self)
        zeros = np.zeros((self.R, N), dtype=np.float32)
        self.m, self.x, self.y, self.v, self.payoff = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
        self.metric = zeros.copy()  # last week's published metric per employee
        self.cost = zeros.copy()
        cp = self._cost_per_token()
        self._q = np.float32(1.0)
        if self.J:  # week -1: everyone at the private optimum of their best tier
            w = Week(self, None)
            cp = self._choose_tiers([], w)
        m0 = self._optimum(cp)
        self._pub = Published.of(m0 * self.price if self.spend_metric else m0)
        self._history = {name: np.full((scn.weeks, self.R), np.nan) for name in WEEKLY}
        for name in self.tier_names:  # tokens and spend per tier
            for k in ("tokens_per_employee", "spend_per_employee"):
                self._history[f"{k}[{name}]"] = np.full((scn.weeks, self.R), np.nan)
        self._weeks: list[tuple] = []  # each recorded week's sums, turned into metrics on demand
        self._derived = 0  # weeks whose metrics are in _history
        self._ranks_of: np.ndarray | None = None
        self._keyed: tuple | None = None  # (array, its sort keys made by a kernel)
        self._ranks: np.ndarray | None = None

    # --- set-up ------------------------------------------------------------------------------
    def _draw_traits(self) -> None:
        wf, N = self.scn.workforce, self.N
        # each trait has its own stream, so changing one trait's distribution (a Beta sampler
        # uses a variable number of draws) never redraws the others: common random numbers
        def draws(j: int, dist=None, lo=-np.inf, hi=np.inf) -> np.ndarray:
            def make() -> np.ndarray:
                gens = generators(self.seed, self.reps, TRAITS * 100 + j)
                if dist is None:
                    return np.stack([g.random(N) < wf.initial_maxxer_share for g in gens])
                return np.stack([np.clip(draw_trait(g, dist, N), lo, hi) for g in gens])

            spec = wf.initial_maxxer_share if dist is None else (dist.model_dump_json(), lo, hi)
            return _cached(("trait", self.seed, tuple(self.reps), N, j, spec), make)

        cols = {
            "a": draws(1, wf.productivity),
            "s": draws(2, wf.status_seeking, 0.0, 1.0),
            "c": draws(3, wf.gaming_aversion),
            "k": draws(4, wf.initial_skill, 0.0, 1.0),
            "maxxer": draws(5),
        }
        # how far above a published cut-off each employee aims: uniform on [0, 2 * margin], so the
        # mean is `choice.margin` and employees chasing the same bar do not all pick one number
        aim = draws(6, Uniform(low=0.0, high=2.0 * self.scn.choice.margin + 0.0))
        self.aim = (1.0 + aim).astype(np.float32)
        # state is float32: memory traffic dominates the step, and every quantity is far from
        # float32's resolution (reductions into the reported metrics are accumulated in float64)
        self.a, self.s, self.c, self.k = (cols[n].astype(np.float32) for n in ("a", "s", "c", "k"))
        self.maxxer = cols["maxxer"].copy()  # strategies change in place

    def _build_network(self) -> None:
        net = self.scn.network
        (self.team, self.team_start, self.team_size, self.degree, self.neighbours, self._cross, self._movable,
         self._isolated) = _cached(("network", self.seed, tuple(self.reps), self.N, net.model_dump_json()),
                                   self._make_network)

    def _make_network(self) -> tuple:
        net, N = self.scn.network, self.N
        ts = min(net.team_size, N)
        idx = np.arange(N)
        team = idx // ts
        n_teams = int(team[-1]) + 1
        team32 = team.astype(np.int32)
        team_start = np.arange(n_teams) * ts
        team_size = np.minimum(ts, N - team_start)
        first, size = team_start[team], team_size[team]
        pos = idx - first
        mates = size - 1
        L = net.cross_links if net.kind == "small_world" else 0
        degree = (mates + L).astype(np.int32)
        D = max(int(degree.max()), 1)
        # neighbour table (R, N, D): teammates first, then cross links; entries past an
        # employee's degree are never drawn
        nbr = np.zeros((self.R, N, D), dtype=np.int32)
        for d in range(int(mates.max())):
            mate = pos + 1 + d
            mate = first + np.where(mate >= size, mate - size, mate)
            nbr[:, :, d] = np.where(d < mates, mate, 0)
        if net.kind == "small_world" and L:
            sides = np.array([(l // 2 + 1) * (1 if l % 2 == 0 else -1) for l in range(L)])
            for r, g in enumerate(generators(self.seed, self.reps, NETWORK)):
                rewire = g.random((N, L)) < net.rewire
                random_team = g.integers(0, n_teams, (N, L))
                member = g.random((N, L))
                target = np.where(rewire, random_team, (team[:, None] + sides[None, :]) % n_teams)
                cross = team_start[target] + (member * team_size[target]).astype(np.int64)
                for l in range(L):
                    nbr[r, idx, mates + l] = cross[:, l]
        # for the kernels: teammates follow from the team arithmetic above, so only the cross
        # links are looked up (employee i's cross link l sits at column mates_i + l of the table)
        cross = np.ascontiguousarray(nbr[:, idx[:, None], mates[:, None] + np.arange(L)[None, :]]) if L else \
            np.zeros((self.R, N, 0), dtype=np.int32)
        return team32, team_start, team_size, degree, nbr, cross, bool(degree.max() > 0), bool((degree == 0).any())

    # --- the week ---------------------------------------------------------------------------
    def _on(self, p: Policy) -> np.ndarray:
        return self.active[p.id][:, None]

    def _mask(self, p: Policy, value, fill):
        """``value`` where the policy is active, ``fill`` elsewhere (no copy when active everywhere)."""
        return value if self.on_everywhere(p) else np.where(self.active[p.id][:, None], value, fill)

    def on_everywhere(self, p: Policy) -> bool:
        """Whether the policy is active in every replication of the batch."""
        return self._on_state(p)[1]

    def _on_state(self, p: Policy) -> tuple[np.ndarray, bool, bool]:
        """(the active mask, active everywhere, active somewhere), remembered per mask: masks are
        replaced on a switch, never edited in place."""
        on = self.active[p.id]
        st = self._on_cache.get(p.id)
        if st is None or st[0] is not on:
            n = int(np.count_nonzero(on))
            st = self._on_cache[p.id] = (on, n == on.size, n > 0)
        return st

    def _cost_per_token(self) -> np.ndarray:
        """tau + sigma * p as seen by the employee, per replication (R, 1)."""
        e = self.scn.economy
        self.price = e.price_trend.at(e.price, self.t)
        if self.J:
            self.tier_prices = [tr.at(b, self.t) for tr, b in zip(self._tier_trend, self._tier_base)]
        self.tau = e.attention_trend.at(e.attention_cost, self.t)
        shares = [(self.active[p.id], p.price_share) for p in self.policies if p.price_share]
        key = (self.price, self.tau, shares)
        cached = self._cp_cache
        if cached is not None and cached[0][:2] == key[:2] and len(cached[0][2]) == len(shares) and all(
                a is b and x == y for (a, x), (b, y) in zip(cached[0][2], shares)):  # active masks are replaced, never edited
            self.sigma = cached[1]
            return cached[2]
        sigma = np.full(self.R, e.price_share)
        for on, share in shares:
            sigma = sigma + on * share
        self.sigma = np.minimum(sigma, 1.0)[:, None]
        cp = self.tau + self.sigma * self.price
        self._cp_cache = (key, self.sigma, cp)
        return cp

    def _price_column(self, price: float) -> np.ndarray:
        """The list price as an (R, 1) float32 column (kept while the price stays the same)."""
        col = self._price_col
        if col is None or col[0] != price:
            col = self._price_col = (price, np.full((self.R, 1), price, dtype=np.float32))
        return col[1]

    def _optimum(self, cp: np.ndarray) -> np.ndarray:
        """The unconstrained optimum of private value net of attention and charged price."""
        A = (1.0 - self.s) * self.a * self.k * self._q
        return np.maximum(A / cp - self.scn.economy.x0, 0.0)

    def _choose_tiers(self, active: list[Policy], w: Week) -> np.ndarray:
        """Each employee's tiers this week (MODEL.md §4.8); returns their cost per productive token.

        Productive work goes to the tier with the highest private surplus at its own optimum (a
        closed form: A ln(A / (c x0)) - A + c x0 with A the tier's value weight and c its cost
        per productive token). Tokens burnt for show go to the tier where a unit of the metric
        costs least to burn: the fastest tier per token when the metric counts tokens, the
        dearest per dollar when it counts spend. Policies may weigh and overrule the choice
        (``routing``). Sets the per-employee price, quality and the menu's split terms.
        """
        F = np.float32
        e = self.scn.economy
        tau, x0 = F(self.tau), F(e.x0)
        sig = self.sigma.astype(F)
        nb = self.nb
        if nb is not None:
            base = np.empty_like(self.a)
            nb.tier_base(self._oms32, self.a, self.k, base)
        else:
            base = self._oms32 * self.a * self.k
        with np.errstate(divide="ignore"):  # base = 0 (no skill, or s = 1): ln = -inf, surplus 0
            log_base = np.log(base)  # ln A_j = ln base + ln q_j: one logarithm for all tiers
        prices = np.array(self.tier_prices, dtype=F)
        shortcut = self.tier_shortcut and not sig.any()
        hooks = any(type(p).tier_utilities is not Policy.tier_utilities or type(p).route is not Policy.route
                    for p in active)
        if shortcut and not hooks and nb is not None:  # _free_tiers and the lines below, in one pass
            qs, inv_speed = self._tier_q, self._tier_inv_speed
            jq = int(np.argmax(qs))
            per_burn = inv_speed / np.maximum(prices, F(1e-9)) if self.spend_metric else inv_speed
            jy = int(np.argmin(per_burn))
            tx, ty = np.empty(base.shape, dtype=np.int8), np.empty(base.shape, dtype=np.int8)
            px, py, q, g, ratio, cp = (np.empty_like(base) for _ in range(6))
            nb.free_tiers(log_base, np.log(qs[jq] / F(tau * x0)), self._c32, sig, tau, jq, jy, prices, qs, inv_speed,
                          self.spend_metric, tx, ty, px, py, q, g, ratio, cp)
            self.tier, self.tier_y, self.price, self.price_y, self._q, self._g = tx, ty, px, py, q, g
            self._r = ratio if self.spend_metric else None
            w.price = px
            return cp
        if shortcut and not hooks:
            tx, ty, px, py, q, inv_speed = self._free_tiers(log_base, F(tau * x0), prices)
        else:
            tx, ty = self._priced_tiers(active, w, base, log_base, tau, x0, sig, prices)
            for p in active:
                tx, ty = p.route(w, tx, ty, self._on(p))
            px, py, q, inv_speed = prices[tx], prices[ty], self._tier_q[tx], self._tier_inv_speed[ty]
        self.tier, self.tier_y = tx, ty
        self.price, self.price_y = px, py
        self._q = q
        g = sig * py + self._c32 * inv_speed
        # a menu level m counts the metric in productive tokens; a gaming token adds mu_y / mu_x
        # of them, so y = r (m - x) with r = mu_x / mu_y (1 when the metric counts tokens)
        self._r = px / np.maximum(py, F(1e-9)) if self.spend_metric else None
        self._g = g
        w.price = px
        return tau + sig * px

    def _free_tiers(self, log_base: np.ndarray, tau_x0: np.float32, prices: np.ndarray) -> tuple[np.ndarray, ...]:
        """The tiers when no employee pays any price (sigma = 0) and no policy weighs the tiers.

        Then every tier costs the same per productive token (tau), the surplus grows with the
        quality, and the best productive tier is the highest-quality one wherever it yields a
        positive surplus (elsewhere all tie at 0 and the first is kept, as in the general case).
        A gaming token costs c_i / speed_j, times 1 / p_j on a spend board: the same tier is the
        cheapest for every employee with c_i > 0. Exactly the general rule, in a few passes.
        """
        F = np.float32
        q, inv_speed = self._tier_q, self._tier_inv_speed
        jq = int(np.argmax(q))
        best = log_base + np.log(q[jq] / tau_x0) > 0  # else every tier's surplus is 0: the first
        per_burn = inv_speed / np.maximum(prices, F(1e-9)) if self.spend_metric else inv_speed
        jy = int(np.argmin(per_burn))
        burns = self._c32 > 0  # else burning costs nothing anywhere: the first
        tx = np.where(best, np.int8(jq), np.int8(0))
        ty = np.where(burns, np.int8(jy), np.int8(0))
        return (tx, ty, np.where(best, prices[jq], prices[0]), np.where(burns, prices[jy], prices[0]),
                np.where(best, q[jq], q[0]), np.where(burns, inv_speed[jy], inv_speed[0]))

    def _priced_tiers(self, active, w, base, log_base, tau, x0, sig, prices) -> tuple[np.ndarray, np.ndarray]:
        """The tiers in general: each tier's surplus and burning cost compared employee by employee."""
        F = np.float32
        utils, burn = [], []
        for j in range(self.J):
            p = prices[j]
            A = base * self._tier_q[j]
            cpx0 = (tau + sig * p) * x0
            log_ratio = log_base + np.log(self._tier_q[j] / cpx0)  # (R, 1) constant per tier
            with np.errstate(invalid="ignore"):
                utils.append(np.where(log_ratio > 0, A * (log_ratio - F(1.0)) + cpx0, F(0.0)))
            g = sig * p + self._c32 * self._tier_inv_speed[j]  # cost of a gaming Mtok on tier j
            burn.append(g / max(p, F(1e-9)) if self.spend_metric else g)
        for p in active:
            utils = p.tier_utilities(w, utils, self._on(p))
        return _arg_best(utils, np.greater), _arg_best(burn, np.less)

    def metric_ranks(self, m: np.ndarray) -> np.ndarray:
        """Exact (tie-averaged) ranks of this week's metric, computed once per week."""
        if self._ranks_of is not m:
            keyed = self._keyed
            self._ranks, self._sorted_m = rank_data(m, self.nb, keyed[1] if keyed is not None and keyed[0] is m else None)
            self._ranks_of = m
            self._keyed = None
        return self._ranks

    def policy_draws(self, p: Policy) -> tuple[np.ndarray, ...]:
        """This week's draws of a policy's own streams."""
        return self._week_draws[p.id]

    def step(self) -> None:
        """Play one week for every replication in the batch."""
        scn, e = self.scn, self.scn.economy
        t = self.t
        if t >= scn.weeks:
            raise RuntimeError(f"the scenario has only {scn.weeks} weeks")
        for entry in scn.schedule:
            if entry.week == t:
                self._switch(entry, np.ones(self.R, dtype=bool))
        active = [p for p in self.policies if self._on_state(p)[2]]
        # every policy stream advances every week, active or not, so that a replication's draws
        # never depend on what other replications in the batch are doing
        self._week_draws = {
            pid: tuple(st.next() for st in streams if st is not None) for pid, streams in self._policy_streams.items()
        }

        # 1. policies publish; 2. choice (in float32: the menu is wide and utilities only need
        #    to be right to well below the logit temperature)
        F = np.float32
        cp = self._cost_per_token().astype(F)  # sets this week's price and tau
        w = Week(self, self._pub)
        rxy = None
        if self.J:
            cp = self._choose_tiers(active, w)  # sets each employee's tiers and prices
            rxy = self._r
        if self.spend_metric:
            w.mu = self.price
        zeros = self._zeros32
        x0, inv_x0, tau = F(e.x0), F(1.0 / e.x0), F(self.tau)
        nb = self.nb
        gamers = None  # those who may game (finite xg): their rows, columns, and what the menu needs of them
        if nb is not None:  # the same arithmetic as below, in one pass
            ak, pk, m0, m0_capped, xg = _rows(np.empty((5, self.R, self.N), dtype=F))
            rows_g, cols_g = _rows(np.empty((2, self.R * self.N), dtype=np.int64))
            xg_g, xg_x0_g, pk_g, excess_g, hg_g = _rows(np.empty((5, self.R * self.N), dtype=F))
            if self.J:
                ones = np.ones_like(cp) if rxy is None else rxy  # g x 1 and gamma / 2 x 1 x 1 are exact
                n = nb.choice_prep_tiers(self.a, self.k, self._q, self._oms32, cp, self._g, ones, self.maxxer, x0,
                                         inv_x0, F(MAX_TOKENS), F(0.5 * e.gamma), ak, pk, m0, m0_capped, xg,
                                         rows_g, cols_g, xg_g, xg_x0_g, pk_g, excess_g, hg_g)
            else:
                n = nb.choice_prep(self.a, self.k, self._oms32, self._c32, self.maxxer, cp, tau, x0, inv_x0,
                                   F(MAX_TOKENS), ak, pk, m0, m0_capped, xg, rows_g, cols_g, xg_g, xg_x0_g, pk_g, excess_g)
                hg_g[:n] = F(0.5 * e.gamma)
            gamers = (rows_g[:n], cols_g[:n], xg_g[:n], np.log1p(xg_x0_g[:n]), pk_g[:n], excess_g[:n], hg_g[:n])
        else:
            ak = self.a * self.k * self._q if self.J else self.a * self.k
            pk = self._oms32 * ak  # private value weight (1 - s) a k
            m0 = np.maximum(pk / cp - x0, zeros)
            # a maxxer makes the metric with productive tokens until their private net marginal value
            # falls to the marginal cost of gaming (c_i), and burns the rest: x = min(m, xg). Honest
            # employees, and maxxers with c_i >= tau, get xg = inf (never game).
            if self.J:  # moving a metric unit from productive to gaming tokens saves cp - g r per token
                g_r = self._g if rxy is None else self._g * rxy
                gap = (cp - g_r) * self.maxxer  # 0 (or -0) for honest employees: xg = inf below
            else:
                gap = tau - np.maximum(self._c32, tau * ~self.maxxer)
            with np.errstate(divide="ignore", over="ignore"):
                # gap <= 0 divides by +0 (+ 0 turns -0 into +0) and gives +inf; the numerator is kept
                # positive so 0 / 0 cannot occur (with gap > 0 it still gives xg = 0). No np.where:
                # on a random mask it costs 15 elementwise operations (branch mispredictions)
                xg = np.maximum(np.maximum(pk, F(1e-30)) / (np.maximum(gap, zeros) + F(0.0)) - x0, zeros)
        w.m0 = m0
        if gamers is None:  # (the kernels list these with the gaming bound)
            if self.J:
                excess_cost = g_r - cp
                half_gamma = F(0.5 * e.gamma) if rxy is None else F(0.5 * e.gamma) * rxy * rxy
            else:
                excess_cost = None  # c - tau, taken below for those who may game only
                half_gamma = F(0.5 * e.gamma)
        cap = None
        for p in active:
            c = p.cap(w)
            if c is not None:
                with np.errstate(over="ignore"):  # a cap beyond float32's range is no cap: inf
                    c = self._mask(p, c, np.inf).astype(F)
                cap = c if cap is None else np.minimum(cap, c)
        if cap is not None and not np.isfinite(cap).any():
            cap = None
        m0 = m0_capped if nb is not None else np.minimum(m0, F(MAX_TOKENS))
        levels = [m0] + [w.tokens_of(w.pub.quantile(q)).astype(F) for q in scn.choice.quantiles]
        offered = [None] * len(levels)  # None: on the menu everywhere; else (R, 1) where offered
        for p in active:
            for thr in p.thresholds(w):
                thr = np.asarray(thr)  # capped in its own precision (a float64 beyond float32's range), then float32
                levels.append(np.minimum(thr, thr.dtype.type(MAX_TOKENS)).astype(F, copy=False))
                offered.append(None if self.on_everywhere(p) else self.active[p.id][:, None])
        # Utility of metric level m: U = (1-s) V(x) - (tau + sigma p) x - (sigma p + c) y - gamma y^2 / 2
        # with x = min(m, xg), y = m - x. For everyone it starts as if x = m (honest); the few who
        # may game (finite xg) get a correction on their own entries only.
        if gamers is None:
            gam = np.flatnonzero(np.isfinite(xg).ravel())
            rows_g = gam // self.N
            xg_g = xg.ravel()[gam]
            # value is increasing, so ln(1 + min(m, xg)/x0) = min(ln(1 + m/x0), ln(1 + xg/x0)); only
            # for those who may game (log1p of the others' xg = inf takes numpy's slow path)
            log_xg_g = np.log1p(xg_g * inv_x0)
            pk_g = pk.ravel()[gam]
            # gaming minus productive price per token: (sigma p + c) - (tau + sigma p) without tiers
            excess_g = self._c32.ravel()[gam] - tau if excess_cost is None else excess_cost.ravel()[gam]
            hg_g = half_gamma.ravel()[gam] if getattr(half_gamma, "ndim", 0) else half_gamma
            if nb is not None:  # the kernel's arguments
                gamers = (rows_g, gam - rows_g * self.N, xg_g, log_xg_g, pk_g, excess_g,
                          np.full(gam.size, hg_g, dtype=F) if getattr(hg_g, "ndim", 0) == 0 else hg_g)
        split = any(p.uses_split for p in active)
        if split:  # capped: log1p(inf) takes numpy's slow path; every menu level is far below the cap, so
            # min(log_m, log_xg) is the same as uncapped
            log_xg = np.log1p(np.minimum(xg * inv_x0, F(1e30)))
        utilities, menu = [], []
        if nb is not None:  # the kernels' twin of the loop below, on the K utilities as one array
            U = np.empty((len(levels), self.R, self.N), dtype=F)
            logs = []
            for level in levels:  # C-contiguous, so that the kernels take the levels as one tuple type
                m = np.ascontiguousarray(level if cap is None else np.minimum(level, cap))
                menu.append(m)
                logs.append(np.log1p(m * inv_x0))
            status = None  # the leaderboard alone, on everywhere: its status and the logit arguments fused in
            adds = [p for p in active if type(p).expected is not Policy.expected]  # the others add nothing
            if len(adds) == 1 and not split and self.on_everywhere(adds[0]) and all(o is None for o in offered):
                status = adds[0].menu_status(w, menu)
            if status is not None:
                nb.menu_arguments(pk, cp, tuple(menu), tuple(logs), U, *gamers, w.s, *status,
                                  np.float32(1.0 / scn.choice.temperature))
            else:
                nb.menu_utilities(pk, cp, tuple(menu), tuple(logs), U, *gamers)
            splits = {}
            for p in active if status is None else ():  # policy by policy, each adding to every level in turn: the same sums as below
                if self.on_everywhere(p) and p.add_expected_menu(w, menu, U):
                    continue  # added in place by a kernel
                for k, m in enumerate(menu):
                    if split and k not in splits:
                        d = np.maximum(m - xg, zeros)
                        splits[k] = (m - d, (d if rxy is None else d * rxy), ak * np.minimum(logs[k], log_xg))
                    r = p.expected(w, m, *splits.get(k, (None, None, None)))
                    if r is not None:
                        U[k] += self._mask(p, r, 0.0).astype(F, copy=False)
            for k, off in enumerate(offered):  # a policy's threshold is not on the menu where it is off
                if off is not None:
                    np.copyto(U[k], F(-np.inf), where=~off)
        for k, level in enumerate(levels if nb is None else ()):
            m = level if cap is None else np.minimum(level, cap)
            menu.append(m)
            log_m = np.log1p(m * inv_x0)  # a column (R, 1) for menu levels shared by a replication
            u = pk * log_m - cp * m
            if gam.size:
                col = m.shape[1] == 1
                at = rows_g if col else gam  # a column (R, 1) is read by row
                m_g, log_m_g = m.ravel()[at], log_m.ravel()[at]
                y_g = np.maximum(m_g - xg_g, F(0.0))
                u.ravel()[gam] += pk_g * (np.minimum(log_m_g, log_xg_g) - log_m_g) - y_g * (excess_g + hg_g * y_g)
            y = value = None
            x = None
            if split:
                d = np.maximum(m - xg, zeros)
                x, y = m - d, (d if rxy is None else d * rxy)
                value = ak * np.minimum(log_m, log_xg)
            for p in active:
                r = p.expected(w, m, x, y, value)
                if r is not None:
                    u += self._mask(p, r, 0.0).astype(F, copy=False)
            if offered[k] is not None:  # a policy's threshold is not on the menu where it is off
                u = np.where(offered[k], u, -np.inf)
            utilities.append(u)
        slots = None
        if nb is not None:
            if self._slots_fit:  # what the weekly metrics sum, written in place by the kernels
                slots = _Slots(self.R, self.N)
            m, x, y, x_x0 = self._logit_pick_fast(U, scn.choice.temperature, menu, xg, slots, args_done=status is not None)
        else:
            m = self._logit_pick(utilities, scn.choice.temperature, menu)
            x = np.minimum(m, xg)
            y = m - x
        if rxy is not None:  # spend metric with tiers: the metric's gaming share, in gaming-tier tokens
            y = y * rxy

        # 3. outcome
        lr = scn.learning
        k_next = v_key = None
        if nb is not None:  # the kernels write value, cost and next week's skill (into the slots, if any)
            v, cost, k_next = (slots.v, slots.cost, slots.k) if slots else (np.empty_like(x) for _ in range(3))
        if nb is not None and not self.J:  # the same arithmetic as below, in one pass
            v_key = np.empty((self.R, self.N), dtype=np.int64)
            nb.outcome(ak, np.log1p(x_x0, out=x_x0), F(e.shock_sd), self._shocks.next(), F(e.gaming_burden),
                       self._teammates_sum(y), F(self.price), m, self.k, x, F(lr.rate), F(lr.half_saturation),
                       F(lr.decay), v, cost, k_next, v_key)
            metric = w.metric_of(m)
        elif nb is not None:  # with tiers
            nb.outcome_tiers(ak, np.log1p(x_x0, out=x_x0), F(e.shock_sd), self._shocks.next(),
                             F(e.gaming_burden), self._teammates_sum(y), self.price, self.price_y, x, y, self.k,
                             F(lr.rate), F(lr.half_saturation), F(lr.decay), v, cost, k_next)
            if rxy is not None:
                m = x + y
            metric = cost if self.spend_metric else m
        else:
            shock = 1.0 + e.shock_sd * self._shocks.next()
            burden = e.gaming_burden * self._teammates_sum(y)
            v = ak * np.log1p(x / e.x0) * shock - burden
            if self.J:  # productive and gaming tokens may run on different tiers
                cost = self.price * x + self.price_y * y
                if rxy is not None:
                    m = x + y
                metric = cost if self.spend_metric else m
            else:
                cost = self.price * m
                metric = w.metric_of(m)
        out = WeekOutcome(m, x, y, v, cost, slots)
        out.v_key = v_key
        out.metric = metric

        # 4. policies update
        for p in active:
            p.settle(w, out, self._on(p))

        # 5. learning (computed with the outcome on the kernels' path)
        if k_next is None:
            k_next = np.clip(self.k + lr.rate * (1.0 - self.k) * x / (x + lr.half_saturation) - lr.decay * self.k, 0.0, 1.0)
        self.k = k_next

        self.metric_ranks(metric)
        self._pub = Published(self._sorted_m, self.nb)
        self._record(out, ak, self._pub)
        # 6. imitation on this week's visible payoffs, synchronously
        self.m, self.x, self.y, self.v, self.payoff, self.metric = m, x, y, v, out.visible, metric
        self.cost = cost
        self._imitate(out.visible)
        # 7. management triggers, effective next week
        self._check_triggers()
        self.t += 1

    def _teammates_sum(self, y: np.ndarray) -> np.ndarray:
        """Each employee's teammates' total of ``y`` (the team's sum less their own).

        Team sums are numpy's ``add.reduceat`` over each team's columns. With equal teams of at
        most 8 the same sum is built from strided views, in reduceat's own order (the first
        member, plus the others added in turn: numpy's pairwise sum is sequential below 8
        terms), so the result is identical at a third of the cost (tested against reduceat).
        """
        R, N = y.shape
        ts = int(self.team_size[0])
        if ts <= 8 and N % ts == 0 and ts > 1 and self.nb is not None:
            out = np.empty_like(y)
            self.nb.teammates_sum(y, ts, out)
            return out
        if ts <= 8 and N % ts == 0 and ts > 1:
            t = y.reshape(R, N // ts, ts)
            rest = t[..., 1]
            for j in range(2, ts):
                rest = rest + t[..., j]
            team = t[..., 0] + rest
            return (team[:, :, None] - t).reshape(R, N)
        team = np.add.reduceat(y, self.team_start, axis=1)
        return np.repeat(team, self.team_size, axis=1) - y

    def _logit_pick(self, utilities: list[np.ndarray], temperature: float, menu: list[np.ndarray]) -> np.ndarray:
        """Sample a menu level per employee with probability proportional to exp(U / lambda), by
        inverse CDF: level k is picked where the cumulative weight before it is below the target.

        ``menu`` holds each level, (R, N) or a column (R, 1) shared by a replication. The pick is
        gathered as a sum of level x indicator (exact: one term is the level, the others +0),
        which streams through memory where a fancy-indexed gather would not."""
        top = utilities[0]
        for u in utilities[1:]:
            top = np.maximum(top, u)
        inv = np.float32(1.0 / temperature)
        weights = [np.exp((u - top) * inv) for u in utilities]
        total = weights[0]
        for wk in weights[1:]:
            total = total + wk
        target = self._choice.next() * total
        acc = weights[0]
        pick = (acc < target).astype(np.int8)
        for wk in weights[1:-1]:
            acc = acc + wk
            pick += acc < target
        m = menu[0] * (pick == 0).astype(np.float32)
        for k in range(1, len(menu)):
            m += menu[k] * (pick == k).astype(np.float32)
        return m

    def _logit_pick_fast(self, U: np.ndarray, temperature: float, menu: list[np.ndarray], xg: np.ndarray, slots=None,
                         args_done: bool = False):
        """The kernels' twin of :meth:`_logit_pick` on the utilities stacked as U (K, R, N), which
        it overwrites; also returns x = min(m, xg), y = m - x (in ``slots`` if given) and x / x0.
        ``args_done``: U already holds the logit arguments (:func:`sim._kernels.menu_arguments`)."""
        if not args_done:
            self.nb.logit_arguments(U, np.float32(1.0 / temperature))
        np.exp(U, out=U)
        x_x0 = np.empty((self.R, self.N), dtype=np.float32)
        m, x, y = (slots.m, slots.x, slots.y) if slots else (np.empty_like(x_x0) for _ in range(3))
        m_key = np.empty((self.R, self.N), dtype=np.int64)
        self.nb.logit_pick(U, self._choice.next(), tuple(menu), xg, np.float32(self.scn.economy.x0), m, x, y, x_x0, m_key)
        self._keyed = (m, m_key)  # m's sort keys, for its ranking if m is the metric
        return m, x, y, x_x0

    def _imitate(self, payoff: np.ndarray) -> None:
        """Fermi pairwise comparison: with probability q, look at one neighbour j and adopt its
        strategy with probability 1 / (1 + exp(-beta (pi_j - pi_i))). One uniform decides both
        the revision (u < q) and, rescaled as u / q, the adoption."""
        im, N = self.scn.imitation, self.N
        u = self._imitation.next()  # (R, 2N), contiguous: the revision draws, then the neighbour picks
        movable = N >= 2 if self.scn.network.kind == "well_mixed" else self._movable
        if movable and self.nb is not None:  # the same rule in two kernels around numpy's exp
            q = np.float32(im.rate)
            who, other = np.empty(self.R * N, dtype=np.int64), np.empty(self.R * N, dtype=np.int64)
            draw, arg = np.empty(self.R * N, dtype=np.float32), np.empty(self.R * N, dtype=np.float32)
            n = self.nb.imitation_pairs(u, q, payoff, self.degree, self.team, self.team_start, self.team_size, self._cross,
                                        self.scn.network.kind == "well_mixed", np.float32(-im.intensity),
                                        who, other, draw, arg)
            with np.errstate(over="ignore"):
                e = np.exp(arg[:n])
            self.nb.imitation_adopt(q, e, who, other, draw, n, self.maxxer.reshape(-1))
        elif movable:
            q = np.float32(im.rate)
            who = np.flatnonzero(u[:, :N] < q)  # the revisers, as flat indices into (R, N)
            rows = who // N
            cols = who - rows * N
            at = who + rows * N  # where their draws sit in u's flat layout (rows of 2N)
            flat_u = u.reshape(-1)
            if self.scn.network.kind == "well_mixed":
                j = (cols + 1 + (flat_u[at + N] * (N - 1)).astype(np.int64)) % N
            else:
                if self._isolated:  # an employee with no neighbour to look at does not revise
                    has = self.degree[cols] > 0
                    who, rows, cols, at = who[has], rows[has], cols[has], at[has]
                D = self.neighbours.shape[2]
                d = (flat_u[at + N] * self.degree[cols]).astype(np.int64)
                j = self.neighbours.reshape(-1)[who * D + d]
            flat_j = rows * N + j
            flat_pay = payoff.reshape(-1)
            with np.errstate(over="ignore"):
                prob = 1.0 / (1.0 + np.exp(-im.intensity * (flat_pay[flat_j] - flat_pay[who])))
            adopt = flat_u[at] < q * prob
            flat_maxxer = self.maxxer.reshape(-1)
            copied = flat_maxxer[flat_j[adopt]]  # every strategy is read before any is written: synchronous
            flat_maxxer[who[adopt]] = copied
        if self._mutation is not None:
            self.maxxer ^= self._mutation.next() < im.mutation

    def switch(self, activate: Sequence[str] = (), deactivate: Sequence[str] = ()) -> None:
        """Switch policies on or off from the next week on, in every replication (a live decision).

        Args:
            activate: Ids of policies in the scenario to switch on.
            deactivate: Ids to switch off.

        Raises:
            KeyError: An id that is not one of the scenario's policies, naming the valid ones.
        """
        for pid in (*activate, *deactivate):
            if pid not in self.active:
                raise KeyError(f"no policy {pid!r} in this scenario; it has: {', '.join(self.active) or 'none'}")
        for pid in deactivate:
            self.active[pid] = np.zeros(self.R, dtype=bool)
        for pid in activate:
            self.active[pid] = np.ones(self.R, dtype=bool)

    def _switch(self, entry, mask: np.ndarray) -> None:
        for pid in entry.deactivate:
            self.active[pid] = self.active[pid] & ~mask
        for pid in entry.activate:
            self.active[pid] = self.active[pid] | mask

    @property
    def history(self) -> dict[str, np.ndarray]:
        """The weekly metrics so far: name -> (weeks, replications), NaN for weeks not played."""
        if self._derived < len(self._weeks):
            self._derive()
        return self._history

    def _check_triggers(self) -> None:
        for entry, count, fired in self._triggers:
            val = self.history[entry.when.metric][self.t]
            cond = val > entry.when.above if entry.when.above is not None else val < entry.when.below
            count[:] = np.where(cond, count + 1, 0)
            fire = (count >= entry.when.for_weeks) & ~fired
            if fire.any():
                self._switch(entry, fire)
                fired |= fire

    def _record(self, out: WeekOutcome, ak: np.ndarray, pub: Published) -> None:
        e, N = self.scn.economy, self.N
        m, x, y, v, cost = out.m, out.x, out.y, out.v, out.cost
        price, pay = self.price, out.visible
        slots = out.slots
        if slots is not None:
            # the terms stacked, summed row by row in numpy's pairwise order (each row within one
            # block of numpy's cast buffer), so the sums are those below, bit for bit
            J = self.J
            slots.hold(m=m, y=y, cost=cost, v=v, x=x, payouts=out.payouts, visible=pay, k=self.k)
            T32, n_max = np.empty((2 * J, self.R, N), dtype=np.float32), np.empty(self.R, dtype=np.int64)
            members = np.empty(2 * J, dtype=np.int64)
            prices = price if getattr(price, "ndim", 0) else self._price_column(price)
            self.nb.record_terms(x, y, ak, prices, np.float32(e.x0), pay, self.maxxer, self.tier,
                                 self.tier_y if J else self.tier, slots.waste, slots.pay_maxxer, T32, n_max, members)
            s64, p32 = slots.sums(self.nb)
            tot_m, tot_y, tot_cost, tot_v, waste, x_sum = _rows(s64)
            payouts, pay_sum, pm, k_sum = _rows(p32)
            # a tier with nobody on it sums +0 (tokens are >= 0); one with everybody sums what all do
            tiers = [np.zeros(self.R) if c == 0 else (x_sum if j < J else tot_y) if c == self.R * N
                     else T32[j].sum(axis=1, dtype=np.float64) for j, c in enumerate(members)]
            tier_tok = [tiers[j] + tiers[J + j] for j in range(J)]
        else:
            tot_m, tot_y, tot_cost, tot_v = (a.sum(axis=1, dtype=np.float64) for a in (m, y, cost, v))
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                if np.ndim(price):  # tiers: each employee's own price and quality
                    x_price = np.where(price > 0, ak / np.where(price > 0, price, 1.0) - e.x0, np.inf)
                else:
                    x_price = ak / price - e.x0 if price > 0 else np.full_like(x, np.inf)
            waste = np.maximum(x - np.maximum(x_price, 0.0), 0.0).sum(axis=1, dtype=np.float64)
            tier_tok = [  # tokens per tier and replication, productive and gaming
                (x * (self.tier == j)).sum(axis=1, dtype=np.float64) + (y * (self.tier_y == j)).sum(axis=1, dtype=np.float64)
                for j in range(self.J)
            ]
            x_sum, payouts, n_max = x.sum(axis=1, dtype=np.float64), out.payouts.sum(axis=1), self.maxxer.sum(axis=1)
            pay_sum, pm = pay.sum(axis=1), (pay * self.maxxer).sum(axis=1)
            k_sum = self.k.sum(axis=1)
        rho = None
        if N > 2:
            rho = _rank_sums(self.metric_ranks(out.metric), rank_data(v, self.nb, out.v_key, values=False)[0], self.nb)
        budgets = [p for p in self.policies if isinstance(p, Budget)]
        util = budgets[0].util * self.active[budgets[0].id] if budgets else None
        gates = [p for p in self.policies if isinstance(p, RoiGate)]
        throttled = gates[0].capped.mean(axis=1) * self.active[gates[0].id] if gates else None
        if self.J:  # a price index that tiers' prices move and the mix between tiers does not
            with np.errstate(divide="ignore"):
                list_price = float(np.exp(np.mean(np.log(self.tier_prices))))
        else:
            list_price = self.price
        # the metrics are elementwise in these, so they are derived for many weeks at once
        self._weeks.append(_WeekSums(tot_m, tot_y, tot_cost, tot_v, waste, x_sum, out.overhead, payouts, n_max, rho,
                                     k_sum, pub.quantile(0.9)[:, 0].copy(), util, out.audits, out.detections,
                                     throttled, pm, pay_sum, self.tau, list_price, tier_tok,
                                     list(self.tier_prices) if self.J else None))

    def _derive(self) -> None:
        """Turn the recorded weeks' sums into the weekly metrics (the same numbers as week by week)."""
        h, N, t0, t1 = self._history, self.N, self._derived, len(self._weeks)
        c = _WeekSums(*zip(*self._weeks[t0:t1]))  # each field: its values over these weeks
        tot_m, tot_y, tot_cost, tot_v, waste, x_sum, overhead, payouts, n_max, pm, pay_sum = (
            _stack(v) for v in (c.tot_m, c.tot_y, c.tot_cost, c.tot_v, c.waste, c.x_sum, c.overhead, c.payouts,
                                  c.n_max, c.pay_maxxer, c.pay_sum))  # (weeks, R)
        tau = np.array(c.tau, dtype=np.float64)[:, None]
        w = slice(t0, t1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            h["tokens_per_employee"][w] = tot_m / N
            h["cost_per_employee"][w] = tot_cost / N
            h["value_per_employee"][w] = tot_v / N
            h["overhead_per_employee"][w] = overhead / N
            attention = tau * x_sum
            h["attention_per_employee"][w] = attention / N
            h["net_value_per_employee"][w] = (tot_v - tot_cost - attention - overhead) / N
            h["payouts_per_employee"][w] = payouts / N
            h["roi"][w] = np.where(tot_cost > 0, tot_v / np.where(tot_cost > 0, tot_cost, 1.0), np.nan)
            h["gaming_share"][w] = np.where(tot_m > 0, tot_y / np.where(tot_m > 0, tot_m, 1.0), 0.0)
            h["waste_share"][w] = np.where(tot_m > 0, waste / np.where(tot_m > 0, tot_m, 1.0), 0.0)
            h["maxxer_share"][w] = n_max / N
            h["goodhart_rho"][w] = np.nan if c.rho[0] is None else _rho(*(_stack(v) for v in zip(*c.rho)))
            h["mean_skill"][w] = _stack(c.k_sum) / np.float32(N)  # numpy's mean of float32: its float32 sum over N
            h["cutoff"][w] = _stack(c.cutoff)
            h["budget_utilisation"][w] = 0.0 if c.util[0] is None else _stack(c.util)
            h["audits_per_employee"][w] = _stack(c.audits) / N
            h["penalty_rate"][w] = _stack(c.detections) / N
            h["throttled_share"][w] = 0.0 if c.throttled[0] is None else _stack(c.throttled)
            h["payoff_maxxer"][w] = np.where(n_max > 0, pm / np.maximum(n_max, 1), np.nan)
            h["payoff_honest"][w] = np.where(n_max < N, (pay_sum - pm) / np.maximum(N - n_max, 1), np.nan)
            for j, name in enumerate(self.tier_names):
                tok = _stack([week[j] for week in c.tier_tok])
                price = np.array([week[j] for week in c.tier_prices])[:, None]
                h[f"tokens_per_employee[{name}]"][w] = tok / N
                h[f"spend_per_employee[{name}]"][w] = tok * price / N
            h["list_price"][w] = np.array(c.list_price, dtype=np.float64)[:, None]
        self._derived = t1

    def run(self, progress=None) -> dict[str, np.ndarray]:
        """Step to the horizon; return the weekly history, metric -> (weeks, replications)."""
        while self.t < self.scn.weeks:
            self.step()
            if progress is not None:
                progress(1)
        return self.history
