"""faktctl restore BACKUP: replace the server's data with a backup, keeping a safety snapshot."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from faktctl import ui
from faktctl.backups.pipeline import choose_backup, engine_session
from faktctl.envelope import envelope_json
from faktctl.errors import ExitCode, OperationFailed, UsageError


def _confirmer(assume_yes: bool) -> Callable[[list[str]], bool]:
    def confirm(steps: list[str]) -> bool:
        ui.info("faktctl restore will:")
        for number, step in enumerate(steps, 1):
            ui.info(f"  {number}. {step}")
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(
                "restore replaces all of the server's data and needs confirmation",
                "pass --yes when not running on a terminal",
            )
        import typer

        return bool(typer.confirm("Replace the server's data with this backup?", default=False))

    return confirm


def run(
    file: Path | None,
    reference: str | None,
    *,
    assume_yes: bool,
    as_json: bool,
    timeout: float,
    wanted: str | None = None,
    resume: bool = False,
) -> int:
    from faktctl import journal
    from faktctl.backups.restore import check_checksum, restore_backup
    from faktctl.lock import project_lock

    if resume:
        if reference is not None:
            raise UsageError("--resume takes no BACKUP: it finishes the restore it recorded")
        return _resume(file, as_json, timeout)
    if reference is None:
        raise UsageError("name the BACKUP to restore", "`faktctl backup list` shows them")
    chosen = choose_backup(file, reference, check_checksum, ui.ConsoleReporter(), wanted)
    backup = chosen.backup
    with (
        project_lock(chosen.project.dir, chosen.target.project, "restore"),
        engine_session() as engine,
    ):
        journal.require_none(chosen.project.dir, chosen.target.project, "restore")
        record = journal.Journal(chosen.project.dir, chosen.target.project, "restore")
        try:
            result = restore_backup(
                engine,
                chosen.target,
                backup,
                confirm=_confirmer(assume_yes),
                reporter=chosen.reporter,
                timeout=timeout,
                checksum_checked=True,
                journal=record,
            )
        except BaseException:
            left = journal.read(record.spec_dir, record.project)
            if left is not None:
                ui.info(f"{left.describe()}; run `{left.resume_command()}` to finish it")
            raise
    for problem in result.worker_problems:
        ui.info(f"warning: a worker did not start again: {problem}")
    if as_json:
        ui.data(envelope_json("restore", result.to_json()))
    else:
        ui.info(f"restored {backup.name}; the replaced data is in backup {result.safety.name}")
        if result.changes:
            ui.info("what changed:")
            for line in result.changes:
                ui.info(f"  {line}")
        else:
            ui.info("no queue or set size changed")
        if result.moved_only:
            ui.info("note: some jobs moved between scheduled/retries and their queues")
    if not result.matches:
        raise OperationFailed(
            "the restored server's sizes differ from the backup's manifest: "
            + "; ".join(result.differences),
            f"the previous data is in backup {result.safety.name}",
        )
    return ExitCode.OK


def _resume(file: Path | None, as_json: bool, timeout: float) -> int:
    """`restore --resume`: start again what an interrupted restore stopped (faktctl.journal)."""
    from faktctl import journal
    from faktctl.backups.pipeline import safety_target
    from faktctl.backups.restore import resume_restore
    from faktctl.lock import project_lock
    from faktctl.project import open_project

    project = open_project(file)
    target = safety_target(project)
    with project_lock(project.dir, target.project, "restore"):
        found = journal.to_resume(project.dir, target.project, "restore")
        if found is None:
            ui.info("no interrupted restore to resume: nothing to do")
            return ExitCode.OK
        record, resumed = found
        ui.info(f"found: {record.describe()}")
        with engine_session() as engine:
            outcome = resume_restore(engine, target, resumed, ui.ConsoleReporter(), timeout)
    for problem in outcome.worker_problems:
        ui.info(f"warning: a worker did not start again: {problem}")
    if outcome.restored:
        message = f"the restore of {outcome.backup} is finished: the server holds its data"
    else:
        message = (
            f"nothing was restored: the server runs on its previous data; run "
            f"`faktctl restore {outcome.backup} --yes` to restore it"
        )
    if as_json:
        document = {
            "backup": outcome.backup,
            "restored": outcome.restored,
            "message": message,
            "queues": dict(outcome.after.queues),
            "sets": dict(outcome.after.sets),
            "worker_problems": list(outcome.worker_problems),
        }
        ui.data(envelope_json("restore", document))
    else:
        ui.info(message)
    return ExitCode.OK
