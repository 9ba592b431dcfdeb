"""What the audit *says* on the real-world corpus cases (issue 10 part 4): the corpus header
pins the statuses; these tests pin the messages that must be true and useful."""

from __future__ import annotations

from pathlib import Path

from faktctl.audit.model import AuditReport, Finding
from tests.unit.test_audit_corpus import CORPUS, parse_case, run_case


def report_of(name: str, tmp_path: Path) -> AuditReport:
    source = CORPUS / name
    if not source.exists():
        source = CORPUS / f"{name}.yaml"
    return run_case(parse_case(source), tmp_path)


def finding(report: AuditReport, check: str, service: str | None = None) -> Finding:
    found = [
        f for f in report.findings if f.id == check and (service is None or f.service == service)
    ]
    assert found, f"no {check} finding for {service}"
    return found[0]


def test_swarm_restart_policy_is_named_and_the_trap_stated(tmp_path: Path) -> None:
    message = finding(report_of("45-swarm-restart-policy", tmp_path), "FKH003").message
    assert message.startswith("deploy.restart_policy.condition: on-failure")
    assert "crashes and OOM kills" in message and "never a failed start" in message
    assert "status 0" in message
