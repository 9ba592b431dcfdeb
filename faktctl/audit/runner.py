"""Run every applicable check over gathered facts and apply the suppressions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from faktctl.audit import effective
from faktctl.audit.model import (
    CATEGORIES,
    AuditFacts,
    AuditReport,
    Finding,
    Location,
    ServerFacts,
    Suppression,
)
from faktctl.audit.registry import (
    Outcome,
    Result,
    Rule,
    ServerCtx,
    WorkerCtx,
    all_rules,
    runs_in,
)

# A suppression cannot hide the check that reports expired suppressions.
UNSUPPRESSIBLE = frozenset({"FKH011"})


def behaviour_of(server: ServerFacts) -> effective.Behaviour:
    env = {name: var.value for name, var in server.env.items()}
    files = effective.FileView(server.mounts, server.container_files, server.container_dirs)
    return effective.resolve(
        server.argv,
        env,
        server.mounts,
        server.user,
        server.argv_note,
        files,
        reads_env=server.reads_faktory_env,
        judge_command=effective.command_judged(server.image),
    )


def _outcomes(result: Result) -> list[Outcome]:
    return [result] if isinstance(result, Outcome) else list(result)


def _run(rule: Rule, subject: object) -> list[Outcome]:
    try:
        return _outcomes(rule.check(subject))
    except Exception as err:  # a check that breaks is listed, never silently dropped
        return [Outcome("skip", f"the check could not run: {type(err).__name__}: {err}")]


def _findings(
    rule: Rule, outcomes: list[Outcome], service: str | None, default: Location | None
) -> list[Finding]:
    return [
        Finding(
            rule=rule.meta,
            status=outcome.status,
            service=outcome.service or service,
            message=outcome.message,
            location=outcome.location or default,
            remediation=outcome.remediation,
        )
        for outcome in outcomes
    ]


def run_checks(facts: AuditFacts) -> list[Finding]:
    servers = tuple(ServerCtx(facts, s, behaviour_of(s)) for s in facts.servers)
    workers = tuple(WorkerCtx(facts, w, servers) for w in facts.workers)
    default = Location(facts.file) if facts.file else None
    findings: list[Finding] = []
    for rule in all_rules():
        if facts.kind not in rule.inputs or not runs_in(rule.meta, facts.scope):
            continue
        if rule.scope == "server":
            for ctx in servers:
                where = ctx.server.location or default
                findings += _findings(rule, _run(rule, ctx), ctx.server.service, where)
        elif rule.scope == "worker":
            for wctx in workers:
                where = wctx.worker.location or default
                findings += _findings(rule, _run(rule, wctx), wctx.worker.service, where)
        else:
            findings += _findings(rule, _run(rule, facts), None, default)
    return findings


def _matching(
    finding: Finding, suppressions: Sequence[Suppression], today: date
) -> Suppression | None:
    if finding.status != "fail" or finding.id in UNSUPPRESSIBLE:
        return None
    for item in suppressions:
        if item.id != finding.id:
            continue
        if item.service is not None and item.service != finding.service:
            continue
        if item.expires is not None and item.expires < today:
            continue
        return item
    return None


def apply_suppressions(
    findings: Sequence[Finding], suppressions: Sequence[Suppression], today: date
) -> list[Finding]:
    """A suppressed failure becomes a skip that says why; an expired suppression does not
    apply (and FKH011 reports it)."""
    out = []
    for finding in findings:
        item = _matching(finding, suppressions, today)
        if item is None:
            out.append(finding)
            continue
        until = f" until {item.expires.isoformat()}" if item.expires else ""
        out.append(
            replace(
                finding,
                status="skip",
                message=f"suppressed{until} ({item.reason}): {finding.message}",
                suppressed_by=item,
            )
        )
    return out


def _order(facts: AuditFacts) -> dict[str | None, int]:
    names = [s.service for s in facts.servers] + [w.service for w in facts.workers]
    return {name: index for index, name in enumerate(names)}


def audit(facts: AuditFacts) -> AuditReport:
    findings = apply_suppressions(run_checks(facts), facts.suppressions, facts.now.date())
    order = _order(facts)
    category = {name: index for index, name in enumerate(CATEGORIES)}
    findings.sort(
        key=lambda f: (
            order.get(f.service, len(order)) if f.service is not None else len(order) + 1,
            category[f.rule.category],
            f.id,
        )
    )
    skipped_here = tuple(
        rule.meta
        for rule in all_rules()
        if facts.kind in rule.inputs and not runs_in(rule.meta, facts.scope)
    )
    return AuditReport(
        facts.kind, facts.file, tuple(findings), facts.notes, facts.scope, skipped_here
    )
