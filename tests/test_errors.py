"""Bad input never produces a traceback: one line on stderr, exit code 2, nothing written.

Every case runs the real CLI (``python -m sim.cli``) in a subprocess, with the scenario file
written into ``tmp_path`` and ``tmp_path`` as the working directory, and checks the promise
of the issue: one line naming the file, the line YAML gives, the key path and the allowed
choices (with a "did you mean" for close names); exit code 2; no traceback; no results
folder. A few tests go through :func:`sim.loader.load_scenario` directly to pin the
attributes of :class:`sim.errors.ScenarioError`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.loader import load_scenario
from sim.policies import REGISTRY

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml"))

# a tiny run, so that a scenario wrongly accepted finishes in a blink instead of hanging the suite
TINY = "employees: 5\nweeks: 1\nreplications: 1\n"


# --- helpers ----------------------------------------------------------------------------------
def cli(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def tree(root: Path) -> set[str]:
    """Every file and folder under ``root`` (hidden ones included), relative to it."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def run_bad(tmp_path: Path, scenario: str, *extra: str, out: bool = True) -> str:
    """Run ``sim run`` on bad input; check the error contract; return the one stderr line."""
    before = tree(tmp_path)
    args = ["run", scenario, *extra, "-q", "--no-plots"]
    if out:
        args += ["--out", "out"]
    proc = cli(args, tmp_path)
    err = proc.stderr
    assert "Traceback" not in err, err
    assert proc.returncode == 2, (proc.returncode, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {err!r}"
    assert err.startswith("error: "), err
    assert not (tmp_path / "out").exists(), "an --out folder was created for invalid input"
    assert tree(tmp_path) == before, f"files were written: {tree(tmp_path) - before}"
    return lines[0]


# --- missing and unreadable files -------------------------------------------------------------
def test_missing_file_says_not_found_and_lists_shipped(tmp_path):
    err = run_bad(tmp_path, "nope.yaml")
    assert "not found" in err
    assert "nope.yaml" in err
    for stem in SHIPPED:
        assert stem in err


def test_missing_shipped_name_suggests_close_one(tmp_path):
    err = run_bad(tmp_path, "leaderbord")
    assert "not found" in err
    assert "did you mean 'leaderboard'" in err


def test_no_default_results_folder_for_invalid_scenario(tmp_path):
    """Without --out the default is results/<name>-<stamp>: it must not appear either."""
    write(tmp_path, "bad.yaml", "name: bad\nemployes: 100\n")
    run_bad(tmp_path, "bad.yaml", out=False)
    assert not (tmp_path / "results").exists()


def test_show_reports_the_same_way(tmp_path):
    write(tmp_path, "bad.yaml", "name: bad\nemployes: 100\n")
    proc = cli(["show", "bad.yaml"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "did you mean 'employees'" in proc.stderr
    assert proc.stdout == ""


# --- invalid YAML -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, line",
    [
        # line 4 is over-indented: YAML flags it there
        ("name: x\neconomy:\n  price: 3\n   attention_cost: 4\n", 4),
        # the bracket opened on line 3 is not closed; YAML finds the ':' on line 4
        ("name: x\nweeks: 5\npolicies: [a, b\nemployees: 3\n", 4),
        # unclosed brace: YAML reaches the end of the stream on line 3
        ("name: x\neconomy: {price: 3\n", 3),
        # a tab cannot start a token
        ("name: x\nemployees: 60\n\tweeks: 3\n", 3),
    ],
    ids=["bad-indent", "unclosed-bracket", "unclosed-brace", "tab"],
)
def test_invalid_yaml_names_file_and_line(tmp_path, text, line):
    write(tmp_path, "broken.yaml", text)
    err = run_bad(tmp_path, "broken.yaml")
    assert f"broken.yaml:{line}:" in err
    assert "invalid YAML" in err


# --- unknown keys -----------------------------------------------------------------------------
def test_unknown_top_level_key(tmp_path):
    write(tmp_path, "typo.yaml", "name: typo\nemployes: 100\n")
    err = run_bad(tmp_path, "typo.yaml")
    assert "typo.yaml:2:" in err
    assert "employes" in err
    assert "did you mean 'employees'" in err
    assert "Allowed:" in err


def test_unknown_nested_key(tmp_path):
    write(tmp_path, "nested.yaml", "name: nested\neconomy:\n  prise: 3\n")
    err = run_bad(tmp_path, "nested.yaml")
    assert "nested.yaml:3:" in err
    assert "economy.prise" in err
    assert "did you mean 'price'" in err


def test_unknown_nested_key_flow_style(tmp_path):
    write(tmp_path, "flow.yaml", "name: flow\neconomy: {prise: 3}\n")
    err = run_bad(tmp_path, "flow.yaml")
    assert "flow.yaml:2:" in err
    assert "economy.prise" in err
    assert "did you mean 'price'" in err


def test_unknown_policy_key(tmp_path):
    write(tmp_path, "pol.yaml", "name: pol\npolicies:\n  leaderboard:\n    prizee: 5\n")
    err = run_bad(tmp_path, "pol.yaml")
    assert "pol.yaml:4:" in err
    assert "policies.leaderboard.prizee" in err
    assert "did you mean 'prize'" in err
    for field in ("prize", "top_share", "top_prize"):
        assert field in err


def test_unknown_policy_key_with_explicit_type(tmp_path):
    write(tmp_path, "pol.yaml", "name: pol\npolicies:\n  lb:\n    type: leaderboard\n    prizee: 5\n")
    err = run_bad(tmp_path, "pol.yaml")
    assert "pol.yaml:5:" in err
    assert "policies.lb.prizee" in err
    assert "did you mean 'prize'" in err


def test_unknown_policy_type(tmp_path):
    write(tmp_path, "pt.yaml", "name: pt\npolicies:\n  leaderbord: {}\n")
    err = run_bad(tmp_path, "pt.yaml")
    assert "pt.yaml:3:" in err
    assert "policies.leaderbord" in err
    assert "did you mean 'leaderboard'" in err
    for name in REGISTRY:
        assert name in err


def test_unknown_policy_type_field(tmp_path):
    write(tmp_path, "pt.yaml", "name: pt\npolicies:\n  lb:\n    type: leaderbord\n")
    err = run_bad(tmp_path, "pt.yaml")
    assert "pt.yaml:4:" in err
    assert "policies.lb.type" in err
    assert "did you mean 'leaderboard'" in err


def test_policy_not_a_mapping(tmp_path):
    write(tmp_path, "pm.yaml", "name: pm\npolicies:\n  leaderboard: 5\n")
    err = run_bad(tmp_path, "pm.yaml")
    assert "pm.yaml:3:" in err
    assert "policies.leaderboard" in err


# --- values out of bounds, wrong types, NaN -------------------------------------------------
def test_value_below_bound(tmp_path):
    write(tmp_path, "neg.yaml", "name: neg\neconomy:\n  price: -1\n")
    err = run_bad(tmp_path, "neg.yaml")
    assert "neg.yaml:3:" in err
    assert "economy.price" in err
    assert "greater than or equal to 0" in err
    assert "-1" in err


def test_policy_param_above_bound(tmp_path):
    write(tmp_path, "ts.yaml", "name: ts\npolicies:\n  leaderboard:\n    top_share: 2\n")
    err = run_bad(tmp_path, "ts.yaml")
    assert "ts.yaml:4:" in err
    assert "policies.leaderboard.top_share" in err
    assert "less than or equal to 1" in err
    assert "2" in err


def test_wrong_type(tmp_path):
    write(tmp_path, "many.yaml", "name: many\nemployees: many\n")
    err = run_bad(tmp_path, "many.yaml")
    assert "many.yaml:2:" in err
    assert "employees:" in err
    assert "integer" in err
    assert "'many'" in err


def test_fractional_integer(tmp_path):
    write(tmp_path, "frac.yaml", "name: frac\nweeks: 1.5\n")
    err = run_bad(tmp_path, "frac.yaml")
    assert "frac.yaml:2:" in err
    assert "weeks" in err


def test_mapping_given_a_scalar(tmp_path):
    write(tmp_path, "sc.yaml", "name: sc\neconomy: 5\n")
    err = run_bad(tmp_path, "sc.yaml")
    assert "sc.yaml:2:" in err
    assert "economy" in err


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_non_finite_values_rejected(tmp_path, value):
    write(tmp_path, "nan.yaml", f"name: nan\neconomy:\n  price: {value}\n")
    err = run_bad(tmp_path, "nan.yaml")
    assert "nan.yaml:3:" in err
    assert "economy.price" in err
    assert "finite" in err


def test_non_finite_policy_param_rejected(tmp_path):
    write(tmp_path, "nan.yaml", "name: nan\npolicies:\n  leaderboard:\n    prize: .nan\n")
    err = run_bad(tmp_path, "nan.yaml")
    assert "policies.leaderboard.prize" in err
    assert "finite" in err


# --- extends ----------------------------------------------------------------------------------
def test_extends_missing_file(tmp_path):
    write(tmp_path, "child.yaml", "name: child\nextends: nothere.yaml\n")
    err = run_bad(tmp_path, "child.yaml")
    assert "child.yaml:2:" in err
    assert "extends" in err
    assert "nothere.yaml" in err
    assert "not found" in err


def test_extends_error_in_parent_names_parent(tmp_path):
    write(tmp_path, "parent.yaml", "name: parent\neconomy:\n  prise: 3\n")
    write(tmp_path, "child.yaml", "# a variant\nextends: parent.yaml\nname: child\n")
    err = run_bad(tmp_path, "child.yaml")
    assert "parent.yaml:3:" in err
    assert "economy.prise" in err
    assert "did you mean 'price'" in err


def test_extends_cycle(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    err = run_bad(tmp_path, "a.yaml")
    assert "cycle" in err
    assert "a.yaml" in err and "b.yaml" in err


# --- --set overrides and flags ----------------------------------------------------------------
@pytest.mark.parametrize(
    "override, expect",
    [
        ("economy.prise=3", ["--set", "economy.prise", "did you mean 'price'"]),
        ("nonsense", ["--set", "nonsense"]),
        ("=3", ["--set", "empty key"]),
        ("economy.price=-1", ["--set", "economy.price", "greater than or equal to 0"]),
        ("economy.price=abc", ["--set", "economy.price", "'abc'"]),
        ("economy.price=[", ["--set", "economy.price", "cannot parse"]),
        ("economy.price=.nan", ["--set", "economy.price", "finite"]),
        ("employees=0", ["--set", "employees"]),
        ("policies.leaderboard.prizee=5", ["--set", "policies.leaderboard.prizee", "did you mean 'prize'"]),
    ],
    ids=["typo", "no-equals", "empty-key", "out-of-bounds", "wrong-type", "bad-yaml", "nan", "zero", "policy-typo"],
)
def test_bad_set(tmp_path, override, expect):
    err = run_bad(tmp_path, "leaderboard", "--set", override)
    for text in expect:
        assert text in err


@pytest.mark.parametrize("flag", ["--replications", "--workers", "--batch-size"])
def test_flag_below_one(tmp_path, flag):
    err = run_bad(tmp_path, "leaderboard", flag, "0")
    assert flag in err
    assert "at least 1" in err


def test_out_is_a_file(tmp_path):
    write(tmp_path, "afile", "keep me\n")
    before = tree(tmp_path)
    proc = cli(["run", "leaderboard", "--set", "employees=5", "--set", "weeks=1", "-r", "1",
                "--out", "afile", "-q", "--no-plots"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "not a folder" in proc.stderr
    assert (tmp_path / "afile").read_text() == "keep me\n"
    assert tree(tmp_path) == before


# --- schedules and triggers -------------------------------------------------------------------
def test_schedule_undefined_policy_id(tmp_path):
    write(tmp_path, "sch.yaml",
          "name: sch\npolicies:\n  leaderboard: {}\nschedule:\n  - week: 3\n    activate: [roi]\n")
    err = run_bad(tmp_path, "sch.yaml")
    assert "sch.yaml:6:" in err
    assert "schedule.0.activate" in err
    assert "'roi'" in err
    assert "leaderboard" in err  # the ids that are defined


def test_schedule_close_policy_id_suggested(tmp_path):
    write(tmp_path, "sch.yaml",
          "name: sch\npolicies:\n  leaderboard: {}\nschedule:\n  - week: 3\n    deactivate: [leaderbord]\n")
    err = run_bad(tmp_path, "sch.yaml")
    assert "schedule.0.deactivate" in err
    assert "did you mean 'leaderboard'" in err


def test_schedule_unknown_entry_key(tmp_path):
    write(tmp_path, "sch.yaml", "name: sch\nschedule:\n  - week: 2\n    activat: [x]\n")
    err = run_bad(tmp_path, "sch.yaml")
    assert "sch.yaml:4:" in err
    assert "schedule.0.activat" in err
    assert "did you mean 'activate'" in err


TRIGGER = (
    "name: trig\npolicies:\n  leaderboard: {}\nschedule:\n"
    "  - when: {metric: cost_per_employe, above: 3}\n    deactivate: [leaderboard]\n"
)


def test_trigger_unknown_metric(tmp_path):
    write(tmp_path, "trig.yaml", TRIGGER)
    err = run_bad(tmp_path, "trig.yaml")
    assert "trig.yaml:5:" in err
    assert "schedule.0.when" in err
    assert "unknown metric 'cost_per_employe'" in err
    assert "cost_per_employee" in err  # listed among the allowed metrics


def test_trigger_unknown_metric_suggests_close_name(tmp_path):
    write(tmp_path, "trig.yaml", TRIGGER)
    err = run_bad(tmp_path, "trig.yaml")
    assert "did you mean 'cost_per_employee'" in err


def test_trigger_needs_one_side(tmp_path):
    write(tmp_path, "trig.yaml",
          "name: trig\npolicies:\n  leaderboard: {}\nschedule:\n"
          "  - when: {metric: cost_per_employee}\n    deactivate: [leaderboard]\n")
    err = run_bad(tmp_path, "trig.yaml")
    assert "schedule.0.when" in err
    assert "above" in err and "below" in err


# --- not a scenario at all --------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"], ids=["empty", "blank", "comment", "doc-marker"])
def test_empty_file(tmp_path, text):
    write(tmp_path, "empty.yaml", text)
    err = run_bad(tmp_path, "empty.yaml")
    assert "empty.yaml" in err
    assert "empty" in err


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")], ids=["list", "string", "number"])
def test_not_a_mapping(tmp_path, text, kind):
    write(tmp_path, "notmap.yaml", text)
    err = run_bad(tmp_path, "notmap.yaml")
    assert "notmap.yaml" in err
    assert "mapping" in err
    assert kind in err


def test_binary_garbage_invalid_utf8(tmp_path):
    write(tmp_path, "garbage.yaml", b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x80" + bytes(range(256)) * 4)
    err = run_bad(tmp_path, "garbage.yaml")
    assert "garbage.yaml" in err
    assert "UTF-8" in err or "text" in err


@pytest.mark.parametrize("data", [b"name: x\x00\x01\n", bytes(range(1, 9)) * 20], ids=["nul", "controls"])
def test_binary_garbage_control_characters(tmp_path, data):
    write(tmp_path, "garbage.yaml", data)
    err = run_bad(tmp_path, "garbage.yaml")
    assert "garbage.yaml" in err


# --- hostile YAML -----------------------------------------------------------------------------
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi")
)


def test_alias_bomb_refused_quickly(tmp_path):
    write(tmp_path, "bomb.yaml", BOMB)
    t0 = time.perf_counter()
    err = run_bad(tmp_path, "bomb.yaml")
    assert time.perf_counter() - t0 < 10
    assert "alias" in err or "nodes" in err


def test_deep_nesting_refused(tmp_path):
    write(tmp_path, "deep.yaml", "a: " + "[" * 200 + "]" * 200 + "\n")
    err = run_bad(tmp_path, "deep.yaml")
    assert "nested" in err


@pytest.mark.parametrize("text", [BOMB, "a: " + "[" * 200 + "]" * 200 + "\n"], ids=["bomb", "deep"])
def test_hostile_yaml_error_names_file(tmp_path, text):
    write(tmp_path, "hostile.yaml", text)
    err = run_bad(tmp_path, "hostile.yaml")
    assert "hostile.yaml" in err


@pytest.mark.parametrize(
    "text",
    [
        "name: !!python/object:os.system x\n",
        "name: !!python/name:os.system x\n",
        "name: x\nseed: !!python/object/apply:builtins.int '5'\n",
    ],
    ids=["object", "name", "apply"],
)
def test_unknown_yaml_tag_on_scalar_refused(tmp_path, text):
    write(tmp_path, "tag.yaml", TINY + text)
    err = run_bad(tmp_path, "tag.yaml")
    assert "tag.yaml:" in err
    assert "python/" in err  # the offending tag is named


def test_python_tag_never_executes(tmp_path):
    write(tmp_path, "tag.yaml", TINY + "name: !!python/object/apply:os.system ['touch pwned']\n")
    proc = cli(["show", "tag.yaml"], tmp_path)
    assert not (tmp_path / "pwned").exists()
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "text",
    [
        "name: x\neconomy: !!python/object:os.system {price: 3}\n",
        "name: x\nschedule: !!python/tuple []\n",
        "name: x\npolicies: !!python/object/new:collections.OrderedDict {}\n",
    ],
    ids=["mapping", "sequence", "mapping-new"],
)
def test_unknown_yaml_tag_on_collection_refused(tmp_path, text):
    write(tmp_path, "tag.yaml", TINY + text)
    err = run_bad(tmp_path, "tag.yaml")
    assert "tag.yaml:" in err


# --- further promise gaps ---------------------------------------------------------------------
def test_unknown_key_in_distribution_suggests_its_fields(tmp_path):
    write(tmp_path, "dist.yaml", "name: dist\nworkforce:\n  productivity: {sigmaa: 1}\n")
    err = run_bad(tmp_path, "dist.yaml")
    assert "workforce.productivity.sigmaa" in err
    assert "did you mean 'sigma'" in err


def test_literal_choice_suggests_close_name(tmp_path):
    write(tmp_path, "kind.yaml", "name: kind\nnetwork: {kind: smallworld}\n")
    err = run_bad(tmp_path, "kind.yaml")
    assert "network.kind" in err
    assert "did you mean 'small_world'" in err


def test_bool_is_wrong_type_for_integer(tmp_path):
    write(tmp_path, "bool.yaml", "name: bool\nemployees: true\nweeks: 1\nreplications: 1\n")
    err = run_bad(tmp_path, "bool.yaml")
    assert "employees" in err


def test_set_unknown_policy_blames_set(tmp_path):
    err = run_bad(tmp_path, "leaderboard", "--set", "policies.leaderbord.prize=3")
    assert "did you mean 'leaderboard'" in err
    assert "--set" in err
    assert "leaderboard.yaml" not in err


# --- unit level: load_scenario and ScenarioError ----------------------------------------------
def _raises(path: Path, *overrides: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return info.value


def test_load_scenario_unknown_key_attributes(tmp_path):
    path = write(tmp_path, "typo.yaml", "name: typo\nemployes: 100\n")
    e = _raises(path)
    assert e.file == str(path)
    assert e.line == 2
    assert e.path == "employes"
    assert e.got == "employes"
    assert "employees" in e.allowed


def test_load_scenario_nested_key_attributes(tmp_path):
    path = write(tmp_path, "nested.yaml", "name: nested\n\neconomy:\n  prise: 3\n")
    e = _raises(path)
    assert (e.file, e.line, e.path) == (str(path), 4, "economy.prise")
    assert "did you mean 'price'" in str(e)


def test_load_scenario_policy_key_attributes(tmp_path):
    path = write(tmp_path, "pol.yaml", "name: pol\npolicies:\n  leaderboard:\n    prizee: 5\n")
    e = _raises(path)
    assert (e.line, e.path) == (4, "policies.leaderboard.prizee")
    assert "prize" in e.allowed


def test_load_scenario_bound_attributes(tmp_path):
    path = write(tmp_path, "ts.yaml", "name: ts\npolicies:\n  leaderboard:\n    top_share: 2\n")
    e = _raises(path)
    assert (e.line, e.path) == (4, "policies.leaderboard.top_share")


def test_load_scenario_invalid_yaml_attributes(tmp_path):
    path = write(tmp_path, "broken.yaml", "name: x\neconomy:\n  price: 3\n   attention_cost: 4\n")
    e = _raises(path)
    assert e.file == str(path)
    assert e.line == 4
    assert e.path is None


def test_load_scenario_override_attributes(tmp_path):
    path = write(tmp_path, "ok.yaml", "name: ok\nemployees: 10\n")
    e = _raises(path, "economy.prise=3")
    assert e.file == "--set"
    assert e.line is None
    assert e.path == "economy.prise"


def test_load_scenario_schedule_attributes(tmp_path):
    path = write(tmp_path, "sch.yaml",
                 "name: sch\npolicies:\n  leaderboard: {}\nschedule:\n  - week: 3\n    activate: [roi]\n")
    e = _raises(path)
    assert (e.line, e.path, e.got) == (6, "schedule.0.activate", "roi")


def test_load_scenario_missing_file():
    e = _raises(Path("definitely/not/here.yaml"))
    assert "not found" in e.message
    assert e.allowed == SHIPPED


def test_scenario_error_str_examples():
    e = ScenarioError("unknown key 'prise'", file="a.yaml", line=3, path="economy.prise",
                      allowed=["price", "gamma"], got="prise")
    assert str(e) == "a.yaml:3: economy.prise: unknown key 'prise'; did you mean 'price'? Allowed: gamma, price."
    assert str(ScenarioError("oops", file="a.yaml")) == "a.yaml: oops"
    assert str(ScenarioError("oops")) == "oops"
    e = ScenarioError("multi\nline\r\nmessage\twith   gaps", file="x\ny.yaml", line=2, path="p\nq",
                      allowed=["a\nb", "c"], got="a\nb")
    assert "\n" not in str(e) and "\r" not in str(e)
    assert len(str(e).splitlines()) == 1


@settings(max_examples=200, deadline=None, database=None)
@given(
    message=st.text(),
    file=st.none() | st.text(),
    line=st.none() | st.integers(min_value=1, max_value=10**6),
    path=st.none() | st.text(),
    allowed=st.none() | st.lists(st.text(), max_size=5),
    got=st.none() | st.text(),
)
def test_scenario_error_str_is_always_one_line(message, file, line, path, allowed, got):
    s = str(ScenarioError(message, file=file, line=line, path=path, allowed=allowed, got=got))
    assert len(s.splitlines()) <= 1
    assert "\n" not in s and "\r" not in s


# --- fixed in session 2 (were observations in docs/robustness.md) --------------------------------
def test_session2_fixes_argparse_errors_are_one_line():
    for argv in (["run"], ["run", "baseline", "--bogus"], ["frob"]):
        r = subprocess.run([sys.executable, "-m", "sim.cli", *argv], capture_output=True, text=True, cwd=REPO)
        assert r.returncode == 2
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "--help" in lines[0], r.stderr


def test_session2_fixes_duplicate_keys_refused_with_both_lines(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("extends: baseline\nweeks: 10\npolicies:\n  leaderboard: {prize: 1, prize: 2}\nweeks: 12\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    assert "dup.yaml:4:" in str(e.value) and "duplicate key 'prize' (first given on line 4)" in str(e.value)
    f.write_text("extends: baseline\nweeks: 10\nweeks: 12\n")
    with pytest.raises(ScenarioError, match=r"dup.yaml:3: weeks: duplicate key 'weeks' \(first given on line 2\)"):
        load_scenario(f)
    # a << merge may still be overridden by a key written beside it
    f.write_text("extends: baseline\nworkforce:\n  productivity: &b {dist: lognormal, median: 400, sigma: 0.5}\n"
                 "  gaming_aversion: {<<: *b, median: 3}\n")
    ga = load_scenario(f).workforce.gaming_aversion
    assert (ga.median, ga.sigma) == (3, 0.5)


@pytest.mark.parametrize("text, key", [
    ("schedule:\n  - week: true\n    deactivate: [leaderboard]\n", "schedule.0.week"),
    ("schedule:\n  - when: {metric: cost_per_employee, above: true}\n    deactivate: [leaderboard]\n",
     "schedule.0.when.above"),
])
def test_session2_fixes_booleans_refused_for_optional_numbers(tmp_path, text, key):
    f = tmp_path / "b.yaml"
    f.write_text("extends: leaderboard\n" + text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    assert key in str(e.value)


def test_session2_fixes_no_choices_left_says_so():
    assert str(ScenarioError("unknown policy id 'x'", allowed=[], got="x")).endswith("There are none to choose from.")
