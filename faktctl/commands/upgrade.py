"""faktctl upgrade: move the running server to another Faktory version without hiding a job."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from faktctl.backups.report import Reporter
    from faktctl.backups.take import Target
    from faktctl.journal import Journal
    from faktctl.project import Project


def _confirm(lines: list[str], assume_yes: bool) -> bool:
    for line in lines:
        ui.info(line)
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            "upgrade stops the server and needs confirmation",
            "pass --yes when not running on a terminal (or --dry-run to see the plan)",
        )
    import typer

    return bool(typer.confirm("Go ahead?", default=False))


def run(
    file: Path | None,
    *,
    to: str | None,
    dry_run: bool,
    assume_yes: bool,
    as_json: bool,
    repair: bool,
    force: bool,
    pull: str,
    timeout: float,
    resume: bool = False,
) -> int:
    from faktctl import journal
    from faktctl.backups.pipeline import engine_session, safety_target
    from faktctl.lock import project_lock
    from faktctl.project import open_project
    from faktctl.upgrade.plan import decide, resolve_target

    project = open_project(file)
    target = safety_target(project)
    spec_image = project.loaded.spec.server.image
    reporter = ui.ConsoleReporter()
    if resume:
        return _resume(project, target, reporter, timeout, as_json)
    with (
        project_lock(project.dir, target.project, "upgrade"),
        engine_session() as engine,
    ):
        from faktctl.upgrade import execute

        journal.require_none(project.dir, target.project, "upgrade")

        found = execute.read_preflight(
            engine,
            target.project,
            project.password,
            spec_image=spec_image,
            spec_file=project.loaded.path.name,
            destination=str(target.destination),
        )
        chosen = resolve_target(to, spec_image, found.preflight.version)
        plan = decide(found.preflight, chosen, force=force, repair=repair, pull=pull)
        if dry_run:
            ui.data("\n".join(plan.lines()))
            return ExitCode.OK
        if plan.kind == "nothing":
            _say_nothing(plan.lines(), as_json, plan.kind)
            return ExitCode.OK
        if plan.changes_image:
            execute.require_managed(found)
            execute.ensure_image(engine, plan.target.image, pull, reporter)
        if not _confirm(plan.lines(), assume_yes):
            raise execute.UpgradeFailed("upgrade cancelled; nothing was changed")
        if plan.kind == "repair":
            outcome = execute.repair(engine, plan, found, target, reporter, timeout)
        else:
            record = journal.Journal(project.dir, target.project, "upgrade")
            upgrader = execute.Upgrader(engine, project.desired, target, reporter, timeout, record)
            with _said_when_interrupted(record):
                outcome = upgrader.run(plan, found)
    spec_updated = _update_spec(project.loaded.path, plan.target.image, plan.changes_image)
    _report(outcome, spec_updated, as_json)
    return ExitCode.OK


def _resume(
    project: Project, target: Target, reporter: Reporter, timeout: float, as_json: bool
) -> int:
    """`upgrade --resume`: finish the upgrade an interrupted run recorded (faktctl.journal)."""
    from faktctl import journal
    from faktctl.backups.pipeline import engine_session
    from faktctl.lock import project_lock

    with project_lock(project.dir, target.project, "upgrade"):
        found = journal.to_resume(project.dir, target.project, "upgrade")
        if found is None:
            ui.info("no interrupted upgrade to resume: nothing to do")
            return ExitCode.OK
        record, resumed = found
        ui.info(f"found: {record.describe()}")
        with engine_session() as engine, _said_when_interrupted(resumed):
            from faktctl.upgrade import execute

            outcome = execute.resume(
                engine, project.desired, target, reporter, timeout, resumed, record.step
            )
    image = str(record.facts.get("to_image", ""))
    spec_updated = _update_spec(
        project.loaded.path, image, image != project.loaded.spec.server.image
    )
    _report(outcome, spec_updated, as_json)
    return ExitCode.OK


@contextlib.contextmanager
def _said_when_interrupted(record: Journal) -> Iterator[None]:
    """On Ctrl-C (or any failure) with the record still there: what was left, and the command."""
    try:
        yield
    except BaseException:
        from faktctl import journal

        left = journal.read(record.spec_dir, record.project)
        if left is not None:
            ui.info(f"{left.describe()}; run `{left.resume_command()}` to finish it")
        raise


def _say_nothing(lines: list[str], as_json: bool, kind: str) -> None:
    from faktctl.envelope import envelope_json

    if as_json:
        ui.data(envelope_json("upgrade", {"kind": kind, "message": lines[0]}))
    else:
        ui.info(lines[0])


def _update_spec(path: Path, image: str, changes_image: bool) -> bool:
    from faktctl.spec.edit import set_server_image

    if not changes_image:
        return False
    updated = set_server_image(path, image)
    if updated:
        ui.info(f"set server.image to {image} in {path.name}")
    return updated


def _report(outcome: object, spec_updated: bool, as_json: bool) -> None:
    from faktctl.envelope import envelope_json
    from faktctl.upgrade.execute import Outcome

    assert isinstance(outcome, Outcome)
    for problem in outcome.worker_problems:
        ui.info(f"warning: a worker did not start again: {problem}")
    if as_json:
        result = outcome.to_json() | {"spec_updated": spec_updated}
        ui.data(envelope_json("upgrade", result))
        return
    ui.info(outcome.plan.headline().replace("nothing to do", "done", 1) + ": done")
    width = max((len(name) for name, _, _ in outcome.per_queue()), default=5)
    for name, before, after in outcome.per_queue():
        ui.data(f"{name.ljust(width)}  {before} → {after}")
    if outcome.moved:
        ui.info(f"moved {outcome.moved} job(s) to the new queue keys")
    ui.info(f"the data from before is in backup {outcome.safety.name}")
