"""JUnit XML: one test suite per service, one test case per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from faktctl.audit.model import AuditReport, Finding
from faktctl.audit.scope import not_evaluated_line

DEPLOYMENT = "deployment"


def _groups(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.service or DEPLOYMENT, []).append(finding)
    return groups


def _counts(findings: Sequence[Finding]) -> dict[str, str]:
    return {
        "tests": str(len(findings)),
        "failures": str(sum(f.status == "fail" for f in findings)),
        "skipped": str(sum(f.status == "skip" for f in findings)),
        "errors": "0",
    }


def _case(suite: ET.Element, finding: Finding, service: str) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": f"faktctl.audit.{service}.{finding.rule.category}",
            "name": f"{finding.id} {finding.rule.title}",
        },
    )
    if finding.location is not None:
        case.set("file", finding.location.file)
        if finding.location.line is not None:
            case.set("line", str(finding.location.line))
            if finding.location.column is not None:
                case.set("column", str(finding.location.column))
    if finding.status == "fail":
        failure = ET.SubElement(
            case, "failure", {"type": finding.severity, "message": finding.message}
        )
        failure.text = f"{finding.message}\nremediation: {finding.fix}"
    elif finding.status == "skip":
        ET.SubElement(case, "skipped", {"message": finding.message})
    else:
        ET.SubElement(case, "system-out").text = finding.message


def _properties(suite: ET.Element, report: AuditReport) -> None:
    """The audit's scope, and what it left to another scope, in every suite's properties."""
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "scope", "value": report.scope})
    skipped = not_evaluated_line(report.not_evaluated)
    if skipped:
        ET.SubElement(props, "property", {"name": "not-evaluated", "value": skipped})


def render_junit(report: AuditReport) -> str:
    root = ET.Element("testsuites", {"name": "faktctl audit", **_counts(report.findings)})
    for service, findings in _groups(report.findings).items():
        name = f"{report.file or report.kind}: {service}"
        suite = ET.SubElement(root, "testsuite", {"name": name, **_counts(findings)})
        _properties(suite, report)
        for finding in findings:
            _case(suite, finding, service)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
