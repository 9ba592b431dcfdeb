"""systemd on this host, for `faktctl backup schedule`: whether it runs, whether it accepts a
calendar expression, and systemctl. Commands get their arguments as a list, never through a
shell."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from faktctl.errors import OperationFailed

RUNTIME_DIR = Path("/run/systemd/system")  # exists only while systemd is the init system
ANALYZE_TIMEOUT_S = 30


def running() -> bool:
    return RUNTIME_DIR.is_dir()


def calendar_problem(expression: str) -> str | None:
    """Why systemd would refuse `expression` as an OnCalendar value; None when it accepts it,
    or when systemd-analyze is not at hand to ask."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    try:
        done = subprocess.run(
            [tool, "calendar", expression],
            capture_output=True,
            text=True,
            timeout=ANALYZE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or ["not a calendar expression"])[-1]


def run(argv: Sequence[str]) -> None:
    """Run a systemctl command line; OperationFailed with its stderr when it fails."""
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OperationFailed(f"`{' '.join(argv)}` failed: {done.stderr.strip()[:300]}")
