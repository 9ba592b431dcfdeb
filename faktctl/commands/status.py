"""faktctl status: what runs, its drift against the spec (the plan `up` would carry out), and
what the Faktory server reports (the platform the spec names looks: faktctl.platforms). Exit 0
when the deployment matches the spec, 1 when it drifts (including not deployed at all)."""

from __future__ import annotations

from pathlib import Path

from faktctl import ui
from faktctl.envelope import envelope_json
from faktctl.errors import ExitCode


def run(file: Path | None, *, as_json: bool, verbose: bool = False) -> int:
    from faktctl.platforms import platform_at

    report = platform_at(file).status(verbose=verbose)
    ui.data(envelope_json("status", report.document) if as_json else report.text)
    return ExitCode.FINDINGS if report.drifts else ExitCode.OK
