"""GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` line per failing check,
which annotates the pull request at the file and line, then the summary as plain log text.

Escaping follows the Actions toolkit: the message escapes `%`, CR and LF; property values
(file, title) also `:` and `,`.
"""

from __future__ import annotations

from faktctl.audit.model import AuditReport, Finding, Severity
from faktctl.audit.report.table import summary_line
from faktctl.audit.scope import not_evaluated_line

COMMANDS: dict[Severity, str] = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding, fallback: str | None) -> str:
    props: list[tuple[str, str]] = []
    file = finding.location.file if finding.location else fallback
    if file:
        props.append(("file", file))
        line = finding.location.line if finding.location else None
        if line:
            props.append(("line", str(line)))
            column = finding.location.column if finding.location else None
            if column:
                props.append(("col", str(column)))
    props.append(("title", f"{finding.id} {finding.rule.title}"))
    service = f"[{finding.service}] " if finding.service else ""
    message = f"{service}{finding.message}\nFix: {finding.fix}"
    head = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{COMMANDS[finding.severity]} {head}::{escape_data(message)}"


def render_github(report: AuditReport, strict: bool) -> str:
    lines = [annotation(f, report.file) for f in report.findings if f.status == "fail"]
    lines.append(f"faktctl audit scope: {report.scope}")
    skipped = not_evaluated_line(report.not_evaluated)
    if skipped:
        lines.append(f"::notice title=faktctl audit scope {report.scope}::{escape_data(skipped)}")
    lines += [f"note: {note}" for note in report.notes]
    lines.append(summary_line(report, strict))
    return "\n".join(lines) + "\n"
