"""What the audit learns from a backup destination.

Manifests are read through faktctl.backups.manifest, the format `faktctl backup` writes (and
the contract between backup, restore and this audit), so the three never disagree: a
`<project>-<YYYYmmddTHHMMSSZ>.manifest.json` beside its snapshot, with `created_at` (UTC ISO
8601), `sha256`, `file` and an optional `verified_at`. Only the newest snapshot is hashed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from faktctl.audit.model import BackupFacts, Location, Manifest
from faktctl.backups import manifest as backup_format
from faktctl.spec.load import LoadedSpec
from faktctl.spec.model import RESTIC_PREFIX


def gather_backup(
    destination: str,
    base: Path,
    max_age: timedelta | None,
    location: Location | None,
    project: str | None = None,
) -> BackupFacts:
    """The newest backup in `destination` (relative to `base`); remote or unreadable
    destinations are reported as not evaluated."""
    policy = BackupFacts(True, destination, max_age, location=location)
    if "://" in destination or destination.startswith(RESTIC_PREFIX):
        return _unreadable(policy, f"{destination} is not a local folder")
    folder = Path(destination).expanduser()
    folder = folder if folder.is_absolute() else base / folder
    try:
        listing = backup_format.list_backups(folder, project)
    except backup_format.ManifestError as err:
        return _unreadable(policy, err.message)
    invalid = tuple(f"{item.path.name}: {item.reason}" for item in listing.invalid)
    newest = listing.newest
    found = None
    if newest is not None:
        check = backup_format.verify_checksum(newest)
        found = Manifest(
            name=newest.manifest_path.name,
            created_at=newest.manifest.created_at,
            sha256=newest.manifest.sha256,
            file=newest.manifest.file,
            checksum_ok=check.ok,
            checksum_note=check.detail,
        )
    return BackupFacts(
        policy=True,
        destination=destination,
        max_age=max_age,
        readable=True,
        newest=found,
        manifests=len(listing.backups),
        invalid_manifests=invalid,
        location=location,
    )


def _unreadable(policy: BackupFacts, reason: str) -> BackupFacts:
    return BackupFacts(
        True,
        policy.destination,
        policy.max_age,
        readable=False,
        unreadable_reason=reason,
        location=policy.location,
    )


def gather_repository(
    text: str,
    loaded: LoadedSpec,
    max_age: timedelta | None,
    location: Location | None,
) -> BackupFacts:
    """The newest finished snapshot in a restic repository: its age from the repository, its
    checksum by reading faktory.rdb back and hashing it (restic also checks every blob)."""
    from faktctl.adapters import restic as restic_cli
    from faktctl.backups import destinations, repository
    from faktctl.errors import FaktctlError
    from faktctl.secretfiles import read_secret

    policy = loaded.spec.backup
    assert policy is not None and policy.password_file is not None
    target = destinations.parse(text, loaded.base_dir)
    assert isinstance(target, destinations.Repository)
    facts = BackupFacts(True, target.label, max_age, location=location)
    try:
        password = read_secret(
            loaded.resolve(policy.password_file), "restic password", "backup.password_file"
        )
        restic = restic_cli.Restic(
            restic_cli.find(loaded.executable(policy.restic)),
            target.repository,
            password,
            target.label,
        )
        backups, invalid = repository.list_snapshots(restic, loaded.spec.project)
    except FaktctlError as err:
        return _unreadable(facts, err.one_line())
    found = None
    if backups:
        newest = backups[0]
        try:
            repository.require_checksum(newest)
            ok: bool | None = True
            note = "sha256 matches"
        except backup_format.ChecksumMismatch as err:
            ok, note = False, err.message
        except FaktctlError as err:
            ok, note = False, f"cannot be read back: {err.message}"
        found = Manifest(
            name=newest.name,
            created_at=newest.manifest.created_at,
            sha256=newest.manifest.sha256,
            file=f"snapshot {(newest.snapshot_id or '')[:8]}",
            checksum_ok=ok,
            checksum_note=note,
        )
    return BackupFacts(
        policy=True,
        destination=target.label,
        max_age=max_age,
        readable=True,
        newest=found,
        manifests=len(backups),
        invalid_manifests=tuple(invalid),
        location=location,
    )


def gather_policy(loaded: LoadedSpec, location: Location | None) -> BackupFacts:
    """Every destination of the spec's policy; the one in the worst state speaks for all (no
    backup, then the oldest newest backup), so a stale off-site copy is not hidden by a fresh
    local one."""
    policy = loaded.spec.backup
    assert policy is not None
    gathered = [
        gather_repository(text, loaded, policy.max_age, location)
        if text.startswith(RESTIC_PREFIX)
        else gather_backup(text, loaded.base_dir, policy.max_age, location, loaded.spec.project)
        for text in policy.all_destinations
    ]

    def badness(facts: BackupFacts) -> tuple[int, float]:
        if not facts.readable:
            return (3, 0.0)
        if facts.newest is None:
            return (2, 0.0)
        if facts.newest.checksum_ok is False:
            return (1, 0.0)
        return (0, -facts.newest.created_at.timestamp())

    return max(gathered, key=badness)
