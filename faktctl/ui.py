"""Where output goes: data to stdout, progress and messages to stderr."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@cache
def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@cache
def stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def info(message: str) -> None:
    """A progress or status line for a person (stderr, plain when not a TTY)."""
    stderr().print(message, markup=False)


def data(text: str) -> None:
    """Machine-readable or primary output (stdout), written verbatim."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
