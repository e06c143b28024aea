"""When the engine uses its numba kernels (:mod:`sim._kernels`), and loading them.

The kernels are exact twins of the engine's numpy code: a run gives the same numbers, bit
for bit, on either path (tested on every shipped scenario). So the choice is only about
speed. The kernels make the engine about 2x faster, but numba costs about 0.7 s to
import and load in each process, which a short run never earns back. By default
(:func:`wanted`) the engine uses them for a run of at least :data:`MIN_WORK` agent-steps, or
whenever they are already loaded in the process (a sweep worker after its first point).

``SIM_NO_NUMBA=1`` forces the numpy path everywhere; without numba installed it is the only one.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

#: agent-steps (replications x employees x weeks) from which loading numba pays for itself
MIN_WORK = 10_000_000


def available() -> bool:
    """Whether the numba kernels can be used here (numba installed, not disabled)."""
    if os.environ.get("SIM_NO_NUMBA"):
        return False
    return importlib.util.find_spec("numba") is not None


def loaded() -> bool:
    """Whether the kernels are already imported in this process (so using them is free)."""
    return "sim._kernels" in sys.modules


def wanted(work: float, fast: bool | None = None) -> bool:
    """Whether a run of ``work`` agent-steps should use the kernels.

    Args:
        work: Replications x employees x weeks of the run (or of the whole job).
        fast: True or False forces the choice (True still needs numba); None decides by cost.
    """
    if fast is False or not available():
        return False
    return fast is True or loaded() or work >= MIN_WORK


def kernels() -> ModuleType:
    """The kernels module (imports numba on first use)."""
    from . import _kernels

    return _kernels
