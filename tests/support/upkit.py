"""Helpers for the `faktctl up/down/status/logs` end-to-end tests (issue 4).

A `Deployment` is a fresh project folder made by `faktctl init`, pointed at the local test
images and at free loopback ports, under a unique project name `t<hex>`. Every faktctl run gets
FAKTCTL_EXTRA_LABELS=io.faktctl.test=<session>, so all it creates is removed by the session
cleanup even if a test dies; the fixture also runs `faktctl down --volumes --yes` at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import docker
import pytest

from faktctl import labels
from tests.support.cli import CliResult, run_faktctl
from tests.support.local import free_port
from tests.support.producer import Producer
from tests.support.specfolder import SpecFolder

RUN_TIMEOUT = 240.0


@dataclass
class Deployment(SpecFolder):
    project: str
    session_id: str
    protocol_port: int
    dashboard_port: int
    client: docker.DockerClient
    runs: list[CliResult] = field(default_factory=list)

    def faktctl(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT
    ) -> CliResult:
        labelled = {"FAKTCTL_EXTRA_LABELS": f"{labels.TEST}={self.session_id}", **(env or {})}
        run = run_faktctl(*args, cwd=self.folder, env=labelled, timeout=timeout)
        self.runs.append(run)
        return run

    def up(self, *args: str) -> CliResult:
        run = self.faktctl("up", *args)
        assert run.code == 0, f"faktctl up failed ({run.code}):\n{run.output}"
        return run

    def containers(self, service: str | None = None) -> dict[str, str]:
        """Container name -> id for this project (every state)."""
        selector = [f"{labels.PROJECT}={self.project}"]
        if service is not None:
            selector.append(f"{labels.SERVICE}={service}")
        # the list alone (no inspect per container): one removed meanwhile is not an error
        found = self.client.api.containers(all=True, filters={"label": selector})
        return {str(c["Names"][0]).lstrip("/"): str(c["Id"]) for c in found}

    def inspect(self, name: str) -> dict[str, Any]:
        attrs = self.client.api.inspect_container(name)
        assert isinstance(attrs, dict)
        return attrs

    def connect(self) -> Producer:
        return Producer("127.0.0.1", self.protocol_port, self.password)

    def url(self) -> str:
        return f"tcp://:{self.password}@127.0.0.1:{self.protocol_port}"


def go_worker(name: str, image: str, replicas: int = 1, queues: str = "default") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "replicas": replicas,
        "env": {"FAKTORY_QUEUES": queues, "WORKER_CONCURRENCY": 10},
    }


def new_deployment(
    folder: Path,
    session_id: str,
    client: docker.DockerClient,
    server_image: str,
    workers: list[dict[str, Any]],
) -> Deployment:
    project = f"t{uuid.uuid4().hex[:10]}"
    deployment = Deployment(folder, project, session_id, free_port(), free_port(), client)
    init = deployment.faktctl("init", "--yes", "--project", project)
    assert init.code == 0, init.output

    def point_at_local_images(spec: dict[str, Any]) -> None:
        spec["server"]["image"] = server_image
        spec["server"]["ports"] = {
            "protocol": f"127.0.0.1:{deployment.protocol_port}",
            "dashboard": f"127.0.0.1:{deployment.dashboard_port}",
        }
        spec["server"]["stop_grace_period"] = "30s"
        spec["workers"] = workers

    deployment.edit(point_at_local_images)
    return deployment


def tear_down(deployment: Deployment) -> None:
    """`faktctl down --volumes --yes`, then force-remove anything left with the project label."""
    deployment.faktctl("down", "--volumes", "--yes")
    client = deployment.client
    selector: dict[str, str | list[str] | bool] = {
        "label": [f"{labels.PROJECT}={deployment.project}"]
    }
    for container in client.containers.list(all=True, filters=selector, sparse=True):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters=selector):
        network.remove()
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)


@pytest.fixture
def make_deployment(
    tmp_path: Path,
    test_session_id: str,
    docker_client: docker.DockerClient,
    faktory_image: str,
) -> Iterator[Callable[..., Deployment]]:
    """Factory: `make_deployment(workers=[...], folder_name="a", image=...)` -> a project ready
    for `up` (the server image: the suite's default version unless `image` names another)."""
    made: list[Deployment] = []

    def make(
        workers: list[dict[str, Any]] | None = None,
        folder_name: str = "project",
        image: str | None = None,
    ) -> Deployment:
        folder = tmp_path / folder_name
        folder.mkdir()
        deployment = new_deployment(
            folder, test_session_id, docker_client, image or faktory_image, workers or []
        )
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        tear_down(deployment)


def assert_password_never_printed(deployment: Deployment) -> None:
    secret = deployment.password
    for run in deployment.runs:
        assert secret not in run.output, "the password appeared in faktctl's output"


class ProjectRun(Protocol):
    """What `faktctl` needs to run for a test's project (an engine or a swarm deployment)."""

    folder: Path
    session_id: str


@contextlib.contextmanager
def dashboard_tunnel(
    deployment: ProjectRun, scheme: str = "http", lines: int = 1
) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """`faktctl dashboard --port 0` running for the block: the process (its stderr still open
    to read), its port, and the first `lines` lines it said."""
    env = {
        **os.environ,
        "FAKTCTL_EXTRA_LABELS": f"{labels.TEST}={deployment.session_id}",
        "NO_COLOR": "1",
    }
    tunnel = subprocess.Popen(
        [sys.executable, "-m", "faktctl", "dashboard", "--port", "0"],
        cwd=deployment.folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tunnel.stderr is not None
        said = "".join(tunnel.stderr.readline() for _ in range(lines))
        found = re.search(rf"{scheme}://127\.0\.0\.1:(\d+)/", said)
        assert found, said
        yield tunnel, int(found.group(1)), said
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=30)
