"""Issue 23: worker deploys that strand no job, against the real engine and real Faktory.

2 replicas of examples/go-worker (the library's own Run() lifecycle), 10 jobs of 15 s in
flight, a steady producer pushing short jobs throughout. After a config change (`up`), a
scale-down (`up`) and `down`: the 10 long jobs are processed exactly once (counted in the
workers' own logs), none fails, none is still reserved 45 s after faktctl returns, and (for
`up`) processing never pauses for 2 s or more.

Every scenario runs on both server versions (quieting goes through the dashboard's POST /busy,
which 1.9.4 and 1.10.0 handle alike: same handler, same cross-origin guard, no token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support import rollkit
from tests.support.images import GO_WORKER_REPO, go_worker_recipe_hash
from tests.support.upkit import Deployment, go_worker, new_deployment, tear_down

RESERVED_AFTER_S = 45.0
MAX_GAP_S = 2.0
SERVICE = "sleeper"


@pytest.fixture
def rollout_deployment(
    tmp_path: Path,
    test_session_id: str,
    docker_client: docker.DockerClient,
    faktory_image: str,
    faktory_old_image: str,
    go_worker_image: str,
) -> Iterator[Callable[[str], Deployment]]:
    made: list[Deployment] = []

    def make(version: str) -> Deployment:
        image = faktory_old_image if version == "1.9.4" else faktory_image
        folder = tmp_path / f"project-{len(made)}"
        folder.mkdir()
        # the recipe's own tag: `latest` moves when another checkout builds its example
        pinned = f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}"
        assert go_worker_image == f"{GO_WORKER_REPO}:latest"
        worker = go_worker(SERVICE, pinned, replicas=2)
        deployment = new_deployment(folder, test_session_id, docker_client, image, [worker])
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        tear_down(deployment)


def _scenario(
    deployment: Deployment, change: Callable[[dict[str, Any]], None] | None, command: str
) -> rollkit.Result:
    """Long jobs in flight, a steady producer, then `faktctl COMMAND`; what happened."""
    deployment.up()
    sel = rollkit.selector(deployment.project, SERVICE)
    with deployment.connect() as producer, rollkit.LogFollower(deployment.client, sel) as logs:
        steady = rollkit.SteadyProducer(deployment.connect)
        with steady:
            long_jids = rollkit.push_long(producer)
            rollkit.wait_reserved(producer, rollkit.LONG_JOBS)
            if change is not None:
                deployment.edit(change)
            began_wall, began = time.time(), time.monotonic()
            run = deployment.faktctl(*command.split())
            deploy_s = time.monotonic() - began
            ended_wall = time.time()
            assert run.code == 0, run.output
            time.sleep(3)  # the steady jobs keep completing after the deploy
        if command == "down":
            return rollkit.Result(
                long_jids, logs.completions(), 0, 0, deploy_s, (began_wall, ended_wall)
            )
        left = rollkit.wait_no_reservation(producer, RESERVED_AFTER_S)
        failed = rollkit.failures(producer)
        time.sleep(1)  # the last log lines reach the followers
        return rollkit.Result(
            long_jids,
            logs.completions(),
            left,
            failed,
            deploy_s,
            (began_wall, ended_wall + 2),
            {"output": run.output},
        )


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        if key == "replicas":
            spec["workers"][0]["replicas"] = value
        else:
            spec["workers"][0]["env"][key] = value

    return change


@pytest.mark.parametrize("version", ["1.9.4", "1.10.0"])
def test_a_config_change_strands_no_job_and_never_pauses(
    rollout_deployment: Callable[[str], Deployment], version: str
) -> None:
    deployment = rollout_deployment(version)
    # faktory_worker_go stops on SIGINT as on SIGTERM: one version proves the signal is applied
    signal = "SIGINT" if version == "1.9.4" else None
    if signal is not None:
        deployment.edit(lambda spec: spec["workers"][0].update(stop_signal=signal))
    result = _scenario(deployment, _set("DEPLOY_MARK", "2"), "up")
    assert result.stranded == 0, result.counts
    assert result.long_done_once == rollkit.LONG_JOBS
    assert result.run_twice == 0
    assert result.reserved_after == 0
    assert result.failed == 0
    assert result.longest_gap() < MAX_GAP_S, (result.where_gap(), result.extra)
    containers = deployment.containers(SERVICE)
    assert sorted(containers) == [f"{deployment.project}-{SERVICE}-{n}" for n in (1, 2)]
    for container_id in containers.values():
        env = deployment.inspect(container_id)["Config"]["Env"]
        assert "DEPLOY_MARK=2" in env
        config = deployment.inspect(container_id)["Config"]
        assert config["StopTimeout"] == 30
        assert config.get("StopSignal") == signal  # None: the image's own, SIGTERM


@pytest.mark.parametrize("version", ["1.9.4", "1.10.0"])
def test_a_scale_down_strands_no_job_and_never_pauses(
    rollout_deployment: Callable[[str], Deployment], version: str
) -> None:
    deployment = rollout_deployment(version)
    result = _scenario(deployment, _set("replicas", 1), "up")
    assert result.stranded == 0, result.counts
    assert result.long_done_once == rollkit.LONG_JOBS
    assert result.run_twice == 0
    assert (result.reserved_after, result.failed) == (0, 0)
    assert result.longest_gap() < MAX_GAP_S, (result.where_gap(), result.extra)
    assert list(deployment.containers(SERVICE)) == [f"{deployment.project}-{SERVICE}-1"]


@pytest.mark.parametrize("version", ["1.9.4", "1.10.0"])
def test_down_lets_running_jobs_finish(
    rollout_deployment: Callable[[str], Deployment], version: str
) -> None:
    deployment = rollout_deployment(version)
    result = _scenario(deployment, None, "down")
    assert result.stranded == 0, result.counts
    assert result.long_done_once == rollkit.LONG_JOBS
    assert result.run_twice == 0
    deployment.up()  # the same data volume: nothing left reserved, nothing failed
    with deployment.connect() as producer:
        assert rollkit.wait_no_reservation(producer, RESERVED_AFTER_S) == 0
        assert rollkit.failures(producer) == 0


def test_jobs_that_outlast_the_grace_period_are_named_with_their_jids(
    rollout_deployment: Callable[[str], Deployment],
) -> None:
    deployment = rollout_deployment("1.10.0")
    deployment.edit(lambda spec: spec["workers"][0].update(stop_grace_period="8s", replicas=1))
    deployment.up()
    with deployment.connect() as producer:
        jids = rollkit.push_long(producer, count=2, seconds=40)
        rollkit.wait_reserved(producer, 2)
    deployment.edit(_set("DEPLOY_MARK", "2"))
    run = deployment.faktctl("up")
    assert run.code != 0, run.output
    assert "still reserved after the 8s stop grace period" in run.output
    assert all(jid in run.output for jid in jids), run.output
    assert f"{deployment.project}-{SERVICE}-1" in run.output
