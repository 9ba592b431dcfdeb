"""Every metric family `faktctl metrics` exposes: name, type, help text and labels.

The one table of them. The exposition (faktctl.monitoring.exposition) writes `# HELP` and
`# TYPE` from it, the samples (faktctl.monitoring.reading) must name one of these families,
the alert rules (faktctl.monitoring.rules) use these names, and `python -m tests.support.docs`
turns the table into docs/metrics.md. Units are base units (seconds, bytes); every family
carries the `project` label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "info"]
PREFIX = "faktory_"
CONNECTION_LIMIT = 2000  # Faktory OSS refuses connections past 2000 (server/config.go, 1.9.0+)
# under --listen: how often the data and workers parts are read again (in the background)
REFRESH_S = 10
_EVERY = f" Under --listen read every {REFRESH_S} s (faktory_scrape_part_age_seconds)."


@dataclass(frozen=True)
class Family:
    """One metric family. `name` is the sample's name: counters end in `_total`, info series
    in `_info` (OpenMetrics names the family without that suffix)."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ("project",)
    group: str = "server"

    @property
    def family_name(self) -> str:
        """The name OpenMetrics gives the family (`# TYPE` line)."""
        if self.kind == "counter":
            return self.name.removesuffix("_total")
        if self.kind == "info":
            return self.name.removesuffix("_info")
        return self.name


P = ("project",)
FAMILIES: tuple[Family, ...] = (
    # --- the server
    Family("faktory_up", "gauge", "1 when this scrape read the server's INFO, else 0."),
    Family(
        "faktory_up_reason_info",
        "info",
        "Why faktory_up is what it is (value 1): reason is ok, no_server, not_running, "
        "unreachable, refused, timeout or engine.",
        (*P, "reason"),
    ),
    Family(
        "faktory_server_info",
        "info",
        "The running server's version and description (value 1).",
        (*P, "version", "description"),
    ),
    Family("faktory_server_uptime_seconds", "gauge", "Seconds since the server started."),
    Family("faktory_server_connections", "gauge", "Client connections open on the server."),
    Family(
        "faktory_server_connections_limit",
        "gauge",
        f"Connections the server accepts before it refuses new ones ({CONNECTION_LIMIT} in "
        "Faktory OSS).",
    ),
    Family("faktory_server_commands_total", "counter", "Commands the server ran since it started."),
    Family(
        "faktory_server_memory_bytes",
        "gauge",
        "Memory of the server process (INFO used_memory_mb, so a multiple of 1 MiB).",
    ),
    # --- queues and sets
    Family("faktory_queue_jobs", "gauge", "Jobs waiting in the queue.", (*P, "queue"), "queues"),
    Family(
        "faktory_queue_latency_seconds",
        "gauge",
        "Seconds the oldest job of the queue has waited (QUEUE LATENCY; 0 when empty). "
        "Absent on servers older than 1.9.2.",
        (*P, "queue"),
        "queues",
    ),
    Family(
        "faktory_queue_latency_available",
        "gauge",
        "1 when the server answers QUEUE LATENCY (Faktory 1.9.2+), else 0.",
        P,
        "queues",
    ),
    Family(
        "faktory_set_jobs",
        "gauge",
        "Jobs in the scheduled, retries, dead or working set (working: reserved by a worker "
        "right now, the busy count).",
        (*P, "set"),
        "queues",
    ),
    Family(
        "faktory_jobs_processed_total",
        "counter",
        "Jobs processed since the data was created (failures included).",
        P,
        "queues",
    ),
    Family(
        "faktory_jobs_failed_total",
        "counter",
        "Jobs that failed since the data was created.",
        P,
        "queues",
    ),
    # --- the server's data (Redis persistence)
    Family(
        "faktory_data_last_save_age_seconds",
        "gauge",
        "Seconds since the last successful snapshot of the data (faktory.rdb); absent before "
        "a new server's first snapshot." + _EVERY,
        P,
        "data",
    ),
    Family(
        "faktory_data_last_bgsave_ok",
        "gauge",
        "1 when Redis's last background save succeeded, else 0." + _EVERY,
        P,
        "data",
    ),
    Family(
        "faktory_data_save_in_progress",
        "gauge",
        "1 while Redis writes a snapshot, else 0." + _EVERY,
        P,
        "data",
    ),
    Family(
        "faktory_data_changes_since_save",
        "gauge",
        "Writes not in the snapshot on disk yet." + _EVERY,
        P,
        "data",
    ),
    # --- backups (per destination of backup:)
    Family(
        "faktory_backup_destination_readable",
        "gauge",
        "1 when faktctl could list the destination's backups, else 0.",
        (*P, "destination"),
        "backups",
    ),
    Family(
        "faktory_backup_newest_age_seconds",
        "gauge",
        "Seconds since the newest backup in the destination was taken.",
        (*P, "destination"),
        "backups",
    ),
    Family(
        "faktory_backup_newest_size_bytes",
        "gauge",
        "Size of the newest backup's snapshot file.",
        (*P, "destination"),
        "backups",
    ),
    Family(
        "faktory_backup_last_ok",
        "gauge",
        "1 when the newest backup's snapshot file is present with the size its manifest "
        "records, else 0.",
        (*P, "destination"),
        "backups",
    ),
    Family(
        "faktory_backup_verify_ok",
        "gauge",
        "1 when the newest backup's last `faktctl backup verify` passed, 0 when it failed; "
        "absent until it is verified.",
        (*P, "destination"),
        "backups",
    ),
    Family(
        "faktory_backup_max_age_seconds",
        "gauge",
        "backup.max_age of the spec: the newest backup must be younger.",
        P,
        "backups",
    ),
    # --- workers
    Family(
        "faktory_workers_connected",
        "gauge",
        "Worker processes with a live heartbeat on the server.",
        P,
        "workers",
    ),
    Family(
        "faktory_worker_containers_running",
        "gauge",
        "Running containers of the worker service on the engine faktctl reaches." + _EVERY,
        (*P, "worker"),
        "workers",
    ),
    Family(
        "faktory_worker_processes",
        "gauge",
        "Worker processes the server lists (its dashboard's /busy page) per worker service; "
        "worker is empty for a process in no container of the project." + _EVERY,
        (*P, "worker"),
        "workers",
    ),
    Family(
        "faktory_worker_busy_jobs",
        "gauge",
        "Jobs the worker service's processes are running now (the busy count)." + _EVERY,
        (*P, "worker"),
        "workers",
    ),
    Family(
        "faktory_reservations_orphaned",
        "gauge",
        "Jobs reserved by a process the server no longer lists (a crashed worker): "
        "`faktctl rescue` hands them back." + _EVERY,
        P,
        "workers",
    ),
    Family(
        "faktory_reservations_orphaned_oldest_seconds",
        "gauge",
        "Seconds since the oldest orphaned reservation was made (0 with none)." + _EVERY,
        P,
        "workers",
    ),
    # --- faktctl itself
    Family(
        "faktory_scrape_duration_seconds",
        "gauge",
        "Seconds this scrape took to read the engine, the server and the backups.",
        P,
        "scrape",
    ),
    Family(
        "faktory_scrape_part_age_seconds",
        "gauge",
        "Seconds since faktctl read the part this scrape reports (part is data or workers): "
        "0 for `faktctl metrics` and --textfile; under --listen these parts are read again "
        f"in the background every {REFRESH_S} s, and their ages count on in between.",
        (*P, "part"),
        "scrape",
    ),
    Family(
        "faktory_scrape_errors_total",
        "counter",
        "Parts of a scrape that could not be read (part is server, data, backups or "
        "workers), since faktctl started.",
        (*P, "part"),
        "scrape",
    ),
)

BY_NAME = {family.name: family for family in FAMILIES}
