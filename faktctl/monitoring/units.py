"""The systemd units `faktctl metrics --install` writes (pure text), quoted the way
`backup schedule` quotes its units (faktctl.backups.schedule.systemd_quote).

- with `--listen`: a long-running service (restarted when it stops);
- with `--textfile`: a oneshot service and a timer that runs it every minute, for
  node_exporter's textfile collector.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from faktctl.backups.schedule import systemd_path, systemd_quote

TEXTFILE_SCHEDULE = "minutely"


@dataclass(frozen=True)
class MetricsJob:
    project: str
    spec_path: Path  # absolute
    argv: tuple[str, ...]  # the whole command line the service runs
    textfile: bool

    @property
    def unit(self) -> str:
        return f"faktctl-metrics-{self.project}"


def service_text(job: MetricsJob) -> str:
    exec_start = " ".join(systemd_quote(arg) for arg in job.argv)
    mode = "Type=oneshot\n" if job.textfile else "Type=simple\nRestart=always\nRestartSec=5\n"
    return (
        "# Written by `faktctl metrics --install`.\n"
        "[Unit]\n"
        f"Description=faktctl metrics of the Faktory project {job.project}\n"
        "Wants=network-online.target\n"
        "After=network-online.target docker.service\n"
        "\n"
        "[Service]\n"
        f"{mode}"
        f"WorkingDirectory={systemd_path(str(job.spec_path.parent))}\n"
        "Environment=NO_COLOR=1\n"
        f"ExecStart={exec_start}\n"
        "Nice=5\n" + ("" if job.textfile else "\n[Install]\nWantedBy=multi-user.target\n")
    )


def timer_text(job: MetricsJob) -> str:
    return (
        "# Written by `faktctl metrics --install`.\n"
        "[Unit]\n"
        f"Description=Write the Faktory metrics of {job.project} for node_exporter\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar={TEXTFILE_SCHEDULE}\n"
        "AccuracySec=1s\n"
        f"Unit={job.unit}.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def unit_files(job: MetricsJob) -> dict[str, str]:
    """File name -> content."""
    files = {f"{job.unit}.service": service_text(job)}
    if job.textfile:
        files[f"{job.unit}.timer"] = timer_text(job)
    return files


def enable_commands(job: MetricsJob) -> list[str]:
    started = f"{job.unit}.timer" if job.textfile else f"{job.unit}.service"
    return [
        "systemctl daemon-reload",
        f"systemctl enable --now {started}",
        f"systemctl status {started}",
    ]
