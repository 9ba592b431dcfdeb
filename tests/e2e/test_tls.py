"""TLS on 7419 and 7420 (issue 26), on the real servers 1.9.4 and 1.10.0.

`server.tls.mode: generate` makes a private CA and a server certificate; `up` mounts them into
/etc/faktory and waits for the server over TLS; the Go example worker reaches it with
`tcp+tls://` and the CA, and refuses a server its CA did not sign.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container
from docker.models.networks import Network

from faktctl.adapters import openssl, probe
from tests.support import tlsprobe
from tests.support.producer import Producer, make_job
from tests.support.upkit import Deployment, go_worker, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

JOBS = 500
PROCESS_TIMEOUT = 120.0


def _tls_spec(spec: dict[str, Any]) -> None:
    spec["server"]["tls"] = {"mode": "generate", "names": ["faktory.example.internal"]}


def _ca(deployment: Deployment) -> Path:
    return deployment.folder / "secrets" / "tls" / "ca.cert.pem"


def _processed(producer: Callable[[], Producer]) -> int:
    with producer() as conn:
        return int(conn.info()["faktory"]["total_processed"])


@pytest.mark.parametrize("version", ["1.9.4", "1.10.0"])
def test_tls_on_both_ports_and_a_go_worker_over_tcp_tls(
    version: str,
    request: pytest.FixtureRequest,
    make_deployment: Callable[..., Deployment],
    go_worker_image: str,
    run_container: Callable[..., Container],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    image = request.getfixturevalue("faktory_old_image" if version == "1.9.4" else "faktory_image")
    deployment = make_deployment(workers=[go_worker("worker", go_worker_image)])

    def tls_and_version(spec: dict[str, Any]) -> None:
        _tls_spec(spec)
        spec["server"]["image"] = image

    deployment.edit(tls_and_version)
    run = deployment.up()
    assert "tls: made a private CA" in run.stderr
    tls_folder = deployment.folder / "secrets" / "tls"
    assert tls_folder.stat().st_mode & 0o777 == 0o700
    assert (tls_folder / "server.key.pem").stat().st_mode & 0o777 == 0o600
    assert (tls_folder / "ca.key.pem").stat().st_mode & 0o777 == 0o600

    ca = _ca(deployment)
    for port in (deployment.protocol_port, deployment.dashboard_port):
        version_seen, der = tlsprobe.handshake("127.0.0.1", port, ca)
        assert version_seen in ("TLSv1.2", "TLSv1.3")
        cert = openssl.read_cert(der, der=True)
        assert cert.subject == "CN=faktory"
        assert {"faktory", "localhost", "faktory.example.internal"} <= set(cert.dns_names)
        assert "127.0.0.1" in cert.ip_names
    assert not tlsprobe.plain_greeting("127.0.0.1", deployment.protocol_port).startswith(b"+HI")

    tls = probe.Tls(ca_file=str(ca), server_name="faktory")
    web = deployment.dashboard_port
    assert probe.http_status("127.0.0.1", web, "/", tls=tls) == 401
    assert probe.http_status("127.0.0.1", web, "/", password=deployment.password, tls=tls) == 200

    def producer() -> Producer:
        return Producer("127.0.0.1", deployment.protocol_port, deployment.password, tls=tls)

    with producer() as conn:
        assert conn.push_many([make_job("demo.echo", [n]) for n in range(JOBS)]) == {}
    wait_until(lambda: _processed(producer) >= JOBS, PROCESS_TIMEOUT, f"{JOBS} processed jobs")

    # the container's own health check (a connection to 7419) passes too
    (server_name,) = deployment.containers("faktory")

    def healthy() -> bool:
        return bool(deployment.inspect(server_name)["State"]["Health"]["Status"] == "healthy")

    wait_until(healthy, 60.0, "the server container's health check to pass over https")

    # the worker's URL is tcp+tls:// and it trusts the mounted CA
    (worker_name,) = deployment.containers("worker")
    env = deployment.inspect(worker_name)["Config"]["Env"]
    assert any(e.startswith("FAKTORY_URL=tcp+tls://") for e in env)
    assert "SSL_CERT_FILE=/etc/faktctl/ca.cert.pem" in env

    # with another CA the same worker refuses the server: it really verifies
    other = tmp_path / "other-ca"
    other.mkdir(mode=0o700)
    openssl.make_ca(other / "ca.cert.pem", other / "ca.key.pem", "not the project CA", 2)
    other_ca = other / "ca.cert.pem"
    other_ca.chmod(0o644)
    url = next(e.split("=", 1)[1] for e in env if e.startswith("FAKTORY_URL="))
    network = f"{deployment.project}_default"
    refusing = run_container(
        go_worker_image,
        network=network,
        environment={"FAKTORY_URL": url, "SSL_CERT_FILE": "/ca.pem"},
        volumes={str(other_ca): {"bind": "/ca.pem", "mode": "ro"}},
    )
    wait_until(
        lambda: b"certificate" in bytes(refusing.logs()),
        30.0,
        "the worker with the wrong CA to refuse the certificate",
    )
    logs = bytes(refusing.logs()).decode("utf-8", errors="replace")
    assert "unknown authority" in logs or "x509" in logs, logs
    assert deployment.password not in logs


def _findings(run_stdout: str) -> dict[str, dict[str, Any]]:
    document = json.loads(run_stdout)
    return {f["id"]: f for f in document["result"]["findings"]}


def _blocking(findings: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (key, f["message"])
        for key, f in findings.items()
        if f["status"] == "fail" and f["category"] != "backup"  # no backup exists yet
    ]


def test_a_worker_elsewhere_over_a_private_address_audit_and_rotation(
    make_deployment: Callable[..., Deployment],
    go_worker_image: str,
    run_container: Callable[..., Container],
    wait_until: Callable[..., None],
    test_network: Network,
) -> None:
    """The server's 7419 published only on a private address of this host (the gateway of a
    network the test made); a worker on that other network reaches it through it alone."""
    test_network.reload()
    gateway = test_network.attrs["IPAM"]["Config"][0]["Gateway"]
    deployment = make_deployment()

    def private_and_tls(spec: dict[str, Any]) -> None:
        _tls_spec(spec)
        spec["server"]["ports"]["protocol"] = f"{gateway}:{deployment.protocol_port}"

    deployment.edit(private_and_tls)
    deployment.up()
    ca = _ca(deployment)
    tls = probe.Tls(ca_file=str(ca), server_name="faktory")

    def producer() -> Producer:
        return Producer(gateway, deployment.protocol_port, deployment.password, tls=tls)

    url = f"tcp+tls://:{deployment.password}@{gateway}:{deployment.protocol_port}"
    worker = run_container(
        go_worker_image,
        network=test_network.name,
        environment={"FAKTORY_URL": url, "SSL_CERT_FILE": "/ca.pem", "WORKER_CONCURRENCY": "5"},
        volumes={str(ca): {"bind": "/ca.pem", "mode": "ro"}},
    )
    with producer() as conn:
        assert conn.push_many([make_job("demo.echo", [n]) for n in range(50)]) == {}
    wait_until(lambda: _processed(producer) >= 50, PROCESS_TIMEOUT, "50 jobs by the remote worker")

    audited = deployment.faktctl("audit", "--live", "--strict", "--format", "json")
    findings = _findings(audited.stdout)
    assert _blocking(findings) == [], audited.output
    assert findings["FKD040"]["status"] == "pass"
    assert findings["FKD041"]["status"] == "pass"
    assert "chains to the CA" in findings["FKD041"]["message"]
    assert findings["FKH040"]["status"] == "pass"
    status = deployment.faktctl("status")
    assert status.code == 0, status.output
    assert "tls        TLSv1." in status.stdout and "CN=faktory, expires" in status.stdout
    # the dashboard's process list (reservations, `rescue`) is read over https as well
    as_json = deployment.faktctl("status", "--json")
    held = json.loads(as_json.stdout)["result"]["faktory"]["reservations"]
    assert "error" not in held and held["processes"] >= 1, held

    # rotation: a new server certificate, the server recreated on its volume, the same
    # worker (same URL, same CA) goes on processing
    with producer() as conn:
        conn.push(make_job("demo.missing", [1], queue="kept"))  # nobody fetches `kept`
    before = tlsprobe.handshake(gateway, deployment.protocol_port, ca)[1]
    rotated = deployment.faktctl("tls", "rotate")
    assert rotated.code == 0, rotated.output
    assert "issued the server certificate" in rotated.stderr
    assert "tls files" in rotated.stderr
    assert tlsprobe.handshake(gateway, deployment.protocol_port, ca)[1] != before
    with producer() as conn:
        assert conn.queue_sizes().get("kept") == 1
        processed = int(conn.info()["faktory"]["total_processed"])
        assert conn.push_many([make_job("demo.echo", [n]) for n in range(20)]) == {}
    wait_until(
        lambda: _processed(producer) >= processed + 20, PROCESS_TIMEOUT, "the worker reconnected"
    )
    worker.reload()
    assert worker.status == "running"

    # TLS off on the same deployment: the audit fails it
    def tls_off(spec: dict[str, Any]) -> None:
        spec["server"]["tls"] = {"mode": "off"}

    deployment.edit(tls_off)
    deployment.up()
    audited = deployment.faktctl("audit", "--live", "--strict", "--format", "json")
    assert audited.code == 1
    findings = _findings(audited.stdout)
    assert findings["FKD040"]["status"] == "fail"
    assert "without TLS" in findings["FKD040"]["message"]
    assert deployment.password not in audited.output + rotated.output
