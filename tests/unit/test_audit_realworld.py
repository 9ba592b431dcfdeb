"""What the audit *says* on the real-world corpus cases (issue 10 part 4): the corpus header
pins the statuses; these tests pin the messages that must be true and useful."""

from __future__ import annotations

from pathlib import Path

from faktctl.audit.model import AuditReport, Finding
from tests.support.audit_corpus import CORPUS, parse_case, run_case


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
    assert "restarts crashes and OOM kills" in message
    assert "status 0 on most failed starts" in message and "not restarted" in message


def test_hidden_servers_are_found_and_lookalikes_reported(tmp_path: Path) -> None:
    report = report_of("46-servers-hidden", tmp_path)
    servers = {f.service for f in report.findings if f.id == "FKM001"}
    assert servers == {"tls", "built", "faktory"}  # the worker and postgres are not servers
    assert "FKS007" in {f.id for f in report.findings if f.service == "worker"}
    tls = finding(report, "FKH013", "tls")
    assert (
        tls.status == "fail" and "acjensen/faktory-tls:latest is named like Faktory" in tls.message
    )
    built = finding(report, "FKH013", "built")
    assert built.status == "pass" and "built FROM contribsys/faktory:1.9.4" in built.message
    assert finding(report, "FKH001", "built").message == "contribsys/faktory:1.9.4 is pinned"
    missing = finding(report, "FKH013", "faktory")
    assert missing.status == "fail"
    assert "46-servers-hidden/server/Dockerfile cannot be read" in missing.message


def test_a_published_port_is_never_called_unpublished(tmp_path: Path) -> None:
    report = report_of("46-servers-hidden", tmp_path)
    protocol = finding(report, "FKD002", "tls")
    assert protocol.status == "skip"
    assert "7419 is published as `7419:7419`" in protocol.message
    assert "not published" not in protocol.message


def test_unset_password_variables_say_what_compose_does(tmp_path: Path) -> None:
    report = report_of("47-unset-variables", tmp_path)
    for service in ("plain", "bare"):
        message = finding(report, "FKS003", service).message
        assert "compose makes it empty" in message
        assert "no password in development, a refused start (exit 0) in production" in message
        assert "${FAKTORY_PASSWORD:?}" in message
    required = finding(report, "FKS003", "required")
    assert required.status == "pass" and "refuses to start without it" in required.message
    port = finding(report, "FKD001", "plain").message
    assert "assuming ${DASHBOARD_PORT} unset as here: compose leaves it empty" in port


def test_an_unreadable_confd_is_no_pass(tmp_path: Path) -> None:
    report = report_of("48-confd-unreadable", tmp_path)
    for check in ("FKS004", "FKS005"):
        for service in ("prod", "dev"):
            outcome = finding(report, check, service)
            assert outcome.status == "skip" and "cannot be read here" in outcome.message
    dev = finding(report, "FKS001", "dev")
    assert dev.status == "fail" and "development, which starts without a password" in dev.message


def test_a_missing_env_file_does_not_blanket_skip_persistence(tmp_path: Path) -> None:
    report = report_of("49-env-file-missing-volumes", tmp_path)
    lost = finding(report, "FKP001", "nothing-kept")
    assert lost.status == "fail" and "whichever mode it runs in" in lost.message
    assert finding(report, "FKP001", "both-kept").status == "pass"
    assert any("compose itself refuses to start without it" in note for note in report.notes)
