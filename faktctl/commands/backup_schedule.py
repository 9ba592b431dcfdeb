"""faktctl backup schedule: write (or install) the systemd timer, or print a crontab line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from faktctl import ui
from faktctl.adapters import systemd
from faktctl.backups import schedule
from faktctl.errors import ExitCode, OperationFailed, UsageError
from faktctl.fsutil import atomic_write
from faktctl.project import open_project


def _job(file: Path | None) -> schedule.Job:
    from faktctl.backups.pipeline import policy_of

    project = open_project(file)
    policy = policy_of(project)
    return schedule.Job(
        project=project.loaded.spec.project,
        spec_path=project.loaded.path.absolute(),
        command=(sys.executable, "-m", "faktctl"),
        schedule=policy.schedule,
    )


def _check_calendar(expression: str) -> None:
    """With systemd-analyze at hand, refuse a schedule systemd would not accept."""
    reason = systemd.calendar_problem(expression)
    if reason is not None:
        raise UsageError(
            f"backup.schedule `{expression}` is not a systemd calendar expression: {reason}",
            "see `man systemd.time`, e.g. hourly, daily, `*-*-* 02:30:00`",
        )


def run(file: Path | None, *, cron: bool, install: bool, out: Path | None) -> int:
    job = _job(file)
    if cron:
        if install:
            raise UsageError("--install works with the systemd timer, not --cron")
        line = schedule.cron_line(job).rstrip("\n")
        ui.info(f"add this line to a crontab (`crontab -e`) to back up {job.project}:")
        ui.data(line)
        return ExitCode.OK
    _check_calendar(job.schedule)
    if install:
        if os.geteuid() != 0:
            raise UsageError("--install needs root (it writes /etc/systemd/system)")
        if not systemd.running():
            raise UsageError("--install needs a host running systemd", "use --cron instead")
        folder = schedule.SYSTEM_UNIT_DIR
    else:
        folder = (out or job.spec_path.parent).absolute()
    service = folder / f"{job.unit}.service"
    timer = folder / f"{job.unit}.timer"
    texts = schedule.service_text(job), schedule.timer_text(job)  # refused before any write
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(service, texts[0], mode=0o644)
        atomic_write(timer, texts[1], mode=0o644)
    except OSError as err:
        reason = err.strerror or err
        raise OperationFailed(f"cannot write the units to {folder}: {reason}") from None
    if install:
        for command in schedule.enable_commands(job)[:2]:
            systemd.run(command.split())
        ui.info(f"installed {service} and {timer}; the timer runs `{job.schedule}`")
        return ExitCode.OK
    ui.info(f"wrote {service.name} and {timer.name} (OnCalendar={job.schedule}) to {folder}")
    ui.info(f"as root, copy them to {schedule.SYSTEM_UNIT_DIR}/ and run:")
    for command in schedule.enable_commands(job):
        ui.info(f"  {command}")
    ui.data(str(service))
    ui.data(str(timer))
    return ExitCode.OK
