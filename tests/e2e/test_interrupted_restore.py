"""A restore interrupted at each step, by Ctrl-C and by kill -9, on one engine and on a swarm:
`status` and `up` say what was left and name `faktctl restore --resume`, which starts the
server and the workers again (the swarm's services back at their replicas) and says whether
the server holds the backup's data or its previous data; no job is lost either way.

Each case pauses the run at its step (FAKTCTL_TEST_PAUSE_AT=restore:<step>, written by
faktctl.journal once the step's record is on disk) and signals it there. The engine cases
share one deployment (a resumed restore leaves it whole); swarm cases run under
`flock /work/logs/swarm.lock`.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.cli import CliResult
from tests.support.images import GO_WORKER_REPO, go_worker_recipe_hash
from tests.support.interrupt import Interruptible
from tests.support.local import wait_until
from tests.support.producer import make_job
from tests.support.upkit import Deployment, go_worker, new_deployment, tear_down

PARKED = "parked"
JOBS = 800
STEPS = ("stopping", "writing", "starting")
SIGNALS = (signal.SIGINT, signal.SIGKILL)


@pytest.fixture
def deployment(
    tmp_path: Path,
    test_session_id: str,
    docker_client: docker.DockerClient,
    faktory_image: str,
    go_worker_image: str,
) -> Iterator[Deployment]:
    # the worker image by its recipe tag: `latest` may move under a running test
    worker = go_worker("go", f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}", queues="idle")
    made = new_deployment(tmp_path, test_session_id, docker_client, faktory_image, [worker])
    try:
        made.up()
        yield made
    finally:
        tear_down(made)


def _sizes(deployment: Deployment) -> tuple[int, int]:
    with deployment.connect() as conn:
        queues = conn.info()["faktory"]["queues"]
    return int(queues.get(PARKED, 0)), int(queues.get("later", 0))


def _settled_status(deployment: Deployment) -> CliResult:
    """`status` once the restarted containers settled (at most 60 s): exit 0 means no drift."""
    deadline = time.monotonic() + 60
    while True:
        status = deployment.faktctl("status")
        if status.code == 0 or time.monotonic() > deadline:
            return status
        time.sleep(2)


def test_an_interrupted_restore_is_found_and_finished_by_resume(deployment: Deployment) -> None:
    with deployment.connect() as conn:
        assert conn.push_many(make_job("demo.echo", [n], PARKED) for n in range(JOBS)) == {}
    backup = deployment.faktctl("backup", "--json")
    assert backup.code == 0, backup.output
    name = json.loads(backup.stdout)["result"]["name"]
    worker = f"{deployment.project}-go-1"

    for step in STEPS:
        for sig in SIGNALS:
            case = f"{step}/{sig.name}"
            with deployment.connect() as conn:  # made after the backup: gone once restored
                conn.push(make_job("demo.echo", [case], "later"))
            before = _sizes(deployment)
            run = Interruptible(
                deployment.folder,
                deployment.session_id,
                ["restore", name, "--yes"],
                f"restore:{step}",
            )
            run.wait_for(f"test pause at restore:{step}")
            code = run.end(sig)
            if sig == signal.SIGINT:
                assert code == 130, (case, run.stderr)
                assert "run `faktctl restore --resume` to finish it" in run.stderr, case
            else:
                assert code == -signal.SIGKILL, case

            status = deployment.faktctl("status")
            assert status.code == 1, (case, status.output)
            assert "faktctl restore --resume" in status.stdout, (case, status.output)
            refused = deployment.faktctl("up")
            assert refused.code == 4 and "faktctl restore --resume" in refused.stderr, case
            other = deployment.faktctl("restore", name, "--yes")
            assert other.code == 4 and "faktctl restore --resume" in other.stderr, case

            resumed = deployment.faktctl("restore", "--resume")
            assert resumed.code == 0, (case, resumed.output)
            if step == "starting":  # the snapshot was in place: the restore is finished
                assert "is finished" in resumed.stderr, (case, resumed.output)
                assert _sizes(deployment) == (JOBS, 0), case
            else:
                assert "nothing was restored" in resumed.stderr, (case, resumed.output)
                assert _sizes(deployment) == before, case
            assert deployment.inspect(worker)["State"]["Running"], case
            assert not list(deployment.folder.glob(".faktctl-*.operation")), case
            settled = _settled_status(deployment)
            assert settled.code == 0, (case, settled.stdout)

    nothing = deployment.faktctl("restore", "--resume")
    assert nothing.code == 0 and "nothing to do" in nothing.stderr
    wait_until(lambda: _sizes(deployment)[0] == JOBS, 5, "the parked jobs to stay")


def test_down_volumes_names_the_container_that_holds_the_volume(
    deployment: Deployment, faktory_image: str
) -> None:
    server = deployment.inspect(f"{deployment.project}-faktory-1")
    volume = next(m["Name"] for m in server["Mounts"] if m["Type"] == "volume")
    holder = deployment.client.containers.create(
        faktory_image,
        command=["sleep", "60"],
        name=f"{deployment.project}-holder",
        volumes={volume: {"bind": "/held", "mode": "rw"}},
        labels={"io.faktctl.test": deployment.session_id},
    )
    try:
        down = deployment.faktctl("down", "--volumes", "--yes")
        assert down.code == 4, down.output
        assert f"{volume}: it is in use by container(s) {deployment.project}-holder" in down.stderr
    finally:
        holder.remove(force=True)
