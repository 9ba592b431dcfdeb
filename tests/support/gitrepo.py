"""A project as a team keeps it in git: `faktctl init --yes` (and whatever the test changes)
committed in an `origin` repository, then cloned, which is how every CI job and every new deploy
host starts (git keeps no password file: `init` ignores `secrets/`, `.env` and `backups/`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import run_faktctl

GIT_TIMEOUT_S = 60


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return done.stdout


def commit_all(folder: Path, message: str = "faktory") -> None:
    """`folder` as a repository with everything git keeps there committed on `main`."""
    if not (folder / ".git").exists():
        git("init", "-q", "-b", "main", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-q", "-m", message, cwd=folder)


def initialised(
    origin: Path, project: str = "shop", change: Callable[[Path], None] | None = None
) -> Path:
    """`origin` made by `faktctl init --yes --project PROJECT`, changed by `change(origin)`,
    committed."""
    origin.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=origin)
    init = run_faktctl("init", "--yes", "--project", project, cwd=origin)
    assert init.code == 0, init.output
    if change is not None:
        change(origin)
    commit_all(origin)
    return origin


def cloned(origin: Path, clone: Path) -> Path:
    git("clone", "-q", str(origin), str(clone), cwd=clone.parent)
    return clone
