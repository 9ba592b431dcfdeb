"""The backup pipeline as the commands use it: the spec's backup policy and its destinations
(folders and restic repositories alike), then taking, listing and finding backups in them.

`backup`, `backup list`, `backup verify`, `backup schedule`, `restore` and `upgrade` all start
here; what differs between a folder and a repository is decided by the destination itself
(faktctl.backups.take, .fanout, .repository), never by counting the spec's destinations. The one
exception is output: a spec whose only destination is a folder keeps the messages and the
`backup --json` document it had before backups could go elsewhere (`lone_folder`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl import ui
from faktctl.backups import destinations as dest
from faktctl.backups.manifest import Backup, age_of, find_backup, list_backups
from faktctl.errors import FaktctlError, OperationFailed
from faktctl.project import Project, open_project
from faktctl.spec.model import BackupPolicy

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.adapters.restic import Restic
    from faktctl.backups.fanout import FanoutResult
    from faktctl.backups.report import Reporter
    from faktctl.backups.take import Options, Target

BackupCheck = Callable[[Backup, "Reporter"], None]


# --- the spec's policy --------------------------------------------------------------------------


def policy_of(project: Project) -> BackupPolicy:
    policy = project.loaded.spec.backup
    if policy is None:
        ui.info(
            "note: the spec has no `backup:` policy; using backups/ and keeping 7 "
            "(add one so `faktctl audit` checks backups)"
        )
        return BackupPolicy()
    return policy


def destinations_of(project: Project, policy: BackupPolicy) -> list[dest.Destination]:
    return dest.of_policy(policy, project.loaded.base_dir)


def lone_folder(policy: BackupPolicy, wanted: str | None = None) -> bool:
    """The spec's only destination is a folder (and --from names none): the commands keep the
    output they had before backups could go to several destinations."""
    texts = policy.all_destinations
    return wanted is None and len(texts) == 1 and not texts[0].startswith("restic:")


def safety_target(project: Project, policy: BackupPolicy | None = None) -> Target:
    """Where restore and upgrade keep their safety snapshot: the spec's first backup folder
    (with only restic repositories, `backups/` beside the spec)."""
    from faktctl.backups.take import Target

    policy = policy or policy_of(project)
    base = project.loaded.base_dir
    return Target(
        project=project.loaded.spec.project,
        destination=dest.first_folder(dest.of_policy(policy, base), base),
        keep=policy.keep,
        password=project.password,
        keep_daily=policy.keep_daily,
        keep_weekly=policy.keep_weekly,
    )


def restic_opener(project: Project, policy: BackupPolicy) -> Callable[[dest.Repository], Restic]:
    """Opens repositories with the spec's restic and password (found and read on first use)."""
    from faktctl.adapters import restic as restic_cli
    from faktctl.secretfiles import read_secret

    found: dict[str, Any] = {}

    def open_repository(repository: dest.Repository) -> Restic:
        if "binary" not in found:
            found["binary"] = restic_cli.find(project.loaded.executable(policy.restic))
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


@contextlib.contextmanager
def engine_session() -> Iterator[Engine]:
    from faktctl.adapters.docker.connect import connect

    engine = connect()
    try:
        yield engine
    finally:
        engine.close()


# --- taking a backup ----------------------------------------------------------------------------


def take(
    project: Project, policy: BackupPolicy, options: Options, reporter: Reporter
) -> FanoutResult:
    """One backup into every destination of the policy; the destinations are prepared (and a
    lone folder's failure raised) before the engine is used."""
    from faktctl.backups.fanout import Policy
    from faktctl.backups.take import prepare, take_everywhere

    prepared = prepare(destinations_of(project, policy), restic_opener(project, policy), reporter)
    fanout_policy = Policy(
        project=project.loaded.spec.project,
        password=project.password,
        keep=policy.keep,
        keep_daily=policy.keep_daily,
        keep_weekly=policy.keep_weekly,
    )
    with engine_session() as engine:
        return take_everywhere(engine, fanout_policy, prepared, options, reporter)


def notify_after(
    policy: BackupPolicy,
    started: float,
    result: FanoutResult | None,
    error: FaktctlError | None,
    project_name: str,
) -> None:
    """Tell the spec's webhooks (backup.notify); a webhook that cannot be told is a warning."""
    from faktctl.backups import notify

    if policy.notify is None:
        return
    destinations: list[dict[str, Any]] = []
    size = name = None
    if result is not None:
        destinations = [o.to_json() for o in result.outcomes]
        name = result.name
        # a lone folder's size has always been the stored (compressed) one
        first = result.first_folder
        size = first.backup.manifest.size if lone_folder(policy) and first else result.rdb_size
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
    try:
        problems = notify.send(policy.notify, report)
    except Exception as err:  # an alert never changes the backup's outcome or exit code
        problems = [f"could not notify: {type(err).__name__}"]
    for problem in problems:
        ui.info(f"warning: {problem}")


# --- listing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invalid:
    """Something in a destination that looks like a backup and is not a usable one."""

    reason: str
    path: Path | None = None  # a folder's manifest; None for a repository's snapshot


@dataclass(frozen=True)
class DestinationListing:
    """One destination's backups, newest first; `error` when it could not be listed."""

    destination: dest.Destination
    backups: tuple[Backup, ...] = ()
    invalid: tuple[Invalid, ...] = ()
    error: str | None = None

    def to_json(self, policy: BackupPolicy, now: datetime) -> dict[str, Any]:
        """One entry of `backup list --json`'s `destinations` (docs/backups.md)."""
        newest = self.backups[0] if self.backups else None
        folder = isinstance(self.destination, dest.Folder)
        return {
            "destination": self.destination.label,
            "kind": self.destination.kind,
            "error": self.error,
            "keep": policy.keep,
            "keep_daily": policy.keep_daily,
            "keep_weekly": policy.keep_weekly,
            "max_age_seconds": int(policy.max_age.total_seconds()),
            "newest_age_seconds": (
                int(age_of(newest.manifest, now).total_seconds()) if newest else None
            ),
            "backups": [
                {
                    "name": b.name,
                    "tag": b.tag,
                    "manifest": str(b.manifest_path) if folder else None,
                    "snapshot_id": b.snapshot_id,
                    "age_seconds": int(age_of(b.manifest, now).total_seconds()),
                    "snapshot": snapshot_state(b) if folder else None,
                    **b.manifest.to_json(),
                }
                for b in self.backups
            ],
            "invalid": [
                {"path": str(i.path) if i.path else None, "reason": i.reason} for i in self.invalid
            ],
        }


def snapshot_state(backup: Backup) -> str:
    """Whether a folder backup's .rdb.gz is there at its recorded size."""
    try:
        size = backup.snapshot_path.stat().st_size
    except OSError:
        return "missing"
    return "ok" if size == backup.manifest.size else "wrong size"


def list_everywhere(
    project: Project, policy: BackupPolicy, wanted: str | None
) -> list[DestinationListing]:
    """The backups in every destination (or the one --from names). A destination that cannot
    be listed carries its error; a lone folder's error is raised."""
    chosen = destinations_of(project, policy)
    if wanted is not None:
        chosen = [dest.choose(chosen, wanted)]
    listings = []
    for destination in chosen:
        try:
            listings.append(_list_one(project, policy, destination))
        except OperationFailed as err:
            if lone_folder(policy, wanted):
                raise
            listings.append(DestinationListing(destination, error=err.one_line()))
    return listings


def _list_one(
    project: Project, policy: BackupPolicy, destination: dest.Destination
) -> DestinationListing:
    from faktctl.backups import repository

    name = project.loaded.spec.project
    if isinstance(destination, dest.Folder):
        listing = list_backups(destination.path, name)
        invalid = tuple(Invalid(i.reason, i.path) for i in listing.invalid)
        return DestinationListing(destination, listing.backups, invalid)
    backups, reasons = repository.list_snapshots(restic_opener(project, policy)(destination), name)
    return DestinationListing(destination, tuple(backups), tuple(Invalid(r) for r in reasons))


# --- finding one backup (verify, restore) -------------------------------------------------------


@dataclass(frozen=True)
class Found:
    destination: dest.Destination
    backup: Backup
    restic: Restic | None = None  # set when the backup is in a restic repository


def find(
    project: Project, policy: BackupPolicy, wanted: str | None, reference: str | None
) -> Found:
    """The backup `reference` names (the newest when None) in the destination --from names."""
    from faktctl.backups import repository

    destination = dest.choose(destinations_of(project, policy), wanted)
    name = project.loaded.spec.project
    if isinstance(destination, dest.Folder):
        return Found(destination, find_backup(destination.path, name, reference))
    restic = restic_opener(project, policy)(destination)
    return Found(destination, repository.find(restic, name, reference), restic)


@dataclass(frozen=True)
class ChosenBackup:
    project: Project
    target: Target  # where a safety snapshot goes
    found: Found
    reporter: Reporter = field(repr=False)

    @property
    def backup(self) -> Backup:
        return self.found.backup


def choose_backup(
    file: Path | None,
    reference: str | None,
    folder_check: BackupCheck,
    reporter: Reporter,
    wanted: str | None = None,
) -> ChosenBackup:
    """The backup that `verify` and `restore` act on (the newest when `reference` is None),
    in the destination `wanted` (--from; the first by default), its checksum checked before
    the engine is touched: `folder_check` for a folder's .rdb.gz, for a restic repository
    read back and hashed."""
    from faktctl.backups import repository

    project = open_project(file)
    policy = policy_of(project)
    target = safety_target(project, policy)
    found = find(project, policy, wanted, reference)
    if found.restic is not None:
        repository.checksum_check(found.restic)(found.backup, reporter)
    else:
        folder_check(found.backup, reporter)
    return ChosenBackup(project, target, found, reporter)
