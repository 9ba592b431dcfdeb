"""Issue 23 section 3, the proof: a Go worker (examples/go-worker, faktory_worker_go) killed with
SIGKILL in the middle of a job leaves it reserved; `faktctl status` shows the orphan (queue and
age), `faktctl rescue` hands it back, and it is processed well within 60 s (not after the 30
minute reservation); the job of a live worker is never touched, and a second `rescue` finds
nothing (exit 0). On both server versions (1.9.4 keeps queue `x` as the Redis list `x`, 1.10.0
as `q:x`: the hand-back must push where FETCH pops).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import docker
import pytest

from tests.support.local import wait_until
from tests.support.producer import make_job
from tests.support.upkit import (
    Deployment,
    assert_password_never_printed,
    go_worker,
    make_deployment,
)

__all__ = ["make_deployment"]  # the fixture, imported for pytest

DOOMED_Q, ALIVE_Q = "rescue-doomed", "rescue-alive"
DOOMED_JOB_S = 15
PROCESSED_WITHIN_S = 60


def _reservations(deployment: Deployment) -> dict[str, Any]:
    run = deployment.faktctl("status", "--json")
    assert run.code in (0, 1), run.output
    found = json.loads(run.stdout)["result"]["faktory"].get("reservations") or {}
    assert "error" not in found, found
    return dict(found)


def _log(client: docker.DockerClient, container_id: str) -> str:
    return bytes(client.api.logs(container_id)).decode(errors="replace")


@pytest.mark.parametrize("version", ["1.9.4", "1.10.0"])
def test_rescue_hands_back_a_killed_workers_job(
    make_deployment: Callable[..., Deployment],
    go_worker_image: str,
    faktory_image: str,
    faktory_old_image: str,
    version: str,
) -> None:
    deployment = make_deployment(
        workers=[
            go_worker("doomed", go_worker_image, queues=DOOMED_Q),
            go_worker("alive", go_worker_image, queues=ALIVE_Q),
        ],
        image=faktory_old_image if version == "1.9.4" else faktory_image,
    )
    deployment.up()
    client = deployment.client
    (doomed_id,) = deployment.containers("doomed").values()
    (alive_id,) = deployment.containers("alive").values()
    wait_until(lambda: _reservations(deployment).get("processes") == 2, 60, "both workers")

    with deployment.connect() as conn:
        doomed = conn.push(make_job("demo.sleep", [DOOMED_JOB_S], queue=DOOMED_Q))
        alive = conn.push(make_job("demo.sleep", [600], queue=ALIVE_Q))
    wait_until(lambda: f"start jid={doomed}" in _log(client, doomed_id), 30, "the doomed job")
    wait_until(lambda: f"start jid={alive}" in _log(client, alive_id), 30, "the alive job")
    before = _reservations(deployment)
    assert before["reserved"] == 2 and before["orphaned"] == 0, before

    client.api.kill(doomed_id, signal="SIGKILL")  # mid-job
    wait_until(lambda: _reservations(deployment).get("orphaned") == 1, 30, "the orphan")
    # back as after an out-of-memory kill (`docker kill` counts as a manual stop, so the
    # restart policy leaves it down): a new process, a new wid, the old reservation orphaned
    client.api.start(doomed_id)
    wait_until(lambda: _reservations(deployment).get("processes") == 2, 60, "the restart")
    seen = _reservations(deployment)
    (orphan,) = seen["orphans"]
    assert (orphan["jid"], orphan["queue"]) == (doomed, DOOMED_Q)
    assert orphan["age_s"] < 60 and orphan["expires_in_s"] > 1500  # the 30-minute reservation
    by_queue = seen["orphaned_by_queue"]
    assert list(by_queue) == [DOOMED_Q] and by_queue[DOOMED_Q]["count"] == 1, by_queue
    # whole seconds there, tenths in `orphans`: 3.46 s shows as 3 and as 3.5
    assert abs(by_queue[DOOMED_Q]["oldest_s"] - orphan["age_s"]) <= 0.55, (by_queue, orphan)
    audited = deployment.faktctl("audit", "--live", "--format", "json")
    findings = json.loads(audited.stdout)["result"]["findings"]
    (fkh022,) = [f for f in findings if f["id"] == "FKH022"]
    assert fkh022["status"] == "pass" and "(1 younger)" in fkh022["message"], fkh022
    text = deployment.faktctl("status")
    assert f"{DOOMED_Q}: 1 orphaned" in text.stdout, text.output

    dry = deployment.faktctl("rescue", "--dry-run")
    assert dry.code == 0 and doomed in dry.stdout and "would hand back 1" in dry.stdout, dry.output
    assert _reservations(deployment)["orphaned"] == 1  # a dry run changes nothing
    young = deployment.faktctl("rescue", "--older-than", "10m", "--json")
    assert young.code == 0, young.output
    assert json.loads(young.stdout)["result"]["moved"] == []

    rescued_at = time.monotonic()
    run = deployment.faktctl("rescue", "--json")
    assert run.code == 0, run.output
    result = json.loads(run.stdout)["result"]
    assert [(m["jid"], m["queue"]) for m in result["moved"]] == [(doomed, DOOMED_Q)]
    after = _reservations(deployment)
    assert [o["jid"] for o in after["orphans"]] == []

    def done() -> bool:
        return f"demo.sleep done jid={doomed}" in _log(client, doomed_id)

    wait_until(done, PROCESSED_WITHIN_S, "the rescued job to be processed")
    assert time.monotonic() - rescued_at < PROCESSED_WITHIN_S
    # the live worker's job ran on, untouched: still reserved, started once, never done
    alive_log = _log(client, alive_id)
    assert alive_log.count(f"start jid={alive}") == 1 and f"done jid={alive}" not in alive_log
    still = _reservations(deployment)
    assert still["reserved"] == 1 and still["orphaned"] == 0, still

    again = deployment.faktctl("rescue")
    assert again.code == 0 and "no orphaned reservation" in again.stdout, again.output
    assert_password_never_printed(deployment)
    # its 600 s job would hold the teardown's `down` for the whole grace period
    client.api.kill(alive_id, signal="SIGKILL")
