"""The documentation stays true: the generated pages in docs/ match the code they are rendered
from, every audit check explains itself next to its rule, and the README stays a short manual
whose links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.paths import REPO
from tests.support import docs

README = REPO / "README.md"
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)")
_CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)


@pytest.mark.parametrize("name", sorted(docs.PAGES))
def test_generated_page_is_up_to_date(name: str) -> None:
    path = docs.DOCS / name
    expected = docs.PAGES[name]()
    actual = path.read_text(encoding="utf-8") if path.is_file() else ""
    assert actual == expected, (
        f"docs/{name} is stale: run `{docs.REGENERATE}` from the repository root"
    )


def test_generation_writes_nothing_when_pages_are_current(tmp_path: Path) -> None:
    for name, render in docs.PAGES.items():
        (tmp_path / name).write_text(render(), encoding="utf-8")
    assert docs.stale_pages(tmp_path) == []
    (tmp_path / "spec.md").write_text("edited by hand\n", encoding="utf-8")
    assert docs.stale_pages(tmp_path) == ["spec.md"]


def test_generation_ignores_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = {name: render() for name, render in docs.PAGES.items()}
    for name, value in {"COLUMNS": "20", "FORCE_COLOR": "1", "TERM": "xterm-256color"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert {name: render() for name, render in docs.PAGES.items()} == wide


def test_every_check_says_what_it_looks_at_and_why_it_matters() -> None:
    from faktctl.audit.registry import all_rules

    for rule in all_rules():
        looks_at, why = docs.rule_explanation(rule.check)
        assert looks_at and why, rule.meta.id


def test_the_command_page_lists_every_command_and_option() -> None:
    page = (docs.DOCS / "commands.md").read_text(encoding="utf-8")
    for flag in ("--dry-run", "--strict", "--format", "--from", "--compression", "--repair"):
        assert f"`{flag}" in page or f", {flag}" in page, flag
    for command in ("init", "render", "up", "down", "status", "audit", "backup verify"):
        assert f"## faktctl {command}\n" in page, command


def test_the_readme_is_a_short_manual() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    long = [number for number, line in enumerate(lines, 1) if len(line) > 500]
    assert not long, f"README.md lines over 500 characters: {long}"


def test_the_readme_shows_the_commands_ci_runs() -> None:
    # .ci/run refuses to start when README.md no longer shows this line.
    assert "pip install -e '.[test]' && pytest" in README.read_text(encoding="utf-8")


def test_the_readme_names_every_command() -> None:
    text = README.read_text(encoding="utf-8")
    commands = [name for name, _, _ in docs.command_tree()][1:]
    missing = [name for name in commands if f"`{name}" not in text]
    assert not missing, f"README.md's command list lacks {missing}"


@pytest.mark.parametrize(
    "page", [README, *sorted(docs.DOCS.glob("*.md"))], ids=lambda path: path.name
)
def test_relative_links_lead_to_files(page: Path) -> None:
    text = _CODE.sub("", page.read_text(encoding="utf-8"))
    targets = [t for t in _LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"
