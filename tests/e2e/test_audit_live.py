"""`faktctl audit --live` against the real Faktory server image.

A dangerous deployment (development mode with a volume, no password, dashboard published on
0.0.0.0, FAKTORY_SKIP_PASSWORD) must be caught with the right categories; a safe one must pass
--strict. The probes only ever talk to 127.0.0.1. Every container and volume carries the test
label and is removed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from faktctl.adapters import probe
from tests.support.cli import run_faktctl
from tests.support.producer import Producer, make_job

CASE_LABEL = "io.faktctl.audit-case"
PASSWORD = "live-audit-" + uuid.uuid4().hex
HEALTHCHECK = {
    "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:7420/health"],
    "interval": 2_000_000_000,
    "timeout": 2_000_000_000,
    "retries": 3,
    "start_period": 1_000_000_000,
}


@pytest.fixture
def make_volume(
    docker_client: docker.DockerClient, test_labels: dict[str, str]
) -> Iterator[Callable[[], str]]:
    created: list[str] = []

    def make() -> str:
        name = f"faktctl-audit-{uuid.uuid4().hex[:10]}"
        docker_client.volumes.create(name=name, labels=test_labels)
        created.append(name)
        return name

    yield make
    for name in created:
        try:
            docker_client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            continue


@pytest.fixture
def start_container(
    docker_client: docker.DockerClient, test_labels: dict[str, str]
) -> Iterator[Callable[..., Container]]:
    """Like run_container, through the low-level API, which also takes a stop timeout."""
    started: list[Container] = []

    def start(image: str, *, labels: dict[str, str], stop_timeout: int, **host: Any) -> Container:
        api = docker_client.api
        config = api.create_host_config(
            binds=host.pop("binds"),
            port_bindings=host.pop("ports"),
            restart_policy=host.pop("restart_policy"),
            mem_limit=host.pop("mem_limit"),
        )
        created = api.create_container(
            image,
            command=host.pop("command"),
            environment=host.pop("environment"),
            healthcheck=host.pop("healthcheck"),
            labels={**labels, **test_labels},
            stop_timeout=stop_timeout,
            host_config=config,
        )
        assert not host, host
        container = docker_client.containers.get(created["Id"])
        started.append(container)
        container.start()
        return container

    yield start
    for container in started:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            continue


def published(container: Container, port: str) -> int:
    container.reload()
    for binding in container.attrs["NetworkSettings"]["Ports"].get(port) or []:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    raise AssertionError(f"{port} is not published")


def wait_for_greeting(
    wait_until: Callable[..., None], container: Container, password: str | None
) -> int:
    port = published(container, "7419/tcp")

    def ready() -> bool:
        container.reload()
        if container.status != "running":
            raise AssertionError(container.logs().decode(errors="replace"))
        try:
            return probe.handshake("127.0.0.1", port, password, timeout=1.0).accepted
        except probe.ProbeError:
            return False

    wait_until(ready, 30, "the Faktory handshake")
    return port


def live_audit(case: str, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_faktctl(
        "audit", "--live", "--label", f"{CASE_LABEL}={case}", "--format", "json", *args, cwd=cwd
    )
    assert result.code in (0, 1), result.output
    return result.code, json.loads(result.stdout)


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in document["result"]["findings"]}


def test_dangerous_deployment_is_caught(
    faktory_image: str,
    make_volume: Callable[[], str],  # before run_container: containers go first at teardown
    run_container: Callable[..., Container],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    case = uuid.uuid4().hex
    volume = make_volume()
    container = run_container(
        faktory_image,  # the image's own command: development, -b/-w 0.0.0.0
        labels={CASE_LABEL: case},
        environment={"FAKTORY_SKIP_PASSWORD": "true"},
        volumes={volume: {"bind": "/var/lib/faktory", "mode": "rw"}},
        # Published on every interface, as the bad compose files do; probed on 127.0.0.1 only.
        ports={"7419/tcp": ("127.0.0.1", None), "7420/tcp": ("0.0.0.0", None)},
    )
    wait_for_greeting(wait_until, container, None)

    code, document = live_audit(case, tmp_path)
    assert code == 1
    findings = by_id(document)
    failed = {id_ for id_, f in findings.items() if f["status"] == "fail"}
    expected = {
        "FKP001",  # nothing mounted at /root/.faktory/db
        "FKP002",  # the volume at /var/lib/faktory is never written
        "FKP010",  # redis.sock really is in /root/.faktory/db, on the container layer
        "FKM001",  # development
        "FKS001",  # no password
        "FKS002",  # FAKTORY_SKIP_PASSWORD
        "FKS020",  # +HI without a salt
        "FKD001",  # 7420 on 0.0.0.0
        "FKD003",  # ... with no password
        "FKD010",  # GET / answers 200 without credentials
    }
    assert expected <= failed, sorted(failed)
    categories = {f["category"] for f in findings.values() if f["status"] == "fail"}
    assert {
        "persistence",
        "production-mode",
        "password-secret",
        "dashboard-exposure",
    } <= categories
    assert "0.0.0.0" in findings["FKD001"]["message"]
    assert findings["FKP010"]["message"].startswith("Redis runs in /root/.faktory/db")
    for item in document["result"]["findings"]:
        for endpoint in ("FKS020", "FKD010"):
            if item["id"] == endpoint:
                assert "127.0.0.1:" in item["message"]  # never the 0.0.0.0 address


def test_safe_deployment_passes(
    faktory_image: str,
    make_volume: Callable[[], str],  # before start_container: containers go first at teardown
    start_container: Callable[..., Container],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    case = uuid.uuid4().hex
    secret = tmp_path / "faktory_password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    container = start_container(
        faktory_image,
        command=["/faktory", "-e", "production", "-b", ":7419", "-w", ":7420"],
        labels={CASE_LABEL: case},
        environment={
            "FAKTORY_ENV": "production",
            "FAKTORY_PASSWORD": "/run/secrets/faktory_password",
        },
        binds={
            make_volume(): {"bind": "/var/lib/faktory", "mode": "rw"},
            str(secret): {"bind": "/run/secrets/faktory_password", "mode": "ro"},
        },
        ports={7419: ("127.0.0.1", None), 7420: ("127.0.0.1", None)},
        restart_policy={"Name": "unless-stopped"},
        healthcheck=HEALTHCHECK,
        stop_timeout=60,
        mem_limit="1g",
    )
    port = wait_for_greeting(wait_until, container, PASSWORD)
    with Producer("127.0.0.1", port, PASSWORD) as conn:
        conn.push(make_job("AuditProbe", [1]))
    saved = container.exec_run(["redis-cli", "-s", "/var/lib/faktory/db/redis.sock", "SAVE"])
    assert saved.exit_code == 0, saved.output

    code, document = live_audit(case, tmp_path)
    findings = by_id(document)
    failures = [f for f in document["result"]["findings"] if f["status"] == "fail"]
    assert code == 0, failures
    assert failures == []
    assert findings["FKH008"]["status"] == "pass", findings["FKH008"]  # 1.10.0 from the wire
    assert "1.10.0" in findings["FKH008"]["message"]
    for check in ("FKP001", "FKP010", "FKP011", "FKM001", "FKS001", "FKS004", "FKS005",
                  "FKS020", "FKS021", "FKD001", "FKD010", "FKH004", "FKH021"):  # fmt: skip
        assert findings[check]["status"] == "pass", findings[check]
    assert "401" in findings["FKD010"]["message"]
    assert "faktory.rdb" in findings["FKP011"]["message"]
    assert PASSWORD not in json.dumps(document)


def test_probe_handshake_against_the_real_server(
    faktory_server: Callable[..., Any],
) -> None:
    server = faktory_server(password=PASSWORD, production=True)
    right = probe.handshake(server.host, server.port, PASSWORD, timeout=5)
    assert right.password_required and right.accepted and right.error is None
    assert right.iterations is not None and right.iterations >= 1
    wrong = probe.handshake(server.host, server.port, PASSWORD + "-wrong", timeout=5)
    assert wrong.password_required and not wrong.accepted
    assert wrong.error == "Invalid password"
    missing = probe.handshake(server.host, server.port, None, timeout=5)
    assert not missing.accepted
    assert probe.http_status(server.host, server.web_port, "/") == 401
    assert probe.http_status(server.host, server.web_port, "/", password=PASSWORD) == 200

    open_server = faktory_server()
    greeting = probe.handshake(open_server.host, open_server.port, None, timeout=5)
    assert not greeting.password_required and greeting.accepted


def test_a_deployment_made_by_faktctl_up_passes_its_live_audit(
    tmp_path: Path,
    test_session_id: str,
    docker_client: docker.DockerClient,
    faktory_image: str,
) -> None:
    """init + up, then `audit --live --strict` with the spec: the project's containers by
    label, the spec's password for HELLO, the spec's backup policy (no backup yet)."""
    from tests.support.upkit import new_deployment, tear_down

    deployment = new_deployment(tmp_path, test_session_id, docker_client, faktory_image, [])
    try:
        deployment.up()
        run = deployment.faktctl("audit", "--live", "--strict", "--format", "json")
        assert run.code == 1, run.output  # only because no backup exists yet
        document = json.loads(run.stdout)
        assert document["result"]["input"] == {"kind": "live", "file": "faktory.yaml"}
        blocking = [
            (f["id"], f["message"])
            for f in document["result"]["findings"]
            if f["status"] == "fail" and f["category"] != "backup"
        ]
        assert blocking == []
        findings = by_id(document)
        assert findings["FKS021"]["status"] == "pass"  # the spec's password opened it
        assert findings["FKP010"]["status"] == "pass"
        assert findings["FKB002"]["status"] == "fail"
        assert deployment.password not in run.output
    finally:
        tear_down(deployment)
