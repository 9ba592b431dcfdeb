"""The layout's rules (faktctl/README.md), read from the import statements of faktctl/ itself.

Every `import` counts, including those only the type checker sees: a type-only import is still
a dependency of the design. Each test names the offending module and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "faktctl"

# Lowest first: a module may import its own layer and the layers below it, never one above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "infrastructure",
        (
            "faktctl",
            "faktctl.errors",
            "faktctl.envelope",
            "faktctl.fsutil",
            "faktctl.safeyaml",
            "faktctl.lock",
            "faktctl.journal",
            "faktctl.secretvalue",
            "faktctl.ui",
            "faktctl.options",
        ),
    ),
    (
        "what a deployment is",
        (
            "faktctl.spec",
            "faktctl.faktory",
            "faktctl.desired",
            "faktctl.project",
            "faktctl.labels",
            "faktctl.secretfiles",
        ),
    ),
    ("adapters", ("faktctl.adapters",)),
    ("live", ("faktctl.live",)),
    (
        "features",
        (
            "faktctl.platforms",
            "faktctl.backups",
            "faktctl.upgrade",
            "faktctl.audit",
            "faktctl.monitoring",
        ),
    ),
    ("commands", ("faktctl.commands",)),
    ("face", ("faktctl.cli", "faktctl.entry", "faktctl.__main__")),
)

# Standard-library and third-party modules that reach the engine, the network or a process.
IO_MODULES = frozenset(
    {"subprocess", "socket", "ssl", "http", "urllib.request", "docker", "httpx", "requests"}
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    path: Path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imports() -> Iterator[Import]:
    known = modules()
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                targets = [base]
                targets += [
                    f"{base}.{alias.name}"
                    for alias in node.names
                    if f"{base}.{alias.name}" in known
                ]
            for target in targets:
                yield Import(name, target, node.lineno, path)


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return best[1] if best else None


def where(found: Import) -> str:
    return (
        f"{found.path.relative_to(ROOT.parent)}:{found.line} {found.importer} -> {found.imported}"
    )


def own_imports() -> list[Import]:
    return [found for found in imports() if found.imported.split(".")[0] == "faktctl"]


def test_every_module_has_a_layer() -> None:
    assert [name for name in modules() if layer_of(name) is None] == []


def test_dependencies_point_down() -> None:
    wrong = [
        where(found)
        for found in own_imports()
        if (layer_of(found.imported) or 0) > (layer_of(found.importer) or 0)
    ]
    assert wrong == []


def test_commands_never_import_commands() -> None:
    wrong = [
        where(found)
        for found in own_imports()
        if found.importer.startswith("faktctl.commands.")
        and found.imported.startswith("faktctl.commands.")
    ]
    assert wrong == []


def test_only_adapters_reach_the_engine_the_network_or_a_process() -> None:
    wrong = [
        where(found)
        for found in imports()
        if not found.importer.startswith("faktctl.adapters")
        and any(found.imported == io or found.imported.startswith(io + ".") for io in IO_MODULES)
    ]
    assert wrong == []


def test_audit_rules_read_only_the_model() -> None:
    allowed = (
        "faktctl.audit.model",
        "faktctl.audit.effective",
        "faktctl.audit.registry",
        "faktctl.audit.rules",
        "faktctl.faktory",
    )
    wrong = [
        where(found)
        for found in own_imports()
        if found.importer.startswith("faktctl.audit.rules")
        and not any(found.imported == a or found.imported.startswith(a + ".") for a in allowed)
    ]
    assert wrong == []


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for found in own_imports():
        if found.imported in graph and found.imported != found.importer:
            graph[found.importer].add(found.imported)
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found_cycles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found_cycles.append(sorted(component))
    return found_cycles


def test_at_most_the_rule_registry_imports_in_a_circle() -> None:
    """The registry imports the rules package so that every rule registers; the rules import the
    registry's decorator. That circle is the plugin registration and the only one allowed."""
    others = [c for c in _cycles() if not all(m.startswith("faktctl.audit.r") for m in c)]
    assert others == []


@pytest.mark.parametrize("module", ["faktctl.cli", "faktctl.entry"])
def test_face_modules_exist(module: str) -> None:
    assert module in modules()


def test_only_the_platform_registry_reads_spec_platform() -> None:
    """`spec.platform` is read in one place (faktctl.platforms chooses the platform); the spec's
    own validation aside. Any `.platform` attribute counts: a spec can hide behind any name."""
    allowed = ("faktctl.platforms", "faktctl.spec")
    wrong = [
        f"{path.relative_to(ROOT.parent)}:{node.lineno} {name} reads .platform"
        for name, path in modules().items()
        if name != allowed[0] and not name.startswith(allowed[1] + ".")
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and node.attr == "platform"
    ]
    assert wrong == []
