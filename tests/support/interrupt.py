"""A faktctl run to interrupt at a named step: FAKTCTL_TEST_PAUSE_AT=<operation>:<step> makes it
wait there once the step's record is written (faktctl.journal); the test reads its stderr line
by line, waits for the pause line (or anything else it watches), then signals it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from faktctl import labels
from faktctl.journal import PAUSE_ENV


class Interruptible:
    def __init__(
        self, folder: Path, session_id: str, args: list[str], pause_at: str | None = None
    ) -> None:
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "FAKTCTL_EXTRA_LABELS": f"{labels.TEST}={session_id}",
        }
        if pause_at is not None:
            env[PAUSE_ENV] = pause_at
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "faktctl", *args],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, "".join(self.seen)
                continue
            self.seen.append(line)
            if text in line:
                return
        self.proc.kill()
        raise AssertionError(f"no `{text}` within {timeout:g}s:\n{''.join(self.seen)}")

    def end(self, sig: signal.Signals) -> int:
        """Send `sig`; the exit code (negative: killed by a signal)."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=180)
        time.sleep(0.2)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.seen)
