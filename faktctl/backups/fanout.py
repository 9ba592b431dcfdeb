"""The destinations' side of a backup (faktctl.backups.take runs the pipeline): what happened at
each destination, and the restic repositories fed while faktory.rdb streams out.

The server saves once (BGSAVE) and faktory.rdb is streamed out of the engine once. On the way
its bytes go, at the same time, into `restic backup --stdin` for each repository (no copy on
local disk first) and, when there is a folder, into the first folder's .rdb.gz. Further folders
get a copy of that file and its manifest.

A destination that fails (cannot be prepared, or fails during or after the upload) does not
stop the others: the backup is kept wherever it succeeded, and the result says which
destination failed and why. The command then exits 4.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from faktctl.adapters import restic as restic_cli
from faktctl.adapters.docker import archive
from faktctl.backups import deployment, repository, savepoint, stream
from faktctl.backups.destinations import Destination, Repository
from faktctl.backups.manifest import Backup, Manifest
from faktctl.backups.report import Reporter
from faktctl.errors import OperationFailed
from faktctl.secretvalue import SecretStr

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine


@dataclass(frozen=True)
class Policy:
    project: str
    password: SecretStr = field(repr=False)
    keep: int = 7
    keep_daily: int | None = None
    keep_weekly: int | None = None


@dataclass
class Outcome:
    """What happened at one destination."""

    destination: Destination
    ok: bool = False
    error: str | None = None
    where: str | None = None  # the manifest path, or the restic snapshot id
    pruned: list[str] = field(default_factory=list)
    created_repository: bool = False
    failure: OperationFailed | None = field(default=None, repr=False)

    def fail(self, error: OperationFailed) -> None:
        self.failure = error
        self.error = error.one_line()

    def to_json(self) -> dict[str, Any]:
        return {
            "destination": self.destination.label,
            "kind": self.destination.kind,
            "ok": self.ok,
            "error": self.error,
            "backup": self.where,
            "pruned": list(self.pruned),
            "created_repository": self.created_repository,
        }


@dataclass(frozen=True)
class FolderCopy:
    """The first folder's snapshot, written as the engine streamed it."""

    backup: Backup
    copy_seconds: float
    deflated_blocks: int
    stored_blocks: int


@dataclass(frozen=True)
class FanoutResult:
    name: str
    created_at: datetime
    rdb_size: int
    sha256: str | None  # of faktory.rdb as read from the server (not hashed for a lone folder)
    counts: deployment.Counts
    outcomes: tuple[Outcome, ...]
    seconds: float
    warnings: tuple[str, ...] = ()
    save_seconds: float = 0.0
    first_folder: FolderCopy | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rdb_size": self.rdb_size,
            "rdb_sha256": self.sha256,
            "faktory_version": self.counts.version,
            "queues": dict(self.counts.queues),
            "sets": dict(self.counts.sets),
            "jobs": self.counts.jobs,
            "ok": not self.failed,
            "destinations": [o.to_json() for o in self.outcomes],
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


# --- preparing ----------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A destination made ready before the engine is used; a failed one keeps its error."""

    outcome: Outcome
    restic: restic_cli.Restic | None = None
    upload: restic_cli.BackupStdin | None = None
    existing: int = 0  # snapshots of this kind before this backup

    def abort(self) -> None:
        if self.upload is not None and self.upload.process.poll() is None:
            self.upload.abort()


def open_and_start(item: Prepared, tags: list[str], policy: Policy, reporter: Reporter) -> None:
    """Open (or create) the repository and start `restic backup --stdin`; runs on a thread
    while Redis saves, so restic's start-up (index, lock) costs no time of its own."""
    assert item.restic is not None
    label = item.outcome.destination.label
    reporter.step(f"opening {label}")
    created, existing = item.restic.ensure(repository.retention_tags(policy.project, None))
    item.outcome.created_repository = created
    item.existing = existing
    if created:
        reporter.step(f"created the restic repository {label}")
    item.upload = item.restic.backup_stdin(tags, host=policy.project)


RepositoryOpener = Callable[[Repository], restic_cli.Restic]


# --- the tee into restic ----------------------------------------------------------------------


class RawTee:
    """Counts (and, when asked, hashes) faktory.rdb's bytes and hands each piece to every
    running restic upload."""

    def __init__(self, uploads: list[Prepared], *, hashing: bool = True) -> None:
        self.uploads = uploads
        self.digest = hashlib.sha256() if hashing else None
        self.size = 0
        self.completed = False  # the whole RDB went through (checked) and to every upload

    def __call__(self, pieces: Iterator[memoryview]) -> Iterator[memoryview]:
        try:
            for piece in pieces:
                if self.digest is not None:
                    self.digest.update(piece)
                self.size += len(piece)
                for item in self.uploads:
                    assert item.upload is not None
                    item.upload.feed(piece)
                yield piece
        except BaseException:
            for item in self.uploads:
                item.abort()
            raise
        self.completed = True

    @property
    def sha256(self) -> str | None:
        return self.digest.hexdigest() if self.digest is not None else None


def stream_without_folder(
    engine: Engine, container_id: str, tee: RawTee, reporter: Reporter
) -> None:
    stat_info, chunks = engine.archive_out(container_id, savepoint.RDB_PATH)
    with archive.closing_iter(chunks):
        member, pieces = archive.read_single_file(chunks)
        with reporter.transfer("faktory.rdb", member.size or int(stat_info.get("size") or 0)) as up:
            for _ in tee(stream.checked_rdb(pieces)):
                up(tee.size)
    if tee.size != member.size:
        raise OperationFailed(f"faktory.rdb arrived with {tee.size} bytes instead of {member.size}")


def finish_upload(item: Prepared, manifest: Manifest, policy: Policy, tag: str | None) -> None:
    assert item.upload is not None and item.restic is not None
    snapshot_id = item.upload.finish()
    finished = repository.finish_tags(
        manifest.sha256, manifest.rdb_size, manifest.queues, manifest.sets, manifest.faktory_version
    )
    item.restic.add_tags(snapshot_id, finished)
    item.outcome.where = snapshot_id
    item.outcome.ok = True
    if tag is None and item.existing + 1 <= policy.keep:
        return  # keep-last alone keeps them all; daily and weekly only keep more
    item.outcome.pruned = item.restic.forget(
        repository.retention_tags(policy.project, tag),
        policy.keep,
        policy.keep_daily,
        policy.keep_weekly,
    )
