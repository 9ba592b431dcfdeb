"""The example workers really process jobs pushed to a real Faktory server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from docker.models.containers import Container

if TYPE_CHECKING:
    from tests.support.e2e_fixtures import FaktoryServer

from tests.support.producer import make_job

PASSWORD = "worker-e2e-pw"
JOBS = 10
PROCESS_TIMEOUT = 60.0
STOP_TIMEOUT = 30
PYTHON_WORKER = Path(__file__).resolve().parents[2] / "examples" / "python-worker" / "worker.py"


def _processed(server: FaktoryServer) -> int:
    with server.connect() as conn:
        return int(conn.info()["faktory"]["total_processed"])


def _push_echo_jobs(server: FaktoryServer, count: int) -> None:
    jobs = [make_job("demo.echo", [n, "e2e"]) for n in range(count)]
    with server.connect() as conn:
        assert conn.push_many(jobs) == {}


def test_go_worker_processes_jobs(
    faktory_server: Callable[..., FaktoryServer],
    go_worker_image: str,
    run_container: Callable[..., Container],
    wait_until: Callable[..., None],
) -> None:
    server = faktory_server(password=PASSWORD, production=True)
    _push_echo_jobs(server, JOBS)
    worker = run_container(
        go_worker_image,
        network=server.network.name,
        environment={"FAKTORY_URL": server.internal_url(), "WORKER_CONCURRENCY": "3"},
    )
    wait_until(lambda: _processed(server) >= JOBS, PROCESS_TIMEOUT, f"{JOBS} processed jobs")
    worker.stop(timeout=STOP_TIMEOUT)
    worker.reload()
    assert worker.attrs["State"]["ExitCode"] == 0
    assert b"demo.echo" in bytes(worker.logs())


@pytest.fixture
def python_worker(tmp_path: Path) -> Iterator[Callable[[FaktoryServer], subprocess.Popen[bytes]]]:
    """Start examples/python-worker/worker.py on the host; stop it (SIGTERM, then KILL)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(server: FaktoryServer) -> subprocess.Popen[bytes]:
        env = {**os.environ, "FAKTORY_URL": server.url(), "FAKTORY_QUEUES": "default"}
        log = (tmp_path / "python-worker.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, str(PYTHON_WORKER)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    return process.returncode


def test_python_worker_processes_jobs(
    faktory_server: Callable[..., FaktoryServer],
    python_worker: Callable[[FaktoryServer], subprocess.Popen[bytes]],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    server = faktory_server(password=PASSWORD, production=True)
    process = python_worker(server)
    _push_echo_jobs(server, JOBS)
    wait_until(lambda: _processed(server) >= JOBS, PROCESS_TIMEOUT, f"{JOBS} processed jobs")
    assert _stop(process) == 0
    log = (tmp_path / "python-worker.log").read_text()
    assert log.count("demo.echo args=") == JOBS
