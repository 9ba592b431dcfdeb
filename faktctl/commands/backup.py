"""faktctl backup, backup list, backup verify: the commands around faktctl.backups.pipeline."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.backups import pipeline
from faktctl.backups.destinations import Folder
from faktctl.backups.manifest import Backup, age_of
from faktctl.envelope import envelope_json
from faktctl.errors import ExitCode, FaktctlError, OperationFailed
from faktctl.project import open_project
from faktctl.spec.model import BackupPolicy

if TYPE_CHECKING:
    from faktctl.backups.fanout import FanoutResult
    from faktctl.backups.stream import Compression

# --- faktctl backup ---------------------------------------------------------------------------


def run_backup(
    file: Path | None, *, as_json: bool, compression: Compression, timeout: float
) -> int:
    """Back up to every destination under the project's lock; tell the webhooks."""
    from faktctl import journal
    from faktctl.backups.take import Options
    from faktctl.lock import project_lock

    project = open_project(file)
    policy = pipeline.policy_of(project)
    name = project.loaded.spec.project
    reporter = ui.ConsoleReporter()
    started = time.monotonic()
    result = None
    try:
        with project_lock(project.dir, name, "backup"):
            journal.require_none(project.dir, name, "take a backup")
            result = pipeline.take(
                project, policy, Options(compression=compression, timeout=timeout), reporter
            )
            if pipeline.lone_folder(policy):
                code = _report_folder(result, policy, reporter, as_json)
            else:
                code = _report_destinations(result, as_json)
    except FaktctlError as err:
        pipeline.notify_after(policy, started, result, err, name)
        raise
    pipeline.notify_after(policy, started, result, None, name)
    return code


def _report_folder(
    fanned: FanoutResult, policy: BackupPolicy, reporter: ui.ConsoleReporter, as_json: bool
) -> int:
    """A lone folder's backup, told as it always was (its failures were raised already)."""
    from faktctl.backups.take import BackupResult

    result = BackupResult.of(fanned)
    for warning in result.warnings:
        reporter.warn(warning)
    for name in result.pruned:
        ui.info(f"removed old backup {name} (keep {policy.keep})")
    if as_json:
        ui.data(envelope_json("backup", result.to_json()))
        return ExitCode.OK
    manifest = result.backup.manifest
    ratio = manifest.size / manifest.rdb_size if manifest.rdb_size else 1.0
    ui.info(
        f"backup {result.backup.name}: {manifest.jobs} jobs "
        f"({sum(manifest.queues.values())} enqueued), {ui.human_bytes(manifest.size)} "
        f"({ratio:.0%} of {ui.human_bytes(manifest.rdb_size)}) in {result.total_seconds:.1f}s"
    )
    ui.data(str(result.backup.manifest_path))
    return ExitCode.OK


def _report_destinations(result: FanoutResult, as_json: bool) -> int:
    for outcome in result.outcomes:
        for name in outcome.pruned:
            ui.info(f"{outcome.destination.label}: removed old backup {name}")
    if as_json:
        ui.data(envelope_json("backup", result.to_json()))
    else:
        ui.info(
            f"backup {result.name}: {result.counts.jobs} jobs, "
            f"{ui.human_bytes(result.rdb_size)} in {result.seconds:.1f}s"
        )
        for outcome in result.outcomes:
            state = f"ok ({outcome.where})" if outcome.ok else f"FAILED: {outcome.error}"
            ui.info(f"  {outcome.destination.label}: {state}")
    failed = result.failed
    if failed:
        kept = [o.destination.label for o in result.outcomes if o.ok]
        raise OperationFailed(
            "backup failed for " + "; ".join(f"{o.destination.label}: {o.error}" for o in failed),
            f"it was kept in {', '.join(kept)}" if kept else "it was kept nowhere",
        )
    return ExitCode.OK


# --- faktctl backup list ----------------------------------------------------------------------


def run_list(file: Path | None, *, as_json: bool, wanted: str | None = None) -> int:
    project = open_project(file)
    policy = pipeline.policy_of(project)
    listings = pipeline.list_everywhere(project, policy, wanted)
    now = datetime.now(UTC)
    if as_json:
        documents = [listing.to_json(policy, now) for listing in listings]
        ui.data(envelope_json("backup list", {"destinations": documents}))
        return ExitCode.OK
    # a lone folder's listing has no heading and names its folder in its messages
    headed = not pipeline.lone_folder(policy, wanted)
    for listing in listings:
        label = listing.destination.label
        if listing.error is not None:
            ui.info(f"{label}: cannot list: {listing.error}")
            continue
        for invalid in listing.invalid:
            where = f"{label}: " if headed else ""
            ui.info(f"warning: {where}{invalid.reason}")
        if not listing.backups:
            project_name = project.loaded.spec.project
            ui.info(
                f"{label}: no backups of `{project_name}`"
                if headed
                else f"no backups of `{project_name}` in {label}"
            )
            continue
        if headed:
            ui.data(f"# {label}")
        files = isinstance(listing.destination, Folder)
        ui.data(_listing_table(listing.backups, now, files=files))
        ui.info(_listing_summary(listing.backups, label, policy, now))
    return ExitCode.OK


def _listing_table(backups: Sequence[Backup], now: datetime, *, files: bool) -> str:
    """`backup list`'s table, one row per backup. `files`: the backups lie in a folder, so a
    SNAPSHOT column says whether each one's .rdb.gz is there at its recorded size."""
    snapshot = ("SNAPSHOT",) if files else ()
    rows = [("BACKUP", "CREATED (UTC)", "AGE", "SIZE", "JOBS", *snapshot, "VERIFIED")]
    for backup in backups:
        manifest = backup.manifest
        rows.append(
            (
                backup.name,
                manifest.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                ui.format_age(age_of(manifest, now)),
                ui.human_bytes(manifest.size),
                str(manifest.jobs),
                *((pipeline.snapshot_state(backup),) if files else ()),
                _verified_text(backup, now),
            )
        )
    return ui.columns(rows)


def _listing_summary(
    backups: Sequence[Backup], where: str, policy: BackupPolicy, now: datetime
) -> str:
    """How many backups `where` holds and whether the newest (the first) is recent enough."""
    age = age_of(backups[0].manifest, now)
    verdict = "ok" if age <= policy.max_age else "TOO OLD"
    return (
        f"{len(backups)} backup(s) in {where}; newest is {ui.format_age(age)} old "
        f"(max age {ui.format_age(policy.max_age)}): {verdict}"
    )


def _verified_text(backup: Backup, now: datetime) -> str:
    manifest = backup.manifest
    if manifest.verified_at is not None:
        return f"yes, {ui.format_age(now - manifest.verified_at)} ago"
    if manifest.verification is not None and not manifest.verification.ok:
        return "FAILED"
    return "no"


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

    project = open_project(file)
    policy = pipeline.policy_of(project)
    found = pipeline.find(project, policy, wanted, reference)
    reporter = ui.ConsoleReporter()
    name = project.loaded.spec.project
    spec_image = project.loaded.spec.server.image
    if found.restic is not None:
        from faktctl.backups.verify import verify_in_repository

        checked = verify_in_repository(
            pipeline.engine_session,
            found.restic,
            found.backup,
            lambda engine: image or default_image(engine, name, spec_image),
            reporter,
            timeout,
        )
        if as_json:
            ui.data(envelope_json("backup verify", checked.to_json()))
            return ExitCode.OK
        note = " (jobs moved between sets and queues; none lost)" if checked.moved else ""
        ui.info(
            f"backup {checked.backup.name} verified in {checked.destination}: restic check "
            f"passed, sha256 ok, loads in Faktory {checked.counts.version} with "
            f"{checked.counts.jobs} jobs, sizes match{note}"
        )
        return ExitCode.OK
    backup = found.backup
    check_checksum(backup, reporter)
    with pipeline.engine_session() as engine:
        server_image = image or default_image(
            engine, name, spec_image, backup.manifest.faktory_version
        )
        result = verify_backup(
            engine, backup, server_image, reporter, timeout, checksum_checked=True
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
