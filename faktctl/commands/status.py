"""faktctl status: what runs, its drift against the spec (the plan `up` would carry out), and
what the Faktory server reports (the platform the spec names looks: faktctl.platforms). Exit 0
when the deployment matches the spec, 1 when it drifts (including not deployed at all)."""

from __future__ import annotations

from pathlib import Path

from faktctl import ui
from faktctl.envelope import envelope_json
from faktctl.errors import ExitCode


def run(file: Path | None, *, as_json: bool, verbose: bool = False) -> int:
    from faktctl import journal
    from faktctl.platforms import platform_at
    from faktctl.spec.locate import find_spec

    report = platform_at(file).status(verbose=verbose)
    document, text = report.document, report.text
    project = str(document.get("project", ""))
    interrupted = journal.read(find_spec(file).parent, project) if project else None
    if interrupted is not None:
        # Not `up`: it would undo a half-done upgrade. The operation's own --resume finishes it.
        line = f"{interrupted.describe()}; run `{interrupted.resume_command()}` to finish it"
        document = document | {
            "interrupted": {
                "operation": interrupted.operation,
                "step": interrupted.step,
                "message": line,
                "resume": interrupted.resume_command(),
            }
        }
        resume = f"`{interrupted.resume_command()}`"
        text = (
            text.replace(
                "(`faktctl up` would):", f"(left by the interruption; {resume} ends it):"
            ).replace("(run `faktctl up`)", f"(run {resume})")
            + f"\n{line}"
        )
    ui.data(envelope_json("status", document) if as_json else text)
    return ExitCode.FINDINGS if report.drifts or interrupted is not None else ExitCode.OK
