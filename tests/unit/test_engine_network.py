"""Engine.remove_network says why a network with no container left cannot be removed."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest
from requests import Response

from faktctl.adapters.docker.engine import Engine, EngineError


class FakeApi:
    def __init__(self, attached: dict[str, Any]) -> None:
        self.attached = attached

    def remove_network(self, name: str) -> None:
        response = Response()
        response.status_code = 403
        message = f"error while removing network: network {name} id abc has active endpoints"
        raise docker.errors.APIError("403", response=response, explanation=message)

    def inspect_network(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Containers": self.attached}


class FakeClient:
    def __init__(self, api: FakeApi) -> None:
        self.api = api


def engine(attached: dict[str, Any]) -> Engine:
    return Engine(client=FakeClient(FakeApi(attached)), address="unix:///x")  # type: ignore[arg-type]


def test_a_network_with_containers_attached_names_them() -> None:
    with pytest.raises(EngineError) as caught:
        engine({"c0ffee" * 10: {"Name": "intruder"}}).remove_network("shop_default")
    assert "still attached: intruder" in caught.value.one_line()


def test_a_network_the_engine_lost_count_of_says_so_and_what_to_do() -> None:
    with pytest.raises(EngineError) as caught:
        engine({}).remove_network("shop_default")
    line = caught.value.one_line()
    assert "no container is attached" in line and "restart the Docker engine" in line
