"""faktctl up: observe the engine, plan, apply; the server first and healthy, then the workers.

Progress goes to stderr (a live display on a terminal, plain lines otherwise); `--dry-run`
prints the plan on stdout and changes nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.desired import Desired, web_conf_path
from faktctl.errors import OperationFailed
from faktctl.platforms.engine.plan import (
    ImageAction,
    PullPolicy,
    plan,
    plan_images,
    with_build_tags,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

    from faktctl.adapters.docker.engine import Engine
    from faktctl.platforms.engine.apply import Failure, Outcome, Progress
    from faktctl.project import Project


# --- progress display -------------------------------------------------------------------------


class PlainProgress:
    """One line per change of state; repeated updates of the same kind are throttled."""

    def __init__(self, min_interval_s: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, float]] = {}
        self._min_interval_s = min_interval_s

    def update(self, target: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            previous, when = self._last.get(target, ("", 0.0))
            same_kind = previous.split(" ", 1)[0] == message.split(" ", 1)[0]
            if message == previous or (same_kind and now - when < self._min_interval_s):
                return
            self._last[target] = (message, now)
            ui.info(f"  {target}: {message}")

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        with self._lock:
            self._last[target] = (message, time.monotonic())
            ui.info(f"{'✓' if ok else '✗'} {target}: {message}")


@dataclass
class _Row:
    message: str
    since: float
    state: str  # "busy" | "ok" | "failed"


class LiveProgress:
    """A rich live table: one row per target, with a spinner and elapsed time while busy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}

    def update(self, target: str, message: str) -> None:
        with self._lock:
            row = self._rows.get(target)
            since = row.since if row is not None and row.state == "busy" else time.monotonic()
            self._rows[target] = _Row(message, since, "busy")

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        with self._lock:
            row = self._rows.get(target)
            since = row.since if row is not None else time.monotonic()
            self._rows[target] = _Row(message, since, "ok" if ok else "failed")

    def __rich__(self) -> RenderableType:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.items())
        for target, row in rows:
            if row.state == "busy":
                mark: RenderableType = Spinner("dots")
                elapsed = f"{now - row.since:.0f}s"
            else:
                mark = "[green]✓[/]" if row.state == "ok" else "[red]✗[/]"
                elapsed = ""
            table.add_row(mark, f"[bold]{target}[/]", row.message, f"[dim]{elapsed}[/]")
        return table


@contextlib.contextmanager
def progress_display() -> Iterator[Progress]:
    if not ui.stderr_is_terminal():
        yield PlainProgress()
        return
    from rich.live import Live

    live_progress = LiveProgress()
    with Live(live_progress, console=ui.stderr(), refresh_per_second=8, transient=False):
        yield live_progress


# --- the command ------------------------------------------------------------------------------


def build_digests(desired: Desired) -> dict[str, str]:
    """Service name -> digest of its build context, for every service with `build:`."""
    from faktctl.adapters.docker.engine import context_digest

    return {
        s.name: context_digest(s.build.context, s.build.dockerfile)
        for s in desired.services
        if s.build is not None
    }


def resolve_images(
    engine: Engine, desired: Desired, pull: PullPolicy
) -> tuple[Desired, tuple[ImageAction, ...]]:
    """The desired state with built images content-tagged, and what to pull or build first."""
    digests = build_digests(desired)
    resolved = with_build_tags(desired, digests)
    present = {image: _image_id(engine, image) for image in {s.image for s in resolved.services}}
    return resolved, plan_images(desired, digests, present, pull)


def _image_id(engine: Engine, reference: str) -> str | None:
    found = engine.image(reference)
    return str(found["Id"]) if found is not None else None


def run(file: Path | None, *, dry_run: bool, timeout_s: float, pull: PullPolicy) -> int:
    """The one frame of `up` on both platforms: connect, plan only (--dry-run) or apply under
    the project's lock. A swarm needs a manager and plans services
    (faktctl.platforms.swarm.lifecycle)."""
    from faktctl.adapters.docker.connect import connect
    from faktctl.lock import project_lock
    from faktctl.platforms.engine import cache as desired_cache
    from faktctl.project import open_project

    started = time.monotonic()
    project = open_project(file)
    desired_cache.remember(project)  # the next `status` or `down` skips loading the spec
    plan_only, apply = _dry_run, _up
    engine = connect()
    try:
        if project.loaded.spec.platform == "swarm":
            from faktctl.adapters.docker.swarm import require_manager
            from faktctl.platforms.swarm import lifecycle as swarm

            require_manager(engine)
            plan_only, apply = swarm.dry_run, swarm.apply
        if dry_run:
            return plan_only(engine, project, pull)
        with project_lock(project.dir, project.desired.project, "up") as stale:
            if stale is not None:
                ui.info(f"note: taking over the lock left by {stale.describe()}, which has ended")
            return apply(engine, project, pull, timeout_s, started)
    finally:
        engine.close()


def _dry_run(engine: Engine, project: Project, pull: PullPolicy) -> int:
    from faktctl.platforms.engine.observe import refuse_compose_started, up_snapshot

    resolved, image_actions = resolve_images(engine, project.desired, pull)
    observed = up_snapshot(engine, resolved)
    refuse_compose_started(observed)
    the_plan = plan(resolved, observed)
    ui.data("\n".join([*(a.text() for a in image_actions), *the_plan.lines()]))
    if the_plan.up_to_date and not image_actions:
        ui.info("up to date: nothing to do")
    return 0


def _up(engine: Engine, project: Project, pull: PullPolicy, timeout_s: float, t0: float) -> int:
    from faktctl.platforms.engine.apply import Executor, Outcome, Settings, apply_images
    from faktctl.platforms.engine.observe import refuse_compose_started, up_snapshot
    from faktctl.secretfiles import write_web_conf
    from faktctl.upgrade.guard import check_version_change

    write_web_conf(project.loaded, web_conf_path(project.loaded))
    resolved, image_actions = resolve_images(engine, project.desired, pull)
    settings = Settings(timeout_s=timeout_s, password=project.password, secrets=project.secrets)
    with progress_display() as progress:
        apply_images(engine, resolved, image_actions, progress)
        observed = up_snapshot(engine, resolved)
        refuse_compose_started(observed)
        the_plan = plan(resolved, observed)
        check_version_change(engine, resolved, observed, the_plan)
        executor = Executor(engine, resolved, settings, progress)
        if the_plan.up_to_date:
            outcome = Outcome()
        else:
            # Without changes the plan only waits for a server whose engine health check has
            # not run yet: Faktory's own readiness answers that at once, and nothing changes.
            for action in the_plan.changes:
                ui.info(f"plan: {action.text()}")
            outcome = executor.apply(the_plan)
        untouched = {a.service for a in the_plan.actions if a.kind == "noop"}
        outcome.failures += executor.troubled(
            c for c in observed.containers if c.service in untouched
        )
    if not outcome.failures:
        _prune_old_builds(engine, resolved)
    if not the_plan.changes and not outcome.failures:
        count = sum(s.replicas for s in resolved.services)
        ui.info(f"up to date: {count} containers match the spec ({time.monotonic() - t0:.1f}s)")
        return 0
    return _report(outcome, time.monotonic() - t0)


def _prune_old_builds(engine: Engine, resolved: Desired) -> None:
    """Old `build-*` tags of worker images go; the current and the one before it stay."""
    if not any(s.build is not None for s in resolved.services):
        return
    from faktctl.platforms.engine.prune import prune_build_tags

    removed, busy = prune_build_tags(engine, resolved)
    if removed:
        ui.info(f"pruned {len(removed)} old worker image tag(s): {', '.join(removed)}")
    if busy:
        ui.info(f"kept {len(busy)} old worker image tag(s) still in use: {', '.join(busy)}")


def _report(outcome: Outcome, elapsed_s: float) -> int:
    if not outcome.failures:
        ui.info(f"up: done in {elapsed_s:.1f}s")
        return 0
    ui.info(f"up: {len(outcome.failures)} failure(s) after {elapsed_s:.1f}s:")
    for failure in outcome.failures:
        for line in failure.lines():
            ui.info(f"  {line}")
    raise OperationFailed(_summary(outcome.failures))


def _summary(failures: list[Failure]) -> str:
    first = failures[0]
    more = f" (and {len(failures) - 1} more, listed above)" if len(failures) > 1 else ""
    return f"up failed: {first.target}: {first.message}{more}"
