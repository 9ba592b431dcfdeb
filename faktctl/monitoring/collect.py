"""The reads of a deployment for `faktctl metrics`: the engine, the server and the backups.

The server is found the way backups find it (faktctl.backups.deployment: the project's
running server container, or on a swarm the server task's container on this node, reached
through its published port or a relay), so the engine and the Swarm platform read the same.
Over one authenticated connection the server answers INFO and `QUEUE LATENCY` (1.9.2+,
faktctl.live.reach). `Around` is the rest: the worker containers, the process list and
reservations (faktctl.platforms.engine.rescue) and Redis's persistence state (an exec in the
container, faktctl.live.view.read_last_save). The backups' newest manifests are read from each
local destination of `backup:` (restic repositories are not listed on every scrape: that
takes seconds; `faktctl audit` reads them).

A `Session` keeps the server's container and the connection between the scrapes of
`--listen`: a warm scrape is one round trip to the server, and `Around`, whose execs cost a
hundred times more, is read again in the background every REFRESH_S. Nothing here raises for
a deployment that cannot be read: the reading says why (`reason`, `failed_parts`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl.adapters import probe
from faktctl.errors import FaktctlError
from faktctl.live import view as faktory_view
from faktctl.monitoring.reading import BackupState, Reading, reason_of
from faktctl.monitoring.series import REFRESH_S
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


@dataclass(frozen=True)
class Around:
    """What a scrape reads besides INFO: the worker containers, the server's process list and
    reservations, Redis's persistence state. Under `--listen` it is read again in the
    background every REFRESH_S (its execs cost far more than INFO); its ages go on counting
    from `read_at` in between."""

    container_id: str
    read_at: float  # time.monotonic()
    workers: dict[str, int] | None
    processes: dict[str, tuple[int, int]] | None
    orphans: tuple[int, float] | None
    last_save: faktory_view.LastSave
    failed: tuple[str, ...]

    def at(self, now: float) -> tuple[float, faktory_view.LastSave, tuple[int, float] | None]:
        """(seconds since it was read, the last save and the orphans with their ages then)."""
        since = max(0.0, now - self.read_at)
        save = self.last_save
        if save.age_s is not None:
            save = replace(save, age_s=save.age_s + since)
        orphans = self.orphans
        if orphans is not None and orphans[0]:
            orphans = (orphans[0], orphans[1] + since)
        return since, save, orphans


@dataclass
class _Line:
    """The connection kept open to the server between scrapes (and the relay under it)."""

    server: Mapping[str, Any]  # the container's inspect when it was found
    endpoint: str
    conn: probe.FaktoryConnection
    stack: contextlib.ExitStack
    queues: tuple[str, ...] = ()  # asked for their latency with the next INFO

    @property
    def container_id(self) -> str:
        return str(self.server["Id"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.stack.close()


class Session:
    """The reads of one faktctl process: a single `read` for `faktctl metrics`, one per scrape
    under `--listen`. Between scrapes it keeps the server's container and an authenticated
    connection to it, so a warm scrape costs INFO and QUEUE LATENCY in one round trip; the
    engine is asked again only when that connection fails (the server stopped, restarted or
    moved), which makes that scrape say `faktory_up 0` when the server is gone. `Around` is
    read with the server's container when it is found, then in the background once it is
    older than `refresh_s`."""

    def __init__(self, target: Target, timeout: float, refresh_s: float = REFRESH_S) -> None:
        self._target = target
        self._timeout = timeout
        self._refresh_s = refresh_s
        self._line: _Line | None = None
        self._around: Around | None = None
        self._lock = threading.Lock()
        self._refreshing = False

    def close(self) -> None:
        if self._line is not None:
            self._line.close()
            self._line = None

    def read(self, engine: Engine | None) -> Reading:
        """One reading; `engine` None means the engine could not be reached."""
        started = time.monotonic()
        target = self._target
        backups, backups_failed = read_backups(target, time.time())
        failed = ["backups"] if backups_failed else []
        if engine is None:
            self.close()
            reading = Reading(
                target.project,
                "engine",
                faktory_view.unreachable("the engine cannot be reached"),
                backups=backups,
                backup_max_age_s=target.backup_max_age_s,
                failed_parts=("server", *failed),
            )
        else:
            found = self._warm(engine, backups, failed) if self._line is not None else None
            reading = found or self._found(engine, backups, failed)
        return replace(reading, duration_s=time.monotonic() - started)

    def _warm(
        self, engine: Engine, backups: tuple[BackupState, ...], failed: list[str]
    ) -> Reading | None:
        """The reading over the kept connection; None when it failed (it is closed)."""
        from faktctl.live import reach

        line, around = self._line, self._around
        assert line is not None
        if around is None or around.container_id != line.container_id:
            self.close()
            return None
        try:
            info, latencies = reach.info_and_latency(line.conn, line.queues)
        except probe.ProbeError:
            self.close()
            return None
        line.queues = tuple(latencies or ())
        now = time.monotonic()
        if now - around.read_at >= self._refresh_s:
            self._refresh_in_background(engine, line.server)
        return self._reading(
            faktory_view.from_info(info, line.endpoint), latencies, around, backups, failed
        )

    def _reading(
        self,
        view: faktory_view.FaktoryView,
        latencies: dict[str, float] | None,
        around: Around,
        backups: tuple[BackupState, ...],
        failed: list[str],
        *,
        fresh: bool = False,  # `around` was read by this scrape
    ) -> Reading:
        since, last_save, orphans = around.at(around.read_at if fresh else time.monotonic())
        return Reading(
            self._target.project,
            "ok",
            replace(view, last_save=last_save),
            latencies=latencies,
            workers=around.workers,
            processes=around.processes,
            orphans=orphans,
            backups=backups,
            backup_max_age_s=self._target.backup_max_age_s,
            failed_parts=(*failed, *around.failed),
            part_ages={"data": since, "workers": since},
        )

    def _found(
        self, engine: Engine, backups: tuple[BackupState, ...], failed: list[str]
    ) -> Reading:
        """Find the server's container on the engine, read it all and keep a connection."""
        from faktctl.backups import deployment

        target = self._target
        running = _running_workers(engine, target.project)

        def failure(reason: str, why: str, *parts: str) -> Reading:
            self._around = None
            return Reading(
                target.project,
                reason,
                faktory_view.unreachable(why),
                workers=None if running is None else _per_service(running),
                backups=backups,
                backup_max_age_s=target.backup_max_age_s,
                failed_parts=(*parts, *failed, *([] if running is not None else ["workers"])),
            )

        try:
            server = deployment.running_server(engine, target.project)
        except deployment.ServerNotRunning as err:
            reason = "no_server" if "has no" in err.message else "not_running"
            return failure(reason, err.one_line(), "server")
        except FaktctlError as err:
            return failure("engine", err.one_line(), "server")
        with ThreadPoolExecutor(max_workers=1) as pool:
            reading_around = pool.submit(read_around, engine, server, target, running)
            asked = self._connect(engine, server)
            around = reading_around.result()
        self._around = around
        if isinstance(asked, str):  # the container runs: its data and workers are still told
            reading = self._reading(
                faktory_view.unreachable(asked),
                None,
                around,
                backups,
                ["server", *failed],
                fresh=True,
            )
            return replace(reading, reason=reason_of(asked))
        view, latencies = asked
        return self._reading(view, latencies, around, backups, failed, fresh=True)

    def _connect(
        self, engine: Engine, server: Mapping[str, Any]
    ) -> tuple[faktory_view.FaktoryView, dict[str, float] | None] | str:
        """The server's view over a new connection, kept as the session's line; or why not."""
        from faktctl.backups import deployment
        from faktctl.live import reach

        stack = contextlib.ExitStack()
        try:
            endpoint = stack.enter_context(deployment.reaching(engine, server))
            conn = probe.FaktoryConnection(
                endpoint.host,
                endpoint.port,
                self._target.password,
                timeout=self._timeout,
                tls=endpoint.tls,
            )
            stack.callback(conn.close)
            info, latencies = reach.info_and_latency(conn)
        except probe.ProbeError as err:
            stack.close()
            return str(err)
        except FaktctlError as err:
            stack.close()
            return err.one_line()
        self.close()
        line = _Line(server, str(endpoint), conn, stack, tuple(latencies or ()))
        self._line = line
        return faktory_view.from_info(info, line.endpoint), latencies

    def _refresh_in_background(self, engine: Engine, server: Mapping[str, Any]) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True

        def refresh() -> None:
            try:
                running = _running_workers(engine, self._target.project)
                around = read_around(engine, server, self._target, running)
                if self._line is not None and self._line.container_id == around.container_id:
                    self._around = around
            except Exception:  # the next scrape's read finds what is wrong
                pass
            finally:
                with self._lock:
                    self._refreshing = False

        threading.Thread(target=refresh, name="faktctl-metrics-refresh", daemon=True).start()


def read_around(
    engine: Engine,
    server: Mapping[str, Any],
    target: Target,
    running: list[dict[str, Any]] | None,
) -> Around:
    """The worker containers (`running`, None: they could not be listed), the processes and
    reservations, and Redis's persistence state, the two last read at the same time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        saving = pool.submit(faktory_view.read_last_save, engine, str(server["Id"]), time.time())
        processes, orphans = _processes(engine, server, target, running)
        last_save = saving.result()
    failed = []
    # Redis answered but nothing was ever saved (a new server): no snapshot age, not an error
    if last_save.error is not None and last_save.status is None:
        failed.append("data")
    if running is None or processes is None:
        failed.append("workers")
    return Around(
        str(server["Id"]),
        time.monotonic(),
        None if running is None else _per_service(running),
        processes,
        orphans,
        last_save,
        tuple(failed),
    )


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
