"""Issue 4 acceptance: every way `faktctl up` can fail is explained in one place, with its exit
code, and leaves something a re-run can converge from."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from faktctl import labels
from faktctl.lock import project_lock
from tests.support.local import wait_until
from tests.support.upkit import Deployment, go_worker, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port with a listening test socket on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def _crashing_worker(image: str) -> dict[str, Any]:
    return {
        "name": "crashy",
        "image": image,
        "command": ["sh", "-c", "echo 'worker boom: cannot start' >&2; exit 1"],
    }


@pytest.mark.parametrize("docker_host", ["unix:///tmp/faktctl-no-engine.sock", "tcp://127.0.0.1:1"])
@pytest.mark.parametrize("command", [["up"], ["down"], ["status"], ["logs"]])
def test_unreachable_engine_exits_3_naming_docker_host(
    make_deployment: Callable[..., Deployment], docker_host: str, command: list[str]
) -> None:
    deployment = make_deployment()
    run = deployment.faktctl(*command, env={"DOCKER_HOST": docker_host})
    assert run.code == 3, run.output
    assert f"cannot reach the Docker engine at {docker_host} (DOCKER_HOST)" in run.stderr
    assert "Traceback" not in run.output


def test_missing_or_empty_password_file_exits_2_before_touching_the_engine(
    make_deployment: Callable[..., Deployment],
) -> None:
    deployment = make_deployment()
    password_file = deployment.folder / "secrets" / "faktory_password"
    password_file.write_text("  \n")
    run = deployment.faktctl("up")
    assert run.code == 2, run.output
    assert f"password file {password_file} is empty" in run.stderr
    password_file.unlink()
    run = deployment.faktctl("up")
    assert run.code == 2 and "does not exist" in run.stderr
    assert deployment.containers() == {}


def test_port_already_taken_is_named(
    make_deployment: Callable[..., Deployment], held_port: int
) -> None:
    deployment = make_deployment()

    def use_held_port(spec: dict[str, Any]) -> None:
        spec["server"]["ports"]["protocol"] = f"127.0.0.1:{held_port}"

    deployment.edit(use_held_port)
    run = deployment.faktctl("up")
    assert run.code == 4, run.output
    assert f"host port 127.0.0.1:{held_port} is already in use" in run.stderr
    assert "change server.ports in the spec" in run.stderr


def test_worker_that_exits_at_once_is_reported_and_the_server_keeps_running(
    make_deployment: Callable[..., Deployment], faktory_image: str, go_worker_image: str
) -> None:
    deployment = make_deployment(
        [go_worker("go", go_worker_image), _crashing_worker(faktory_image)]
    )
    run = deployment.faktctl("up")
    assert run.code == 4, run.output
    crashy = f"{deployment.project}-crashy-1"
    # the engine may already have restarted it when faktctl looks: either way it is named
    assert any(
        f"crashy: {crashy} exited right after starting ({how})" in run.stderr
        for how in ("exit code 1", "restarted 1 time(s) by the engine")
    ), run.stderr
    assert "worker boom: cannot start" in run.stderr
    server = deployment.inspect(f"{deployment.project}-faktory-1")
    assert server["State"]["Status"] == "running"
    assert deployment.inspect(f"{deployment.project}-go-1")["State"]["Status"] == "running"

    again = deployment.faktctl("up")
    assert again.code == 4
    assert f"{crashy} keeps restarting" in again.stderr
    assert deployment.inspect(f"{deployment.project}-faktory-1")["Id"] == server["Id"]

    def drop_crashy(spec: dict[str, Any]) -> None:
        spec["workers"] = [w for w in spec["workers"] if w["name"] != "crashy"]

    deployment.edit(drop_crashy)
    fixed = deployment.up()
    assert f"remove orphan crashy: not in the spec (remove {crashy})" in fixed.stderr


def test_server_that_dies_at_start_shows_its_log_and_workers_wait(
    make_deployment: Callable[..., Deployment], go_worker_image: str
) -> None:
    deployment = make_deployment([go_worker("go", go_worker_image)])

    def break_server(spec: dict[str, Any]) -> None:
        spec["server"]["env"] = {"FAKTORY2_PREVIEW": "yes"}  # not a Go bool: Faktory panics

    deployment.edit(break_server)
    run = deployment.faktctl("up", "--timeout", "60")
    assert run.code == 4, run.output
    assert f"{deployment.project}-faktory-1 exited during start-up" in run.stderr
    assert 'panic: strconv.ParseBool: parsing "yes"' in run.stderr
    assert "go: not started (create): the server is not healthy" in run.stderr
    assert f"{deployment.project}-go-1" not in deployment.containers()


SLOW_START = """FROM {image}
ENTRYPOINT ["/bin/sh", "-c", "echo 'slow start: Faktory in 6s'; sleep 6; exec \\"$@\\"", "--"]
"""


@pytest.fixture
def slow_server_image(
    docker_client: docker.DockerClient, faktory_image: str, test_session_id: str
) -> str:
    """The test Faktory image behind a 6 s pause: a server that is not ready for a while."""
    tag = f"faktctl-test/slow-faktory:{test_session_id}"
    dockerfile = SLOW_START.format(image=faktory_image).encode()
    docker_client.images.build(
        fileobj=io.BytesIO(dockerfile),
        tag=tag,
        labels={labels.TEST: test_session_id},
        pull=False,
        rm=True,
    )
    return tag


def test_server_not_ready_within_the_timeout_shows_its_last_log_lines(
    make_deployment: Callable[..., Deployment], slow_server_image: str
) -> None:
    deployment = make_deployment()
    deployment.edit(lambda spec: spec["server"].update(image=slow_server_image))
    run = deployment.faktctl("up", "--timeout", "2")
    assert run.code == 4, run.output
    assert f"{deployment.project}-faktory-1 was not ready after 2s" in run.stderr
    assert "engine health: starting" in run.stderr
    assert "slow start: Faktory in 6s" in run.stderr  # its log, so the user sees why
    converged = deployment.up()  # the next run just waits for the same container
    assert "ready" in converged.stderr


def test_missing_image_names_the_image(make_deployment: Callable[..., Deployment]) -> None:
    deployment = make_deployment()

    def unknown_image(spec: dict[str, Any]) -> None:
        spec["server"]["image"] = "faktctl-test/no-such-image:0.0.1"

    deployment.edit(unknown_image)
    never = deployment.faktctl("up", "--pull", "never")
    assert never.code == 4, never.output
    assert "image faktctl-test/no-such-image:0.0.1 is not present locally" in never.stderr
    missing = deployment.faktctl("up")
    assert missing.code == 4, missing.output
    assert "cannot pull image faktctl-test/no-such-image:0.0.1:" in missing.stderr
    assert deployment.containers() == {}


def test_second_up_while_the_first_holds_the_lock_names_the_holder(
    make_deployment: Callable[..., Deployment],
) -> None:
    deployment = make_deployment()
    with project_lock(deployment.folder, deployment.project, "up"):
        run = deployment.faktctl("up")
    assert run.code == 4, run.output
    assert (
        f"project `{deployment.project}` is locked by `faktctl up` (pid {os.getpid()}" in run.stderr
    )
    assert "since" in run.stderr
    assert not (deployment.folder / f".faktctl-{deployment.project}.lock").exists()


def test_interrupted_up_exits_130_and_a_rerun_converges(
    make_deployment: Callable[..., Deployment], go_worker_image: str
) -> None:
    deployment = make_deployment([go_worker("go", go_worker_image, replicas=2)])
    env = {
        **os.environ,
        "FAKTCTL_EXTRA_LABELS": f"{labels.TEST}={deployment.session_id}",
        "NO_COLOR": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "faktctl", "up"],
        cwd=deployment.folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        server = f"{deployment.project}-faktory-1"
        # the interrupt lands while `up` works: its server exists, its workers do not yet run
        wait_until(lambda: server in deployment.containers(), 30, "the server container")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "faktctl: interrupted"
    run = deployment.up()
    assert sorted(deployment.containers()) == sorted(
        [server, f"{deployment.project}-go-1", f"{deployment.project}-go-2"]
    )
    assert "up to date" in deployment.up().stderr, run.output
