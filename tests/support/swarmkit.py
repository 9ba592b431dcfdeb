"""A single-node swarm for the swarm end-to-end tests, and a deployment on it.

The swarm is created (`docker swarm init --advertise-addr 127.0.0.1`) only when the engine is
not already in one, and left at the end only when these tests created it. Every object faktctl
creates carries `io.faktctl.test=<session>` (FAKTCTL_EXTRA_LABELS); services and secrets the
tests create carry it too, and whatever is left with it is removed at the end.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from faktctl import labels
from faktctl.adapters.docker.connect import connect
from faktctl.adapters.docker.tunnel import relay
from faktctl.backups.deployment import running_server
from tests.support.cli import CliResult, run_faktctl
from tests.support.producer import Producer
from tests.support.specfolder import SpecFolder

RUN_TIMEOUT = 300.0
GATEWAY_BRIDGE = "docker_gwbridge"
SHELL_CHECK = (
    'case "$FAKTORY_URL" in tcp://:?*@faktory:7419) echo url-ok;; *) echo url-missing;; esac; '
    "exec sleep 3600"
)


@contextlib.contextmanager
def single_node_swarm(client: docker.DockerClient, session_id: str) -> Iterator[str]:
    """The node's hostname; the swarm exists for the duration of the block."""
    state = client.info()["Swarm"]["LocalNodeState"]
    created = state == "inactive"
    # `swarm init` makes the engine's docker_gwbridge network, which `swarm leave` keeps
    had_bridge = bool(client.networks.list(names=[GATEWAY_BRIDGE]))
    if created:
        subprocess.run(
            ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    try:
        yield str(client.info()["Name"])
    finally:
        remove_swarm_objects(client, session_id)
        if created:
            subprocess.run(
                ["docker", "swarm", "leave", "--force"], check=False, capture_output=True
            )
            if not had_bridge:
                for network in client.networks.list(names=[GATEWAY_BRIDGE]):
                    with contextlib.suppress(docker.errors.APIError):
                        network.remove()


def remove_swarm_objects(
    client: docker.DockerClient, session_id: str, project: str | None = None
) -> None:
    """The services, their containers and the secrets this test session made (of one project
    when `project` is given, so another deployment of the session keeps running)."""
    wanted = [f"{labels.TEST}={session_id}"]
    if project is not None:
        wanted.append(f"{labels.PROJECT}={project}")
    selector: dict[str, str | list[str] | bool] = {"label": wanted}
    for service in client.services.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            service.remove()  # type: ignore[no-untyped-call]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not client.containers.list(all=True, filters=selector, sparse=True):
            break
        time.sleep(0.5)
    for secret in client.secrets.list(filters=selector):
        with contextlib.suppress(docker.errors.APIError):
            secret.remove()


@dataclass
class SwarmDeployment(SpecFolder):
    project: str
    session_id: str
    client: docker.DockerClient
    runs: list[CliResult] = field(default_factory=list)

    def faktctl(self, *args: str, timeout: float = RUN_TIMEOUT) -> CliResult:
        env = {"FAKTCTL_EXTRA_LABELS": f"{labels.TEST}={self.session_id}"}
        run = run_faktctl(*args, cwd=self.folder, env=env, timeout=timeout)
        self.runs.append(run)
        return run

    def up(self, *args: str) -> CliResult:
        run = self.faktctl("up", "--timeout", "180", *args)
        assert run.code == 0, f"faktctl up failed ({run.code}):\n{run.output}"
        return run

    def service(self, name: str) -> dict[str, Any]:
        attrs = self.client.api.inspect_service(f"{self.project}_{name}")  # type: ignore[no-untyped-call]
        assert isinstance(attrs, dict)
        return attrs

    def replicas(self, name: str) -> int:
        """The replicas the service asks for (not how many run)."""
        return int(self.service(name)["Spec"]["Mode"]["Replicated"]["Replicas"])

    def versions(self) -> dict[str, int]:
        selector = {"label": f"{labels.PROJECT}={self.project}"}
        return {
            s.name: int(s.attrs["Version"]["Index"])
            for s in self.client.services.list(filters=selector)
        }

    def secret_names(self) -> set[str]:
        selector = {"label": f"{labels.PROJECT}={self.project}"}
        return {s.name for s in self.client.secrets.list(filters=selector)}

    @contextlib.contextmanager
    def connect(self, password: str | None = None) -> Iterator[Producer]:
        """A Faktory connection to the server's task through the engine API relay."""
        engine = connect()
        try:
            server = running_server(engine, self.project)
            with (
                relay(engine, str(server["Id"]), 7419) as opened,
                Producer("127.0.0.1", opened.port, password or self.password, timeout=10.0) as conn,
            ):
                yield conn
        finally:
            engine.close()

    def info(self) -> dict[str, Any]:
        with self.connect() as conn:
            return conn.info()


def new_swarm_deployment(
    folder: Path,
    session_id: str,
    client: docker.DockerClient,
    node: str,
    server_image: str,
    worker_image: str,
) -> SwarmDeployment:
    project = f"w{uuid.uuid4().hex[:10]}"
    folder.mkdir(parents=True, exist_ok=True)
    deployment = SwarmDeployment(folder, project, session_id, client)
    init = deployment.faktctl("init", "--yes", "--project", project)
    assert init.code == 0, init.output
    deployment.write_spec(
        {
            "version": 1,
            "project": project,
            "platform": "swarm",
            "server": {
                "image": server_image,
                "stop_grace_period": "30s",
                "resources": {"memory": "512m"},
            },
            "workers": [
                {
                    "name": "go-worker",
                    "image": worker_image,
                    "replicas": 3,
                    "env": {"FAKTORY_QUEUES": "default", "WORKER_CONCURRENCY": 10},
                    "resources": {"memory": "128m"},
                },
                {
                    # `shell` delivery (the default): the image's command runs under /bin/sh,
                    # which exports FAKTORY_URL from the secret file; this one only checks it
                    "name": "shell-check",
                    "image": server_image,
                    "command": ["sh", "-c", SHELL_CHECK],
                },
            ],
            "swarm": {
                "server_node": {"hostname": node},
                "update_parallelism": 1,
                "workers": {"go-worker": {"faktory_url": "file"}},
            },
        }
    )
    return deployment


def tear_down(deployment: SwarmDeployment) -> None:
    deployment.faktctl("down", "--volumes", "--yes")
    remove_swarm_objects(deployment.client, deployment.session_id, deployment.project)


@contextlib.contextmanager
def two_worker_tasks(
    folder: Path,
    client: docker.DockerClient,
    session_id: str,
    server_image: str,
    spec_extra: dict[str, Any] | None = None,
) -> Iterator[SwarmDeployment]:
    """On a single-node swarm: the server and one Go worker service at 2 replicas, up for the
    block and torn down after it (`spec_extra`: more top-level spec sections)."""
    from tests.support.images import GO_WORKER_REPO, go_worker_recipe_hash

    with single_node_swarm(client, session_id) as node:
        made = new_swarm_deployment(
            folder,
            session_id,
            client,
            node,
            server_image,
            f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}",
        )
        spec = made.spec()
        spec["workers"] = spec["workers"][:1]
        spec["workers"][0]["replicas"] = 2
        spec.update(spec_extra or {})
        made.write_spec(spec)
        try:
            made.up()
            yield made
        finally:
            tear_down(made)
