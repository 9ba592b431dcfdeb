"""The backup manifest format, and the functions that find, read and check backups.

This module is the contract between `faktctl backup` (which writes backups), `faktctl restore`,
and the audit's `backup` checks (which only read them). It does no engine work and imports
nothing heavy.

Layout: every backup is a pair of files in the policy's destination folder,

    <project>-<YYYYmmddTHHMMSSZ>[-<tag>].rdb.gz          the snapshot: faktory.rdb, gzip-compressed
    <project>-<YYYYmmddTHHMMSSZ>[-<tag>].manifest.json   its manifest

The timestamp is UTC. `tag` is absent for regular backups; the safety snapshot `faktctl restore`
takes before replacing data is tagged `pre-restore`. The snapshot is written to a hidden temp
file, checked, then renamed into place; the manifest is renamed into place last. A backup exists
only once its manifest exists, so a crash never leaves something that looks complete.

Manifest (one JSON object, UTF-8):

    format           1
    project          the spec's project name
    created_at       UTC ISO 8601 with a Z, e.g. "2025-01-31T12:00:00Z": the snapshot holds every
                     job the server had accepted at this time
    file             the snapshot's file name (in the same folder)
    sha256           hex sha256 of the snapshot file as stored (compressed)
    size             bytes of the snapshot file as stored
    rdb_size         bytes of faktory.rdb before compression
    faktory_version  the server's version from INFO
    queues           {queue name: enqueued jobs} from INFO at snapshot time
    sets             {"scheduled": n, "retries": n, "dead": n, "working": n} from INFO
    faktctl_version  the faktctl that wrote it
    verified_at      UTC ISO 8601 with a Z of the last successful `faktctl backup verify`, or null
    verification     details of the last verification (see `Verification`), or null

Readers ignore fields they do not know; a `format` other than 1 is refused.

Functions for other features: `list_backups`, `newest_backup`, `read_manifest`,
`verify_checksum`, `find_backup`, `age_of`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from faktctl.errors import OperationFailed, UsageError
from faktctl.fsutil import atomic_write
from faktctl.ui import ByteProgress

FORMAT = 1
SNAPSHOT_SUFFIX = ".rdb.gz"
MANIFEST_SUFFIX = ".manifest.json"
PRE_RESTORE_TAG = "pre-restore"
SET_NAMES = ("scheduled", "retries", "dead", "working")
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
HASH_BLOCK = 1 << 20

_NAME = re.compile(
    r"^(?P<project>[a-z0-9][a-z0-9_-]*?)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<tag>[a-z0-9][a-z0-9-]*))?"
    + re.escape(MANIFEST_SUFFIX)
    + "$"
)


class BackupNotFound(UsageError):
    """The backup a user named does not exist."""


class ManifestError(OperationFailed):
    """A manifest that cannot be read or is not a valid format-1 manifest."""


class ChecksumMismatch(OperationFailed):
    """A snapshot whose bytes no longer match its manifest."""


# --- naming -----------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def parse_iso(text: str) -> datetime:
    """UTC ISO 8601 with a trailing Z (fractions of a second allowed) -> aware datetime."""
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError(f"`{text}` is not a UTC time ending in Z")
    return datetime.fromisoformat(text[:-1] + "+00:00").astimezone(UTC)


def stem_for(project: str, moment: datetime, tag: str | None = None) -> str:
    base = f"{project}-{stamp(moment)}"
    return f"{base}-{tag}" if tag else base


def manifest_name(stem: str) -> str:
    return stem + MANIFEST_SUFFIX


def snapshot_name(stem: str) -> str:
    return stem + SNAPSHOT_SUFFIX


@dataclass(frozen=True)
class ParsedName:
    project: str
    created: datetime
    tag: str | None
    stem: str


def parse_manifest_name(name: str) -> ParsedName | None:
    """Split `<project>-<stamp>[-<tag>].manifest.json`; None for any other file name."""
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        created = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return ParsedName(match["project"], created, match["tag"], name.removesuffix(MANIFEST_SUFFIX))


# --- the manifest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What `faktctl backup verify` found when it loaded the snapshot into a throwaway server."""

    ok: bool
    checked_at: datetime
    checksum_ok: bool
    loaded: bool = False
    image: str | None = None
    faktory_version: str | None = None
    queues: Mapping[str, int] = field(default_factory=dict)
    sets: Mapping[str, int] = field(default_factory=dict)
    differences: tuple[str, ...] = ()
    note: str = ""
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": iso(self.checked_at),
            "checksum_ok": self.checksum_ok,
            "loaded": self.loaded,
            "image": self.image,
            "faktory_version": self.faktory_version,
            "queues": dict(sorted(self.queues.items())),
            "sets": dict(self.sets),
            "differences": list(self.differences),
            "note": self.note,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verification:
        seconds = data.get("seconds")
        return cls(
            ok=bool(data["ok"]),
            checked_at=parse_iso(data["checked_at"]),
            checksum_ok=bool(data.get("checksum_ok", False)),
            loaded=bool(data.get("loaded", False)),
            image=_optional_str(data.get("image")),
            faktory_version=_optional_str(data.get("faktory_version")),
            queues=_counts(data.get("queues", {}), "verification.queues"),
            sets=_counts(data.get("sets", {}), "verification.sets"),
            differences=tuple(str(d) for d in data.get("differences", [])),
            note=str(data.get("note", "")),
            seconds=float(seconds) if isinstance(seconds, int | float) else None,
        )


@dataclass(frozen=True)
class Manifest:
    project: str
    created_at: datetime
    file: str
    sha256: str
    size: int
    rdb_size: int
    faktory_version: str
    queues: Mapping[str, int]
    sets: Mapping[str, int]
    faktctl_version: str
    verified_at: datetime | None = None
    verification: Verification | None = None

    @property
    def jobs(self) -> int:
        """Every job the snapshot holds: enqueued plus all sets."""
        return sum(self.queues.values()) + sum(self.sets.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "project": self.project,
            "created_at": iso(self.created_at),
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "rdb_size": self.rdb_size,
            "faktory_version": self.faktory_version,
            "queues": dict(sorted(self.queues.items())),
            "sets": {name: int(self.sets.get(name, 0)) for name in SET_NAMES},
            "faktctl_version": self.faktctl_version,
            "verified_at": iso(self.verified_at) if self.verified_at else None,
            "verification": self.verification.to_json() if self.verification else None,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Validate a decoded manifest; raises ValueError naming the first bad field."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format") != FORMAT:
            raise ValueError(
                f"format {data.get('format')!r} is not {FORMAT} (written by another faktctl?)"
            )
        verified_at, verification = data.get("verified_at"), data.get("verification")
        return cls(
            project=_required_str(data, "project"),
            created_at=parse_iso(_required_str(data, "created_at")),
            file=_file_name(_required_str(data, "file")),
            sha256=_sha256(_required_str(data, "sha256")),
            size=_non_negative(data, "size"),
            rdb_size=_non_negative(data, "rdb_size"),
            faktory_version=str(data.get("faktory_version") or ""),
            queues=_counts(data.get("queues"), "queues"),
            sets=_counts(data.get("sets"), "sets"),
            faktctl_version=str(data.get("faktctl_version") or ""),
            verified_at=parse_iso(verified_at) if verified_at is not None else None,
            verification=Verification.from_json(verification) if verification else None,
        )


def _required_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"`{key}` is missing or not a string")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _file_name(value: str) -> str:
    if "/" in value or "\\" in value or value in (".", ".."):
        raise ValueError(f"`file` must be a plain file name, got `{value}`")
    return value


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("`sha256` is not 64 lowercase hex digits")
    return value


def _non_negative(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{key}` is not a non-negative integer")
    return value


def _counts(value: Any, key: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"`{key}` is not an object")
    counts: dict[str, int] = {}
    for name, size in value.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"`{key}.{name}` is not a non-negative integer")
        counts[str(name)] = size
    return counts


# --- a backup on disk -------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    """A manifest and where its files are."""

    manifest: Manifest
    manifest_path: Path
    tag: str | None = None
    # Set for a backup in a restic repository (faktctl.backups.repository): its snapshot id,
    # and where the RDB's bytes come from instead of the .rdb.gz beside a manifest.
    snapshot_id: str | None = field(default=None, compare=False)
    read_rdb: Callable[[], AbstractContextManager[Iterator[bytes]]] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def name(self) -> str:
        """The stem users type: `<project>-<stamp>[-<tag>]`."""
        return self.manifest_path.name.removesuffix(MANIFEST_SUFFIX)

    @property
    def snapshot_path(self) -> Path:
        return self.manifest_path.parent / self.manifest.file

    def with_manifest(self, manifest: Manifest) -> Backup:
        return replace(self, manifest=manifest)


@dataclass(frozen=True)
class InvalidManifest:
    path: Path
    reason: str


@dataclass(frozen=True)
class Listing:
    """Backups found in a destination, newest first, and the manifests that could not be read."""

    destination: Path
    backups: tuple[Backup, ...] = ()
    invalid: tuple[InvalidManifest, ...] = ()

    @property
    def newest(self) -> Backup | None:
        return self.backups[0] if self.backups else None


def read_manifest(path: Path) -> Manifest:
    """Read and validate one manifest file; raises ManifestError with the reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ManifestError(f"cannot read backup manifest {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"backup manifest {path} is not UTF-8 text") from None
    try:
        return Manifest.from_json(json.loads(text))
    except json.JSONDecodeError as err:
        raise ManifestError(f"backup manifest {path} is not valid JSON: {err.msg}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ManifestError(f"backup manifest {path} is invalid: {err}") from None


def write_manifest(backup: Backup) -> None:
    """Atomically (re)write a backup's manifest."""
    atomic_write(backup.manifest_path, backup.manifest.dumps(), mode=0o644)


def list_backups(destination: Path, project: str | None = None) -> Listing:
    """Every backup in `destination` (of `project`, when given), newest first.

    A missing folder is an empty listing. Unreadable or invalid manifests are returned in
    `invalid` rather than raised, so one bad file never hides the others. Raises ManifestError
    only when the folder exists but cannot be listed.
    """
    try:
        names = sorted(entry.name for entry in destination.iterdir())
    except FileNotFoundError:
        return Listing(destination)
    except NotADirectoryError:
        raise ManifestError(f"backup destination {destination} is not a folder") from None
    except OSError as err:
        raise ManifestError(
            f"cannot list backup destination {destination}: {err.strerror or err}"
        ) from None
    backups: list[Backup] = []
    invalid: list[InvalidManifest] = []
    for name in names:
        parsed = parse_manifest_name(name)
        if parsed is None or (project is not None and parsed.project != project):
            continue
        path = destination / name
        try:
            manifest = read_manifest(path)
        except ManifestError as err:
            invalid.append(InvalidManifest(path, err.message))
            continue
        if manifest.project != parsed.project:
            invalid.append(
                InvalidManifest(path, f"names project `{manifest.project}`, not {parsed.project}")
            )
            continue
        backups.append(Backup(manifest, path, parsed.tag))
    backups.sort(key=lambda b: (b.manifest.created_at, b.name), reverse=True)
    return Listing(destination, tuple(backups), tuple(invalid))


def newest_backup(destination: Path, project: str, include_tagged: bool = True) -> Backup | None:
    """The most recent backup of `project`, or None. Pre-restore snapshots count by default."""
    for backup in list_backups(destination, project).backups:
        if include_tagged or backup.tag is None:
            return backup
    return None


def find_backup(destination: Path, project: str, reference: str | None) -> Backup:
    """Resolve what a user typed: a backup name, a manifest or snapshot path, or None (newest).

    Raises BackupNotFound (exit 2) when nothing matches.
    """
    if reference is None or reference == "latest":
        newest = newest_backup(destination, project)
        if newest is None:
            raise BackupNotFound(
                f"no backup of project `{project}` in {destination}", "run `faktctl backup`"
            )
        return newest
    path = _manifest_path_for(destination, reference)
    if not path.is_file():
        raise BackupNotFound(
            f"backup `{reference}` not found (looked for {path})",
            "`faktctl backup list` shows the backups",
        )
    parsed = parse_manifest_name(path.name)
    manifest = read_manifest(path)
    return Backup(manifest, path, parsed.tag if parsed else None)


def _manifest_path_for(destination: Path, reference: str) -> Path:
    name = reference
    for suffix in (MANIFEST_SUFFIX, SNAPSHOT_SUFFIX):
        if name.endswith(suffix):
            name = name.removesuffix(suffix)
    given = Path(name)
    folder = given.parent if "/" in reference else destination
    return folder / manifest_name(given.name)


# --- checks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecksumResult:
    """ok is None when the snapshot could not be read at all."""

    ok: bool | None
    detail: str
    sha256: str | None = None
    size: int | None = None


def sha256_of(blocks: Iterable[bytes], on_progress: ByteProgress | None = None) -> tuple[str, int]:
    """sha256 hex and size of a stream of bytes, reporting the running size."""
    digest = hashlib.sha256()
    size = 0
    for block in blocks:
        digest.update(block)
        size += len(block)
        if on_progress is not None:
            on_progress(size)
    return digest.hexdigest(), size


def file_sha256(path: Path, on_progress: ByteProgress | None = None) -> tuple[str, int]:
    """sha256 hex and size of a file, read in 1 MiB blocks."""
    with path.open("rb") as handle:
        return sha256_of(iter(partial(handle.read, HASH_BLOCK), b""), on_progress)


def verify_checksum(backup: Backup, on_progress: ByteProgress | None = None) -> ChecksumResult:
    """Compare the snapshot file with the manifest's size and sha256."""
    path = backup.snapshot_path
    try:
        actual_size = path.stat().st_size
    except FileNotFoundError:
        return ChecksumResult(None, f"snapshot {path.name} is missing")
    except OSError as err:
        return ChecksumResult(None, f"cannot read snapshot {path.name}: {err.strerror or err}")
    expected = backup.manifest
    if actual_size != expected.size:
        return ChecksumResult(
            False,
            f"snapshot {path.name} has {actual_size} bytes, the manifest says {expected.size}",
            size=actual_size,
        )
    try:
        digest, size = file_sha256(path, on_progress)
    except OSError as err:
        return ChecksumResult(None, f"cannot read snapshot {path.name}: {err.strerror or err}")
    if digest != expected.sha256:
        return ChecksumResult(
            False, f"snapshot {path.name} does not match its sha256 (corrupted)", digest, size
        )
    return ChecksumResult(True, "sha256 matches", digest, size)


def require_checksum(backup: Backup, on_progress: ByteProgress | None = None) -> ChecksumResult:
    """verify_checksum, raising ChecksumMismatch (exit 4) unless it passes."""
    result = verify_checksum(backup, on_progress)
    if result.ok is not True:
        raise ChecksumMismatch(
            f"backup {backup.name} failed its checksum: {result.detail}",
            "nothing was changed; use another backup (`faktctl backup list`)",
        )
    return result


def age_of(manifest: Manifest, now: datetime | None = None) -> timedelta:
    return (now or datetime.now(UTC)) - manifest.created_at
