"""One `up`, `down`, `backup` or `restore` at a time per project: an advisory lock file
beside the spec. (A scheduled backup that meets a running restore stops with "locked" instead
of pruning the backup the restore reads; any later command that changes the deployment, such
as an upgrade, takes the same lock.)

Why a lock file with flock(2) rather than a lock object in the engine:
- the kernel releases it when the holder exits, however it exits (Ctrl-C, kill -9, a crash),
  so a lock can never be left behind by a dead process on this machine;
- it needs no image, leaves no object in the engine for `down`, `status` or the audit to step
  around, and is taken before the engine is even contacted;
- it records who holds it (pid, host, command, since when) for the message a second run shows.
The trade-off: two checkouts of the same project in different folders do not see each other's
lock. On a shared folder (NFS) the lock works across hosts as far as the file system's locking
does.

A holder record left in the file by a process that no longer holds the lock is stale: the next
run takes the lock over, says so, and rewrites the record. The file is removed on release.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from faktctl.errors import OperationFailed


class LockHeld(OperationFailed):
    """Another faktctl run holds the project's lock."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"`faktctl {self.command}` (pid {self.pid} on {self.host}, since {self.since})"

    @classmethod
    def me(cls, command: str) -> Holder:
        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return cls(os.getpid(), os.uname().nodename, command, now)


def lock_path(spec_dir: Path, project: str) -> Path:
    return spec_dir / f".faktctl-{project}.lock"


def _read_holder(fd: int) -> Holder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode())
        return Holder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_holder(fd: int, holder: Holder) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(asdict(holder)).encode() + b"\n")


def _same_file(fd: int, path: Path) -> bool:
    """False when the path was removed or replaced after we opened it (a releasing holder)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _acquire(path: Path, project: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = holder.describe() if holder is not None else "another faktctl run"
            raise LockHeld(
                f"project `{project}` is locked by {who}",
                f"wait for it to finish; the lock ({path}) is released when it exits",
            ) from None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            return fd
        os.close(fd)  # lost a race with a releasing holder: take the new file


@contextlib.contextmanager
def project_lock(spec_dir: Path, project: str, command: str) -> Iterator[Holder | None]:
    """Hold the project's lock; yields the stale holder record it replaced, if any."""
    path = lock_path(spec_dir, project)
    fd = _acquire(path, project)
    try:
        stale = _read_holder(fd)
        _write_holder(fd, Holder.me(command))
        yield stale
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
