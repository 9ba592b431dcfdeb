"""The server lookup of backup/restore on a swarm: a task on another node is named with what
to run (the engine side is proven in tests/e2e/test_swarm_backup.py)."""

from __future__ import annotations

from typing import Any

import pytest

from faktctl import labels
from faktctl.adapters.docker import swarm as docker_swarm
from faktctl.backups import deployment


class _Engine:
    """Only what running_server reads: no container of the project on this engine."""

    def containers(self, labels: Any, all: bool = True) -> list[dict[str, Any]]:
        return []


def _swarm(monkeypatch: pytest.MonkeyPatch, task_node: str) -> None:
    server = {"ID": "svc1", "Spec": {"Labels": {labels.ROLE: "server"}}}
    task = {"NodeID": task_node, "DesiredState": "running", "Status": {"State": "running"}}
    monkeypatch.setattr(
        docker_swarm, "require_manager", lambda engine: docker_swarm.SwarmInfo("n-here", "box-a")
    )
    monkeypatch.setattr(docker_swarm, "services", lambda engine, project: [server])
    monkeypatch.setattr(docker_swarm, "tasks", lambda engine, service_id: [task])
    monkeypatch.setattr(
        docker_swarm, "node_name_and_address", lambda engine, node: ("box-b", "10.0.0.7")
    )


def test_a_server_task_on_another_node_names_it_and_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _swarm(monkeypatch, "n-other")
    with pytest.raises(deployment.ServerNotRunning) as caught:
        deployment.running_server(_Engine(), "shop")  # type: ignore[arg-type]
    line = caught.value.one_line()
    assert "\n" not in line
    assert "runs on swarm node box-b (10.0.0.7), not on box-a" in line
    assert "DOCKER_HOST=ssh://<user>@10.0.0.7" in line and "DOCKER_CONTEXT" in line


def test_a_server_task_on_this_node_without_its_container_is_the_usual_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _swarm(monkeypatch, "n-here")
    with pytest.raises(deployment.ServerNotRunning) as caught:
        deployment.running_server(_Engine(), "shop")  # type: ignore[arg-type]
    assert "has no faktory server container on this engine" in caught.value.one_line()


def test_a_plain_container_is_not_a_swarm_task() -> None:
    task = {"Config": {"Labels": {deployment.SWARM_SERVICE_ID: "abc"}}}
    assert deployment.swarm_service_of(task) == "abc"
    assert deployment.swarm_service_of({"Config": {"Labels": {}}}) == ""


def test_a_swarm_tasks_certificate_is_found_among_its_services_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A task container's mounts do not show its swarm secrets: whether the server speaks TLS
    is read from its service (issue 26)."""
    secrets = [{"File": {"Name": "/etc/faktory/public.cert.pem"}}]
    service = {"Spec": {"TaskTemplate": {"ContainerSpec": {"Secrets": secrets}}}}
    monkeypatch.setattr(docker_swarm, "inspect_service", lambda engine, service_id: service)
    task = {"Config": {"Labels": {"com.docker.swarm.service.id": "svc1"}}, "Mounts": []}
    tls = deployment.container_tls(task, _Engine())  # type: ignore[arg-type]
    assert tls is not None and not tls.verify and tls.server_name == "faktory"
    assert deployment.container_tls(task) is None  # without the engine nothing is asked
    service["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"] = []
    assert deployment.container_tls(task, _Engine()) is None  # type: ignore[arg-type]
