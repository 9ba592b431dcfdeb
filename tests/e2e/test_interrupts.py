"""An upgrade interrupted at each step, by Ctrl-C (SIGINT) and by kill -9 (SIGKILL), on the real
Faktory 1.9.4 → 1.10.0 (queues move to `q:<name>`) and 1.10.0 → 1.10.0 (another image of the
same version): what it leaves is found and said by `status`, `up` and `down`, and
`faktctl upgrade --resume` finishes it with every one of the 800 jobs and the worker running.

The run is stopped deterministically: FAKTCTL_TEST_PAUSE_AT=upgrade:<step> makes it wait at a
step once its record is written (faktctl.journal); at the count on the volume the test waits
for the `faktctl-keys-*` helper to run, freezes it (`docker pause`) and signals faktctl then,
so a kill -9 leaves that helper running Redis on the data volume.
"""

from __future__ import annotations

import io
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from faktctl import labels
from tests.support.images import GO_WORKER_REPO, go_worker_recipe_hash
from tests.support.interrupt import Interruptible
from tests.support.producer import make_job
from tests.support.upkit import Deployment, go_worker, new_deployment, tear_down

QUEUES = {"default": 400, "critical": 250, "bulk": 150}  # 800 jobs
SCHEDULED = 50
STEPS = ("stopping", "keys", "replacing")
SIGNALS = {"SIGINT": signal.SIGINT, "SIGKILL": signal.SIGKILL}


@pytest.fixture
def deployments(
    tmp_path: Path, test_session_id: str, docker_client: docker.DockerClient
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(image: str, worker_image: str) -> Deployment:
        folder = tmp_path / f"p{len(made)}"
        folder.mkdir()
        # the worker image by its recipe tag: `latest` may move under a running test
        pinned = f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}"
        worker = go_worker("go", pinned, queues="idle")
        deployment = new_deployment(folder, test_session_id, docker_client, image, [worker])
        made.append(deployment)
        deployment.up()
        return deployment

    yield make
    for deployment in made:
        tear_down(deployment)


@pytest.fixture(scope="module")
def same_version_image(
    docker_client: docker.DockerClient, faktory_image: str, test_session_id: str
) -> str:
    """Another image of Faktory 1.10.0 (a labelled child of the local build)."""
    tag = f"faktctl-test/faktory:1.10.0-same{uuid.uuid4().hex[:6]}"
    dockerfile = f"FROM {faktory_image}\nLABEL io.faktctl.variant=same-version\n"
    docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()),
        tag=tag,
        labels={labels.TEST: test_session_id},
        rm=True,
    )
    return tag


def _fill(deployment: Deployment) -> None:
    with deployment.connect() as conn:
        jobs = [make_job("demo.echo", [n], q) for q, size in QUEUES.items() for n in range(size)]
        assert conn.push_many(jobs) == {}
        later = []
        for n in range(SCHEDULED):
            job = make_job("demo.echo", [n], "default")
            job["at"] = "2099-01-01T00:00:00Z"
            later.append(job)
        assert conn.push_many(later) == {}


def _counts(deployment: Deployment) -> tuple[dict[str, int], int, str]:
    with deployment.connect() as conn:
        info = conn.info()
    faktory = info["faktory"]
    queues = {q: int(faktory["queues"].get(q, 0)) for q in QUEUES}
    return queues, int(faktory["sets"]["scheduled"]), str(info["server"]["faktory_version"])


def _helpers(deployment: Deployment) -> list[str]:
    """Ids of the upgrade's helper containers (the list alone: one removed meanwhile is fine)."""
    selector = [f"{labels.JOB}=upgrade", f"{labels.JOB_OF}={deployment.project}"]
    found = deployment.client.api.containers(all=True, filters={"label": selector})
    return [str(c["Id"]) for c in found]


def _freeze_keys_helper(deployment: Deployment) -> str | None:
    """The upgrade's `faktctl-keys-*` helper, paused where it stands when it still runs (so a
    kill -9 of faktctl leaves it running Redis on the volume); None when it had finished."""
    for helper in _helpers(deployment):
        try:
            deployment.client.api.pause(helper)
        except docker.errors.APIError:  # it finished meanwhile: left behind, exited
            return None
        return helper
    raise AssertionError("the upgrade's helper container is not there")


@pytest.mark.parametrize("signal_name", list(SIGNALS))
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("versions", ["1.9.4-to-1.10.0", "1.10.0-to-1.10.0"])
def test_an_interrupted_upgrade_is_found_and_finished_by_resume(
    deployments: Callable[..., Deployment],
    faktory_old_image: str,
    faktory_image: str,
    same_version_image: str,
    go_worker_image: str,
    versions: str,
    step: str,
    signal_name: str,
) -> None:
    source, target = (
        (faktory_old_image, faktory_image)
        if versions == "1.9.4-to-1.10.0"
        else (faktory_image, same_version_image)
    )
    deployment = deployments(source, go_worker_image)
    _fill(deployment)
    before_queues, before_scheduled, _ = _counts(deployment)
    assert sum(before_queues.values()) == 800

    pause_at = "upgrade:helper-running" if step == "keys" else f"upgrade:{step}"
    args = ["upgrade", "--to", target, "--yes"]
    run = Interruptible(deployment.folder, deployment.session_id, args, pause_at)
    run.wait_for(f"test pause at {pause_at}")
    frozen = _freeze_keys_helper(deployment) if step == "keys" else None
    code = run.end(SIGNALS[signal_name])

    if signal_name == "SIGINT":
        assert code == 130, run.stderr
        assert "run `faktctl upgrade --resume` to finish it" in run.stderr, run.stderr
        assert _helpers(deployment) == [], "Ctrl-C left a helper container"
    else:
        assert code == -signal.SIGKILL
        if frozen is not None:
            # as after a kill -9: the helper goes on running Redis on the volume
            deployment.client.api.unpause(frozen)
        if step == "keys":
            assert _helpers(deployment), "the kill -9 left no helper to find"

    status = deployment.faktctl("status")
    assert status.code == 1, status.output
    assert "was interrupted" in status.stdout and "faktctl upgrade --resume" in status.stdout

    refused = deployment.faktctl("up")
    assert refused.code == 4, refused.output
    assert "faktctl upgrade --resume" in refused.stderr

    refused = deployment.faktctl("down", "--volumes", "--yes")
    assert refused.code == 4, refused.output
    assert "faktctl upgrade --resume" in refused.stderr

    resumed = deployment.faktctl("upgrade", "--resume")
    assert resumed.code == 0, resumed.output
    assert "found: the " in resumed.stderr and "was interrupted" in resumed.stderr
    if step == "stopping":  # the old server still ran: stopped as every stop does
        assert "fresh snapshot saved in" in resumed.stderr, resumed.stderr

    after_queues, after_scheduled, version = _counts(deployment)
    assert version == "1.10.0"
    assert after_queues == before_queues, "a job went missing"
    assert after_scheduled == before_scheduled
    assert deployment.spec()["server"]["image"] == target
    assert _helpers(deployment) == []
    worker = deployment.inspect(f"{deployment.project}-go-1")
    assert worker["State"]["Running"], "the worker was not started again"
    assert not list(deployment.folder.glob(".faktctl-*.operation"))
    deadline = time.monotonic() + 60  # the restarted containers settle
    final = deployment.faktctl("status")
    while final.code != 0 and time.monotonic() < deadline:
        time.sleep(2)
        final = deployment.faktctl("status")
    assert final.code == 0, final.stdout
