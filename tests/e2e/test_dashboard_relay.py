"""Issue 24: the dashboard tunnel under many parallel browser connections, and the
volumes/containers `up` and `down` must not take for the project's own.

Real connections through the real tunnel (`faktctl dashboard`) into the real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from faktctl import labels
from tests.support.upkit import Deployment, dashboard_tunnel, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

PARALLEL = 150


@pytest.fixture
def deployment(make_deployment: Callable[..., Deployment]) -> Deployment:
    made = make_deployment()
    result = made.faktctl("up")
    assert result.code == 0, result.output
    return made


def test_the_dashboard_tunnel_serves_many_parallel_connections(deployment: Deployment) -> None:
    lines: list[str] = []
    with dashboard_tunnel(deployment) as (tunnel, port, _):
        reader = threading.Thread(
            target=lambda: lines.extend(iter(tunnel.stderr.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        url = f"http://127.0.0.1:{port}/"
        start = threading.Barrier(PARALLEL, timeout=60)

        def one(_: int) -> int | str:
            start.wait()  # all at once
            try:
                page = httpx.get(url, auth=("admin", deployment.password), timeout=120)
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return page.status_code

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            answers = list(pool.map(one, range(PARALLEL)))
        time.sleep(1)  # the relay reports its errors every half second
    failed = [a for a in answers if a != 200]
    relay_errors = [line for line in lines if "relay:" in line]
    assert failed == [] and relay_errors == [], (failed[:5], relay_errors[:5])


def test_a_volume_faktctl_did_not_create_is_never_removed_and_adopted_only_when_asked(
    make_deployment: Callable[..., Deployment],
) -> None:
    made = make_deployment(folder_name="foreign")
    name = f"{made.project}_data"
    made.client.volumes.create(name, labels={labels.TEST: made.session_id})  # no faktctl labels
    try:
        dry = made.faktctl("up", "--dry-run")
        assert dry.code == 0, dry.output
        assert f"volume {name}" in dry.stdout and "--adopt-volume" in dry.stdout, dry.stdout
        refused = made.faktctl("up")
        assert refused.code == 2 and "--adopt-volume" in refused.stderr, refused.output
        adopted = made.faktctl("up", "--adopt-volume")
        assert adopted.code == 0, adopted.output
        again = made.faktctl("up")  # its server already uses it: adopted before
        assert again.code == 0, again.output
        down = made.faktctl("down", "--volumes", "--yes")
        assert down.code == 0, down.output
        assert "faktctl's labels" in down.stderr, down.output
        assert made.client.volumes.get(name).name == name  # still there
    finally:
        made.faktctl("down", "--yes")
        made.client.volumes.get(name).remove(force=True)


def test_a_container_that_merely_carries_the_projects_labels_is_left_alone(
    deployment: Deployment, faktory_image: str
) -> None:
    tags = {
        labels.MANAGED: "true",
        labels.PROJECT: deployment.project,
        labels.SERVICE: "faktory",
        labels.ROLE: "server",
        labels.REPLICA: "1",
        labels.TEST: deployment.session_id,
    }
    impostor = deployment.client.containers.run(
        faktory_image,
        ["sleep", "300"],
        entrypoint=[],
        name=f"{deployment.project}-impostor",
        labels=tags,
        detach=True,
    )
    try:
        dry = deployment.faktctl("up", "--dry-run")
        assert dry.code == 0, dry.output
        assert f"{deployment.project}-impostor" in dry.stderr and "not faktctl's" in dry.stderr
        assert "remove faktory" not in dry.stdout and "recreate faktory" not in dry.stdout
        assert "faktory: " in dry.stdout and "up to date" in dry.stdout, dry.stdout
        down = deployment.faktctl("down", "--yes")
        assert down.code == 0, down.output
        impostor.reload()
        assert impostor.status == "running"  # not faktctl's: never stopped or removed
    finally:
        impostor.remove(force=True)
