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

TRAITS, NETWORK, SHOCKS, CHOICE, IMITATION = 1, 2, 3, 4, 5
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


class Stream:
    """Weekly draws of fixed width for a batch of replications, drawn in blocks of weeks.

    Args:
        master: The run's master seed.
        reps: The replication indices in this batch.
        key: The process number (see module constants, or :func:`policy_key`).
        width: Draws per replication per week.
        normal: Standard normals instead of uniforms on [0, 1).
    """

    def __init__(self, master: int, reps: Sequence[int], key: int, width: int, normal: bool = False) -> None:
        self.gens = generators(master, reps, key)
        self.width = width
        self.normal = normal
        self._block: np.ndarray | None = None
        self._i = BLOCK_WEEKS

    def next(self) -> np.ndarray:
        """This week's draws, shaped (replications, width)."""
        if self._i == BLOCK_WEEKS:
            shape = (BLOCK_WEEKS, self.width)
            draw = (lambda g: g.standard_normal(shape)) if self.normal else (lambda g: g.random(shape))
            self._block = np.stack([draw(g) for g in self.gens], axis=1)  # (weeks, R, width)
            self._i = 0
        out = self._block[self._i]
        self._i += 1
        return out
