"""The stdlib engine reader (what `faktctl status` reads with) against the real engine: the
same answers as the docker SDK adapter, and the same one-line errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from faktctl.adapters.docker_engine import DEFAULT_HOST, ObjectNotFound, connect
from faktctl.adapters.engine_reader import EngineReader, plain_address
from faktctl.errors import EngineUnavailable

if TYPE_CHECKING:
    from docker.models.containers import Container


def test_the_reader_answers_as_the_sdk_does(
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
    sdk, reader = connect(), EngineReader(address)
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
    reader = EngineReader(str(plain_address()))
    with pytest.raises(EngineUnavailable) as raised:
        reader.summaries()
    assert raised.value.one_line() == (
        "cannot reach the Docker engine at unix:///nonexistent/docker.sock (DOCKER_HOST) "
        "while listing containers: no engine socket there (start the Docker engine, or set "
        "DOCKER_HOST)"
    )
    assert DEFAULT_HOST.startswith("unix://")
