"""The vectorised weekly step (MODEL.md §4), over arrays shaped (replications, employees).

One :class:`Engine` holds a batch of replications of one scenario. Every state variable is
an array with one row per replication and one column per employee; the week is a fixed
sequence of whole-array operations, with no Python loop over employees. The Mesa model
(:mod:`sim.model`) and the batch runner (:mod:`sim.runner`) both drive this same engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .config import Scenario
from .metrics import WEEKLY
from .policies import Budget, Policy, RoiGate, build
from .streams import CHOICE, IMITATION, NETWORK, SHOCKS, TRAITS, Stream, generators, policy_key


def draw_trait(g: np.random.Generator, dist, n: int) -> np.ndarray:
    """Draw ``n`` values of one trait distribution from generator ``g``."""
    if dist.dist == "lognormal":
        return dist.median * np.exp(dist.sigma * g.standard_normal(n))
    if dist.dist == "beta":
        return g.beta(dist.a, dist.b, n)
    if dist.dist == "uniform":
        return g.uniform(dist.low, dist.high, n)
    return np.full(n, float(dist.value))


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..N-1 along the last axis of a 2-D array, ties getting their average rank."""
    R, N = a.shape
    order = np.argsort(a, axis=1)
    s = np.take_along_axis(a, order, axis=1)
    new = np.ones((R, N), dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    if new.all():
        ranked = np.broadcast_to(np.arange(N, dtype=np.float64), (R, N))
    else:  # tie groups never span rows because new[:, 0] is True
        flat = new.ravel()
        gid = np.cumsum(flat) - 1
        starts = np.flatnonzero(flat)
        ends = np.append(starts[1:], R * N) - 1
        row0 = (np.arange(R * N) // N) * N
        ranked = ((starts + ends)[gid] / 2.0 - row0).reshape(R, N)
    ranks = np.empty((R, N))
    np.put_along_axis(ranks, order, ranked, axis=1)
    return ranks


def rank_correlation(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Pearson correlation of two rank arrays, row by row (Spearman's rho)."""
    da = ra - ra.mean(axis=1, keepdims=True)
    db = rb - rb.mean(axis=1, keepdims=True)
    den = np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (da * db).sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)


class Published:
    """Last week's metric distribution, as the organisation publishes it (MODEL.md §4.1).

    ``quantile`` is exact (nearest rank). ``cdf`` is a log-logistic curve fitted to the
    published quartiles: employees forecast their percentile from a summary, not from
    everyone's exact numbers (a departure recorded in docs/ODD.md).
    """

    def __init__(self, metric: np.ndarray) -> None:
        self.sorted = np.sort(metric, axis=1)
        self.n = metric.shape[1]
        q25, q50, q75 = (np.log(np.maximum(self.quantile(q), 1e-9)) for q in (0.25, 0.5, 0.75))
        self.mu = q50
        self.inv_scale = 2.0 * math.log(3.0) / np.maximum(q75 - q25, 1e-3)

    def quantile(self, level: float) -> np.ndarray:
        i = min(self.n - 1, max(0, int(math.ceil(level * self.n)) - 1))
        return self.sorted[:, i : i + 1]

    def cdf(self, m: np.ndarray) -> np.ndarray:
        z = np.clip((np.log(np.maximum(m, 1e-9)) - self.mu) * self.inv_scale, -50.0, 50.0)
        return 1.0 / (1.0 + np.exp(-z))


class WeekOutcome:
    """What happened this week, and what policies add to it in ``settle``."""

    def __init__(self, m, x, y, v, cost) -> None:
        R = m.shape[0]
        self.m, self.x, self.y, self.v, self.cost = m, x, y, v, cost
        self.visible = np.zeros_like(m)
        self.payouts = np.zeros_like(m)
        self.overhead = np.zeros(R)
        self.audits = np.zeros(R)
        self.detections = np.zeros(R)


class Week:
    """The context a policy sees: the week, prices, traits, and last week's published metric."""

    def __init__(self, eng: Engine, pub: Published) -> None:
        self.eng = eng
        self.t = eng.t
        self.R, self.N = eng.R, eng.N
        self.price = eng.scn.economy.price
        self.margin = eng.scn.choice.margin
        self.a, self.s, self.c, self.k = eng.a, eng.s, eng.c, eng.k
        self.pub = pub
        self.m0: np.ndarray | None = None

    def percentile(self, m: np.ndarray, top_share: float) -> tuple[np.ndarray, np.ndarray]:
        """This week's percentile in [0, 1] and top-board membership, from exact ranks."""
        r = self.eng.metric_ranks(m)
        n = self.N
        top_k = max(1, math.ceil(top_share * n))
        return r / max(n - 1, 1), r >= n - top_k - 1e-9

    def draws(self, policy: Policy) -> tuple[np.ndarray, ...]:
        """The policy's own draws for this week (uniforms, then normals)."""
        return self.eng.policy_draws(policy)


class Engine:
    """A batch of replications of one scenario, stepped one week at a time.

    Args:
        scn: The validated scenario.
        reps: Which replication indices this batch holds (defaults to all of them).
        seed: The master seed (defaults to the scenario's).
    """

    def __init__(self, scn: Scenario, reps: Sequence[int] | None = None, seed: int | None = None) -> None:
        self.scn = scn
        self.seed = scn.seed if seed is None else int(seed)
        self.reps = list(range(scn.replications)) if reps is None else list(reps)
        self.R, self.N = len(self.reps), scn.employees
        self.t = 0
        self.policies = [build(pid, raw) for pid, raw in scn.policies.items()]
        self.active = {p.id: np.full(self.R, bool(p.p.active)) for p in self.policies}
        self._triggers = [
            (e, np.zeros(self.R, dtype=np.int64), np.zeros(self.R, dtype=bool)) for e in scn.schedule if e.when
        ]
        self._draw_traits()
        self._build_network()
        N = self.N
        self._shocks = Stream(self.seed, self.reps, SHOCKS, N, normal=True)
        self._choice = Stream(self.seed, self.reps, CHOICE, N)
        self._imitation = Stream(self.seed, self.reps, IMITATION, 4 * N)
        self._policy_streams = {
            p.id: (
                Stream(self.seed, self.reps, policy_key(p.id), p.uniforms * N) if p.uniforms else None,
                Stream(self.seed, self.reps, policy_key(p.id) + 500_000, p.normals * N, normal=True)
                if p.normals
                else None,
            )
            for p in self.policies
        }
        for p in self.policies:
            p.reset(self)
        zeros = np.zeros((self.R, N))
        self.m, self.x, self.y, self.v, self.payoff = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
        self._pub = Published(self._optimum(self._cost_per_token()))
        self.history = {name: np.full((scn.weeks, self.R), np.nan) for name in WEEKLY}
        self._ranks_of: np.ndarray | None = None
        self._ranks: np.ndarray | None = None

    # --- set-up ------------------------------------------------------------------------------
    def _draw_traits(self) -> None:
        wf, N = self.scn.workforce, self.N
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("a", "s", "c", "k", "maxxer")}
        for g in generators(self.seed, self.reps, TRAITS):
            cols["a"].append(draw_trait(g, wf.productivity, N))
            cols["s"].append(np.clip(draw_trait(g, wf.status_seeking, N), 0.0, 1.0))
            cols["c"].append(draw_trait(g, wf.gaming_aversion, N))
            cols["k"].append(np.clip(draw_trait(g, wf.initial_skill, N), 0.0, 1.0))
            cols["maxxer"].append(g.random(N) < wf.initial_maxxer_share)
        self.a, self.s, self.c, self.k = (np.stack(cols[n]) for n in ("a", "s", "c", "k"))
        self.maxxer = np.stack(cols["maxxer"])

    def _build_network(self) -> None:
        net, N = self.scn.network, self.N
        ts = min(net.team_size, N)
        idx = np.arange(N)
        self.team = idx // ts
        n_teams = int(self.team[-1]) + 1
        self.team_start = np.arange(n_teams) * ts
        self.team_size = np.minimum(ts, N - self.team_start)
        self.pos = idx - self.team_start[self.team]
        mates = self.team_size[self.team] - 1
        L = net.cross_links if net.kind == "small_world" else 0
        self.degree = mates + L
        self.cross = np.zeros((self.R, N, L), dtype=np.int64)
        if net.kind == "small_world" and L:
            sides = np.array([(l // 2 + 1) * (1 if l % 2 == 0 else -1) for l in range(L)])
            for r, g in enumerate(generators(self.seed, self.reps, NETWORK)):
                rewire = g.random((N, L)) < net.rewire
                random_team = g.integers(0, n_teams, (N, L))
                member = g.random((N, L))
                target = np.where(rewire, random_team, (self.team[:, None] + sides[None, :]) % n_teams)
                self.cross[r] = self.team_start[target] + (member * self.team_size[target]).astype(np.int64)

    # --- the week ---------------------------------------------------------------------------
    def _on(self, p: Policy) -> np.ndarray:
        return self.active[p.id][:, None]

    def _cost_per_token(self) -> np.ndarray:
        """tau + sigma * p as seen by the employee, per replication (R, 1)."""
        e = self.scn.economy
        sigma = np.full(self.R, e.price_share)
        for p in self.policies:
            if p.price_share:
                sigma = sigma + self.active[p.id] * p.price_share
        self.sigma = np.minimum(sigma, 1.0)[:, None]
        return e.attention_cost + self.sigma * e.price

    def _optimum(self, cp: np.ndarray) -> np.ndarray:
        """The unconstrained optimum of private value net of attention and charged price."""
        A = (1.0 - self.s) * self.a * self.k
        return np.maximum(A / cp - self.scn.economy.x0, 0.0)

    def metric_ranks(self, m: np.ndarray) -> np.ndarray:
        if self._ranks_of is not m:
            self._ranks = average_ranks(m)
            self._ranks_of = m
        return self._ranks

    def policy_draws(self, p: Policy) -> tuple[np.ndarray, ...]:
        return tuple(s.next() for s in self._policy_streams[p.id] if s is not None)

    def step(self) -> None:
        """Play one week for every replication in the batch."""
        scn, e = self.scn, self.scn.economy
        t = self.t
        if t >= scn.weeks:
            raise RuntimeError(f"the scenario has only {scn.weeks} weeks")
        for entry in scn.schedule:
            if entry.week == t:
                self._switch(entry, np.ones(self.R, dtype=bool))
        active = [p for p in self.policies if self.active[p.id].any()]

        # 1. policies publish; 2. choice
        w = Week(self, self._pub)
        cp = self._cost_per_token()
        A = (1.0 - self.s) * self.a * self.k
        ak = self.a * self.k
        m0 = np.maximum(A / cp - e.x0, 0.0)
        w.m0 = m0
        # a maxxer makes the metric with productive tokens until their private net marginal value
        # falls to the marginal cost of gaming (c_i), and burns the rest
        tau = e.attention_cost
        with np.errstate(divide="ignore"):
            xg = np.where(self.maxxer & (self.c < tau), np.maximum(A / (tau - self.c) - e.x0, 0.0), np.inf)
        cap = np.full((self.R, self.N), np.inf)
        for p in active:
            c = p.cap(w)
            if c is not None:
                cap = np.minimum(cap, np.where(self._on(p), c, np.inf))
        levels = [m0] + [w.pub.quantile(q) for q in scn.choice.quantiles]
        for p in active:
            levels += [np.where(self._on(p), thr, m0) for thr in p.thresholds(w)]
        gaming_price = self.sigma * e.price + self.c
        utilities, menu = [], []
        for level in levels:
            m = np.minimum(level, cap)
            m = np.broadcast_to(m, (self.R, self.N)) if m.shape != cap.shape else m
            x = np.minimum(m, xg)
            y = m - x
            value = ak * np.log1p(x / e.x0)
            u = (1.0 - self.s) * value - cp * x - gaming_price * y - 0.5 * e.gamma * y * y
            for p in active:
                r = p.expected(w, m, x, y, value)
                if r is not None:
                    u = u + self._on(p) * r
            utilities.append(u)
            menu.append(m)
        U = np.stack(utilities)
        weights = np.exp((U - U.max(axis=0)) / scn.choice.temperature)
        cum = np.cumsum(weights, axis=0)
        pick = (cum < self._choice.next() * cum[-1]).sum(axis=0)
        pick = np.minimum(pick, len(levels) - 1)
        m = np.take_along_axis(np.stack(menu), pick[None], axis=0)[0]
        x = np.minimum(m, xg)
        y = m - x

        # 3. outcome
        shock = 1.0 + e.shock_sd * self._shocks.next()
        team_y = np.add.reduceat(y, self.team_start, axis=1)
        burden = e.gaming_burden * (np.repeat(team_y, self.team_size, axis=1) - y)
        v = ak * np.log1p(x / e.x0) * shock - burden
        cost = e.price * m
        out = WeekOutcome(m, x, y, v, cost)

        # 4. policies update
        for p in active:
            p.settle(w, out, self._on(p))

        # 5. learning
        lr = scn.learning
        self.k = np.clip(self.k + lr.rate * (1.0 - self.k) * x / (x + lr.half_saturation) - lr.decay * self.k, 0.0, 1.0)

        self._pub = Published(m)
        self._record(out, ak, self._pub)
        # 6. imitation on this week's visible payoffs, synchronously
        self.m, self.x, self.y, self.v, self.payoff = m, x, y, v, out.visible
        self._imitate(out.visible)
        # 7. management triggers, effective next week
        self._check_triggers()
        self.t += 1

    def _imitate(self, payoff: np.ndarray) -> None:
        im, N = self.scn.imitation, self.N
        u = self._imitation.next()
        revise, pick, adopt, mutate = u[:, :N], u[:, N : 2 * N], u[:, 2 * N : 3 * N], u[:, 3 * N :]
        if self.scn.network.kind == "well_mixed":
            if N < 2:
                return
            j = (np.arange(N) + 1 + (pick * (N - 1)).astype(np.int64)) % N
            j = np.broadcast_to(j, (self.R, N))
        else:
            if self.degree.max() == 0:
                return
            d = (pick * self.degree).astype(np.int64)
            mates = self.team_size[self.team] - 1
            teammate = self.team_start[self.team] + (self.pos + 1 + d) % np.maximum(self.team_size[self.team], 1)
            L = self.cross.shape[2]
            if L:
                which = np.clip(d - mates, 0, L - 1)
                crossj = np.take_along_axis(self.cross, which[..., None], axis=2)[..., 0]
                j = np.where(d < mates, teammate, crossj)
            else:
                j = np.broadcast_to(teammate, (self.R, N))
        pj = np.take_along_axis(payoff, j, axis=1)
        sj = np.take_along_axis(self.maxxer, j, axis=1)
        with np.errstate(over="ignore"):
            prob = 1.0 / (1.0 + np.exp(-im.intensity * (pj - payoff)))
        switch = (revise < im.rate) & (adopt < prob)
        self.maxxer = np.where(switch, sj, self.maxxer) ^ (mutate < im.mutation)

    def _switch(self, entry, mask: np.ndarray) -> None:
        for pid in entry.deactivate:
            self.active[pid] = self.active[pid] & ~mask
        for pid in entry.activate:
            self.active[pid] = self.active[pid] | mask

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
        e, N, h, t = self.scn.economy, self.N, self.history, self.t
        m, x, y, v, cost = out.m, out.x, out.y, out.v, out.cost
        tot_m, tot_y, tot_cost, tot_v = m.sum(axis=1), y.sum(axis=1), cost.sum(axis=1), v.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_price = ak / e.price - e.x0 if e.price > 0 else np.full_like(x, np.inf)
            waste = np.maximum(x - np.maximum(x_price, 0.0), 0.0).sum(axis=1)
            h["tokens_per_employee"][t] = tot_m / N
            h["cost_per_employee"][t] = tot_cost / N
            h["value_per_employee"][t] = tot_v / N
            h["overhead_per_employee"][t] = out.overhead / N
            attention = e.attention_cost * x.sum(axis=1)
            h["attention_per_employee"][t] = attention / N
            h["net_value_per_employee"][t] = (tot_v - tot_cost - attention - out.overhead) / N
            h["payouts_per_employee"][t] = out.payouts.sum(axis=1) / N
            h["roi"][t] = np.where(tot_cost > 0, tot_v / np.where(tot_cost > 0, tot_cost, 1.0), np.nan)
            h["gaming_share"][t] = np.where(tot_m > 0, tot_y / np.where(tot_m > 0, tot_m, 1.0), 0.0)
            h["waste_share"][t] = np.where(tot_m > 0, waste / np.where(tot_m > 0, tot_m, 1.0), 0.0)
            n_max = self.maxxer.sum(axis=1)
            h["maxxer_share"][t] = n_max / N
            h["goodhart_rho"][t] = rank_correlation(self.metric_ranks(m), average_ranks(v)) if N > 2 else np.nan
            h["mean_skill"][t] = self.k.mean(axis=1)
            h["cutoff"][t] = pub.quantile(0.9)[:, 0]
            budgets = [p for p in self.policies if isinstance(p, Budget)]
            h["budget_utilisation"][t] = budgets[0].util if budgets else 0.0
            h["audits_per_employee"][t] = out.audits / N
            h["penalty_rate"][t] = out.detections / N
            gates = [p for p in self.policies if isinstance(p, RoiGate)]
            h["throttled_share"][t] = (gates[0].throttle > 0).mean(axis=1) if gates else 0.0
            pay = out.visible
            pm = (pay * self.maxxer).sum(axis=1)
            h["payoff_maxxer"][t] = np.where(n_max > 0, pm / np.maximum(n_max, 1), np.nan)
            h["payoff_honest"][t] = np.where(n_max < N, (pay.sum(axis=1) - pm) / np.maximum(N - n_max, 1), np.nan)

    def run(self, progress=None) -> dict[str, np.ndarray]:
        """Step to the horizon; return the weekly history, metric -> (weeks, replications)."""
        while self.t < self.scn.weeks:
            self.step()
            if progress is not None:
                progress(1)
        return self.history
