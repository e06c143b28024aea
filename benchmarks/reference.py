"""A per-agent reference implementation of the weekly rules: the readable oracle and the speed peer.

The simulator's engine (:mod:`sim.engine`) plays a week as whole-array operations over
(replications, employees). This module plays the *same* week the way a Mesa model is usually
written: one :class:`ReferenceEmployee` per employee holding its own scalar state, a Python loop
over agents (``model.agents.shuffle_do("choose")`` ...), the ``math`` module, no vectorisation.
It re-implements the rules from docs/ODD.md §7 and does not call the engine. Only the parameter
classes of :mod:`sim.policies` are reused, to validate each policy's parameters and fill in
their defaults.

It serves two purposes:

- **Oracle.** It is meant to be read. Every method's docstring names the engine function it
  mirrors. ``tests/test_reference.py`` checks that the engine and this reference agree *in
  distribution* on the MODEL.md §7 metrics over many replications (the two draw different
  random numbers, so they never agree draw by draw).
- **Speed peer.** :func:`reference_rate` measures its agent-steps per second, for
  ``benchmarks/bench.py``.

Differences that are deliberate and distribution-neutral:

- Scalars are float64 (the engine's state is float32).
- Random numbers come from the model's ``random.Random`` (Mesa's ``model.random``), one draw
  where the engine uses one element of a fixed-width stream; e.g. imitation draws "revise?"
  and "adopt?" as two uniforms where the engine rescales one.
- Ties in ranks are exact float64 ties (the engine ties at float32 resolution).
- An employee with no network neighbour does not imitate (see :meth:`ReferenceEmployee.consider_imitation`).

Example:
    >>> from sim.loader import load_scenario
    >>> scn = load_scenario("leaderboard", ["employees=100", "weeks=10"])
    >>> weekly = run_reference(scn, replications=2, seed=1)
    >>> weekly["tokens_per_employee"].shape
    (10, 2)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import mesa
import numpy as np

from sim.config import Scenario
from sim.metrics import WEEKLY
from sim.policies import REGISTRY, PolicyParams

ROOT = Path(__file__).resolve().parent.parent
INF = math.inf
#: no menu level exceeds this many Mtok per employee-week (as ``sim.engine.MAX_TOKENS``)
MAX_TOKENS = 1e6


def logistic(z: float) -> float:
    """1 / (1 + exp(-z)), without overflow for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)  # z < 0: exp(z) cannot overflow
    return e / (1.0 + e)


def average_ranks(values: list[float]) -> list[float]:
    """Ranks 0..N-1, ties sharing their average rank. Mirrors ``sim.engine.rank_data``."""
    n = len(values)
    order = sorted(range(n), key=values.__getitem__)
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i + 1
        while j < n and values[order[j]] == values[order[i]]:
            j += 1
        mid = (i + j - 1) / 2.0
        for pos in range(i, j):
            ranks[order[pos]] = mid
        i = j
    return ranks


def spearman(ra: list[float], rb: list[float]) -> float:
    """Pearson correlation of two rank lists (Spearman's rho). Mirrors ``sim.engine.rank_correlation``."""
    centre = (len(ra) - 1) / 2.0
    sab = saa = sbb = 0.0
    for a, b in zip(ra, rb):
        da, db = a - centre, b - centre
        sab += da * db
        saa += da * da
        sbb += db * db
    den = math.sqrt(saa * sbb)
    return sab / den if den > 0 else math.nan


class PublishedMetric:
    """Last week's metric distribution as published. Mirrors ``sim.engine.Published``.

    ``quantile`` is the nearest-rank quantile (sorted value at index ceil(q N) - 1); ``cdf`` is
    the log-logistic curve through the published quartiles, with which employees forecast their
    percentile (docs/ODD.md §7.1).
    """

    def __init__(self, metric: list[float]) -> None:
        self.sorted = sorted(metric)
        self.n = len(self.sorted)
        q25, q50, q75 = (math.log(max(self.quantile(q), 1e-9)) for q in (0.25, 0.5, 0.75))
        self.mu = q50
        self.inv_scale = 2.0 * math.log(3.0) / max(q75 - q25, 1e-3)

    def quantile(self, level: float) -> float:
        i = min(self.n - 1, max(0, math.ceil(level * self.n) - 1))
        return self.sorted[i]

    def cdf(self, m: float) -> float:
        if m <= 0.0:
            return 0.0
        return logistic((math.log(m) - self.mu) * self.inv_scale)


@dataclass
class WeekContext:
    """What every employee sees when choosing this week. Mirrors ``sim.engine.Week`` plus the
    shared quantities computed at the top of ``Engine.step``."""

    t: int
    price: float
    sigma_price: float  # sigma * p: the price share the employee bears, per token
    cp: float  # tau + sigma p: the employee's cost per productive Mtok
    published: PublishedMetric
    quantile_levels: list[float]  # last week's quantiles on the menu (choice.quantiles)
    policies: list  # the active policies, in scenario order


# --- policies ----------------------------------------------------------------------------------
class RefPolicy:
    """A policy that does nothing (``none``). Mirrors ``sim.policies.Policy``.

    Hooks, all per employee and scalar: ``thresholds`` (extra menu levels), ``cap`` (a ceiling
    on the metric), ``expected`` (the reward the employee expects from a candidate), and
    ``settle`` (once per week, after the outcome: visible payoffs, overhead, state updates).
    """

    price_share = 0.0

    def __init__(self, pid: str, params: PolicyParams) -> None:
        self.id = pid
        self.p = params

    def reset(self, model: ReferenceEconomy) -> None:
        """Give each employee this policy's starting state."""

    def thresholds(self, agent: ReferenceEmployee, wk: WeekContext) -> list[float]:
        return []

    def cap(self, agent: ReferenceEmployee, wk: WeekContext) -> float:
        return INF

    def expected(self, agent, wk: WeekContext, m: float, x: float, y: float, value: float) -> float:
        return 0.0

    def settle(self, model: ReferenceEconomy, wk: WeekContext) -> None:
        pass


class RefLeaderboard(RefPolicy):
    """Status by rank on tokens. Mirrors ``sim.policies.Leaderboard``.

    Menu: last week's cut-off Q_(1-top_share) times the employee's own aim (1 + a uniform
    draw on [0, 2 margin]), so the employees chasing the bar do not all pick one number.
    Expected status, weighted by s: prize * forecast percentile + top_prize if above last
    week's cut-off. Settle: the unweighted status from this week's exact (tie-averaged) rank."""

    def _cut(self, wk):
        return wk.published.quantile(1.0 - self.p.top_share)

    def thresholds(self, agent, wk):
        return [self._cut(wk) * agent.aim]

    def expected(self, agent, wk, m, x, y, value):
        status = self.p.prize * wk.published.cdf(m) + (self.p.top_prize if m > self._cut(wk) else 0.0)
        return agent.s * status

    def settle(self, model, wk):
        ranks = model.metric_ranks()
        n = len(model.employees)
        top_k = max(1, math.ceil(self.p.top_share * n))
        for agent, r in zip(model.employees, ranks):
            agent.visible += self.p.prize * r / max(n - 1, 1)
            if r >= n - top_k - 1e-9:
                agent.visible += self.p.top_prize


@dataclass
class BudgetAccount:
    """One employee's allocation ($ per period) and spend so far this period."""

    alloc: float
    spent: float = 0.0


class RefBudget(RefPolicy):
    """An allocation per period, optionally use-it-or-lose-it and/or a hard cap.
    Mirrors ``sim.policies.Budget``."""

    def reset(self, model):
        for agent in model.employees:
            agent.ledger[self.id] = BudgetAccount(self.p.allocation)
        self.util = 0.0  # the reported utilisation (first budget policy only)

    def _weeks_left(self, wk):
        return self.p.period_weeks - wk.t % self.p.period_weeks

    def _remaining_tokens(self, agent, wk):
        acct = agent.ledger[self.id]
        left = max(acct.alloc - acct.spent, 0.0)
        return left / wk.price if wk.price > 0 else INF

    def thresholds(self, agent, wk):
        pace = self._remaining_tokens(agent, wk) / self._weeks_left(wk)
        return [pace if math.isfinite(pace) else agent.m0]

    def cap(self, agent, wk):
        return self._remaining_tokens(agent, wk) if self.p.hard_cap else INF

    def expected(self, agent, wk, m, x, y, value):
        if not self.p.use_it_or_lose_it:
            return 0.0
        acct = agent.ledger[self.id]
        # the whole period's penalty if this week's pace were kept to the period end (ODD note 1)
        unused = max(acct.alloc - acct.spent - m * wk.price * self._weeks_left(wk), 0.0) / acct.alloc
        return -self.p.underuse_penalty * unused

    def settle(self, model, wk):
        p = self.p
        end = (wk.t + 1) % p.period_weeks == 0
        elapsed = wk.t % p.period_weeks + 1
        util_sum = 0.0
        for agent in model.employees:
            acct = agent.ledger[self.id]
            acct.spent += agent.cost
            util = acct.spent / acct.alloc
            util_sum += min(util, 1.0) if end else min(util * p.period_weeks / elapsed, 1.0)
            if not end:
                continue
            if p.use_it_or_lose_it:
                unused = max(1.0 - util, 0.0)
                agent.visible -= p.underuse_penalty * unused
                if util >= 0.99:  # used in full: the allocation recovers towards its base
                    acct.alloc += p.shrink * (p.allocation - acct.alloc)
                else:  # under-used: the next allocation shrinks
                    acct.alloc -= p.shrink * unused * acct.alloc
            acct.spent = 0.0
        self.util = util_sum / len(model.employees)


class RefQuota(RefPolicy):
    """A weekly usage floor with a visible penalty below it. Mirrors ``sim.policies.Quota``."""

    def thresholds(self, agent, wk):
        return [self.p.floor]

    def expected(self, agent, wk, m, x, y, value):
        return -self.p.penalty if m < self.p.floor else 0.0

    def settle(self, model, wk):
        for agent in model.employees:
            if agent.m < self.p.floor:
                agent.visible -= self.p.penalty


class RefTokenBonus(RefPolicy):
    """A cash bonus per Mtok used. Mirrors ``sim.policies.TokenBonus``."""

    def expected(self, agent, wk, m, x, y, value):
        return self.p.rate * m

    def settle(self, model, wk):
        for agent in model.employees:
            pay = self.p.rate * agent.m
            agent.visible += pay
            agent.payout += pay


@dataclass
class AuditRecord:
    """One employee's ROI-gate state: the audit window's accumulators and the throttle."""

    value: float = 0.0
    cost: float = 0.0
    gaming: float = 0.0
    tokens: float = 0.0
    throttle: int = 0  # weeks of throttle left
    capped: bool = False  # capped this week (reported as throttled_share)


class RefRoiGate(RefPolicy):
    """Periodic audits of measured ROI; throttle below the hurdle, fine detected gaming.
    Mirrors ``sim.policies.RoiGate``."""

    def reset(self, model):
        for agent in model.employees:
            agent.ledger[self.id] = AuditRecord()
        self.capped_share = 0.0

    def cap(self, agent, wk):
        return self.p.throttle_cap if agent.ledger[self.id].throttle > 0 else INF

    def expected(self, agent, wk, m, x, y, value):
        p = self.p
        detect = min(1.0, p.detection * y / max(m, 1e-12))
        log_roi = math.log(max(value, 1e-12) / max(wk.price * m, 1e-12))
        z = (math.log(max(p.hurdle, 1e-12)) - log_roi) / max(p.noise, 1e-3)
        below = logistic(1.7 * z)  # logistic approximation of the normal cdf
        return -(p.fine * detect + p.throttle_cost * p.throttle_weeks * below) * p.audit_share / p.audit_every

    def settle(self, model, wk):
        p, rnd = self.p, model.random
        audit_week = (wk.t + 1) % p.audit_every == 0
        n_capped = 0
        for agent in model.employees:
            rec = agent.ledger[self.id]
            rec.capped = rec.throttle > 0  # capped this week: charged, counted, then counted down
            if rec.capped:
                n_capped += 1
                agent.visible -= p.throttle_cost
                rec.throttle -= 1
            rec.value += agent.v
            rec.cost += agent.cost
            rec.gaming += agent.y
            rec.tokens += agent.m
            if not audit_week:
                continue
            if rnd.random() < p.audit_share:
                model.overhead += p.audit_cost
                model.audits += 1
                measured = rec.value * math.exp(p.noise * rnd.gauss(0.0, 1.0) - 0.5 * p.noise**2)
                roi = measured / max(rec.cost, 1e-12) if rec.cost > 0 else INF
                if roi < p.hurdle:
                    rec.throttle = p.throttle_weeks
                share = rec.gaming / max(rec.tokens, 1e-12) if rec.tokens > 0 else 0.0
                if rnd.random() < min(1.0, p.detection * share):
                    agent.visible -= p.fine
                    model.detections += 1
            rec.value = rec.cost = rec.gaming = rec.tokens = 0.0
        self.capped_share = n_capped / len(model.employees)


class RefOutputBonus(RefPolicy):
    """A cash bonus on noisily measured real value. Mirrors ``sim.policies.OutputBonus``."""

    def expected(self, agent, wk, m, x, y, value):
        return self.p.rate * value

    def settle(self, model, wk):
        noise = self.p.noise
        for agent in model.employees:
            pay = self.p.rate * max(agent.v, 0.0) * math.exp(noise * model.random.gauss(0.0, 1.0) - 0.5 * noise**2)
            agent.visible += pay
            agent.payout += pay


class RefChargeback(RefPolicy):
    """The employee bears a share of the token price. Mirrors ``sim.policies.Chargeback``."""

    @property
    def price_share(self):
        return self.p.share

    def settle(self, model, wk):
        for agent in model.employees:
            agent.visible -= self.p.share * agent.cost


REFERENCE_POLICIES: dict[str, type[RefPolicy]] = {
    "none": RefPolicy,
    "leaderboard": RefLeaderboard,
    "budget": RefBudget,
    "quota": RefQuota,
    "token_bonus": RefTokenBonus,
    "roi_gate": RefRoiGate,
    "output_bonus": RefOutputBonus,
    "chargeback": RefChargeback,
}


def make_policy(pid: str, raw: dict | None) -> RefPolicy:
    """Validate a ``policies:`` entry with the simulator's parameter class; build its reference twin."""
    raw = dict(raw or {})
    kind = raw.get("type") or pid
    params = REGISTRY[kind].Params.model_validate({**raw, "type": kind})
    return REFERENCE_POLICIES[kind](pid, params)


# --- the employee ------------------------------------------------------------------------------
def draw(rnd, dist) -> float:
    """One draw of a trait distribution. Mirrors ``sim.engine.draw_trait``."""
    if dist.dist == "lognormal":
        return dist.median * math.exp(dist.sigma * rnd.gauss(0.0, 1.0))
    if dist.dist == "beta":
        return rnd.betavariate(dist.a, dist.b)
    if dist.dist == "uniform":
        return rnd.uniform(dist.low, dist.high)
    return float(dist.value)


class ReferenceEmployee(mesa.Agent):
    """One employee, holding its own traits and state as Python floats.

    Attributes:
        a, s, c: productivity ($/week), status seeking in [0, 1], gaming aversion ($/Mtok).
        k: skill in [0, 1].
        maxxer: the strategy (True: maxxer, False: honest).
        m, x, y, v, cost: this week's metric, productive and gaming tokens (Mtok), value and token cost ($).
        visible: this week's visible payoff ($), what peers imitate on.
        team, neighbours: team number and the employees it may imitate.
        ledger: per-policy state (budget account, audit record), by policy id.
    """

    def __init__(self, model: ReferenceEconomy, index: int) -> None:
        super().__init__(model)
        wf, rnd = model.scn.workforce, model.random
        self.index = index
        self.a = draw(rnd, wf.productivity)
        self.s = min(max(draw(rnd, wf.status_seeking), 0.0), 1.0)
        self.c = draw(rnd, wf.gaming_aversion)
        self.k = min(max(draw(rnd, wf.initial_skill), 0.0), 1.0)
        self.maxxer = rnd.random() < wf.initial_maxxer_share
        self.aim = 1.0 + rnd.uniform(0.0, 2.0 * model.scn.choice.margin)
        self.next_maxxer = self.maxxer
        self.m = self.x = self.y = self.v = self.cost = self.visible = self.payout = 0.0
        self.m0 = 0.0
        self.waste = 0.0
        self.team = 0
        self.neighbours: list[ReferenceEmployee] = []
        self.ledger: dict[str, object] = {}

    def optimum(self, cp: float) -> float:
        """The unconstrained optimum m0 = max((1 - s) a k / cp - x0, 0). Mirrors ``Engine._optimum``."""
        return max((1.0 - self.s) * self.a * self.k / cp - self.model.scn.economy.x0, 0.0)

    def gaming_threshold(self) -> float:
        """x_g: where a maxxer stops using productive tokens and starts burning, or inf.

        A maxxer with c < tau makes the metric with productive tokens until their private net
        marginal value (1 - s) a k / (x0 + x) - tau falls to -c, the marginal gaming cost net of
        the productive one; honest employees and maxxers with c >= tau never game.
        Mirrors the ``gap``/``xg`` lines of ``Engine.step``."""
        tau = self.model.scn.economy.attention_cost
        if not self.maxxer or self.c >= tau:
            return INF
        return max((1.0 - self.s) * self.a * self.k / (tau - self.c) - self.model.scn.economy.x0, 0.0)

    def choose(self) -> None:
        """Score the menu and pick a metric level by logit. Mirrors ``Engine.step`` parts 1-2 and
        ``Engine._logit_pick``.

        Menu: own optimum, last week's published quantiles, each active policy's thresholds,
        each clipped to the tightest active cap. For a level m: x = min(m, x_g), y = m - x and

            U = (1 - s) a k ln(1 + x/x0) - (tau + sigma p) x - (sigma p + c) y - gamma y^2 / 2
                + sum of the active policies' expected rewards,

        then P(level) is proportional to exp(U / lambda)."""
        model = self.model
        wk, e = model.week, model.scn.economy
        ak = self.a * self.k
        private = (1.0 - self.s) * ak
        self.m0 = min(max(private / wk.cp - e.x0, 0.0), MAX_TOKENS)
        xg = self.gaming_threshold()
        cap = min([p.cap(self, wk) for p in wk.policies], default=INF)
        levels = [self.m0, *wk.quantile_levels]
        for p in wk.policies:
            levels.extend(min(thr, MAX_TOKENS) for thr in p.thresholds(self, wk))

        candidates, utilities = [], []
        for level in levels:
            m = min(level, cap)
            x = min(m, xg)
            y = m - x
            log_x = math.log1p(x / e.x0)
            u = private * log_x - wk.cp * x - (wk.sigma_price + self.c) * y - 0.5 * e.gamma * y * y
            value = ak * log_x  # un-shocked real value, for policies that reward or audit it
            for p in wk.policies:
                u += p.expected(self, wk, m, x, y, value)
            candidates.append(m)
            utilities.append(u)

        # logit choice, by inverse CDF with one uniform
        top = max(utilities)
        weights = [math.exp((u - top) / model.scn.choice.temperature) for u in utilities]
        target = model.random.random() * sum(weights)
        pick, acc = len(weights) - 1, 0.0
        for j, wj in enumerate(weights):
            acc += wj
            if acc > target:
                pick = j
                break
        self.m = candidates[pick]
        self.x = min(self.m, xg)
        self.y = self.m - self.x

    def produce(self) -> None:
        """Real value with a weekly shock, minus the teammates' gaming burden; token cost; the
        reset of this week's visible payoff and payouts. Mirrors ``Engine.step`` part 3 (and the
        ``waste`` term of ``Engine._record``, which uses skill before learning)."""
        model, e = self.model, self.model.scn.economy
        ak = self.a * self.k
        shock = 1.0 + e.shock_sd * model.random.gauss(0.0, 1.0)
        burden = e.gaming_burden * (model.team_gaming[self.team] - self.y)
        self.v = ak * math.log1p(self.x / e.x0) * shock - burden
        self.cost = e.price * self.m
        self.visible = 0.0
        self.payout = 0.0
        # waste: productive tokens past the point where marginal value a k / (x0 + x) = p
        x_price = ak / e.price - e.x0 if e.price > 0 else INF
        self.waste = max(self.x - max(x_price, 0.0), 0.0)

    def learn(self) -> None:
        """k <- clip(k + eta (1 - k) x / (x + x_half) - decay k, 0, 1). Mirrors ``Engine.step`` part 5."""
        lr = self.model.scn.learning
        k = self.k + lr.rate * (1.0 - self.k) * self.x / (self.x + lr.half_saturation) - lr.decay * self.k
        self.k = min(max(k, 0.0), 1.0)

    def consider_imitation(self) -> None:
        """Fermi pairwise comparison on this week's visible payoffs: with probability q, look at one
        random neighbour j and adopt its strategy with probability 1 / (1 + exp(-beta (pi_j - pi_i))).
        Only ``next_maxxer`` is written, so every employee compares against the strategies of
        before anyone switches (synchronous update). Mirrors ``Engine._imitate``.

        An employee with no neighbour (a team of one without cross links) keeps its strategy;
        the engine's neighbour table would make it compare with employee 0 (see the report)."""
        model, im = self.model, self.model.scn.imitation
        self.next_maxxer = self.maxxer
        rnd = model.random
        if rnd.random() >= im.rate:
            return
        if model.scn.network.kind == "well_mixed":
            n = len(model.employees)
            if n < 2:
                return
            j = model.employees[(self.index + 1 + int(rnd.random() * (n - 1))) % n]
        else:
            if not self.neighbours:
                return
            j = self.neighbours[int(rnd.random() * len(self.neighbours))]
        if rnd.random() < logistic(im.intensity * (j.visible - self.visible)):
            self.next_maxxer = j.maxxer

    def adopt(self) -> None:
        """Apply the imitation decision, then mutate with probability ``mutation``. Mirrors the end
        of ``Engine._imitate``."""
        self.maxxer = self.next_maxxer
        mutation = self.model.scn.imitation.mutation
        if mutation > 0 and self.model.random.random() < mutation:
            self.maxxer = not self.maxxer


# --- the organisation --------------------------------------------------------------------------
class ReferenceEconomy(mesa.Model):
    """One replication of a scenario, played agent by agent.

    Args:
        scn: A validated scenario (:func:`sim.loader.load_scenario`).
        rng: Seed for Mesa's random generators; all draws come from ``self.random``.
    """

    def __init__(self, scn: Scenario, rng: int | None = None) -> None:
        super().__init__(rng=rng)
        self.scn = scn
        self.t = 0
        self.policies = [make_policy(pid, raw) for pid, raw in scn.policies.items()]
        self.active = {p.id: bool(p.p.active) for p in self.policies}
        # trigger entries with their consecutive-week count and whether they have fired
        self.triggers = [{"entry": e, "count": 0, "fired": False} for e in scn.schedule if e.when]
        ReferenceEmployee.create_agents(self, scn.employees, index=list(range(scn.employees)))
        self.employees: list[ReferenceEmployee] = sorted(self.agents, key=lambda a: a.index)
        self._build_network()
        for p in self.policies:
            p.reset(self)
        # week 0 publishes everyone's unconstrained optimum (docs/ODD.md departure 14)
        cp = self._cost_per_token()[1]
        self.published = PublishedMetric([a.optimum(cp) for a in self.employees])
        self.history: dict[str, list[float]] = {name: [] for name in WEEKLY}
        self._ranks: list[float] | None = None

    def _build_network(self) -> None:
        """Contiguous teams, fully connected; in a small world each employee also has ``cross_links``
        links to ring-adjacent teams (offsets +1, -1, +2, -2, ...), each rewired with probability
        ``rewire`` to a random team, to a random member. Mirrors ``Engine._build_network``."""
        net, rnd, n = self.scn.network, self.random, len(self.employees)
        ts = min(net.team_size, n)
        n_teams = (n - 1) // ts + 1
        teams = [self.employees[t * ts : (t + 1) * ts] for t in range(n_teams)]
        self.n_teams = n_teams
        for t, members in enumerate(teams):
            for agent in members:
                agent.team = t
                agent.neighbours = [mate for mate in members if mate is not agent]
        if net.kind != "small_world":
            return
        for agent in self.employees:
            for link in range(net.cross_links):
                side = (link // 2 + 1) * (1 if link % 2 == 0 else -1)
                if rnd.random() < net.rewire:
                    target = rnd.randrange(n_teams)  # possibly its own team (as the engine)
                else:
                    target = (agent.team + side) % n_teams
                members = teams[target]
                agent.neighbours.append(members[int(rnd.random() * len(members))])

    def _cost_per_token(self) -> tuple[float, float]:
        """(sigma p, tau + sigma p), sigma = min(1, price_share + active chargeback shares).
        Mirrors ``Engine._cost_per_token``."""
        e = self.scn.economy
        sigma = min(1.0, e.price_share + sum(p.price_share for p in self.policies if self.active[p.id]))
        return sigma * e.price, e.attention_cost + sigma * e.price

    def metric_ranks(self) -> list[float]:
        """This week's tie-averaged ranks of the metric, computed once. Mirrors ``Engine.metric_ranks``."""
        if self._ranks is None:
            self._ranks = average_ranks([a.m for a in self.employees])
        return self._ranks

    def step(self) -> None:
        """Play one week. Mirrors ``Engine.step``, in the same order."""
        scn = self.scn
        for entry in scn.schedule:  # 0. scheduled switches at the start of their week
            if entry.week == self.t:
                self._switch(entry)
        # 1. publish
        sigma_price, cp = self._cost_per_token()
        self.week = WeekContext(
            t=self.t,
            price=scn.economy.price,
            sigma_price=sigma_price,
            cp=cp,
            published=self.published,
            quantile_levels=[self.published.quantile(q) for q in scn.choice.quantiles],
            policies=[p for p in self.policies if self.active[p.id]],
        )
        self._ranks = None
        # 2. choice
        self.agents.shuffle_do("choose")
        # 3. outcome (the burden needs every teammate's gaming first)
        self.team_gaming = [0.0] * self.n_teams
        for agent in self.employees:
            self.team_gaming[agent.team] += agent.y
        self.agents.shuffle_do("produce")
        # 4. policies settle, in scenario order
        self.overhead = self.audits = self.detections = 0.0
        for p in self.week.policies:
            p.settle(self, self.week)
        # 5. learning
        self.agents.shuffle_do("learn")
        # 6. record; this week's metric is next week's published distribution
        self.published = PublishedMetric([a.m for a in self.employees])
        self._record()
        # 7. imitation: decide every switch first, then apply
        self.agents.shuffle_do("consider_imitation")
        self.agents.do("adopt")
        # 8. management triggers, effective next week
        self._check_triggers()
        self.t += 1
        if self.t >= scn.weeks:
            self.running = False

    def _switch(self, entry) -> None:
        """Mirrors ``Engine._switch``."""
        for pid in entry.deactivate:
            self.active[pid] = False
        for pid in entry.activate:
            self.active[pid] = True

    def _check_triggers(self) -> None:
        """A ``when`` entry fires once, after its condition held ``for_weeks`` consecutive weeks.
        Mirrors ``Engine._check_triggers``."""
        for trig in self.triggers:
            when = trig["entry"].when
            val = self.history[when.metric][-1]
            cond = val > when.above if when.above is not None else val < when.below
            trig["count"] = trig["count"] + 1 if cond else 0
            if trig["count"] >= when.for_weeks and not trig["fired"]:
                self._switch(trig["entry"])
                trig["fired"] = True

    def _record(self) -> None:
        """This week's metrics (sim/metrics.py WEEKLY). Mirrors ``Engine._record``."""
        e, emps, h = self.scn.economy, self.employees, self.history
        n = len(emps)
        tot_m = sum(a.m for a in emps)
        tot_y = sum(a.y for a in emps)
        tot_v = sum(a.v for a in emps)
        tot_cost = sum(a.cost for a in emps)
        attention = e.attention_cost * sum(a.x for a in emps)
        row = {
            "tokens_per_employee": tot_m / n,
            "cost_per_employee": tot_cost / n,
            "value_per_employee": tot_v / n,
            "attention_per_employee": attention / n,
            "net_value_per_employee": (tot_v - tot_cost - attention - self.overhead) / n,
            "overhead_per_employee": self.overhead / n,
            "payouts_per_employee": sum(a.payout for a in emps) / n,
            "roi": tot_v / tot_cost if tot_cost > 0 else math.nan,
            "gaming_share": tot_y / tot_m if tot_m > 0 else 0.0,
            "waste_share": sum(a.waste for a in emps) / tot_m if tot_m > 0 else 0.0,
            "goodhart_rho": spearman(self.metric_ranks(), average_ranks([a.v for a in emps])) if n > 2 else math.nan,
            "mean_skill": sum(a.k for a in emps) / n,
            "cutoff": self.published.quantile(0.9),
            "audits_per_employee": self.audits / n,
            "penalty_rate": self.detections / n,
            "list_price": e.price,  # the reference has no price trends and no tiers
        }
        maxxers = [a for a in emps if a.maxxer]
        honest = [a for a in emps if not a.maxxer]
        row["maxxer_share"] = len(maxxers) / n
        row["payoff_maxxer"] = sum(a.visible for a in maxxers) / len(maxxers) if maxxers else math.nan
        row["payoff_honest"] = sum(a.visible for a in honest) / len(honest) if honest else math.nan
        # the first budget / ROI gate, and 0 while it is off (the engine repeats the value of its
        # last active week there: see tests/test_reference.py)
        budgets = [p for p in self.policies if isinstance(p, RefBudget)]
        row["budget_utilisation"] = budgets[0].util if budgets and self.active[budgets[0].id] else 0.0
        gates = [p for p in self.policies if isinstance(p, RefRoiGate)]
        row["throttled_share"] = gates[0].capped_share if gates and self.active[gates[0].id] else 0.0
        for name in WEEKLY:
            h[name].append(row[name])

    def run(self) -> dict[str, np.ndarray]:
        """Play to the horizon; return metric -> weekly values."""
        while self.running:
            self.step()
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.history.items()}


def replication_seed(seed: int, r: int) -> int:
    """An integer seed for replication r (from numpy's SeedSequence, as the engine's replications)."""
    return int(np.random.SeedSequence(seed, spawn_key=(r,)).generate_state(1, dtype=np.uint64)[0])


def run_reference(scn: Scenario, replications: int, seed: int) -> dict[str, np.ndarray]:
    """Run ``replications`` independent replications; return metric -> array (weeks, replications),
    the layout of ``sim.runner.Results.weekly`` (so ``sim.runner.run_metrics`` applies)."""
    runs = [ReferenceEconomy(scn, rng=replication_seed(seed, r)).run() for r in range(replications)]
    return {k: np.stack([run[k] for run in runs], axis=1) for k in WEEKLY}


def reference_rate(scenario_name: str = "leaderboard", employees: int = 1000, replications: int = 1, weeks: int = 52,
                   seed: int = 1) -> float:
    """Agent-steps per second of the reference (one employee for one week in one replication),
    timing the weekly steps only (as ``benchmarks/bench.py``'s ``engine_rate`` times ``Engine.run``)."""
    from sim.loader import load_scenario

    scn = load_scenario(ROOT / "scenarios" / f"{scenario_name}.yaml",
                        [f"employees={employees}", f"replications={replications}", f"weeks={weeks}"])
    elapsed = 0.0
    for r in range(replications):
        model = ReferenceEconomy(scn, rng=replication_seed(seed, r))
        start = time.perf_counter()
        model.run()
        elapsed += time.perf_counter() - start
    return employees * replications * weeks / elapsed


if __name__ == "__main__":  # pragma: no cover
    import argparse

    ap = argparse.ArgumentParser(description="agent-steps per second of the per-agent reference")
    ap.add_argument("--scenario", default="leaderboard")
    ap.add_argument("--employees", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--replications", type=int, default=1)
    ap.add_argument("--weeks", type=int, default=52)
    args = ap.parse_args()
    for n in args.employees:
        rate = reference_rate(args.scenario, n, args.replications, args.weeks)
        print(f"{args.scenario:12s} {n:>10,d} {args.replications:>5d} {rate / 1e3:>10.1f} k agent-steps/s")
