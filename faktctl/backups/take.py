"""Take a backup of a running server without stopping it: the one backup pipeline.

`faktctl backup` runs it for the spec's destinations, restore and upgrade for their safety
snapshot (`take_backup`: one folder). A folder is one kind of destination, a restic repository
the other (faktctl.backups.fanout holds the restic side and the per-destination result).

Order (each step fails with a one-line error before anything is written or kept):
1. before the engine is used, every destination is prepared: a folder exists or can be made and
   a file can be created in it; a repository's restic and password are found;
2. the server container runs, its Redis socket answers, INFO answers;
3. each folder has enough free space for the current faktory.rdb;
4. BGSAVE (meanwhile each repository is opened and `restic backup --stdin` started), then wait
   until Redis reports the new snapshot saved (bounded);
5. stream faktory.rdb out through the engine once: into a hidden temp file in the first folder,
   compressing and hashing on the way (the sha256 is of exactly the bytes written), then fsync;
   and into every repository's upload at the same time;
6. verify before keeping anything: the RDB arrived whole (the length in the archive header, the
   `REDIS` magic at the start, the EOF opcode before the trailing checksum) and the file on disk
   holds every byte written. A read-back is not done: right after fsync it would come from the
   page cache, not the disk; `faktctl backup verify` re-hashes and load-tests a backup;
7. rename the snapshot into place, then write the manifest (the backup now exists); finish the
   uploads; copy the snapshot and manifest to the other folders;
8. retention: in each destination keep the newest `keep` backups with the same tag (and
   keep_daily / keep_weekly).

A destination that fails does not stop the others; the result says which failed and why. A
lone folder is the exception: its failure is raised as it is, since its own message and hint
say best what to fix (and restore and upgrade stop on it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl import __version__
from faktctl.adapters.docker import archive
from faktctl.backups import deployment, repository, savepoint, stream
from faktctl.backups.destinations import Destination, Folder, Repository
from faktctl.backups.fanout import (
    FanoutResult,
    FolderCopy,
    Outcome,
    Policy,
    Prepared,
    RawTee,
    RepositoryOpener,
    finish_upload,
    open_and_start,
    stream_without_folder,
)
from faktctl.backups.manifest import (
    SNAPSHOT_SUFFIX,
    Backup,
    Manifest,
    list_backups,
    manifest_name,
    parse_manifest_name,
    snapshot_name,
    stem_for,
    write_manifest,
)
from faktctl.backups.report import Reporter
from faktctl.errors import OperationFailed
from faktctl.live import reach
from faktctl.secretvalue import SecretStr
from faktctl.ui import human_bytes as human_bytes  # restore's messages use take.human_bytes

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine

PARTIAL_SUFFIX = ".partial"
STALE_AFTER_S = 3600.0
SPACE_MARGIN = 1 << 20


class DestinationError(OperationFailed):
    """The backup destination cannot hold the backup."""


@dataclass(frozen=True)
class Target:
    """Which deployment to back up, and into which one folder."""

    project: str
    destination: Path
    keep: int
    password: SecretStr = field(repr=False)
    keep_daily: int | None = None
    keep_weekly: int | None = None

    @property
    def policy(self) -> Policy:
        return Policy(self.project, self.password, self.keep, self.keep_daily, self.keep_weekly)


@dataclass(frozen=True)
class Options:
    tag: str | None = None
    compression: stream.Compression = "auto"
    timeout: float = 300.0
    # backups pruning must leave alone whatever else it finds (the one a restore reads)
    protect: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BackupResult:
    backup: Backup
    pruned: tuple[str, ...]
    warnings: tuple[str, ...]
    save_seconds: float
    copy_seconds: float
    total_seconds: float
    deflated_blocks: int
    stored_blocks: int

    def to_json(self) -> dict[str, Any]:
        manifest = self.backup.manifest
        return {
            "name": self.backup.name,
            "manifest": str(self.backup.manifest_path),
            "snapshot": str(self.backup.snapshot_path),
            "created_at": manifest.to_json()["created_at"],
            "size": manifest.size,
            "rdb_size": manifest.rdb_size,
            "sha256": manifest.sha256,
            "faktory_version": manifest.faktory_version,
            "queues": dict(manifest.queues),
            "sets": dict(manifest.sets),
            "jobs": manifest.jobs,
            "pruned": list(self.pruned),
            "warnings": list(self.warnings),
            "seconds": {
                "save": round(self.save_seconds, 3),
                "copy": round(self.copy_seconds, 3),
                "total": round(self.total_seconds, 3),
            },
            "blocks": {"deflated": self.deflated_blocks, "stored": self.stored_blocks},
        }

    @classmethod
    def of(cls, result: FanoutResult) -> BackupResult:
        """The first folder's backup, as a one-folder backup reports it."""
        first = result.first_folder
        assert first is not None
        written_to = str(first.backup.manifest_path)
        folder = next(o for o in result.outcomes if o.where == written_to)
        return cls(
            backup=first.backup,
            pruned=tuple(folder.pruned),
            warnings=result.warnings,
            save_seconds=result.save_seconds,
            copy_seconds=first.copy_seconds,
            total_seconds=result.seconds,
            deflated_blocks=first.deflated_blocks,
            stored_blocks=first.stored_blocks,
        )


# --- the destination --------------------------------------------------------------------------


def check_destination(destination: Path) -> None:
    """Create the folder if needed and prove a file can be created there."""
    try:
        destination.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".faktctl-write-test-", dir=destination)
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        raise DestinationError(f"backup destination {destination} is not a folder") from None
    except OSError as err:
        raise DestinationError(
            f"backup destination {destination} is not writable: {err.strerror or err}",
            "fix its permissions or change backup.destination in the spec",
        ) from None


def check_free_space(destination: Path, needed: int) -> None:
    try:
        free = shutil.disk_usage(destination).free
    except OSError:
        return
    if free < needed + SPACE_MARGIN:
        raise DestinationError(
            f"not enough free space in {destination}: {human_bytes(free)} free, the snapshot "
            f"needs up to {human_bytes(needed)}",
            "free some space or point backup.destination at a bigger disk",
        )


def worst_case_size(rdb_size: int) -> int:
    """Stored blocks add 5 bytes per 64 KiB and a gzip header and trailer per 4 MiB block."""
    return rdb_size + rdb_size // 1000 + 4096


def unique_stem(
    destination: Path,
    project: str,
    tag: str | None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, datetime]:
    """A stem no backup uses yet; waits for the next second when this one is taken."""
    for _ in range(5):
        moment = now().replace(microsecond=0)
        stem = stem_for(project, moment, tag)
        if (
            not (destination / manifest_name(stem)).exists()
            and not (destination / snapshot_name(stem)).exists()
        ):
            return stem, moment
        sleep(1.0 - now().microsecond / 1_000_000 + 0.01)
    raise DestinationError(f"could not find a free backup name in {destination}")


# --- copying the snapshot out -----------------------------------------------------------------


Tee = Callable[[Iterator[memoryview]], Iterator[memoryview]]


@dataclass(frozen=True)
class Copied:
    temp: Path
    written: stream.Written


def copy_snapshot(
    engine: Engine,
    container_id: str,
    destination: Path,
    stem: str,
    compression: stream.Compression,
    reporter: Reporter,
    tee: Tee | None = None,
) -> Copied:
    """Stream faktory.rdb out of the container into a hidden temp file (fsynced); `tee`, when
    given, sees the RDB's bytes on the way (to send them elsewhere too)."""
    stat_info, chunks = engine.archive_out(container_id, savepoint.RDB_PATH)
    with archive.closing_iter(chunks):
        announced = int(stat_info.get("size") or 0)
        check_free_space(destination, worst_case_size(announced))
        member, pieces = archive.read_single_file(chunks)
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{stem}.", suffix=SNAPSHOT_SUFFIX + PARTIAL_SUFFIX, dir=destination
        )
        temp = Path(temp_name)
        try:
            os.fchmod(fd, 0o600)
            with (
                os.fdopen(fd, "wb") as handle,
                reporter.transfer("faktory.rdb", member.size) as update,
            ):
                checked = stream.checked_rdb(pieces)
                written = stream.gzip_to(
                    tee(checked) if tee is not None else checked,
                    handle,
                    compression=compression,
                    on_progress=update,
                )
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
    if written.raw_size != member.size:
        temp.unlink()
        raise OperationFailed(
            f"faktory.rdb arrived with {written.raw_size} bytes instead of {member.size}"
        )
    return Copied(temp, written)


def check_written(copied: Copied) -> None:
    """After fsync, the file on disk must hold exactly the bytes written (and hashed)."""
    size = copied.temp.stat().st_size
    if size != copied.written.size:
        raise OperationFailed(
            f"the snapshot written to {copied.temp.parent} has {size} bytes, "
            f"{copied.written.size} were written",
            "is the disk full or failing? nothing was kept",
        )


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- retention --------------------------------------------------------------------------------


def select_pruned(
    backups: list[Backup],
    keep: int,
    tag: str | None,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
    protect: frozenset[str] = frozenset(),
) -> list[Backup]:
    """Backups with `tag` that the policy does not keep (input newest first); never one
    named in `protect`.

    Kept, as restic's `forget` keeps them: the newest `keep`; with keep_daily, the newest of
    each of the last `keep_daily` days that have backups; with keep_weekly, the same per ISO
    week (UTC).
    """
    same_tag = [b for b in backups if b.tag == tag]
    kept = {id(b) for b in same_tag[:keep]}
    for count, period in ((keep_daily, _day), (keep_weekly, _week)):
        seen: list[tuple[int, int]] = []
        for backup in same_tag:
            key = period(backup.manifest.created_at)
            if count and key not in seen and len(seen) < count:
                seen.append(key)
                kept.add(id(backup))
    return [b for b in same_tag if id(b) not in kept and b.name not in protect]


def _day(moment: datetime) -> tuple[int, int]:
    return (moment.year, moment.timetuple().tm_yday)


def _week(moment: datetime) -> tuple[int, int]:
    year, week, _ = moment.isocalendar()
    return (year, week)


def prune(
    destination: Path,
    project: str,
    keep: int,
    tag: str | None,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
    protect: frozenset[str] = frozenset(),
) -> list[str]:
    """Delete old backups (manifest first, so a half-deleted backup never looks complete).

    Only ever called under the project's lock (faktctl.lock), which `backup` and `restore`
    both hold: a backup a restore reads is named in `protect` by the restore itself, and no
    other run can prune meanwhile."""
    removed = []
    backups = list(list_backups(destination, project).backups)
    for backup in select_pruned(backups, keep, tag, keep_daily, keep_weekly, protect):
        with contextlib.suppress(FileNotFoundError):
            backup.manifest_path.unlink()
        with contextlib.suppress(FileNotFoundError):
            backup.snapshot_path.unlink()
        removed.append(backup.name)
    removed += _remove_leftovers(destination, project)
    return removed


def _remove_leftovers(destination: Path, project: str, now: float | None = None) -> list[str]:
    """Snapshots without a manifest and temp files of crashed runs, once an hour old."""
    current = time.time() if now is None else now
    candidates = list(destination.glob(f".{project}-*{SNAPSHOT_SUFFIX}{PARTIAL_SUFFIX}"))
    for path in destination.glob(f"{project}-*{SNAPSHOT_SUFFIX}"):
        manifest = manifest_name(path.name.removesuffix(SNAPSHOT_SUFFIX))
        parsed = parse_manifest_name(manifest)
        ours = parsed is not None and parsed.project == project
        if ours and not (destination / manifest).exists():
            candidates.append(path)
    removed = []
    for path in candidates:
        with contextlib.suppress(OSError):
            if current - path.stat().st_mtime > STALE_AFTER_S:
                path.unlink()
                removed.append(path.name)
    return removed


# --- the job ----------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    before: deployment.Counts
    after: deployment.Counts | None = None


def _read_sizes_around_save(
    redis: savepoint.Redis,
    endpoint: reach.Endpoint,
    password: SecretStr,
    timeout: float,
) -> tuple[_Snapshot, savepoint.Saved]:
    taken = _Snapshot(deployment.read_counts(endpoint, password))

    def after_fork() -> None:
        taken.after = deployment.read_counts(endpoint, password)

    saved = savepoint.fresh_snapshot(redis, timeout=timeout, after_fork=after_fork)
    return taken, saved


def _expected_rdb_size(engine: Engine, container_id: str) -> int | None:
    with contextlib.suppress(OperationFailed, ValueError, TypeError):
        return int(engine.stat_path(container_id, savepoint.RDB_PATH)["size"])
    return None


def snapshot_manifest(
    project: str,
    created: datetime,
    file: str,
    stored: tuple[str, int, int],
    counts: deployment.Counts,
) -> Manifest:
    """The manifest of one snapshot: ``stored`` is (sha256, stored size, RDB size)."""
    sha256, size, rdb_size = stored
    return Manifest(
        project=project,
        created_at=created,
        file=file,
        sha256=sha256,
        size=size,
        rdb_size=rdb_size,
        faktory_version=counts.version,
        queues=dict(counts.queues),
        sets=dict(counts.sets),
        faktctl_version=__version__,
    )


def _keep(copied: Copied, destination: Path, stem: str) -> Path:
    """Check the temp file and rename it into place; on any failure it is removed."""
    try:
        check_written(copied)
        snapshot = destination / snapshot_name(stem)
        os.replace(copied.temp, snapshot)
        _fsync_folder(destination)
    except BaseException:
        with contextlib.suppress(OSError):
            copied.temp.unlink()
        raise
    return snapshot


def _changed_warning(sizes: _Snapshot) -> list[str]:
    if sizes.after is None or sizes.after.same_as(sizes.before):
        return []
    return [
        f"jobs changed while the snapshot was taken ({sizes.before.jobs} → "
        f"{sizes.after.jobs}); the manifest records the sizes read just after it"
    ]


def take_backup(
    engine: Engine, target: Target, options: Options, reporter: Reporter
) -> BackupResult:
    """One backup into one folder (the safety snapshot restore and upgrade take first)."""
    folder = Folder(target.destination, str(target.destination))
    prepared = prepare([folder], None, reporter)
    result = BackupResult.of(take_everywhere(engine, target.policy, prepared, options, reporter))
    for warning in result.warnings:
        reporter.warn(warning)
    return result


def prepare(
    destinations: Sequence[Destination],
    restic_for: RepositoryOpener | None,
    reporter: Reporter,
) -> list[Prepared]:
    """Every destination made ready without the engine: folders checked, then each
    repository's restic found and password read. Raises when none is left."""
    prepared = [Prepared(Outcome(destination)) for destination in destinations]
    for item in prepared:
        if isinstance(item.outcome.destination, Folder):
            try:
                check_destination(item.outcome.destination.path)
            except OperationFailed as err:
                _failed(prepared, item, err, reporter)
    for item in prepared:
        if isinstance(item.outcome.destination, Repository):
            assert restic_for is not None, "a repository needs restic"
            item.restic = restic_for(item.outcome.destination)
    if not _folders(prepared) and not _repositories(prepared):
        raise _nowhere(prepared)
    return prepared


def _failed(
    prepared: list[Prepared], item: Prepared, err: OperationFailed, reporter: Reporter | None
) -> None:
    """Record a destination's failure (and warn, when a reporter is given); a lone folder's
    failure is raised as it is."""
    if _lone_folder(prepared):
        raise err
    item.outcome.fail(err)
    if reporter is not None:
        reporter.warn(f"{item.outcome.destination.label}: {item.outcome.error}")


def _lone_folder(prepared: list[Prepared]) -> bool:
    return len(prepared) == 1 and isinstance(prepared[0].outcome.destination, Folder)


def _folders(prepared: list[Prepared]) -> list[Prepared]:
    """The folders still able to take the backup, the first one first."""
    return [
        p for p in prepared if isinstance(p.outcome.destination, Folder) and not p.outcome.error
    ]


def _repositories(prepared: list[Prepared]) -> list[Prepared]:
    return [p for p in prepared if isinstance(p.outcome.destination, Repository)]


def _nowhere(prepared: list[Prepared]) -> OperationFailed:
    return OperationFailed(
        "no backup destination can take the backup: "
        + "; ".join(f"{p.outcome.destination.label}: {p.outcome.error}" for p in prepared)
    )


def _check_room(
    engine: Engine, server_id: str, prepared: list[Prepared], reporter: Reporter
) -> None:
    """Each folder has room for the current faktory.rdb, before BGSAVE writes a new one."""
    current_size = _expected_rdb_size(engine, server_id)
    if current_size is None:
        return
    for item in _folders(prepared):
        try:
            check_free_space(item.outcome.destination.path, worst_case_size(current_size))  # type: ignore[union-attr]
        except OperationFailed as err:
            _failed(prepared, item, err, reporter)


def take_everywhere(
    engine: Engine,
    policy: Policy,
    prepared: list[Prepared],
    options: Options,
    reporter: Reporter,
) -> FanoutResult:
    """The backup, taken once and kept in every prepared destination that can hold it."""
    started = time.monotonic()
    server = deployment.running_server(engine, policy.project)
    server_id = str(server["Id"])
    repositories = _repositories(prepared)
    with deployment.reaching(engine, server) as endpoint:
        _check_room(engine, server_id, prepared, reporter)
        folders = _folders(prepared)
        if not folders and not repositories:
            raise _nowhere(prepared)
        if folders:
            first_path = folders[0].outcome.destination.path  # type: ignore[union-attr]
            stem, created = unique_stem(first_path, policy.project, options.tag)
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


def _take(
    engine: Engine,
    server: Any,
    server_id: str,
    endpoint: reach.Endpoint,
    policy: Policy,
    prepared: list[Prepared],
    folders: list[Prepared],
    repositories: list[Prepared],
    stem: str,
    created: datetime,
    options: Options,
    reporter: Reporter,
    started: float,
) -> FanoutResult:
    tags = repository.start_tags(policy.project, stem, options.tag, __version__)
    with ThreadPoolExecutor(max(len(repositories), 1), thread_name_prefix="faktctl-restic") as pool:
        opening = [
            (pool.submit(open_and_start, item, tags, policy, reporter), item)
            for item in repositories
        ]
        reporter.step(f"asking {deployment.name_of(server)} for a fresh snapshot (BGSAVE)")
        redis = savepoint.Redis(lambda cmd: engine.exec(server_id, cmd))
        try:
            sizes, saved = _read_sizes_around_save(
                redis, endpoint, policy.password, options.timeout
            )
        finally:
            for future, item in opening:
                try:
                    future.result()
                except OperationFailed as err:
                    _failed(prepared, item, err, reporter)
    counts = sizes.after or sizes.before
    uploading = [item for item in repositories if item.upload is not None]
    if not folders and not uploading:
        raise _nowhere(prepared)

    # a lone folder's own sha256 is of the stored file; the RDB's is only for repositories
    tee = RawTee(uploading, hashing=not _lone_folder(prepared))
    first = _write_first_folder(
        engine, server_id, prepared, folders, stem, created, counts, policy, options, reporter, tee
    )
    if uploading and not tee.completed:
        stream_without_folder(engine, server_id, tee, reporter)
    _finish_uploads(uploading, counts, created, tee, policy, options, reporter)
    for item in folders[1:]:
        if first is None:
            item.outcome.error = "the first folder's copy failed, so there was nothing to copy"
            continue
        try:
            _copy_to_folder(item, first.backup, stem, policy, options)
        except OperationFailed as err:
            item.outcome.fail(err)
    return FanoutResult(
        name=stem,
        created_at=created,
        rdb_size=tee.size,
        sha256=tee.sha256,
        counts=counts,
        outcomes=tuple(p.outcome for p in prepared),
        seconds=time.monotonic() - started,
        warnings=tuple(_changed_warning(sizes)),
        save_seconds=saved.seconds,
        first_folder=first,
    )


def _finish_uploads(
    uploading: list[Prepared],
    counts: deployment.Counts,
    created: datetime,
    tee: RawTee,
    policy: Policy,
    options: Options,
    reporter: Reporter,
) -> None:
    if not uploading:
        return
    assert tee.sha256 is not None
    raw_manifest = snapshot_manifest(
        policy.project, created, repository.RDB_FILE, (tee.sha256, tee.size, tee.size), counts
    )
    for item in uploading:
        reporter.step(f"finishing the upload to {item.outcome.destination.label}")
        try:
            finish_upload(item, raw_manifest, policy, options.tag)
        except OperationFailed as err:
            item.outcome.fail(err)


def _write_first_folder(
    engine: Engine,
    server_id: str,
    prepared: list[Prepared],
    folders: list[Prepared],
    stem: str,
    created: datetime,
    counts: deployment.Counts,
    policy: Policy,
    options: Options,
    reporter: Reporter,
    tee: RawTee,
) -> FolderCopy | None:
    """The .rdb.gz and manifest in the first folder, with the RDB's bytes going through `tee`
    on the way (to the repositories)."""
    if not folders:
        return None
    first = folders[0]
    first_path = first.outcome.destination.path  # type: ignore[union-attr]
    copy_started = time.monotonic()
    try:
        copied = copy_snapshot(
            engine, server_id, first_path, stem, options.compression, reporter, tee
        )
        snapshot = _keep(copied, first_path, stem)
    except DestinationError as err:
        _failed(prepared, first, err, None)  # the repositories are streamed to on their own
        return None
    copy_seconds = time.monotonic() - copy_started
    written = copied.written
    backup = Backup(
        snapshot_manifest(
            policy.project,
            created,
            snapshot.name,
            (written.sha256, written.size, written.raw_size),
            counts,
        ),
        first_path / manifest_name(stem),
        options.tag,
    )
    write_manifest(backup)
    _fsync_folder(first_path)
    first.outcome.where = str(backup.manifest_path)
    first.outcome.ok = True
    first.outcome.pruned = _prune(first_path, policy, options)
    return FolderCopy(backup, copy_seconds, written.deflated_blocks, written.stored_blocks)


def _copy_to_folder(
    item: Prepared, first: Backup, stem: str, policy: Policy, options: Options
) -> None:
    assert isinstance(item.outcome.destination, Folder)
    folder = item.outcome.destination.path
    temp = folder / f".{stem}{PARTIAL_SUFFIX}"
    try:
        shutil.copyfile(first.snapshot_path, temp)
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, folder / snapshot_name(stem))
    except OSError as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise DestinationError(
            f"cannot copy the snapshot into {folder}: {err.strerror or err}"
        ) from None
    backup = Backup(first.manifest, folder / manifest_name(stem), options.tag)
    write_manifest(backup)
    item.outcome.where = str(backup.manifest_path)
    item.outcome.ok = True
    item.outcome.pruned = _prune(folder, policy, options)


def _prune(folder: Path, policy: Policy, options: Options) -> list[str]:
    return prune(
        folder,
        policy.project,
        policy.keep,
        options.tag,
        policy.keep_daily,
        policy.keep_weekly,
        options.protect,
    )
