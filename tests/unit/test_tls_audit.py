"""The TLS checks (FKD040, FKD041, FKH040, FKD042) on hand-made facts (issue 26)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from faktctl.audit.model import (
    AuditFacts,
    CertFacts,
    EnvVar,
    KubeRoute,
    KubeServerFacts,
    MountFact,
    PortFact,
    ServerFacts,
    WorkerFacts,
)
from faktctl.audit.registry import Outcome, ServerCtx, WorkerCtx
from faktctl.audit.rules import tls
from faktctl.audit.runner import behaviour_of
from faktctl.faktory.server import command, environment
from faktctl.faktory.workers import python_version

NOW = datetime(2026, 12, 6, tzinfo=UTC)
CERT = MountFact("bind", "/etc/faktory/public.cert.pem", "secrets/tls/server.cert.pem", True)
KEY = MountFact("bind", "/etc/faktory/private.key.pem", "secrets/tls/server.key.pem", True)


def _server(
    *, mounts: tuple[MountFact, ...] = (), host_ip: str = "10.0.0.5", **more: Any
) -> ServerFacts:
    env = {k: EnvVar(k, v, "literal") for k, v in environment("production")}
    return ServerFacts(
        service="faktory",
        image="contribsys/faktory:1.10.0",
        argv=command("production"),
        env=env,
        mounts=mounts,
        ports=(PortFact(7419, host_ip, "7419"),),
        **more,
    )


def _ctx(server: ServerFacts) -> ServerCtx:
    facts = AuditFacts(kind="spec", file="faktory.yaml", now=NOW, servers=(server,))
    return ServerCtx(facts, server, behaviour_of(server))


def _one(result: object) -> Outcome:
    assert isinstance(result, Outcome)
    return result


def test_a_job_port_beyond_loopback_without_tls_fails_and_with_tls_passes() -> None:
    plain = _one(tls.protocol_port_tls(_ctx(_server())))
    assert plain.status == "fail" and "without TLS" in plain.message
    assert _one(tls.protocol_port_tls(_ctx(_server(mounts=(CERT, KEY))))).status == "pass"
    loopback = _one(tls.protocol_port_tls(_ctx(_server(host_ip="127.0.0.1"))))
    assert loopback.status == "pass"


def test_one_tls_file_alone_leaves_the_server_plain() -> None:
    assert _one(tls.protocol_port_tls(_ctx(_server(mounts=(CERT,))))).status == "fail"


def test_a_kubernetes_load_balancer_counts_as_beyond_the_host() -> None:
    route = KubeRoute(7419, "Service faktory (LoadBalancer) port 7419", True)
    server = _server(host_ip="127.0.0.1", kube=KubeServerFacts("StatefulSet", "f", routes=(route,)))
    outcome = _one(tls.protocol_port_tls(_ctx(server)))
    assert outcome.status == "fail" and "LoadBalancer" in outcome.message


def _cert(**changes) -> CertFacts:  # type: ignore[no-untyped-def]
    base = CertFacts(
        origin="secrets/tls/server.cert.pem",
        subject="CN=faktory",
        names=("faktory", "*.example.com", "10.0.0.5"),
        not_after=NOW + timedelta(days=300),
        wanted=("faktory", "jobs.example.com", "10.0.0.5"),
        chain_checked=True,
    )
    return replace(base, **changes)


def test_the_certificate_is_judged_on_expiry_names_and_chain() -> None:
    def judge(cert: CertFacts) -> Outcome:
        return _one(tls.certificate_fit(_ctx(_server(mounts=(CERT, KEY), tls_cert=cert))))

    assert judge(_cert()).status == "pass"
    soon = judge(_cert(not_after=NOW + timedelta(days=10)))
    assert (soon.status == "fail" and "9 days left" in soon.message) or "10 days" in soon.message
    assert "expired" in judge(_cert(not_after=NOW - timedelta(days=1))).message
    assert "does not cover 10.0.0.6" in judge(_cert(wanted=("10.0.0.6",))).message
    assert "does not chain" in judge(_cert(chain="unable to get local issuer")).message
    assert judge(_cert(pending=True, error="does not exist yet")).status == "skip"


def test_an_open_key_and_a_ca_key_in_the_server_fail() -> None:
    open_key = _cert(key_path="secrets/tls/server.key.pem", key_mode=0o644)
    found = tls.tls_keys(_ctx(_server(mounts=(CERT, KEY), tls_cert=open_key)))
    assert isinstance(found, list) and "mode 0644" in found[0].message
    ca_key = MountFact("bind", "/etc/faktory/ca.key.pem", "secrets/tls/ca.key.pem", True)
    found = tls.tls_keys(_ctx(_server(mounts=(CERT, KEY, ca_key))))
    assert isinstance(found, list) and "CA key is mounted" in found[0].message
    fine = _cert(key_path="k", key_mode=0o600)
    assert _one(tls.tls_keys(_ctx(_server(mounts=(CERT, KEY), tls_cert=fine)))).status == "pass"


def test_the_worker_scheme_must_match_the_server() -> None:
    def judge(url: str, server: ServerFacts) -> Outcome:
        ctx = _ctx(server)
        worker = WorkerFacts("w", EnvVar("FAKTORY_URL", url, "literal"))
        return _one(tls.worker_url_scheme(WorkerCtx(ctx.facts, worker, (ctx,))))

    tls_server, plain = _server(mounts=(CERT, KEY)), _server()
    assert judge("tcp://:pw@faktory:7419", tls_server).status == "fail"
    assert judge("tcp+tls://:pw@faktory:7419", plain).status == "fail"
    assert judge("tcp+tls://:pw@faktory:7419", tls_server).status == "pass"
    assert "pw" not in judge("tcp://:pw@faktory:7419", tls_server).message


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("python:3.12-slim", (3, 12)),
        ("python:3.11", (3, 11)),
        ("docker.io/library/python:3.13.1-alpine", (3, 13)),
        ("python", (3, None)),
        ("python:slim", (3, None)),
        ("python:3-alpine", (3, None)),
        ("ghcr.io/astral-sh/uv:python3.12-bookworm", (3, 12)),
        ("emails:1", None),
        (None, None),
    ],
)
def test_the_python_an_image_runs(image: str | None, version: tuple[int, int | None]) -> None:
    assert python_version(image) == version


def test_a_python_faktory_worker_on_312_with_tls_is_said_clearly() -> None:
    def judge(image: str | None, url: str = "tcp+tls://:pw@faktory:7419", **more: Any) -> Outcome:
        ctx = _ctx(_server(mounts=(CERT, KEY)))
        worker = WorkerFacts("py", EnvVar("FAKTORY_URL", url, "literal"), image=image, **more)
        return _one(tls.python_tls_runtime(WorkerCtx(ctx.facts, worker, (ctx,))))

    new = judge("python:3.12-slim")
    assert new.status == "fail" and "ssl.wrap_socket" in new.message and "3.12" in new.message
    assert "cannot connect" in new.message
    assert "pw" not in new.message
    built = judge("shop-py:local", build_base="python:3.13-slim")
    assert built.status == "fail" and "python:3.13-slim" in built.message
    assert judge("python:3-alpine").status == "fail"
    old = judge("python:3.11-slim")
    assert old.status == "pass" and "without verifying" in old.message
    assert judge("python:3.12", "tcp://:pw@faktory:7419").status == "pass"
    assert judge("emails:1").status == "pass"  # no Python shown
    assert judge("registry/faktory_worker_go-python:3.12").status == "pass"
    assert judge("python:3.12", url="").status in ("pass", "skip")
