"""One read of a deployment for `faktctl metrics`: the engine, the server and the backups.

The server is found the way backups find it (faktctl.backups.deployment: the project's
running server container, or on a swarm the server task's container on this node, reached
through its published port or a relay), so the engine and the Swarm platform read the same.
Over one authenticated connection the server answers INFO and `QUEUE LATENCY` (1.9.2+,
faktctl.live.reach); at the same time an exec in its container reads Redis's persistence
state (faktctl.live.view.read_last_save). The backups' newest manifests are read from each
local destination of `backup:` (restic repositories are not listed on every scrape: that
takes seconds; `faktctl audit` reads them). Nothing here raises for a deployment that cannot
be read: the reading says why (`reason`, `failed_parts`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl.errors import FaktctlError
from faktctl.live import view as faktory_view
from faktctl.monitoring.reading import BackupState, Reading, reason_of
from faktctl.secretvalue import SecretStr
from faktctl.spec.model import RESTIC_PREFIX

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.desired import Desired
    from faktctl.project import Project

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Target:
    """What a scrape reads, fixed when faktctl starts (the spec is read once)."""

    project: str
    password: SecretStr
    backup_dirs: tuple[tuple[str, Path], ...]  # (destination as written, local folder)
    backup_max_age_s: float | None
    desired: Desired  # the server's network and dashboard password (for the process list)

    @classmethod
    def of(cls, project: Project) -> Target:
        policy = project.loaded.spec.backup
        folders: list[tuple[str, Path]] = []
        max_age = None
        if policy is not None:
            max_age = policy.max_age.total_seconds()
            for text in policy.all_destinations:
                if text.startswith(RESTIC_PREFIX) or "://" in text:
                    continue
                folder = Path(text).expanduser()
                folders.append((text, folder if folder.is_absolute() else project.dir / folder))
        return cls(
            project.desired.project, project.password, tuple(folders), max_age, project.desired
        )


def read(engine: Engine | None, target: Target, *, timeout: float = DEFAULT_TIMEOUT_S) -> Reading:
    """One reading; `engine` None means the engine could not be reached."""
    started = time.monotonic()
    backups, backups_failed = read_backups(target, time.time())
    failed = ["backups"] if backups_failed else []
    if engine is None:
        reading = Reading(
            target.project,
            "engine",
            faktory_view.unreachable("the engine cannot be reached"),
            backups=backups,
            backup_max_age_s=target.backup_max_age_s,
            failed_parts=("server", *failed),
        )
    else:
        reading = _read_deployment(engine, target, timeout, backups, failed)
    return _timed(reading, started)


def _timed(reading: Reading, started: float) -> Reading:
    from dataclasses import replace

    return replace(reading, duration_s=time.monotonic() - started)


def _read_deployment(
    engine: Engine,
    target: Target,
    timeout: float,
    backups: tuple[BackupState, ...],
    failed: list[str],
) -> Reading:
    from faktctl.backups import deployment

    def failure(reason: str, why: str, *parts: str) -> Reading:
        return Reading(
            target.project,
            reason,
            faktory_view.unreachable(why),
            workers=workers,
            backups=backups,
            backup_max_age_s=target.backup_max_age_s,
            failed_parts=(*parts, *failed),
        )

    running = _running_workers(engine, target.project)
    workers = None if running is None else _per_service(running)
    if workers is None:
        failed.append("workers")
    try:
        server = deployment.running_server(engine, target.project)
    except deployment.ServerNotRunning as err:
        reason = "no_server" if "has no" in err.message else "not_running"
        return failure(reason, err.one_line(), "server")
    except FaktctlError as err:
        return failure("engine", err.one_line(), "server")
    container_id = str(server["Id"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        saving = pool.submit(faktory_view.read_last_save, engine, container_id, time.time())
        looking = pool.submit(_processes, engine, server, target, running)
        view, latencies, reason = _ask_server(engine, server, target.password, timeout)
        last_save = saving.result()
        processes, orphans = looking.result()
    if last_save.error is not None:
        failed.append("data")
    if processes is None and "workers" not in failed:
        failed.append("workers")
    if reason != "ok":
        failed.append("server")
    from dataclasses import replace

    return Reading(
        target.project,
        reason,
        replace(view, last_save=last_save),
        latencies=latencies,
        workers=workers,
        processes=processes,
        orphans=orphans,
        backups=backups,
        backup_max_age_s=target.backup_max_age_s,
        failed_parts=tuple(failed),
    )


def _ask_server(
    engine: Engine, server: Mapping[str, Any], password: SecretStr, timeout: float
) -> tuple[faktory_view.FaktoryView, dict[str, float] | None, str]:
    from faktctl.adapters import probe
    from faktctl.backups import deployment
    from faktctl.live import reach

    try:
        with deployment.reaching(engine, server) as endpoint:
            try:
                info, latencies = reach.read_info_and_latency(endpoint, password, timeout)
            except probe.ProbeError as err:
                return faktory_view.unreachable(str(err), str(endpoint)), None, reason_of(str(err))
    except FaktctlError as err:
        return faktory_view.unreachable(err.one_line()), None, "unreachable"
    return faktory_view.from_info(info, str(endpoint)), latencies, "ok"


def _running_workers(engine: Engine, project: str) -> list[dict[str, Any]] | None:
    """The running worker containers (on a swarm: this node's task containers)."""
    from faktctl.backups import deployment

    try:
        return deployment.running_workers(engine, project)
    except FaktctlError:
        return None


def _per_service(running: list[dict[str, Any]]) -> dict[str, int]:
    from faktctl.live import containers

    return dict(Counter(containers.service_of(c) for c in running))


def _processes(
    engine: Engine,
    server: Mapping[str, Any],
    target: Target,
    running: list[dict[str, Any]] | None,
) -> tuple[dict[str, tuple[int, int]] | None, tuple[int, float] | None]:
    """Processes and busy jobs per worker service, and the orphaned reservations, from the
    server's process list and its `working` set (faktctl.platforms.engine.rescue.read). A
    process belongs to the worker container whose id (or hostname) is its hostname."""
    from faktctl.live import containers
    from faktctl.platforms.engine import rescue

    try:
        seen = rescue.read(engine, server, target.desired, target.password)
    except FaktctlError:
        return None, None
    owner: dict[str, str] = {}
    for container in running or []:
        service = containers.service_of(container)
        owner[str(container.get("Id", ""))[:12]] = service
        hostname = (container.get("Config") or {}).get("Hostname")
        if hostname:
            owner[str(hostname)] = service
    per: dict[str, tuple[int, int]] = {}
    for process in seen.processes:
        service = owner.get(process.hostname, owner.get(process.hostname[:12], ""))
        count, busy = per.get(service, (0, 0))
        per[service] = (count + 1, busy + (process.busy or 0))
    for service in set(owner.values()):
        per.setdefault(service, (0, 0))
    orphans = seen.orphans
    oldest = max((seen.now - r.reserved_at for r in orphans if r.reserved_at), default=0.0)
    return per, (len(orphans), max(0.0, oldest))


def read_backups(target: Target, now: float) -> tuple[tuple[BackupState, ...], bool]:
    """The newest backup of each local destination; True when one could not be listed."""
    from faktctl.backups import manifest

    states: list[BackupState] = []
    failed = False
    for text, folder in target.backup_dirs:
        try:
            listing = manifest.list_backups(folder, target.project)
        except manifest.ManifestError:
            states.append(BackupState(text, readable=False))
            failed = True
            continue
        newest = listing.newest
        if newest is None:
            states.append(BackupState(text, readable=True))
            continue
        found = newest.manifest
        states.append(
            BackupState(
                text,
                readable=True,
                newest_age_s=max(0.0, now - found.created_at.timestamp()),
                newest_size=found.size,
                last_ok=_snapshot_intact(newest.snapshot_path, found.size),
                verify_ok=None if found.verification is None else found.verification.ok,
            )
        )
    return tuple(states), failed


def _snapshot_intact(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False
