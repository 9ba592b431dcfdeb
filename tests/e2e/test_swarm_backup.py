"""Backup and restore on a real single-node swarm (issue 14): through the server's task
container on the node the SDK reaches; restore scales the services to 0 and back.

The tests in this module share one deployment and run in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from faktctl.adapters import probe
from faktctl.backups.manifest import Backup, list_backups, read_manifest
from tests.e2e.swarmkit import SwarmDeployment, new_swarm_deployment, single_node_swarm, tear_down
from tests.support.images import (
    GO_WORKER_REPO,
    ensure_faktory_image,
    ensure_go_worker_image,
    go_worker_recipe_hash,
)
from tests.support.local import wait_until

PARKED = "parked"  # no worker reads it: its jobs stay queued
JOBS = 300
SCHEDULED = 40


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
    test_session_id: str,
) -> Iterator[SwarmDeployment]:
    ensure_go_worker_image(docker_client)
    with single_node_swarm(docker_client, test_session_id) as node:
        made = new_swarm_deployment(
            tmp_path_factory.mktemp("swarm-backup") / "project",
            test_session_id,
            docker_client,
            node,
            ensure_faktory_image(docker_client, "1.10.0"),
            f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}",
        )
        spec = made.spec()
        spec["workers"] = spec["workers"][:1]
        spec["workers"][0]["replicas"] = 2
        spec["backup"] = {"destination": "backups", "keep": 5, "max_age": "1h"}
        made.write_spec(spec)
        try:
            made.up()
            yield made
        finally:
            tear_down(made)


def _sizes(deployment: SwarmDeployment) -> tuple[int, int]:
    info = deployment.info()["faktory"]
    return int(info["queues"].get(PARKED, 0)), int(info["sets"]["scheduled"])


def _backup(deployment: SwarmDeployment) -> Backup:
    run = deployment.faktctl("backup", "--json")
    assert run.code == 0, run.output
    path = Path(json.loads(run.stdout)["result"]["manifest"])
    return Backup(read_manifest(path), path)


def _replicas(deployment: SwarmDeployment, name: str) -> int:
    return int(deployment.service(name)["Spec"]["Mode"]["Replicated"]["Replicas"])


def _running(deployment: SwarmDeployment, name: str) -> int:
    tasks = deployment.client.api.tasks(  # type: ignore[no-untyped-call]
        filters={"service": f"{deployment.project}_{name}", "desired-state": "running"}
    )
    return sum(1 for t in tasks if t["Status"]["State"] == "running")


def test_backup_then_lose_the_data_then_restore_brings_every_job_back(
    deployment: SwarmDeployment,
) -> None:
    with deployment.connect() as conn:
        conn.push_many(probe.make_job("demo.echo", [n], queue=PARKED) for n in range(JOBS))
        later = [probe.make_job("demo.echo", [n], queue=PARKED) for n in range(SCHEDULED)]
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
        conn.push(probe.make_job("demo.echo", ["after the backup"], queue="later"))

    restore = deployment.faktctl("restore", taken.name, "--yes")
    assert restore.code == 0, restore.output
    assert f"queue {PARKED}: 0 → {JOBS}" in restore.stderr
    assert f"scheduled: 0 → {SCHEDULED}" in restore.stderr
    assert "scaling worker service" in restore.stderr
    assert "scaling the server service" in restore.stderr
    assert _sizes(deployment) == (JOBS, SCHEDULED)
    assert deployment.info()["faktory"]["queues"].get("later", 0) == 0

    # every service is back at its replicas, and `up` sees nothing to change
    assert _replicas(deployment, "faktory") == 1 and _replicas(deployment, "go-worker") == 2
    wait_until(lambda: _running(deployment, "go-worker") == 2, 120, "the workers to run again")
    again = deployment.up()
    assert "up to date" in again.stderr, again.output
    safety = [b for b in list_backups(deployment.folder / "backups").backups if b.tag]
    assert len(safety) == 1 and safety[0].tag == "pre-restore"
    assert safety[0].manifest.queues.get("later") == 1
    for run in deployment.runs:
        assert deployment.password not in run.output
