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
    reference: str,
    *,
    assume_yes: bool,
    as_json: bool,
    timeout: float,
    wanted: str | None = None,
) -> int:
    from faktctl.backups.restore import check_checksum, restore_backup
    from faktctl.lock import project_lock

    chosen = choose_backup(file, reference, check_checksum, ui.ConsoleReporter(), wanted)
    backup = chosen.backup
    with (
        project_lock(chosen.project.dir, chosen.target.project, "restore"),
        engine_session() as engine,
    ):
        result = restore_backup(
            engine,
            chosen.target,
            backup,
            confirm=_confirmer(assume_yes),
            reporter=chosen.reporter,
            timeout=timeout,
            checksum_checked=True,
        )
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
