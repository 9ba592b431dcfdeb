"""What one scrape read, and the samples it becomes (pure).

A `Reading` holds the server's view (faktctl.live.view: INFO and Redis's persistence state),
the queue latencies, the worker containers and the backups' newest manifests. `samples` turns
it into the series of faktctl.monitoring.series; what could not be read is absent, never
invented (a server older than 1.9.2 has no latency series; a server that is down has
`faktory_up 0` and its reason, and nothing the server would have said).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from faktctl.live.view import FaktoryView
from faktctl.monitoring.exposition import Sample
from faktctl.monitoring.series import CONNECTION_LIMIT

REASONS = ("ok", "no_server", "not_running", "unreachable", "refused", "timeout", "engine")
PARTS = ("server", "data", "backups", "workers")


@dataclass(frozen=True)
class BackupState:
    """The newest backup of one destination (`readable` False: its listing failed)."""

    destination: str
    readable: bool
    newest_age_s: float | None = None
    newest_size: int | None = None
    last_ok: bool | None = None
    verify_ok: bool | None = None


@dataclass(frozen=True)
class Reading:
    project: str
    reason: str  # one of REASONS; "ok" when the server's INFO was read
    view: FaktoryView
    latencies: Mapping[str, float] | None = None  # None: the server has no QUEUE LATENCY
    workers: Mapping[str, int] | None = None  # worker service -> running containers
    processes: Mapping[str, tuple[int, int]] | None = None  # worker -> (processes, busy jobs)
    orphans: tuple[int, float] | None = None  # (orphaned reservations, oldest age in s)
    backups: tuple[BackupState, ...] = ()
    backup_max_age_s: float | None = None
    failed_parts: tuple[str, ...] = ()  # PARTS that could not be read this time
    duration_s: float = 0.0
    # part -> seconds since it was read (under --listen "data" and "workers" are read every
    # faktctl.monitoring.collect.REFRESH_S, not on every scrape)
    part_ages: Mapping[str, float] = field(default_factory=dict)

    @property
    def up(self) -> bool:
        return self.reason == "ok"


def reason_of(error: str) -> str:
    """The `reason` label for a wire error (faktctl.adapters.probe's messages)."""
    if "HELLO refused" in error:
        return "refused"
    if "timed out" in error:
        return "timeout"
    return "unreachable"


def samples(reading: Reading, errors_total: Mapping[str, int]) -> list[Sample]:
    """The series of one reading; `errors_total` counts the failed parts since start."""
    project = {"project": reading.project}
    out: list[Sample] = []

    def add(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            out.append(Sample(name, {**project, **labels}, float(value)))

    view = reading.view
    add("faktory_up", 1 if reading.up else 0)
    add("faktory_up_reason_info", 1, reason=reading.reason)
    if reading.up:
        _server(add, view)
        name = reading.project  # two series per queue: made here without `add`'s merging
        out += [
            Sample("faktory_queue_jobs", {"project": name, "queue": q}, float(size))
            for q, size in view.queues.items()
        ]
        add("faktory_queue_latency_available", 0 if reading.latencies is None else 1)
        out += [
            Sample("faktory_queue_latency_seconds", {"project": name, "queue": q}, float(age))
            for q, age in sorted((reading.latencies or {}).items())
        ]
        for name, size in view.sets.items():
            add("faktory_set_jobs", size, set=name)
        add("faktory_jobs_processed_total", view.processed)
        add("faktory_jobs_failed_total", view.failed)
        add("faktory_workers_connected", view.workers)
    save = view.last_save
    if save is not None:
        add("faktory_data_last_save_age_seconds", save.age_s)
        if save.status is not None:
            add("faktory_data_last_bgsave_ok", 1 if save.status == "ok" else 0)
        if save.age_s is not None or save.status is not None:
            add("faktory_data_save_in_progress", 1 if save.in_progress else 0)
        add("faktory_data_changes_since_save", save.changes_since)
    for backup in reading.backups:
        where = {"destination": backup.destination}
        add("faktory_backup_destination_readable", 1 if backup.readable else 0, **where)
        add("faktory_backup_newest_age_seconds", backup.newest_age_s, **where)
        add("faktory_backup_newest_size_bytes", backup.newest_size, **where)
        if backup.last_ok is not None:
            add("faktory_backup_last_ok", 1 if backup.last_ok else 0, **where)
        if backup.verify_ok is not None:
            add("faktory_backup_verify_ok", 1 if backup.verify_ok else 0, **where)
    add("faktory_backup_max_age_seconds", reading.backup_max_age_s)
    for worker, running in sorted((reading.workers or {}).items()):
        add("faktory_worker_containers_running", running, worker=worker)
    for worker, (count, busy) in sorted((reading.processes or {}).items()):
        add("faktory_worker_processes", count, worker=worker)
        add("faktory_worker_busy_jobs", busy, worker=worker)
    if reading.orphans is not None:
        add("faktory_reservations_orphaned", reading.orphans[0])
        add("faktory_reservations_orphaned_oldest_seconds", round(reading.orphans[1], 3))
    add("faktory_scrape_duration_seconds", round(reading.duration_s, 6))
    for part, age in sorted(reading.part_ages.items()):
        add("faktory_scrape_part_age_seconds", round(age, 3), part=part)
    for part in PARTS:
        add("faktory_scrape_errors_total", errors_total.get(part, 0), part=part)
    return out


def _server(add: _Add, view: FaktoryView) -> None:
    add(
        "faktory_server_info",
        1,
        version=view.version or "",
        description=view.description or "",
    )
    add("faktory_server_uptime_seconds", view.uptime_s)
    add("faktory_server_connections", view.connections)
    add("faktory_server_connections_limit", CONNECTION_LIMIT)
    add("faktory_server_commands_total", view.commands)
    add("faktory_server_memory_bytes", None if view.memory_mb is None else view.memory_mb * 2**20)


class _Add(Protocol):
    def __call__(self, name: str, value: float | None, **labels: str) -> None: ...


@dataclass
class ErrorCounts:
    """Failed parts since faktctl started (the counter behind faktory_scrape_errors_total)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PARTS, 0))

    def add(self, reading: Reading) -> dict[str, int]:
        for part in reading.failed_parts:
            self.counts[part] = self.counts.get(part, 0) + 1
        return dict(self.counts)
