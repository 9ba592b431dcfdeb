"""Issue 2 acceptance: `docker compose up -d` of a freshly rendered project gives a production
Faktory: healthy, password enforced, dashboard locked, ports on loopback, data in the volume."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import yaml
from docker.models.containers import Container

from faktctl import labels
from faktctl.adapters import probe
from tests.support.cli import run_faktctl
from tests.support.compose import compose, label_override
from tests.support.local import free_port
from tests.support.producer import Producer, make_job

HEALTH_TIMEOUT = 90.0
PERSISTED_QUEUE = "e2e-persisted"


@dataclass
class ComposeProject:
    folder: Path
    name: str
    protocol_port: int
    dashboard_port: int
    dashboard_password: str | None = None

    @property
    def password(self) -> str:
        return (self.folder / "secrets" / "faktory_password").read_text().strip()

    def compose(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return compose(self.folder, *args, timeout=timeout)


DASHBOARD_PASSWORD = "people-use-this-one-0123456789"


@pytest.fixture(params=["server-password", "separate-dashboard-password"])
def rendered_project(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    faktory_image: str,
    test_session_id: str,
    docker_client: docker.DockerClient,
) -> Iterator[ComposeProject]:
    name = f"t{uuid.uuid4().hex[:10]}"
    assert run_faktctl("init", "--yes", "--project", name, cwd=tmp_path).code == 0
    spec_path = tmp_path / "faktory.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    project = ComposeProject(tmp_path, name, free_port(), free_port())
    spec["server"]["image"] = faktory_image
    spec["server"]["ports"] = {
        "protocol": f"127.0.0.1:{project.protocol_port}",
        "dashboard": f"127.0.0.1:{project.dashboard_port}",
    }
    if request.param == "separate-dashboard-password":
        (tmp_path / "secrets" / "dashboard_password").write_text(DASHBOARD_PASSWORD + "\n")
        spec["server"]["dashboard_password_file"] = "secrets/dashboard_password"
        project.dashboard_password = DASHBOARD_PASSWORD
    spec_path.write_text(yaml.safe_dump(spec))
    result = run_faktctl("render", cwd=tmp_path)
    assert result.code == 0, result.output
    label_override(tmp_path, test_session_id, name)
    try:
        yield project
    finally:
        compose(tmp_path, "down", "-v", check=False)


def _server(client: docker.DockerClient, project: str) -> Container:
    found = client.containers.list(
        all=True,
        filters={
            "label": [f"com.docker.compose.project={project}", "com.docker.compose.service=faktory"]
        },
    )
    assert len(found) == 1, f"expected one server container, found {len(found)}"
    return found[0]


def _wait_healthy(client: docker.DockerClient, project: str) -> Container:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    status = "unknown"
    while time.monotonic() < deadline:
        container = _server(client, project)
        status = container.attrs["State"].get("Health", {}).get("Status", "none")
        if status == "healthy":
            return container
        if container.status == "exited":
            break
        time.sleep(0.5)
    logs = _server(client, project).logs(tail=30).decode(errors="replace")
    pytest.fail(f"server not healthy within {HEALTH_TIMEOUT:g}s (health: {status}):\n{logs}")


def test_rendered_project_runs_a_production_faktory_that_keeps_its_data(
    rendered_project: ComposeProject, docker_client: docker.DockerClient
) -> None:
    project = rendered_project
    project.compose("up", "-d")
    server = _wait_healthy(docker_client, project.name)

    bindings = server.attrs["NetworkSettings"]["Ports"]
    for port in ("7419/tcp", "7420/tcp"):
        assert {b["HostIp"] for b in bindings[port]} == {"127.0.0.1"}, bindings[port]

    greeting = probe.handshake("127.0.0.1", project.protocol_port, project.password)
    assert greeting.password_required, "the +HI greeting must carry a salt"
    assert greeting.accepted
    wrong = probe.handshake("127.0.0.1", project.protocol_port, "not-the-password")
    assert not wrong.accepted and "Invalid password" in (wrong.error or "")
    web = project.dashboard_port
    assert probe.http_status("127.0.0.1", web, "/") == 401
    people = project.dashboard_password or project.password
    assert probe.http_status("127.0.0.1", web, "/", password=people) == 200
    if project.dashboard_password:
        assert probe.http_status("127.0.0.1", web, "/", password=project.password) == 401
    assert probe.http_health("127.0.0.1", project.dashboard_port)["server"]["faktory_version"]

    with Producer("127.0.0.1", project.protocol_port, project.password) as conn:
        conn.push(make_job("demo.echo", [1], queue=PERSISTED_QUEUE))
        assert conn.queue_sizes().get(PERSISTED_QUEUE) == 1

    project.compose("down")  # volumes kept; a graceful stop saves the RDB
    volume = docker_client.volumes.get(f"{project.name}_data")
    assert volume.attrs["Labels"].get(labels.TEST)

    project.compose("up", "-d")
    server = _wait_healthy(docker_client, project.name)
    with Producer("127.0.0.1", project.protocol_port, project.password) as conn:
        assert conn.queue_sizes().get(PERSISTED_QUEUE) == 1
    code, _ = server.exec_run(["ls", "/var/lib/faktory/db/faktory.rdb"])
    assert code == 0, "the RDB must live in the mounted volume"
    code, _ = server.exec_run(["ls", "/root/.faktory/db/faktory.rdb"])
    assert code != 0, "nothing may be written to the development data dir"
