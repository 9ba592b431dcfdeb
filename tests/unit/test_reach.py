"""faktctl.live.reach: how this machine dials a server's port 7419, and the redacted log tail."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from faktctl.adapters.docker.api import engine_host
from faktctl.desired import Publish
from faktctl.errors import OperationFailed
from faktctl.live import reach
from faktctl.secretvalue import SecretStr


def engine(local: bool = True, address: str = "unix:///var/run/docker.sock", **more: Any) -> Any:
    return SimpleNamespace(is_local=local, address=address, **more)


@pytest.mark.parametrize(
    ("host_ip", "expected"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1")],
)
def test_a_published_port_wins_over_the_network_address(host_ip: str, expected: str) -> None:
    ports = (Publish(7420, "0.0.0.0", 8080), Publish(7419, host_ip, 27419))
    found = reach.protocol_address(ports, engine(), network_ip="172.18.0.2")
    assert found == reach.Endpoint(expected, 27419)


def test_an_unpublished_port_is_dialled_on_the_network_of_a_local_engine() -> None:
    found = reach.protocol_address((Publish(7420, "127.0.0.1", 8080),), engine(), "172.18.0.2")
    assert found == reach.Endpoint("172.18.0.2", 7419)
    assert reach.protocol_address((), engine()) is None


def test_a_remote_engine_is_dialled_on_its_host_never_on_a_container_address() -> None:
    remote = engine(local=False, address="tcp://[fd00::7]:2376")
    assert reach.protocol_address((Publish(7419, "0.0.0.0", 7419),), remote) == reach.Endpoint(
        "fd00::7", 7419
    )
    assert reach.protocol_address((), remote, network_ip="172.18.0.2") is None


@pytest.mark.parametrize(
    ("address", "host"),
    [
        ("tcp://build-box:2376", "build-box"),
        ("ssh://deploy@build-box", "build-box"),
        ("ssh://deploy@box:2222", "box"),
        ("ssh://deploy@[fd00::7]:2222", "fd00::7"),
        ("tcp://[::1]:2375", "::1"),
        ("tcp://10.0.0.5", "10.0.0.5"),
        ("build-box:2376", "build-box"),
        ("tcp://:2376", ""),
        ("unix:///var/run/docker.sock", ""),
        ("npipe:////./pipe/docker_engine", ""),
        ("tcp://[fd00::7:2376", ""),
    ],
)
def test_engine_host_parses_the_url(address: str, host: str) -> None:
    assert engine_host(address) == host


def test_an_address_given_to_the_binding_is_dialled_as_it_is() -> None:
    ports = (Publish(7419, "10.1.2.3", 7419),)
    assert reach.dial_address(ports, 7419, is_local=True) == reach.Endpoint("10.1.2.3", 7419)
    remote = reach.dial_address(ports, 7419, is_local=False, engine_address="ssh://u@box:22")
    assert remote == reach.Endpoint("10.1.2.3", 7419)


def test_a_remote_loopback_binding_is_out_of_reach_and_every_interface_wins() -> None:
    loopback = (Publish(7419, "127.0.0.1", 7419),)
    assert reach.dial_address(loopback, 7419, is_local=False, engine_address="tcp://box") is None
    both = (Publish(7419, "::", 7419), Publish(7419, "0.0.0.0", 7419))
    found = reach.dial_address(both, 7419, is_local=False, engine_address="ssh://u@box:2222")
    assert found == reach.Endpoint("box", 7419)


def test_host_networking_and_a_loopback_only_server() -> None:
    found = reach.dial_address((), 7419, is_local=True, host_network=True)
    assert found == reach.Endpoint("127.0.0.1", 7419)
    inside_only = reach.dial_address(
        (), 7419, is_local=True, network_ips=("172.18.0.2",), loopback_only=True
    )
    assert inside_only is None


def test_an_ipv6_endpoint_is_shown_in_brackets() -> None:
    assert str(reach.Endpoint("fd00::7", 7419)) == "[fd00::7]:7419"
    assert str(reach.Endpoint("box", 7419)) == "box:7419"


def test_log_tail_drops_blank_lines_and_hides_secrets() -> None:
    log = b"starting\n\n  \nFAKTORY_PASSWORD=s3cret   \nlistening at 0.0.0.0:7419\n"
    calls: list[tuple[str, int]] = []

    def logs(container_id: str, tail: int) -> bytes:
        calls.append((container_id, tail))
        return log

    lines = reach.log_tail(engine(logs=logs), "abc", 12, (SecretStr("s3cret"),))
    assert lines == ("starting", "FAKTORY_PASSWORD=<redacted>", "listening at 0.0.0.0:7419")
    assert calls == [("abc", 12)]


def test_log_tail_is_empty_when_the_engine_cannot_say() -> None:
    def logs(container_id: str, tail: int) -> bytes:
        raise OperationFailed("no such container")

    assert reach.log_tail(engine(logs=logs), "abc", 12) == ()


def test_the_dashboard_process_list_is_dialled_with_the_servers_tls() -> None:
    from faktctl.adapters import probe
    from faktctl.live import processes

    tls = probe.Tls(ca_file="/p/secrets/tls/ca.cert.pem", server_name="faktory")
    ports = (Publish(7419, "127.0.0.1", 27419), Publish(7420, "127.0.0.1", 27420))
    found = processes.dashboard_of(engine(), ports, None, tls)
    assert found == reach.Endpoint("127.0.0.1", 27420, tls)
    assert processes.dashboard_of(engine(), ports, None).tls is None
    assert probe._url(found.host, found.port, "/busy", found.tls) == "https://127.0.0.1:27420/busy"
