"""server.tls on a real single-node Docker Swarm (issue 26): the certificate and key are swarm
secrets in the server's config folder, the workers get tcp+tls:// and the CA as a secret, the
published job port speaks only TLS, the Go worker processes jobs over it, `audit --live
--strict` passes, and `faktctl tls rotate` rolls the server onto a new certificate secret with
its data kept while the workers reconnect on their own.

The tests share one deployment and run in order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from faktctl.adapters import openssl, probe
from tests.support import tlsprobe
from tests.support.images import (
    GO_WORKER_REPO,
    ensure_faktory_image,
    ensure_go_worker_image,
    go_worker_recipe_hash,
)
from tests.support.local import free_port, wait_until
from tests.support.producer import Producer, make_job
from tests.support.swarmkit import (
    SwarmDeployment,
    new_swarm_deployment,
    single_node_swarm,
    tear_down,
)

JOBS = 300
PARKED = 40  # on a queue no worker reads: they must survive the server's replacement
PROCESS_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def swarm_node(docker_client: docker.DockerClient, test_session_id: str) -> Iterator[str]:
    with single_node_swarm(docker_client, test_session_id) as node:
        yield node


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
    test_session_id: str,
    swarm_node: str,
) -> Iterator[SwarmDeployment]:
    ensure_go_worker_image(docker_client)
    made = new_swarm_deployment(
        tmp_path_factory.mktemp("swarm-tls") / "project",
        test_session_id,
        docker_client,
        swarm_node,
        ensure_faktory_image(docker_client, "1.10.0"),
        f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}",
    )
    spec = made.spec()
    spec["server"]["tls"] = {"mode": "generate", "names": ["faktory.swarm.internal"]}
    spec["workers"] = spec["workers"][:1]  # the Go worker (file delivery)
    spec["swarm"]["publish_protocol"] = free_port()
    # a swarm publishes in host mode on every interface of the node: with TLS (FKD040) and a
    # firewall that is a choice, said in a suppression
    reason = "host-mode publishing binds every interface; TLS on, firewalled"
    spec["audit"] = {"ignore": [{"id": "FKD002", "reason": reason}]}
    spec["backup"] = {"destination": "backups", "keep": 5, "max_age": "1h"}
    made.write_spec(spec)
    try:
        yield made
    finally:
        tear_down(made)


def _port(deployment: SwarmDeployment) -> int:
    return int(deployment.spec()["swarm"]["publish_protocol"])


def _ca(deployment: SwarmDeployment) -> Path:
    return deployment.folder / "secrets" / "tls" / "ca.cert.pem"


def _tls(deployment: SwarmDeployment) -> probe.Tls:
    return probe.Tls(ca_file=str(_ca(deployment)), server_name="faktory")


def _producer(deployment: SwarmDeployment) -> Producer:
    port = _port(deployment)
    return Producer("127.0.0.1", port, deployment.password, timeout=10.0, tls=_tls(deployment))


def _info(deployment: SwarmDeployment) -> dict[str, Any]:
    with _producer(deployment) as conn:
        found: dict[str, Any] = conn.info()["faktory"]
        return found


def _secret_files(deployment: SwarmDeployment, service: str) -> dict[str, dict[str, Any]]:
    spec = deployment.service(service)["Spec"]["TaskTemplate"]["ContainerSpec"]
    return {s["File"]["Name"]: s for s in spec.get("Secrets") or []}


def test_up_mounts_the_pair_as_secrets_and_the_port_speaks_only_tls(
    deployment: SwarmDeployment,
) -> None:
    dry = deployment.faktctl("up", "--dry-run")
    assert dry.code == 2 and "a dry run writes nothing" in dry.stderr, dry.output
    assert not (deployment.folder / "secrets" / "tls").exists()
    run = deployment.up()
    assert "tls: made a private CA" in run.stderr
    planned = deployment.faktctl("up", "--dry-run")
    assert planned.code == 0 and "keep service" in planned.stdout, planned.output
    assert "HELLO answered +OK over TLS" in run.stderr, run.output
    server = _secret_files(deployment, "faktory")
    assert set(server) == {
        "/run/secrets/faktory_password",
        "/etc/faktory/public.cert.pem",
        "/etc/faktory/private.key.pem",
    }
    assert server["/etc/faktory/private.key.pem"]["File"]["Mode"] == 0o400
    assert server["/etc/faktory/public.cert.pem"]["File"]["Mode"] == 0o444
    worker = _secret_files(deployment, "go-worker")
    assert set(worker) == {"/run/secrets/faktory_url", "/etc/faktctl/ca.cert.pem"}
    env = deployment.service("go-worker")["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "SSL_CERT_FILE=/etc/faktctl/ca.cert.pem" in env
    names = deployment.secret_names()
    # each name is <project>_<what>_<content hash>: the CA's key is never among them (a hash
    # may hold "ca" by chance, so the part before it is compared)
    kinds = sorted(n.removeprefix(f"{deployment.project}_").rsplit("_", 1)[0] for n in names)
    assert kinds == ["password", "tls_ca", "tls_cert", "tls_key", "url"], names

    version, der = tlsprobe.handshake("127.0.0.1", _port(deployment), _ca(deployment))
    assert version in ("TLSv1.2", "TLSv1.3")
    cert = openssl.read_cert(der, der=True)
    assert {"faktory", "faktory.swarm.internal", "localhost"} <= set(cert.dns_names)
    assert not tlsprobe.plain_greeting("127.0.0.1", _port(deployment)).startswith(b"+HI")


def test_the_go_worker_processes_jobs_over_tcp_tls(deployment: SwarmDeployment) -> None:
    with _producer(deployment) as conn:
        assert conn.push_many([make_job("demo.echo", [n]) for n in range(JOBS)]) == {}
        parked = [{**make_job("demo.echo", [n]), "queue": "parked"} for n in range(PARKED)]
        assert conn.push_many(parked) == {}
    wait_until(
        lambda: int(_info(deployment)["total_processed"]) >= JOBS,
        PROCESS_TIMEOUT,
        f"{JOBS} jobs processed by the Go worker over tcp+tls",
    )
    info = _info(deployment)
    assert info["total_failures"] == 0 and info["queues"].get("parked") == PARKED


def test_status_and_audit_live_strict_pass_over_tls(deployment: SwarmDeployment) -> None:
    status = deployment.faktctl("status", "--json")
    assert status.code == 0, status.output
    result = json.loads(status.stdout)["result"]
    assert result["faktory"]["reachable"], result["faktory"]
    served = result["faktory"]["tls"]  # the certificate, read through the relay
    assert served["subject"] == "CN=faktory" and 360 <= served["days_left"] <= 365, served
    audited = deployment.faktctl("audit", "--live", "--strict", "--format", "json")
    findings = {f["id"]: f for f in json.loads(audited.stdout)["result"]["findings"]}
    blocking = [
        (key, f["message"])
        for key, f in findings.items()
        if f["status"] == "fail" and f["category"] != "backup"  # no backup exists yet
    ]
    assert blocking == [], audited.output
    assert findings["FKD040"]["status"] == "pass", findings["FKD040"]
    assert "serves TLS" in findings["FKD040"]["message"]
    # the certificate the task serves, read through the relay: current, names, chain
    assert findings["FKD041"]["status"] == "pass", findings["FKD041"]
    assert "chains to the CA" in findings["FKD041"]["message"]


def test_backup_reaches_the_task_over_tls(deployment: SwarmDeployment) -> None:
    """The task's certificate is a secret of its service, not a mount of its container:
    backup still finds that the server speaks TLS and reaches it through the relay."""
    run = deployment.faktctl("backup", "--json")
    assert run.code == 0, run.output
    assert deployment.password not in run.output


def test_tls_rotate_rolls_the_server_onto_a_new_secret_with_its_data(
    deployment: SwarmDeployment,
) -> None:
    before_names = deployment.secret_names()
    before_versions = deployment.versions()
    _, old_der = tlsprobe.handshake("127.0.0.1", _port(deployment), _ca(deployment))
    run = deployment.faktctl("tls", "rotate", "--timeout", "180")
    assert run.code == 0, run.output
    assert "issued the server certificate" in run.stderr
    assert re.search(r"update service \S+_faktory", run.stderr), run.output
    after_names = deployment.secret_names()
    created = after_names - before_names
    assert len(created) == 2 and all("_tls_c" in n or "_tls_k" in n for n in created), created
    assert len(before_names - after_names) == 2  # the old pair is removed
    after_versions = deployment.versions()
    server = f"{deployment.project}_faktory"
    worker = f"{deployment.project}_go-worker"
    assert after_versions[server] > before_versions[server]
    assert after_versions[worker] == before_versions[worker]  # the CA did not change
    _, new_der = tlsprobe.handshake("127.0.0.1", _port(deployment), _ca(deployment))
    assert new_der != old_der
    assert _info(deployment)["queues"].get("parked") == PARKED
    processed = int(_info(deployment)["total_processed"])
    with _producer(deployment) as conn:
        assert conn.push_many([make_job("demo.echo", [n]) for n in range(50)]) == {}
    wait_until(
        lambda: int(_info(deployment)["total_processed"]) >= processed + 50,
        PROCESS_TIMEOUT,
        "the workers to reconnect and process jobs after the rotation",
    )


def test_render_stack_names_every_tls_secret_and_never_the_ca_key(
    deployment: SwarmDeployment,
) -> None:
    rendered = deployment.faktctl("render", "--target", "stack")
    assert rendered.code == 0, rendered.output
    commands = dict(re.findall(r"docker secret create (\S+) (\S+)", rendered.stderr))
    assert set(commands) == deployment.secret_names()
    assert not any(path.endswith("ca.key.pem") for path in commands.values())
    stack = (deployment.folder / "stack.yaml").read_text()
    assert "target: /etc/faktory/private.key.pem" in stack
    assert "target: /etc/faktctl/ca.cert.pem" in stack
    assert "BEGIN" not in stack and deployment.password not in stack
    # the stack file's audit sees the pair in the server's config folder through its secrets
    audit = deployment.faktctl("audit", "--compose", "stack.yaml", "--format", "json")
    findings = {f["id"]: f for f in json.loads(audit.stdout)["result"]["findings"]}
    assert findings["FKD040"]["status"] == "pass", findings["FKD040"]
    assert "serves TLS" in findings["FKD040"]["message"]
    assert findings["FKH040"]["status"] == "pass", findings["FKH040"]
