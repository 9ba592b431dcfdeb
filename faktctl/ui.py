"""Where output goes: data to stdout, progress and messages to stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

# A transfer's progress: called with the number of bytes done so far.
ByteProgress = Callable[[int], None]


class Progress(Protocol):
    """Work on named targets (services, images, networks, volumes), as `up` and `down` show it."""

    def update(self, target: str, message: str) -> None:
        """Work in progress on a target."""

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        """The final word on a target."""


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
