"""Issue 10 part 1: the CI line the README recommends passes for a project deployed with `up`.

`faktctl init --yes && faktctl up && faktctl backup && faktctl audit --strict` on the default
spec, against the real server, exits 0; and so does the same line with `faktctl render` added.
The only changes made to the spec `init` writes are the ones every end-to-end test makes: the
default image is mapped to the local test image of the same Faktory version (nothing can be
pulled here) and the two ports to free loopback ports (other tests share the engine).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from faktctl.faktory.images import parse_image
from tests.support.images import ensure_faktory_image
from tests.support.local import free_port
from tests.support.upkit import Deployment, assert_password_never_printed, tear_down


@pytest.fixture
def fresh_project(
    tmp_path: Path, test_session_id: str, docker_client: docker.DockerClient
) -> Iterator[Deployment]:
    """`faktctl init --yes` in an empty folder whose name becomes the project name."""
    folder = tmp_path / f"ci{uuid.uuid4().hex[:10]}"
    folder.mkdir()
    deployment = Deployment(
        folder, folder.name, test_session_id, free_port(), free_port(), docker_client
    )
    init = deployment.faktctl("init", "--yes")
    assert init.code == 0, init.output
    assert deployment.spec()["project"] == folder.name
    try:
        yield deployment
    finally:
        tear_down(deployment)


def _map_to_local_image(deployment: Deployment) -> None:
    default_image = deployment.spec()["server"]["image"]
    version = parse_image(default_image).tag
    assert version, default_image
    local_image = ensure_faktory_image(deployment.client, version=version)

    def change(spec: dict[str, Any]) -> None:
        spec["server"]["image"] = local_image
        spec["server"]["ports"] = {
            "protocol": f"127.0.0.1:{deployment.protocol_port}",
            "dashboard": f"127.0.0.1:{deployment.dashboard_port}",
        }

    deployment.edit(change)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(("up", "backup", "audit --strict"), id="up"),
        pytest.param(("render", "up", "backup", "audit --strict"), id="render-up"),
    ],
)
def test_the_ci_line_passes(fresh_project: Deployment, line: tuple[str, ...]) -> None:
    _map_to_local_image(fresh_project)
    for command in line:  # the `&&` chain: stop at the first non-zero exit
        run = fresh_project.faktctl(*command.split())
        assert run.code == 0, f"faktctl {command} exited {run.code}:\n{run.output}"
    rendered = "render" in line
    assert (fresh_project.folder / "compose.yaml").exists() is rendered
    report = fresh_project.faktctl("audit", "--format", "json")
    assert report.code == 0, report.output
    drift = [f for f in json.loads(report.stdout)["result"]["findings"] if f["id"] == "FKH010"]
    assert [f["status"] for f in drift] == ["pass" if rendered else "skip"]
    assert_password_never_printed(fresh_project)
