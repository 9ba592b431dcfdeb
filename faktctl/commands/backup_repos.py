"""The backup commands when the spec names restic repositories or several destinations.

A spec with one backup folder (the default) keeps the single-folder code in
faktctl.commands.backup; everything else comes through here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faktctl import ui
from faktctl.backups import destinations as dest
from faktctl.backups.manifest import Backup, age_of, find_backup, list_backups
from faktctl.errors import ExitCode, FaktctlError, OperationFailed
from faktctl.project import Project
from faktctl.spec.model import BackupPolicy

if TYPE_CHECKING:
    from faktctl.adapters.restic import Restic
    from faktctl.backups.fanout import FanoutResult
    from faktctl.backups.report import Reporter
    from faktctl.backups.stream import Compression


def destinations_of(project: Project, policy: BackupPolicy) -> list[dest.Destination]:
    return dest.of_policy(policy, project.loaded.base_dir)


def is_simple(policy: BackupPolicy) -> bool:
    """One folder: the single-folder commands apply unchanged."""
    return len(policy.all_destinations) == 1 and not policy.all_destinations[0].startswith(
        "restic:"
    )


def restic_opener(project: Project, policy: BackupPolicy) -> Callable[[dest.Repository], Restic]:
    """Opens repositories with the spec's restic and password (found and read on first use)."""
    from faktctl.adapters import restic as restic_cli
    from faktctl.secretfiles import read_secret

    found: dict[str, Any] = {}

    def open_repository(repository: dest.Repository) -> Restic:
        if "binary" not in found:
            found["binary"] = restic_cli.find(policy.restic)
            assert policy.password_file is not None
            found["password"] = read_secret(
                project.loaded.resolve(policy.password_file),
                "restic repository password",
                "backup.password_file",
            )
        return restic_cli.Restic(
            found["binary"], repository.repository, found["password"], repository.label
        )

    return open_repository


# --- backup ---------------------------------------------------------------------------------


def take(
    project: Project,
    policy: BackupPolicy,
    reporter: Reporter,
    *,
    compression: Compression,
    timeout: float,
) -> FanoutResult:
    from faktctl.backups.fanout import Policy, take_everywhere
    from faktctl.backups.take import Options
    from faktctl.commands.backup import engine_session

    fanout_policy = Policy(
        project=project.loaded.spec.project,
        password=project.password,
        keep=policy.keep,
        keep_daily=policy.keep_daily,
        keep_weekly=policy.keep_weekly,
    )
    with engine_session() as engine:
        return take_everywhere(
            engine,
            fanout_policy,
            destinations_of(project, policy),
            restic_opener(project, policy),
            Options(compression=compression, timeout=timeout),
            reporter,
        )


def report_fanout(result: FanoutResult, as_json: bool) -> int:
    from faktctl.backups.take import human_bytes
    from faktctl.envelope import envelope_json

    for outcome in result.outcomes:
        for name in outcome.pruned:
            ui.info(f"{outcome.destination.label}: removed old backup {name}")
    if as_json:
        ui.data(envelope_json("backup", result.to_json()))
    else:
        ui.info(
            f"backup {result.name}: {result.counts.jobs} jobs, "
            f"{human_bytes(result.rdb_size)} in {result.seconds:.1f}s"
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


# --- list -----------------------------------------------------------------------------------


def backups_at(
    project: Project, policy: BackupPolicy, destination: dest.Destination
) -> tuple[list[Backup], list[str]]:
    from faktctl.backups import repository

    name = project.loaded.spec.project
    if isinstance(destination, dest.Folder):
        listing = list_backups(destination.path, name)
        return list(listing.backups), [i.reason for i in listing.invalid]
    restic = restic_opener(project, policy)(destination)
    return repository.list_snapshots(restic, name)


def run_list(project: Project, policy: BackupPolicy, *, as_json: bool, wanted: str | None) -> int:
    from faktctl.commands.backup import listing_summary, listing_table
    from faktctl.envelope import envelope_json

    now = datetime.now(UTC)
    chosen = destinations_of(project, policy)
    if wanted is not None:
        chosen = [dest.choose(chosen, wanted)]
    documents = []
    for destination in chosen:
        try:
            backups, invalid = backups_at(project, policy, destination)
        except OperationFailed as err:
            if as_json:
                documents.append({"destination": destination.label, "error": err.one_line()})
            else:
                ui.info(f"{destination.label}: cannot list: {err.one_line()}")
            continue
        if as_json:
            documents.append(_listing_json(destination, backups, invalid, policy, now))
            continue
        for line in invalid:
            ui.info(f"warning: {destination.label}: {line}")
        if not backups:
            ui.info(f"{destination.label}: no backups of `{project.loaded.spec.project}`")
            continue
        ui.data(f"# {destination.label}")
        ui.data(listing_table(backups, now, files=isinstance(destination, dest.Folder)))
        ui.info(listing_summary(backups, destination.label, policy, now))
    if as_json:
        ui.data(envelope_json("backup list", {"destinations": documents}))
    return ExitCode.OK


def _listing_json(
    destination: dest.Destination,
    backups: list[Backup],
    invalid: list[str],
    policy: BackupPolicy,
    now: datetime,
) -> dict[str, Any]:
    newest = backups[0] if backups else None
    return {
        "destination": destination.label,
        "kind": destination.kind,
        "keep": policy.keep,
        "keep_daily": policy.keep_daily,
        "keep_weekly": policy.keep_weekly,
        "max_age_seconds": int(policy.max_age.total_seconds()),
        "newest_age_seconds": int(age_of(newest.manifest, now).total_seconds()) if newest else None,
        "backups": [
            {
                "name": b.name,
                "tag": b.tag,
                "snapshot_id": b.snapshot_id,
                "age_seconds": int(age_of(b.manifest, now).total_seconds()),
                **b.manifest.to_json(),
            }
            for b in backups
        ],
        "invalid": invalid,
    }


# --- choosing a backup for verify and restore -------------------------------------------------


def find_at(
    project: Project, policy: BackupPolicy, wanted: str | None, reference: str | None
) -> tuple[dest.Destination, Backup, Restic | None]:
    from faktctl.backups import repository

    destination = dest.choose(destinations_of(project, policy), wanted)
    name = project.loaded.spec.project
    if isinstance(destination, dest.Folder):
        return destination, find_backup(destination.path, name, reference), None
    restic = restic_opener(project, policy)(destination)
    return destination, repository.find(restic, name, reference), restic


def repository_checksum(restic: Restic) -> Callable[[Backup, Reporter], None]:
    """restore's check before anything is touched: the repository gives back the bytes whose
    sha256 the snapshot records (restic itself refuses damaged packs)."""
    from faktctl.backups import repository

    def check(backup: Backup, reporter: Reporter) -> None:
        reporter.step(f"reading {backup.name} back from {restic.label} to check its sha256")
        with reporter.transfer("checksum", backup.manifest.rdb_size) as update:
            try:
                repository.require_checksum(backup, update)
            except OperationFailed as err:
                if "checksum" in err.message:
                    raise
                raise OperationFailed(
                    f"backup {backup.name} cannot be read back from {restic.label}: {err.message}",
                    "nothing was changed; run `faktctl backup verify` on it, or use another backup",
                ) from None

    return check


# --- verify ---------------------------------------------------------------------------------


def run_verify_repository(
    project: Project,
    restic: Restic,
    backup: Backup,
    reporter: Reporter,
    *,
    as_json: bool,
    image: str | None,
    timeout: float,
) -> int:
    from faktctl.backups import deployment, repository
    from faktctl.backups.verify import VerificationFailed, default_image, load_in_throwaway
    from faktctl.commands.backup import engine_session
    from faktctl.envelope import envelope_json

    started = time.monotonic()
    reporter.step(f"checking {restic.label} (restic check --read-data)")
    try:
        check_line = restic.check(read_data=True)
    except OperationFailed as err:
        raise VerificationFailed(
            f"backup {backup.name} cannot be trusted: {err.message}",
            "the repository is damaged; see `restic check` and take a new backup elsewhere",
        ) from None
    repository_checksum(restic)(backup, reporter)
    with engine_session() as engine:
        spec_image = project.loaded.spec.server.image
        server_image = image or default_image(engine, project.loaded.spec.project, spec_image)
        reporter.step(f"loading it into a throwaway server ({server_image})")
        counts = load_in_throwaway(engine, backup, server_image, timeout, reporter)
    manifest = backup.manifest
    diffs = deployment.differences(manifest.queues, manifest.sets, counts)
    moved = bool(diffs) and deployment.only_moved(manifest.queues, manifest.sets, counts)
    if diffs and not moved:
        raise VerificationFailed(
            f"backup {backup.name} loads, but its sizes differ from the snapshot's record: "
            + "; ".join(diffs)
        )
    repository.mark_verified(restic, backup)
    seconds = time.monotonic() - started
    if as_json:
        ui.data(
            envelope_json(
                "backup verify",
                {
                    "name": backup.name,
                    "destination": restic.label,
                    "snapshot_id": backup.snapshot_id,
                    "restic_check": check_line,
                    "faktory_version": counts.version,
                    "queues": dict(counts.queues),
                    "sets": dict(counts.sets),
                    "jobs": counts.jobs,
                    "differences": diffs,
                    "seconds": round(seconds, 3),
                },
            )
        )
        return ExitCode.OK
    note = " (jobs moved between sets and queues; none lost)" if moved else ""
    ui.info(
        f"backup {backup.name} verified in {restic.label}: restic check passed, sha256 ok, "
        f"loads in Faktory {counts.version} with {counts.jobs} jobs, sizes match{note}"
    )
    return ExitCode.OK


# --- notifications ----------------------------------------------------------------------------


def notify_after(
    policy: BackupPolicy | None,
    project_name: str,
    started: float,
    result: FanoutResult | None,
    error: FaktctlError | None,
    single: dict[str, Any] | None = None,
) -> None:
    """Tell the spec's webhooks (backup.notify); a webhook that cannot be told is a warning."""
    from faktctl.backups import notify

    if policy is None or policy.notify is None:
        return
    destinations: list[dict[str, Any]] = []
    size = None
    name = None
    if result is not None:
        destinations = [o.to_json() for o in result.outcomes]
        size, name = result.rdb_size, result.name
    elif single is not None:
        destinations, size, name = single["destinations"], single["size"], single["name"]
    if error is not None and not destinations:
        destinations = [{"destination": d, "ok": False} for d in policy.all_destinations]
    report = notify.Report(
        project=project_name,
        ok=error is None,
        error=error.one_line() if error is not None else None,
        size=size,
        seconds=time.monotonic() - started,
        destinations=destinations,
        backup=name,
    )
    for problem in notify.send(policy.notify, report):
        ui.info(f"warning: {problem}")
