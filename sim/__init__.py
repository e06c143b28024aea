"""sim: an agent-based simulator of corporate AI-token incentive policies.

The public API, imported lazily so that ``sim --help`` stays fast::

    from sim import load_scenario, run_scenario, TokenEconomy
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_scenario": ("sim.loader", "load_scenario"),
    "run_scenario": ("sim.runner", "run_scenario"),
    "Results": ("sim.runner", "Results"),
    "Engine": ("sim.engine", "Engine"),
    "Scenario": ("sim.config", "Scenario"),
    "TokenEconomy": ("sim.model", "TokenEconomy"),
    "Employee": ("sim.model", "Employee"),
    "ScenarioError": ("sim.errors", "ScenarioError"),
    "REGISTRY": ("sim.policies", "REGISTRY"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
