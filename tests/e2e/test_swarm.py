"""The same spec on a real single-node Docker Swarm (issue 14): up, jobs, rollouts, rotation.

The tests in this module share one deployment and run in order: each step starts from the
state the previous one left (as an operator's session would).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.types
import httpx
import pytest

from faktctl import labels
from faktctl.adapters import probe
from tests.support.images import (
    GO_WORKER_REPO,
    ensure_faktory_image,
    ensure_go_worker_image,
    go_worker_recipe_hash,
)
from tests.support.local import wait_until
from tests.support.producer import make_job
from tests.support.swarmkit import (
    SwarmDeployment,
    new_swarm_deployment,
    single_node_swarm,
    tear_down,
)
from tests.support.upkit import dashboard_tunnel

PUSHED = 500
LONG_JOBS = 10
PARKED = 200  # jobs on a queue no worker reads: they must survive every server replacement


@pytest.fixture(scope="module")
def swarm_node(docker_client: docker.DockerClient, test_session_id: str) -> Iterator[str]:
    with single_node_swarm(docker_client, test_session_id) as node:
        yield node


@pytest.fixture(scope="module")
def go_worker_image(docker_client: docker.DockerClient) -> str:
    """The Go worker by its recipe tag: `latest` may be moved by a run on other sources."""
    ensure_go_worker_image(docker_client)
    return f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}"


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
    test_session_id: str,
    swarm_node: str,
    go_worker_image: str,
) -> Iterator[SwarmDeployment]:
    server_image = ensure_faktory_image(docker_client, "1.10.0")
    made = new_swarm_deployment(
        tmp_path_factory.mktemp("swarm") / "project",
        test_session_id,
        docker_client,
        swarm_node,
        server_image,
        go_worker_image,
    )
    try:
        yield made
    finally:
        tear_down(made)


def _processed(deployment: SwarmDeployment) -> int:
    return int(deployment.info()["faktory"]["total_processed"])


def _produce(deployment: SwarmDeployment, image: str, count: int) -> None:
    """A producer service in the project's overlay network pushes `count` jobs and exits."""
    client = deployment.client
    url_secret = next(
        s
        for s in client.secrets.list(filters={"label": f"{labels.PROJECT}={deployment.project}"})
        if s.name.startswith(f"{deployment.project}_url_")
    )
    test_label = {labels.TEST: deployment.session_id}
    image_id = client.images.get(image).id
    assert url_secret.id is not None
    service = client.services.create(  # type: ignore[no-untyped-call]
        image_id,
        args=["push", str(count)],
        name=f"{deployment.project}-producer-{int(time.time())}",
        env=["FAKTORY_URL_FILE=/run/secrets/faktory_url", "FAKTORY_QUEUES=default"],
        secrets=[docker.types.SecretReference(url_secret.id, url_secret.name, "faktory_url")],
        networks=[f"{deployment.project}_default"],
        restart_policy=docker.types.RestartPolicy(condition="none"),
        labels=test_label,
        container_labels=test_label,
    )
    try:

        def finished() -> bool:
            states = [t["Status"]["State"] for t in service.tasks()]
            assert not set(states) & {"failed", "rejected"}, service.tasks()
            return "complete" in states

        wait_until(finished, 120, "the producer service to push its jobs")
    finally:
        service.remove()


def test_up_deploys_and_workers_process_jobs_from_a_producer_in_the_overlay(
    deployment: SwarmDeployment, go_worker_image: str
) -> None:
    dry = deployment.faktctl("up", "--dry-run")
    assert dry.code == 0, dry.output
    assert f"create service {deployment.project}_faktory (1 replica)" in dry.stdout
    assert not deployment.versions(), "--dry-run created services"

    run = deployment.up()
    assert "HELLO answered +OK" in run.stderr
    server = deployment.service("faktory")["Spec"]
    assert server["Mode"]["Replicated"]["Replicas"] == 1
    assert server["UpdateConfig"]["Order"] == "stop-first"
    assert server["TaskTemplate"]["RestartPolicy"]["Condition"] == "any"
    assert server["TaskTemplate"]["Placement"]["Constraints"] == [
        f"node.hostname=={deployment.client.info()['Name']}"
    ]
    workers = deployment.service("go-worker")["Spec"]
    assert workers["Mode"]["Replicated"]["Replicas"] == 3
    assert workers["UpdateConfig"]["Order"] == "start-first"
    assert workers["UpdateConfig"]["FailureAction"] == "rollback"
    network = deployment.client.networks.get(f"{deployment.project}_default")
    assert network.attrs["Driver"] == "overlay" and network.attrs["Attachable"]

    _produce(deployment, go_worker_image, PUSHED)
    wait_until(lambda: _processed(deployment) >= PUSHED, 180, f"{PUSHED} jobs processed")
    info = deployment.info()["faktory"]
    assert info["total_processed"] == PUSHED and info["total_failures"] == 0


def test_no_password_in_service_or_task_inspect(deployment: SwarmDeployment) -> None:
    password = deployment.password
    client = deployment.client
    for name in ("faktory", "go-worker"):
        assert password not in json.dumps(deployment.service(name))
    selector: dict[str, str | list[str] | bool] = {
        "label": f"{labels.PROJECT}={deployment.project}"
    }
    containers = client.containers.list(filters=selector)
    assert len(containers) == 5
    for container in containers:
        assert password not in json.dumps(client.api.inspect_container(str(container.id)))
    for run in deployment.runs:
        assert password not in run.output


def test_no_change_up_keeps_service_versions_and_is_fast(deployment: SwarmDeployment) -> None:
    before = deployment.versions()
    run = deployment.up()
    assert deployment.versions() == before
    reported = re.search(r"up to date: .* \((\d+\.\d)s\)", run.stderr)
    assert reported is not None, run.output
    # the command's own time without interpreter start-up (0.3-0.5 s on this machine when it
    # is not overloaded); generous for a loaded machine, far below any service update (>10 s)
    assert float(reported.group(1)) < 5.0, f"a no-change up took {reported.group(1)}s"


def test_status_and_logs(deployment: SwarmDeployment) -> None:
    status = deployment.faktctl("status", "--json")
    assert status.code == 0, status.output
    result = json.loads(status.stdout)["result"]
    rows = {r["service"]: r for r in result["services"]}
    assert rows[f"{deployment.project}_go-worker"]["running"] == 3
    assert result["faktory"]["reachable"] and result["faktory"]["processed"] == PUSHED
    assert result["faktory"]["workers"] == 3, result["faktory"]
    logs = deployment.faktctl("logs", "faktory", "--tail", "20")
    assert logs.code == 0, logs.output
    assert "faktory | " in logs.stdout and deployment.password not in logs.stdout
    # `shell` delivery: the worker's own command saw FAKTORY_URL, read from the secret file
    checked = deployment.faktctl("logs", "shell-check")
    assert "shell-check | url-ok" in checked.stdout, checked.output
    spec = deployment.service("shell-check")["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec["Command"][:2] == ["/bin/sh", "-c"] and spec["Args"][:2] == ["sh", "-c"]
    assert not any(e.startswith("FAKTORY_URL") for e in spec.get("Env", []))


def test_dashboard_tunnel_serves_the_dashboard_with_nothing_published(
    deployment: SwarmDeployment,
) -> None:
    with dashboard_tunnel(deployment) as (_, port, _):
        page = httpx.get(f"http://127.0.0.1:{port}/", auth=("admin", deployment.password))
        assert page.status_code == 200 and "Faktory" in page.text
        refused = httpx.get(f"http://127.0.0.1:{port}/", auth=("admin", "wrong"))
        assert refused.status_code == 401
    endpoint = deployment.service("faktory")["Endpoint"]
    assert not endpoint.get("Ports")


def _roll_worker_image(deployment: SwarmDeployment, go_worker_image: str) -> dict[str, Any]:
    """A new worker image deployed with ten 15 s jobs in flight (issue 23): the old tasks get
    the worker's stop grace period (30 s, above the library's 25 s), so none is stranded and
    every job is processed once, within 45 s of `up`. Returns the worker service's spec."""
    client = deployment.client
    test_label = {labels.TEST: deployment.session_id}
    tag = f"faktctl-test/go-worker-rolled:{deployment.project}"
    dockerfile = f"FROM {go_worker_image}\nLABEL io.faktctl.rolled={deployment.project}\n"
    client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, labels=test_label, rm=True, forcerm=True
    )
    before = _processed(deployment)
    spec = deployment.spec()
    spec["workers"][0]["image"] = tag
    deployment.write_spec(spec)

    with deployment.connect() as conn:
        conn.push_many(make_job("demo.sleep", [15, i]) for i in range(LONG_JOBS))
        wait_until(
            lambda: deployment.info()["faktory"]["sets"]["working"] >= LONG_JOBS,
            60,
            "the long jobs reserved",
        )
        conn.push_many(make_job("demo.echo", [i]) for i in range(300))
    deployment.up()
    returned = time.monotonic()
    _produce(deployment, go_worker_image, 100)
    total = 400 + LONG_JOBS
    wait_until(lambda: _processed(deployment) >= before + total, 180, "every job processed")
    assert time.monotonic() - returned < 45, "the long jobs were not done 45 s after up"
    info = deployment.info()["faktory"]
    assert info["total_processed"] == before + total and info["total_failures"] == 0
    assert info["sets"]["working"] == 0
    service = deployment.service("go-worker")["Spec"]
    assert service["TaskTemplate"]["ContainerSpec"]["Image"] == client.images.get(tag).id
    assert service["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] == 30 * 10**9
    assert service["UpdateConfig"]["Order"] == "start-first"
    return dict(service)


def test_worker_image_change_rolls_with_no_job_lost(
    deployment: SwarmDeployment, go_worker_image: str
) -> None:
    _roll_worker_image(deployment, go_worker_image)


def test_on_1_9_4_the_stop_signal_reaches_the_tasks_and_no_job_is_lost(
    tmp_path: Path,
    docker_client: docker.DockerClient,
    test_session_id: str,
    swarm_node: str,
    go_worker_image: str,
) -> None:
    """The same rollout on a 1.9.4 server, the worker stopped by SIGINT (faktory_worker_go
    handles it as SIGTERM): the signal is on the service and on every task's container."""
    old = new_swarm_deployment(
        tmp_path / "project",
        test_session_id,
        docker_client,
        swarm_node,
        ensure_faktory_image(docker_client, "1.9.4"),
        go_worker_image,
    )
    try:
        old.edit(lambda spec: spec["workers"][0].update(stop_signal="SIGINT", replicas=2))
        old.up()
        service = _roll_worker_image(old, go_worker_image)
        assert service["TaskTemplate"]["ContainerSpec"]["StopSignal"] == "SIGINT"
        assert old.info()["server"]["faktory_version"] == "1.9.4"
        running = [
            t["Status"]["ContainerStatus"]["ContainerID"]
            for t in docker_client.api.tasks(  # type: ignore[no-untyped-call]
                filters={"service": f"{old.project}_go-worker"}
            )
            if t["Status"]["State"] == "running"
        ]
        assert len(running) == 2
        for container_id in running:
            config = docker_client.api.inspect_container(container_id)["Config"]
            assert config["StopSignal"] == "SIGINT"
    finally:
        tear_down(old)


def _parked(deployment: SwarmDeployment) -> int:
    with deployment.connect() as conn:
        return conn.queue_sizes().get("parked", 0)


def test_server_config_change_is_stop_first_and_keeps_queued_jobs(
    deployment: SwarmDeployment,
) -> None:
    with deployment.connect() as conn:
        conn.push_many(make_job("demo.echo", [i], queue="parked") for i in range(PARKED))
    assert _parked(deployment) == PARKED
    spec = deployment.spec()
    spec["server"]["log_level"] = "debug"
    deployment.write_spec(spec)
    run = deployment.up()
    assert "update service" in run.stderr and "stop-first" in run.stderr
    server = deployment.service("faktory")
    assert "debug" in server["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"]
    assert _parked(deployment) == PARKED


def test_forced_update_of_the_server_keeps_the_data(deployment: SwarmDeployment) -> None:
    done = subprocess.run(
        ["docker", "service", "update", "--force", "--detach=false", "--quiet",
         f"{deployment.project}_faktory"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    wait_until(lambda: _reachable(deployment), 120, "the server to answer again")
    assert _parked(deployment) == PARKED


def _reachable(deployment: SwarmDeployment) -> bool:
    try:
        deployment.info()
    except Exception:
        return False
    return True


def test_password_rotation_moves_every_service_to_the_new_secret(
    deployment: SwarmDeployment, go_worker_image: str
) -> None:
    old_password = deployment.password
    old_secrets = deployment.secret_names()
    password_file = deployment.folder / "secrets" / "faktory_password"
    password_file.write_text("rotated-" + old_password[::-1][:24])
    deployment.up()
    new_secrets = deployment.secret_names()
    assert not (old_secrets & new_secrets), "an old secret is still there"
    assert len(new_secrets) == 2
    before = _processed(deployment)
    _produce(deployment, go_worker_image, 50)
    wait_until(lambda: _processed(deployment) >= before + 50, 120, "jobs after rotation")
    with pytest.raises(probe.ProbeError), deployment.connect(password=old_password) as conn:
        conn.info()
    assert _parked(deployment) == PARKED


def test_down_keeps_the_volume_unless_asked(deployment: SwarmDeployment) -> None:
    volume = f"{deployment.project}_data"
    run = deployment.faktctl("down")
    assert run.code == 0, run.output
    assert "fresh snapshot saved in" in run.stderr, run.stderr  # before the server's task stops
    assert not deployment.versions() and not deployment.secret_names()
    assert not deployment.client.networks.list(names=[f"{deployment.project}_default"])
    assert deployment.client.volumes.get(volume)
    run = deployment.faktctl("down", "--volumes", "--yes")
    assert run.code == 0, run.output
    assert not deployment.client.volumes.list(filters={"name": volume})


def test_stack_file_deploys_the_same_services_and_passes_the_audit(
    tmp_path: Path,
    docker_client: docker.DockerClient,
    test_session_id: str,
    swarm_node: str,
    go_worker_image: str,
) -> None:
    stacked = new_swarm_deployment(
        tmp_path / "stacked",
        test_session_id,
        docker_client,
        swarm_node,
        ensure_faktory_image(docker_client, "1.10.0"),
        go_worker_image,
    )
    # placement by node label: the server may only run on a node carrying this label
    node_label = f"io.faktctl.test-{stacked.project}"
    subprocess.run(
        ["docker", "node", "update", "--label-add", f"{node_label}=server", swarm_node],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    spec = stacked.spec()
    spec["swarm"]["server_node"] = {"label": f"{node_label}=server"}
    spec["workers"] = spec["workers"][:1]  # the Go worker only: the audit reads every service
    stacked.write_spec(spec)
    try:
        rendered = stacked.faktctl("render", "--target", "stack")
        assert rendered.code == 0, rendered.output
        assert stacked.password not in (stacked.folder / "stack.yaml").read_text()
        commands = re.findall(r"docker secret create (\S+) (\S+)", rendered.stderr)
        assert len(commands) == 2
        project_labels = [
            f"{labels.TEST}={test_session_id}",
            f"{labels.MANAGED}=true",
            f"{labels.PROJECT}={stacked.project}",
        ]
        for name, path in commands:
            label_args = [arg for label in project_labels for arg in ("--label", label)]
            subprocess.run(
                ["docker", "secret", "create", *label_args, name, path],
                cwd=stacked.folder, check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        deployed = subprocess.run(
            ["docker", "stack", "deploy", "-c", "stack.yaml", "--resolve-image", "never",
             "--detach=false", stacked.project],
            cwd=stacked.folder, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert deployed.returncode == 0, deployed.stderr
        before = stacked.versions()
        assert len(before) == 2
        again = stacked.up()
        assert "up to date" in again.stderr
        assert stacked.versions() == before

        _produce(stacked, go_worker_image, 100)
        wait_until(lambda: _processed(stacked) >= 100, 180, "jobs processed on the stack")

        audit = stacked.faktctl("audit", "--compose", "stack.yaml", "--strict", "--format", "json")
        findings = json.loads(audit.stdout)["result"]["findings"]
        failed = {f["id"] for f in findings if f["status"] == "fail"}
        assert failed == {"FKB001"}, audit.stdout
        placement = stacked.service("faktory")["Spec"]["TaskTemplate"]["Placement"]
        assert placement["Constraints"] == [f"node.labels.{node_label}==server"]
    finally:
        tear_down(stacked)
        subprocess.run(
            ["docker", "node", "update", "--label-rm", node_label, swarm_node],
            check=False, capture_output=True, timeout=60,
        )  # fmt: skip
