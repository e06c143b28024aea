"""Regenerate tests/baseline/summary.json: the guard against silent drift.

Run it only on purpose, when a change to the model is meant to move the numbers, and say
why in the commit message:

    .venv/bin/python scripts/regenerate_baseline.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.loader import load_scenario  # noqa: E402
from sim.runner import run_scenario  # noqa: E402

#: small enough to run in the test suite, large enough to exercise every mechanism
SIZE = ["employees=200", "weeks=26", "replications=4"]
SEED = 20261122
OUT = ROOT / "tests" / "baseline" / "summary.json"


def platform_key() -> dict:
    """What the last bits of float arithmetic depend on: numpy's version and the SIMD paths it uses."""
    import platform

    import numpy as np

    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
        simd = sorted(k for k, on in features.items() if on and k.startswith(("AVX", "SSE", "FMA", "NEON", "ASIMD")))
    except ImportError:  # pragma: no cover
        simd = []
    return {"numpy": np.__version__, "machine": platform.machine(), "simd": simd}


def compute() -> dict:
    out = {}
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        res = run_scenario(load_scenario(path, SIZE), seed=SEED)
        out[path.stem] = {k: d["mean"] for k, d in res.summary().items()}
    return {"size": SIZE, "seed": SEED, "platform": platform_key(), "scenarios": out}


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(compute(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
