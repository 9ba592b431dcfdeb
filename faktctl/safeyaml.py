"""The one way faktctl reads YAML it did not write: capped in size, depth and alias expansion.

Every YAML input (the spec, compose files, Kubernetes manifests) goes through `read_text` and
`load`, so a hostile or broken file ends in a one-line error instead of a memory blow-up:

- `read_text` reads at most MAX_BYTES (a bigger input, `/dev/zero` included, is refused after
  reading MAX_BYTES + 1 bytes), refuses folders and text that is not UTF-8;
- `load` builds the node graph once, then counts the nodes the document has once every alias
  is expanded (memoised, so counting a "billion laughs" document is linear in its size) and
  refuses more than MAX_NODES, a self-referencing alias, or nesting deeper than MAX_DEPTH,
  before anything walks the data. Only then are Python values constructed from that graph.

Parse errors are left to the caller (each formats `file:line:col` its own way); the limits
raise YamlLimitError, a UsageError (exit 2) whose message starts with the file's name.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl.errors import UsageError

if TYPE_CHECKING:  # PyYAML is imported where YAML is parsed, not for reading a file's text
    import yaml

MAX_BYTES = 4 * 1024 * 1024  # far above any real spec, compose file or manifest set
MAX_NODES = 250_000  # scalars, mappings and sequences after alias expansion
MAX_DEPTH = 200  # nesting of mappings and sequences

_CHUNK = 64 * 1024


class YamlLimitError(UsageError):
    """A YAML input is too large, too deep, expands too much, or cannot be read."""

    def __init__(self, message: str, hint: str | None = None, line: int = 1, column: int = 1):
        super().__init__(message, hint)
        self.line = line
        self.column = column


def read_text(
    path: Path, display: str | None = None, *, what: str = "file", limit: int = MAX_BYTES
) -> str:
    """The UTF-8 text of a YAML input of at most `limit` bytes (regular file, FIFO, device).
    `what` names the input in messages ("the compose file")."""
    shown = display or str(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except IsADirectoryError:
        raise YamlLimitError(f"{shown}: is a folder, not a {what}") from None
    except OSError as err:
        raise YamlLimitError(f"{shown}: cannot read the {what}: {err.strerror or err}") from None
    try:
        data = _read_at_most(fd, limit + 1)
    except OSError as err:
        if err.errno == errno.EISDIR:
            raise YamlLimitError(f"{shown}: is a folder, not a {what}") from None
        raise YamlLimitError(f"{shown}: cannot read the {what}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    return _decoded(data, shown, limit)


def read_stdin_text(display: str, *, what: str = "file", limit: int = MAX_BYTES) -> str:
    """Standard input under the rules of `read_text` (at most `limit` bytes, UTF-8), read as
    bytes: the same clean line for text that is not UTF-8 as a file gets."""
    try:
        data = _read_at_most(0, limit + 1)
    except OSError as err:
        raise YamlLimitError(f"{display}: cannot read the {what}: {err.strerror or err}") from None
    return _decoded(data, display, limit)


def _decoded(data: bytes, shown: str, limit: int) -> str:
    if len(data) > limit:
        raise YamlLimitError(
            f"{shown}: larger than {_size(limit)}",
            "faktctl reads YAML files up to that size; is this the right file?",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise YamlLimitError(f"{shown}: not UTF-8 text (byte {err.start + 1})") from None


def _read_at_most(fd: int, most: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while total < most:
        block = os.read(fd, min(_CHUNK, most - total))
        if not block:
            break
        parts.append(block)
        total += len(block)
    return b"".join(parts)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def load(
    text: str,
    display: str,
    loader: type[yaml.SafeLoader] | None = None,
    *,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> tuple[yaml.Node | None, Any]:
    """Parse one YAML document with `loader` (a SafeLoader subclass); returns its node graph
    (for positions) and its value. yaml.YAMLError propagates for the caller to place."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"{display}: larger than {_size(MAX_BYTES)}")
    parser = _loader(loader)(text)
    try:
        with _unreadable_as_yaml_error():
            try:
                node = parser.get_single_node()
            except RecursionError:
                raise YamlLimitError(
                    f"{display}: nested too deeply (more than {max_depth} levels)"
                ) from None
            if node is None:
                return None, None
            check_expansion(node, display, max_nodes=max_nodes, max_depth=max_depth)
            return node, parser.construct_document(node)
    finally:
        parser.dispose()


def load_all(
    text: str,
    display: str,
    loader: type[yaml.SafeLoader] | None = None,
    *,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
    construct: Callable[[yaml.SafeLoader, yaml.Node], Any] | None = None,
) -> list[tuple[yaml.Node, Any]]:
    """Every document of a multi-document stream (`---`), with the caps applied to them all
    together. `construct(loader, node)` builds each value instead of the loader's own
    construct_document (yamlsrc builds its line-numbered tree that way)."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"{display}: larger than {_size(MAX_BYTES)}")
    parser = _loader(loader)(text)
    documents: list[tuple[yaml.Node, Any]] = []
    budget = max_nodes
    try:
        with _unreadable_as_yaml_error():
            while True:
                try:
                    if not parser.check_node():
                        break
                    node = parser.get_node()
                except RecursionError:
                    raise YamlLimitError(
                        f"{display}: nested too deeply (more than {max_depth} levels)"
                    ) from None
                if node is None:
                    continue
                budget -= check_expansion(node, display, max_nodes=budget, max_depth=max_depth)
                value = construct(parser, node) if construct else parser.construct_document(node)
                documents.append((node, value))
    finally:
        parser.dispose()
    return documents


@contextlib.contextmanager
def _unreadable_as_yaml_error() -> Iterator[None]:
    """PyYAML's pure-Python scanner and constructors raise plain ValueError or OverflowError on
    some malformed input (a `\\U` escape past U+10FFFF, a timestamp with month 13): report those
    as the invalid YAML they are, like every other syntax error."""
    import yaml

    try:
        yield
    except (ValueError, OverflowError) as err:
        raise yaml.YAMLError(
            str(err).strip().splitlines()[0] if str(err).strip() else "unreadable"
        ) from None


def _loader(given: type[yaml.SafeLoader] | None) -> type[yaml.SafeLoader]:
    if given is not None:
        return given
    import yaml

    return yaml.SafeLoader


def check_expansion(
    root: yaml.Node, display: str, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH
) -> int:
    """The number of nodes `root` stands for once aliases are expanded; YamlLimitError past
    `max_nodes`, past `max_depth` levels, or on an alias that contains itself.

    Iterative and memoised by node identity: an alias is a second reference to the same node
    object, so each distinct node is visited once however often it is referenced.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            children = _children(node)
            size = 1 + sum(sizes[id(child)] for child in children)
            depth = 1 + max((depths[id(child)] for child in children), default=0)
            if size > max_nodes:
                raise _too_big(node, display, max_nodes)
            if depth > max_depth:
                raise _too_deep(node, display, max_depth)
            sizes[key], depths[key] = size, depth
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlLimitError(
                f"{_where(node, display)}: an alias refers to a node that contains it",
                "recursive YAML cannot be expanded; write the value out",
                *_mark(node),
            )
        on_path.add(key)
        stack.append((node, True))
        if len(on_path) > max_depth:
            raise _too_deep(node, display, max_depth)
        for child in _children(node):
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _mark(node: yaml.Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _where(node: yaml.Node, display: str) -> str:
    line, column = _mark(node)
    return f"{display}:{line}:{column}"


def _too_big(node: yaml.Node, display: str, limit: int) -> YamlLimitError:
    return YamlLimitError(
        f"{_where(node, display)}: expands to more than {limit} values through aliases",
        "a file this large after expanding `*aliases` is refused (an alias bomb?)",
        *_mark(node),
    )


def _too_deep(node: yaml.Node, display: str, limit: int) -> YamlLimitError:
    return YamlLimitError(
        f"{_where(node, display)}: nested too deeply (more than {limit} levels)",
        None,
        *_mark(node),
    )
