"""Paths in a report, relative to the repository root: CI systems place annotations by the path
from the top of the checkout, whatever folder the audit ran in."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path, PurePath

from faktctl.audit.model import AuditReport, Finding, Location


def rebased(file: str, cwd: Path, root: Path) -> str:
    """`file` (relative to `cwd`, or absolute) relative to `root` when it lies below it."""
    path = PurePath(file)
    full = Path(os.path.normpath(path if path.is_absolute() else cwd / path))
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return file


def _finding(finding: Finding, cwd: Path, root: Path) -> Finding:
    where = finding.location
    if where is None:
        return finding
    return replace(
        finding, location=Location(rebased(where.file, cwd, root), where.line, where.column)
    )


def relative_to_root(report: AuditReport, cwd: Path, root: Path) -> AuditReport:
    """The report with every file path relative to `root` (the git top level, else the working
    folder: then nothing changes)."""
    cwd, root = cwd.resolve(), root.resolve()
    if cwd == root:
        return report
    return replace(
        report,
        file=rebased(report.file, cwd, root) if report.file else report.file,
        findings=tuple(_finding(f, cwd, root) for f in report.findings),
    )
