"""Fixtures for end-to-end tests against real containers on the local Docker engine
(registered for tests/e2e by tests/e2e/conftest.py).

Everything a test creates carries the label ``io.faktctl.test=<session id>``; the session
fixture removes every labelled container, network, volume and image when the run ends, so
nothing leaks even when a test fails half-way. Only the cached test images (label value
``image-cache``) are kept between runs.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from docker.models.networks import Network

from faktctl import labels
from faktctl.adapters import probe
from tests.support import local
from tests.support.images import ensure_faktory_image, ensure_go_worker_image
from tests.support.producer import Producer

READY_TIMEOUT = 30.0
POLL_INTERVAL = 0.2
PRODUCTION_COMMAND = ["/faktory", "-b", ":7419", "-w", ":7420", "-e", "production"]


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """``wait_until(condition, timeout, what)``: bounded polling that fails the test on timeout."""
    return local.wait_until


# --- engine and session ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def test_session_id() -> str:
    return f"s{uuid.uuid4().hex[:12]}"


def _remove_labelled(client: docker.DockerClient, session_id: str) -> list[str]:
    """Force-remove every container, network, volume and image of this session."""
    selector: dict[str, Any] = {"label": f"{labels.TEST}={session_id}"}
    problems: list[str] = []
    removals: list[tuple[str, Callable[[], list[Any]], Callable[[Any], None]]] = [
        ("container", lambda: client.containers.list(all=True, filters=selector, sparse=True),
         lambda c: c.remove(force=True, v=True)),
        ("network", lambda: client.networks.list(filters=selector), lambda n: n.remove()),
        ("volume", lambda: client.volumes.list(filters=selector), lambda v: v.remove(force=True)),
        ("image", lambda: client.images.list(filters=selector),
         lambda i: client.images.remove(i.id, force=True)),
    ]  # fmt: skip
    for kind, listing, remove in removals:
        for item in listing():
            try:
                remove(item)
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:
                problems.append(f"{kind} {getattr(item, 'name', item.id)}: {exc}")
    return problems


@pytest.fixture(scope="session")
def docker_client(test_session_id: str) -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # the SDK raises requests/urllib3 errors as well as its own
        pytest.skip(f"Docker engine unreachable: {exc}")
    try:
        yield client
    finally:
        problems = _remove_labelled(client, test_session_id)
        client.close()
        if problems:
            pytest.fail("could not remove test objects: " + "; ".join(problems))


FAKTORY_VERSION = "1.10.0"  # faktctl's default image
FAKTORY_OLD_VERSION = "1.9.4"  # the last version with the old queue keys


@pytest.fixture(scope="session")
def faktory_image(docker_client: docker.DockerClient) -> str:
    """The local build of faktctl's default Faktory version."""
    return ensure_faktory_image(docker_client, version=FAKTORY_VERSION)


@pytest.fixture(scope="session")
def faktory_old_image(docker_client: docker.DockerClient) -> str:
    """The local build of Faktory 1.9.4 (queues under their bare names), for upgrades."""
    return ensure_faktory_image(docker_client, version=FAKTORY_OLD_VERSION)


@pytest.fixture(scope="session")
def go_worker_image(docker_client: docker.DockerClient) -> str:
    return ensure_go_worker_image(docker_client)


# --- objects created by one test ------------------------------------------------------------


@pytest.fixture
def test_labels(test_session_id: str) -> dict[str, str]:
    """Labels to put on anything a test creates."""
    return {labels.TEST: test_session_id}


@pytest.fixture
def test_network(
    docker_client: docker.DockerClient, test_labels: dict[str, str]
) -> Iterator[Network]:
    """A bridge network owned by this test."""
    name = f"faktctl-test-{uuid.uuid4().hex[:10]}"
    network = docker_client.networks.create(name, driver="bridge", labels=test_labels)
    yield network
    _remove_network(network)


def _remove_network(network: Network) -> None:
    """Remove the network, first force-removing containers still attached to it."""
    with contextlib.suppress(docker.errors.NotFound):
        network.reload()
        for container in network.containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        network.remove()


@pytest.fixture
def run_container(
    docker_client: docker.DockerClient, test_labels: dict[str, str]
) -> Iterator[Callable[..., Container]]:
    """Start a labelled, detached container (``containers.run`` kwargs); removed afterwards."""
    started: list[Container] = []

    def run(image: str, **kwargs: Any) -> Container:
        kwargs["labels"] = {**kwargs.get("labels", {}), **test_labels}
        container = docker_client.containers.run(image, detach=True, **kwargs)
        started.append(container)
        return container

    yield run
    for container in reversed(started):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


@dataclass
class FaktoryServer:
    """A running Faktory container and how to reach it from the host and from the network."""

    container: Container
    network: Network
    name: str
    port: int
    web_port: int
    password: str | None
    host: str = "127.0.0.1"

    def url(self) -> str:
        """FAKTORY_URL for a client on the host."""
        return _faktory_url(self.host, self.port, self.password)

    def internal_url(self) -> str:
        """FAKTORY_URL for a container on the same network."""
        return _faktory_url(self.name, 7419, self.password)

    def connect(self, timeout: float = 5.0) -> Producer:
        return Producer(self.host, self.port, self.password, timeout=timeout)

    def logs(self) -> str:
        return bytes(self.container.logs()).decode(errors="replace")


def _faktory_url(host: str, port: int, password: str | None) -> str:
    auth = f":{password}@" if password else ""
    return f"tcp://{auth}{host}:{port}"


def _published_port(container: Container, private: str) -> int:
    """Host port bound to ``private`` on 127.0.0.1, or 0 when the container is not running."""
    ports = container.attrs["NetworkSettings"].get("Ports") or {}
    for binding in ports.get(private) or []:
        if binding.get("HostIp") == "127.0.0.1" and binding.get("HostPort"):
            return int(binding["HostPort"])
    return 0


def _wait_ready(server: FaktoryServer) -> None:
    """Wait until the container answers +HI and our HELLO, or fail with its logs."""
    deadline = time.monotonic() + READY_TIMEOUT
    last_error = "no attempt made"
    while time.monotonic() < deadline:
        server.container.reload()
        if server.container.status not in ("created", "running") or not server.port:
            pytest.fail(f"Faktory container exited early:\n{server.logs()}")
        try:
            probe.handshake(server.host, server.port, server.password, timeout=1.0)
            return
        except probe.ProbeError as exc:
            last_error = str(exc)
        time.sleep(POLL_INTERVAL)
    pytest.fail(f"Faktory not ready after {READY_TIMEOUT:g}s ({last_error}):\n{server.logs()}")


@pytest.fixture
def faktory_server(
    faktory_image: str,
    test_network: Network,
    run_container: Callable[..., Container],
) -> Callable[..., FaktoryServer]:
    """Factory: start a Faktory container and wait (at most 30 s) until its handshake works.

    ``password`` sets FAKTORY_PASSWORD; ``production=True`` runs ``-e production``;
    ``command``/``env``/``image``/``volumes`` override the defaults; ``wait=False`` skips
    the readiness wait (for servers expected to exit).
    """

    def start(
        *,
        password: str | None = None,
        production: bool = False,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        image: str | None = None,
        volumes: dict[str, dict[str, str]] | None = None,
        wait: bool = True,
    ) -> FaktoryServer:
        environment = dict(env or {})
        if password is not None:
            environment["FAKTORY_PASSWORD"] = password
        name = f"faktory-{uuid.uuid4().hex[:10]}"
        container = run_container(
            image or faktory_image,
            command=command or (PRODUCTION_COMMAND if production else None),
            name=name,
            environment=environment,
            network=test_network.name,
            ports={"7419/tcp": ("127.0.0.1", None), "7420/tcp": ("127.0.0.1", None)},
            volumes=volumes or {},
        )
        container.reload()
        server = FaktoryServer(
            container=container,
            network=test_network,
            name=name,
            port=_published_port(container, "7419/tcp"),
            web_port=_published_port(container, "7420/tcp"),
            password=password,
        )
        if wait:
            _wait_ready(server)
        return server

    return start
