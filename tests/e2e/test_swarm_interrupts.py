"""A restore on a real single-node swarm, interrupted once its services are at 0 replicas: by
kill -9 before the snapshot is written, and by Ctrl-C after. `status` and `up` name
`faktctl restore --resume`, which scales every service back to its replicas and says whether
the data is the backup's. Run under `flock /work/logs/swarm.lock` (one swarm per engine)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import docker
import pytest

from tests.support.interrupt import Interruptible
from tests.support.local import wait_until
from tests.support.producer import make_job
from tests.support.swarmkit import SwarmDeployment, two_worker_tasks

PARKED = "parked"
JOBS = 300


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
    test_session_id: str,
    faktory_image: str,
    go_worker_image: str,
) -> Iterator[SwarmDeployment]:
    folder = tmp_path_factory.mktemp("swarm-interrupts") / "project"
    with two_worker_tasks(folder, docker_client, test_session_id, faktory_image) as made:
        yield made


def _sizes(deployment: SwarmDeployment) -> tuple[int, int]:
    queues = deployment.info()["faktory"]["queues"]
    return int(queues.get(PARKED, 0)), int(queues.get("later", 0))


def test_an_interrupted_swarm_restore_is_scaled_back_by_resume(
    deployment: SwarmDeployment,
) -> None:
    with deployment.connect() as conn:
        conn.push_many(make_job("demo.echo", [n], queue=PARKED) for n in range(JOBS))
    backup = deployment.faktctl("backup", "--json")
    assert backup.code == 0, backup.output
    name = json.loads(backup.stdout)["result"]["name"]

    for step, sig in (("writing", signal.SIGKILL), ("starting", signal.SIGINT)):
        case = f"{step}/{sig.name}"
        with deployment.connect() as conn:
            conn.push(make_job("demo.echo", [case], queue="later"))
        before = _sizes(deployment)
        run = Interruptible(
            deployment.folder, deployment.session_id, ["restore", name, "--yes"], f"restore:{step}"
        )
        run.wait_for(f"test pause at restore:{step}")
        code = run.end(sig)
        assert code in (130, -signal.SIGKILL), (case, run.stderr)
        assert deployment.replicas("faktory") == 0 and deployment.replicas("go-worker") == 0

        status = deployment.faktctl("status")
        assert status.code == 1 and "faktctl restore --resume" in status.stdout, status.output
        refused = deployment.faktctl("up")
        assert refused.code == 4 and "faktctl restore --resume" in refused.stderr, case

        resumed = deployment.faktctl("restore", "--resume")
        assert resumed.code == 0, (case, resumed.output)
        assert deployment.replicas("faktory") == 1 and deployment.replicas("go-worker") == 2
        if step == "starting":
            assert "is finished" in resumed.stderr, resumed.output
            assert _sizes(deployment) == (JOBS, 0)
        else:
            assert "nothing was restored" in resumed.stderr, resumed.output
            assert _sizes(deployment) == before
        assert not list(deployment.folder.glob(".faktctl-*.operation"))
    again = deployment.up()
    assert "up to date" in again.stderr, again.output
    wait_until(lambda: _sizes(deployment)[0] == JOBS, 5, "the parked jobs to stay")
