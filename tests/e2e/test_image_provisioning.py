"""A fresh machine: the Faktory test image builds from Debian's packages alone.

The host's redis-server, redis-cli and busybox are hidden (FAKTCTL_TEST_HIDE_HOST_TOOLS), so
the suite fetches the packages with `apt-get download`, unpacks them with `dpkg-deb -x` and
takes the shared libraries from the same packages. The image it builds must run the real
server in production, with a working redis-cli inside.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import pytest

from faktctl.adapters import probe
from tests.support import images
from tests.support.provision import HIDE_HOST_TOOLS_ENV

if TYPE_CHECKING:
    from tests.support.e2e_fixtures import FaktoryServer

PASSWORD = "provisioned-Secret-7"


def test_image_builds_from_debian_packages_with_host_tools_hidden(
    docker_client: docker.DockerClient,
    test_labels: dict[str, str],
    faktory_server: Callable[..., FaktoryServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(HIDE_HOST_TOOLS_ENV, "1")
    tools = images.find_image_tools()
    for tool in (tools.redis_server, tools.redis_cli, tools.busybox):
        assert tool.root is not None, f"{tool.path} came from the host, not a Debian package"
        assert tool.path.is_relative_to(tool.root)
    # The packaged redis-cli runs on this host with only the libraries unpacked beside it.
    assert tools.redis_cli.run("--version").stdout.startswith("redis-cli ")

    context = tmp_path / "context"
    context.mkdir()
    images.assemble_faktory_context(context, tools, images.faktory_server_binary("1.9.4"))
    tag = f"faktctl-test/provisioned:{uuid.uuid4().hex[:10]}"
    images.build_image(docker_client, context, tag, dict(test_labels), "the provisioned image")

    server = faktory_server(image=tag, password=PASSWORD, production=True)
    assert probe.handshake(server.host, server.port, PASSWORD).accepted is True
    ping = server.container.exec_run(["redis-cli", "-s", "/var/lib/faktory/db/redis.sock", "ping"])
    assert ping.exit_code == 0, ping.output
    assert isinstance(ping.output, bytes) and ping.output.strip() == b"PONG"
