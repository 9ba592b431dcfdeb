"""`faktctl upgrade` from the real Faktory 1.9.4 to the real 1.10.0 (queues move to `q:<name>`).

Each test starts a 1.9.4 deployment through `faktctl up` on the local test images and fills it
through the wire protocol; nothing is mocked.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from faktctl import labels
from faktctl.adapters import probe
from tests.support.local import wait_until
from tests.support.producer import make_job
from tests.support.upkit import Deployment, go_worker, new_deployment, tear_down

QUEUES = {"default": 500, "critical": 300, "bulk": 200}
SCHEDULED, RETRIES, DEAD = 100, 50, 20
FAR_FUTURE = "2099-01-01T00:00:00Z"
REDIS = ["redis-cli", "-s", "/var/lib/faktory/db/redis.sock"]


@pytest.fixture
def old_deployment(
    tmp_path: Path,
    test_session_id: str,
    docker_client: docker.DockerClient,
    faktory_old_image: str,
    faktory_image: str,  # the 1.10.0 build must exist for the upgrade
    go_worker_image: str,
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(workers: list[dict[str, Any]] | None = None) -> Deployment:
        folder = tmp_path / f"p{len(made)}"
        folder.mkdir()
        deployment = new_deployment(
            folder, test_session_id, docker_client, faktory_old_image, workers or []
        )
        made.append(deployment)
        deployment.up()
        return deployment

    yield make
    for deployment in made:
        tear_down(deployment)


def _fill(deployment: Deployment) -> None:
    """1000 jobs over 3 queues, 100 scheduled, 50 retries, 20 dead."""
    with deployment.connect() as conn:
        jobs = [make_job("demo.echo", [n], q) for q, size in QUEUES.items() for n in range(size)]
        assert conn.push_many(jobs) == {}
        later = []
        for n in range(SCHEDULED):
            job = make_job("demo.echo", [n], "default")
            job["at"] = FAR_FUTURE
            later.append(job)
        assert conn.push_many(later) == {}
        for count, retry in ((RETRIES, 25), (DEAD, 0)):
            for n in range(count):
                job = make_job("demo.fail", [n], "failing")
                job["retry"] = retry
                conn.push(job)
                fetched = conn.command("FETCH", "failing")
                assert fetched is not None
                jid = json.loads(fetched)["jid"]
                failure = {"jid": jid, "errtype": "Boom", "message": "on purpose"}
                assert conn.command("FAIL", json.dumps(failure)) == "OK"


def _counts(deployment: Deployment) -> tuple[dict[str, int], dict[str, int], str]:
    with deployment.connect() as conn:
        info = conn.info()
    faktory = info["faktory"]
    sets = {name: int(faktory["sets"][name]) for name in ("scheduled", "retries", "dead")}
    return dict(faktory["queues"]), sets, info["server"]["faktory_version"]


def _server(deployment: Deployment) -> Any:
    return deployment.client.containers.get(f"{deployment.project}-faktory-1")


def _same_jobs(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Equal, except that retries whose time came moved into their queue `failing`."""
    moved = after["sets"]["retries"] - before["sets"]["retries"]
    assert after["queues"].get("failing", 0) == before["queues"].get("failing", 0) - moved
    for name in QUEUES:
        assert after["queues"][name] == before["queues"][name]
    for name in ("scheduled", "dead"):
        assert after["sets"][name] == before["sets"][name]


def _snapshot(deployment: Deployment) -> dict[str, Any]:
    queues, sets, version = _counts(deployment)
    return {"queues": queues, "sets": sets, "version": version}


class Producer(threading.Thread):
    """Pushes jobs to queue `live` in a loop; a push counts once the server answered +OK."""

    def __init__(self, deployment: Deployment) -> None:
        super().__init__(daemon=True)
        self.deployment = deployment
        self.acked: list[str] = []
        self.refused = 0
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 300
        while not self.stop.is_set() and time.monotonic() < deadline:
            job = make_job("demo.echo", ["live"], "live")
            try:
                with self.deployment.connect() as conn:
                    while not self.stop.is_set():
                        job = make_job("demo.echo", ["live"], "live")
                        conn.push(job)
                        self.acked.append(job["jid"])
                        time.sleep(0.02)
            except (probe.ProbeError, OSError):
                self.refused += 1
                time.sleep(0.05)


def _jids_in(deployment: Deployment, key: str) -> set[str]:
    output = _server(deployment).exec_run([*REDIS, "--raw", "LRANGE", key, "0", "-1"]).output
    return {json.loads(line)["jid"] for line in output.decode().splitlines() if line.strip()}


def test_upgrade_moves_every_job_and_the_go_worker_processes_them_on_1_10(
    old_deployment: Callable[..., Deployment], go_worker_image: str, faktory_image: str
) -> None:
    # A worker on an unused queue, so the upgrade stops and restarts it without eating jobs.
    deployment = old_deployment([go_worker("go", go_worker_image, queues="idle")])
    _fill(deployment)
    before = _snapshot(deployment)
    assert before["version"] == "1.9.4"
    assert sum(before["queues"][q] for q in QUEUES) == 1000

    plan = deployment.faktctl("upgrade", "--to", "1.10.0", "--dry-run")
    assert plan.code == 0, plan.output
    assert "upgrade Faktory 1.9.4 → 1.10.0" in plan.stdout
    assert "move every queue from <name> to q:<name>" in plan.stdout

    old_image = deployment.spec()["server"]["image"]
    text = deployment.spec_path.read_text()
    deployment.spec_path.write_text(
        text.replace(f"image: {old_image}\n", f"image: {old_image}  # chosen by ops\n")
    )
    producer = Producer(deployment)
    producer.start()
    time.sleep(0.5)
    run = deployment.faktctl("upgrade", "--to", "1.10.0", "--yes", "--json")
    time.sleep(1.0)
    producer.stop.set()
    producer.join(30)
    assert run.code == 0, run.output
    result = json.loads(run.stdout)["result"]
    assert result["to"]["version"] == "1.10.0"
    assert result["safety_backup"]
    assert producer.refused >= 1, "the producer never saw the server stopped"

    after = _snapshot(deployment)
    assert after["version"] == "1.10.0"
    _same_jobs(before, after)
    # Every push the server acknowledged is there, before and after the switch.
    acked = set(producer.acked)
    assert acked <= _jids_in(deployment, "q:live")
    assert after["queues"]["live"] >= len(acked)
    assert not _server(deployment).exec_run([*REDIS, "EXISTS", "default"]).output.startswith(b"1")

    spec_text = deployment.spec_path.read_text()
    assert f"image: {faktory_image}  # chosen by ops\n" in spec_text
    again = deployment.faktctl("up", "--dry-run")
    assert "noop faktory" in again.stdout, again.stdout

    # The example Go worker, now on the three queues, processes all 1000 on 1.10.0.
    def on_queues(spec: dict[str, Any]) -> None:
        spec["workers"][0]["env"]["FAKTORY_QUEUES"] = ",".join(QUEUES)

    deployment.edit(on_queues)
    deployment.up()

    def processed() -> bool:
        with deployment.connect() as conn:
            faktory = conn.info()["faktory"]
        return bool(sum(faktory["queues"].get(q, 0) for q in QUEUES) == 0)

    wait_until(processed, 120, "the Go worker to empty the three queues")
    with deployment.connect() as conn:
        assert int(conn.info()["faktory"]["total_processed"]) >= 1000


def _broken_image(client: docker.DockerClient, base: str, session: str) -> str:
    """A 1.10.x tag whose server exits at once (Faktory's own failure mode: status 0)."""
    tag = f"faktctl-test/faktory:1.10.9-broken{uuid.uuid4().hex[:6]}"
    dockerfile = (
        f"FROM {base}\n"
        "RUN rm /faktory && printf '#!/bin/sh\\necho cannot start\\nexit 0\\n' > /faktory "
        "&& chmod 755 /faktory\n"
    )
    client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, labels={labels.TEST: session}, rm=True
    )
    return tag


def test_failed_upgrade_rolls_back_to_the_old_server_with_every_job(
    old_deployment: Callable[..., Deployment],
    docker_client: docker.DockerClient,
    faktory_image: str,
    test_session_id: str,
) -> None:
    deployment = old_deployment()
    _fill(deployment)
    before = _snapshot(deployment)
    spec_before = deployment.spec_path.read_text()
    broken = _broken_image(docker_client, faktory_image, test_session_id)

    run = deployment.faktctl("upgrade", "--to", broken, "--yes", "--timeout", "20")

    assert run.code == 4, run.output
    assert "rolled back" in run.stderr
    assert "exited" in run.stderr or "not ready" in run.stderr
    after = _snapshot(deployment)
    assert after["version"] == "1.9.4"
    _same_jobs(before, after)
    assert deployment.spec_path.read_text() == spec_before


def _recreate_by_hand(deployment: Deployment, image: str) -> None:
    """What a hand-made upgrade does: the server container again, same settings, new image."""
    api = deployment.client.api
    old = _server(deployment)
    attrs = old.attrs
    config = attrs["Config"]
    networks = attrs["NetworkSettings"]["Networks"]
    old.stop(timeout=30)
    old.remove()
    endpoints = {name: {"Aliases": ["faktory"]} for name in networks}
    created = api.create_container(
        image,
        command=config["Cmd"],
        name=attrs["Name"].lstrip("/"),
        environment=config["Env"],
        labels=config["Labels"],
        healthcheck=config.get("Healthcheck"),
        host_config=attrs["HostConfig"],
        networking_config={"EndpointsConfig": endpoints},
    )
    api.start(created["Id"])

    def answers() -> bool:
        try:
            probe.handshake("127.0.0.1", deployment.protocol_port, deployment.password, 1.0)
        except probe.ProbeError:
            return False
        return True

    wait_until(answers, 60, "the hand-made 1.10.0 server to answer")


def test_botched_manual_upgrade_is_caught_by_the_live_audit_and_repaired(
    old_deployment: Callable[..., Deployment], faktory_image: str, faktory_old_image: str
) -> None:
    deployment = old_deployment()
    _fill(deployment)
    before = _snapshot(deployment)

    def new_tag(spec: dict[str, Any]) -> None:
        spec["server"]["image"] = faktory_image

    deployment.edit(new_tag)
    refused = deployment.faktctl("up")
    assert refused.code == 4, refused.output
    assert "faktctl upgrade" in refused.stderr
    assert _snapshot(deployment)["version"] == "1.9.4"

    # `down` keeps the volume; a new 1.10.0 server on it is refused as well.
    assert deployment.faktctl("down").code == 0
    refused = deployment.faktctl("up")
    assert refused.code == 4, refused.output
    assert "would not see: bulk (200), critical (300), default (500)" in refused.stderr

    # By hand, straight through the engine: the same server container from the 1.10.0 image.
    def old_tag(spec: dict[str, Any]) -> None:
        spec["server"]["image"] = faktory_old_image

    deployment.edit(old_tag)
    deployment.up()
    _recreate_by_hand(deployment, faktory_image)
    hidden = _snapshot(deployment)
    assert hidden["version"] == "1.10.0"
    assert all(hidden["queues"][q] == 0 for q in QUEUES)

    audit = deployment.faktctl("audit", "--live", "--format", "json")
    assert audit.code == 1, audit.output
    findings = {f["id"]: f for f in json.loads(audit.stdout)["result"]["findings"]}
    assert findings["FKP012"]["status"] == "fail"
    assert findings["FKP012"]["severity"] == "error"
    for name, size in QUEUES.items():
        assert f"{name} ({size})" in findings["FKP012"]["message"]
    assert "faktctl upgrade --repair" in findings["FKP012"]["remediation"]

    repair = deployment.faktctl("upgrade", "--repair", "--yes")
    assert repair.code == 0, repair.output
    _same_jobs(before, _snapshot(deployment))
    audit = deployment.faktctl("audit", "--live", "--format", "json")
    findings = {f["id"]: f for f in json.loads(audit.stdout)["result"]["findings"]}
    assert findings["FKP012"]["status"] == "pass"


def test_a_1_9_backup_restored_into_1_10_shows_every_job(
    old_deployment: Callable[..., Deployment], faktory_image: str
) -> None:
    deployment = old_deployment()
    _fill(deployment)
    before = _snapshot(deployment)
    backup = deployment.faktctl("backup", "--json")
    assert backup.code == 0, backup.output
    name = json.loads(backup.stdout)["result"]["name"]

    upgraded = deployment.faktctl("upgrade", "--to", "1.10.0", "--yes")
    assert upgraded.code == 0, upgraded.output
    with deployment.connect() as conn:
        conn.command("FLUSH")
    assert sum(_snapshot(deployment)["queues"].values()) == 0

    verify = deployment.faktctl("backup", "verify", name)
    assert verify.code == 0, verify.output
    restore = deployment.faktctl("restore", name, "--yes")
    assert restore.code == 0, restore.output
    after = _snapshot(deployment)
    assert after["version"] == "1.10.0"
    _same_jobs(before, after)
