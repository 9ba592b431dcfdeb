"""Backups on disk for tests: manifests and snapshots written the way `faktctl backup` does."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from faktctl.backups import manifest as m

CREATED = datetime(2026, 1, 31, 12, 0, 5, tzinfo=UTC)


def make_manifest(
    project: str = "shop", created: datetime = CREATED, data: bytes = b"x"
) -> m.Manifest:
    stem = m.stem_for(project, created)
    return m.Manifest(
        project=project,
        created_at=created,
        file=m.snapshot_name(stem),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        rdb_size=len(data) + 10,
        faktory_version="1.9.4",
        queues={"default": 3, "bulk": 0},
        sets={"scheduled": 1, "retries": 2, "dead": 0, "working": 0},
        faktctl_version="0.1.0",
    )


def write_backup(
    folder: Path,
    project: str = "shop",
    created: datetime = CREATED,
    data: bytes = b"snapshot bytes",
    tag: str | None = None,
) -> m.Backup:
    folder.mkdir(parents=True, exist_ok=True)
    stem = m.stem_for(project, created, tag)
    manifest = make_manifest(project, created, data)
    manifest = m.Manifest(**{**manifest.__dict__, "file": m.snapshot_name(stem)})
    (folder / manifest.file).write_bytes(data)
    backup = m.Backup(manifest, folder / m.manifest_name(stem), tag)
    m.write_manifest(backup)
    return backup
