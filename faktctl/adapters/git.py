"""Is a file git-ignored, tracked, or neither? Asked of git itself, with a timeout."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

GIT_TIMEOUT = 5.0
GitState = Literal["ignored", "tracked", "not-ignored"]


@dataclass(frozen=True)
class GitAnswer:
    state: GitState | None
    skip: str | None = None  # why the state is unknown


def _git(args: list[str], cwd: Path, feed: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=feed,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )


def _top_level(folder: Path) -> Path | str:
    """The work tree's top folder, or the reason there is none."""
    try:
        done = _git(["rev-parse", "--show-toplevel"], folder)
    except FileNotFoundError:
        return "git is not installed"
    except subprocess.TimeoutExpired:
        return f"git did not answer within {GIT_TIMEOUT:g}s"
    except OSError as err:
        return f"git could not run ({err.strerror or err})"
    if done.returncode != 0:
        return "not inside a git work tree"
    return Path(done.stdout.strip())


def _listed(args: list[str], top: Path, relative: list[str]) -> set[str] | str:
    """The paths a git listing command prints (NUL-separated, so any name works)."""
    if args[0] == "check-ignore":
        command, feed = [*args, "-z", "--stdin"], "\0".join(relative) + "\0"
    else:
        command, feed = ["--literal-pathspecs", *args, "-z", "--", *relative], None
    try:
        done = _git(command, top, feed)
    except (subprocess.TimeoutExpired, OSError) as err:
        return f"git {args[0]} failed ({type(err).__name__})"
    if done.returncode not in (0, 1):
        return f"git {args[0]} failed: {done.stderr.strip()[:200]}"
    return {item for item in done.stdout.split("\0") if item}


def git_states(paths: Sequence[Path]) -> dict[Path, GitAnswer]:
    """One answer per path (absolute paths expected)."""
    answers: dict[Path, GitAnswer] = {}
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        folder = path.parent if path.parent.is_dir() else Path.cwd()
        by_folder.setdefault(folder.resolve(), []).append(path)
    tops: dict[Path, Path | str] = {}
    for folder, members in by_folder.items():
        top = tops.setdefault(folder, _top_level(folder))
        if isinstance(top, str):
            answers.update({p: GitAnswer(None, top) for p in members})
            continue
        answers.update(_states_in(top, members))
    return answers


def _states_in(top: Path, paths: list[Path]) -> dict[Path, GitAnswer]:
    answers: dict[Path, GitAnswer] = {}
    relative: dict[Path, str] = {}
    for path in paths:
        try:
            relative[path] = str(path.resolve().relative_to(top.resolve()))
        except ValueError:
            answers[path] = GitAnswer(None, "outside the git work tree")
    if not relative:
        return answers
    names = sorted(set(relative.values()))
    tracked = _listed(["ls-files"], top, names)
    ignored = _listed(["check-ignore"], top, names)
    for path, rel in relative.items():
        if isinstance(tracked, str) or isinstance(ignored, str):
            reason = tracked if isinstance(tracked, str) else str(ignored)
            answers[path] = GitAnswer(None, reason)
        elif rel in tracked:
            answers[path] = GitAnswer("tracked")
        elif rel in ignored:
            answers[path] = GitAnswer("ignored")
        else:
            answers[path] = GitAnswer("not-ignored")
    return answers


def repository_root(folder: Path) -> Path | None:
    """The top folder of the git work tree `folder` is in, or None (no git, not a work tree)."""
    top = _top_level(folder)
    return top if isinstance(top, Path) else None
