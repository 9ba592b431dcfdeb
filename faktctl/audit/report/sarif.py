"""SARIF 2.1.0 for GitHub code scanning: every check once in tool.driver.rules, one result per
failure with its level and a file/line location in the spec or compose file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from faktctl import __version__
from faktctl.audit.model import AuditReport, Finding, RuleMeta, Severity
from faktctl.audit.report.fingerprint import fingerprints
from faktctl.audit.scope import not_evaluated_line

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/contribsys/faktory/wiki"
LEVELS: dict[Severity, str] = {"error": "error", "warning": "warning", "info": "note"}
# Each check's section of faktctl's generated checks page. faktctl has no public site of its
# own yet: the reference is the page's path in faktctl's source tree.
CHECKS_PAGE = "docs/audit-checks.md"
SECURITY_SEVERITY: dict[Severity, str] = {"error": "8.0", "warning": "5.0", "info": "2.0"}


def rule_dict(rule: RuleMeta) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. {rule.remediation}"},
        "help": {
            "text": f"{rule.title}. Fix: {rule.remediation}",
            "markdown": f"**{rule.title}**\n\nFix: {rule.remediation}\n\n"
            f"Needs the `{rule.needs}` scope. See [{rule.id}]({CHECKS_PAGE}#{rule.anchor}).",
        },
        "helpUri": f"{CHECKS_PAGE}#{rule.anchor}",
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": ["faktory", rule.category, "security"],
            "category": rule.category,
            "scope": rule.needs,
            "precision": "high",
            "security-severity": SECURITY_SEVERITY[rule.severity],
        },
    }


def _uri(file: str) -> str:
    path = PurePath(file)
    if path.is_absolute():
        return path.as_uri()
    return path.as_posix()


def _location(finding: Finding, fallback: str | None) -> list[dict[str, Any]]:
    file = finding.location.file if finding.location else fallback
    if file is None:
        return []
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(file)}}
    line = finding.location.line if finding.location else None
    physical["region"] = {"startLine": line if line and line > 0 else 1}
    column = finding.location.column if finding.location else None
    if column:
        physical["region"]["startColumn"] = column
    return [{"physicalLocation": physical}]


def result_dict(
    finding: Finding, index: int, fallback: str | None, fingerprint: str = ""
) -> dict[str, Any]:
    scope = f"[{finding.service}] " if finding.service else ""
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "ruleIndex": index,
        "level": LEVELS[finding.severity],
        "kind": "fail",
        "message": {"text": f"{scope}{finding.message}. Fix: {finding.fix}"},
        "locations": _location(finding, fallback),
        "partialFingerprints": {"faktctlFinding/v2": fingerprint},
        "properties": {"category": finding.rule.category, "service": finding.service},
    }
    if not result["locations"]:
        del result["locations"]
    if finding.suppressed_by is not None:
        result["suppressions"] = [
            {"kind": "external", "justification": finding.suppressed_by.reason}
        ]
    return result


def sarif_dict(report: AuditReport, rules: Sequence[RuleMeta]) -> dict[str, Any]:
    index = {rule.id: position for position, rule in enumerate(rules)}
    prints = fingerprints(report.findings)
    failures = [
        (f, prints[position])
        for position, f in enumerate(report.findings)
        if f.status == "fail" or (f.suppressed_by is not None and f.status == "skip")
    ]
    skipped = not_evaluated_line(report.not_evaluated)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "faktctl",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_dict(rule) for rule in rules],
                    }
                },
                "automationDetails": {"id": f"faktctl-audit/{report.kind}/"},
                "columnKind": "unicodeCodePoints",
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": (
                            [{"level": "note", "message": {"text": skipped}}] if skipped else []
                        ),
                    }
                ],
                "properties": {
                    "scope": report.scope,
                    "notEvaluated": [m.id for m in report.not_evaluated],
                },
                "results": [result_dict(f, index[f.id], report.file, fp) for f, fp in failures],
            }
        ],
    }


def render_sarif(report: AuditReport, rules: Sequence[RuleMeta]) -> str:
    return json.dumps(sarif_dict(report, rules), indent=2) + "\n"
