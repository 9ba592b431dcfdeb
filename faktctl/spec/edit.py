"""Change one value in faktory.yaml in place, keeping every comment and the layout.

Only the scalar's own characters are replaced (found through the YAML parser's marks), so the
rest of the file stays byte for byte what its author wrote. The result is parsed and validated
again before it is written (atomically).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from faktctl.errors import OperationFailed
from faktctl.fsutil import atomic_write


class SpecEditFailed(OperationFailed):
    """The spec could not be updated; the message says what to change by hand."""


def _mapping_value(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def replace_server_image(text: str, image: str) -> str:
    """The spec text with `server.image` set to `image` (added under `server:` if absent)."""
    root = yaml.compose(text)
    server = _mapping_value(root, "server") if root is not None else None
    if server is None or not isinstance(server[1], yaml.MappingNode):
        raise SpecEditFailed(
            "the spec has no `server:` mapping to put the image in",
            f"add `server:\\n  image: {image}` by hand",
        )
    found = _mapping_value(server[1], "image")
    if found is None:
        if server[1].flow_style:
            raise SpecEditFailed(
                "server: is written as a one-line mapping", f"add image: {image} to it by hand"
            )
        server_key = server[0]
        first = server[1].value[0][0] if server[1].value else None
        indent = " " * (first.start_mark.column if first is not None else 2)
        line_end = text.index("\n", server_key.end_mark.index) + 1
        return text[:line_end] + f"{indent}image: {json.dumps(image)}\n" + text[line_end:]
    value = found[1]
    if not isinstance(value, yaml.ScalarNode):
        raise SpecEditFailed("server.image is not a plain value", f"set it to {image} by hand")
    start, end = value.start_mark.index, value.end_mark.index
    written = json.dumps(image) if value.style in ('"', "'") else image
    return text[:start] + written + text[end:]


def set_server_image(path: Path, image: str) -> bool:
    """Write `image` into the spec at `path`; False when it already says so."""
    from faktctl.spec.load import parse_spec

    text = path.read_text()
    updated = replace_server_image(text, image)
    if updated == text:
        return False
    from faktctl.errors import SpecError

    try:
        loaded = parse_spec(updated, path)
    except SpecError as err:
        raise SpecEditFailed(
            f"updating server.image would break {path.name}: {err.one_line()}",
            f"set it to {image} by hand",
        ) from None
    if loaded.spec.server.image != image:
        raise SpecEditFailed(
            f"could not set server.image in {path.name}", f"set it to {image} by hand"
        )
    atomic_write(path, updated, mode=path.stat().st_mode & 0o777)
    return True
