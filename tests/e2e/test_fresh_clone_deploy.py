"""Issue 22 section 0b: a fresh clone deploys with one documented secret step.

The repository as a team keeps it (`faktctl init --yes`, committed; git keeps no password
file), cloned on the deploy host; the value comes from the CI's secret store (an environment
variable), `faktctl secrets provision --from-env` writes it, and `faktctl up` runs the real
server with it: a client holding the store's value is let in, and the value is never printed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from tests.support import gitrepo
from tests.support.local import free_port
from tests.support.producer import Producer, make_job
from tests.support.upkit import Deployment, assert_password_never_printed, tear_down


@pytest.fixture
def clone(
    tmp_path: Path, test_session_id: str, docker_client: docker.DockerClient, faktory_image: str
) -> Iterator[Deployment]:
    project = f"t{uuid.uuid4().hex[:10]}"
    protocol, dashboard = free_port(), free_port()

    def local_image_and_ports(origin: Path) -> None:
        spec = yaml.safe_load((origin / "faktory.yaml").read_text())
        spec["server"]["image"] = faktory_image
        spec["server"]["ports"] = {
            "protocol": f"127.0.0.1:{protocol}",
            "dashboard": f"127.0.0.1:{dashboard}",
        }
        (origin / "faktory.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    origin = gitrepo.initialised(tmp_path / "origin", project, local_image_and_ports)
    folder = gitrepo.cloned(origin, tmp_path / "deploy-host")
    deployment = Deployment(folder, project, test_session_id, protocol, dashboard, docker_client)
    try:
        yield deployment
    finally:
        tear_down(deployment)


def test_a_fresh_clone_deploys_after_one_secret_step(clone: Deployment) -> None:
    assert not (clone.folder / "secrets").exists()  # git kept no password file
    refused = clone.faktctl("up")
    assert refused.code == 2 and "faktctl secrets provision" in refused.stderr, refused.output

    value = f"from-the-ci-store-{uuid.uuid4().hex}"
    provisioned = clone.faktctl(
        "secrets", "provision", "--from-env", "FAKTORY_PASSWORD", env={"FAKTORY_PASSWORD": value}
    )
    assert provisioned.code == 0, provisioned.output
    clone.up()

    with Producer("127.0.0.1", clone.protocol_port, value) as conn:
        conn.push(make_job("Deployed", [1], queue="fresh-clone"))
        assert conn.queue_sizes().get("fresh-clone") == 1
    assert clone.password == value
    assert_password_never_printed(clone)
