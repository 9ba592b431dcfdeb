"""The human report: one table per service, then a one-line summary.

On a terminal it is a rich table (colours, box drawing). Anywhere else (CI logs, pipes, files)
it is the same table as plain aligned text: no escape codes, and no rich import, which keeps a
static audit fast.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from faktctl.audit.model import AuditReport, Finding
from faktctl.audit.report.policy import blocking, summarize
from faktctl.audit.scope import not_evaluated_line

DEPLOYMENT = "deployment"
_STATUS_STYLE = {"pass": "green", "fail": "red", "skip": "yellow"}
_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def _groups(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.service or DEPLOYMENT, []).append(finding)
    return groups


def summary_line(report: AuditReport, strict: bool) -> str:
    s = summarize(report.findings)
    parts = [f"{s.total} checks: {s.passed} passed", f"{s.failed} failed"]
    if s.failed:
        parts[-1] += f" ({s.errors} error, {s.warnings} warning, {s.infos} info)"
    parts.append(f"{s.skipped} skipped" + (f" ({s.suppressed} suppressed)" if s.suppressed else ""))
    gate = "strict" if strict else "default"
    verdict = "FAIL" if blocking(report.findings, strict) else "PASS"
    subject = report.file or report.kind
    return f"{verdict} {subject} [{gate}, scope {report.scope}]: " + ", ".join(parts)


def scope_lines(report: AuditReport) -> list[str]:
    """The line that says which checks this scope left to another (none: no line)."""
    line = not_evaluated_line(report.not_evaluated)
    return [line] if line else []


HEADERS = ("STATUS", "SEVERITY", "CHECK", "FINDING")
_FIXED = (6, 8, 6)


def _detail(f: Finding) -> str:
    where = ""
    if f.location is not None and f.location.line is not None:
        where = f"  ({f.location})"
    return f.message + where


def wrap(text: str, width: int, prefix: str = "") -> list[str]:
    """Greedy word wrap (textwrap's import alone costs more than a whole audit step)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:  # a word longer than the line is cut
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return [lines[0], *(prefix + line for line in lines[1:])] if lines else []


def render_plain(report: AuditReport, strict: bool, width: int = 120) -> str:
    """The table as plain aligned text."""
    indent = 2 + sum(size + 2 for size in _FIXED)
    room = max(width - indent, 30)
    lines: list[str] = []
    for service, findings in _groups(report.findings).items():
        lines.append(service)
        lines.append(
            "  "
            + "  ".join(h.ljust(n) for h, n in zip(HEADERS, (*_FIXED, 0), strict=True)).rstrip()
        )
        for f in findings:
            head = "  " + "  ".join(
                text.ljust(size)
                for text, size in zip((f.status.upper(), f.severity, f.id), _FIXED, strict=True)
            )
            wrapped = wrap(_detail(f), room) or [""]
            if f.status == "fail":
                wrapped += wrap(f"-> {f.fix}", room - 3, prefix="   ")
            lines.append(head + "  " + wrapped[0])
            lines += [" " * indent + rest for rest in wrapped[1:]]
        lines.append("")
    lines += [f"note: {note}" for note in report.notes]
    lines += scope_lines(report)
    lines.append(summary_line(report, strict))
    return "\n".join(lines) + "\n"


def render_table(report: AuditReport, strict: bool, width: int = 120, color: bool = False) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        soft_wrap=False,
    )
    for service, findings in _groups(report.findings).items():
        table = Table(title=service, title_justify="left", expand=True, show_lines=False)
        table.add_column("status", no_wrap=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("finding", ratio=1)
        for f in findings:
            detail = Text(f.message)
            if f.location is not None and f.location.line is not None:
                detail.append(f"  ({f.location})", style="dim")
            if f.status == "fail":
                detail.append(f"\n→ {f.fix}", style="dim")
            table.add_row(
                Text(f.status.upper(), style=_STATUS_STYLE[f.status]),
                Text(f.severity, style=_SEVERITY_STYLE[f.severity]),
                f.id,
                detail,
            )
        console.print(table)
    for note in report.notes:
        console.print(Text(f"note: {note}", style="dim"))
    for line in scope_lines(report):
        console.print(Text(line))
    console.print(Text(summary_line(report, strict), style="bold"))
    return out.getvalue()
