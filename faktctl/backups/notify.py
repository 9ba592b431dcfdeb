"""Tell webhooks how a backup went (backup.notify in the spec).

The payload is one JSON object with the project, the outcome, the error line, the size, the
duration and each destination (restic URLs with any `user:password@` hidden). Passwords and
repository credentials are never part of it: errors are the one-line messages faktctl prints,
which never hold them.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faktctl.backups.destinations import redact
from faktctl.envelope import ENVELOPE_VERSION
from faktctl.spec.model import BackupNotify

ATTEMPTS = 3


@dataclass(frozen=True)
class Report:
    project: str
    ok: bool
    error: str | None
    size: int | None
    seconds: float
    destinations: Sequence[dict[str, Any]]
    backup: str | None = None


def payload(report: Report) -> dict[str, Any]:
    return {
        "faktctl": ENVELOPE_VERSION,
        "event": "backup",
        "project": report.project,
        "outcome": "success" if report.ok else "failure",
        "error": redact(report.error) if report.error else None,
        "backup": report.backup,
        "size": report.size,
        "duration_seconds": round(report.seconds, 3),
        "destinations": [
            {
                "destination": redact(str(item.get("destination", ""))),
                "ok": bool(item.get("ok")),
                "error": redact(str(item["error"])) if item.get("error") else None,
            }
            for item in report.destinations
        ],
        "host": platform.node(),
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def send(settings: BackupNotify | None, report: Report) -> list[str]:
    """POST the report to every webhook when the settings ask for this outcome; returns one
    warning line per webhook that could not be told."""
    if settings is None or (report.ok and not settings.on_success):
        return []
    from faktctl.adapters.probe import ProbeError, post_json

    document = payload(report)
    problems = []
    for url in settings.urls:
        try:
            status = post_json(
                url, document, timeout=settings.timeout.total_seconds(), attempts=ATTEMPTS
            )
        except ProbeError as err:
            problems.append(f"could not notify: {err}")
            continue
        if status >= 300:
            problems.append(f"webhook answered HTTP {status}")
    return problems
