"""One backup, several destinations: folders and restic repositories.

The server saves once (BGSAVE) and faktory.rdb is streamed out of the engine once. On the way
its bytes go, at the same time, into `restic backup --stdin` for each repository (no copy on
local disk first) and, when there is a folder, into the folder's .rdb.gz exactly as a
single-folder backup writes it. Further folders get a copy of that file and its manifest.

A destination that fails (cannot be prepared, or fails during or after the upload) does not
stop the others: the backup is kept wherever it succeeded, and the result says which
destination failed and why. The command then exits 4.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from faktctl import __version__
from faktctl.adapters import restic as restic_cli
from faktctl.backups import deployment, repository, savepoint, stream, take
from faktctl.backups.destinations import Destination, Folder, Repository
from faktctl.backups.manifest import (
    Backup,
    Manifest,
    manifest_name,
    snapshot_name,
    stem_for,
    write_manifest,
)
from faktctl.backups.report import Reporter
from faktctl.errors import OperationFailed

if TYPE_CHECKING:
    from faktctl.adapters.docker_engine import Engine


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
class FanoutResult:
    name: str
    created_at: datetime
    rdb_size: int
    sha256: str  # of faktory.rdb as read from the server
    counts: deployment.Counts
    outcomes: tuple[Outcome, ...]
    seconds: float
    warnings: tuple[str, ...] = ()

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
class _Prepared:
    outcome: Outcome
    restic: restic_cli.Restic | None = None
    upload: restic_cli.BackupStdin | None = None


def _prepare(
    destinations: list[Destination],
    restic_for: RepositoryOpener,
    reporter: Reporter,
) -> list[_Prepared]:
    prepared = []
    for destination in destinations:
        item = _Prepared(Outcome(destination))
        try:
            if isinstance(destination, Folder):
                take.check_destination(destination.path)
            else:
                item.restic = restic_for(destination)
                reporter.step(f"opening {destination.label}")
                item.outcome.created_repository = item.restic.ensure()
                if item.outcome.created_repository:
                    reporter.step(f"created the restic repository {destination.label}")
        except OperationFailed as err:
            item.outcome.error = err.one_line()
            reporter.warn(f"{destination.label}: {item.outcome.error}")
        prepared.append(item)
    return prepared


RepositoryOpener = Any  # Callable[[Repository], restic_cli.Restic]


# --- the tee into restic ----------------------------------------------------------------------


class _RawTee:
    """Hashes faktory.rdb's bytes and hands each piece to every running restic upload."""

    def __init__(self, uploads: list[_Prepared]) -> None:
        self.uploads = uploads
        self.digest = hashlib.sha256()
        self.size = 0

    def __call__(self, pieces: Iterator[memoryview]) -> Iterator[memoryview]:
        try:
            for piece in pieces:
                self.digest.update(piece)
                self.size += len(piece)
                for item in self.uploads:
                    assert item.upload is not None
                    item.upload.feed(piece)
                yield piece
        except BaseException:
            for item in self.uploads:
                assert item.upload is not None
                item.upload.abort()
            raise


def _stream_without_folder(
    engine: Engine, container_id: str, tee: _RawTee, reporter: Reporter
) -> None:
    stat_info, chunks = engine.archive_out(container_id, savepoint.RDB_PATH)
    with stream.closing_iter(chunks):
        member, pieces = stream.read_single_file(chunks)
        with reporter.transfer("faktory.rdb", member.size or int(stat_info.get("size") or 0)) as up:
            for _ in tee(stream.checked_rdb(pieces)):
                up(tee.size)
    if tee.size != member.size:
        raise OperationFailed(f"faktory.rdb arrived with {tee.size} bytes instead of {member.size}")


# --- finishing each destination ---------------------------------------------------------------


def _finish_upload(item: _Prepared, manifest: Manifest, policy: Policy, tag: str | None) -> None:
    assert item.upload is not None and item.restic is not None
    snapshot_id = item.upload.finish()
    item.restic.add_tags(
        snapshot_id,
        repository.finish_tags(manifest.sha256, manifest.rdb_size, manifest.queues, manifest.sets),
    )
    item.outcome.where = snapshot_id
    item.outcome.ok = True
    item.outcome.pruned = item.restic.forget(
        repository.retention_tags(policy.project, tag),
        policy.keep,
        policy.keep_daily,
        policy.keep_weekly,
    )


def _copy_to_folder(
    item: _Prepared, first: Backup, stem: str, policy: Policy, tag: str | None
) -> None:
    assert isinstance(item.outcome.destination, Folder)
    folder = item.outcome.destination.path
    temp = folder / f".{stem}{take.PARTIAL_SUFFIX}"
    try:
        shutil.copyfile(first.snapshot_path, temp)
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, folder / snapshot_name(stem))
    except OSError as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise take.DestinationError(
            f"cannot copy the snapshot into {folder}: {err.strerror or err}"
        ) from None
    backup = Backup(first.manifest, folder / manifest_name(stem), tag)
    write_manifest(backup)
    item.outcome.where = str(backup.manifest_path)
    item.outcome.ok = True
    item.outcome.pruned = take.prune(
        folder, policy.project, policy.keep, tag, policy.keep_daily, policy.keep_weekly
    )


# --- the job ----------------------------------------------------------------------------------


def take_everywhere(
    engine: Engine,
    policy: Policy,
    destinations: list[Destination],
    restic_for: RepositoryOpener,
    options: take.Options,
    reporter: Reporter,
) -> FanoutResult:
    started = time.monotonic()
    prepared = _prepare(destinations, restic_for, reporter)
    usable = [p for p in prepared if p.outcome.error is None]
    if not usable:
        raise OperationFailed(
            "no backup destination can take the backup: "
            + "; ".join(f"{p.outcome.destination.label}: {p.outcome.error}" for p in prepared)
        )
    server = deployment.running_server(engine, policy.project)
    server_id = str(server["Id"])
    endpoint = deployment.protocol_endpoint(server, engine)
    folders = [p for p in usable if isinstance(p.outcome.destination, Folder)]
    repositories = [p for p in usable if isinstance(p.outcome.destination, Repository)]
    if folders:
        first_path = folders[0].outcome.destination.path  # type: ignore[union-attr]
        stem, created = take.unique_stem(first_path, policy.project, options.tag)
    else:
        created = datetime.now(UTC).replace(microsecond=0)
        stem = stem_for(policy.project, created, options.tag)

    reporter.step(f"asking {deployment.name_of(server)} for a fresh snapshot (BGSAVE)")
    redis = savepoint.Redis(lambda cmd: engine.exec(server_id, cmd))
    sizes, _ = take._read_sizes_around_save(redis, endpoint, policy.password, options.timeout)
    counts = sizes.after or sizes.before

    for item in repositories:
        assert item.restic is not None
        tags = repository.start_tags(policy.project, stem, options.tag, __version__, counts.version)
        item.upload = item.restic.backup_stdin(tags, host=policy.project)
    tee = _RawTee(repositories)
    first_backup: Backup | None = None
    if folders:
        first = folders[0]
        try:
            first_path = first.outcome.destination.path  # type: ignore[union-attr]
            copied = take.copy_snapshot(
                engine, server_id, first_path, stem, options.compression, reporter, tee
            )
            snapshot = take._keep(copied, first_path, stem)
            first_backup = Backup(
                Manifest(
                    project=policy.project,
                    created_at=created,
                    file=snapshot.name,
                    sha256=copied.written.sha256,
                    size=copied.written.size,
                    rdb_size=copied.written.raw_size,
                    faktory_version=counts.version,
                    queues=dict(counts.queues),
                    sets=dict(counts.sets),
                    faktctl_version=__version__,
                ),
                first_path / manifest_name(stem),
                options.tag,
            )
            write_manifest(first_backup)
            first.outcome.where = str(first_backup.manifest_path)
            first.outcome.ok = True
            first.outcome.pruned = take.prune(
                first_path,
                policy.project,
                policy.keep,
                options.tag,
                policy.keep_daily,
                policy.keep_weekly,
            )
        except take.DestinationError as err:
            # the engine stream was fine, the folder was not: the repositories still got it all
            first.outcome.error = err.one_line()
    else:
        _stream_without_folder(engine, server_id, tee, reporter)

    raw_manifest = Manifest(
        project=policy.project,
        created_at=created,
        file=repository.RDB_FILE,
        sha256=tee.digest.hexdigest(),
        size=tee.size,
        rdb_size=tee.size,
        faktory_version=counts.version,
        queues=dict(counts.queues),
        sets=dict(counts.sets),
        faktctl_version=__version__,
    )
    for item in repositories:
        reporter.step(f"finishing the upload to {item.outcome.destination.label}")
        try:
            _finish_upload(item, raw_manifest, policy, options.tag)
        except OperationFailed as err:
            item.outcome.error = err.one_line()
    for item in folders[1:]:
        if first_backup is None:
            item.outcome.error = "the first folder's copy failed, so there was nothing to copy"
            continue
        try:
            _copy_to_folder(item, first_backup, stem, policy, options.tag)
        except OperationFailed as err:
            item.outcome.error = err.one_line()
    return FanoutResult(
        name=stem,
        created_at=created,
        rdb_size=tee.size,
        sha256=tee.digest.hexdigest(),
        counts=counts,
        outcomes=tuple(p.outcome for p in prepared),
        seconds=time.monotonic() - started,
        warnings=tuple(take._changed_warning(sizes)),
    )
