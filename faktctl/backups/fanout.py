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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faktctl import __version__
from faktctl.adapters import restic as restic_cli
from faktctl.adapters.docker import archive
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
    existing: int = 0  # snapshots of this kind before this backup

    def abort(self) -> None:
        if self.upload is not None and self.upload.process.poll() is None:
            self.upload.abort()


def _prepare_folders(prepared: list[_Prepared], reporter: Reporter) -> None:
    for item in prepared:
        destination = item.outcome.destination
        if isinstance(destination, Folder):
            try:
                take.check_destination(destination.path)
            except OperationFailed as err:
                item.outcome.error = err.one_line()
                reporter.warn(f"{destination.label}: {item.outcome.error}")


def _open_and_start(item: _Prepared, tags: list[str], policy: Policy, reporter: Reporter) -> None:
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


RepositoryOpener = Any  # Callable[[Repository], restic_cli.Restic]


# --- the tee into restic ----------------------------------------------------------------------


class _RawTee:
    """Hashes faktory.rdb's bytes and hands each piece to every running restic upload."""

    def __init__(self, uploads: list[_Prepared]) -> None:
        self.uploads = uploads
        self.digest = hashlib.sha256()
        self.size = 0
        self.completed = False  # the whole RDB went through (checked) and to every upload

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
                item.abort()
            raise
        self.completed = True


def _stream_without_folder(
    engine: Engine, container_id: str, tee: _RawTee, reporter: Reporter
) -> None:
    stat_info, chunks = engine.archive_out(container_id, savepoint.RDB_PATH)
    with archive.closing_iter(chunks):
        member, pieces = archive.read_single_file(chunks)
        with reporter.transfer("faktory.rdb", member.size or int(stat_info.get("size") or 0)) as up:
            for _ in tee(stream.checked_rdb(pieces)):
                up(tee.size)
    if tee.size != member.size:
        raise OperationFailed(f"faktory.rdb arrived with {tee.size} bytes instead of {member.size}")


# --- finishing each destination ---------------------------------------------------------------


def _finish_upload(item: _Prepared, manifest: Manifest, policy: Policy, tag: str | None) -> None:
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
    prepared = [_Prepared(Outcome(destination)) for destination in destinations]
    _prepare_folders(prepared, reporter)
    for item in prepared:
        if isinstance(item.outcome.destination, Repository):
            item.restic = restic_for(item.outcome.destination)  # restic found, password read
    folders = [
        p for p in prepared if isinstance(p.outcome.destination, Folder) and not p.outcome.error
    ]
    repositories = [p for p in prepared if isinstance(p.outcome.destination, Repository)]
    if not folders and not repositories:
        raise _nowhere(prepared)
    server = deployment.running_server(engine, policy.project)
    server_id = str(server["Id"])
    with deployment.reaching(engine, server) as endpoint:
        if folders:
            first_path = folders[0].outcome.destination.path  # type: ignore[union-attr]
            stem, created = take.unique_stem(first_path, policy.project, options.tag)
        else:
            created = datetime.now(UTC).replace(microsecond=0)
            stem = stem_for(policy.project, created, options.tag)
        try:
            return _take(
                engine, server, server_id, endpoint, policy, prepared, folders, repositories,
                stem, created, options, reporter, started,
            )  # fmt: skip
        finally:
            for item in repositories:
                item.abort()  # only those still running: a failure left them waiting


def _nowhere(prepared: list[_Prepared]) -> OperationFailed:
    return OperationFailed(
        "no backup destination can take the backup: "
        + "; ".join(f"{p.outcome.destination.label}: {p.outcome.error}" for p in prepared)
    )


def _take(
    engine: Engine,
    server: Any,
    server_id: str,
    endpoint: Any,
    policy: Policy,
    prepared: list[_Prepared],
    folders: list[_Prepared],
    repositories: list[_Prepared],
    stem: str,
    created: datetime,
    options: take.Options,
    reporter: Reporter,
    started: float,
) -> FanoutResult:
    tags = repository.start_tags(policy.project, stem, options.tag, __version__)
    with ThreadPoolExecutor(max(len(repositories), 1), thread_name_prefix="faktctl-restic") as pool:
        opening = [
            (pool.submit(_open_and_start, item, tags, policy, reporter), item)
            for item in repositories
        ]
        reporter.step(f"asking {deployment.name_of(server)} for a fresh snapshot (BGSAVE)")
        redis = savepoint.Redis(lambda cmd: engine.exec(server_id, cmd))
        try:
            sizes, _ = take._read_sizes_around_save(
                redis, endpoint, policy.password, options.timeout
            )
        finally:
            for future, item in opening:
                try:
                    future.result()
                except OperationFailed as err:
                    item.outcome.error = err.one_line()
                    reporter.warn(f"{item.outcome.destination.label}: {item.outcome.error}")
    counts = sizes.after or sizes.before
    uploading = [item for item in repositories if item.upload is not None]
    if not folders and not uploading:
        raise _nowhere(prepared)

    tee = _RawTee(uploading)
    first_backup = _write_first_folder(
        engine, server_id, folders, stem, created, counts, policy, options, reporter, tee
    )
    if uploading and not tee.completed:
        _stream_without_folder(engine, server_id, tee, reporter)
    raw_manifest = take.snapshot_manifest(
        policy.project,
        created,
        repository.RDB_FILE,
        (tee.digest.hexdigest(), tee.size, tee.size),
        counts,
    )
    for item in uploading:
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


def _write_first_folder(
    engine: Engine,
    server_id: str,
    folders: list[_Prepared],
    stem: str,
    created: datetime,
    counts: deployment.Counts,
    policy: Policy,
    options: take.Options,
    reporter: Reporter,
    tee: _RawTee,
) -> Backup | None:
    """The .rdb.gz and manifest in the first folder, exactly as a one-folder backup writes
    them, with the RDB's bytes going through `tee` on the way."""
    if not folders:
        return None
    first = folders[0]
    first_path = first.outcome.destination.path  # type: ignore[union-attr]
    try:
        copied = take.copy_snapshot(
            engine, server_id, first_path, stem, options.compression, reporter, tee
        )
        snapshot = take._keep(copied, first_path, stem)
    except take.DestinationError as err:
        first.outcome.error = err.one_line()  # the repositories are streamed to on their own
        return None
    backup = Backup(
        take.snapshot_manifest(
            policy.project,
            created,
            snapshot.name,
            (copied.written.sha256, copied.written.size, copied.written.raw_size),
            counts,
        ),
        first_path / manifest_name(stem),
        options.tag,
    )
    write_manifest(backup)
    first.outcome.where = str(backup.manifest_path)
    first.outcome.ok = True
    first.outcome.pruned = take.prune(
        first_path, policy.project, policy.keep, options.tag, policy.keep_daily, policy.keep_weekly
    )
    return backup
