"""Backup and restore on a real single-node swarm (issue 14): through the server's task
container on the node the SDK reaches; restore scales the services to 0 and back.

The tests in this module share one deployment and run in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.types
import pytest

from faktctl import labels
from faktctl.backups.manifest import Backup, list_backups, read_manifest
from tests.support.cli import run_faktctl
from tests.support.images import (
    GO_WORKER_REPO,
    go_worker_recipe_hash,
)
from tests.support.local import free_port, wait_until
from tests.support.producer import make_job
from tests.support.swarmkit import (
    SwarmDeployment,
    new_swarm_deployment,
    tear_down,
    two_worker_tasks,
)

PARKED = "parked"  # no worker reads it: its jobs stay queued
JOBS = 300
SCHEDULED = 40


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
    test_session_id: str,
    faktory_image: str,
    go_worker_image: str,
) -> Iterator[SwarmDeployment]:
    folder = tmp_path_factory.mktemp("swarm-backup") / "project"
    backup = {"backup": {"destination": "backups", "keep": 5, "max_age": "1h"}}
    with two_worker_tasks(folder, docker_client, test_session_id, faktory_image, backup) as made:
        yield made


def _sizes(deployment: SwarmDeployment) -> tuple[int, int]:
    info = deployment.info()["faktory"]
    return int(info["queues"].get(PARKED, 0)), int(info["sets"]["scheduled"])


def _backup(deployment: SwarmDeployment) -> Backup:
    run = deployment.faktctl("backup", "--json")
    assert run.code == 0, run.output
    path = Path(json.loads(run.stdout)["result"]["manifest"])
    return Backup(read_manifest(path), path)


def _running(deployment: SwarmDeployment, name: str) -> int:
    tasks = deployment.client.api.tasks(  # type: ignore[no-untyped-call]
        filters={"service": f"{deployment.project}_{name}", "desired-state": "running"}
    )
    return sum(1 for t in tasks if t["Status"]["State"] == "running")


def test_backup_then_lose_the_data_then_restore_brings_every_job_back(
    deployment: SwarmDeployment,
) -> None:
    with deployment.connect() as conn:
        conn.push_many(make_job("demo.echo", [n], queue=PARKED) for n in range(JOBS))
        later = [make_job("demo.echo", [n], queue=PARKED) for n in range(SCHEDULED)]
        for job in later:
            job["at"] = "2099-01-01T00:00:00Z"
        conn.push_many(later)
    assert _sizes(deployment) == (JOBS, SCHEDULED)

    taken = _backup(deployment)
    assert taken.manifest.queues.get(PARKED) == JOBS
    assert taken.manifest.sets["scheduled"] == SCHEDULED
    assert taken.snapshot_path.stat().st_size == taken.manifest.size

    # lose every job: a fresh, empty data volume under the same services
    assert deployment.faktctl("down", "--volumes", "--yes").code == 0
    deployment.up()
    assert _sizes(deployment) == (0, 0)
    with deployment.connect() as conn:  # a change made after the backup, undone by the restore
        conn.push(make_job("demo.echo", ["after the backup"], queue="later"))

    restore = deployment.faktctl("restore", taken.name, "--yes")
    assert restore.code == 0, restore.output
    assert f"queue {PARKED}: 0 → {JOBS}" in restore.stderr
    assert f"scheduled: 0 → {SCHEDULED}" in restore.stderr
    assert "scaling worker service" in restore.stderr
    assert "scaling the server service" in restore.stderr
    assert "fresh snapshot saved in" in restore.stderr
    assert _sizes(deployment) == (JOBS, SCHEDULED)
    assert deployment.info()["faktory"]["queues"].get("later", 0) == 0

    # every service is back at its replicas, and `up` sees nothing to change
    assert deployment.replicas("faktory") == 1 and deployment.replicas("go-worker") == 2
    wait_until(lambda: _running(deployment, "go-worker") == 2, 120, "the workers to run again")
    again = deployment.up()
    assert "up to date" in again.stderr, again.output
    safety = [b for b in list_backups(deployment.folder / "backups").backups if b.tag]
    assert len(safety) == 1 and safety[0].tag == "pre-restore"
    assert safety[0].manifest.queues.get("later") == 1
    for run in deployment.runs:
        assert deployment.password not in run.output


def _audit(deployment: SwarmDeployment, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    env = {"FAKTCTL_EXTRA_LABELS": f"{labels.TEST}={deployment.session_id}"}
    run = run_faktctl(
        "audit", "--live", "--format", "json", *args, cwd=cwd or deployment.folder, env=env
    )
    assert run.code in (0, 1), run.output
    assert deployment.password not in run.output
    findings = json.loads(run.stdout)["result"]["findings"]
    return {"code": run.code, "findings": findings}


def test_live_audit_of_the_faktctl_deployed_swarm_passes_strict(
    deployment: SwarmDeployment,
) -> None:
    """After the backup above, every check passes on the swarm, freshness included."""
    audited = _audit(deployment, "--strict")
    by_id = {f["id"]: f for f in audited["findings"] if f["status"] != "skip"}
    failed = {f["id"]: f["message"] for f in audited["findings"] if f["status"] == "fail"}
    assert not failed, failed
    assert audited["code"] == 0
    for check in ("FKP030", "FKP031", "FKD030", "FKP004", "FKH003", "FKS004", "FKS021", "FKD010"):
        assert by_id[check]["status"] == "pass", (check, by_id.get(check))
    assert "node.hostname==" in by_id["FKP030"]["message"]
    assert "condition: any" in by_id["FKH003"]["message"]


def test_a_bad_swarm_service_fails_the_live_audit_with_the_right_ids(
    deployment: SwarmDeployment, tmp_path: Path, faktory_image: str
) -> None:
    """7419 published in ingress mode, the password a literal in the service's environment,
    on-failure restarts, no placement, start-first updates: each named by its check."""
    client = deployment.client
    bad = f"{deployment.project}-bad"
    selector = {labels.TEST: deployment.session_id, "io.faktctl.bad": bad}
    service = client.services.create(  # type: ignore[no-untyped-call]
        client.images.get(faktory_image).id,
        args=["/faktory", "-b", ":7419", "-w", ":7420", "-e", "production"],
        name=bad,
        env=["FAKTORY_PASSWORD=Zq7-vLx2-Rt9w-Hn4k-Pb6s-Yd3m"],
        mounts=[docker.types.Mount("/var/lib/faktory", f"{bad}-data", labels=selector)],
        endpoint_spec=docker.types.EndpointSpec(ports={free_port(): 7419}),  # type: ignore[dict-item]
        restart_policy=docker.types.RestartPolicy(condition="on-failure"),
        update_config=docker.types.UpdateConfig(order="start-first"),
        labels=selector,
        container_labels=selector,
    )
    try:

        def running() -> bool:
            return any(t["Status"]["State"] == "running" for t in service.tasks())

        wait_until(running, 120, "the bad service's task to run")
        audited = _audit(deployment, "--label", f"io.faktctl.bad={bad}", cwd=tmp_path)
        assert audited["code"] == 1
        failed = {f["id"] for f in audited["findings"] if f["status"] == "fail"}
        assert {"FKD030", "FKD002", "FKS004", "FKH003", "FKP030", "FKP031"} <= failed, failed
        messages = {f["id"]: f["message"] for f in audited["findings"]}
        assert "swarm ingress mode: every interface of every node" in messages["FKD030"]
        assert "the swarm service's environment" in messages["FKS004"]
        assert "restart_policy.condition: on-failure" in messages["FKH003"]
    finally:
        service.remove()
        wait_until(
            lambda: (
                not client.containers.list(
                    all=True, filters={"label": f"io.faktctl.bad={bad}"}, sparse=True
                )
            ),
            90,
            "the bad service's containers to go",
        )
        for volume in client.volumes.list(filters={"name": f"{bad}-data"}):
            volume.remove(force=True)


def test_up_on_a_swarm_refuses_a_version_change_across_the_queue_keys(
    tmp_path: Path,
    docker_client: docker.DockerClient,
    test_session_id: str,
    deployment: SwarmDeployment,
    faktory_image: str,
    faktory_old_image: str,
) -> None:
    """`up`'s version guard on a swarm: 1.9.4 -> 1.10.0 with queued jobs is refused, with the
    service left as it was; after `down` (the volume stays) a new 1.10.0 server is refused too."""
    node = docker_client.info()["Name"]
    old = new_swarm_deployment(
        tmp_path / "old",
        test_session_id,
        docker_client,
        node,
        faktory_old_image,
        f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}",
    )
    spec = old.spec()
    spec["workers"] = []
    spec["swarm"].pop("workers", None)
    old.write_spec(spec)
    try:
        old.up()
        with old.connect() as conn:
            conn.push_many(make_job("demo.echo", [n], queue=PARKED) for n in range(50))
        before = old.versions()
        spec["server"]["image"] = faktory_image
        old.write_spec(spec)
        refused = old.faktctl("up")
        assert refused.code == 4, refused.output
        assert "from Faktory 1.9.4 to 1.10.0" in refused.stderr
        assert "50 queued job(s)" in refused.stderr and "faktctl upgrade" in refused.stderr
        assert old.versions() == before
        assert old.info()["server"]["faktory_version"] == "1.9.4"

        assert old.faktctl("down").code == 0
        refused = old.faktctl("up")
        assert refused.code == 4, refused.output
        assert f"would not see: {PARKED} (50)" in refused.stderr
        assert not old.versions()
    finally:
        tear_down(old)
