"""The exit-code policy of `faktctl audit`, kept apart from every formatter.

0: no failure at or above the threshold; 1: the threshold is crossed. The threshold is an
error-severity failure; with --strict it is any failure at all, info included (a team that
accepts an info finding says so with a suppression that has a reason and an expiry date). Usage
errors and unreadable input exit 2 before any check runs (faktctl.errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faktctl.audit.model import Finding, Severity
from faktctl.errors import ExitCode

DEFAULT_THRESHOLD: frozenset[Severity] = frozenset({"error"})
STRICT_THRESHOLD: frozenset[Severity] = frozenset({"error", "warning", "info"})


@dataclass(frozen=True)
class Summary:
    total: int
    passed: int
    failed: int
    skipped: int
    errors: int  # failures by severity
    warnings: int
    infos: int
    suppressed: int


def summarize(findings: Sequence[Finding]) -> Summary:
    failures = [f for f in findings if f.status == "fail"]
    return Summary(
        total=len(findings),
        passed=sum(f.status == "pass" for f in findings),
        failed=len(failures),
        skipped=sum(f.status == "skip" for f in findings),
        errors=sum(f.severity == "error" for f in failures),
        warnings=sum(f.severity == "warning" for f in failures),
        infos=sum(f.severity == "info" for f in failures),
        suppressed=sum(f.suppressed_by is not None for f in findings),
    )


def blocking(findings: Sequence[Finding], strict: bool) -> list[Finding]:
    """The failures that decide the exit code."""
    threshold = STRICT_THRESHOLD if strict else DEFAULT_THRESHOLD
    return [f for f in findings if f.status == "fail" and f.severity in threshold]


def exit_code(findings: Sequence[Finding], strict: bool) -> ExitCode:
    return ExitCode.FINDINGS if blocking(findings, strict) else ExitCode.OK
