"""Fuzzing the scenario loader and ``sim run`` with mutated shipped scenarios (hypothesis).

Every example starts from a shipped scenario (``scenarios/*.yaml``), either as written (with
its ``extends``) or fully resolved (every field spelled out), and applies one class of
mutation: keys deleted, renamed or added, values of the wrong type, bad numbers (NaN,
infinities, huge, negative, just outside a declared bound), valid extremes (any value inside
the declared bounds), policy and schedule surgery, ``extends`` chains, ``--set`` overrides,
empty files, binary garbage, corrupted text, deep nesting, anchors and aliases, alias bombs
("billion laughs") and YAML tags. The contract checked on every input:

- :func:`sim.loader.load_scenario` returns a Scenario or raises :class:`sim.errors.ScenarioError`
  (any other exception is a failure) whose text is one non-empty line naming a file (or
  ``--set``) and, for a mutation at a key path, a key of that path;
- an accepted scenario, shrunk to a few employees and weeks, runs, and its weekly table,
  run table and summary hold no NaN or infinity where a number is defined;
- nothing hangs: every example runs under an alarm, and alias bombs are refused in seconds;
- end to end, ``python -m sim.cli run`` exits 0 (with clean result files) or 2 (one line on
  stderr, no traceback, no ``--out`` folder), within a timeout.

Most examples run in-process for speed; a few go through the CLI in a subprocess.
``SIM_FUZZ_EXAMPLES`` sets the in-process total (default 480, shared across the classes by
weight) and ``SIM_FUZZ_CLI_EXAMPLES`` the subprocess runs (default 8); ``SIM_FUZZ_SEED``
pins hypothesis' seed. The number of cases per class and outcome is written to
``artifacts/fuzz-counts.json`` (see docs/robustness.md).

Bugs found here are pinned as strict xfails at the end of this file. The fuzz examples
tolerate exactly those failure signatures (``KNOWN_BUGS``) and count them, so that the suite
stays green while the bugs stand and still fails on any new one.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from sim.config import Beta, Constant, Lognormal, Scenario, Uniform
from sim.errors import ScenarioError
from sim.loader import MAX_NODES, load_scenario
from sim.metrics import WEEKLY
from sim.output import check_finite, finite_json
from sim.policies import REGISTRY
from sim.runner import run_scenario

from .strategies import bounds

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # finiteness is asserted, not warned

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DIR = ROOT / "scenarios"
STEMS = sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml"))
TEXT = {s: (SHIPPED_DIR / f"{s}.yaml").read_text() for s in STEMS}
RAW = {s: yaml.safe_load(TEXT[s]) for s in STEMS}
FULL = {s: load_scenario(SHIPPED_DIR / f"{s}.yaml").model_dump(mode="json") for s in STEMS}

EXAMPLES = int(os.environ.get("SIM_FUZZ_EXAMPLES", "480"))
CLI_EXAMPLES = int(os.environ.get("SIM_FUZZ_CLI_EXAMPLES", "8"))
FUZZ_SEED = os.environ.get("SIM_FUZZ_SEED")

#: mutation class -> weight (its share of SIM_FUZZ_EXAMPLES)
CLASSES: dict[str, int] = {
    "delete_key": 3,
    "rename_key": 3,
    "add_key": 2,
    "wrong_type": 4,
    "bad_number": 5,
    "extreme_valid": 4,
    "policies_schedule": 4,
    "extends": 2,
    "overrides": 3,
    "empty": 1,
    "garbage": 2,
    "corrupt_text": 3,
    "deep_nesting": 2,
    "anchors_aliases": 2,
    "alias_bomb": 1,
    "yaml_tags": 2,
}
MIN_PER_CLASS = 5


def quota(kind: str) -> int:
    return max(MIN_PER_CLASS, round(EXAMPLES * CLASSES[kind] / sum(CLASSES.values())))


#: (class, outcome) and (class, "variant:<name>") -> number of examples run; written at teardown
COUNTS: Counter = Counter()

#: a shrunk run: enough to exercise every hook of every policy, in a few milliseconds
SHRINK = {"employees": 40, "weeks": 4, "replications": 2}
#: seconds before an in-process example counts as a hang, and before an alias bomb must be refused
HANG_SECONDS = 30.0
BOMB_SECONDS = 3.0
#: PyYAML's scanner is quadratic in flow depth: ~1.2 s on an idle machine before it gives up
DEEP_SECONDS = 15.0

# --- known bugs (pinned as strict xfails below): tolerated, and counted, by the fuzz examples ---
#: parameters that divide: a positive value below ~1e-36 overflows float32 arithmetic
DIVISORS = {"economy.x0", "learning.half_saturation", "economy.price", "economy.attention_cost"}
TINY = 1e-20


@dataclass
class Case:
    """One fuzz input: the files to write, the overrides, and what the error should name."""

    kind: str
    files: dict[str, bytes]
    main: str = "scenario.yaml"
    overrides: list[str] = field(default_factory=list)
    names: tuple[str, ...] = ()  # the error must contain one of these (when not empty)
    also_files: tuple[str, ...] = ()  # files other than those written that the error may name
    values: dict[str, Any] = field(default_factory=dict)  # dotted parameter -> value set
    must_refuse: bool = False
    must_load: bool = False
    max_seconds: float = HANG_SECONDS
    variant: str = ""

    def tiny_divisor(self) -> bool:
        return any(
            k in DIVISORS and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < TINY
            for k, v in self.values.items()
        )


@dataclass(frozen=True)
class KnownBug:
    id: str
    text: str  # a fragment of the exception (in-process) or of stderr (CLI)
    applies: Callable[[Case], bool] = lambda case: True


#: matched in order against the formatted traceback (in-process) or stderr (CLI)
KNOWN_BUGS: list[KnownBug] = []  # every bug found so far is fixed; pin new ones here


def known_bug(case: Case, text: str) -> str | None:
    for bug in KNOWN_BUGS:
        if bug.text in text and bug.applies(case):
            return bug.id
    return None


# --- documents: paths, values, dumping ----------------------------------------------------------
class Raw:
    """A YAML fragment written verbatim in place of a value (tags, aliases, huge literals)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:60]!r})"


def dump(doc: Any) -> bytes:
    """``yaml.safe_dump`` with Raw fragments substituted; shared objects become anchors/aliases."""
    raws: list[str] = []
    memo: dict[int, Any] = {}

    def sub(x: Any) -> Any:
        if isinstance(x, Raw):
            raws.append(x.text)
            return f"__raw{len(raws) - 1}__"
        if id(x) in memo:
            return memo[id(x)]
        if isinstance(x, dict):
            out: Any = {}
            memo[id(x)] = out
            out.update({k: sub(v) for k, v in x.items()})
            return out
        if isinstance(x, list):
            out = []
            memo[id(x)] = out
            out.extend(sub(v) for v in x)
            return out
        return x

    text = yaml.safe_dump(sub(doc), sort_keys=False, allow_unicode=True, width=4096)
    for i, r in enumerate(raws):
        text = text.replace(f"__raw{i}__", r)
    return text.encode("utf-8", "surrogatepass")


def all_paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(all_paths(v, prefix + (k,)))
    return out


def get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def put(doc: dict, path: tuple, value: Any) -> None:
    """Set ``path`` to ``value``, creating missing (or non-mapping) parents as mappings."""
    node = doc
    for k in path[:-1]:
        nxt = node[k] if isinstance(node, list) else node.get(k)
        if not isinstance(nxt, (dict, list)):
            nxt = {}
            node[k] = nxt
        node = nxt
    node[path[-1]] = value


def dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def key_names(path: tuple) -> tuple[str, ...]:
    return tuple(str(k) for k in path if not isinstance(k, int) or isinstance(k, bool))


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


DISTS = {"lognormal": Lognormal, "beta": Beta, "uniform": Uniform, "constant": Constant}


def declared(doc: dict) -> dict[tuple, Any]:
    """Every declared int/float parameter reachable in ``doc``: path -> pydantic FieldInfo.

    Scenario blocks and workforce distributions always count (missing ones take defaults);
    policy parameters count for the policies the document names.
    """
    out: dict[tuple, Any] = {}

    def walk(model: type[BaseModel], prefix: tuple, node: Any) -> None:
        for name, info in model.model_fields.items():
            ann, sub = info.annotation, node.get(name) if isinstance(node, dict) else None
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, prefix + (name,), sub)
            elif hasattr(info.default, "dist"):  # a workforce distribution
                kind = sub.get("dist", info.default.dist) if isinstance(sub, dict) else info.default.dist
                if kind in DISTS:
                    walk(DISTS[kind], prefix + (name,), sub)
            elif ann in (int, float):
                out[prefix + (name,)] = info

    walk(Scenario, (), doc)
    pols = doc.get("policies")
    for pid, raw in (pols.items() if isinstance(pols, dict) else ()):
        kind = (raw.get("type") if isinstance(raw, dict) else None) or pid
        if isinstance(kind, str) and kind in REGISTRY:
            for name, info in REGISTRY[kind].Params.model_fields.items():
                if info.annotation in (int, float):
                    out[("policies", pid, name)] = info
    return out


# --- strategies --------------------------------------------------------------------------------
SHORT_TEXT = st.text(max_size=24)
#: keys: no control or line-separator characters (YAML folds NEL, LS, PS into spaces on reading)
KEY_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=24)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(),
    SHORT_TEXT,
    st.sampled_from(["yes", "no", "on", "off", "~", "null", "1e3", "0x1F", "1_000", ".5", "2001-12-14", "[", "{"]),
)
ANY = st.recursive(
    SCALARS,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(KEY_TEXT.filter(lambda k: k != "<<"), c, max_size=4),
    max_leaves=10,
)


def kind_of(x: Any) -> str:
    if isinstance(x, bool):
        return "bool"
    if is_number(x):
        return "number"
    return type(x).__name__


@st.composite
def typo(draw, word: str) -> str:
    """A misspelling of ``word``: a character dropped, doubled, swapped or changed, or its case."""
    if not word:
        return draw(st.text(min_size=1, max_size=8))
    i = draw(st.integers(0, len(word) - 1))
    op = draw(st.sampled_from(["drop", "double", "swap", "change", "upper", "suffix"]))
    if op == "drop" and len(word) > 1:
        out = word[:i] + word[i + 1 :]
    elif op == "double":
        out = word[:i] + word[i] + word[i:]
    elif op == "swap" and i + 1 < len(word):
        out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    elif op == "upper":
        out = word.upper() if word.upper() != word else word + "X"
    elif op == "suffix":
        out = word + draw(st.sampled_from(["s", "_", "e", " ", "2"]))
    else:
        out = word[:i] + draw(st.sampled_from("aeiouxz_")) + word[i + 1 :]
    return out if out != word else word + "x"


@st.composite
def base_doc(draw) -> tuple[str, str, dict]:
    """A shipped scenario, as written (``raw``) or fully resolved (``full``), as a fresh dict."""
    stem = draw(st.sampled_from(STEMS), label="shipped")
    form = draw(st.sampled_from(["raw", "full"]), label="form")
    return stem, form, json.loads(json.dumps(RAW[stem] if form == "raw" else FULL[stem]))


def huge_int_text(digits: int) -> str:
    return "9" * digits


BAD_NUMBER_KINDS = [
    "nan", "inf", "huge", "negative", "zero", "tiny", "out_of_range", "bool", "numeric_string", "fraction",
]


# --- mutations: each returns a Case ------------------------------------------------------------
def structured(kind: str, doc: dict, **kw: Any) -> Case:
    return Case(kind, {"scenario.yaml": dump(doc)}, **kw)


def m_delete_key(data, doc, form):
    path = data.draw(st.sampled_from(all_paths(doc)), label="path")
    parent = get(doc, path[:-1])
    del parent[path[-1]]
    return structured("delete_key", doc)


def m_rename_key(data, doc, form):
    paths = [p for p in all_paths(doc) if isinstance(get(doc, p[:-1]), dict)]
    path = data.draw(st.sampled_from(paths), label="path")
    old = path[-1]
    new = data.draw(
        st.one_of(typo(str(old)), KEY_TEXT, st.integers(-5, 5), st.booleans(), st.none(), st.floats(allow_nan=False))
        .filter(lambda k: k != old and k != "<<"),
        label="new key",
    )
    parent = get(doc, path[:-1])
    parent[new] = parent.pop(old)
    names = key_names(path) + (str(new),) + ("null", "keys", "Keys") if path[0] != "extends" else ()
    return structured("rename_key", doc, names=names)


def m_add_key(data, doc, form):
    maps = [()] + [p for p in all_paths(doc) if isinstance(get(doc, p), dict)]
    path = data.draw(st.sampled_from(maps), label="mapping")
    node = get(doc, path)
    siblings = [k for k in node if isinstance(k, str)] or ["name"]
    key = data.draw(
        st.one_of(st.sampled_from(siblings).flatmap(typo), KEY_TEXT).filter(lambda k: k not in node and k != "<<"),
        label="key",
    )
    node[key] = data.draw(ANY, label="value")
    return structured("add_key", doc, names=key_names(path) + (key,))


def m_wrong_type(data, doc, form):
    path = data.draw(st.sampled_from(all_paths(doc)), label="path")
    old = get(doc, path)
    escapes = st.sampled_from([Raw('"\\ud800"'), Raw('"a\\0b"'), Raw('"\\x85\\u2028"'), Raw('"\\e[31m"')])
    new = data.draw(ANY.filter(lambda v: kind_of(v) != kind_of(old)) | escapes, label="value")
    get(doc, path[:-1])[path[-1]] = new
    names = key_names(path) if path[0] != "extends" else ()  # a new parent: its consequences are named
    return structured("wrong_type", doc, names=names, values={dotted(path): new})


def m_bad_number(data, doc, form):
    params = declared(doc)
    leaves = [p for p in all_paths(doc) if is_number(get(doc, p))]
    pool = sorted(set(params) | set(leaves), key=lambda p: tuple(map(str, p)))
    path = data.draw(st.sampled_from(pool), label="path")
    sub = data.draw(st.sampled_from(BAD_NUMBER_KINDS), label="bad number")
    info = params.get(path)
    must_refuse = False
    if sub == "nan":
        value: Any = math.nan
        must_refuse = info is not None
    elif sub == "inf":
        value = data.draw(st.sampled_from([math.inf, -math.inf]))
        must_refuse = info is not None
    elif sub == "huge":
        value = data.draw(
            st.sampled_from([1e300, 1.7976931348623157e308, 2**63, 2**64, 10**30])
            | st.integers(21, 6000).map(lambda d: Raw(huge_int_text(d)))
        )
    elif sub == "negative":
        value = data.draw(st.floats(max_value=-5e-324, allow_infinity=False) | st.integers(max_value=-1))
    elif sub == "zero":
        value = data.draw(st.sampled_from([0, 0.0, -0.0]))
    elif sub == "tiny":
        value = data.draw(st.floats(min_value=5e-324, max_value=1e-30))
    elif sub == "bool":
        value = data.draw(st.booleans())
        must_refuse = info is not None
    elif sub == "numeric_string":
        value = Raw(data.draw(st.sampled_from(
            ["'3'", "'1e3'", "0x10", "0o17", "1_000", "+.5", "1e3", "'nan'", "'-inf'", "'1,5'"]
        )))
    elif sub == "fraction":
        value = data.draw(st.sampled_from([0.5, 1.5, 2.25, 1e-9]))
        must_refuse = info is not None and info.annotation is int
    else:  # out_of_range: just outside a declared bound, or far outside
        lo, lo_strict, hi, hi_strict = bounds(info) if info is not None else (0, False, None, False)
        outside = []
        if lo is not None:
            step = -1 if info is not None and info.annotation is int else math.nextafter(lo, -math.inf) - lo
            outside += [lo if lo_strict else lo + step, lo - 1e6, -1e300 if lo > -1e300 else lo - 1]
        if hi is not None:
            step = 1 if info is not None and info.annotation is int else math.nextafter(hi, math.inf) - hi
            outside += [hi if hi_strict else hi + step, hi * 1000 + 1]
        value = data.draw(st.sampled_from(outside or [-1]))
        must_refuse = info is not None
    variant(sub)
    put(doc, path, value)
    return structured("bad_number", doc, names=key_names(path), values={dotted(path): value}, must_refuse=must_refuse)


def inbounds(info) -> st.SearchStrategy:
    lo, lo_strict, hi, hi_strict = bounds(info)
    if info.annotation is int:
        return st.integers(int(lo) + lo_strict if lo is not None else -(2**31),
                           int(hi) - hi_strict if hi is not None else 2**31)
    return st.floats(lo, hi, exclude_min=lo_strict and lo is not None, exclude_max=hi_strict and hi is not None,
                     allow_nan=False, allow_infinity=False)


def m_extreme_valid(data, doc, form):
    params = declared(doc)
    for i, entry in enumerate(doc.get("schedule") or []):  # trigger thresholds: any finite number
        when = entry.get("when") if isinstance(entry, dict) else None
        for side in ("above", "below"):
            if isinstance(when, dict) and when.get(side) is not None:
                params[("schedule", i, "when", side)] = None
    chosen = data.draw(st.lists(st.sampled_from(sorted(params, key=lambda p: tuple(map(str, p)))), min_size=1,
                                max_size=4, unique=True), label="parameters")
    values = {}
    for path in chosen:
        info = params[path]
        strat = inbounds(info) if info is not None else st.floats(allow_nan=False, allow_infinity=False)
        values[dotted(path)] = v = data.draw(strat, label=dotted(path))
        put(doc, path, v)
    if data.draw(st.booleans(), label="quantiles too"):
        q = data.draw(st.lists(st.floats(0, 1, exclude_min=True, exclude_max=True), min_size=1, max_size=9))
        put(doc, ("choice", "quantiles"), q)
    return structured("extreme_valid", doc, values=values, must_load=True)


def m_policies_schedule(data, doc, form):
    pols = doc.setdefault("policies", {}) if isinstance(doc.get("policies"), dict) else {}
    doc["policies"] = pols
    ids = list(pols) or ["leaderboard"]
    op = data.draw(st.sampled_from([
        "unknown_type", "type_switch", "type_garbage", "policy_not_mapping", "policies_not_mapping",
        "active_garbage", "schedule_garbage", "schedule_entry", "schedule_id_typo",
    ]), label="operation")
    variant(op)
    pid = data.draw(st.sampled_from(ids), label="policy id")
    if op == "unknown_type":
        new = data.draw(st.sampled_from(sorted(REGISTRY)).flatmap(typo) | SHORT_TEXT, label="type")
        pols[new] = data.draw(st.dictionaries(SHORT_TEXT, SCALARS, max_size=2) | st.just({}))
    elif op == "type_switch":
        pols.setdefault(pid, {})
        if not isinstance(pols[pid], dict):
            pols[pid] = {}
        pols[pid]["type"] = data.draw(st.sampled_from(sorted(REGISTRY)), label="type")
    elif op == "type_garbage":
        pols[pid] = pols.get(pid) if isinstance(pols.get(pid), dict) else {}
        pols[pid]["type"] = data.draw(ANY, label="type")
    elif op == "policy_not_mapping":
        pols[pid] = data.draw(ANY.filter(lambda v: not isinstance(v, dict)), label="value")
    elif op == "policies_not_mapping":
        doc["policies"] = data.draw(ANY.filter(lambda v: not isinstance(v, dict)), label="value")
    elif op == "active_garbage":
        pols[pid] = pols.get(pid) if isinstance(pols.get(pid), dict) else {}
        pols[pid]["active"] = data.draw(ANY, label="active")
    elif op == "schedule_garbage":
        if data.draw(st.booleans()):
            doc["schedule"] = data.draw(ANY, label="schedule")
        else:
            doc.setdefault("schedule", [])
            if not isinstance(doc["schedule"], list):
                doc["schedule"] = []
            doc["schedule"].append(data.draw(ANY, label="entry"))
    elif op == "schedule_entry":
        some_id = st.sampled_from(ids) | st.sampled_from(ids).flatmap(typo) | SCALARS
        entry: dict[str, Any] = {}
        if data.draw(st.booleans(), label="has week"):
            entry["week"] = data.draw(st.integers(-3, 200) | SCALARS)
        if data.draw(st.booleans(), label="has when"):
            metrics = st.sampled_from(sorted(WEEKLY))
            metric = data.draw(metrics | metrics.flatmap(typo) | SCALARS)
            when = {"metric": metric}
            for side in data.draw(st.lists(st.sampled_from(["above", "below"]), max_size=2, unique=True)):
                when[side] = data.draw(st.floats() | SCALARS)
            if data.draw(st.booleans()):
                when["for_weeks"] = data.draw(st.integers(-2, 20) | SCALARS)
            entry["when"] = when
        for key in ("activate", "deactivate"):
            if data.draw(st.booleans(), label=f"has {key}"):
                entry[key] = data.draw(st.lists(some_id, max_size=3) | SCALARS)
        doc["schedule"] = (doc.get("schedule") if isinstance(doc.get("schedule"), list) else []) + [entry]
    else:  # schedule_id_typo: an existing schedule reference misspelt, or a new one
        sched = doc.get("schedule") if isinstance(doc.get("schedule"), list) else []
        refs = [(i, k, j) for i, e in enumerate(sched) if isinstance(e, dict)
                for k in ("activate", "deactivate") for j, _ in enumerate(e.get(k) or [])]
        if refs:
            i, k, j = data.draw(st.sampled_from(refs), label="reference")
            sched[i][k][j] = data.draw(typo(str(sched[i][k][j])), label="id")
        else:
            doc["schedule"] = [{"week": 1, "deactivate": [data.draw(typo(pid), label="id")]}]
    return structured("policies_schedule", doc, names=("policies", "schedule", "policy"))


def m_extends(data, doc, form):
    doc = json.loads(json.dumps(RAW[data.draw(st.sampled_from(STEMS), label="child")]))
    files: dict[str, bytes] = {}
    op = data.draw(st.sampled_from(["missing", "shipped", "self", "cycle", "bad_parent", "non_string", "odd_name"]),
                   label="operation")
    variant(op)
    if op == "missing":
        doc["extends"] = data.draw(st.sampled_from(STEMS).flatmap(typo), label="name") + ".yaml"
    elif op == "shipped":
        doc["extends"] = data.draw(st.sampled_from(STEMS + [s + ".yaml" for s in STEMS]), label="name")
    elif op == "self":
        doc["extends"] = "scenario.yaml"
    elif op == "cycle":
        doc["extends"] = "parent.yaml"
        files["parent.yaml"] = dump({"extends": data.draw(st.sampled_from(["scenario.yaml", "parent.yaml"]))})
    elif op == "bad_parent":
        doc["extends"] = "parent.yaml"
        parent = json.loads(json.dumps(FULL[data.draw(st.sampled_from(STEMS), label="parent")]))
        path = data.draw(st.sampled_from(all_paths(parent)), label="path")
        get(parent, path[:-1])[path[-1]] = data.draw(ANY, label="value")
        files["parent.yaml"] = dump(parent)
    elif op == "non_string":
        doc["extends"] = data.draw(ANY.filter(lambda v: not isinstance(v, str)), label="value")
    else:  # odd_name: empty, spaces, separators, NUL, a folder, a device, long
        doc["extends"] = data.draw(st.sampled_from(["", " ", ".", "..", "/", "/dev/null", "scenarios", "a\0b",
                                                    "../" * 20 + "etc/hostname", "x" * 300]) | SHORT_TEXT,
                                   label="name")
    files = {"scenario.yaml": dump(doc), **files}
    target = doc["extends"]
    also = (Path(target).name, target) if isinstance(target, str) and "\0" not in target else ()
    return Case("extends", files, also_files=also)


def m_overrides(data, doc, form):
    params = sorted(map(dotted, set(declared(doc)) | set(all_paths(doc))))
    sets = []
    for _ in range(data.draw(st.integers(1, 3), label="how many")):
        key = data.draw(
            st.sampled_from(params) | st.sampled_from(params).flatmap(typo) | SHORT_TEXT
            | st.sampled_from(["", "=", ".", "a..b", "policies.", "economy.price.x", "name.x", "schedule.0"]),
            label="key",
        )
        value = data.draw(
            st.sampled_from(["", "[", "{", "]", ":", "- a", "!!python/name:os.system", "*x", "&a 1", ".nan", "-.inf",
                             "1e999", "9" * 30, "~", "[1, 2", "{a: }", "'", '"', "!!int x", "!!float ''",
                             "!!bool maybe", "!!timestamp x", "!!binary x", '"\\ud800"', '"a\\0b"'])
            | ANY.map(flow)
            | SHORT_TEXT,
            label="value",
        )
        sep = data.draw(st.sampled_from(["=", "=", "=", "", "==", " = "]), label="separator")
        sets.append(f"{key}{sep}{value}")
    values = {}
    for s in sets:
        k, _, v = s.partition("=")
        with contextlib.suppress(Exception):
            values[k.strip()] = yaml.safe_load(v)
    names = ("--set",) + tuple(part for s in sets for part in s.partition("=")[0].split(".") if part)
    return Case("overrides", {"scenario.yaml": dump(doc)}, overrides=sets, names=names, values=values)


EMPTY_TEXTS = ["", "\n", "\n\n\n", " ", "   \n  ", "\t", "# a comment\n", "---\n", "---\n...\n", "...\n", "~\n",
               "null\n", "''\n", '""\n', "{}\n", "[]\n", "\ufeff", "\ufeff\n", "\r\n", "%YAML 1.1\n---\n", "--- |\n"]


def m_empty(data, doc, form):
    text = data.draw(st.sampled_from(EMPTY_TEXTS), label="text")
    return Case("empty", {"scenario.yaml": text.encode()})


def m_garbage(data, doc, form):
    op = data.draw(st.sampled_from(["bytes", "text", "prefix_bytes", "utf16", "latin1", "nul", "controls"]),
                   label="garbage")
    variant(op)
    stem = data.draw(st.sampled_from(STEMS), label="shipped")
    if op == "bytes":
        raw = data.draw(st.binary(max_size=2048), label="bytes")
    elif op == "text":
        raw = data.draw(st.text(max_size=500), label="text").encode("utf-8")
    elif op == "prefix_bytes":
        raw = TEXT[stem].encode() + data.draw(st.binary(min_size=1, max_size=64), label="tail")
    elif op == "utf16":
        raw = TEXT[stem].encode(data.draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    elif op == "latin1":
        raw = (TEXT[stem] + "description: caf\u00e9 \u00b5\n").encode("latin-1", "replace")
    elif op == "nul":
        text = TEXT[stem]
        i = data.draw(st.integers(0, len(text)), label="at")
        raw = (text[:i] + "\0" + text[i:]).encode()
    else:
        text = TEXT[stem]
        i = data.draw(st.integers(0, len(text)), label="at")
        ch = data.draw(st.sampled_from(["\x01", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\ufffe", "\x0b", "\x0c"]))
        raw = (text[:i] + ch + text[i:]).encode("utf-8", "surrogatepass")
    return Case("garbage", {"scenario.yaml": raw})


YAML_SPECIAL = ":{}[]-?#&*!|>'\"%@`,\t\n "


def m_corrupt_text(data, doc, form):
    text = TEXT[data.draw(st.sampled_from(STEMS))] if form == "raw" else dump(doc).decode()
    op = data.draw(st.sampled_from(["truncate", "delete", "insert", "replace", "indent", "duplicate_line"]),
                   label="corruption")
    variant(op)
    i = data.draw(st.integers(0, len(text)), label="at")
    if op == "truncate":
        text = text[:i]
    elif op == "delete":
        text = text[:i] + text[i + data.draw(st.integers(1, 40)) :]
    elif op == "insert":
        bit = data.draw(st.text(YAML_SPECIAL, min_size=1, max_size=5) | st.text(min_size=1, max_size=5))
        text = text[:i] + bit + text[i:]
    elif op == "replace":
        text = text[:i] + data.draw(st.sampled_from(list(YAML_SPECIAL)) | st.characters()) + text[i + 1 :]
    elif op == "indent":
        lines = text.split("\n")
        j = data.draw(st.integers(0, len(lines) - 1))
        lines[j] = data.draw(st.sampled_from(["", " ", "  ", "   ", "\t", "    "])) + lines[j].lstrip(" ")
        text = "\n".join(lines)
    else:
        lines = text.split("\n")
        j = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(j, lines[j])
        text = "\n".join(lines)
    return Case("corrupt_text", {"scenario.yaml": text.encode("utf-8", "surrogatepass")})


def m_deep_nesting(data, doc, form):
    depth = data.draw(st.integers(1, 40) | st.integers(41, 60) | st.integers(61, 3000), label="depth")
    style = data.draw(st.sampled_from(["flow_list", "flow_map", "block_map", "block_list", "mixed"]), label="style")
    variant(style)
    leaf = data.draw(st.sampled_from(["1", "x", "0.5", "[]", "{}"]))
    if style.startswith("flow") or style == "mixed":
        if style == "flow_list":
            frag = "[" * depth + leaf + "]" * depth
        elif style == "flow_map":
            frag = "{a: " * depth + leaf + "}" * depth
        else:
            frag = "".join("[" if i % 2 else "{a: " for i in range(depth)) + leaf
            frag += "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
        paths = [()] + [p for p in all_paths(doc)]
        path = data.draw(st.sampled_from(paths), label="at")
        if path:
            put(doc, path, Raw(frag))
        else:
            doc["nested"] = Raw(frag)
        return Case("deep_nesting", {"scenario.yaml": dump(doc)}, max_seconds=DEEP_SECONDS)
    depth = min(depth, 400)  # block style grows as depth^2 bytes
    key = data.draw(st.sampled_from(["economy", "policies", "nested", "description"]), label="key")
    if style == "block_map":
        text = "".join("  " * i + ("a" if i else key) + ":\n" for i in range(depth)) + "  " * depth + leaf + "\n"
    else:
        text = key + ":\n" + "".join("  " * i + "-\n" for i in range(1, depth)) + "  " * depth + "- " + leaf + "\n"
    return Case("deep_nesting", {"scenario.yaml": dump(doc) + text.encode()}, max_seconds=DEEP_SECONDS)


def flow(value: Any) -> str:
    """One value as single-line flow YAML."""
    return yaml.safe_dump(value, default_flow_style=True, width=4096).strip().removesuffix("...").strip()


def apart(a: tuple, b: tuple) -> bool:
    return a[: len(b)] != b and b[: len(a)] != a


def m_anchors_aliases(data, doc, form):
    op = data.draw(st.sampled_from(["shared_object", "merge_inline", "merge_alias", "anchor_alias", "recursive",
                                    "undefined_alias"]), label="aliases")
    variant(op)
    paths = all_paths(doc)
    maps = [p for p in paths if isinstance(get(doc, p), dict)]
    leaves = [p for p in paths if not isinstance(get(doc, p), (dict, list))]
    if op == "shared_object" and paths:  # the dumper writes &id001 / *id001 for an object used twice
        containers = [p for p in paths if isinstance(get(doc, p), (dict, list))] or paths
        src = data.draw(st.sampled_from(containers), label="source")
        dst = data.draw(st.sampled_from([p for p in paths if apart(p, src)] or [("copy",)]), label="target")
        put(doc, dst, get(doc, src))
    elif op == "merge_inline" and maps:  # {<<: {...}, own keys}
        at = data.draw(st.sampled_from(maps), label="mapping")
        node = get(doc, at)
        merged = data.draw(st.dictionaries(st.sampled_from([str(k) for k in node] or ["price"]), SCALARS, max_size=3)
                           | ANY, label="merged")
        own = [f"{json.dumps(str(k))}: {flow(v)}" for k, v in node.items() if data.draw(st.booleans())]
        put(doc, at, Raw("{" + ", ".join(["<<: " + flow(merged), *own]) + "}"))
    elif op == "merge_alias" and len(maps) >= 2:  # a: {<<: &base {...}}, later b: {<<: *base, own keys}
        a = data.draw(st.sampled_from(maps[:-1]), label="anchor at")
        later = [p for p in maps[maps.index(a) + 1 :] if apart(p, a)]
        b = data.draw(st.sampled_from(later), label="alias at") if later else None
        put(doc, a, Raw("{<<: &base " + flow(get(doc, a)) + "}"))
        if b is not None:
            put(doc, b, Raw("{" + ", ".join(["<<: *base", *(f"{json.dumps(str(k))}: {flow(v)}"
                                                              for k, v in list(get(doc, b).items())[:2])]) + "}"))
    elif op == "anchor_alias" and len(leaves) >= 2:  # the alias may come before its anchor: undefined
        a, b = data.draw(st.lists(st.sampled_from(leaves), min_size=2, max_size=2, unique=True), label="pair")
        put(doc, a, Raw("&v " + flow(get(doc, a))))
        put(doc, b, Raw("*v"))
    elif op == "recursive":
        at = data.draw(st.sampled_from(paths or [("x",)]), label="at")
        put(doc, at, Raw(data.draw(st.sampled_from(["&r [*r]", "&r {a: *r}", "&r [1, [2, *r]]", "&r {<<: *r}"]))))
    else:
        at = data.draw(st.sampled_from(paths or [("x",)]), label="at")
        put(doc, at, Raw("*nowhere"))
    return Case("anchors_aliases", {"scenario.yaml": dump(doc)}, max_seconds=5.0)


def bomb_text(width: int, depth: int, where: str, leaf: str, mapping: bool) -> str:
    lines = []
    for i in range(depth):
        items = [f"*n{i - 1}" if i else leaf] * width
        if mapping:
            body = "{" + ", ".join(f"k{j}: {v}" for j, v in enumerate(items)) + "}"
        else:
            body = "[" + ", ".join(items) + "]"
        lines.append(f"n{i}: &n{i} {body}" if i < depth - 1 else f"{where}: &n{i} {body}")
    return "\n".join(lines) + "\n"


def m_alias_bomb(data, doc, form):
    width = data.draw(st.integers(2, 30), label="width")
    depth = data.draw(st.integers(2, 40), label="depth")
    where = data.draw(st.sampled_from(["lol", "description", "policies", "schedule", "workforce"]), label="key")
    mapping = data.draw(st.booleans(), label="mapping")
    text = bomb_text(width, depth, where, data.draw(st.sampled_from(["lol", "1", "0.5"])), mapping)
    big = width**depth > MAX_NODES
    variant("over limit" if big else "small")
    return Case("alias_bomb", {"scenario.yaml": text.encode()}, must_refuse=True, max_seconds=BOMB_SECONDS,
                names=("alias", "nodes", "YAML", where, "n0", "unknown key", "valid"))


TAGS = ["!foo", "!", "!!python/object:os.system", "!!python/name:os.system", "!!python/object/apply:os.getcwd",
        "!!python/tuple", "!!python/str", "!!set", "!!omap", "!!pairs", "!!binary", "!!timestamp", "!!str", "!!int",
        "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!merge", "!!value", "!!yaml",
        "!<tag:example.com,2000:x>", "!<tag:yaml.org,2002:str>", "!<tag:yaml.org,2002:int>", "!e!thing"]


def m_yaml_tags(data, doc, form):
    paths = all_paths(doc) or [("name",)]
    path = data.draw(st.sampled_from(paths), label="path")
    tag = data.draw(st.sampled_from(TAGS), label="tag")
    variant(tag)
    old = get(doc, path) if path in paths else "x"
    body = data.draw(st.sampled_from(["scalar", "original", "flow_map", "flow_list", "empty"]), label="body")
    rendered = {
        "scalar": data.draw(st.sampled_from(["x", "5", "0.5", "aGVsbG8=", "2001-12-14", "true", "~", "''", "0b2"])),
        "original": flow(old),
        "flow_map": "{a: 1, b: 2}",
        "flow_list": "[a, b]",
        "empty": "",
    }[body]
    put(doc, path, Raw(f"{tag} {rendered}".strip()))
    text = dump(doc)
    if tag.startswith("!e!"):
        text = b"%TAG !e! tag:example.com,2000:\n---\n" + text
    return Case("yaml_tags", {"scenario.yaml": text}, names=key_names(path) + ("YAML", "tag"),
                values={dotted(path): old})


MUTATIONS: dict[str, Callable] = {
    "delete_key": m_delete_key,
    "rename_key": m_rename_key,
    "add_key": m_add_key,
    "wrong_type": m_wrong_type,
    "bad_number": m_bad_number,
    "extreme_valid": m_extreme_valid,
    "policies_schedule": m_policies_schedule,
    "extends": m_extends,
    "overrides": m_overrides,
    "empty": m_empty,
    "garbage": m_garbage,
    "corrupt_text": m_corrupt_text,
    "deep_nesting": m_deep_nesting,
    "anchors_aliases": m_anchors_aliases,
    "alias_bomb": m_alias_bomb,
    "yaml_tags": m_yaml_tags,
}
assert set(MUTATIONS) == set(CLASSES)


_VARIANT: list[str] = []


def variant(name: str) -> None:
    """Record which variant of its class the case being built is (counted once it has run)."""
    _VARIANT.append(str(name))


def make_case(data, kind: str) -> Case:
    _VARIANT.clear()
    stem, form, doc = data.draw(base_doc())
    case = MUTATIONS[kind](data, doc, form)
    case.variant = "/".join(_VARIANT)
    return case


def write_case(case: Case, folder: Path) -> Path:
    for name, content in case.files.items():
        (folder / name).write_bytes(content)
    return folder / case.main


# --- the checks --------------------------------------------------------------------------------
class Hang(BaseException):
    """Raised by :func:`alarm`. Not an Exception (nor an OSError, as TimeoutError is), so that no
    ``except Exception`` or ``except OSError`` in the code under test can swallow it."""


@contextlib.contextmanager
def alarm(seconds: float):
    """Raise :class:`Hang` if the block runs longer than ``seconds``; report it as a failure."""
    if not hasattr(signal, "setitimer") or os.name != "posix":
        yield
        return

    def boom(signum, frame):
        raise Hang(f"no answer within {seconds:g} s: a hang")

    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Hang as exc:
        raise AssertionError(str(exc)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def named(name: str, msg: str) -> bool:
    """``name`` appears in the one-line message (whose whitespace runs are single spaces)."""
    name = " ".join(name.split())
    return name in msg if name else "''" in msg or "' '" in msg


def check_message(msg: str, case: Case) -> None:
    """A refusal is one non-empty line naming a file (or --set) and, where known, the key."""
    assert msg.strip(), "empty error message"
    assert "\n" not in msg and "\r" not in msg, f"error is not one line: {msg!r}"
    assert "Traceback" not in msg
    files = [*case.files, *case.also_files, "--set", "scenarios/", ".yaml"]
    assert any(f and f in msg for f in files), f"error names no file: {msg!r}"
    if case.names and "invalid YAML" not in msg and "not a text file" not in msg:
        assert any(named(n, msg) for n in case.names), f"error names none of {case.names}: {msg!r}"


def check_run(scn: Scenario) -> None:
    """Run the scenario shrunk; every defined number in every output must be finite."""
    small = scn.model_copy(update={k: min(getattr(scn, k), v) for k, v in SHRINK.items()})
    res = run_scenario(small)
    check_finite(res.weekly_table(), "weekly.csv")
    check_finite(res.run_table().drop(columns=["roi", "goodhart_rho"]), "runs.csv")
    summary = res.summary()
    json.dumps(finite_json(summary), allow_nan=False)
    for metric, d in summary.items():
        for stat, x in d.items():
            assert x is None or not isinstance(x, float) or math.isfinite(x), (metric, stat, x)


def check_in_process(case: Case) -> str:
    """Load (and run, if accepted) one case; return its outcome: ran, refused or known-bug:<id>."""
    with tempfile.TemporaryDirectory(prefix="sim-fuzz-") as tmp:
        path = write_case(case, Path(tmp))
        t0 = time.perf_counter()
        try:
            with alarm(case.max_seconds):
                scn = load_scenario(path, case.overrides)
        except ScenarioError as exc:
            elapsed = time.perf_counter() - t0
            assert elapsed < case.max_seconds, f"refused, but only after {elapsed:.1f} s"
            assert not case.must_load, f"a value inside its declared bounds was refused: {exc}"
            check_message(str(exc), case)
            return "refused"
        except Exception as exc:  # noqa: BLE001 - anything else is a bug, unless already known
            bug = known_bug(case, "".join(traceback.format_exception(exc)))
            if bug is None:
                raise
            return f"known-bug:{bug}"
        elapsed = time.perf_counter() - t0
        assert elapsed < case.max_seconds, f"loading took {elapsed:.1f} s"
        assert not case.must_refuse, f"accepted input that must be refused: {scn!r:.300}"
        try:
            with alarm(HANG_SECONDS):
                check_run(scn)
        except Exception as exc:  # noqa: BLE001
            bug = known_bug(case, "".join(traceback.format_exception(exc)))
            if bug is None:
                raise
            return f"known-bug:{bug}"
        return "ran"


def fuzz_settings(n: int):
    s = settings(max_examples=n, deadline=None, database=None, print_blob=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                        HealthCheck.large_base_example])
    return (lambda f: seed(int(FUZZ_SEED))(s(f))) if FUZZ_SEED else s


@pytest.fixture(scope="module", autouse=True)
def write_counts():
    """After the module: the number of cases per class and outcome, for docs/robustness.md."""
    yield
    out: dict[str, dict[str, int]] = {}
    for (kind, what), n in sorted(COUNTS.items()):
        out.setdefault(kind, {})[what] = n
    report = {"SIM_FUZZ_EXAMPLES": EXAMPLES, "SIM_FUZZ_CLI_EXAMPLES": CLI_EXAMPLES, "counts": out}
    with contextlib.suppress(OSError):
        (ROOT / "artifacts").mkdir(exist_ok=True)
        (ROOT / "artifacts" / "fuzz-counts.json").write_text(json.dumps(report, indent=2) + "\n")


# --- the fuzz tests ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CLASSES))
def test_fuzz_loader_and_engine(kind):
    """Every mutated scenario loads and runs with finite outputs, or is refused in one clean line."""

    @fuzz_settings(quota(kind))
    @given(st.data())
    def fuzz(data):
        case = make_case(data, kind)
        outcome = check_in_process(case)
        COUNTS[(kind, "cases")] += 1
        COUNTS[(kind, outcome)] += 1
        if case.variant:
            COUNTS[(kind, "variant:" + case.variant)] += 1

    fuzz()


CLI_CLASSES = list(CLASSES)
CSV_BAD = {"nan", "-nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}


def strict_json(text: str):
    def refuse(const):
        raise ValueError(f"non-standard JSON constant {const}")

    return json.loads(text, parse_constant=refuse)


def assert_clean_results(out: Path) -> None:
    """summary.json is strict JSON; no weekly.csv or runs.csv cell reads NaN or infinity."""
    strict_json((out / "summary.json").read_text())
    for name in ("weekly.csv", "runs.csv"):
        with open(out / name, newline="") as fh:
            rows = csv.reader(fh)
            header = next(rows)
            for row in rows:
                for col, cell in zip(header, row):
                    if col != "scenario":
                        assert cell.strip().lower() not in CSV_BAD, f"{name}: {col} = {cell!r}"


def run_cli(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def check_cli(case: Case) -> str:
    with tempfile.TemporaryDirectory(prefix="sim-fuzz-cli-") as tmp:
        tmp = Path(tmp)
        path = write_case(case, tmp)
        out = tmp / "out"
        sets = [f"--set={s}" for s in case.overrides]  # --set=VALUE: a value may start with "-"
        # the fuzzed overrides first: the shrinking ones must win, so an accepted input runs small
        args = ["run", str(path), *sets, "--set", "employees=30", "--set", "weeks=3", "-r", "2", "-q", "--no-plots",
                "--out", str(out)]
        try:
            proc = run_cli(args, tmp)
        except subprocess.TimeoutExpired:
            pytest.fail(f"sim run did not finish within 60 s (a hang): {case}")
        err = proc.stderr
        if proc.returncode not in (0, 2) or "Traceback" in err:
            bug = known_bug(case, err)
            if bug is not None:
                assert not out.exists(), "a failing run left an --out folder"
                return f"known-bug:{bug}"
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 2), (proc.returncode, err)
        if proc.returncode == 2:
            lines = err.strip("\n").split("\n")
            assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr is not one error line: {err!r}"
            check_message(lines[0].removeprefix("error: "), case)
            assert not out.exists(), "an --out folder was created for refused input"
            return "refused"
        assert not case.must_refuse, "accepted input that must be refused"
        assert_clean_results(out)
        return "ran"


def argv_safe(arg: str) -> bool:
    """Whether a string can be passed in argv (no NUL byte, encodable)."""
    try:
        os.fsencode(arg)
    except UnicodeEncodeError:
        return False
    return "\0" not in arg


@settings(max_examples=CLI_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(st.data())
def test_fuzz_cli_end_to_end(data):
    """A few mutated scenarios through the real CLI: exit 0 with clean files, or 2 with one line."""
    kind = data.draw(st.sampled_from(CLI_CLASSES), label="class")
    case = make_case(data, kind)
    assume(all(argv_safe(s) for s in case.overrides))
    outcome = check_cli(case)
    COUNTS[("cli:" + kind, "cases")] += 1
    COUNTS[("cli:" + kind, outcome)] += 1


def test_python_tags_never_execute(tmp_path):
    """A python/object/apply tag is refused, not run, wherever it appears."""
    marker = tmp_path / "pwned"
    for stem in STEMS:
        doc = json.loads(json.dumps(FULL[stem]))
        doc["description"] = Raw(f"!!python/object/apply:os.system ['touch {marker}']")
        path = tmp_path / f"{stem}.yaml"
        path.write_bytes(dump(doc))
        with pytest.raises(ScenarioError, match="python/object/apply"):
            load_scenario(path)
    assert not marker.exists()


def test_billion_laughs_refused_within_a_second(tmp_path):
    """The classic 9 x 9 bomb (10^9 leaves if expanded) is refused quickly, naming the cause."""
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb_text(9, 9, "description", "lol", False))
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert time.perf_counter() - t0 < 1.0
    assert "alias bomb" in str(info.value) and "bomb.yaml" in str(info.value)


def test_maximal_file_refused_quickly(tmp_path):
    """A file at the size limit made of one deep flow sequence is refused within seconds."""
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "[" * 2_400_000 + "]" * 2_400_000 + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match="nested|too large"):
        load_scenario(path)
    assert time.perf_counter() - t0 < 5.0


# --- bugs found by fuzzing, pinned: each xfail(strict) turns red once the bug is fixed ----------
def cli_contract(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-600:]
    assert proc.returncode == 2, proc.returncode
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")


TINY_RUN = ["--set", "employees=10", "--set", "weeks=2", "-r", "1", "-q", "--no-plots"]


@pytest.mark.parametrize("value", ["[leaderboard]", "{a: 1}"], ids=["list", "mapping"])
def test_bug_policy_type_unhashable(tmp_path, value):
    (tmp_path / "t.yaml").write_text(f"extends: leaderboard\npolicies:\n  leaderboard:\n    type: {value}\n")
    with pytest.raises(ScenarioError, match="policies.leaderboard.type"):
        load_scenario(tmp_path / "t.yaml")


def test_bug_integer_over_4300_digits(tmp_path):
    (tmp_path / "t.yaml").write_text("extends: leaderboard\nemployees: " + "9" * 5000 + "\n")
    proc = run_cli(["run", "t.yaml", *TINY_RUN, "--out", "out"], tmp_path)
    cli_contract(proc)
    assert "employees" in proc.stderr


@pytest.mark.parametrize("where", ["argument", "extends"])
def test_bug_scenario_name_too_long(tmp_path, where):
    long = "x" * 300 + ".yaml"
    if where == "extends":
        (tmp_path / "t.yaml").write_text(f"extends: {long}\n")
        target = "t.yaml"
    else:
        target = long
    proc = run_cli(["run", target, *TINY_RUN, "--out", "out"], tmp_path)
    cli_contract(proc)
    assert "not found" in proc.stderr or "too long" in proc.stderr


@pytest.mark.parametrize("name", ['"a\\0b"', "x" * 300], ids=["nul", "too-long"])
def test_bug_scenario_name_unusable_as_folder(tmp_path, name):
    (tmp_path / "t.yaml").write_text(f"extends: leaderboard\nname: {name}\n")
    proc = run_cli(["run", "t.yaml", *TINY_RUN], tmp_path)
    cli_contract(proc)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_bug_negative_seed_flag(tmp_path):
    proc = run_cli(["run", "leaderboard", *TINY_RUN, "--seed", "-1", "--out", "out"], tmp_path)
    cli_contract(proc)
    assert "--seed" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_bug_out_below_a_file(tmp_path):
    (tmp_path / "afile").write_text("keep me\n")
    proc = run_cli(["run", "leaderboard", *TINY_RUN, "--out", "afile/sub"], tmp_path)
    cli_contract(proc)
    assert (tmp_path / "afile").read_text() == "keep me\n"


def test_bug_out_name_too_long(tmp_path):
    proc = run_cli(["run", "leaderboard", *TINY_RUN, "--out", "o" * 300], tmp_path)
    cli_contract(proc)


def test_bool_for_top_level_integer_blames_set():
    """Found by fuzzing (blamed on the scenario file, without the key path), fixed since: pinned."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(SHIPPED_DIR / "leaderboard.yaml", ["seed=true"])
    assert info.value.file == "--set"
    assert info.value.path == "seed"


@pytest.mark.parametrize(
    "override", ["choice.margin=-0.0", "workforce.productivity={dist: uniform, low: 0, high: -0.0}"],
    ids=["margin", "uniform-high"],
)
def test_bug_negative_zero_crashes_the_engine(override):
    scn = load_scenario(SHIPPED_DIR / "baseline.yaml", [override, "employees=10", "weeks=2", "replications=1"])
    check_run(scn)


def test_bug_large_flat_file_refused_slowly(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("name: wide\nlol: [" + "1, " * 330_000 + "1]\n")
    with alarm(1.0), pytest.raises(ScenarioError, match="wide.yaml"):
        load_scenario(path)


@pytest.mark.parametrize("text, override", [
    ("seed: !!int x", None),
    ("seed: !!int ''", None),
    ("seed: !!int 0b2", None),
    ("seed: !!float x", None),
    ("seed: !!bool maybe", None),
    ("name: !!timestamp x", None),
    ("name: !!timestamp 2001-13-45", None),
    ("", "seed=!!int x"),
], ids=["int", "int-empty", "int-binary", "float", "bool", "timestamp", "timestamp-month", "set-int"])
def test_bug_explicit_scalar_tag_with_bad_value(tmp_path, text, override):
    path = tmp_path / "tagged.yaml"
    path.write_text(f"extends: leaderboard\n{text}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, [override] if override else [])
    assert "tagged.yaml" in str(info.value) or "--set" in str(info.value)


def test_bug_lone_surrogate_in_name(tmp_path):
    (tmp_path / "t.yaml").write_text('extends: leaderboard\nname: "\\ud800"\n')
    proc = run_cli(["run", "t.yaml", *TINY_RUN, "--out", "out"], tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr[-600:]
    assert proc.returncode in (0, 2)
