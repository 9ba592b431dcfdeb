"""Run the real `faktctl` entry point in a subprocess, as a user would, and see what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


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
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> CliResult:
    """`python -m faktctl ARGS` in `cwd`, plain output (no colour, wide lines), no stdin."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "faktctl", *args],
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
