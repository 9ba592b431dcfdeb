"""`faktctl metrics` on a real single-node swarm (issue 25, section 1): the server's task
container is read through the engine API (nothing published), once and under `--listen`.

After pushing jobs to three queues no worker reads, the scraped queue sizes equal INFO read
over the wire, the worker service's two task containers and their two processes (the
dashboard's /busy page, reached through a relay) are counted per service, and every part of
the scrape is read (no scrape error).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.local import free_port, wait_until
from tests.support.producer import make_job
from tests.support.swarmkit import SwarmDeployment, two_worker_tasks

PUSHED = {"parked-a": 2, "parked-b": 4, "parked-c": 1}
WORKER = "go-worker"


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
    test_session_id: str,
    faktory_image: str,
    go_worker_image: str,
) -> Iterator[SwarmDeployment]:
    folder = tmp_path_factory.mktemp("swarm-metrics") / "project"
    with two_worker_tasks(folder, docker_client, test_session_id, faktory_image) as made:
        with made.connect() as conn:
            for queue, count in PUSHED.items():
                for n in range(count):
                    conn.push(make_job("SwarmMetricsJob", [n], queue=queue))
        yield made


def _values(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def _check(deployment: SwarmDeployment, got: dict[str, float]) -> None:
    p = f'project="{deployment.project}"'
    info = deployment.info()["faktory"]
    assert got[f"faktory_up{{{p}}}"] == 1
    for queue, count in PUSHED.items():
        assert got[f'faktory_queue_jobs{{{p},queue="{queue}"}}'] == count
        assert info["queues"][queue] == count
        assert got[f'faktory_queue_latency_seconds{{{p},queue="{queue}"}}'] > 0
    for name in ("scheduled", "retries", "dead"):
        assert got[f'faktory_set_jobs{{{p},set="{name}"}}'] == info["sets"][name]
    assert got[f'faktory_worker_containers_running{{{p},worker="{WORKER}"}}'] == 2
    assert got[f'faktory_worker_processes{{{p},worker="{WORKER}"}}'] == 2
    assert got[f"faktory_reservations_orphaned{{{p}}}"] == 0
    assert got[f"faktory_data_last_bgsave_ok{{{p}}}"] == 1
    # before the server's first snapshot its age cannot be told: a state, not a scrape error
    for part in ("server", "data", "backups", "workers"):
        assert got[f'faktory_scrape_errors_total{{{p},part="{part}"}}'] == 0, part


def test_metrics_on_a_swarm_equal_info_and_count_the_worker_service(
    deployment: SwarmDeployment,
) -> None:
    p = f'project="{deployment.project}"'

    def both_listed() -> bool:
        got = _values(deployment.faktctl("metrics").stdout)
        return got.get(f'faktory_worker_processes{{{p},worker="{WORKER}"}}') == 2

    wait_until(both_listed, 120, "both Go worker processes in faktory_worker_processes")
    run = deployment.faktctl("metrics")
    assert run.code == 0, run.output
    _check(deployment, _values(run.stdout))
    assert deployment.password not in run.output


@contextlib.contextmanager
def _listening(deployment: SwarmDeployment, port: int, log: Path) -> Iterator[None]:
    args = [sys.executable, "-m", "faktctl", "metrics", "--listen", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=deployment.folder, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


def test_listen_on_a_swarm_follows_the_queues(deployment: SwarmDeployment, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    p = f'project="{deployment.project}"'
    with _listening(deployment, port, tmp_path / "faktctl.log"):
        wait_until(lambda: _scrape(url) is not None, 30, "faktctl metrics --listen to answer")
        for _ in range(3):  # the connection kept between scrapes reads the server each time
            body = _scrape(url)
            assert body is not None
            _check(deployment, _values(body))
        with deployment.connect() as conn:
            conn.push(make_job("SwarmMetricsJob", [], queue="parked-late"))
        body = _scrape(url)
        assert body is not None
        assert f'faktory_queue_jobs{{{p},queue="parked-late"}} 1' in body
    assert deployment.password not in (tmp_path / "faktctl.log").read_text()
