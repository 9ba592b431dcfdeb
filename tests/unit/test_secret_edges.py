"""A secret stays a SecretStr until an edge needs its plain value: this test holds the list
of those edges and fails when `.get_secret_value` appears in any other module, so a new
unwrap is a decision made here, not a line slipped in elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

import faktctl

PACKAGE = Path(faktctl.__file__).parent

# module (relative to faktctl/) -> why its plain value must exist there
EDGES = {
    "platforms/compose.py": "the .env writer: the value is the file's content",
    "fsutil.py": "the files faktctl owns (password files, .env, Kubernetes secret files)",
    "adapters/docker/engine.py": "the engine adapter: container environment, secret files",
    "adapters/docker/swarm.py": "swarm secret creation: the secret's bytes go to the engine",
    "adapters/probe.py": "the Faktory protocol: HELLO's password hash, HTTP Basic auth",
    "adapters/restic.py": "restic reads the repository password from its environment",
    "audit/sources/spec.py": "the audit judges the value as it judges a container's",
    "secretvalue.py": "fingerprints, redaction and derived secrets (never a plain result)",
}


def _unwraps(path: Path) -> list[int]:
    """Lines where `path` touches `.get_secret_value` (a call or a bound method taken)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "get_secret_value"
    )


def _found() -> dict[str, list[int]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = _unwraps(path)
        if lines:
            found[path.relative_to(PACKAGE).as_posix()] = lines
    return found


def test_secrets_are_unwrapped_only_at_the_edges() -> None:
    outside = {module: lines for module, lines in _found().items() if module not in EDGES}
    assert not outside, (
        "a SecretStr is unwrapped outside the edges (pass the SecretStr on, or use "
        f"faktctl.secretvalue): {outside}"
    )


def test_every_listed_edge_still_unwraps() -> None:
    """An entry with nothing left to unwrap is removed, so the list stays the truth."""
    found = _found()
    assert sorted(module for module in EDGES if module not in found) == []


def test_the_scan_sees_an_unwrap(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f(s):\n    g = s.get_secret_value\n    return s.get_secret_value()\n")
    assert _unwraps(module) == [2, 3]
