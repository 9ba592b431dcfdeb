"""Hostile input files given to the real faktctl: one line and exit 2, quickly, and nothing
secret leaks (the readers themselves: tests/unit/test_hostile_inputs.py)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.cli import run_faktctl
from tests.support.hostile import alias_bomb, project_folder


def test_an_alias_bomb_in_the_spec_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    project_folder(tmp_path)
    (tmp_path / "faktory.yaml").write_text(alias_bomb(top="project: demo"))
    result = run_faktctl("render", "--check", cwd=tmp_path, timeout=30)
    assert result.code == 2, result.output
    assert "expands to more than" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1


def test_an_alias_bomb_in_a_compose_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        alias_bomb(top="services:\n  faktory:\n    image: contribsys/faktory:1.9.4")
    )
    started = time.monotonic()
    result = run_faktctl("audit", "--compose", "compose.yaml", cwd=tmp_path, timeout=30)
    assert result.code == 2, result.output
    assert "compose.yaml:" in result.stderr and "aliases" in result.stderr
    assert time.monotonic() - started < 20


def test_an_endless_compose_input_is_cut_off(tmp_path: Path) -> None:
    result = run_faktctl("audit", "--compose", "/dev/zero", cwd=tmp_path, timeout=60)
    assert result.code == 2, result.output
    assert "larger than 4 MiB" in result.stderr


def test_a_password_symlink_leaving_the_project_never_reaches_env(tmp_path: Path) -> None:
    project = project_folder(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "stolen").write_text("root-only-value-from-elsewhere\n")
    password = project / "secrets" / "faktory_password"
    password.unlink()
    password.symlink_to(outside / "stolen")
    result = run_faktctl("render", cwd=project)
    assert result.code == 2, result.output
    assert "symbolic link" in result.stderr and "outside the project folder" in result.stderr
    assert not (project / ".env").exists()
    assert "root-only-value" not in result.output
    audit = run_faktctl("audit", cwd=project)
    assert "root-only-value" not in audit.output
    assert "symbolic link" in audit.output
