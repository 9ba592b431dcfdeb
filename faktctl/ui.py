"""Where output goes: data to stdout, progress and messages to stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import timedelta

    from rich.console import Console

PROGRESS_MIN_BYTES = 8 << 20
PLAIN_STEPS = 4  # plain progress prints at 25 %, 50 %, 75 %, 100 %


@cache
def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@cache
def stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal, by rich's rules; without importing rich (a tenth of a
    second on a slow machine) when nothing asks to override what isatty() says."""
    if any(name in os.environ for name in ("TTY_COMPATIBLE", "FORCE_COLOR")):
        return stderr().is_terminal
    try:
        return sys.stderr.isatty()
    except ValueError:  # stderr already closed
        return False


def info(message: str) -> None:
    """A progress or status line for a person (stderr, plain text when not a terminal)."""
    if stderr_is_terminal():
        stderr().print(message, markup=False)
    else:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


def data(text: str) -> None:
    """Machine-readable or primary output (stdout), written verbatim."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


# --- formatting -------------------------------------------------------------------------------


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def format_age(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, never truncated."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- progress of long jobs --------------------------------------------------------------------


class ConsoleReporter:
    """Steps and warnings as lines on stderr; transfers as a rich bar on a TTY, else plain.
    (The console side of faktctl.backups.report.Reporter.)"""

    def step(self, message: str) -> None:
        info(message)

    def warn(self, message: str) -> None:
        info(f"warning: {message}")

    @contextlib.contextmanager
    def transfer(self, what: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if total is None or total < PROGRESS_MIN_BYTES:
            yield lambda done: None
        elif stderr_is_terminal():
            with self._bar(what, total) as update:
                yield update
        else:
            yield self._plain(what, total)

    @contextlib.contextmanager
    def _bar(self, what: str, total: int) -> Iterator[Callable[[int], None]]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        bar_columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*bar_columns, console=stderr(), transient=True) as progress:
            task = progress.add_task(what, total=total)
            yield lambda done: progress.update(task, completed=done)

    def _plain(self, what: str, total: int) -> Callable[[int], None]:
        started = time.monotonic()
        shown = [0]

        def update(done: int) -> None:
            step = done * PLAIN_STEPS // total
            if step > shown[0]:
                shown[0] = step
                rate = done / max(time.monotonic() - started, 1e-6)
                info(
                    f"{what}: {human_bytes(done)} of {human_bytes(total)} "
                    f"({100 * done // total}%, {human_bytes(rate)}/s)"
                )

        return update
