"""Host files that may hold a secret (password files, .env, env files, mounted config): their
mode and git status, and the content of small ones."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from faktctl.audit.gitstatus import git_states
from faktctl.audit.model import Location, SecretFileFact

MAX_READ = 64 * 1024  # a larger file is no configuration or password file the audit reads


def display(path: Path) -> str:
    """A path as the user should see it: relative to the working folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_small(path: Path) -> str | None:
    """The text of a file of at most MAX_READ bytes; None when larger, unreadable or binary."""
    try:
        if path.stat().st_size > MAX_READ:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def inspect_secret_files(
    files: list[tuple[Path, str, Location | None]],
) -> tuple[SecretFileFact, ...]:
    """Mode and git status of each host file that holds a secret."""
    existing = [path for path, _, _ in files if path.is_file()]
    states = git_states(existing) if existing else {}
    facts = []
    for path, what, where in files:
        shown = display(path)
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            facts.append(SecretFileFact(shown, what, None, error="does not exist", location=where))
            continue
        except OSError as err:
            facts.append(SecretFileFact(shown, what, None, error=str(err.strerror), location=where))
            continue
        answer = states.get(path)
        facts.append(
            SecretFileFact(
                shown,
                what,
                mode,
                answer.state if answer else None,
                answer.skip if answer else "git status unknown",
                location=where,
            )
        )
    return tuple(facts)
