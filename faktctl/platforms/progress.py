"""How `up` and `down` show their progress on stderr: a live table on a terminal, plain lines
otherwise (faktctl.platforms.engine.apply.Progress is what the executors call)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faktctl import ui

if TYPE_CHECKING:
    from rich.console import RenderableType

    from faktctl.platforms.engine.apply import Progress


class PlainProgress:
    """One line per change of state; repeated updates of the same kind are throttled."""

    def __init__(self, min_interval_s: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, float]] = {}
        self._min_interval_s = min_interval_s

    def update(self, target: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            previous, when = self._last.get(target, ("", 0.0))
            same_kind = previous.split(" ", 1)[0] == message.split(" ", 1)[0]
            if message == previous or (same_kind and now - when < self._min_interval_s):
                return
            self._last[target] = (message, now)
            ui.info(f"  {target}: {message}")

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        with self._lock:
            self._last[target] = (message, time.monotonic())
            ui.info(f"{'✓' if ok else '✗'} {target}: {message}")


@dataclass
class _Row:
    message: str
    since: float
    state: str  # "busy" | "ok" | "failed"


class LiveProgress:
    """A rich live table: one row per target, with a spinner and elapsed time while busy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}

    def update(self, target: str, message: str) -> None:
        with self._lock:
            row = self._rows.get(target)
            since = row.since if row is not None and row.state == "busy" else time.monotonic()
            self._rows[target] = _Row(message, since, "busy")

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        with self._lock:
            row = self._rows.get(target)
            since = row.since if row is not None else time.monotonic()
            self._rows[target] = _Row(message, since, "ok" if ok else "failed")

    def __rich__(self) -> RenderableType:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.items())
        for target, row in rows:
            if row.state == "busy":
                mark: RenderableType = Spinner("dots")
                elapsed = f"{now - row.since:.0f}s"
            else:
                mark = "[green]✓[/]" if row.state == "ok" else "[red]✗[/]"
                elapsed = ""
            table.add_row(mark, f"[bold]{target}[/]", row.message, f"[dim]{elapsed}[/]")
        return table


@contextlib.contextmanager
def progress_display() -> Iterator[Progress]:
    if not ui.stderr_is_terminal():
        yield PlainProgress()
        return
    from rich.live import Live

    live_progress = LiveProgress()
    with Live(live_progress, console=ui.stderr(), refresh_per_second=8, transient=False):
        yield live_progress
