"""numba kernels for the weekly step: the arithmetic between numpy's transcendental calls.

Imported only through :func:`sim._fast.kernels`. Each kernel fuses a run of whole-array
numpy operations into one pass that works row by row, so its temporaries stay in L1 and
LLVM vectorises its inner loops. They are exact twins of the numpy code they replace:
the same float32 operations in the same order (numba does not contract them into FMAs
without ``fastmath``; ``error_model="numpy"`` drops Python's zero-division checks, which
would stop the loops from vectorising), with every transcendental function left to numpy (whose SIMD
``exp``/``log`` numba cannot match here). Sums follow numpy's own pairwise tree
(:func:`row_sums`). ``tests/test_fast_path.py`` runs every shipped scenario both ways and
compares every number bit for bit.

A 2-D argument documented as "(R, N) or (R, 1)" may be a column shared by a replication's
employees; kernels read it at column 0 then.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

F32 = np.float32


@njit(inline="always")
def _keys_row(b, k):  # pragma: no cover - compiled
    """One row of :func:`sort_keys`: b the float32 values' int32 bits, k their keys."""
    for i in range(b.shape[0]):
        x = b[i]
        x = np.int32(0) if x == np.int32(-2147483648) else x  # -0 is +0
        k[i] = (np.int64(x ^ ((x >> 31) & 0x7FFFFFFF)) << 32) | i


@njit(cache=True, nogil=True, error_model="numpy")
def sort_keys(bits, key):  # pragma: no cover - compiled
    """key = (order-preserving bits << 32) | column, from float32 values (R, N) viewed as int32
    bits; -0 counts as +0."""
    for r in range(bits.shape[0]):
        _keys_row(bits[r], key[r])


@njit(cache=True, nogil=True, error_model="numpy")
def tie_ranks(key, ranks, sorted_bits):  # pragma: no cover - compiled
    """From row-sorted packed keys (order-preserving float32 bits << 32 | column), write
    tie-averaged ranks into ``ranks`` and the sorted values' float32 bits into ``sorted_bits``
    (unless it has no columns: ranks only).

    Every position first gets its own rank; tie groups (equal bits), if any, then get their
    mean position."""
    R, N = key.shape
    values = sorted_bits.shape[1] > 0
    for r in range(R):
        kr, rr = key[r], ranks[r]
        ties = 0
        if values:
            sb = sorted_bits[r]
            for t in range(N):
                x = np.int32(kr[t] >> 32)
                sb[t] = x ^ ((x >> 31) & 0x7FFFFFFF)  # back to the float's own bits
        for t in range(1, N):  # equal bits, equal keys' high halves
            ties += (kr[t] >> 32) == (kr[t - 1] >> 32)
        for t in range(N):
            rr[kr[t] & 0xFFFFFFFF] = np.float32(t)
        if ties:
            i = 0
            for t in range(1, N + 1):
                if t == N or (kr[t] >> 32) != (kr[t - 1] >> 32):
                    if t - i > 1:
                        mid = np.float32((i + t - 1) * 0.5)
                        for q in range(i, t):
                            rr[kr[q] & 0xFFFFFFFF] = mid
                    i = t


@njit(inline="always")
def _menu_utility_row(p, log_m, cp, m, o, r):  # pragma: no cover - compiled
    """Row r of :func:`menu_utility`: o = p * log_m[r] - cp[r] * m[r], with p = pk[r]."""
    N = o.shape[0]
    col_m = m.shape[1] == 1
    col_c = cp.shape[1] == 1
    if col_m and col_c:
        lm, c, mm = log_m[r, 0], cp[r, 0], m[r, 0]
        cm = c * mm
        for i in range(N):
            o[i] = p[i] * lm - cm
    elif col_m:
        lm, mm, c = log_m[r, 0], m[r, 0], cp[r]
        for i in range(N):
            o[i] = p[i] * lm - c[i] * mm
    elif col_c:
        lm, mm, c = log_m[r], m[r], cp[r, 0]
        for i in range(N):
            o[i] = p[i] * lm[i] - c * mm[i]
    else:
        lm, mm, c = log_m[r], m[r], cp[r]
        for i in range(N):
            o[i] = p[i] * lm[i] - c[i] * mm[i]


@njit(cache=True, nogil=True, error_model="numpy")
def menu_utility(pk, log_m, cp, m, out):  # pragma: no cover - compiled
    """out = pk * log_m - cp * m: a menu level's utility before gaming and policies.

    pk: (R, N); log_m, m: (R, N) or (R, 1); cp: (R, N) or (R, 1); out: (R, N)."""
    for r in range(out.shape[0]):
        _menu_utility_row(pk[r], log_m, cp, m, out[r], r)


@njit(inline="always")
def _logit_arguments_row(U, r, top, inv):  # pragma: no cover - compiled
    """Row r of :func:`logit_arguments`, with top (N,) as scratch."""
    K, N = U.shape[0], U.shape[2]
    u0 = U[0, r]
    for i in range(N):
        top[i] = u0[i]
    for k in range(1, K):
        u = U[k, r]
        for i in range(N):
            top[i] = max(top[i], u[i])
    for k in range(K):
        u = U[k, r]
        for i in range(N):
            u[i] = (u[i] - top[i]) * inv


@njit(cache=True, nogil=True, error_model="numpy")
def logit_arguments(U, inv):  # pragma: no cover - compiled
    """In place: U[k] = (U[k] - max_j U[j]) * inv, the arguments of the logit weights' exp."""
    top = np.empty(U.shape[2], dtype=np.float32)
    for r in range(U.shape[1]):
        _logit_arguments_row(U, r, top, inv)


@njit(cache=True, nogil=True, error_model="numpy")
def logit_pick(W, draw, menu, xg, x0, m_out, x_out, y_out, x_x0, m_key):  # pragma: no cover - compiled
    """Inverse-CDF pick of a menu level from the logit weights W (K, R, N), as the engine's
    numpy ``_logit_pick``: level k where the cumulative weight before it is below
    ``draw * total``; the level is gathered as a sum of level x indicator. Also writes
    x = min(m, xg), y = m - x and x / x0, and m's sort keys (:func:`sort_keys`) into m_key.

    menu: a tuple of K arrays, each (R, N) or (R, 1)."""
    K, R, N = W.shape
    one, zero = np.float32(1.0), np.float32(0.0)
    target = np.empty(N, dtype=np.float32)
    acc = np.empty(N, dtype=np.float32)
    pick = np.empty(N, dtype=np.float32)  # the picked level's index, counted in float32 lanes
    for r in range(R):
        w0, d = W[0, r], draw[r]
        for i in range(N):
            target[i] = w0[i]
        for k in range(1, K):
            wk = W[k, r]
            for i in range(N):
                target[i] = target[i] + wk[i]
        for i in range(N):
            target[i] = d[i] * target[i]
            acc[i] = w0[i]
            pick[i] = one if acc[i] < target[i] else zero
        for k in range(1, K - 1):
            wk = W[k, r]
            for i in range(N):
                acc[i] = acc[i] + wk[i]
                pick[i] += one if acc[i] < target[i] else zero
        m = m_out[r]
        for k in range(K):
            lv = menu[k]
            fk = np.float32(k)
            if lv.shape[1] == 1:
                v = lv[r, 0]
                if k == 0:
                    for i in range(N):
                        m[i] = v * (one if pick[i] == fk else zero)
                else:
                    for i in range(N):
                        m[i] += v * (one if pick[i] == fk else zero)
            else:
                row = lv[r]
                if k == 0:
                    for i in range(N):
                        m[i] = row[i] * (one if pick[i] == fk else zero)
                else:
                    for i in range(N):
                        m[i] += row[i] * (one if pick[i] == fk else zero)
        g, x, y, xs = xg[r], x_out[r], y_out[r], x_x0[r]
        for i in range(N):
            x[i] = min(m[i], g[i])
            y[i] = m[i] - x[i]
            xs[i] = x[i] / x0
        _keys_row(m.view(np.int32), m_key[r])


@njit(cache=True, nogil=True, error_model="numpy")
def logistic_argument(log_m, mu, inv_scale):  # pragma: no cover - compiled
    """In place: log_m = -((log_m - mu) * inv_scale), the argument of the forecast
    percentile's exp. mu, inv_scale: (R, 1)."""
    R, N = log_m.shape
    for r in range(R):
        z, a, b = log_m[r], mu[r, 0], inv_scale[r, 0]
        for i in range(N):
            z[i] = -((z[i] - a) * b)


@njit(inline="always")
def _add_status_row(o, si, e, mt, r, cut, prize, top_prize):  # pragma: no cover - compiled
    """Row r of one level's expected status: o += s * (prize * 1 / (1 + e) + top_prize *
    (metric > cut)), with e = exp(-z) of the forecast percentile; e, mt: (R, N), or (R, 1) for a
    level shared by the replication (one status for the row)."""
    one, zero = np.float32(1.0), np.float32(0.0)
    if e.shape[1] == 1:
        v = prize * (one / (one + e[r, 0])) + (top_prize if mt[r, 0] > cut else zero)
        for i in range(o.shape[0]):
            o[i] += si[i] * v
    else:
        er, mr = e[r], mt[r]
        for i in range(o.shape[0]):  # top_prize >= 0, so top_prize * (metric > cut) is the select below
            o[i] += si[i] * (prize * (one / (one + er[i])) + (top_prize if mr[i] > cut else zero))


@njit(cache=True, nogil=True, error_model="numpy")
def add_statuses(U, s, status_e, status_metric, cut, prize, top_prize):  # pragma: no cover - compiled
    """The leaderboard's expected status of every menu level: U[k] += s * (prize * 1 / (1 + e_k)
    + top_prize * (metric_k > cut)), as numpy's arithmetic. status_e, status_metric: tuples of
    K arrays, (R, N) or (R, 1); cut: (R, 1)."""
    K, R, N = U.shape
    for k in range(K):
        for r in range(R):
            _add_status_row(U[k, r], s[r], status_e[k], status_metric[k], r, cut[r, 0], prize, top_prize)


@njit(cache=True, nogil=True, error_model="numpy")
def quartiles(sorted_m, i25, i50, i75, out):  # pragma: no cover - compiled
    """out (R, 3) = the sorted metric at positions i25, i50 and i75, at least 1e-9 (as numpy's
    np.maximum, which keeps a NaN)."""
    lo = np.float32(1e-9)
    for r in range(sorted_m.shape[0]):
        for c, i in enumerate((i25, i50, i75)):
            v = sorted_m[r, i]
            out[r, c] = lo if v < lo else v


_TWO_LN3 = np.float32(2.0 * math.log(3.0))  # as the engine's numpy code rounds it


@njit(cache=True, nogil=True, error_model="numpy")
def log_logistic_fit(logs, mu, inv_scale):  # pragma: no cover - compiled
    """From the quartiles' logs (R, 3): mu = log q50 and inv_scale = 2 ln 3 / max(log q75 - log
    q25, 1e-3), both (R, 1), in float32 as numpy computes them (NEP 50: the Python floats take
    float32)."""
    floor = np.float32(1e-3)
    for r in range(logs.shape[0]):
        mu[r, 0] = logs[r, 1]
        d = logs[r, 2] - logs[r, 0]
        inv_scale[r, 0] = _TWO_LN3 / (floor if d < floor else d)


@njit(cache=True, nogil=True, error_model="numpy")
def _choice_terms(oms, ak, cp, gap, x0, max_tokens):  # pragma: no cover - compiled
    """One employee's pk = (1 - s) ak, optimum max(pk / cp - x0, 0), the optimum capped at
    max_tokens, and gaming bound max(max(pk, 1e-30) / (max(gap, 0) + 0) - x0, 0): gap <= 0 divides
    by +0 (+ 0 turns -0 into +0) and gives +inf, never 0 / 0."""
    zero = np.float32(0.0)
    p = oms * ak
    opt = max(p / cp - x0, zero)
    return p, opt, min(opt, max_tokens), max(max(p, np.float32(1e-30)) / (max(gap, zero) + zero) - x0, zero)


@njit(cache=True, nogil=True, error_model="numpy")
def _gather_gamers(rows, cols, n, xg, pk, inv_x0, xg_g, xg_x0_g, pk_g):  # pragma: no cover - compiled
    """For the n listed (rows, cols): their xg, xg / x0 (as xg * inv_x0) and pk."""
    for t in range(n):
        r, i = rows[t], cols[t]
        x = xg[r, i]
        xg_g[t] = x
        xg_x0_g[t] = x * inv_x0
        pk_g[t] = pk[r, i]


@njit(inline="always")
def _below_bits(x, i0, lim):  # pragma: no cover - compiled
    """A 64-bit mask with bit j set where x[i0 + j] < lim (j < 64): compared a vector at a time."""
    bits = np.uint64(0)
    for j in range(64):
        bits |= np.uint64(x[i0 + j] < lim) << np.uint64(j)
    return bits


@njit(inline="always")
def _list_below(x, lim, r, rows, cols, n):  # pragma: no cover - compiled
    """Append (r, i) to rows/cols from n on for every i, in order, where x[i] < lim; return the
    new count. 64 comparisons make a bit mask, then its set bits are listed (trailing zeros):
    the work follows the listed count, with no branch on each element's outcome."""
    N = x.shape[0]
    i0 = 0
    while i0 + 64 <= N:
        bits = _below_bits(x, i0, lim)
        while bits:
            cols[n] = i0 + trailing_zeros(bits)
            rows[n] = r
            n += 1
            bits &= bits - np.uint64(1)
        i0 += 64
    for i in range(i0, N):  # the last N % 64
        cols[n] = i
        rows[n] = r
        n += np.int64(x[i] < lim)
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def _list_finite(values, r, rows, cols, n):  # pragma: no cover - compiled
    """Append row r's columns where ``values`` is finite (below +inf) to rows/cols from n on;
    return the new count."""
    return _list_below(values, np.float32(np.inf), r, rows, cols, n)


@njit(cache=True, nogil=True, error_model="numpy")
def choice_prep(a, k, oms, c, maxxer, cp, tau, x0, inv_x0, max_tokens, ak, pk, m0, m0_capped, xg,
                rows, cols, xg_g, xg_x0_g, pk_g, excess_g):  # pragma: no cover - compiled
    """Without tiers: ak = a k, pk = (1 - s) ak, the private optimum m0 = max(pk / cp - x0, 0) (and
    capped at max_tokens), and the gaming bound xg = max(max(pk, 1e-30) / (max(tau - max(c, tau *
    honest), 0) + 0) - x0, 0) (+inf for those who never game). cp: (R, 1).

    Lists those who may game (finite xg) in row-major order: their row and column, xg, xg / x0
    (as xg * inv_x0), pk and c - tau; returns how many."""
    R, N = a.shape
    one, zero = np.float32(1.0), np.float32(0.0)
    n = 0
    for r in range(R):
        ar, kr, sr, cr, mr = a[r], k[r], oms[r], c[r], maxxer[r]
        akr, pkr, m0r, m0cr, xgr = ak[r], pk[r], m0[r], m0_capped[r], xg[r]
        cpr = cp[r, 0]
        for i in range(N):
            v = ar[i] * kr[i]
            akr[i] = v
            pkr[i], m0r[i], m0cr[i], xgr[i] = _choice_terms(sr[i], v, cpr, tau - max(cr[i], tau * (zero if mr[i] else one)),
                                                            x0, max_tokens)
        n = _list_finite(xgr, r, rows, cols, n)
    _gather_gamers(rows, cols, n, xg, pk, inv_x0, xg_g, xg_x0_g, pk_g)
    for t in range(n):
        excess_g[t] = c[rows[t], cols[t]] - tau
    return n


@njit(inline="always")
def _next_skill(k, x, rate, half_sat, decay):  # pragma: no cover - compiled
    """Next week's skill, clip(k + rate (1 - k) x / (x + h) - decay k, 0, 1)."""
    one, zero = np.float32(1.0), np.float32(0.0)
    q = k + rate * (one - k) * x / (x + half_sat) - decay * k
    return min(max(q, zero), one)


@njit(cache=True, nogil=True, error_model="numpy")
def outcome(ak, log_x, shock_sd, normals, burden_rate, mates_y, price, m, k, x, rate, half_sat, decay,
            v, cost, k_next, v_key):  # pragma: no cover - compiled
    """Without tiers: v = ak ln(1 + x / x0) (1 + sd z) - burden x mates' y (log_x = ln(1 + x / x0)),
    cost = price m, and next week's skill k' = clip(k + rate (1 - k) x / (x + h) - decay k, 0, 1).
    Also the value's sort keys (:func:`sort_keys`) into v_key, made while the row is in cache."""
    R, N = ak.shape
    one = np.float32(1.0)
    for r in range(R):
        akr, lr_, zr, yr, mr, kr, xr = ak[r], log_x[r], normals[r], mates_y[r], m[r], k[r], x[r]
        vr, cr, kn = v[r], cost[r], k_next[r]
        for i in range(N):
            shock = one + shock_sd * zr[i]
            vr[i] = akr[i] * lr_[i] * shock - burden_rate * yr[i]
            cr[i] = price * mr[i]
            kn[i] = _next_skill(kr[i], xr[i], rate, half_sat, decay)
        _keys_row(vr.view(np.int32), v_key[r])


@njit(cache=True, nogil=True, error_model="numpy")
def teammates_sum(y, ts, out):  # pragma: no cover - compiled
    """Teammates' sums of y for equal teams of ts <= 8 columns, in the order of the engine's
    numpy ``_teammates_sum`` (the first member plus the others added in turn, less one's own)."""
    R, N = y.shape
    if ts == 8:  # the default size, unrolled (a loop of runtime length does not vectorise)
        for r in range(R):
            yr, o = y[r], out[r]
            for t0 in range(0, N, 8):
                rest = (((((yr[t0 + 1] + yr[t0 + 2]) + yr[t0 + 3]) + yr[t0 + 4]) + yr[t0 + 5]) + yr[t0 + 6]) + yr[t0 + 7]
                team = yr[t0] + rest
                for j in range(8):
                    o[t0 + j] = team - yr[t0 + j]
        return
    nt = N // ts
    team = np.empty(nt, dtype=np.float32)
    for r in range(R):  # member by member across the row's teams
        yr, o = y[r], out[r]
        for t in range(nt):
            team[t] = yr[t * ts + 1] if ts > 1 else np.float32(0.0)
        for j in range(2, ts):
            for t in range(nt):
                team[t] = team[t] + yr[t * ts + j]
        for t in range(nt):
            team[t] = yr[t * ts] + team[t]
        for t in range(nt):
            for j in range(ts):
                o[t * ts + j] = team[t] - yr[t * ts + j]


@njit(cache=True, nogil=True, error_model="numpy")
def imitation_pairs(u, q, payoff, degree, team, team_start, team_size, cross, well_mixed, neg_intensity,
                    who, other, draw, arg):  # pragma: no cover - compiled
    """Fermi imitation, first half: the revisers (u < q in the first N draws of each row, in
    row-major order, skipping employees with no neighbour), the neighbour each looks at (drawn
    from the second N draws), and the exp argument -intensity (pi_j - pi_i). Writes flat (R x N)
    indices into ``who`` and ``other``, and each reviser's draw into ``draw``; returns how many.

    Neighbour d of employee i is, as in the engine's table, teammate d (counting on from i
    around the team) while d is below the team's size less one, else cross link d - mates
    (cross: (R, N, L)); the (R, N, D) table itself is too large to stay in cache."""
    R, N2 = u.shape
    N = N2 // 2
    n = 0
    for r in range(R):  # the revisers (u < q), row by row
        n = _list_below(u[r, :N], q, r, other, who, n)
    kept = 0
    for t in range(n):
        r, i = other[t], who[t]
        ur, pr = u[r], payoff[r]
        if well_mixed:  # float32 arithmetic, as numpy's u * (N - 1) on a float32 array; j < 2N
            j = i + 1 + np.int64(ur[N + i] * np.float32(N - 1))
            j = j - N if j >= N else j
        else:  # float64 arithmetic, as numpy's float32 draws times the int32 degrees
            dg = degree[i]
            if dg == 0:  # an employee with no neighbour to look at does not revise
                continue
            d = np.int64(np.float64(ur[N + i]) * np.float64(dg))
            tm = team[i]
            first, size = np.int64(team_start[tm]), np.int64(team_size[tm])
            if d < size - 1:
                j = i + 1 + d
                j = j - size if j >= first + size else j
            else:
                j = np.int64(cross[r, i, d - (size - 1)])
        who[kept] = r * N + i  # kept <= t: entry t is read before it is overwritten
        other[kept] = r * N + j
        draw[kept] = ur[i]
        arg[kept] = neg_intensity * (pr[j] - pr[i])
        kept += 1
    n = kept
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def imitation_adopt(q, e, who, other, draw, n, maxxer):  # pragma: no cover - compiled
    """Fermi imitation, second half: with e = exp(arg), reviser i adopts neighbour j's strategy
    when its draw is below q / (1 + e); every strategy is read before any is written.
    maxxer: the strategies, flat (R x N)."""
    one = np.float32(1.0)
    copied = np.empty(n, dtype=np.bool_)
    for t in range(n):
        copied[t] = maxxer[other[t]]
    for t in range(n):
        if draw[t] < q * (one / (one + e[t])):
            maxxer[who[t]] = copied[t]


@njit(cache=True, nogil=True, error_model="numpy")
def add_board_status(visible, ranks, n1, top_rank, prize, top_prize):  # pragma: no cover - compiled
    """The leaderboard's settle, active everywhere: visible += prize * rank / n1 + top_prize *
    (rank >= top_rank), with n1 = max(n - 1, 1)."""
    R, N = visible.shape
    zero = np.float32(0.0)
    for r in range(R):
        o, rk = visible[r], ranks[r]
        for i in range(N):
            o[i] += prize * (rk[i] / n1) + (top_prize if rk[i] >= top_rank else zero)


# PCG64 (numpy's default bit generator: a 128-bit LCG with the XSL-RR output), stepped here so
# that two replications' generators advance together; numpy's random_raw pays a function call
# per output and runs one dependency chain at a time.
PCG_MULT_HI, PCG_MULT_LO = np.uint64(2549297995355413924), np.uint64(4865540595714422341)


@intrinsic
def _umulhi(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64 (one mulx)."""
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return builder.trunc(builder.lshr(p, ir.Constant(i128, 64)), ir.IntType(64))

    return sig, codegen


@njit(inline="always")
def _pcg_step(hi, lo, inc_hi, inc_lo):  # pragma: no cover - compiled
    """One PCG64 step, state = state * multiplier + increment (mod 2**128), and its output
    rotr64(hi ^ lo, hi >> 58) from the new state, as numpy's pcg64_next64 does."""
    mhi = _umulhi(lo, PCG_MULT_LO) + hi * PCG_MULT_LO + lo * PCG_MULT_HI
    mlo = lo * PCG_MULT_LO
    lo = mlo + inc_lo
    hi = mhi + inc_hi + (np.uint64(1) if lo < mlo else np.uint64(0))
    x, rot = hi ^ lo, hi >> np.uint64(58)
    return hi, lo, (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@njit(inline="always")
def _uniforms_of(x):  # pragma: no cover - compiled
    """The two uniforms numpy's Generator.random(dtype=float32) makes of raw output x: from its
    low 32 bits, then its high 32 bits, the top 24 bits of each times 2**-24 (converted as int32,
    which holds them exactly: one signed conversion instead of an unsigned 64-bit one)."""
    scale = np.float32(1.0 / 16777216.0)
    return (np.float32(np.int32((x & np.uint64(0xFFFFFFFF)) >> np.uint64(8))) * scale,
            np.float32(np.int32(x >> np.uint64(40))) * scale)


@njit(inline="always")
def _put_uniforms(out, r, j, x):  # pragma: no cover - compiled
    """Raw output number j of replication r's two uniforms, at positions 2 j and 2 j + 1 of the
    replication's weeks laid end to end in out (weeks, R, width)."""
    W, R, width = out.shape
    e = 2 * j
    w, c = e // width, e % width
    u0, u1 = _uniforms_of(x)
    out[w, r, c] = u0
    c += 1
    if c == width:
        w, c = w + 1, 0
    out[w, r, c] = u1


@njit(cache=True, nogil=True, error_model="numpy")
def pcg64_uniforms(state, out):  # pragma: no cover - compiled
    """Fill out (weeks, R, width) float32 with the uniforms numpy's Generator.random(dtype=
    float32) would draw, replication r's weeks one after another, from PCG64 states (R, 4)
    uint64 (state high, state low, increment high, increment low), which are advanced. The
    count weeks * width must be even (whole raw outputs; numpy's spare half-word stays unused)."""
    W, R, width = out.shape
    n, half = W * width // 2, width // 2
    for r in range(0, R - 1, 2):  # two replications at a time: two dependency chains in flight
        h0, l0, ih0, il0 = state[r, 0], state[r, 1], state[r, 2], state[r, 3]
        h1, l1, ih1, il1 = state[r + 1, 0], state[r + 1, 1], state[r + 1, 2], state[r + 1, 3]
        if width % 2 == 0:  # a week is whole raw outputs
            for w in range(W):
                o0, o1 = out[w, r], out[w, r + 1]
                for k in range(half):
                    h0, l0, x0 = _pcg_step(h0, l0, ih0, il0)
                    h1, l1, x1 = _pcg_step(h1, l1, ih1, il1)
                    o0[2 * k], o0[2 * k + 1] = _uniforms_of(x0)
                    o1[2 * k], o1[2 * k + 1] = _uniforms_of(x1)
        else:
            for j in range(n):
                h0, l0, x0 = _pcg_step(h0, l0, ih0, il0)
                h1, l1, x1 = _pcg_step(h1, l1, ih1, il1)
                _put_uniforms(out, r, j, x0)
                _put_uniforms(out, r + 1, j, x1)
        state[r, 0], state[r, 1], state[r + 1, 0], state[r + 1, 1] = h0, l0, h1, l1
    if R % 2:  # the last one alone
        r = R - 1
        h0, l0, ih0, il0 = state[r, 0], state[r, 1], state[r, 2], state[r, 3]
        for j in range(n):
            h0, l0, x0 = _pcg_step(h0, l0, ih0, il0)
            _put_uniforms(out, r, j, x0)
        state[r, 0], state[r, 1] = h0, l0


@njit(cache=True, nogil=True, error_model="numpy")
def record_terms(x, y, ak, price, x0, pay, maxxer, tier, tier_y, waste, pay_maxxer, T32, n_max, members):  # pragma: no cover
    """The weekly metrics' elementwise terms, summed afterwards: waste (productive tokens
    beyond the private optimum at list price, max(x - max(ak / price - x0, 0), 0); none where
    price <= 0), the maxxers' visible payoffs (pay x maxxer), and T32 (2 J, R, N): each tier's
    productive tokens (x where tier == j), then each tier's gaming tokens (y where tier_y == j),
    written only for the rows whose tier has some but not all employees (``members``, (2 J,),
    counts them; the engine takes the other rows' sums without them). n_max (R,): maxxers.
    price: (R, N) or (R, 1)."""
    R, N = x.shape
    J = T32.shape[0] // 2
    one, zero, inf = np.float32(1.0), np.float32(0.0), np.float32(np.inf)
    col = price.shape[1] == 1
    for r in range(R):
        xr, akr, pr, mr, wr, pmr = x[r], ak[r], pay[r], maxxer[r], waste[r], pay_maxxer[r]
        count = 0
        for i in range(N):
            p = price[r, 0] if col else price[r, i]
            xp = akr[i] / p - x0 if p > zero else inf
            wr[i] = max(xr[i] - max(xp, zero), zero)
            pmr[i] = pr[i] * (one if mr[i] else zero)
            count += mr[i]
        n_max[r] = count
    if J <= 1:  # no tiers, or one: nothing to count (counting through memory is a serial chain)
        members[:] = R * N
        return
    members[:] = 0
    for r in range(R):
        tr, tyr = tier[r], tier_y[r]
        for i in range(N):
            members[tr[i]] += 1
            members[J + tyr[i]] += 1
    for j in range(2 * J):
        if 0 < members[j] < R * N:
            src, tt, jj = (x, tier, j) if j < J else (y, tier_y, j - J)
            for r in range(R):
                sr, t, o = src[r], tt[r], T32[j, r]
                for i in range(N):
                    o[i] = sr[i] * (one if t[i] == jj else zero)


@njit(cache=True, nogil=True, error_model="numpy")
def rank_sums(ra, rb, centre, leaves, prog, out):  # pragma: no cover - compiled
    """out (3, R) = the float32 sums of da * da, db * db and da * db over each row, with
    da = ra - centre, db = rb - centre: numpy's pairwise sums (:func:`row_sums`) of the
    products, made a row at a time so that they are summed while in cache."""
    R, N = ra.shape
    zero = np.float32(0.0)
    terms = np.empty((3, N), dtype=np.float32)
    stack = np.empty((prog.shape[0], 4), dtype=np.float32)
    aa, bb, ab = terms[0], terms[1], terms[2]
    for r in range(R):
        a, b = ra[r], rb[r]
        for i in range(N):
            da = a[i] - centre
            db = b[i] - centre
            aa[i] = da * da
            bb[i] = db * db
            ab[i] = da * db
        s = _sum_rows4(terms, (0, 1, 2, 2), leaves, prog, zero, stack)
        for q in range(3):
            out[q, r] = zero + s[q]


@njit(cache=True, nogil=True, error_model="numpy")
def choice_prep_tiers(a, k, q, oms, cp, g, r, maxxer, x0, inv_x0, max_tokens, half_gamma, ak, pk, m0, m0_capped, xg,
                      rows, cols, xg_g, xg_x0_g, pk_g, excess_g, hg_g):  # pragma: no cover - compiled
    """:func:`choice_prep` with model tiers: ak = a k q, pk = (1 - s) ak, m0 = max(pk / cp - x0, 0),
    and with g r the cost of a metric unit of gaming tokens (r = 1 when the metric counts tokens),
    xg = max(max(pk, 1e-30) / (max((cp - g r) maxxer, 0) + 0) - x0, 0). Lists those who may game
    with their xg, xg / x0, pk, g r - cp and half_gamma r r; returns how many. cp, g, r: (R, N)."""
    R, N = a.shape
    one, zero = np.float32(1.0), np.float32(0.0)
    n = 0
    for row in range(R):
        ar, kr, qr, sr, cpr, gr, rr, mr = a[row], k[row], q[row], oms[row], cp[row], g[row], r[row], maxxer[row]
        akr, pkr, m0r, m0cr, xgr = ak[row], pk[row], m0[row], m0_capped[row], xg[row]
        for i in range(N):
            v = ar[i] * kr[i] * qr[i]
            akr[i] = v
            pkr[i], m0r[i], m0cr[i], xgr[i] = _choice_terms(sr[i], v, cpr[i], (cpr[i] - gr[i] * rr[i]) * (one if mr[i] else zero),
                                                            x0, max_tokens)
        n = _list_finite(xgr, row, rows, cols, n)
    _gather_gamers(rows, cols, n, xg, pk, inv_x0, xg_g, xg_x0_g, pk_g)
    for t in range(n):
        row, i = rows[t], cols[t]
        excess_g[t] = g[row, i] * r[row, i] - cp[row, i]
        hg_g[t] = half_gamma * r[row, i] * r[row, i]
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def outcome_tiers(ak, log_x, shock_sd, normals, burden_rate, mates_y, px, py, x, y, k, rate, half_sat, decay,
                  v, cost, k_next):  # pragma: no cover - compiled
    """:func:`outcome` with model tiers: productive tokens cost px, gaming tokens py each."""
    R, N = ak.shape
    one = np.float32(1.0)
    for r in range(R):
        akr, lr_, zr, myr, pxr, pyr, xr, yr, kr = ak[r], log_x[r], normals[r], mates_y[r], px[r], py[r], x[r], y[r], k[r]
        vr, cr, kn = v[r], cost[r], k_next[r]
        for i in range(N):
            shock = one + shock_sd * zr[i]
            vr[i] = akr[i] * lr_[i] * shock - burden_rate * myr[i]
            cr[i] = pxr[i] * xr[i] + pyr[i] * yr[i]
            kn[i] = _next_skill(kr[i], xr[i], rate, half_sat, decay)


@njit(cache=True, nogil=True, error_model="numpy")
def tier_base(oms, a, k, out):  # pragma: no cover - compiled
    """out = (1 - s) a k, the value weight before a tier's quality."""
    R, N = a.shape
    for r in range(R):
        o, s_, a_, k_ = out[r], oms[r], a[r], k[r]
        for i in range(N):
            o[i] = s_[i] * a_[i] * k_[i]


@njit(cache=True, nogil=True, error_model="numpy")
def free_tiers(log_base, log_ratio, c, sig, tau, jq, jy, prices, quality, inv_speed, spend,
               tx, ty, px, py, q, g, ratio, cp):  # pragma: no cover - compiled
    """The engine's ``_free_tiers`` and what ``_choose_tiers`` derives from it, in one pass: the
    productive tier is jq where ln base + log_ratio > 0 (else the first), the gaming tier jy where
    c > 0 (else the first); their prices px, py and quality; the cost of a gaming token
    g = sig py + c / speed; the metric ratio px / max(py, 1e-9) on a spend board; and the cost per
    productive token cp = tau + sig px. sig: (R, 1)."""
    R, N = c.shape
    zero, tiny = np.float32(0.0), np.float32(1e-9)
    jq8, jy8, z8 = np.int8(jq), np.int8(jy), np.int8(0)
    for r in range(R):
        lb, cr, s = log_base[r], c[r], sig[r, 0]
        txr, tyr, pxr, pyr, qr, gr, rr, cpr = tx[r], ty[r], px[r], py[r], q[r], g[r], ratio[r], cp[r]
        for i in range(N):
            best = lb[i] + log_ratio > zero
            burns = cr[i] > zero
            txr[i] = jq8 if best else z8
            tyr[i] = jy8 if burns else z8
            p_x = prices[jq] if best else prices[0]
            p_y = prices[jy] if burns else prices[0]
            pxr[i] = p_x
            pyr[i] = p_y
            qr[i] = quality[jq] if best else quality[0]
            gr[i] = s * p_y + cr[i] * (inv_speed[jy] if burns else inv_speed[0])
            if spend:
                rr[i] = p_x / max(p_y, tiny)
            cpr[i] = tau + s * p_x


@njit(cache=True, nogil=True, error_model="numpy")
def menu_utilities(pk, cp, menu, logs, U, rows, cols, xg, log_xg, pk_g, excess, half_gamma):  # pragma: no cover
    """:func:`menu_utility` for every menu level (U[k]), then for each of those who may game (flat
    rows/cols; the other arguments are theirs, in that order), level by level:
    U[k] += pk (min(log_m, log_xg) - log_m) - y (excess + half_gamma y) with y = max(m - xg, 0),
    as the engine's numpy loop. menu, logs: tuples of (R, N) or (R, 1) arrays."""
    for k in range(U.shape[0]):
        menu_utility(pk, logs[k], cp, menu[k], U[k])
    t = 0
    while t < rows.shape[0]:
        t = _gaming_corrections(U, menu, logs, rows[t], t, rows, cols, xg, log_xg, pk_g, excess, half_gamma)


@njit(inline="always")
def _gaming_corrections(U, menu, logs, r, t, rows, cols, xg, log_xg, pk_g, excess, half_gamma):  # pragma: no cover
    """The gaming corrections of row r's gamers, listed from t on (see :func:`menu_utilities`),
    gamer by gamer across the levels; returns where the next row's gamers start."""
    zero = np.float32(0.0)
    while t < rows.shape[0] and rows[t] == r:
        i = cols[t]
        g, lg, p, ex, hg = xg[t], log_xg[t], pk_g[t], excess[t], half_gamma[t]
        for k in range(U.shape[0]):
            m, lm_ = menu[k], logs[k]
            c = 0 if m.shape[1] == 1 else i
            mm, lm = m[r, c], lm_[r, c]
            y = max(mm - g, zero)
            U[k, r, i] = U[k, r, i] + (p * (min(lm, lg) - lm) - y * (ex + hg * y))
        t += 1
    return t


@njit(cache=True, nogil=True, error_model="numpy")
def menu_arguments(pk, cp, menu, logs, U, rows, cols, xg, log_xg, pk_g, excess, half_gamma,
                   s, status_e, status_metric, cut, prize, top_prize, inv):  # pragma: no cover - compiled
    """:func:`menu_utilities`, then the leaderboard's status of every level (:func:`add_statuses`),
    then :func:`logit_arguments`, a row at a time, so that a row's K utilities stay in cache
    between the three: the same operations on each element, in the same order.

    status_e, status_metric: tuples of K arrays, (R, N) or (R, 1): each level's exp(-z) of its
    forecast percentile, and its metric. Those who may game (rows, cols, ...) must be listed in
    row order, as :func:`choice_prep` lists them."""
    K, R, N = U.shape
    top = np.empty(N, dtype=np.float32)
    t = 0
    for r in range(R):
        p = pk[r]
        for k in range(K):
            _menu_utility_row(p, logs[k], cp, menu[k], U[k, r], r)
        t = _gaming_corrections(U, menu, logs, r, t, rows, cols, xg, log_xg, pk_g, excess, half_gamma)
        for k in range(K):
            _add_status_row(U[k, r], s[r], status_e[k], status_metric[k], r, cut[r, 0], prize, top_prize)
        _logit_arguments_row(U, r, top, inv)


@njit(cache=True, nogil=True, error_model="numpy")
def box_muller_prep(u, a, b):  # pragma: no cover - compiled
    """Box-Muller's arithmetic before numpy's log, cos and sin: a = 1 - u1, b = 2 pi u2, where u1
    and u2 are the two halves of each row of u (rows: the last axis; a, b: (rows, half))."""
    half = a.shape[1]
    one, two_pi = np.float32(1.0), np.float32(2.0 * np.pi)
    for r in range(u.shape[0]):
        ur, ar, br = u[r], a[r], b[r]
        for i in range(half):
            ar[i] = one - ur[i]
            br[i] = two_pi * ur[half + i]


@njit(cache=True, nogil=True, error_model="numpy")
def box_muller_finish(log_a, cos_b, sin_b, out):  # pragma: no cover - compiled
    """out[:, :half] = sqrt(-2 log_a) cos_b and out[:, half:2 half] = sqrt(-2 log_a) sin_b (sqrt is
    correctly rounded in both numba and numpy)."""
    half = log_a.shape[1]
    m2 = np.float32(-2.0)
    for r in range(out.shape[0]):
        la, c, s, o = log_a[r], cos_b[r], sin_b[r], out[r]
        for i in range(half):
            radius = np.sqrt(m2 * la[i])
            o[i] = radius * c[i]
            o[half + i] = radius * s[i]


# numpy's pairwise sum, as its reductions run it (numpy/_core/src/umath/loops_utils.h.src): a
# row of n <= 128 sums in 8 accumulators (r[j] += a[i + j], i in steps of 8), then
# ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the n % 8 left one by one; n < 8
# from -0 one by one; a longer row is split at n / 2 rounded down to a multiple of 8 and the
# halves' sums added. A reduction adds the row's sum to its +0 start. The 8 accumulators are
# one vector here, and four rows run together, so that four chains of additions overlap.
@functools.lru_cache(maxsize=64)
def pairwise_plan(n: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy's pairwise tree for rows of n: the leaves (start, length) in order, and a
    post-order program for :func:`row_sums` (k >= 0: push leaf k's sum; -1: add the top two).
    Both read-only (they are shared)."""
    leaves, prog, todo = [], [], [(0, n, False)]
    while todo:  # post-order without recursion: (start, length, children done)
        lo, m, done = todo.pop()
        if m <= 128:
            prog.append(len(leaves))
            leaves.append((lo, m))
        elif done:
            prog.append(-1)
        else:
            m2 = m // 2 - (m // 2) % 8
            todo += [(lo, m, True), (lo + m2, m - m2, False), (lo, m2, False)]
    plan = np.array(leaves, dtype=np.int64).reshape(-1, 2), np.array(prog, dtype=np.int64)
    for a in plan:
        a.flags.writeable = False
    return plan


@intrinsic
def _pairwise_blocks4(typingctx, a, rows, lo, n, zero):
    """numpy's 8-accumulator block sum of a[rows[q], lo:lo + n - n % 8] for q = 0..3 (8 <= n),
    the float32 values widened to zero's type; returns the four sums (the caller adds the tail)."""
    acc_type = zero
    sig = types.UniTuple(acc_type, 4)(a, rows, types.int64, types.int64, zero)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        width = cgutils.unpack_tuple(builder, ary.shape, 2)[1]
        rows = cgutils.unpack_tuple(builder, args[1], 4)
        lo, n = args[2], args[3]
        i64 = ir.IntType(64)
        acc = context.get_value_type(acc_type)
        vin, vacc = ir.VectorType(ir.FloatType(), 8), ir.VectorType(acc, 8)
        starts = [builder.gep(ary.data, [builder.add(builder.mul(r, width), lo)]) for r in rows]

        def load(start, i):
            v = builder.load(builder.bitcast(builder.gep(start, [i]), vin.as_pointer()), align=4)
            return v if acc == ir.FloatType() else builder.fpext(v, vacc)

        first = [load(s, ir.Constant(i64, 0)) for s in starts]
        end = builder.and_(n, ir.Constant(i64, -8))
        entry, fn = builder.block, builder.function
        check, body, done = (fn.append_basic_block(f"pairwise.{s}") for s in ("check", "body", "done"))
        builder.branch(check)
        builder.position_at_end(check)
        i = builder.phi(i64)
        accs = [builder.phi(vacc) for _ in starts]
        i.add_incoming(ir.Constant(i64, 8), entry)
        for phi, v in zip(accs, first):
            phi.add_incoming(v, entry)
        builder.cbranch(builder.icmp_signed("<", i, end), body, done)
        builder.position_at_end(body)
        nexts = [builder.fadd(phi, load(s, i)) for phi, s in zip(accs, starts)]
        i.add_incoming(builder.add(i, ir.Constant(i64, 8)), body)
        for phi, v in zip(accs, nexts):
            phi.add_incoming(v, body)
        builder.branch(check)
        builder.position_at_end(done)
        sums = []
        for phi in accs:
            r = [builder.extract_element(phi, ir.Constant(ir.IntType(32), k)) for k in range(8)]
            sums.append(builder.fadd(builder.fadd(builder.fadd(r[0], r[1]), builder.fadd(r[2], r[3])),
                                     builder.fadd(builder.fadd(r[4], r[5]), builder.fadd(r[6], r[7]))))
        return context.make_tuple(builder, signature.return_type, sums)

    return sig, codegen


@njit(inline="always")
def _sum_rows4(a, rows, leaves, prog, zero, stack):  # pragma: no cover - compiled
    """numpy's pairwise sums of four rows of a (M, N) float32 (rows: four row indices, repeats
    allowed), accumulated in zero's type, through stack (len(prog), 4); without the reduction's
    +0 start."""
    sp = 0
    for op in prog:
        if op < 0:
            for q in range(4):
                stack[sp - 2, q] = stack[sp - 2, q] + stack[sp - 1, q]
            sp -= 1
            continue
        lo, n = leaves[op, 0], leaves[op, 1]
        if n >= 8:
            s = _pairwise_blocks4(a, rows, lo, n, zero)
            for q in range(4):
                stack[sp, q] = s[q]
            start = lo + (n & -8)
        else:
            for q in range(4):
                stack[sp, q] = -zero
            start = lo
        for q in range(4):
            row = a[rows[q]]
            t = stack[sp, q]
            for i in range(start, lo + n):
                t += row[i]
            stack[sp, q] = t
        sp += 1
    return stack[0, 0], stack[0, 1], stack[0, 2], stack[0, 3]


@njit(cache=True, nogil=True, error_model="numpy")
def row_sums(a, leaves, prog, zero, out):  # pragma: no cover - compiled
    """out[q] = a[q].sum(dtype=type(zero)) bit for bit as numpy sums it, for each row of a (M, N)
    float32 (C-contiguous), with (leaves, prog) = pairwise_plan(N). zero: +0 of the float32 or
    float64 accumulator. A float64 sum matches numpy's only for N <= np.getbufsize(): numpy
    casts longer rows block by block."""
    M, N = a.shape
    stack = np.empty((prog.shape[0], 4), dtype=out.dtype)
    for g in range(0, M, 4):  # four rows at a time; past the last row, the last row again
        rows = (g, min(g + 1, M - 1), min(g + 2, M - 1), min(g + 3, M - 1))
        s = _sum_rows4(a, rows, leaves, prog, zero, stack)
        for q in range(min(4, M - g)):
            out[g + q] = zero + s[q]
