"""YAML with line numbers, for compose files: mappings and lists remember where each key and
item starts. PyYAML's safe loader semantics (anchors, aliases, `<<` merge keys) are kept; the
libyaml parser is used when it is available."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from faktctl import safeyaml
from faktctl.errors import UsageError, shown

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[Any, Any]):
    """A mapping with the 1-based line of itself and of each key."""

    line: int = 0
    col: int = 0
    key_lines: dict[Any, int]
    key_cols: dict[Any, int]

    def line_of(self, key: Any) -> int:
        lines: dict[Any, int] = getattr(self, "key_lines", {})
        return lines.get(key, self.line)

    def col_of(self, key: Any) -> int:
        """The 1-based column where `key` starts (the mapping's own when it is absent)."""
        cols: dict[Any, int] = getattr(self, "key_cols", {})
        return cols.get(key, self.col)


class LineList(list[Any]):
    """A list with the 1-based line of itself and of each item."""

    line: int = 0
    col: int = 0
    item_lines: list[int]
    item_cols: list[int]

    def line_of(self, index: int) -> int:
        lines = getattr(self, "item_lines", [])
        return lines[index] if 0 <= index < len(lines) else self.line

    def col_of(self, index: int) -> int:
        cols = getattr(self, "item_cols", [])
        return cols[index] if 0 <= index < len(cols) else self.col


class _LineLoader(_Base):  # type: ignore[valid-type,misc]
    pass


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.col = node.start_mark.column + 1
    yield data
    data.update(loader.construct_mapping(node))  # flattens `<<` merges first
    keys = [(loader.construct_object(key), key.start_mark) for key, _ in node.value]
    data.key_lines = {key: mark.line + 1 for key, mark in keys}
    data.key_cols = {key: mark.column + 1 for key, mark in keys}


def _sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    data.col = node.start_mark.column + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
    data.item_cols = [item.start_mark.column + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


def _without_sexagesimal() -> None:
    """Compose v2 reads YAML 1.2, where `22:22` is a string; YAML 1.1 (PyYAML) would read a
    base-60 number. Keep the resolvers but drop the colon forms."""
    table: dict[Any, list[tuple[str, Any]]] = {}
    for first, resolvers in _LineLoader.yaml_implicit_resolvers.items():
        table[first] = [
            (tag, regexp)
            for tag, regexp in resolvers
            if tag not in {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
        ]
    _LineLoader.yaml_implicit_resolvers = table
    _LineLoader.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
        ),
        list("-+0123456789"),
    )
    _LineLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )


_without_sexagesimal()
_LineLoader.add_constructor("tag:yaml.org,2002:map", _mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _sequence)


def load(text: str, display: str) -> Any:
    """Parse one YAML document; syntax errors become one-line UsageErrors with file:line:col."""
    # a SafeLoader subclass, capped in size, depth and alias expansion
    return _parsing(lambda: safeyaml.load(text, display, _LineLoader)[1], display)


def load_all(text: str, display: str) -> list[Any]:
    """Parse every document of a multi-document stream (Kubernetes manifests), the same way.

    Same resolvers and constructors as `load`, but the LineDict/LineList tree is built by one
    tight walk over the composed nodes instead of PyYAML's generic constructor loop (several
    times faster on the thousands of small objects of a Helm chart's output)."""
    documents: list[Any] = _parsing(lambda: _documents(text, display), display)
    return documents


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _documents(text: str, display: str) -> list[Any]:
    """The same caps as every YAML input (safeyaml), then the fast tree walk."""
    found = safeyaml.load_all(text, display, _LineLoader, construct=_build)
    return [value for _, value in found]


def _build(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return _Builder(loader).build(node)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.built: dict[int, Any] = {}  # an alias is the same node object: build it once

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            return self.loader.construct_object(node, deep=True)
        done = self.built.get(id(node))
        if done is not None:
            return done
        mark = node.start_mark
        if isinstance(node, yaml.SequenceNode):
            items = LineList()
            items.line, items.col = mark.line + 1, mark.column + 1
            self.built[id(node)] = items
            items.item_lines = [item.start_mark.line + 1 for item in node.value]
            items.item_cols = [item.start_mark.column + 1 for item in node.value]
            items.extend(self.build(item) for item in node.value)
            return items
        return self._mapping(node)  # type: ignore[arg-type]

    def _mapping(self, node: yaml.MappingNode) -> LineDict:
        if any(key.tag == _MERGE_TAG for key, _ in node.value):
            self.loader.flatten_mapping(node)
        data = LineDict()
        data.line, data.col = node.start_mark.line + 1, node.start_mark.column + 1
        self.built[id(node)] = data
        data.key_lines, data.key_cols = {}, {}
        for key_node, value_node in node.value:
            key = self.build(key_node)
            try:
                data[key] = self.build(value_node)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                ) from None
            data.key_lines[key] = key_node.start_mark.line + 1
            data.key_cols[key] = key_node.start_mark.column + 1
        return data


def _parsing(parse: Callable[[], Any], display: str) -> Any:
    try:
        return parse()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
        raise UsageError(f"{where}: invalid YAML: {shown(err.problem or err.context)}") from None
    except (yaml.YAMLError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unreadable"
        raise UsageError(f"{display}: invalid YAML: {shown(first)}") from None


class Tagged(str):
    """A value written with a local YAML tag (CloudFormation's `!Ref X`, `!Sub ...`): its text
    is kept (`!Ref X`), its value is decided elsewhere."""

    __slots__ = ()


class _TaggedLoader(_LineLoader):
    pass


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        return Tagged(f"!{suffix} {node.value}")
    return Tagged(f"!{suffix} …")


_TaggedLoader.add_multi_constructor("!", _tagged)


def load_tagged(text: str, display: str) -> Any:
    """`load`, with local tags (CloudFormation's short forms) kept as `Tagged` text."""
    return _parsing(lambda: safeyaml.load(text, display, _TaggedLoader)[1], display)
