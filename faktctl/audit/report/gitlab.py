"""A GitLab Code Quality report (the `codequality` artifact): a JSON array with one issue per
failing check, its severity in GitLab's words and a fingerprint that is stable across runs."""

from __future__ import annotations

import json
from typing import Any

from faktctl.audit.model import AuditReport, Severity
from faktctl.audit.report.fingerprint import fingerprints

SEVERITIES: dict[Severity, str] = {"error": "critical", "warning": "major", "info": "minor"}


def render_gitlab(report: AuditReport) -> str:
    issues: list[dict[str, Any]] = []
    for finding, print_ in zip(report.findings, fingerprints(report.findings), strict=True):
        if finding.status != "fail":
            continue
        service = f"[{finding.service}] " if finding.service else ""
        file = finding.location.file if finding.location else (report.file or report.kind)
        line = finding.location.line if finding.location else None
        issues.append(
            {
                "type": "issue",
                "description": f"{finding.id} {service}{finding.message}",
                "check_name": finding.id,
                "content": {"body": f"{finding.rule.title}. Fix: {finding.fix}"},
                "categories": ["Security"],
                "fingerprint": print_,
                "severity": SEVERITIES[finding.severity],
                "location": {"path": file, "lines": {"begin": line if line and line > 0 else 1}},
            }
        )
    return json.dumps(issues, indent=2) + "\n"
