"""Keep numpy's temporaries out of mmap (glibc only).

The weekly step allocates many short-lived arrays of a few hundred kB. glibc serves
blocks above its mmap threshold (128 kB by default) with fresh ``mmap`` calls and returns
freed heap tops to the OS, so every temporary costs page faults: profiling showed this
tripled the step time. Raising the thresholds once lets freed blocks be reused. Memory
kept for reuse is bounded by the trim threshold. On other C libraries this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_done = False
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process). Returns True if applied."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = bool(libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024))
        ok &= bool(libc.mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024))
        ok &= bool(libc.mallopt(M_TOP_PAD, 16 * 1024 * 1024))
    except (OSError, AttributeError):
        ok = False
    _done = ok
    return ok
