"""Mode and git status of the host files that hold a secret (password files, .env, env files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from faktctl.audit.gitstatus import git_states
from faktctl.audit.model import Location, SecretFileFact


def display(path: Path) -> str:
    """A path as the user should see it: relative to the working folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
