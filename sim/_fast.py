"""Optional numba kernels, used only where profiling showed they beat numpy.

Install with ``pip install -e '.[fast]'``. Each kernel has a numpy twin in the engine, the
two are tested to give identical results, and ``SIM_NO_NUMBA=1`` forces the numpy path.
Only integer and exact operations live here (ranking), so the fast path never changes a
single bit of any result.
"""

from __future__ import annotations

import os

import numpy as np

try:  # pragma: no cover - depends on the environment
    if os.environ.get("SIM_NO_NUMBA"):
        raise ImportError("disabled by SIM_NO_NUMBA")
    from numba import njit
except ImportError:  # numba missing or disabled: the numpy path is used
    njit = None

AVAILABLE = njit is not None

if AVAILABLE:

    @njit(cache=True, nogil=True)
    def tie_ranks(key, ranks, sorted_bits):  # pragma: no cover - compiled
        """From row-sorted packed keys (float32 bits << 32 | column), write tie-averaged ranks
        into ``ranks`` and the sorted (order-preserving) float bits into ``sorted_bits``."""
        R, N = key.shape
        for r in range(R):
            i = 0
            while i < N:
                hi = key[r, i] >> 32
                j = i + 1
                while j < N and (key[r, j] >> 32) == hi:
                    j += 1
                mid = np.float32((i + j - 1) * 0.5)
                b = np.int32(hi)
                for t in range(i, j):
                    ranks[r, key[r, t] & 0xFFFFFFFF] = mid
                    sorted_bits[r, t] = b
                i = j
