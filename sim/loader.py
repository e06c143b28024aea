"""Loading scenarios from YAML: ``extends``, ``--set`` overrides and precise error messages.

Every user mistake becomes one :class:`~sim.errors.ScenarioError` naming the file, the line
(where YAML gives it), the key path, and the valid choices with a "did you mean".
Only ``yaml.SafeLoader`` semantics are used; alias expansion is bounded.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from .config import Scenario
from .errors import ScenarioError

SHIPPED = Path(__file__).resolve().parent.parent / "scenarios"
MAX_NODES = 100_000  # refuses "billion laughs" alias bombs long before they expand
MAX_BYTES = 1_000_000  # a scenario is a few kB
MAX_ITEMS = 20_000  # separators (newlines, commas) before parsing: refuses huge flat files at once

Key = tuple[Any, ...]
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
Where = Callable[[Key], tuple[str | None, int | None]]


def resolve_path(name: str | Path, base: Path | None = None) -> Path:
    """Find a scenario file: as given, relative to ``base``, or a shipped scenario by name."""
    name = str(name)
    candidates = [Path(name)]
    if base is not None:
        candidates.insert(0, base / name)
    stem = name if name.endswith((".yaml", ".yml")) else name + ".yaml"
    candidates += [Path("scenarios") / stem, SHIPPED / stem, SHIPPED / Path(stem).name]
    for c in candidates:
        try:
            if c.is_file():
                return c
        except (OSError, ValueError):  # a name too long for the file system, or with a NUL byte
            continue
    shipped = sorted(p.stem for p in SHIPPED.glob("*.yaml"))
    raise ScenarioError(
        f"scenario file not found: '{name}'", allowed=shipped, got=Path(name).stem
    )


def default_name(path: Path) -> str:
    """A scenario's name when it gives none: its file name, made safe for a folder name."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", path.stem)[:80] or "scenario"
    return name if name[0].isalnum() else "s" + name[:79]


def read_yaml(path: Path) -> tuple[Any, dict[Key, int]]:
    """Parse one YAML file safely; return the data and the line of every key path."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror}", file=str(path)) from None
    if len(raw) > MAX_BYTES:
        raise ScenarioError(f"file is too large for a scenario ({len(raw)} bytes)", file=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("not a text file (invalid UTF-8)", file=str(path)) from None
    if text.count("\n") + text.count(",") > MAX_ITEMS:
        raise ScenarioError(f"too many lines or items for a scenario (over {MAX_ITEMS})", file=str(path))
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        lines: dict[Key, int] = {}
        count = [0]
        data = _construct(loader, node, (), lines, count) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError(f"invalid YAML: {problem}", file=str(path), line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {exc}", file=str(path)) from None
    except RecursionError:
        raise ScenarioError("invalid YAML: nested too deeply", file=str(path)) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:  # a tag PyYAML cannot convert
        raise ScenarioError(f"invalid YAML value: {str(exc).splitlines()[0][:120]}", file=str(path)) from None
    except ScenarioError as exc:
        raise ScenarioError(exc.message, file=str(path), line=exc.line, path=exc.path) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: Key, lines: dict, count: list) -> Any:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise ScenarioError(f"YAML expands to more than {MAX_NODES} nodes (too large, or an alias bomb)")
    if len(path) > 50:
        raise ScenarioError("YAML is nested more than 50 levels deep")
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        raise yaml.MarkedYAMLError(problem=f"unknown YAML tag {node.tag!r}", problem_mark=node.start_mark)
    if isinstance(node, yaml.MappingNode):
        written = {id(k) for k, _ in node.value}  # keys written here, not brought in by a << merge
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise yaml.MarkedYAMLError(problem="keys must be plain names", problem_mark=key_node.start_mark)
            if id(key_node) in written:
                if key in first:  # PyYAML would silently keep the last one
                    raise ScenarioError(f"duplicate key '{key}' (first given on line {first[key]})",
                                        line=key_node.start_mark.line + 1, path=".".join(map(str, path + (key,))))
                first[key] = key_node.start_mark.line + 1
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _construct(loader, value_node, path + (key,), lines, count)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, child in enumerate(node.value):
            lines[path + (i,)] = child.start_mark.line + 1
            items.append(_construct(loader, child, path + (i,), lines, count))
        return items
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:  # e.g. '!!int x'
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise ScenarioError(f"cannot read this value ({reason})", line=node.start_mark.line + 1,
                            path=".".join(map(str, path)) or None) from None


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return copy.deepcopy(over)


def load_raw(path: Path, _seen: tuple[Path, ...] = ()) -> tuple[dict, dict[Key, tuple[str, int]]]:
    """Read a scenario file and everything it ``extends``; return merged data and key origins."""
    real = path.resolve()
    if real in _seen:
        chain = " -> ".join(p.name for p in (*_seen, real))
        raise ScenarioError(f"'extends' forms a cycle: {chain}", file=str(path))
    data, lines = read_yaml(path)
    if data is None:
        raise ScenarioError("the scenario file is empty", file=str(path))
    if not isinstance(data, dict):
        raise ScenarioError(f"a scenario must be a mapping of keys, not a {type(data).__name__}", file=str(path))
    origin = {k: (str(path), line) for k, line in lines.items()}
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return _expand_tiers(data), origin
    if not isinstance(parent_name, str):
        raise ScenarioError("'extends' must name a scenario file", file=str(path), line=lines.get(("extends",)))
    try:
        parent_path = resolve_path(parent_name, base=path.parent)
    except ScenarioError as exc:
        raise ScenarioError(exc.message, file=str(path), line=lines.get(("extends",)), path="extends") from None
    parent, parent_origin = load_raw(parent_path, (*_seen, real))
    if "name" not in data:  # a variant gets its own name from its file, not its parent's
        data["name"] = default_name(path)
    return _expand_tiers(_merge(parent, data)), {**parent_origin, **origin}


def _expand_tiers(data: dict) -> dict:
    """``economy.tiers: standard`` written out as its list, so overrides can address one tier."""
    economy = data.get("economy")
    if isinstance(economy, dict) and economy.get("tiers") == "standard":
        from .config import STANDARD_TIERS

        economy["tiers"] = [dict(t) for t in STANDARD_TIERS]
    return data


def set_key(data: dict, parts: list[str], value: Any, label: str) -> list[Any]:
    """Set the value at a key path in raw scenario data, creating missing blocks; a part that
    meets a list is a position in it (``economy.tiers.0.price``).

    Returns:
        The path with list positions as ints, as the line map keys them.

    Raises:
        ScenarioError: A position outside a list, or a path through a plain value; ``label``
        (e.g. ``--set economy.price``) starts the message.
    """
    node: Any = data
    path: list[Any] = []
    for i, p in enumerate(parts):
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                raise ScenarioError(f"{label}: '{'.'.join(parts[:i])}' is a list of {len(node)}; "
                                    f"'{p}' is not a position in it (0 to {len(node) - 1})")
            p = int(p)
        path.append(p)
        if i == len(parts) - 1:
            node[p] = value
            break
        nxt = node[p] if isinstance(node, list) else node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, (dict, list)):
            raise ScenarioError(f"{label}: '{'.'.join(parts[: i + 1])}' is not a mapping or a list")
        node = nxt
    return path


def apply_overrides(data: dict, origin: dict, assignments: Iterable[str]) -> None:
    """Apply ``key.path=value`` overrides (values parsed as YAML) in place."""
    for item in assignments:
        if "=" not in item:
            raise ScenarioError(f"--set expects key.path=value, got '{item}'")
        key, _, text = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ScenarioError(f"--set has an empty key in '{item}'")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            raise ScenarioError(f"--set {key}: cannot parse value '{text[:80]}'") from None
        path = set_key(data, parts, value, f"--set {key}")
        for i in range(1, len(path) + 1):  # keys this override created are blamed on --set
            if i == len(path) or tuple(path[:i]) not in origin:
                origin[tuple(path[:i])] = ("--set", None)


def _where_fn(origin: dict[Key, tuple[str, int]], default_file: str) -> Where:
    def where(key: Key) -> tuple[str | None, int | None]:
        for n in range(len(key), 0, -1):
            if key[:n] in origin:
                return origin[key[:n]]
        return default_file, None

    return where


def _submodel(ann: Any, value: Any) -> type[BaseModel] | None:
    """The BaseModel class a field annotation resolves to for ``value`` (unions by tag)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in get_args(ann):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            tag = arg.model_fields.get("dist")
            if tag is None or (isinstance(value, dict) and value.get("dist", tag.default) == tag.default):
                return arg
        elif get_origin(arg) is not None or get_args(arg):
            sub = _submodel(arg, value)
            if sub is not None:
                return sub
    return None


def _member_by_tag(ann: Any, tag: Any) -> type[BaseModel] | None:
    """The member of a tagged union annotation whose ``dist`` tag is ``tag``, if any."""
    if ann is None or not isinstance(tag, str):
        return None
    for arg in get_args(ann):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            field = arg.model_fields.get("dist")
            if field is not None and field.default == tag:
                return arg
        elif get_args(arg):
            sub = _member_by_tag(arg, tag)
            if sub is not None:
                return sub
    return None


def validation_error(exc: Exception, model: type[BaseModel], prefix: Key, where: Where | None, data: Any = None) -> ScenarioError:
    """Turn the first pydantic error into a one-line ScenarioError with file, line and choices."""
    if not isinstance(exc, ValidationError):
        return ScenarioError(str(exc), path=".".join(map(str, prefix)) or None)
    err = exc.errors()[0]
    loc = list(err["loc"])
    # walk the model along loc, dropping union tags, to find the parent model and clean path
    cls: type[BaseModel] | None = model
    node = data
    clean: list[Any] = []
    ann: Any = None
    for part in loc:
        tagged = _member_by_tag(ann, part)
        if tagged is not None and (cls is None or part not in cls.model_fields):
            cls = tagged  # a union tag added by pydantic: it names the member that failed; skipped
        elif cls is not None and isinstance(part, str) and part in cls.model_fields:
            ann = cls.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
            clean.append(part)
            cls = _submodel(ann, node)
        elif cls is None or not isinstance(part, str) or err["type"] == "extra_forbidden" and part == loc[-1]:
            clean.append(part)
            node = None
        # else: a union tag added by pydantic, skipped
    path = tuple(prefix) + tuple(clean)
    f, line = where(path) if where else (None, None)
    dotted = ".".join(map(str, path))
    if err["type"] == "extra_forbidden":
        parent, node = model, data
        for part in clean[:-1]:
            if parent is not None and isinstance(part, str) and part in parent.model_fields:
                node = node.get(part) if isinstance(node, dict) else None
                parent = _submodel(parent.model_fields[part].annotation, node) or parent
        allowed = [k for k in parent.model_fields if k != "type" or parent is not model]
        return ScenarioError(
            f"unknown key '{clean[-1]}'", file=f, line=line, path=dotted, allowed=allowed, got=str(clean[-1])
        )
    if err["type"] == "literal_error":
        expected = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        return ScenarioError(f"invalid choice {err.get('input')!r}", file=f, line=line, path=dotted,
                             allowed=expected, got=str(err.get("input")))
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    if err["type"] not in ("missing",) and not isinstance(got, (dict, list)):
        msg += f" (got {got!r})"
    return ScenarioError(msg, file=f, line=line, path=dotted)


def load_scenario(name: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load, merge, override and validate a scenario. Raises ScenarioError on any problem."""
    path = resolve_path(name)
    data, origin = load_raw(path)
    data.setdefault("name", default_name(path))
    apply_overrides(data, origin, overrides)
    where = _where_fn(origin, str(path))
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, Scenario, (), where, data) from None
    check_policies(scn, where)
    return scn


def check_policies(scn: Scenario, where: Where | None = None) -> None:
    """Validate every policy's parameters and every schedule reference."""
    from .policies import build

    tiers = [t.name for t in scn.economy.tiers]
    for pid, raw in scn.policies.items():
        pol = build(pid, raw, where)
        for field in ("default_tier", "justify"):  # routing names tiers of the economy
            names = getattr(pol.p, field, None)
            for j, name in enumerate((names,) if isinstance(names, str) else names or ()):
                if name not in tiers:
                    key = ("policies", pid, field) if isinstance(names, str) else ("policies", pid, field, j)
                    f, line = where(key) if where else (None, None)
                    if not tiers:
                        raise ScenarioError(
                            f"policy '{pid}' routes between model tiers, but the scenario has none: "
                            "set economy.tiers (e.g. 'tiers: standard')", file=f, line=line, path=".".join(map(str, key)))
                    raise ScenarioError(f"unknown tier '{name}'", file=f, line=line, path=".".join(map(str, key)),
                                        allowed=tiers, got=name)
    for i, entry in enumerate(scn.schedule):
        for field in ("activate", "deactivate"):
            for j, pid in enumerate(getattr(entry, field)):
                if pid not in scn.policies:
                    f, line = where(("schedule", i, field, j)) if where else (None, None)
                    raise ScenarioError(
                        f"unknown policy id '{pid}'", file=f, line=line, path=f"schedule.{i}.{field}",
                        allowed=scn.policies, got=pid,
                    )
