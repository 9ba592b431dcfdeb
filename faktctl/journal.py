"""The durable record of an upgrade or restore in progress: a small JSON file beside the spec
(`.faktctl-<project>.operation`, 0600, written atomically), like the project's lock file.

Why a file and not a label: labels cannot be added to a container or a volume after it was
created, and an interrupted run may leave no container of its own behind (the old server is
stopped, or already removed). The lock (faktctl.lock) dies with its process; this record must
not: it is written before each step that changes the deployment (stopping workers, moving
keys, replacing the server) and removed only when the operation ends, finished or rolled back.

Every command that changes or reports the deployment reads it first (`require_none`,
`describe`): a record left behind means a run was interrupted (Ctrl-C, kill -9, a crash, a
reboot), and the message says what state the deployment was left in and the one command that
finishes it (`faktctl upgrade --resume`, `faktctl restore --resume`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faktctl.errors import OperationFailed, UsageError
from faktctl.fsutil import atomic_write

# What a person is told each step left behind when the run stopped there.
LEFT_BEHIND = {
    "upgrade": {
        "stopping": "the workers and the server may be stopped; the data is unchanged",
        "keys": "the server is stopped while its queues were counted (and moved) on the volume",
        "replacing": "the old server container is gone; the new one may not be running",
        "rolling-back": "the upgrade was being rolled back to the safety backup",
    },
    "restore": {
        "stopping": "the workers and the server may be stopped; the data is unchanged",
        "writing": "the server is stopped; faktory.rdb is either the old data or the backup's",
        "starting": "the data is written; the server and the workers may not be running",
    },
}


# Tests interrupt an operation at a named step: with FAKTCTL_TEST_PAUSE_AT=upgrade:replacing the
# run says so on stderr once the record of that step is written, and waits (at most
# PAUSE_S) for the test's signal before going on.
PAUSE_ENV = "FAKTCTL_TEST_PAUSE_AT"
PAUSE_S = 60.0


def pause_for_tests(where: str) -> None:
    """Wait at `where` when FAKTCTL_TEST_PAUSE_AT names it (tests only; nothing otherwise)."""
    if os.environ.get(PAUSE_ENV) != where:
        return
    import sys
    import time

    print(f"faktctl: test pause at {where}", file=sys.stderr, flush=True)
    time.sleep(PAUSE_S)


class OperationInterrupted(OperationFailed):
    """An earlier upgrade or restore of this project did not finish."""


@dataclass(frozen=True)
class Record:
    operation: str  # "upgrade" | "restore"
    step: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    pid: int = 0
    since: str = ""

    def left_behind(self) -> str:
        return LEFT_BEHIND.get(self.operation, {}).get(self.step, f"it stopped at `{self.step}`")

    def resume_command(self) -> str:
        return f"faktctl {self.operation} --resume"

    def describe(self) -> str:
        what = str(self.facts.get("what") or self.operation)
        return (
            f"{what} was interrupted (pid {self.pid}, started {self.since}) at step "
            f"`{self.step}`: {self.left_behind()}"
        )


def record_path(spec_dir: Path, project: str) -> Path:
    return spec_dir / f".faktctl-{project}.operation"


def read(spec_dir: Path, project: str) -> Record | None:
    """The record of an unfinished operation, or None. An unreadable record still counts."""
    path = record_path(spec_dir, project)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return Record("operation", "unknown")
    try:
        data = json.loads(text)
        return Record(
            str(data["operation"]),
            str(data["step"]),
            dict(data.get("facts") or {}),
            int(data.get("pid", 0)),
            str(data.get("since", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return Record("operation", "unknown")


def require_none(spec_dir: Path, project: str, doing: str) -> None:
    """Refuse `doing` (a command) while an interrupted upgrade or restore is recorded."""
    found = read(spec_dir, project)
    if found is None:
        return
    raise OperationInterrupted(
        f"cannot {doing}: {found.describe()}",
        f"run `{found.resume_command()}` first: it finishes the {found.operation} or rolls it "
        f"back (the record is {record_path(spec_dir, project).name})",
    )


def to_resume(spec_dir: Path, project: str, operation: str) -> tuple[Record, Journal] | None:
    """What `<operation> --resume` finishes: the record and its journal, continued; None when
    nothing is recorded. A record of another operation is refused with the right command."""
    record = read(spec_dir, project)
    if record is None:
        return None
    if record.operation != operation:
        raise UsageError(
            f"the interrupted operation is {_with_article(record.operation)}, "
            f"not {_with_article(operation)}",
            f"run `{record.resume_command()}`",
        )
    return record, Journal.resumed(spec_dir, project, record)


def _with_article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


class Journal:
    """Writes the record step by step; `done()` removes it. Not a context manager on purpose:
    an exception or a signal must leave the record, since the deployment is then half-done."""

    def __init__(
        self, spec_dir: Path, project: str, operation: str, facts: Mapping[str, Any] | None = None
    ) -> None:
        self.spec_dir = spec_dir
        self.project = project
        self.path = record_path(spec_dir, project)
        self.operation = operation
        self.facts: dict[str, Any] = dict(facts or {})
        self.since = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    @classmethod
    def resumed(cls, spec_dir: Path, project: str, record: Record) -> Journal:
        """The journal of an interrupted operation, continued by its `--resume`."""
        journal = cls(spec_dir, project, record.operation, record.facts)
        journal.since = record.since or journal.since
        return journal

    def step(self, name: str, **facts: Any) -> None:
        """Record that `name` is about to start (with any new facts) before it starts."""
        self.facts.update(facts)
        document = {
            "operation": self.operation,
            "step": name,
            "facts": self.facts,
            "pid": os.getpid(),
            "since": self.since,
        }
        atomic_write(self.path, json.dumps(document, indent=1, default=str) + "\n", 0o600)
        pause_for_tests(f"{self.operation}:{name}")

    def done(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
