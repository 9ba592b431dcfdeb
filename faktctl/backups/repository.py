"""Backups in a restic repository: how a snapshot carries the manifest's facts, and reading
them back as the same `Backup` objects a folder gives.

A backup is one restic snapshot holding one file, `faktory.rdb` (uncompressed: restic
deduplicates, compresses and encrypts it). Its tags carry the manifest:

    faktctl                      every snapshot faktctl makes
    project=<project>            the spec's project
    kind=backup | kind=pre-restore
    name=<project>-<stamp>[-tag] the backup's name, as in a folder
    faktctl-version=<v>, faktory=<v>
    sha256=<hex>                 of faktory.rdb, rdb-size=<bytes>
    counts=<base64url JSON>      {"queues": {...}, "sets": {...}} read at snapshot time
    verified=<stamp>             the last successful `faktctl backup verify`

restic takes the snapshot's tags before it has read the data (the upload starts while Redis is
still saving), so sha256, rdb-size, counts and the Faktory version are added when the upload
has finished (`restic tag --add`). A snapshot without them is an unfinished backup: it is
listed as invalid and never restored, like a folder snapshot without its manifest.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl.adapters.restic import Restic
from faktctl.backups.manifest import (
    MANIFEST_SUFFIX,
    PRE_RESTORE_TAG,
    STAMP_FORMAT,
    Backup,
    BackupNotFound,
    ChecksumMismatch,
    Manifest,
    ProgressFn,
    parse_iso,
    parse_manifest_name,
)
from faktctl.errors import OperationFailed

if TYPE_CHECKING:
    from faktctl.backups.report import Reporter

RDB_FILE = "faktory.rdb"
DUMP_PATH = "/" + RDB_FILE
KIND_BACKUP = "backup"


def base_tags(project: str) -> list[str]:
    return ["faktctl", f"project={project}"]


def kind_of(tag: str | None) -> str:
    return tag or KIND_BACKUP


def start_tags(project: str, name: str, tag: str | None, faktctl_version: str) -> list[str]:
    """The tags known before the upload starts (it starts while Redis is still saving)."""
    tags = [*base_tags(project), f"kind={kind_of(tag)}", f"name={name}"]
    tags.append(f"faktctl-version={faktctl_version or 'unknown'}")
    return tags


def encode_counts(queues: Mapping[str, int], sets: Mapping[str, int]) -> str:
    data = json.dumps({"queues": dict(queues), "sets": dict(sets)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_counts(text: str) -> tuple[dict[str, int], dict[str, int]]:
    padded = text + "=" * (-len(text) % 4)
    data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    queues = {str(k): int(v) for k, v in (data.get("queues") or {}).items()}
    sets = {str(k): int(v) for k, v in (data.get("sets") or {}).items()}
    return queues, sets


def finish_tags(
    sha256: str,
    rdb_size: int,
    queues: Mapping[str, int],
    sets: Mapping[str, int],
    faktory_version: str,
) -> list[str]:
    return [
        f"sha256={sha256}",
        f"rdb-size={rdb_size}",
        f"counts={encode_counts(queues, sets)}",
        f"faktory={faktory_version or 'unknown'}",
    ]


def _tag_values(tags: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if sep:
            values.setdefault(key, value)
    return values


def to_backup(restic: Restic, snapshot: Mapping[str, Any]) -> Backup:
    """A snapshot as a Backup; ValueError (with the reason) when it is not a finished one."""
    tags = [str(t) for t in snapshot.get("tags") or []]
    values = _tag_values(tags)
    name = values.get("name", "")
    parsed = parse_manifest_name(name + MANIFEST_SUFFIX)
    if parsed is None:
        raise ValueError("has no faktctl backup name")
    if "sha256" not in values or "rdb-size" not in values or "counts" not in values:
        raise ValueError("is unfinished (no sha256: the upload or its tagging did not complete)")
    try:
        queues, sets = decode_counts(values["counts"])
        size = int(values["rdb-size"])
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValueError("has unreadable counts or size tags") from None
    stamps = [t.partition("=")[2] for t in tags if t.startswith("verified=")]
    verified = max(stamps) if stamps else None
    manifest = Manifest(
        project=parsed.project,
        created_at=parsed.created,
        file=RDB_FILE,
        sha256=values["sha256"],
        size=size,
        rdb_size=size,
        faktory_version=values.get("faktory", ""),
        queues=queues,
        sets=sets,
        faktctl_version=values.get("faktctl-version", ""),
        verified_at=_verified_at(verified),
    )
    snapshot_id = str(snapshot.get("id") or "")

    def read_rdb() -> contextlib.AbstractContextManager[Iterator[bytes]]:
        return restic.dump(snapshot_id, DUMP_PATH)

    return Backup(
        manifest,
        Path(name + MANIFEST_SUFFIX),
        parsed.tag,
        snapshot_id=snapshot_id,
        read_rdb=read_rdb,
    )


def _verified_at(text: str | None) -> datetime | None:
    if not text:
        return None
    with contextlib.suppress(ValueError):
        return datetime.strptime(text, STAMP_FORMAT).replace(tzinfo=UTC)
    with contextlib.suppress(ValueError):
        return parse_iso(text)
    return None


def list_snapshots(restic: Restic, project: str) -> tuple[list[Backup], list[str]]:
    """Finished backups of `project`, newest first, and one line per unfinished snapshot."""
    backups: list[Backup] = []
    invalid: list[str] = []
    for snapshot in restic.snapshots(base_tags(project)):
        try:
            backups.append(to_backup(restic, snapshot))
        except ValueError as err:
            invalid.append(f"snapshot {snapshot.get('short_id', '?')!s} {err}")
    backups.sort(key=lambda b: (b.manifest.created_at, b.name), reverse=True)
    return backups, invalid


def find(restic: Restic, project: str, reference: str | None) -> Backup:
    """A backup by name, snapshot id (or its prefix), or the newest (None / `latest`)."""
    backups, _ = list_snapshots(restic, project)
    if reference is None or reference == "latest":
        if not backups:
            raise BackupNotFound(
                f"no finished backup of project `{project}` in {restic.label}",
                "run `faktctl backup`",
            )
        return backups[0]
    name = reference.removesuffix(MANIFEST_SUFFIX)
    for backup in backups:
        snapshot_id = backup.snapshot_id or ""
        if name == backup.name or (len(name) >= 8 and snapshot_id.startswith(name)):
            return backup
    raise BackupNotFound(
        f"backup `{reference}` not found in {restic.label}",
        "`faktctl backup list` shows the backups",
    )


def rdb_sha256(backup: Backup, on_progress: ProgressFn | None = None) -> tuple[str, int]:
    """Read the snapshot's faktory.rdb out of the repository and hash it."""
    assert backup.read_rdb is not None
    digest = hashlib.sha256()
    size = 0
    with backup.read_rdb() as chunks:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            if on_progress is not None:
                on_progress(size)
    return digest.hexdigest(), size


def require_checksum(backup: Backup, on_progress: ProgressFn | None = None) -> None:
    """ChecksumMismatch (exit 4) unless the repository gives back exactly the recorded bytes;
    restic's own error (a damaged pack) when it cannot give them back at all."""
    digest, size = rdb_sha256(backup, on_progress)
    if size != backup.manifest.rdb_size or digest != backup.manifest.sha256:
        raise ChecksumMismatch(
            f"backup {backup.name} failed its checksum: the repository gave back {size} bytes "
            f"that do not match the recorded sha256",
            "nothing was changed; use another backup (`faktctl backup list`)",
        )


def checksum_check(restic: Restic) -> Callable[[Backup, Reporter], None]:
    """The check before anything is touched: the repository gives back the bytes whose sha256
    the snapshot records (restic itself refuses damaged packs)."""

    def check(backup: Backup, reporter: Reporter) -> None:
        reporter.step(f"reading {backup.name} back from {restic.label} to check its sha256")
        with reporter.transfer("checksum", backup.manifest.rdb_size) as update:
            try:
                require_checksum(backup, update)
            except OperationFailed as err:
                if "checksum" in err.message:
                    raise
                raise OperationFailed(
                    f"backup {backup.name} cannot be read back from {restic.label}: {err.message}",
                    "nothing was changed; run `faktctl backup verify` on it, or use another backup",
                ) from None

    return check


def mark_verified(restic: Restic, backup: Backup) -> None:
    stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
    if backup.snapshot_id:
        restic.add_tags(backup.snapshot_id, [f"verified={stamp}"])


def retention_tags(project: str, tag: str | None) -> list[str]:
    return [*base_tags(project), f"kind={kind_of(tag)}"]


def is_pre_restore(backup: Backup) -> bool:
    return backup.tag == PRE_RESTORE_TAG
