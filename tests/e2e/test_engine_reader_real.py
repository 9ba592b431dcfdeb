"""The stdlib engine reader (what `faktctl status` reads with) against the real engine: the
same answers as the docker SDK adapter, and the same one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from faktctl.adapters.docker_engine import DEFAULT_HOST, ObjectNotFound, connect
from faktctl.adapters.engine_reader import EngineReader, plain_address
from faktctl.errors import EngineUnavailable

if TYPE_CHECKING:
    from tests.e2e.conftest import FaktoryServer


def test_the_reader_answers_as_the_sdk_does(
    faktory_server: Callable[..., FaktoryServer], test_labels: dict[str, str]
) -> None:
    address = plain_address()
    if address is None:
        pytest.skip("the engine is not on a plain socket here (DOCKER_HOST/context)")
    server = faktory_server(password="reader-Secret-1")
    container_id = server.container.id
    assert container_id is not None
    sdk, reader = connect(), EngineReader(address)
    try:
        listed = reader.summaries(test_labels)
        assert container_id in {s["Id"] for s in listed}
        assert [s["Id"] for s in listed] == [s["Id"] for s in sdk.summaries(test_labels)]
        mine = reader.inspect(container_id)
        assert mine["Id"] == container_id and mine["Config"] == sdk.inspect(container_id)["Config"]
        assert [c["Id"] for c in reader.containers(test_labels)] == [
            c["Id"] for c in sdk.containers(test_labels)
        ]
        image = str(mine["Config"]["Image"])
        assert reader.image(image) == sdk.image(image)
        assert reader.image("faktctl-test/never-built:0") is None
        assert reader.volume("faktctl-test-no-such-volume") is None
        assert reader.network("faktctl-test-no-such-network") is None
        script = ["sh", "-c", "echo out; echo err >&2; head -c 100000 /dev/zero; exit 3"]
        assert reader.exec(container_id, script) == sdk.exec(container_id, script)
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
