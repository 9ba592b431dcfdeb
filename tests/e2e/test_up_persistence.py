"""Issue 4 acceptance: jobs survive `faktctl down` + `faktctl up`, and a server recreation caused
by an image-tag change (graceful stop, new container, same volume) that leaves workers running.

The jobs sit on a queue no worker reads. They are pushed moments before the stop, so only the
final save of a graceful stop can have written them to the RDB (Faktory's periodic saves come
30 s or more later): finding them again proves the grace period was honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker

from tests.support.images import tag_alias
from tests.support.producer import make_job
from tests.support.upkit import (
    Deployment,
    assert_password_never_printed,
    go_worker,
    make_deployment,
)

__all__ = ["make_deployment"]  # the fixture, imported for pytest

PARKED = "parked"
JOBS = 100


def _push_parked(deployment: Deployment) -> None:
    with deployment.connect() as conn:
        refused = conn.push_many([make_job("demo.echo", [n], queue=PARKED) for n in range(JOBS)])
        assert refused == {}
        assert conn.queue_sizes().get(PARKED) == JOBS


def _parked(deployment: Deployment) -> int:
    with deployment.connect() as conn:
        return conn.queue_sizes().get(PARKED, 0)


def test_jobs_survive_down_and_up(
    make_deployment: Callable[..., Deployment], go_worker_image: str
) -> None:
    deployment = make_deployment([go_worker("go", go_worker_image)])
    deployment.up()
    _push_parked(deployment)

    down = deployment.faktctl("down")
    assert down.code == 0, down.output
    assert "kept (use --volumes to delete)" in down.stderr
    assert deployment.containers() == {}
    assert deployment.client.volumes.get(f"{deployment.project}_data")
    assert not deployment.client.networks.list(names=[f"{deployment.project}_default"])

    deployment.up()
    assert _parked(deployment) == JOBS

    unconfirmed = deployment.faktctl("down", "--volumes")
    assert unconfirmed.code == 2, unconfirmed.output
    assert f"--volumes deletes the data in {deployment.project}_data" in unconfirmed.stderr
    assert deployment.containers(), "nothing may be removed before the confirmation"
    confirmed = deployment.faktctl("down", "--volumes", "--yes")
    assert confirmed.code == 0, confirmed.output
    assert not deployment.client.volumes.list(filters={"name": f"{deployment.project}_data"})
    again = deployment.faktctl("down")
    assert again.code == 0 and "nothing to remove" in again.stderr
    assert_password_never_printed(deployment)


def test_jobs_survive_a_server_recreation_and_workers_keep_running(
    make_deployment: Callable[..., Deployment],
    go_worker_image: str,
    faktory_image: str,
    docker_client: docker.DockerClient,
) -> None:
    deployment = make_deployment([go_worker("go", go_worker_image, replicas=2)])
    deployment.up()
    _push_parked(deployment)
    before = deployment.containers()
    server_name = f"{deployment.project}-faktory-1"

    alias = tag_alias(docker_client, faktory_image, f"{faktory_image}-{deployment.project}")
    try:

        def new_tag(spec: dict[str, Any]) -> None:
            spec["server"]["image"] = alias

        deployment.edit(new_tag)
        plan = deployment.faktctl("up", "--dry-run")
        tag = alias.rsplit(":", 1)[1]
        assert f"recreate faktory: config changed (image 1.10.0 → {tag})" in plan.stdout
        assert deployment.containers() == before

        run = deployment.up()
        assert f"stopping {server_name} (up to 30s)" in run.stderr
        after = deployment.containers()
        assert after[server_name] != before[server_name]
        assert {n: c for n, c in after.items() if n != server_name} == {
            n: c for n, c in before.items() if n != server_name
        }
        assert deployment.inspect(server_name)["Config"]["Image"] == alias
        assert _parked(deployment) == JOBS
    finally:
        deployment.faktctl("down")
        docker_client.images.remove(alias)
