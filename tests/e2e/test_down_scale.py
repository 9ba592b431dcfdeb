"""Issue 16: many replicas against the real engine and the real Faktory server.

- `status` lists every container from one query (no restart counts), `--verbose` inspects them;
- `logs` reads every replica; `up` scales down side by side;
- `down` at 30 replicas stops and removes every worker before the server gets its stop
  signal, and the server still stops gracefully (exit 0 after SIGTERM, never SIGKILL), as the
  engine's own event stream records it;
- workers that ignore SIGTERM cost their grace period once, not once per batch of replicas.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import docker

from faktctl import labels
from tests.support.local import wait_until
from tests.support.upkit import Deployment, go_worker, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

REPLICAS = 30
STOP_GRACE_S = 10  # set on the stubborn workers (the spec's default is 30 s)


def _events(
    client: docker.DockerClient, project: str, since: float, until: float
) -> list[dict[str, Any]]:
    stream = client.api.events(
        since=int(since) - 1,
        until=int(until) + 1,
        filters={"type": ["container"], "label": [f"{labels.PROJECT}={project}"]},
        decode=True,
    )
    return [e for e in stream if since - 1 <= int(e["timeNano"]) / 1e9 <= until + 1]


def _set_replicas(deployment: Deployment, replicas: int) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["workers"][0]["replicas"] = replicas

    deployment.edit(change)


def test_thirty_replicas_status_logs_scale_down_and_down_in_order(
    make_deployment: Callable[..., Deployment],
    go_worker_image: str,
    docker_client: docker.DockerClient,
) -> None:
    deployment = make_deployment(workers=[go_worker("go", go_worker_image, replicas=REPLICAS)])
    deployment.up()
    project, server = deployment.project, f"{deployment.project}-faktory-1"

    def engine_says_healthy() -> bool:  # `up` went by Faktory's own readiness; the engine's
        # first health check may come up to one interval later
        health = docker_client.containers.get(server).attrs["State"]["Health"]["Status"]
        return bool(health == "healthy")

    wait_until(engine_says_healthy, 60, "the engine's health check to pass")
    quick = deployment.faktctl("status", "--json")
    result = json.loads(quick.stdout)["result"]
    assert quick.code == 0, (result["drift"], quick.stderr)
    services = {s["name"]: s for s in result["services"]}
    assert services["go"]["replicas"] == {"desired": REPLICAS, "running": REPLICAS}
    assert result["verbose"] is False
    worker = services["go"]["containers"][0]
    assert worker["restart_count"] is None and worker["status"].startswith("Up ")
    assert services["faktory"]["containers"][0]["health"] == "healthy"
    verbose = deployment.faktctl("status", "--verbose", "--json")
    assert verbose.code == 0, verbose.output
    detailed = json.loads(verbose.stdout)["result"]["services"][1]["containers"][0]
    assert detailed["restart_count"] == 0 and detailed["uptime_s"] is not None
    table = deployment.faktctl("status")
    assert "RESTARTS" not in table.stdout.splitlines()[0] and "up to date" in table.stdout

    logs = deployment.faktctl("logs", "go", "--tail", "3")
    assert logs.code == 0, logs.output
    prefixes = {line.split(" | ", 1)[0].strip() for line in logs.stdout.splitlines()}
    assert prefixes == {f"{project}-go-{n}" for n in range(1, REPLICAS + 1)}

    _set_replicas(deployment, 20)
    shrink = deployment.up()
    assert f"scale down go: {REPLICAS} → 20" in shrink.stderr
    assert len(deployment.containers("go")) == 20
    assert deployment.faktctl("status").code == 0

    since = time.time()
    down = deployment.faktctl("down", env={"PYTHONPROFILEIMPORTTIME": "1"})
    until = time.time()
    assert down.code == 0, down.output
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in down.stderr.splitlines()}
    assert not imported & {"docker", "requests", "urllib3", "typer"}  # a plain socket here
    assert deployment.containers() == {}

    events = _events(docker_client, project, since, until)
    server_kills = [
        e for e in events if e["Actor"]["Attributes"]["name"] == server and e["Action"] == "kill"
    ]
    assert server_kills, f"no kill event for {server}: {events}"
    server_signalled = min(int(e["timeNano"]) for e in server_kills)
    assert {e["Actor"]["Attributes"]["signal"] for e in server_kills} == {"15"}
    server_died = [
        e for e in events if e["Actor"]["Attributes"]["name"] == server and e["Action"] == "die"
    ]
    assert [e["Actor"]["Attributes"]["exitCode"] for e in server_died] == ["0"]
    workers = {f"{project}-go-{n}" for n in range(1, 21)}
    for action in ("die", "destroy"):
        done = {
            e["Actor"]["Attributes"]["name"]: int(e["timeNano"])
            for e in events
            if e["Action"] == action and e["Actor"]["Attributes"]["name"] in workers
        }
        assert set(done) == workers, f"workers without a {action} event: {workers - set(done)}"
        late = sorted(name for name, when in done.items() if when >= server_signalled)
        assert not late, f"{action} after the server's stop signal: {late}"


def test_workers_ignoring_sigterm_cost_their_grace_period_once(
    make_deployment: Callable[..., Deployment], faktory_image: str
) -> None:
    stubborn = {
        "name": "stubborn",
        "image": faktory_image,
        "replicas": 20,
        "command": ["sleep", "3600"],  # PID 1 without a handler: SIGTERM does nothing
        "stop_grace_period": f"{STOP_GRACE_S}s",
    }
    deployment = make_deployment(workers=[stubborn])
    deployment.up()
    started = time.monotonic()
    down = deployment.faktctl("down")
    elapsed = time.monotonic() - started
    assert down.code == 0, down.output
    assert deployment.containers() == {}
    # 20 replicas, each needing its full 10 s: batches of 8 would take 30 s or more
    assert elapsed < 2 * STOP_GRACE_S + 5, f"down took {elapsed:.1f}s:\n{down.output}"
