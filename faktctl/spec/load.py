"""Read faktory.yaml into a Spec, with errors that name file, line, column and field path.

This is the only place in faktctl that parses the spec's YAML.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from faktctl import safeyaml
from faktctl.errors import SpecError, shown
from faktctl.spec.locate import SPEC_FILENAME as SPEC_FILENAME
from faktctl.spec.locate import find_spec
from faktctl.spec.model import NAME_PATTERN, Spec

Position = tuple[int, int]  # 1-based line and column
PathKey = tuple[str | int, ...]


@dataclass
class _Positions:
    """Where each mapping key / list item of the document starts."""

    of: dict[PathKey, Position] = field(default_factory=dict)

    def nearest(self, path: PathKey) -> Position:
        for end in range(len(path), -1, -1):
            if path[:end] in self.of:
                return self.of[path[:end]]
        return (1, 1)


class _DuplicateKey(Exception):
    def __init__(self, key: str, position: Position) -> None:
        self.key = key
        self.position = position


class _PositionLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                mark = key_node.start_mark
                raise _DuplicateKey(str(key), (mark.line + 1, mark.column + 1))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _record_positions(
    node: yaml.Node, path: PathKey, out: _Positions, seen: set[int] | None = None
) -> None:
    """Record where each key and item starts. A node reached again through an alias is not
    walked again (its inner paths fall back to where the alias stands), so this is linear in
    the file's size, not in what its aliases expand to."""
    seen = set() if seen is None else seen
    out.of.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                targets = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for target in targets:
                    _record_positions(target, path, out, seen)
                continue
            key = str(key_node.value)
            out.of[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _record_positions(value_node, (*path, key), out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_positions(item, (*path, index), out, seen)


def _without_extension_keys(value: Any) -> Any:
    """Drop `x-*` keys at every level so YAML anchors can live there."""
    if isinstance(value, dict):
        return {
            k: _without_extension_keys(v)
            for k, v in value.items()
            if not (isinstance(k, str) and k.startswith("x-"))
        }
    if isinstance(value, list):
        return [_without_extension_keys(v) for v in value]
    return value


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where it came from; its relative paths resolve against `base_dir`."""

    spec: Spec
    path: Path
    positions: dict[PathKey, Position]
    # of the exact text validated (faktctl.platforms.engine.cache keys on it)
    source_sha256: str = ""

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """A path the spec names, relative to the spec's folder (never the caller's)."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else (self.base_dir / candidate)

    def executable(self, value: str) -> str:
        """A program the spec names (`backup.restic`): a bare name is looked up on PATH; a
        value with a `/` is a path, relative to the spec's folder like every path in it."""
        return value if "/" not in value else str(self.resolve(value).absolute())

    def line_of(self, *path: str | int) -> int:
        return _Positions(dict(self.positions)).nearest(tuple(path))[0]


def load_spec(path: Path) -> LoadedSpec:
    if not path.exists():
        find_spec(path)
    try:
        text = safeyaml.read_text(path, path.name, what="spec file")
    except safeyaml.YamlLimitError as err:
        raise SpecError([err.one_line()]) from None
    return parse_spec(text, path)


def parse_spec(text: str, path: Path) -> LoadedSpec:
    display = path.name
    try:
        node, data = safeyaml.load(text, display, _PositionLoader)
    except safeyaml.YamlLimitError as err:
        raise SpecError([err.one_line()]) from None
    except _DuplicateKey as dup:
        line, col = dup.position
        raise SpecError(
            [f"{display}:{line}:{col}: {dup.key}: duplicate key (each key may appear once)"]
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = shown(err.problem or "invalid YAML")
        raise SpecError([f"{display}:{line}:{col}: invalid YAML: {what}"]) from None
    except yaml.YAMLError as err:
        first = shown(str(err).strip().splitlines()[0]) if str(err).strip() else "unreadable"
        raise SpecError([f"{display}:1:1: invalid YAML: {first}"]) from None

    positions = _Positions()
    if node is not None:
        _record_positions(node, (), positions)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SpecError(
            [f"{display}:1:1: (top level): the spec is {kind} (expected a mapping with `project:`)"]
        )
    try:
        spec = Spec.model_validate(_without_extension_keys(data))
    except ValidationError as err:
        raise SpecError(_describe(err, display, positions)) from None
    return LoadedSpec(
        spec=spec,
        path=path,
        positions=dict(positions.of),
        source_sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def _describe(err: ValidationError, display: str, positions: _Positions) -> list[str]:
    problems: list[str] = []
    for error in err.errors(include_url=False):
        loc: PathKey = tuple(error["loc"])
        message, hint = error["msg"], ""
        ctx = error.get("ctx") or {}
        if error["type"] == "spec_rule":
            loc = _extend(loc, str(ctx.get("subpath", "")))
            message, hint = str(ctx["message"]), str(ctx.get("hint", ""))
        elif error["type"] == "extra_forbidden":
            message, hint = "unknown key", _did_you_mean(loc)
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "value_error":
            message = str(ctx.get("error", message))
        else:
            message, hint = _friendly(error)
        line, col = positions.nearest(loc)
        text = f"{display}:{line}:{col}: {_dotted(loc)}: {message}"
        problems.append(f"{text} ({hint})" if hint else text)
    return problems


def _friendly(error: Any) -> tuple[str, str]:
    kind, msg = str(error["type"]), str(error["msg"])
    raw = error.get("input")
    given = shown(raw)
    got = f" (got `{given}`)" if isinstance(raw, str | int | float | bool) else ""
    bound = error.get("ctx", {})
    if kind == "greater_than_equal":
        return f"must be {bound.get('ge')} or more{got}", ""
    if kind == "less_than_equal":
        return f"must be {bound.get('le')} or less{got}", ""
    if kind == "greater_than":
        return f"must be more than {bound.get('gt')}{got}", ""
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", ""))
        return f"`{given}` is not allowed", f"use one of {expected}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"expected a whole number{got}", ""
    if kind in {"string_type"}:
        return f"expected a string{got}", ""
    if kind in {"float_type", "float_parsing"}:
        return f"expected a number{got}", ""
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"expected a mapping{got}", ""
    if kind == "list_type":
        return f"expected a list{got}", ""
    if kind == "string_pattern_mismatch":
        pattern = str(bound.get("pattern", ""))
        if pattern == NAME_PATTERN:
            return f"`{given}` is not a valid name", "use lowercase letters, digits, - and _"
        if pattern == r"^[^\n\r]+$":
            return f"`{given}` must be one line", ""
        return f"`{given}` does not have the expected form", f"it must match {pattern}"
    return msg[0].lower() + msg[1:] if msg else "invalid value", ""


def _did_you_mean(loc: PathKey) -> str:
    parent_fields = _fields_at(loc[:-1])
    unknown = str(loc[-1])
    close = difflib.get_close_matches(unknown, parent_fields, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    if parent_fields:
        return "allowed keys: " + ", ".join(parent_fields)
    return "remove it"


def _fields_at(loc: PathKey) -> list[str]:
    model: type[BaseModel] | None = Spec
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return []
        model = _model_in(info.annotation)
    return sorted(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _extend(loc: PathKey, subpath: str) -> PathKey:
    """Append a rule's sub-path such as `[2].name`, `.FAKTORY_URL` or `server.stop_grace_period`."""
    out = list(loc)
    token = ""
    for char in subpath + ".":
        if char in ".[]":
            if token:
                out.append(int(token) if char == "]" and token.isdigit() else token)
            token = ""
        else:
            token += char
    return tuple(out)


def _dotted(loc: PathKey) -> str:
    text = ""
    for part in loc:
        name = shown(part)
        text += f"[{name}]" if isinstance(part, int) else (f".{name}" if text else name)
    return text or "(top level)"
