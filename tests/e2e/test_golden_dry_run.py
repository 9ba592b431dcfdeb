"""Golden outputs that need the Docker engine: `up --dry-run` of every example on an engine
where its project does not exist (a plan of creates), and `render --target stack` of the swarm
spec in tests/golden/inputs/swarm, which inspects the tests' local Faktory image. Compared byte
for byte with tests/golden/ (record: `python -m tests.support.golden --record --e2e`).

Both only read the engine: the test proves nothing of the golden projects exists before and
after (the dry run would otherwise plan updates, and must create nothing)."""

from __future__ import annotations

import docker
import docker.errors
import pytest

from tests.support import golden

DRY_RUN_IMAGE = "contribsys/faktory:1.10.0"  # the examples' server image, never pulled here
SWARM_IMAGE = "faktctl-test/faktory:1.10.0"  # tests/golden/inputs/swarm/faktory.yaml


def _golden_objects(client: docker.DockerClient) -> list[str]:
    found = [
        f"container {c.name}"
        for c in client.containers.list(all=True, ignore_removed=True)
        if c.name is not None and c.name.startswith(golden.GOLDEN_PROJECT_PREFIX)
    ]
    found += [
        f"network {n.name}"
        for n in client.networks.list()
        if n.name is not None and n.name.startswith(golden.GOLDEN_PROJECT_PREFIX)
    ]
    found += [
        f"volume {v.name}"
        for v in client.volumes.list()
        if v.name is not None and v.name.startswith(golden.GOLDEN_PROJECT_PREFIX)
    ]
    return found


@pytest.mark.parametrize("case", golden.E2E_CASES, ids=[c.id for c in golden.E2E_CASES])
def test_engine_output_matches_the_golden_file(
    case: golden.Case, docker_client: docker.DockerClient, request: pytest.FixtureRequest
) -> None:
    if case.kind == "render":  # only the stack render inspects an image: the tests' build
        faktory_image = request.getfixturevalue("faktory_image")
        assert faktory_image == SWARM_IMAGE, "the swarm spec names the tests' Faktory image"
    else:
        try:
            docker_client.images.get(DRY_RUN_IMAGE)
        except docker.errors.ImageNotFound:
            pass
        else:
            pytest.fail(f"{DRY_RUN_IMAGE} is present on the engine: the recorded plan pulls it")
    assert _golden_objects(docker_client) == [], "left by an earlier run: remove them first"
    actual = golden.produce(case)
    assert _golden_objects(docker_client) == [], "a dry run created something"
    problem = golden.mismatch(case, actual)
    assert problem is None, problem
