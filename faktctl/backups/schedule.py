"""Run `faktctl backup` on a schedule: a systemd service + timer pair, or a crontab line.

Pure text building (unit-tested and checked with `systemd-analyze verify` end to end); the
command writes the files atomically and, with --install as root on a systemd host, puts them
in /etc/systemd/system and enables the timer.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from faktctl.errors import UsageError

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
RANDOMIZED_DELAY = "5min"
# systemd shorthands cron also knows (as @word)
CRON_SHORTHANDS = {
    "hourly": "@hourly",
    "daily": "@daily",
    "weekly": "@weekly",
    "monthly": "@monthly",
    "yearly": "@yearly",
    "annually": "@annually",
}
_CRON_FIELDS = re.compile(r"^\S+\s+\S+\s+\S+\s+\S+\s+\S+$")


@dataclass(frozen=True)
class Job:
    project: str
    spec_path: Path  # absolute
    command: tuple[str, ...]  # how to run faktctl, e.g. (python, "-m", "faktctl")
    schedule: str

    @property
    def unit(self) -> str:
        return f"faktctl-backup-{self.project}"

    @property
    def argv(self) -> tuple[str, ...]:
        return (*self.command, "backup", "-f", str(self.spec_path))


def _quotable(text: str, where: str) -> str:
    """`text` (a path) when a unit file or a crontab line can name it; else a one-line refusal.
    Neither can hold a newline (it would end the line: in a crontab, an injected job), and a
    unit file is UTF-8 text."""
    if "\n" in text or "\r" in text:
        raise UsageError(
            f"{text!r} holds a newline, which {where} cannot hold",
            "rename the folder (a newline would end the line and start another)",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{text!r} is not UTF-8 text, which {where} needs", "rename the folder"
        ) from None
    return text


def systemd_path(path: str) -> str:
    """A path as the whole value of WorkingDirectory= or EnvironmentFile=: systemd takes it
    as it stands (no quote removal: a quoted path is "not absolute"), expanding only `%`
    specifiers, so `%` is doubled; leading or trailing blanks would be stripped."""
    _quotable(path, "a systemd unit")
    if path != path.strip():
        raise UsageError(f"{path!r} starts or ends with a blank, which systemd strips")
    return path.replace("%", "%%")


def systemd_quote(arg: str) -> str:
    """A word for ExecStart=: quoted when it holds spaces or quotes (systemd removes the
    quotes and reads C escapes inside them); `%` and `$` escaped."""
    _quotable(arg, "a systemd unit")
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", escaped) or not escaped:
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def service_text(job: Job) -> str:
    folder = job.spec_path.parent
    exec_start = " ".join(systemd_quote(arg) for arg in job.argv)
    return (
        "# Written by `faktctl backup schedule`.\n"
        "[Unit]\n"
        f"Description=faktctl backup of the Faktory project {job.project}\n"
        "Wants=network-online.target\n"
        "After=network-online.target docker.service\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={systemd_path(str(folder))}\n"
        "# restic backend credentials (AWS_*, B2_*, ...) may go in this optional file (0600)\n"
        f"EnvironmentFile=-{systemd_path(str(folder / 'backup.env'))}\n"
        "Environment=NO_COLOR=1\n"
        f"ExecStart={exec_start}\n"
        "Nice=10\n"
        "IOSchedulingClass=best-effort\n"
        "IOSchedulingPriority=7\n"
    )


def timer_text(job: Job) -> str:
    return (
        "# Written by `faktctl backup schedule`.\n"
        "[Unit]\n"
        f"Description=Back up the Faktory project {job.project} ({job.schedule})\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar={job.schedule}\n"
        "Persistent=true\n"
        f"RandomizedDelaySec={RANDOMIZED_DELAY}\n"
        f"Unit={job.unit}.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def cron_schedule(schedule: str) -> str:
    word = schedule.strip().lower()
    if word in CRON_SHORTHANDS:
        return CRON_SHORTHANDS[word]
    if _CRON_FIELDS.match(schedule.strip()):
        return schedule.strip()
    raise UsageError(
        f"backup.schedule `{schedule}` has no crontab equivalent here",
        "use hourly/daily/weekly/monthly (or five cron fields) for --cron, or the systemd timer",
    )


def _cron_quote(arg: str) -> str:
    """A word of a crontab command: quoted for /bin/sh, and `%` escaped (cron turns a bare
    `%` into a newline); a newline cannot be written on a crontab line at all."""
    return shlex.quote(_quotable(arg, "a crontab line")).replace("%", "\\%")


def cron_line(job: Job) -> str:
    command = " ".join(_cron_quote(arg) for arg in job.argv)
    folder = _cron_quote(str(job.spec_path.parent))
    return (
        f"{cron_schedule(job.schedule)} cd {folder} && NO_COLOR=1 {command} 2>&1 "
        f"| logger -t {job.unit}\n"
    )


def enable_commands(job: Job) -> list[str]:
    return [
        "systemctl daemon-reload",
        f"systemctl enable --now {job.unit}.timer",
        f"systemctl list-timers {job.unit}.timer",
    ]
