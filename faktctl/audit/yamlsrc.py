"""YAML with line numbers, for compose files: mappings and lists remember where each key and
item starts. PyYAML's safe loader semantics (anchors, aliases, `<<` merge keys) are kept; the
libyaml parser is used when it is available."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from faktctl import safeyaml
from faktctl.errors import UsageError, shown

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[Any, Any]):
    """A mapping with the 1-based line of itself and of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        lines: dict[Any, int] = getattr(self, "key_lines", {})
        return lines.get(key, self.line)


class LineList(list[Any]):
    """A list with the 1-based line of itself and of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        lines = getattr(self, "item_lines", [])
        return lines[index] if 0 <= index < len(lines) else self.line


class _LineLoader(_Base):  # type: ignore[valid-type,misc]
    pass


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))  # flattens `<<` merges first
    data.key_lines = {
        loader.construct_object(key): key.start_mark.line + 1 for key, _ in node.value
    }


def _sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
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
    try:
        return safeyaml.load(text, display, _LineLoader)[1]  # a SafeLoader subclass, capped
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
        raise UsageError(f"{where}: invalid YAML: {shown(err.problem or err.context)}") from None
    except (yaml.YAMLError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unreadable"
        raise UsageError(f"{display}: invalid YAML: {shown(first)}") from None
