"""faktctl audit: the go-live gate, on a spec, a compose file, or the running deployment.

Each input has its own gatherer, imported only when used, so a static audit never loads the
Docker SDK or httpx (and a compose audit not even pydantic).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from faktctl import ui
from faktctl.audit.model import AuditFacts, AuditReport, AuditScope
from faktctl.errors import FaktctlError, UsageError
from faktctl.fsutil import standard_stream, write_output

FORMATS = ("table", "json", "sarif", "junit", "github", "markdown", "gitlab")
SCOPE_NAMES = ("repo", "host", "live")


def _labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or not sep:
            raise UsageError(f"--label `{item}` is not KEY=VALUE")
        labels[key] = value
    return labels


def gather(
    file: Path | None,
    compose: Path | None,
    live: bool,
    labels: dict[str, str],
    k8s: str | None = None,
) -> AuditFacts:
    now = datetime.now(UTC)
    if k8s is not None:
        if file is not None or live or compose is not None:
            raise UsageError("--k8s cannot be combined with -f, --compose or --live")
        from faktctl.audit.sources.kubernetes.gather import gather_kubernetes

        return gather_kubernetes(k8s, now)
    if compose is not None:
        if file is not None or live:
            raise UsageError("--compose cannot be combined with -f or --live")
        platform = _platform(compose)
        if platform is not None:
            return platform
        from faktctl.audit.sources.compose.gather import gather_compose

        return gather_compose(compose, os.environ, now)
    if live:
        from faktctl.audit.sources.live import gather_live

        return gather_live(file, labels, now)
    if labels:
        raise UsageError("--label only applies to --live")
    from faktctl.audit.sources.spec import gather_spec

    return gather_spec(file, now)


def _platform(path: Path) -> AuditFacts | None:
    """The facts of an ECS task definition (also in CloudFormation or Terraform), a Render
    blueprint or a fly.toml given to --compose; None for anything else (read as compose)."""
    from faktctl.audit.sources.detect import platform_of

    kind = platform_of(path)
    now = datetime.now(UTC)
    if kind == "ecs":
        from faktctl.audit.sources.ecs import gather_ecs

        return gather_ecs(path, now)
    if kind == "render":
        from faktctl.audit.sources.render import gather_render

        return gather_render(path, now)
    if kind == "fly":
        from faktctl.audit.sources.fly import gather_fly

        return gather_fly(path, now)
    return None


def format_report(report: AuditReport, fmt: str, strict: bool, to_terminal: bool) -> str:
    if fmt == "json":
        from faktctl.audit.report.jsonreport import render_json

        return render_json(report, strict)
    if fmt == "sarif":
        from faktctl.audit.registry import all_rules
        from faktctl.audit.report.sarif import render_sarif

        return render_sarif(report, [rule.meta for rule in all_rules()])
    if fmt == "junit":
        from faktctl.audit.report.junit import render_junit

        return render_junit(report)
    if fmt == "github":
        from faktctl.audit.report.github import render_github

        return render_github(report, strict)
    if fmt == "markdown":
        from faktctl.audit.report.markdown import render_markdown

        return render_markdown(report, strict)
    if fmt == "gitlab":
        from faktctl.audit.report.gitlab import render_gitlab

        return render_gitlab(report)
    from faktctl.audit.report.table import render_plain, render_table

    if not to_terminal:
        return render_plain(report, strict, width=_columns(120))
    color = "NO_COLOR" not in os.environ
    return render_table(report, strict, width=shutil.get_terminal_size().columns, color=color)


def _columns(default: int) -> int:
    """COLUMNS when set (as terminals and CI runners do), else `default`."""
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) >= 40 else default


def run(
    file: Path | None,
    *,
    compose: Path | None,
    live: bool,
    strict: bool,
    k8s: str | None = None,
    fmt: str,
    output: Path | None,
    labels: list[str],
    scope: str | None = None,
) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format `{fmt}`", f"use one of {', '.join(FORMATS)}")
    if scope is not None and scope not in SCOPE_NAMES:
        raise UsageError(f"unknown scope `{scope}`", f"use one of {', '.join(SCOPE_NAMES)}")
    if scope == "live":
        live = True  # the live scope is the running deployment
    elif scope is not None and live:
        raise UsageError(f"--live audits the running deployment: it cannot run in --scope {scope}")
    from faktctl.audit.report.policy import exit_code
    from faktctl.audit.runner import audit

    stream = standard_stream(output) if output is not None else 1
    try:
        facts = gather(file, compose, live, _labels(labels), k8s)
        report = _in_repository(audit(replace(facts, scope=_scope(facts, scope, live))))
    except FaktctlError as err:
        if fmt == "json":  # a machine reads stdout: give it an envelope that says why
            from faktctl.audit.report.jsonreport import render_json_error

            _emit(render_json_error(err), output, stream)
        raise
    text = format_report(report, fmt, strict, to_terminal=stream == 1 and sys.stdout.isatty())
    if fmt == "gitlab" and stream != 0:  # a bare JSON array: the scope goes to the log
        ui.info(f"faktctl audit scope: {report.scope}")
    if stream == 1:
        ui.data(text)
    elif stream == 2:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
    else:
        assert output is not None
        write_output(output, text)
        from faktctl.audit.report.table import summary_line

        ui.info(f"{summary_line(report, strict)} (report written to {output})")
    return int(exit_code(report.findings, strict))


def _scope(facts: AuditFacts, chosen: str | None, live: bool) -> AuditScope:
    from faktctl.audit.scope import default_scope

    if chosen is None:
        return default_scope(facts, os.environ, live)
    return "repo" if chosen == "repo" else "host" if chosen == "host" else "live"


def _in_repository(report: AuditReport) -> AuditReport:
    """Paths relative to the repository's top folder (the working folder outside git), where CI
    systems look for the files they annotate."""
    from faktctl.adapters.git import repository_root
    from faktctl.audit.report.paths import relative_to_root

    cwd = Path.cwd()
    return relative_to_root(report, cwd, repository_root(cwd) or cwd)


def _emit(text: str, output: Path | None, stream: int | None) -> None:
    """The error envelope goes where the report would have gone (best effort for a file)."""
    if stream == 1:
        ui.data(text.rstrip("\n"))
        return
    if stream == 2:
        sys.stderr.write(text)
        return
    assert output is not None
    with contextlib.suppress(FaktctlError):
        write_output(output, text)
