"""The suite's three groups and the rules that keep them apart.

- tests/unit: needs no Docker engine and no Go build and starts no process of its own (no
  faktctl subprocess): `pytest tests/unit` is the quick loop, well under three minutes.
- tests/cli: runs the real faktctl as a subprocess, or tools built from the Go module proxy
  (docker compose v2, kube tools); no Docker engine.
- tests/e2e: the real Docker engine and the locally built Faktory image.

What the groups share lives in tests/support; no test module imports another. The test folders
have no __init__.py, so pytest imports each test module by its file name alone: two test files
with one name in two groups stop the whole run at collection. Helpers running a folder at a
time never see that; this test does. The group rules are read from import statements: a unit
test module that imports `subprocess`, or a support kit that starts processes, fails here,
naming file and line.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SUPPORT = TESTS / "support"
GROUPS = ("unit", "cli", "e2e")

# Imports that start a process or reach the Docker engine. `docker.errors` only names the SDK's
# exception types, which unit tests use to build the failures a fake engine raises.
PROCESS_MODULES = frozenset({"subprocess", "multiprocessing", "pty", "asyncio.subprocess"})
ENGINE_MODULES = frozenset({"docker"})
HARMLESS_SDK_MODULES = frozenset({"docker.errors"})
# Unit tests that point the SDK at a fake engine of their own (a stdlib HTTP server on a unix
# socket in a temporary folder): the SDK is the transport under test there, no engine is reached.
SDK_AGAINST_A_FAKE_ENGINE = frozenset({"unit/test_engine_client.py"})
PROCESS_CALLS = frozenset({"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp"})


def all_test_modules() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def test_every_test_module_is_in_one_of_the_three_groups() -> None:
    stray = [
        str(path.relative_to(TESTS))
        for path in all_test_modules()
        if path.relative_to(TESTS).parts[0] not in GROUPS
    ]
    assert not stray, f"test modules outside tests/{{{','.join(GROUPS)}}}: {stray}"


def test_every_test_module_name_is_unique_across_the_suite() -> None:
    places: defaultdict[str, list[str]] = defaultdict(list)
    for path in all_test_modules():
        places[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: where for name, where in places.items() if len(where) > 1}
    assert not clashes, f"test modules sharing a name: {clashes}"


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_nodes(node: ast.AST, *, into_functions: bool) -> Iterator[ast.AST]:
    """The nodes of `node` that run: not those under `if TYPE_CHECKING:`, and, without
    `into_functions`, not those inside a function body (they run only when it is called)."""
    for child in ast.iter_child_nodes(node):
        if _type_checking_only(child):
            continue
        if not into_functions and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        yield child
        yield from _run_nodes(child, into_functions=into_functions)


def imported_modules(path: Path, *, into_functions: bool = True) -> Iterator[tuple[str, int]]:
    """Every module `path` imports (`from a import b` counts as a and a.b), with its line."""
    tree = ast.parse(path.read_text(), str(path))
    for node in _run_nodes(tree, into_functions=into_functions):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def process_calls(path: Path) -> Iterator[tuple[str, int]]:
    """`os.system(...)`-style calls: a process started without the subprocess module."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and (node.attr in PROCESS_CALLS or node.attr.startswith(("exec", "spawn")))
        ):
            yield f"os.{node.attr}", node.lineno


def _within(name: str, modules: frozenset[str]) -> bool:
    return any(name == module or name.startswith(module + ".") for module in modules)


def starts_processes(name: str) -> bool:
    return _within(name, PROCESS_MODULES)


def reaches_engine(name: str) -> bool:
    return _within(name, ENGINE_MODULES) and not _within(name, HARMLESS_SDK_MODULES)


@cache
def support_traits(module: str) -> frozenset[str]:
    """What a tests.support kit does, itself or through the kits it imports: "processes" (starts
    one), "engine" (talks to the Docker engine). Read from the imports that run when the kit is
    imported: an import inside a kit's function serves only the callers of that function (the
    golden outputs import the engine that way, for their tests/e2e cases)."""
    path = SUPPORT / (module.removeprefix("tests.support.") + ".py")
    if not path.is_file():
        return frozenset()
    traits: set[str] = set()
    for name, _ in imported_modules(path, into_functions=False):
        if starts_processes(name):
            traits.add("processes")
        if reaches_engine(name):
            traits.add("engine")
        if name.startswith("tests.support.") and name != module:
            traits |= support_traits(name)
    return frozenset(traits)


def violations(group: str, forbidden: frozenset[str]) -> list[str]:
    found = []
    for path in all_test_modules():
        if path.relative_to(TESTS).parts[0] != group:
            continue
        where = path.relative_to(TESTS)
        for name, line in imported_modules(path):
            traits = set(support_traits(name)) if name.startswith("tests.support.") else set()
            if starts_processes(name):
                traits.add("processes")
            if reaches_engine(name) and str(where) not in SDK_AGAINST_A_FAKE_ENGINE:
                traits.add("engine")
            for trait in sorted(traits & forbidden):
                found.append(f"{where}:{line}: imports {name} ({trait})")
        if "processes" in forbidden:
            found += [
                f"{where}:{line}: calls {call} (processes)" for call, line in process_calls(path)
            ]
    return found


def test_no_test_module_imports_another() -> None:
    """What two test modules share lives in tests/support (importing a test module runs it twice
    under two names, and ties one group to another's files)."""
    found = [
        f"{path.relative_to(TESTS)}:{line}: imports {name}"
        for path in all_test_modules()
        for name, line in imported_modules(path)
        if name.startswith(tuple(f"tests.{group}" for group in GROUPS))
    ]
    assert not found, "\n".join(found)


def test_unit_tests_start_no_process_and_reach_no_engine() -> None:
    """A test that needs faktctl as a subprocess (tests.support.cli.run_faktctl), a Go-built tool
    (tests.support.provision, compose, kube) or the engine belongs in tests/cli or tests/e2e."""
    found = violations("unit", frozenset({"processes", "engine"}))
    assert not found, "tests/unit must stay quick and engine-free:\n" + "\n".join(found)


def test_cli_tests_reach_no_engine() -> None:
    found = violations("cli", frozenset({"engine"}))
    assert not found, "tests/cli runs without a Docker engine:\n" + "\n".join(found)


def test_the_rules_see_what_the_kits_do() -> None:
    assert "processes" in support_traits("tests.support.cli")
    assert "processes" in support_traits("tests.support.compose")  # through provision
    assert "engine" in support_traits("tests.support.upkit")
    assert support_traits("tests.support.planning") == frozenset()
    assert support_traits("tests.support.golden") == frozenset()  # faktctl in-process
