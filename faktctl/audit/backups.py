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
    if "://" in destination:
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
