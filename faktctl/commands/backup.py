"""faktctl backup, backup list, backup verify: the commands around faktctl.backups."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl import ui
from faktctl.backups.manifest import Backup, Listing, age_of, find_backup, list_backups
from faktctl.envelope import envelope_json
from faktctl.errors import ExitCode, FaktctlError
from faktctl.project import Project, open_project
from faktctl.spec.model import BackupPolicy

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.backups.stream import Compression
    from faktctl.backups.take import Target

PROGRESS_MIN_BYTES = 8 << 20
PLAIN_STEPS = 4  # plain progress prints at 25 %, 50 %, 75 %, 100 %


# --- output helpers shared with `faktctl restore` ---------------------------------------------


class ConsoleReporter:
    """Steps and warnings as lines on stderr; transfers as a rich bar on a TTY, else plain."""

    def step(self, message: str) -> None:
        ui.info(message)

    def warn(self, message: str) -> None:
        ui.info(f"warning: {message}")

    @contextlib.contextmanager
    def transfer(self, what: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if total is None or total < PROGRESS_MIN_BYTES:
            yield lambda done: None
        elif ui.stderr_is_terminal():
            with self._bar(what, total) as update:
                yield update
        else:
            yield self._plain(what, total)

    @contextlib.contextmanager
    def _bar(self, what: str, total: int) -> Iterator[Callable[[int], None]]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=ui.stderr(), transient=True) as progress:
            task = progress.add_task(what, total=total)
            yield lambda done: progress.update(task, completed=done)

    def _plain(self, what: str, total: int) -> Callable[[int], None]:
        from faktctl.backups.take import human_bytes

        started = time.monotonic()
        shown = [0]

        def update(done: int) -> None:
            step = done * PLAIN_STEPS // total
            if step > shown[0]:
                shown[0] = step
                rate = done / max(time.monotonic() - started, 1e-6)
                ui.info(
                    f"{what}: {human_bytes(done)} of {human_bytes(total)} "
                    f"({100 * done // total}%, {human_bytes(rate)}/s)"
                )

        return update


def format_age(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, never truncated."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def policy_of(project: Project) -> BackupPolicy:
    policy = project.loaded.spec.backup
    if policy is None:
        ui.info(
            "note: the spec has no `backup:` policy; using backups/ and keeping 7 "
            "(add one so `faktctl audit` checks backups)"
        )
        return BackupPolicy()
    return policy


def target_of(project: Project, policy: BackupPolicy | None = None) -> Target:
    """The folder target: the spec's first backup folder (with only restic repositories,
    `backups/` beside the spec, where restore keeps its safety snapshot)."""
    from faktctl.backups.destinations import first_folder, of_policy
    from faktctl.backups.take import Target

    policy = policy or policy_of(project)
    base = project.loaded.base_dir
    return Target(
        project=project.loaded.spec.project,
        destination=first_folder(of_policy(policy, base), base),
        keep=policy.keep,
        password=project.password,
        keep_daily=policy.keep_daily,
        keep_weekly=policy.keep_weekly,
    )


@contextlib.contextmanager
def engine_session() -> Iterator[Engine]:
    from faktctl.adapters.docker.connect import connect

    engine = connect()
    try:
        yield engine
    finally:
        engine.close()


@dataclass(frozen=True)
class ChosenBackup:
    project: Project
    target: Target
    backup: Backup
    reporter: ConsoleReporter


def choose_backup(
    file: Path | None,
    reference: str | None,
    check_checksum: Callable[[Backup, ConsoleReporter], None],
    wanted: str | None = None,
) -> ChosenBackup:
    """The backup that `verify` and `restore` act on (the newest when `reference` is None),
    in the destination `wanted` (--from; the first by default), its checksum checked before
    the engine is touched (for a restic repository: read back and hashed)."""
    from faktctl.commands import backup_repos as repos

    project = open_project(file)
    policy = policy_of(project)
    target = target_of(project, policy)
    reporter = ConsoleReporter()
    if repos.is_simple(policy):
        if wanted is not None:
            from faktctl.backups.destinations import choose

            choose(repos.destinations_of(project, policy), wanted)
        backup = find_backup(target.destination, target.project, reference)
        check_checksum(backup, reporter)
        return ChosenBackup(project, target, backup, reporter)
    _, backup, restic = repos.find_at(project, policy, wanted, reference)
    if restic is not None:
        repos.repository_checksum(restic)(backup, reporter)
    else:
        check_checksum(backup, reporter)
    return ChosenBackup(project, target, backup, reporter)


# --- faktctl backup ---------------------------------------------------------------------------


def run_backup(
    file: Path | None, *, as_json: bool, compression: Compression, timeout: float
) -> int:
    """Back up to every destination under the project's lock; tell the webhooks."""
    from faktctl.commands import backup_repos as repos
    from faktctl.lock import project_lock

    project = open_project(file)
    policy = policy_of(project)
    name = project.loaded.spec.project
    started = time.monotonic()
    fanout = None
    try:
        with project_lock(project.dir, name, "backup"):
            if repos.is_simple(policy):
                code, single = _run_single_backup(
                    project, policy, as_json=as_json, compression=compression, timeout=timeout
                )
                repos.notify_after(policy, name, started, None, None, single)
                return code
            fanout = repos.take(
                project, policy, ConsoleReporter(), compression=compression, timeout=timeout
            )
            code = repos.report_fanout(fanout, as_json)
    except FaktctlError as err:
        repos.notify_after(policy, name, started, fanout, err)
        raise
    repos.notify_after(policy, name, started, fanout, None)
    return code


def _run_single_backup(
    project: Project,
    policy: BackupPolicy,
    *,
    as_json: bool,
    compression: Compression,
    timeout: float,
) -> tuple[int, dict[str, Any]]:
    from faktctl.backups.take import Options, check_destination, human_bytes, take_backup

    target = target_of(project, policy)
    check_destination(target.destination)
    with engine_session() as engine:  # run_backup holds the project's lock
        result = take_backup(
            engine, target, Options(compression=compression, timeout=timeout), ConsoleReporter()
        )
    manifest = result.backup.manifest
    single = {
        "name": result.backup.name,
        "size": manifest.size,
        "destinations": [{"destination": str(target.destination), "ok": True}],
    }
    for name in result.pruned:
        ui.info(f"removed old backup {name} (keep {target.keep})")
    if as_json:
        ui.data(envelope_json("backup", result.to_json()))
        return ExitCode.OK, single
    ratio = manifest.size / manifest.rdb_size if manifest.rdb_size else 1.0
    ui.info(
        f"backup {result.backup.name}: {manifest.jobs} jobs "
        f"({sum(manifest.queues.values())} enqueued), {human_bytes(manifest.size)} "
        f"({ratio:.0%} of {human_bytes(manifest.rdb_size)}) in {result.total_seconds:.1f}s"
    )
    ui.data(str(result.backup.manifest_path))
    return ExitCode.OK, single


# --- faktctl backup list ----------------------------------------------------------------------


def listing_table(backups: Sequence[Backup], now: datetime, *, files: bool) -> str:
    """`backup list`'s table, one row per backup. `files`: the backups lie in a folder, so a
    SNAPSHOT column says whether each one's .rdb.gz is there at its recorded size."""
    from faktctl.backups.take import human_bytes

    snapshot = ("SNAPSHOT",) if files else ()
    rows = [("BACKUP", "CREATED (UTC)", "AGE", "SIZE", "JOBS", *snapshot, "VERIFIED")]
    for backup in backups:
        manifest = backup.manifest
        rows.append(
            (
                backup.name,
                manifest.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                format_age(age_of(manifest, now)),
                human_bytes(manifest.size),
                str(manifest.jobs),
                *((_snapshot_state(backup),) if files else ()),
                _verified_text(backup, now),
            )
        )
    return columns(rows)


def listing_summary(
    backups: Sequence[Backup], where: str, policy: BackupPolicy, now: datetime
) -> str:
    """How many backups `where` holds and whether the newest (the first) is recent enough."""
    age = age_of(backups[0].manifest, now)
    verdict = "ok" if age <= policy.max_age else "TOO OLD"
    return (
        f"{len(backups)} backup(s) in {where}; newest is {format_age(age)} old "
        f"(max age {format_age(policy.max_age)}): {verdict}"
    )


def _verified_text(backup: Backup, now: datetime) -> str:
    manifest = backup.manifest
    if manifest.verified_at is not None:
        return f"yes, {format_age(now - manifest.verified_at)} ago"
    if manifest.verification is not None and not manifest.verification.ok:
        return "FAILED"
    return "no"


def _snapshot_state(backup: Backup) -> str:
    try:
        size = backup.snapshot_path.stat().st_size
    except OSError:
        return "missing"
    return "ok" if size == backup.manifest.size else "wrong size"


def _listing_json(listing: Listing, policy: BackupPolicy, now: datetime) -> dict[str, Any]:
    newest = listing.newest
    return {
        "destination": str(listing.destination),
        "keep": policy.keep,
        "max_age_seconds": int(policy.max_age.total_seconds()),
        "newest_age_seconds": int(age_of(newest.manifest, now).total_seconds()) if newest else None,
        "backups": [
            {
                "name": b.name,
                "tag": b.tag,
                "manifest": str(b.manifest_path),
                "age_seconds": int(age_of(b.manifest, now).total_seconds()),
                "snapshot": _snapshot_state(b),
                **b.manifest.to_json(),
            }
            for b in listing.backups
        ],
        "invalid": [{"path": str(i.path), "reason": i.reason} for i in listing.invalid],
    }


def run_list(file: Path | None, *, as_json: bool, wanted: str | None = None) -> int:
    from faktctl.commands import backup_repos as repos

    project = open_project(file)
    policy = policy_of(project)
    if not repos.is_simple(policy) or wanted is not None:
        return repos.run_list(project, policy, as_json=as_json, wanted=wanted)
    target = target_of(project, policy)
    listing = list_backups(target.destination, target.project)
    now = datetime.now(UTC)
    if as_json:
        ui.data(envelope_json("backup list", _listing_json(listing, policy, now)))
        return ExitCode.OK
    for invalid in listing.invalid:
        ui.info(f"warning: {invalid.reason}")
    if not listing.backups:
        ui.info(f"no backups of `{target.project}` in {target.destination}")
        return ExitCode.OK
    ui.data(listing_table(listing.backups, now, files=True))
    ui.info(listing_summary(listing.backups, str(target.destination), policy, now))
    return ExitCode.OK


# --- faktctl backup verify --------------------------------------------------------------------


def run_verify(
    file: Path | None,
    reference: str | None,
    *,
    as_json: bool,
    image: str | None,
    timeout: float,
    wanted: str | None = None,
) -> int:
    from faktctl.backups.verify import check_checksum, default_image, verify_backup
    from faktctl.commands import backup_repos as repos

    project = open_project(file)
    policy = policy_of(project)
    if not repos.is_simple(policy):
        _, found, restic = repos.find_at(project, policy, wanted, reference)
        if restic is not None:
            return repos.run_verify_repository(
                project,
                restic,
                found,
                ConsoleReporter(),
                as_json=as_json,
                image=image,
                timeout=timeout,
            )
    chosen = choose_backup(file, reference, check_checksum, wanted)
    backup = chosen.backup
    with engine_session() as engine:
        spec_image = chosen.project.loaded.spec.server.image
        server_image = image or default_image(
            engine, chosen.target.project, spec_image, backup.manifest.faktory_version
        )
        result = verify_backup(
            engine, backup, server_image, chosen.reporter, timeout, checksum_checked=True
        )
    verification = result.verification
    if as_json:
        ui.data(
            envelope_json(
                "backup verify",
                {"name": backup.name, "verification": verification.to_json()},
            )
        )
        return ExitCode.OK
    jobs = sum(verification.queues.values()) + sum(verification.sets.values())
    note = f" ({verification.note})" if verification.note else ""
    ui.info(
        f"backup {backup.name} verified: sha256 ok, loads in Faktory "
        f"{verification.faktory_version} with {jobs} jobs, sizes match the manifest{note}"
    )
    return ExitCode.OK
