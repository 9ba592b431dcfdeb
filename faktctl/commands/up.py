"""faktctl up: observe the engine, plan, apply; the server first and healthy, then the workers.

Progress goes to stderr (a live display on a terminal, plain lines otherwise); `--dry-run`
prints the plan on stdout and changes nothing. The platform the spec names does the work
(faktctl.platforms); this is the frame both share.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui

if TYPE_CHECKING:
    from faktctl.platforms.engine.plan import PullPolicy


def run(
    file: Path | None,
    *,
    dry_run: bool,
    timeout_s: float,
    pull: PullPolicy,
    adopt_volume: bool = False,
) -> int:
    """Connect, then plan only (--dry-run) or apply under the project's lock."""
    from faktctl import journal
    from faktctl.live import helpers
    from faktctl.lock import project_lock
    from faktctl.platforms import platform_of
    from faktctl.project import open_project

    started = time.monotonic()
    project = open_project(file)
    # A half-done upgrade or restore is finished by its own --resume, never undone by `up`.
    journal.require_none(project.dir, project.desired.project, "run `up`")
    platform = platform_of(project)
    engine = platform.connect()
    try:
        if dry_run:
            return platform.dry_run(engine, pull)
        with project_lock(project.dir, project.desired.project, "up") as stale:
            if stale is not None:
                ui.info(f"note: taking over the lock left by {stale.describe()}, which has ended")
            journal.require_none(project.dir, project.desired.project, "run `up`")
            helpers.remove_leftovers(engine, project.desired.project, ui.info)
            return platform.apply(engine, pull, timeout_s, started, adopt_volume=adopt_volume)
    finally:
        engine.close()
