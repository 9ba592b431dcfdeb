"""The JSON report: faktctl's versioned envelope around the findings (pinned by a test)."""

from __future__ import annotations

import json
from typing import Any

from faktctl.audit.model import AuditReport, Finding, Location
from faktctl.audit.report.policy import exit_code, summarize
from faktctl.envelope import envelope, envelope_json
from faktctl.errors import FaktctlError


def finding_dict(finding: Finding) -> dict[str, Any]:
    location = finding.location
    suppressed = finding.suppressed_by
    return {
        "id": finding.id,
        "name": finding.rule.name,
        "title": finding.rule.title,
        "category": finding.rule.category,
        "severity": finding.severity,
        "status": finding.status,
        "service": finding.service,
        "message": finding.message,
        "remediation": finding.fix,
        "location": _location(location),
        "suppressed": (
            {
                "reason": suppressed.reason,
                "expires": suppressed.expires.isoformat() if suppressed.expires else None,
            }
            if suppressed
            else None
        ),
    }


def _location(location: Location | None) -> dict[str, Any] | None:
    """file and line; column too when the input knows it (Kubernetes manifests)."""
    if location is None:
        return None
    found: dict[str, Any] = {"file": location.file, "line": location.line}
    if location.column is not None:
        found["column"] = location.column
    return found


def report_dict(report: AuditReport, strict: bool) -> dict[str, Any]:
    summary = summarize(report.findings)
    return envelope(
        "audit",
        {
            "input": {"kind": report.kind, "file": report.file},
            "scope": report.scope,
            "not_evaluated": [
                {"id": m.id, "needs": m.needs, "title": m.title} for m in report.not_evaluated
            ],
            "strict": strict,
            "exit_code": int(exit_code(report.findings, strict)),
            "summary": {
                "total": summary.total,
                "pass": summary.passed,
                "fail": summary.failed,
                "skip": summary.skipped,
                "errors": summary.errors,
                "warnings": summary.warnings,
                "info": summary.infos,
                "suppressed": summary.suppressed,
            },
            "findings": [finding_dict(f) for f in report.findings],
            "notes": list(report.notes),
        },
    )


def render_json(report: AuditReport, strict: bool) -> str:
    return json.dumps(report_dict(report, strict), indent=2) + "\n"


def render_json_error(error: FaktctlError) -> str:
    """The envelope `--format json` still writes when the audit cannot run (exit 2, 3, 4):
    no result, and an `error` object, so a CI step that parses stdout never gets nothing."""
    failure = {
        "exit_code": int(error.exit_code),
        "message": error.one_line(),
        "hint": error.hint,
    }
    return envelope_json("audit", None, error=failure) + "\n"
