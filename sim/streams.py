"""Random streams (MODEL.md §6).

Replication ``r`` of a run with master seed ``S`` owns ``SeedSequence(S, spawn_key=(r,))``,
which is exactly ``SeedSequence(S).spawn(R)[r]``. Each stochastic process of that
replication draws from its own child, keyed by a fixed number, so:

- replication ``r`` is bit-identical whatever batch or worker it runs in;
- two scenarios with the same seed draw the same traits, network, shocks, choice noise and
  imitation draws (common random numbers), whatever policies they run;
- a policy's stream is keyed by its id, so adding a policy never shifts another's draws.

Every stream consumes a fixed number of draws per week, independent of the model state,
which is what keeps the streams aligned across scenarios and batch compositions.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

TRAITS, NETWORK, SHOCKS, CHOICE, IMITATION, MUTATION = 1, 2, 3, 4, 5, 6
BLOCK_WEEKS = 4


def replication_seed(master: int, r: int) -> np.random.SeedSequence:
    """The SeedSequence of replication ``r``: the r-th child of ``SeedSequence(master)``."""
    return np.random.SeedSequence(master, spawn_key=(r,))


def policy_key(policy_id: str) -> int:
    """A stable stream key for a policy, from its id."""
    return 1000 + zlib.crc32(policy_id.encode()) % 1_000_000


def generators(master: int, reps: Sequence[int], key: int) -> list[np.random.Generator]:
    """One generator per replication for the process numbered ``key``."""
    return [np.random.Generator(np.random.PCG64(np.random.SeedSequence(master, spawn_key=(r, key)))) for r in reps]


def _pcg64_states(gens: list[np.random.Generator]) -> np.ndarray:
    """The generators' PCG64 states as an (R, 4) uint64 array: state high and low halves, then
    the increment's; each generator must be at a whole raw output (no spare half-word kept)."""
    st = np.empty((len(gens), 4), dtype=np.uint64)
    mask = (1 << 64) - 1
    for r, g in enumerate(gens):
        s = g.bit_generator.state
        if s["bit_generator"] != "PCG64" or s["has_uint32"]:
            raise ValueError("the kernels step PCG64 generators at whole raw outputs only")
        st[r] = (s["state"]["state"] >> 64, s["state"]["state"] & mask, s["state"]["inc"] >> 64, s["state"]["inc"] & mask)
    return st


def box_muller(u: np.ndarray, nb=None) -> np.ndarray:
    """Standard normals from uniforms on [0, 1), pairing the two halves of the last axis.

    Box-Muller is exact and, vectorised in float32, about 3x faster than numpy's ziggurat.
    ``nb``: the numba kernels, which do the arithmetic around numpy's log, cos and sin (the
    same numbers).
    """
    half = u.shape[-1] // 2
    out = np.empty_like(u)
    if nb is not None and half:
        rows = u.reshape(-1, u.shape[-1])
        a, b = np.empty((rows.shape[0], half), dtype=np.float32), np.empty((rows.shape[0], half), dtype=np.float32)
        nb.box_muller_prep(rows, a, b)
        nb.box_muller_finish(np.log(a, out=a), np.cos(b), np.sin(b, out=b), out.reshape(-1, u.shape[-1]))
    else:
        u1, u2 = u[..., :half], u[..., half : 2 * half]
        radius = np.sqrt(np.float32(-2.0) * np.log(np.float32(1.0) - u1))  # 1 - u1 is in (0, 1]
        angle = np.float32(2.0 * np.pi) * u2
        out[..., :half] = radius * np.cos(angle)
        out[..., half : 2 * half] = radius * np.sin(angle)
    if u.shape[-1] % 2:  # odd width: one more normal from the last uniform and the first one
        out[..., -1] = np.sqrt(np.float32(-2.0) * np.log(np.float32(1.0) - u[..., -1])) * np.cos(
            np.float32(2.0 * np.pi) * u[..., 0])
    return out


class Stream:
    """Weekly draws of fixed width for a batch of replications, drawn in blocks of weeks.

    Args:
        master: The run's master seed.
        reps: The replication indices in this batch.
        key: The process number (see module constants, or :func:`policy_key`).
        width: Draws per replication per week.
        normal: Standard normals instead of uniforms on [0, 1).
        nb: The engine's numba kernels (:func:`sim._fast.kernels`), or None. With them a
            kernel steps the PCG64 generators itself and makes the uniforms from their raw
            output: the same numbers as ``Generator.random`` gives, bit for bit, in a little
            over half the time of ``random_raw`` and a conversion pass.
    """

    def __init__(self, master: int, reps: Sequence[int], key: int, width: int, normal: bool = False, nb=None) -> None:
        self._gens = generators(master, reps, key)
        self.width = width
        self.normal = normal
        self.nb = nb
        self._block: np.ndarray | None = None
        self._i = BLOCK_WEEKS
        # with the kernels, the generators' PCG64 states are stepped in an array (written back
        # to the Generator objects when they are asked for); whole raw outputs per block only
        self._state = _pcg64_states(self._gens) if nb is not None and BLOCK_WEEKS * width % 2 == 0 else None

    @property
    def gens(self) -> list[np.random.Generator]:
        """The replications' generators, in the state the draws so far have left them."""
        if self._state is not None:
            for g, (hi, lo, inc_hi, inc_lo) in zip(self._gens, self._state.tolist()):
                g.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": hi << 64 | lo, "inc": inc_hi << 64 | inc_lo},
                                         "has_uint32": 0, "uinteger": 0}
        return self._gens

    def next(self) -> np.ndarray:
        """This week's draws, shaped (replications, width)."""
        if self._i == BLOCK_WEEKS and self._state is not None:
            block = np.empty((BLOCK_WEEKS, len(self._gens), self.width), dtype=np.float32)
            self.nb.pcg64_uniforms(self._state, block)  # Generator.random's float32 uniforms, bit for bit
            self._block = box_muller(block, self.nb) if self.normal else block
            self._i = 0
        elif self._i == BLOCK_WEEKS:
            shape = (BLOCK_WEEKS, self.width)
            block = np.empty((len(self._gens), BLOCK_WEEKS, self.width), dtype=np.float32)
            for r, g in enumerate(self._gens):
                g.random(shape, dtype=np.float32, out=block[r])
            if self.normal:
                block = box_muller(block)
            # (weeks, R, width): each week's draws are one contiguous (R, width) array
            self._block = np.ascontiguousarray(block.transpose(1, 0, 2))
            self._i = 0
        out = self._block[self._i]
        self._i += 1
        return out
