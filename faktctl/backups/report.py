"""How backup jobs tell a person what they are doing, without knowing about terminals."""

from __future__ import annotations

import contextlib
from typing import Protocol

from faktctl.ui import ByteProgress


class Reporter(Protocol):
    def step(self, message: str) -> None:
        """One line about what happens now."""

    def warn(self, message: str) -> None:
        """Something the person should know; the job goes on."""

    def transfer(
        self, what: str, total: int | None
    ) -> contextlib.AbstractContextManager[ByteProgress]:
        """A byte transfer; the context yields a callable taking the bytes done so far."""
