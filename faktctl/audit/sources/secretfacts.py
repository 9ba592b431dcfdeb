"""Host files that may hold a secret (password files, .env, env files, mounted config): their
mode and git status, and the content of small ones."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from faktctl.adapters.git import git_states
from faktctl.audit.model import Location, SecretFileFact

MAX_READ = 64 * 1024  # a larger file is no configuration or password file the audit reads


def display(path: Path) -> str:
    """A path as the user should see it: relative to the working folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_config(path: Path) -> tuple[str | None, str | None]:
    """(text, None) for a regular UTF-8 file of at most MAX_READ bytes, else (None, why not).
    A FIFO, device or socket is refused without reading from it (a read could block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return None, "it does not exist"
    except OSError as err:
        return None, f"it cannot be read ({err.strerror or type(err).__name__})"
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None, "it is a folder"
        if not stat.S_ISREG(info.st_mode):
            return None, "it is not a regular file"
        if info.st_size > MAX_READ:
            return None, f"it is larger than {MAX_READ // 1024} KiB"
        data = os.read(fd, MAX_READ + 1)
    except OSError as err:
        return None, f"it cannot be read ({err.strerror or type(err).__name__})"
    finally:
        os.close(fd)
    if len(data) > MAX_READ:
        return None, f"it is larger than {MAX_READ // 1024} KiB"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "it is not UTF-8 text"


def read_small(path: Path) -> str | None:
    """The text of a regular file of at most MAX_READ bytes; None when larger, unreadable,
    binary or not a regular file."""
    return read_config(path)[0]


def inspect_secret_files(
    files: list[tuple[Path, str, Location | None]],
    absent_too: bool = False,
) -> tuple[SecretFileFact, ...]:
    """Mode and git status of each host file that holds a secret. With `absent_too`, a file
    that does not exist gets its git status as well (whether it would be ignored is a fact of
    the repository, known in a fresh clone)."""
    asked = [path for path, _, _ in files if absent_too or path.is_file()]
    states = git_states(asked) if asked else {}
    facts = []
    for path, what, where in files:
        shown = display(path)
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            known = states.get(path) if absent_too else None
            facts.append(
                SecretFileFact(
                    shown,
                    what,
                    None,
                    known.state if known else None,
                    known.skip if known else None,
                    error="does not exist",
                    location=where,
                )
            )
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
