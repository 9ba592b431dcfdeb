"""`prometheus/faktory-rules.yaml`: Prometheus alerting rules for one project, with the
thresholds of the spec's `monitoring:` section (faktctl.spec.monitoring) and `backup.max_age`
(pure). Each alert has a severity label, a summary, and a description that names the faktctl
command to run. The series are those of faktctl.monitoring.series.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from faktctl.spec.model import Spec
from faktctl.spec.types import format_duration

RULES_DIR = "prometheus"
RULES_FILENAME = "faktory-rules.yaml"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: timedelta | None
    severity: str  # critical | warning
    summary: str
    description: str


def rules_path(spec_dir: Path) -> Path:
    return spec_dir / RULES_DIR / RULES_FILENAME


def _seconds(value: timedelta) -> str:
    return str(int(value.total_seconds()))


def alerts(spec: Spec) -> list[Alert]:
    m = spec.monitoring
    p = f'project="{spec.project}"'
    fix_status = "run `faktctl status` beside the spec"
    found = [
        Alert(
            "FaktoryDown",
            f"faktory_up{{{p}}} == 0",
            m.server_down_for,
            "critical",
            "The Faktory server of {{ $labels.project }} is down",
            f"faktctl cannot read the server's INFO: {fix_status} to see why, "
            "`faktctl logs --service faktory` for its log, and `faktctl up` to start it again.",
        ),
        Alert(
            "FaktoryMetricsAbsent",
            f"absent(faktory_up{{{p}}})",
            m.alert_for,
            "warning",
            f"No Faktory metrics for {spec.project}",
            "Prometheus scrapes nothing from `faktctl metrics`: check the scrape target, or "
            "install the exporter with `faktctl metrics --listen 127.0.0.1:9386 --install`.",
        ),
        Alert(
            "FaktoryQueueLatencyHigh",
            f"max by (project, queue) (faktory_queue_latency_seconds{{{p}}}) > "
            f"{_seconds(m.queue_latency)}",
            m.alert_for,
            "warning",
            "Queue {{ $labels.queue }} of {{ $labels.project }}: the oldest job has waited "
            "{{ $value | humanizeDuration }}",
            f"Jobs wait longer than {format_duration(m.queue_latency)} "
            "(monitoring.queue_latency). Add workers (raise `replicas` of the worker in the "
            "spec, then `faktctl up`) or check they run: `faktctl status`.",
        ),
        Alert(
            "FaktoryDeadGrowing",
            f'delta(faktory_set_jobs{{{p},set="dead"}}[{format_duration(m.growth_window)}]) > '
            f"{m.dead_growth}",
            None,
            "warning",
            f"The dead set of {{{{ $labels.project }}}} grew by more than {m.dead_growth} jobs "
            f"in {format_duration(m.growth_window)}",
            f"More than {m.dead_growth} jobs ran out of retries in "
            f"{format_duration(m.growth_window)}. Read their errors in the dashboard "
            "(`faktctl dashboard`, Dead tab) and the workers' logs (`faktctl logs`).",
        ),
        Alert(
            "FaktoryRetriesGrowing",
            f'delta(faktory_set_jobs{{{p},set="retries"}}[{format_duration(m.growth_window)}])'
            f" > {m.retries_growth}",
            None,
            "warning",
            f"The retries set of {{{{ $labels.project }}}} grew by more than {m.retries_growth} "
            f"jobs in {format_duration(m.growth_window)}",
            f"More than {m.retries_growth} jobs failed and wait for a retry in "
            f"{format_duration(m.growth_window)}. Read the errors in `faktctl dashboard` "
            "(Retries tab) and `faktctl logs`.",
        ),
        Alert(
            "FaktorySnapshotFailing",
            f"faktory_data_last_bgsave_ok{{{p}}} == 0",
            m.alert_for,
            "critical",
            "The Faktory server of {{ $labels.project }} cannot save its data",
            "Redis's last background save failed: a restart would lose every job since the "
            "last snapshot. Run `faktctl status --verbose` and `faktctl audit --live`, check "
            "the data volume's free space, and take a backup now (`faktctl backup`).",
        ),
        Alert(
            "FaktorySnapshotStale",
            f"faktory_data_last_save_age_seconds{{{p}}} > {_seconds(m.snapshot_max_age)}",
            m.alert_for,
            "warning",
            "The last snapshot of {{ $labels.project }} is {{ $value | humanizeDuration }} old",
            f"No snapshot in {format_duration(m.snapshot_max_age)} "
            "(monitoring.snapshot_max_age). Run `faktctl status --verbose` and "
            "`faktctl audit --live`.",
        ),
        Alert(
            "FaktoryConnectionsNearLimit",
            f"faktory_server_connections{{{p}}} / faktory_server_connections_limit{{{p}}} > "
            f"{m.connections_ratio:g}",
            m.alert_for,
            "warning",
            "{{ $labels.project }} uses {{ $value | humanizePercentage }} of the server's "
            "connections",
            "Past the limit the server refuses new connections. Lower the workers' "
            "concurrency or replicas in the spec and run `faktctl up`; `faktctl status` shows "
            "the open connections.",
        ),
        Alert(
            "FaktoryOrphanedReservations",
            f"faktory_reservations_orphaned{{{p}}} > 0",
            m.alert_for,
            "warning",
            "{{ $value }} jobs of {{ $labels.project }} are reserved by a worker that is gone",
            "A worker process died holding jobs; the server hands them back only when their "
            "reservation expires (30 min by default). Hand them back now with "
            "`faktctl rescue` (`--dry-run` first shows them).",
        ),
    ]
    if spec.backup is not None:
        max_age = spec.backup.max_age
        found += [
            Alert(
                "FaktoryBackupStale",
                f"faktory_backup_newest_age_seconds{{{p}}} > {_seconds(max_age)}",
                None,
                "critical",
                "The newest backup of {{ $labels.project }} in {{ $labels.destination }} is "
                "{{ $value | humanizeDuration }} old",
                f"Older than backup.max_age ({format_duration(max_age)}). Take one with "
                "`faktctl backup` and schedule them: `faktctl backup schedule --install`.",
            ),
            Alert(
                "FaktoryBackupFailing",
                f"faktory_backup_last_ok{{{p}}} == 0 or faktory_backup_verify_ok{{{p}}} == 0 "
                f"or faktory_backup_destination_readable{{{p}}} == 0",
                m.alert_for,
                "critical",
                "The newest backup of {{ $labels.project }} in {{ $labels.destination }} is "
                "not usable",
                "Its snapshot file is missing or truncated, its verification failed, or the "
                "destination cannot be read. Run `faktctl backup verify`, then `faktctl backup`.",
            ),
        ]
    return found


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def render_rules(spec: Spec, spec_name: str) -> str:
    lines = [
        f"# Written by `faktctl render --target prometheus` from {spec_name}; do not edit:",
        "# change `monitoring:` in the spec and render again. Load it with rule_files:.",
        "groups:",
        f"  - name: {_q('faktory-' + spec.project)}",
        "    rules:",
    ]
    for alert in alerts(spec):
        lines += [
            f"      - alert: {alert.name}",
            f"        expr: {_q(alert.expr)}",
        ]
        if alert.for_ is not None:
            lines.append(f"        for: {format_duration(alert.for_)}")
        lines += [
            "        labels:",
            f"          severity: {alert.severity}",
            "        annotations:",
            f"          summary: {_q(alert.summary)}",
            f"          description: {_q(alert.description)}",
        ]
    return "\n".join(lines) + "\n"
