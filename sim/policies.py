"""The incentive policies of MODEL.md §5, each a small class registered by name.

A policy declares its parameters once, in a nested ``Params`` block (type, default, bounds,
unit and source), and hooks into the weekly step through up to five vectorised methods,
all working on arrays shaped (replications, employees):

- ``thresholds(w)``: extra metric levels (Mtok/week) to put on the employees' menu;
- ``cap(w)``: a hard ceiling on the metric (Mtok/week);
- ``expected(w, m, x, y, value)``: the reward or penalty an employee expects from a
  candidate choice, in $ of utility (``x``, ``y`` and ``value`` are given only to policies
  that set ``uses_split = True``, and are None otherwise: computing them costs time);
- ``settle(w, out, on)``: after the week is played, the visible payoffs, overheads and
  state updates (ranks, budgets, audits, throttles);
- ``price_share``: the share of the token price the employee is charged.

The engine masks each hook by ``on``, the replications where the policy is active, so a
schedule or trigger can switch it per replication. Policies stack: every active policy's
contributions are added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from .errors import ScenarioError
from .params import Strict, param

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine, Week, WeekOutcome


class PolicyParams(Strict):
    """Parameters every policy has."""

    type: str = Field("", description="registered policy name; defaults to the policy's id")
    active: bool = Field(True, description="active from week 0 (a schedule can switch it)")


class Policy:
    """Base class: a policy that does nothing. Subclasses override the hooks they need."""

    name: ClassVar[str] = "none"
    summary: ClassVar[str] = "laissez-faire: tokens are free to the employee, nothing is measured"
    source: ClassVar[str] = "baseline (MODEL.md §5)"
    Params: ClassVar[type[PolicyParams]] = PolicyParams
    #: stream draws per replication per week (fixed, so streams stay aligned)
    uniforms: ClassVar[int] = 0
    normals: ClassVar[int] = 0
    hard_cap: ClassVar[bool] = False
    #: expected() needs the productive/gaming split and the value of each candidate
    uses_split: ClassVar[bool] = False

    def __init__(self, pid: str, params: PolicyParams) -> None:
        self.id = pid
        self.p = params

    def reset(self, eng: Engine) -> None:
        """Allocate per-run state for the engine's batch."""

    price_share: float = 0.0

    def thresholds(self, w: Week) -> list[np.ndarray]:
        return []

    def cap(self, w: Week) -> np.ndarray | None:
        return None

    def expected(self, w: Week, m: np.ndarray, x: np.ndarray, y: np.ndarray, value: np.ndarray) -> np.ndarray | None:
        return None

    def add_expected_menu(self, w: Week, menu: list[np.ndarray], U: np.ndarray) -> bool:
        """Add :meth:`expected` of every menu level (each (R, N) or a column (R, 1)) to the
        utilities U (K, R, N) in place, with the engine's numba kernels (``w.eng.nb``), for a
        policy active in every replication; return False to leave it to :meth:`expected`, level
        by level. An override must give the same numbers, bit for bit."""
        return False

    def menu_status(self, w: Week, menu: list[np.ndarray]) -> tuple | None:
        """For a policy whose :meth:`expected` is the leaderboard's status: the arguments of the
        kernels' status arithmetic (see :meth:`Leaderboard.menu_status`), which lets the engine
        fuse it with the menu utilities and the logit arguments. None for any other policy."""
        return None

    def settle(self, w: Week, out: WeekOutcome, on: np.ndarray) -> None:
        """Update state and add visible payoffs/overheads to ``out``; ``on`` is (R, 1) bool."""

    def tier_utilities(self, w: Week, utils: list[np.ndarray], on: np.ndarray) -> list[np.ndarray]:
        """Adjust each tier's utility (one (R, N) array per tier) before employees pick a tier."""
        return utils

    def route(self, w: Week, tx: np.ndarray, ty: np.ndarray, on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Overrule the tiers picked for productive (tx) and gaming (ty) tokens, e.g. after a refused
        justification; returns the tiers used."""
        return tx, ty


class NoPolicy(Policy):
    """Laissez-faire. The company pays for every token and measures nothing."""


class LeaderboardParams(PolicyParams):
    metric: Literal["tokens", "spend"] = Field(
        "tokens", description="what is ranked and published: tokens (Mtok), or spend ($; differs from tokens with tiers)"
    )
    prize: float = param(300.0, ge=0, le=1e6, unit="$/week", doc="status at the top percentile, linear in percentile (prototype)")
    top_share: float = param(0.1, gt=0, le=1, unit="share", doc="share of employees on the visible top board")
    top_prize: float = param(600.0, ge=0, le=1e6, unit="$/week", doc="extra status for making the top board (prototype: 2x prize)")


class Leaderboard(Policy):
    """Ranks employees on token use every week and hands out status by rank.

    Status is worth ``prize`` times the percentile plus ``top_prize`` for the top board, weighted
    by each employee's status-seeking s_i in utility; peers see the unweighted amounts.
    Employees forecast their percentile from last week's published distribution, so they
    aim just above last week's cut-off: a positional arms race (Lazear & Rosen 1981).
    Source: Meta's internal "Claudeonomics" token leaderboard (The Information, April 2026).
    """

    name = "leaderboard"
    summary = "ranks employees on tokens every week; status by percentile and for the top board"
    source = "Meta 'Claudeonomics' (The Information, 2026); Lazear & Rosen (1981)"
    Params = LeaderboardParams

    def thresholds(self, w: Week) -> list[np.ndarray]:
        return [w.tokens_of(w.pub.quantile(1.0 - self.p.top_share) * w.aim)]

    def expected(self, w, m, x, y, value):
        return w.s * self._status(w, w.metric_of(m))

    def _status(self, w, metric):
        cut = w.pub.quantile(1.0 - self.p.top_share)
        return np.float32(self.p.prize) * w.pub.cdf(metric) + np.float32(self.p.top_prize) * (metric > cut)

    def menu_status(self, w, menu) -> tuple:
        """What the kernels need for every menu level's expected status (the arithmetic of
        :meth:`expected`, split around numpy's log and exp): (each level's exp(-z) of its
        forecast percentile, each level's metric, the cut, prize, top prize). Levels shared by a
        replication ((R, 1)) are computed together."""
        nb, pub, F = w.eng.nb, w.pub, np.float32
        metrics = [w.metric_of(m) for m in menu]
        es = [None] * len(menu)
        shared = [k for k, mt in enumerate(metrics) if mt.shape[1] == 1]
        with np.errstate(divide="ignore", over="ignore"):  # pub.cdf's exp(-z), its arithmetic in kernels
            if shared:
                e = np.log(np.concatenate([metrics[k] for k in shared], axis=1))
                nb.logistic_argument(e, pub.mu, pub.inv_scale)
                np.exp(e, out=e)
                for c, k in enumerate(shared):
                    es[k] = np.ascontiguousarray(e[:, c : c + 1])
            for k, metric in enumerate(metrics):
                if es[k] is None:
                    e = np.log(metric)
                    nb.logistic_argument(e, pub.mu, pub.inv_scale)
                    es[k] = np.exp(e, out=e)
        metrics = tuple(np.ascontiguousarray(mt) for mt in metrics)
        return tuple(es), metrics, pub.quantile(1.0 - self.p.top_share), F(self.p.prize), F(self.p.top_prize)

    def add_expected_menu(self, w, menu, U):
        w.eng.nb.add_statuses(U, w.s, *self.menu_status(w, menu))
        return True

    def settle(self, w, out, on):
        F = np.float32
        if w.eng.nb is not None and w.eng.on_everywhere(self):  # the same arithmetic, fused
            w.eng.nb.add_board_status(out.visible, w.eng.metric_ranks(out.metric), F(max(w.N - 1, 1)),
                                      F(w.top_rank(self.p.top_share)), F(self.p.prize), F(self.p.top_prize))
            return
        pct, top = w.percentile(out.metric, self.p.top_share)
        out.visible += on * (F(self.p.prize) * pct + F(self.p.top_prize) * top)


class BudgetParams(PolicyParams):
    allocation: float = param(1000.0, gt=0, le=1e9, unit="$/employee/period", doc="token allocation per period")
    period_weeks: int = Field(4, ge=1, le=520, description="weeks per allocation period")
    use_it_or_lose_it: bool = Field(True, description="under-use shrinks the next allocation and signals low adoption")
    shrink: float = param(0.5, ge=0, le=1, unit="share", doc="share of the unused allocation removed next period")
    underuse_penalty: float = param(
        400.0, ge=0, le=1e6, unit="$/period", doc="visible penalty at 100% unused (calibrated: utilisation nears 100%)"
    )
    hard_cap: bool = Field(False, description="spending cannot exceed what is left of the allocation")


class Budget(Policy):
    """A token allocation per period, optionally use-it-or-lose-it and optionally a hard cap.

    With ``use_it_or_lose_it`` an employee who leaves part of the allocation unused gets a
    visible penalty (a low-adoption signal) and a smaller allocation next period; used fully,
    the allocation recovers towards its base. Each week employees anticipate the penalty they
    would get if they kept this week's pace for the rest of the period.
    Source: reports of staff told to "spend their entire allocation" (MODEL.md §5).
    """

    name = "budget"
    summary = "an allocation per period; use-it-or-lose-it shrinks it after under-use; optional hard cap"
    source = "'spend their entire allocation' reports (MODEL.md §5)"
    Params = BudgetParams

    def reset(self, eng):
        self.alloc = np.full((eng.R, eng.N), self.p.allocation)
        self.spent = np.zeros((eng.R, eng.N))
        self.util = np.zeros(eng.R)

    def _weeks_left(self, w):
        return self.p.period_weeks - w.t % self.p.period_weeks

    def _remaining_tokens(self, w):
        left = np.maximum(self.alloc - self.spent, 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a near-free token: no limit (inf)
            if np.ndim(w.price):  # tiers: each employee's price
                return np.where(w.price > 0, left / np.where(w.price > 0, w.price, 1.0), np.inf)
            return left / w.price if w.price > 0 else np.full_like(left, np.inf)

    def thresholds(self, w):
        pace = self._remaining_tokens(w) / self._weeks_left(w)
        return [np.where(np.isfinite(pace), pace, w.m0)]

    def cap(self, w):
        return self._remaining_tokens(w) if self.p.hard_cap else None

    def expected(self, w, m, x, y, value):
        if not self.p.use_it_or_lose_it:
            return None
        wl = self._weeks_left(w)
        unused = np.maximum(self.alloc - self.spent - m * w.price * wl, 0.0) / np.maximum(self.alloc, 1e-9)
        return -self.p.underuse_penalty * unused

    def settle(self, w, out, on):
        self.spent += on * out.cost
        end = (w.t + 1) % self.p.period_weeks == 0
        util = self.spent / np.maximum(self.alloc, 1e-9)  # a fully shrunk allocation counts as used
        self.util = np.where(on[:, 0], np.minimum(util, 1.0).mean(axis=1) if end else self._pro_rata(w, util), 0.0)
        if not end:
            return
        live = on[:, 0]
        if self.p.use_it_or_lose_it:
            unused = np.maximum(1.0 - util, 0.0)
            out.visible -= on * self.p.underuse_penalty * unused
            shrunk = self.alloc - self.p.shrink * unused * self.alloc
            recovered = self.alloc + self.p.shrink * (self.p.allocation - self.alloc)
            self.alloc = np.where(on, np.where(util >= 0.99, recovered, shrunk), self.alloc)
        self.spent[live] = 0.0

    def _pro_rata(self, w, util):
        elapsed = w.t % self.p.period_weeks + 1
        return np.minimum(util * self.p.period_weeks / elapsed, 1.0).mean(axis=1)


class QuotaParams(PolicyParams):
    floor: float = param(50.0, ge=0, le=1e9, unit="Mtok/week", doc="minimum weekly use (a usage mandate)")
    penalty: float = param(150.0, ge=0, le=1e6, unit="$/week", doc="visible penalty for a week below the floor")


class Quota(Policy):
    """A usage mandate: a minimum number of tokens a week, with a visible penalty below it.

    Source: Salesforce-style AI spend floors (MODEL.md §5).
    """

    name = "quota"
    summary = "a minimum weekly usage; weeks below the floor are penalised"
    source = "Salesforce spend floors (MODEL.md §5)"
    Params = QuotaParams

    def thresholds(self, w):
        return [np.full((w.R, 1), self.p.floor)]

    def expected(self, w, m, x, y, value):
        return -self.p.penalty * (m < self.p.floor)

    def settle(self, w, out, on):
        out.visible -= on * self.p.penalty * (out.m < self.p.floor)


class TokenBonusParams(PolicyParams):
    rate: float = param(1.0, ge=0, le=1e4, unit="$/Mtok", doc="cash bonus per Mtok used")


class TokenBonus(Policy):
    """A linear bonus per token used: Holmström and Milgrom's linear contract on the measured task.

    Paying on a measure that can be inflated at a private cost pulls effort into the
    inflation (Holmström & Milgrom 1991; Baker 1992). Bonuses are cash payouts, reported apart
    from net value, which counts the real resources used.
    """

    name = "token_bonus"
    summary = "a cash bonus per Mtok used (a linear contract on the measure)"
    source = "Holmström & Milgrom (1991)"
    Params = TokenBonusParams

    def expected(self, w, m, x, y, value):
        return self.p.rate * m

    def settle(self, w, out, on):
        pay = on * self.p.rate * out.m
        out.visible += pay
        out.payouts += pay


class RoiGateParams(PolicyParams):
    audit_every: int = Field(4, ge=1, le=520, description="weeks between audits (A)")
    audit_share: float = param(1.0, gt=0, le=1, unit="share", doc="share of employees audited each round")
    hurdle: float = param(1.0, ge=0, le=1e3, unit="ratio", doc="measured ROI below which usage is throttled")
    noise: float = param(0.3, ge=0, le=5, unit="log sd", doc="lognormal noise on measured value")
    throttle_weeks: int = Field(4, ge=0, le=520, description="weeks a failed audit throttles usage (T)")
    throttle_cap: float = param(5.0, ge=0, le=1e9, unit="Mtok/week", doc="usage ceiling while throttled")
    throttle_cost: float = param(100.0, ge=0, le=1e6, unit="$/week", doc="visible standing loss while throttled")
    detection: float = param(1.0, ge=0, le=1e3, unit="-", doc="P(detect) = min(1, detection * gaming share)")
    fine: float = param(500.0, ge=0, le=1e7, unit="$", doc="visible penalty when gaming is detected")
    audit_cost: float = param(25.0, ge=0, le=1e6, unit="$/audit", doc="overhead per employee audited")


class RoiGate(Policy):
    """Periodic ROI audits: throttle low measured ROI, penalise detected gaming.

    Every ``audit_every`` weeks a share of employees is audited on value / cost over the window,
    with lognormal measurement noise. Below the hurdle, usage is capped for ``throttle_weeks``.
    Gaming is detected with probability rising in the gaming share y/(x+y), and fined. Each
    audit costs overhead. Source: firms "demanding ROI calculations" after the bill (MODEL.md §5).
    """

    name = "roi_gate"
    summary = "periodic ROI audits; low measured ROI is throttled, detected gaming is fined"
    source = "'demanding ROI calculations' (MODEL.md §5)"
    Params = RoiGateParams
    uniforms = 2
    normals = 1
    hard_cap = True
    uses_split = True

    def reset(self, eng):
        shape = (eng.R, eng.N)
        self.acc_value, self.acc_cost = np.zeros(shape), np.zeros(shape)
        self.acc_y, self.acc_m = np.zeros(shape), np.zeros(shape)
        self.throttle = np.zeros(shape, dtype=np.int32)
        self.capped = np.zeros(shape, dtype=bool)

    def cap(self, w):
        return np.where(self.throttle > 0, self.p.throttle_cap, np.inf)

    def expected(self, w, m, x, y, value):
        p = self.p
        detect = np.minimum(1.0, p.detection * y / np.maximum(m, 1e-12))
        cost = np.maximum(w.price * m, 1e-12)
        log_roi = np.log(np.maximum(value, 1e-12) / cost)
        z = (np.log(max(p.hurdle, 1e-12)) - log_roi) / max(p.noise, 1e-3)
        with np.errstate(over="ignore"):
            below = 1.0 / (1.0 + np.exp(-1.7 * z))  # logistic approximation of the normal cdf
        return -(p.fine * detect + p.throttle_cost * p.throttle_weeks * below) * p.audit_share / p.audit_every

    def settle(self, w, out, on):
        p = self.p
        u, z = w.draws(self)
        capped = on & (self.throttle > 0)  # capped this week: charged, counted, then counted down
        out.visible -= p.throttle_cost * capped
        self.capped = capped
        self.throttle = np.where(capped, self.throttle - 1, self.throttle)
        self.acc_value += on * out.v
        self.acc_cost += on * out.cost
        self.acc_y += on * out.y
        self.acc_m += on * out.m
        if (w.t + 1) % p.audit_every:
            return
        audited = on & (u[:, : w.N] < p.audit_share)
        measured = self.acc_value * np.exp(p.noise * z - 0.5 * p.noise**2)
        roi = np.where(self.acc_cost > 0, measured / np.maximum(self.acc_cost, 1e-12), np.inf)
        failed = audited & (roi < p.hurdle)
        self.throttle = np.where(failed, p.throttle_weeks, self.throttle)
        share = np.where(self.acc_m > 0, self.acc_y / np.maximum(self.acc_m, 1e-12), 0.0)
        caught = audited & (u[:, w.N :] < np.minimum(1.0, p.detection * share))
        out.visible -= p.fine * caught
        out.overhead += p.audit_cost * audited.sum(axis=1)
        out.audits += audited.sum(axis=1)
        out.detections += caught.sum(axis=1)
        for acc in (self.acc_value, self.acc_cost, self.acc_y, self.acc_m):
            acc[on[:, 0]] = 0.0


class OutputBonusParams(PolicyParams):
    rate: float = param(0.1, ge=0, le=10, unit="share", doc="bonus as a share of measured real value")
    noise: float = param(0.2, ge=0, le=5, unit="log sd", doc="lognormal noise on measured value")


class OutputBonus(Policy):
    """A bonus on measured real value, with noise: the better-metric benchmark.

    Rewarding (a noisy measure of) the outcome rather than the input removes the reason to
    game, at the price of risk (Holmström & Milgrom 1991; Baker 1992).
    """

    name = "output_bonus"
    summary = "a cash bonus on measured real value (noisy): the better-metric benchmark"
    source = "Holmström & Milgrom (1991); Baker (1992)"
    Params = OutputBonusParams
    normals = 1
    uses_split = True

    def expected(self, w, m, x, y, value):
        return self.p.rate * value

    def settle(self, w, out, on):
        (z,) = w.draws(self)
        pay = on * self.p.rate * np.maximum(out.v, 0.0) * np.exp(self.p.noise * z - 0.5 * self.p.noise**2)
        out.visible += pay
        out.payouts += pay


class ChargebackParams(PolicyParams):
    share: float = param(0.5, ge=0, le=1, unit="share", doc="sigma, share of the token price charged to the employee")


class Chargeback(Policy):
    """Charge a share of the token bill back to the employee's (or team's) own budget.

    This prices the moral hazard: with sigma > 0 every token, productive or gaming, costs the
    employee sigma * p. The charge is visible.
    """

    name = "chargeback"
    summary = "the employee bears a share sigma of the token price"
    source = "cost-aware alternative (MODEL.md §5)"
    Params = ChargebackParams

    @property
    def price_share(self) -> float:  # type: ignore[override]
        return self.p.share

    def settle(self, w, out, on):
        out.visible -= on * self.p.share * out.cost


class RoutingParams(PolicyParams):
    default_tier: str = Field("mid", description="the tier everyone uses unless a justification is approved")
    justify: tuple[str, ...] = Field(("frontier",), description="tiers that need an approved justification")
    justification_cost: float = param(
        20.0, ge=0, le=1e5, unit="$/request", doc="employee time per justification, counted as overhead"
    )
    rule: Literal["random", "roi"] = Field(
        "random", description="approval: at random with probability `approval`, or when last week's ROI >= `hurdle`"
    )
    approval: float = param(0.5, ge=0, le=1, unit="probability", doc="rule random: chance a request is approved")
    hurdle: float = param(2.0, ge=0, le=1e3, unit="ratio", doc="rule roi: last week's value / cost needed")


class Routing(Policy):
    """Model routing: a default tier, and a justification to use the frontier tier.

    Employees who want a tier listed in ``justify`` file a request each week it is wanted; each
    request costs ``justification_cost`` of their time (counted as overhead, and weighed by the
    employee) and is approved at random or on last week's measured ROI. A refused request falls
    back to ``default_tier``. Source: routing and approval gates for frontier models after the
    bill (MODEL.md §4.8); the tier prices are in docs/ODD.md.
    """

    name = "routing"
    summary = "a default model tier; the frontier tier needs an approved, costly justification"
    source = "model routing after the bill (MODEL.md §4.8)"
    Params = RoutingParams
    uniforms = 1

    def reset(self, eng):
        names = eng.tier_names
        for t in (self.p.default_tier, *self.p.justify):
            if t not in names:
                from .errors import ScenarioError

                raise ScenarioError(
                    f"routing policy '{self.id}' names tier '{t}', but the scenario's tiers are: "
                    f"{', '.join(names) or 'none (set economy.tiers, e.g. tiers: standard)'}",
                    path=f"policies.{self.id}",
                )
        self.default = names.index(self.p.default_tier)
        self.gated = np.array([n in self.p.justify for n in names])
        self.requests = np.zeros((eng.R, eng.N), dtype=bool)

    def _approved(self, w) -> np.ndarray:
        if self.p.rule == "random":
            (u,) = w.draws(self)
            return u < self.p.approval
        eng = w.eng  # last week's value and cost
        return (eng.v >= self.p.hurdle * eng.cost) & (eng.cost > 0)

    def tier_utilities(self, w, utils, on):
        if self.p.rule == "random":
            chance = np.float32(self.p.approval)
        else:
            chance = self._approved(w).astype(np.float32)
        fallback = utils[self.default]
        cost = np.float32(self.p.justification_cost)
        return [
            np.where(on, chance * u + (1 - chance) * fallback - cost, u) if self.gated[j] else u
            for j, u in enumerate(utils)
        ]

    def route(self, w, tx, ty, on):
        gx, gy = self.gated[tx], self.gated[ty]
        asks = on & (gx | gy)  # one request a week covers both uses
        self.requests = asks
        refused = asks & ~self._approved(w)
        d = np.int8(self.default)
        return np.where(refused & gx, d, tx).astype(np.int8), np.where(refused & gy, d, ty).astype(np.int8)

    def settle(self, w, out, on):
        n = (self.requests & on).sum(axis=1)
        out.overhead += self.p.justification_cost * n


#: The registry: every shipped policy, by name. Names are unique (tested).
REGISTRY: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (NoPolicy, Leaderboard, Budget, Quota, TokenBonus, RoiGate, OutputBonus, Chargeback, Routing)
}


def build(pid: str, raw: dict, where=None) -> Policy:
    """Validate one ``policies:`` entry and instantiate its class.

    Args:
        pid: The policy's id (its key under ``policies:``).
        raw: Its parameters as read from YAML.
        where: A callable (path tuple) -> (file, line) for error messages.
    """
    from .loader import validation_error

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        f, line = where(("policies", pid)) if where else (None, None)
        raise ScenarioError("a policy must be a mapping of parameters", file=f, line=line, path=f"policies.{pid}")
    kind = raw.get("type") or pid
    if not isinstance(kind, str) or kind not in REGISTRY:
        kind = str(kind)
        key = ("policies", pid, "type") if "type" in raw else ("policies", pid)
        f, line = where(key) if where else (None, None)
        raise ScenarioError(
            f"unknown policy '{kind}'", file=f, line=line, path=".".join(key), allowed=REGISTRY, got=kind
        )
    cls = REGISTRY[kind]
    try:
        params = cls.Params.model_validate({**raw, "type": kind})
    except Exception as exc:  # pydantic.ValidationError
        raise validation_error(exc, cls.Params, ("policies", pid), where) from None
    return cls(pid, params)
