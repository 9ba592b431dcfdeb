"""Run the real `faktctl` entry point in a subprocess, as a user would, and see what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str
    seconds: float = 0.0  # how long the run took

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_faktctl(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    wrapper: Sequence[str] = (),
) -> CliResult:
    """`python -m faktctl ARGS` in `cwd`, plain output (no colour, wide lines), no stdin.
    `wrapper` runs it through another program first (e.g. one that makes a folder read-only)."""
    # CI unset unless a test sets it: in CI, `faktctl audit` defaults to the repository scope
    # (docs/ci.md), and a test's expectations must not depend on where the suite runs
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "CI": "", **(env or {})}
    started = time.monotonic()
    proc = subprocess.run(
        [*wrapper, sys.executable, "-m", "faktctl", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its content, to prove a command wrote nothing."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def undocumented(command: list[str], help_text: str) -> list[str]:
    """What the help of `faktctl COMMAND...` fails to explain: the command's own description
    missing from `help_text`, or an option or argument without help of its own."""
    import typer

    from faktctl.cli import app

    found: Any = typer.main.get_command(app)
    for name in command:
        found = found.commands[name]
    problems = []
    summary = (found.help or "").strip().split("\n")[0].strip()
    if not summary:
        problems.append("the command has no description")
    elif " ".join(summary.split()[:4]) not in " ".join(help_text.split()):
        problems.append("its description is not shown")
    for param in found.params:
        if getattr(param, "hidden", False):
            continue
        text = getattr(param, "help", None)
        if not (text and str(text).strip()):
            problems.append(f"{param.name} has no help")
    return problems
