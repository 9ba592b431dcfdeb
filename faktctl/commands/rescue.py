"""faktctl rescue: hand the jobs a crashed worker left reserved back to their queue
(faktctl.platforms.engine.rescue does the work). Exit 0 when nothing needed it too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from faktctl import ui
from faktctl.envelope import envelope_json
from faktctl.errors import ExitCode, UsageError


def older_than_seconds(text: str) -> float:
    """`--older-than`'s value: a duration such as 90s, 5m, 1h (or a number of seconds)."""
    from faktctl.spec.types import parse_duration

    value = parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
    if not isinstance(value, timedelta):
        raise UsageError(f"--older-than: `{text}` is not a duration (use e.g. 30s, 5m, 1h)")
    return value.total_seconds()


def run(file: Path | None, *, dry_run: bool, older_than: str, as_json: bool) -> int:
    from faktctl.adapters.docker.connect import connect
    from faktctl.lock import project_lock
    from faktctl.platforms.engine.rescue import rescue
    from faktctl.project import open_project

    try:
        seconds = older_than_seconds(older_than)
    except ValueError as err:
        raise UsageError(f"--older-than: {err}") from None
    project = open_project(file)
    desired = project.desired
    engine = connect()
    try:
        with project_lock(project.dir, desired.project, "rescue"):
            result = rescue(
                engine, desired, project.password, dry_run=dry_run, older_than_s=seconds
            )
    finally:
        engine.close()
    if as_json:
        ui.data(envelope_json("rescue", result.to_json()))
    else:
        ui.data("\n".join(result.text_lines()))
    return ExitCode.OK
