"""The restic command line, the one way faktctl talks to restic repositories.

restic gets the repository and its password through the environment (RESTIC_REPOSITORY,
RESTIC_PASSWORD), never on its command line; backend credentials (AWS_*, B2_*, AZURE_*, ...)
come from the environment faktctl runs in, as restic documents. Its messages are passed on
with any `user:password@` in URLs hidden.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from faktctl.errors import OperationFailed, UsageError
from faktctl.secretvalue import SecretStr, hide_url_userinfo

MIN_VERSION = (0, 14, 0)
INSTALL_HINT = (
    "install restic 0.14 or newer: `apt-get install restic` (Debian/Ubuntu), "
    "`dnf install restic`, `brew install restic`; or set backup.restic to its path"
)
# Variables that would make restic take another password than the spec's password_file.
_PASSWORD_VARIABLES = ("RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY_FILE")
# `cat config` on a repository that does not exist (yet): a missing folder or a 404
_NO_REPOSITORY = ("no such file or directory", "does not exist", "404", "not found")
COMMAND_TIMEOUT_S = 3600.0
QUEUE_PIECES = 16


class ResticError(OperationFailed):
    """restic is missing, too old, or a restic command failed."""


class ResticMissing(UsageError):
    """restic is not installed (or not where the spec says)."""


_redact = hide_url_userinfo  # the one rule for credentials in a URL


def parse_version(text: str) -> tuple[int, int, int] | None:
    """`restic 0.14.0 compiled with go1.19 on linux/amd64` -> (0, 14, 0)."""
    match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def find(executable: str) -> Path:
    """The restic binary (on PATH, or the path configured), at least MIN_VERSION."""
    found = shutil.which(executable)
    if found is None:
        raise ResticMissing(f"restic not found (looked for `{executable}`)", INSTALL_HINT)
    try:
        done = subprocess.run(
            [found, "version"], capture_output=True, timeout=60, check=False, env=_base_env()
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ResticMissing(f"cannot run {found}: {err}", INSTALL_HINT) from None
    version = parse_version(done.stdout.decode("utf-8", "replace"))
    if version is None:
        raise ResticMissing(f"{found} did not say its restic version", INSTALL_HINT)
    if version < MIN_VERSION:
        shown = ".".join(map(str, version))
        raise ResticMissing(f"restic {shown} at {found} is too old (0.14.0 or newer)", INSTALL_HINT)
    return Path(found)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PASSWORD_VARIABLES}
    env.pop("RESTIC_PASSWORD", None)
    env.pop("RESTIC_REPOSITORY", None)
    return env


_ERROR_WORDS = ("error", "failed", "invalid", "corrupt", "does not match", "refused")


def _joined(lines: list[str]) -> list[str]:
    """`error for tree x:` followed by its reason on the next line, as one line."""
    joined: list[str] = []
    for line in lines:
        if joined and joined[-1].endswith(":") and not line.startswith("Fatal:"):
            joined[-1] = f"{joined[-1]} {line}"
        else:
            joined.append(line)
    return joined


def failure_reason(output: str) -> str:
    """The lines of restic's output that say what went wrong: its first error, then the
    `Fatal:` line (restic's summary of it)."""
    lines = _joined([line.strip() for line in output.splitlines() if line.strip()])
    fatal = [line.removeprefix("Fatal: ") for line in lines if line.startswith("Fatal:")]
    errors = [
        line
        for line in lines
        if not line.startswith("Fatal:") and any(word in line.lower() for word in _ERROR_WORDS)
    ]
    if errors:
        reason = "; ".join(errors[:2]) + (f" ({fatal[0]})" if fatal else "")
    else:
        reason = (fatal or lines or ["no error output"])[0 if fatal else -1]
    return _redact(reason)[:500]


def snapshot_tags(items: Sequence[str]) -> str:
    for item in items:
        if "," in item or not item:
            raise ValueError(f"restic tag `{item}` is empty or holds a comma")
    return ",".join(items)


@dataclass(frozen=True)
class Restic:
    binary: Path
    repository: str
    password: SecretStr = field(repr=False)
    label: str

    def env(self) -> dict[str, str]:
        env = _base_env()
        env["RESTIC_REPOSITORY"] = self.repository
        env["RESTIC_PASSWORD"] = self.password.get_secret_value()
        return env

    def _fail(self, what: str, stderr: bytes) -> ResticError:
        reason = failure_reason(stderr.decode("utf-8", "replace"))
        return ResticError(f"restic {what} on {self.label} failed: {reason}")

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> bytes:
        try:
            done = subprocess.run(
                [str(self.binary), *args],
                capture_output=True,
                timeout=timeout,
                check=False,
                env=self.env(),
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ResticError(f"restic {args[0]} on {self.label} took over {timeout:g}s") from None
        except OSError as err:
            raise ResticError(f"cannot run restic {args[0]}: {err.strerror or err}") from None
        if done.returncode != 0:
            raise self._fail(args[0], done.stderr + b"\n" + done.stdout)
        return done.stdout

    # --- the repository -----------------------------------------------------------------------

    def count(self, tags: Sequence[str]) -> int | None:
        """How many snapshots carry `tags`; None when there is no repository (yet)."""
        try:
            return len(self.snapshots(tags))
        except ResticError as err:
            reason = err.message.lower()
            if "config file" in reason and any(marker in reason for marker in _NO_REPOSITORY):
                return None
            raise

    def ensure(self, tags: Sequence[str] = ()) -> tuple[bool, int]:
        """Create the repository when there is none. Returns whether it was created, and how
        many snapshots carry `tags`."""
        found = self.count(tags)
        if found is not None:
            return False, found
        self.run("init", "--repository-version", "2", timeout=300)
        return True, 0

    def snapshots(self, tags: Sequence[str]) -> list[dict[str, Any]]:
        selection = ["--tag", snapshot_tags(tags)] if tags else []
        out = self.run("snapshots", "--json", "--no-lock", *selection)
        try:
            found = json.loads(out or b"[]")
        except json.JSONDecodeError:
            raise ResticError(f"restic snapshots on {self.label} printed no JSON") from None
        return [item for item in found or [] if isinstance(item, dict)]

    def add_tags(self, snapshot_id: str, tags: Sequence[str]) -> None:
        args = [arg for tag in tags for arg in ("--add", snapshot_tags([tag]))]
        self.run("tag", *args, snapshot_id)

    def forget(
        self,
        tags: Sequence[str],
        keep_last: int,
        keep_daily: int | None = None,
        keep_weekly: int | None = None,
    ) -> list[str]:
        """Apply the retention policy to the snapshots carrying `tags` (as one group) and
        prune; returns the ids of the snapshots removed."""
        args = ["forget", "--json", "--prune", "--group-by", "", "--tag", snapshot_tags(tags)]
        args += ["--keep-last", str(keep_last)]
        if keep_daily:
            args += ["--keep-daily", str(keep_daily)]
        if keep_weekly:
            args += ["--keep-weekly", str(keep_weekly)]
        out = self.run(*args)
        removed: list[str] = []
        for line in out.splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                for group in json.loads(line) or []:
                    removed += [str(s.get("id", "")) for s in group.get("remove") or []]
        return removed

    def check(self, read_data: bool = True) -> str:
        args = ["check", "--read-data"] if read_data else ["check"]
        out = self.run(*args)
        lines = [line for line in out.decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1] if lines else "no errors were found"

    @contextlib.contextmanager
    def dump(self, snapshot_id: str, path: str) -> Iterator[Iterator[bytes]]:
        """The bytes of one file of a snapshot; ResticError when restic fails (also after the
        last chunk, so a dump cut short by a damaged pack never looks complete)."""
        process = subprocess.Popen(
            [str(self.binary), "dump", "--no-lock", snapshot_id, path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(),
        )
        errors = _Collector(process.stderr)

        def chunks() -> Iterator[bytes]:
            assert process.stdout is not None
            while block := process.stdout.read(1 << 20):
                yield block
            if process.wait() != 0:
                errors.join()
                raise self._fail("dump", errors.data)

        try:
            yield chunks()
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            errors.join()
            if process.stdout is not None:
                process.stdout.close()

    def backup_stdin(self, tags: Sequence[str], host: str) -> BackupStdin:
        return BackupStdin(self, tags, host)


class _Collector:
    """Reads a pipe to its end on a thread (so the child never blocks on a full pipe)."""

    def __init__(self, pipe: IO[bytes] | None, keep_last: int = 64 << 10) -> None:
        self.data = b""
        self._pipe = pipe
        self._keep = keep_last
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        if self._pipe is None:
            return
        with contextlib.suppress(OSError, ValueError):
            while block := self._pipe.read(8192):
                self.data = (self.data + block)[-self._keep :]

    def join(self) -> None:
        self._thread.join(timeout=30)


class BackupStdin:
    """`restic backup --stdin`, fed from another thread through a bounded queue.

    A failing restic (a repository that went away) never stops the caller: `feed` drops
    pieces once restic's stdin is closed, and `finish` reports restic's own error.
    """

    def __init__(self, restic: Restic, tags: Sequence[str], host: str) -> None:
        self.restic = restic
        args = ["backup", "--stdin", "--stdin-filename", "faktory.rdb", "--json"]
        args += ["--host", host, "--tag", snapshot_tags(tags)]
        self.process = subprocess.Popen(
            [str(restic.binary), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=restic.env(),
        )
        self._stdout = _Collector(self.process.stdout)
        self._stderr = _Collector(self.process.stderr)
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(QUEUE_PIECES)
        self.broken: str | None = None
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._writer.start()

    def _write(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        while (piece := self._queue.get()) is not None:
            if self.broken is None:
                try:
                    stdin.write(piece)
                except OSError as err:
                    self.broken = err.strerror or str(err)
        with contextlib.suppress(OSError):
            stdin.close()

    def feed(self, piece: bytes | memoryview) -> None:
        self._queue.put(piece)

    def abort(self) -> None:
        """Stop restic without a snapshot: SIGINT lets it remove its lock; SIGKILL after 10 s."""
        self.broken = self.broken or "aborted"
        with contextlib.suppress(OSError):
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._queue.put(None)
        self._writer.join(timeout=30)

    def finish(self, timeout: float = COMMAND_TIMEOUT_S) -> str:
        """Close restic's stdin, wait for it, and return the new snapshot's id."""
        self._queue.put(None)
        self._writer.join(timeout=timeout)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise ResticError(f"restic backup to {self.restic.label} did not finish") from None
        self._stdout.join()
        self._stderr.join()
        if code != 0:
            raise self.restic._fail("backup", self._stderr.data)
        for line in reversed(self._stdout.data.splitlines()):
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                message = json.loads(line)
                if message.get("message_type") == "summary" and message.get("snapshot_id"):
                    return str(message["snapshot_id"])
        raise ResticError(f"restic backup to {self.restic.label} did not name the snapshot")
