"""The engine operations over both transports against the real engine: the standard-library
socket (what `faktctl status` reads with, and `down` stops and removes with on a plain socket)
and the docker SDK's session (everything else) give the same answers and the same one-line
errors."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import docker
import docker.errors
import pytest

from faktctl.adapters.docker.api import DEFAULT_HOST, EngineError, ObjectNotFound
from faktctl.adapters.docker.client import EngineClient
from faktctl.adapters.docker.connect import connect, plain_address
from faktctl.adapters.docker.transport import SocketTransport
from faktctl.errors import EngineUnavailable

if TYPE_CHECKING:
    from docker.models.containers import Container


def test_the_socket_and_the_sdk_session_give_the_same_answers(
    faktory_image: str,
    run_container: Callable[..., Container],
    test_labels: dict[str, str],
) -> None:
    address = plain_address()
    if address is None:
        pytest.skip("the engine is not on a plain socket here (DOCKER_HOST/context)")
    # A label of this test's own: the session label is shared with containers that earlier
    # tests are still removing, so two list queries a moment apart may differ.
    mine_only = {**test_labels, "io.faktctl.test.reader": uuid.uuid4().hex}
    container_id = run_container(faktory_image, labels=mine_only).id
    assert container_id is not None
    sdk, reader = connect(), EngineClient(SocketTransport(address))
    try:
        listed = reader.summaries(mine_only)
        assert [s["Id"] for s in listed] == [container_id]
        assert [s["Id"] for s in listed] == [s["Id"] for s in sdk.summaries(mine_only)]
        mine = reader.inspect(container_id)
        assert mine["Id"] == container_id and mine["Config"] == sdk.inspect(container_id)["Config"]
        assert [c["Id"] for c in reader.containers(mine_only)] == [
            c["Id"] for c in sdk.containers(mine_only)
        ]
        image = str(mine["Config"]["Image"])
        assert reader.image(image) == sdk.image(image)
        assert reader.image("faktctl-test/never-built:0") is None
        assert reader.volume("faktctl-test-no-such-volume") is None
        assert reader.network("faktctl-test-no-such-network") is None
        # One stream per script: the engine reads stdout and stderr through separate pipes, so
        # how the two interleave in the merged output varies from run to run.
        for script in (
            ["sh", "-c", "echo out; head -c 100000 /dev/zero; exit 3"],
            ["sh", "-c", "echo err >&2; exit 4"],
        ):
            assert reader.exec(container_id, script) == sdk.exec(container_id, script)
        for path in ("/bin/sh", "/etc"):  # a file and a folder of the image
            stat = reader.stat_path(container_id, path)
            assert stat == sdk.stat_path(container_id, path) and stat["mtime"]
        with pytest.raises(ObjectNotFound, match=r"^looking at /no/such/file in "):
            reader.stat_path(container_id, "/no/such/file")
        with pytest.raises(ObjectNotFound, match=r"^inspecting container nope-nope: "):
            reader.inspect("nope-nope")
    finally:
        sdk.close()


def test_an_engine_that_is_not_there_is_one_line_naming_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    reader = EngineClient(SocketTransport(str(plain_address())))
    with pytest.raises(EngineUnavailable) as raised:
        reader.summaries()
    assert raised.value.one_line() == (
        "cannot reach the Docker engine at unix:///nonexistent/docker.sock (DOCKER_HOST) "
        "while listing containers: no engine socket there (start the Docker engine, or set "
        "DOCKER_HOST)"
    )
    assert DEFAULT_HOST.startswith("unix://")


@pytest.mark.parametrize("transport", ["socket", "sdk"])
def test_both_transports_stop_and_remove_what_down_removes(
    transport: str,
    docker_client: docker.DockerClient,
    faktory_image: str,
    run_container: Callable[..., Container],
    test_labels: dict[str, str],
) -> None:
    """What `down` does, over either transport: a stop with its grace period, a remove (twice
    is no error), and the network's "still attached" error naming the container."""
    address = plain_address()
    if address is None and transport == "socket":
        pytest.skip("the engine is not on a plain socket here (DOCKER_HOST/context)")
    reader = EngineClient(SocketTransport(str(address))) if transport == "socket" else connect()
    name = f"faktctl-reader-{uuid.uuid4().hex[:8]}"
    network = docker_client.networks.create(name, labels=test_labels)
    volume = docker_client.volumes.create(name, labels=test_labels)
    try:
        container = run_container(
            faktory_image, name=name, network=name, volumes={name: {"bind": "/data"}}
        )
        assert container.id is not None
        with pytest.raises(
            EngineError, match=rf"^removing network {name}: still attached: {name}$"
        ):
            reader.remove_network(name)
        started = time.monotonic()
        reader.stop(container.id, timeout=20)
        assert time.monotonic() - started < 15  # Faktory ends on SIGTERM, long before SIGKILL
        assert docker_client.api.inspect_container(container.id)["State"]["Running"] is False
        reader.stop(container.id, timeout=20)  # already stopped: no error
        reader.remove(container.id)
        reader.remove(container.id)  # already gone: no error
        reader.remove_network(name)
        reader.remove_volume(name)
        assert not docker_client.networks.list(names=[name])
        assert name not in {v.name for v in docker_client.volumes.list()}
        with pytest.raises(ObjectNotFound, match=r"^stopping container nope-nope"):
            reader.stop("nope-nope", timeout=1)
    finally:
        reader.close()
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(name).remove(force=True)
        for leftover in (network, volume):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                leftover.remove()
