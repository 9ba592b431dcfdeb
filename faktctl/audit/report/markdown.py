"""A Markdown summary for $GITHUB_STEP_SUMMARY or a merge-request comment: the verdict, the
scope, the failing checks in a table, and every check folded below it."""

from __future__ import annotations

from faktctl.audit.model import AuditReport, Finding
from faktctl.audit.report.policy import blocking
from faktctl.audit.report.table import summary_line
from faktctl.audit.scope import not_evaluated_line

DOCS = "docs/audit-checks.md"


def cell(text: str) -> str:
    """Text safe inside a table cell: no pipe, no line break, no HTML."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def _row(finding: Finding) -> str:
    where = str(finding.location) if finding.location else ""
    return (
        "| "
        + " | ".join(
            (
                finding.status.upper(),
                finding.severity,
                f"{finding.id}",
                cell(finding.service or "deployment"),
                cell(finding.message),
                cell(where),
            )
        )
        + " |"
    )


HEAD = "| status | severity | check | service | finding | where |\n|---|---|---|---|---|---|"


def render_markdown(report: AuditReport, strict: bool) -> str:
    verdict = "FAIL" if blocking(report.findings, strict) else "PASS"
    subject = report.file or report.kind
    lines = [
        f"## faktctl audit: {verdict}",
        "",
        f"Input `{cell(subject)}` ({report.kind}), scope **{report.scope}**, "
        f"{'strict' if strict else 'default'} gate.",
        "",
        cell(summary_line(report, strict)),
        "",
    ]
    skipped = not_evaluated_line(report.not_evaluated)
    if skipped:
        lines += [f"> {cell(skipped)}", ""]
    failures = [f for f in report.findings if f.status == "fail"]
    if failures:
        lines += ["### Failing checks", "", HEAD, *(_row(f) for f in failures), ""]
        lines += [f"- **{f.id}**: {cell(f.fix)}" for f in failures]
        lines.append("")
    lines += [f"- note: {cell(note)}" for note in report.notes]
    if report.notes:
        lines.append("")
    lines += [
        f"<details><summary>All {len(report.findings)} checks</summary>",
        "",
        HEAD,
        *(_row(f) for f in report.findings),
        "",
        "</details>",
    ]
    return "\n".join(lines) + "\n"
