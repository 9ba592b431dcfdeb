"""Verify a backup: checksum, then load it into a throwaway server and compare sizes.

The throwaway server runs the image of the backup's own Faktory version when it is on the engine
(else the project's server image, queues moved to its keys first), in production mode with a
random password, on a new volume; only its protocol port is published, on 127.0.0.1 at a port
the engine picks. Container and volume carry the job labels (and FAKTCTL_EXTRA_LABELS) and are
removed whatever happens. The result is recorded in the manifest (atomic rewrite).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faktctl.adapters.docker import archive
from faktctl.backups import deployment, repository, stream
from faktctl.backups.manifest import (
    Backup,
    ChecksumMismatch,
    Verification,
    verify_checksum,
    write_manifest,
)
from faktctl.backups.report import Reporter
from faktctl.desired import Mount, Publish
from faktctl.errors import OperationFailed
from faktctl.faktory import server as serverconf
from faktctl.faktory.server import DATA_DIR, DB_DIR, PASSWORD_TARGET, PROTOCOL_PORT
from faktctl.faktory.versions import crosses_boundary, format_of, parse_version
from faktctl.live import containers
from faktctl.secretvalue import SecretStr
from faktctl.ui import ByteProgress

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.adapters.restic import Restic

EngineSession = Callable[[], contextlib.AbstractContextManager["Engine"]]

# The throwaway server starts exactly as a project's server does (faktctl.faktory.server), in
# production; only its dashboard port is left unpublished.
THROWAWAY_ENVIRONMENT = "production"
REDIS_LOG = f"{DB_DIR}/redis.log"


class VerificationFailed(OperationFailed):
    """The backup did not load, or loaded with other sizes than its manifest records."""


@dataclass(frozen=True)
class VerifyResult:
    backup: Backup
    verification: Verification
    warnings: tuple[str, ...] = field(default=())


def check_checksum(backup: Backup, reporter: Reporter) -> None:
    """The sha256 step of verify; a failure is recorded in the manifest and raised (exit 4)."""
    reporter.step(f"checking the sha256 of {backup.snapshot_path.name}")
    with reporter.transfer("checksum", backup.manifest.size) as update:
        checksum = verify_checksum(backup, update)
    if checksum.ok is True:
        return
    verification = Verification(
        ok=False, checked_at=_now(), checksum_ok=False, note=checksum.detail
    )
    _record(backup, verification)
    raise ChecksumMismatch(
        f"backup {backup.name} failed its checksum: {checksum.detail}",
        "this backup cannot be trusted; take a new one with `faktctl backup`",
    )


def verify_backup(
    engine: Engine,
    backup: Backup,
    image: str,
    reporter: Reporter,
    timeout: float = 120.0,
    *,
    checksum_checked: bool = False,
) -> VerifyResult:
    """Checksum and load test; records the outcome in the manifest, raises when it failed."""
    started = time.monotonic()
    if not checksum_checked:
        check_checksum(backup, reporter)
    reporter.step(f"loading it into a throwaway server ({image})")
    try:
        counts = load_in_throwaway(engine, backup, image, timeout, reporter)
    except VerificationFailed as err:
        verification = Verification(
            ok=False,
            checked_at=_now(),
            checksum_ok=True,
            image=image,
            note=err.message,
            seconds=round(time.monotonic() - started, 3),
        )
        _record(backup, verification)
        raise
    manifest = backup.manifest
    diffs = deployment.differences(manifest.queues, manifest.sets, counts)
    moved = bool(diffs) and deployment.only_moved(manifest.queues, manifest.sets, counts)
    note = ""
    if moved:
        note = "jobs moved between sets and queues (scheduled or retry times came); none lost"
    elif diffs:
        note = "the snapshot holds other sizes than the manifest records"
    verification = Verification(
        ok=not diffs or moved,
        checked_at=_now(),
        checksum_ok=True,
        loaded=True,
        image=image,
        faktory_version=counts.version,
        queues=dict(counts.queues),
        sets=dict(counts.sets),
        differences=tuple(diffs),
        note=note,
        seconds=round(time.monotonic() - started, 3),
    )
    recorded = _record(backup, verification)
    if not verification.ok:
        raise VerificationFailed(
            f"backup {backup.name} loads, but its sizes differ from the manifest: "
            + "; ".join(diffs),
            "was the server busy while the backup was taken? take a new backup and verify it",
        )
    return VerifyResult(recorded, verification)


@dataclass(frozen=True)
class RepositoryVerification:
    """A backup in a restic repository, checked by restic, read back and loaded."""

    backup: Backup
    destination: str  # the repository's label (credentials hidden)
    restic_check: str
    counts: deployment.Counts
    differences: tuple[str, ...]
    moved: bool  # the differences are jobs moved between sets and queues, none lost
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.backup.name,
            "destination": self.destination,
            "snapshot_id": self.backup.snapshot_id,
            "restic_check": self.restic_check,
            "faktory_version": self.counts.version,
            "queues": dict(self.counts.queues),
            "sets": dict(self.counts.sets),
            "jobs": self.counts.jobs,
            "differences": list(self.differences),
            "seconds": round(self.seconds, 3),
        }


def verify_in_repository(
    session: EngineSession,
    restic: Restic,
    backup: Backup,
    server_image: Callable[[Engine], str],
    reporter: Reporter,
    timeout: float,
) -> RepositoryVerification:
    """`restic check --read-data`, the sha256 read back, then a load test in a throwaway
    server (`session` gives the engine, only for that); a success is tagged on the snapshot."""
    started = time.monotonic()
    reporter.step(f"checking {restic.label} (restic check --read-data)")
    try:
        check_line = restic.check(read_data=True)
    except OperationFailed as err:
        raise VerificationFailed(
            f"backup {backup.name} cannot be trusted: {err.message}",
            "the repository is damaged; see `restic check` and take a new backup elsewhere",
        ) from None
    repository.checksum_check(restic)(backup, reporter)
    with session() as engine:
        image = server_image(engine)
        reporter.step(f"loading it into a throwaway server ({image})")
        counts = load_in_throwaway(engine, backup, image, timeout, reporter)
    manifest = backup.manifest
    diffs = deployment.differences(manifest.queues, manifest.sets, counts)
    moved = bool(diffs) and deployment.only_moved(manifest.queues, manifest.sets, counts)
    if diffs and not moved:
        raise VerificationFailed(
            f"backup {backup.name} loads, but its sizes differ from the snapshot's record: "
            + "; ".join(diffs)
        )
    repository.mark_verified(restic, backup)
    return RepositoryVerification(
        backup, restic.label, check_line, counts, tuple(diffs), moved, time.monotonic() - started
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _record(backup: Backup, verification: Verification) -> Backup:
    from dataclasses import replace

    manifest = replace(
        backup.manifest,
        verification=verification,
        verified_at=verification.checked_at if verification.ok else None,
    )
    updated = backup.with_manifest(manifest)
    write_manifest(updated)
    return updated


def snapshot_tar(
    backup: Backup,
    name: str,
    folders: tuple[str, ...] = (),
    on_progress: ByteProgress | None = None,
) -> Iterator[bytes]:
    """The decompressed snapshot as a tar stream holding one file called `name`."""
    if backup.read_rdb is not None:
        with backup.read_rdb() as chunks:
            content = stream.counted(chunks, on_progress)
            yield from archive.tar_single_file(
                name, backup.manifest.rdb_size, content, mode=0o644, folders=folders
            )
        return
    with backup.snapshot_path.open("rb") as handle:
        content = stream.counted(stream.gunzip(stream.read_blocks(handle)), on_progress)
        yield from archive.tar_single_file(
            name, backup.manifest.rdb_size, content, mode=0o644, folders=folders
        )


def load_in_throwaway(
    engine: Engine, backup: Backup, image: str, timeout: float, reporter: Reporter
) -> deployment.Counts:
    """Start a throwaway server on a throwaway volume holding the snapshot; return its INFO."""
    from faktctl.adapters.docker.engine import ContainerConfig

    project = backup.manifest.project
    suffix = secrets.token_hex(4)
    job_labels = deployment.job_labels("backup-verify", project)
    volume = f"faktctl-verify-{project}-{suffix}"
    password = SecretStr(secrets.token_urlsafe(24))
    engine.create_volume(volume, job_labels)
    container_id: str | None = None
    try:
        container_id = engine.create_container(
            ContainerConfig(
                name=f"faktctl-verify-{project}-{suffix}",
                image=image,
                command=serverconf.command(THROWAWAY_ENVIRONMENT),
                env=serverconf.environment(THROWAWAY_ENVIRONMENT),
                labels=job_labels,
                mounts=(Mount("volume", volume, DATA_DIR),),
                ports=(Publish(PROTOCOL_PORT, "127.0.0.1", 0),),
            )
        )
        with reporter.transfer("faktory.rdb", backup.manifest.rdb_size) as update:
            tar = snapshot_tar(backup, "db/faktory.rdb", ("db",), update)
            engine.archive_in(container_id, DATA_DIR, tar)
        engine.secret_file_in(container_id, PASSWORD_TARGET, password)
        _move_to_image_format(engine, backup, image, volume, job_labels)
        engine.start(container_id)
        try:
            return deployment.wait_ready(
                engine, container_id, password, timeout, require_health=False
            )
        except deployment.NotReady as err:
            redis_log = _redis_log_tail(engine, container_id)
            raise VerificationFailed(
                f"backup {backup.name} did not load: {err.message}{redis_log}"
            ) from None
    finally:
        if container_id is not None:
            with contextlib.suppress(OperationFailed):
                engine.remove(container_id, force=True)
        with contextlib.suppress(OperationFailed):
            engine.remove_volume(volume)


def _redis_log_tail(engine: Engine, container_id: str, lines: int = 5) -> str:
    """The end of redis.log (it says why an RDB did not load), read from the volume."""
    with contextlib.suppress(OperationFailed):
        text = b"".join(engine.read_file(container_id, REDIS_LOG)).decode("utf-8", "replace")
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        if tail:
            return "\nredis.log ends with:\n" + "\n".join(tail)
    return ""


def default_image(engine: Engine, project: str, spec_image: str, version: str = "") -> str:
    """The image of the backup's own Faktory `version` when it is on this engine (same
    repository as the running server's or the spec's image), else the running server's image
    when there is one, else the spec's; it must be local."""
    found = _image_of_version(engine, project, spec_image, version)
    if found is not None:
        return found
    with contextlib.suppress(OperationFailed):
        for server in containers.find(engine, project).with_role("server"):
            reference = deployment.image_of(server)
            if reference and engine.image(reference) is not None:
                return reference
            if server.get("Image"):
                return str(server["Image"])
    if engine.image(spec_image) is None:
        raise OperationFailed(
            f"the server image {spec_image} is not on this engine",
            "run `faktctl up` once (it pulls the image), or pass --image",
        )
    return spec_image


def _image_of_version(engine: Engine, project: str, spec_image: str, version: str) -> str | None:
    from faktctl.faktory.images import parse_image

    if parse_version(version) is None:
        return None
    references = [spec_image]
    with contextlib.suppress(OperationFailed):
        servers = containers.find(engine, project).with_role("server")
        references = [deployment.image_of(s) for s in servers] + references
    for reference in references:
        if not reference or reference.startswith("sha256:"):
            continue
        candidate = f"{parse_image(reference).repository}:{version}"
        with contextlib.suppress(OperationFailed):
            if engine.image(candidate) is not None:
                return candidate
    return None


def _move_to_image_format(
    engine: Engine, backup: Backup, image: str, volume: str, job_labels: dict[str, str]
) -> None:
    """When the verifying image keeps queues under other keys than the backup's version, move
    them on the throwaway volume first, as `restore` would."""
    from faktctl.faktory.images import parse_image
    from faktctl.live import queue_keys

    made_by = parse_version(backup.manifest.faktory_version)
    loads_with = parse_image(image).version
    if made_by is None or loads_with is None or not crosses_boundary(made_by, loads_with):
        return
    queue_keys.offline(
        engine,
        image,
        ("volume", volume),
        "move",
        format_of(made_by),
        format_of(loads_with),
        job_labels,
    )
