"""Issue 5 acceptance: `faktctl backup`, `backup verify` and `restore` against the real engine and
the real Faktory server image.

The deployment runs the example Go worker on queue `work`. The data under test:
- 1,000 jobs on `parked`, a queue no worker reads;
- scheduled jobs due in a day;
- retries: `demo.fail` jobs the Go worker really fails; they are pushed as if they had already
  failed ten times, so Faktory schedules the next attempt hours away and the retry set stays
  put while the test runs (a first failure would come due again within 15-45 s);
- dead jobs: `demo.fail` jobs that have no retry left (`retry: 1` after ten failures).
Jobs pushed through the raw protocol need an explicit `retry` (without it, or with 0, Faktory
drops a failed job instead of keeping it).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker
import pytest

from faktctl.backups.manifest import (
    Backup,
    list_backups,
    read_manifest,
    write_manifest,
)
from tests.support.local import wait_until
from tests.support.producer import make_job
from tests.support.upkit import (
    Deployment,
    assert_password_never_printed,
    go_worker,
    make_deployment,
)

__all__ = ["make_deployment"]  # the fixture, imported for pytest

PARKED = "parked"
WORK = "work"
JOBS = 1000
SCHEDULED = 5
RETRIES = 3
DEAD = 2
SETTLE_TIMEOUT = 60.0


@pytest.fixture
def deployment(make_deployment: Callable[..., Deployment], go_worker_image: str) -> Deployment:
    made = make_deployment([go_worker("go", go_worker_image, queues=WORK)])

    def policy(spec: dict[str, Any]) -> None:
        spec["backup"] = {"destination": "backups", "keep": 5, "max_age": "1h"}

    made.edit(policy)
    made.up()
    return made


def info(deployment: Deployment) -> dict[str, Any]:
    with deployment.connect() as conn:
        faktory = conn.info()["faktory"]
    return {"queues": faktory["queues"], "sets": faktory["sets"]}


def sizes(deployment: Deployment) -> tuple[int, dict[str, int]]:
    current = info(deployment)
    return current["queues"].get(PARKED, 0), dict(current["sets"])


def fill(deployment: Deployment) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier_failure = {
        "retry_count": 10,
        "failed_at": "2026-01-01T00:00:00Z",
        "message": "failed before",
        "errtype": "Error",
    }
    with deployment.connect() as conn:
        refused = conn.push_many([make_job("demo.echo", [n], queue=PARKED) for n in range(JOBS)])
        assert refused == {}
        for n in range(SCHEDULED):
            conn.push({**make_job("demo.echo", [n], queue=PARKED), "at": later})
        for n in range(RETRIES):
            job = make_job("demo.fail", [n], queue=WORK)
            conn.push({**job, "retry": 25, "failure": earlier_failure})
        for n in range(DEAD):  # out of retries: the next failure sends it to the dead set
            job = make_job("demo.fail", [n], queue=WORK)
            conn.push({**job, "retry": 1, "failure": earlier_failure})

    def failed_by_the_worker() -> bool:
        _, sets = sizes(deployment)
        return sets["retries"] == RETRIES and sets["dead"] == DEAD

    wait_until(failed_by_the_worker, SETTLE_TIMEOUT, "the Go worker to fail the demo.fail jobs")


EXPECTED_SETS = {"scheduled": SCHEDULED, "retries": RETRIES, "dead": DEAD, "working": 0}


def backup(deployment: Deployment, *args: str) -> Backup:
    run = deployment.faktctl("backup", "--json", *args)
    assert run.code == 0, run.output
    document = json.loads(run.stdout)
    assert document["faktctl"] == 1 and document["command"] == "backup"
    path = Path(document["result"]["manifest"])
    return Backup(read_manifest(path), path)


def server_state(deployment: Deployment) -> tuple[str, str]:
    attrs = deployment.inspect(f"{deployment.project}-faktory-1")
    return attrs["Id"], attrs["State"]["StartedAt"]


def test_backup_then_down_volumes_up_then_restore_brings_every_job_back(
    deployment: Deployment,
) -> None:
    fill(deployment)
    taken = backup(deployment)
    manifest = taken.manifest
    assert manifest.queues.get(PARKED) == JOBS
    assert dict(manifest.sets) == EXPECTED_SETS
    assert manifest.faktory_version == "1.10.0"
    assert taken.snapshot_path.is_file()
    assert taken.snapshot_path.stat().st_size == manifest.size

    down = deployment.faktctl("down", "--volumes", "--yes")
    assert down.code == 0, down.output
    deployment.up()
    assert sizes(deployment) == (0, {"scheduled": 0, "retries": 0, "dead": 0, "working": 0})

    restore = deployment.faktctl("restore", taken.name, "--yes")
    assert restore.code == 0, restore.output
    assert sizes(deployment) == (JOBS, EXPECTED_SETS)
    assert f"queue {PARKED}: 0 → {JOBS}" in restore.stderr
    assert f"retries: 0 → {RETRIES}" in restore.stderr

    safety = [b for b in list_backups(deployment.folder / "backups").backups if b.tag]
    assert len(safety) == 1 and safety[0].tag == "pre-restore"
    assert safety[0].manifest.jobs == 0  # it kept the (empty) data that was replaced
    assert deployment.containers(service="go"), "the worker is running again"
    go = deployment.inspect(next(iter(deployment.containers(service="go"))))
    assert go["State"]["Running"] is True
    assert_password_never_printed(deployment)


def test_a_backup_taken_right_after_a_push_contains_it(deployment: Deployment) -> None:
    with deployment.connect() as conn:
        conn.push_many([make_job("demo.echo", [n], queue=PARKED) for n in range(10)])
        conn.push(make_job("demo.echo", ["the last one"], queue="last-push"))
        pushed_at = time.monotonic()
    started = time.monotonic()
    taken = backup(deployment)
    assert started - pushed_at < 5.0
    assert taken.manifest.queues.get("last-push") == 1

    # the snapshot file itself holds the push: load it into a throwaway server and look
    verify = deployment.faktctl("backup", "verify", taken.name)
    assert verify.code == 0, verify.output
    verified = read_manifest(taken.manifest_path)
    assert verified.verified_at is not None
    assert verified.verification is not None
    assert verified.verification.queues.get("last-push") == 1
    assert verified.verification.queues.get(PARKED) == 10


def test_restore_without_yes_and_without_a_terminal_changes_nothing(
    deployment: Deployment,
) -> None:
    fill(deployment)
    taken = backup(deployment)
    before = server_state(deployment)
    restore = deployment.faktctl("restore", taken.name)  # stdin is not a terminal
    assert restore.code == 2, restore.output
    assert "needs confirmation (pass --yes when not running on a terminal)" in restore.stderr
    assert "faktctl restore will:" in restore.stderr  # it got as far as the question
    assert server_state(deployment) == before, "the server was not touched"
    assert not [b for b in list_backups(deployment.folder / "backups").backups if b.tag]


def test_a_corrupted_backup_is_refused_and_the_server_keeps_its_data(
    deployment: Deployment,
) -> None:
    fill(deployment)
    taken = backup(deployment)
    data = bytearray(taken.snapshot_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    taken.snapshot_path.write_bytes(bytes(data))
    with deployment.connect() as conn:
        conn.push(make_job("demo.echo", ["after the backup"], queue=PARKED))
    before = server_state(deployment)

    restore = deployment.faktctl("restore", taken.name, "--yes")
    assert restore.code == 4, restore.output
    assert f"backup {taken.name} failed its checksum" in restore.stderr
    assert "does not match its sha256" in restore.stderr
    assert "nothing was changed" in restore.stderr
    assert "Traceback" not in restore.output
    assert server_state(deployment) == before, "the server was not restarted"
    assert sizes(deployment) == (JOBS + 1, EXPECTED_SETS)
    assert not [b for b in list_backups(deployment.folder / "backups").backups if b.tag]


def test_verify_loads_into_a_throwaway_server_and_cleans_up(
    deployment: Deployment, docker_client: docker.DockerClient
) -> None:
    fill(deployment)
    taken = backup(deployment)
    verify = deployment.faktctl("backup", "verify", "--json")
    assert verify.code == 0, verify.output
    document = json.loads(verify.stdout)
    assert document["command"] == "backup verify"
    result = document["result"]["verification"]
    assert result["ok"] is True and result["loaded"] is True
    assert result["queues"][PARKED] == JOBS
    assert result["sets"] == EXPECTED_SETS
    manifest = read_manifest(taken.manifest_path)
    assert manifest.verified_at is not None
    selector: dict[str, str | list[str] | bool] = {
        "label": f"io.faktctl.backup-of={deployment.project}"
    }
    assert docker_client.containers.list(all=True, filters=selector, sparse=True) == []
    assert docker_client.volumes.list(filters=selector) == []

    listed = deployment.faktctl("backup", "list")
    assert listed.code == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(taken.name))
    assert "yes," in row and "ago" in row


def test_retention_keeps_the_newest_backups(deployment: Deployment) -> None:
    def keep_two(spec: dict[str, Any]) -> None:
        spec["backup"]["keep"] = 2

    deployment.edit(keep_two)
    names = [backup(deployment).name for _ in range(3)]
    left = [b.name for b in list_backups(deployment.folder / "backups").backups]
    assert left == [names[2], names[1]]
    assert not (deployment.folder / "backups" / f"{names[0]}.rdb.gz").exists()


def audit_backup_findings(deployment: Deployment) -> dict[str, str]:
    run = deployment.faktctl("audit", "--format", "json")
    assert run.code in (0, 1), run.output
    findings = json.loads(run.stdout)["result"]["findings"]
    return {f["id"]: f["status"] for f in findings if f["category"] == "backup"}


def test_audit_fails_backup_until_a_fresh_backup_exists(deployment: Deployment) -> None:
    findings = audit_backup_findings(deployment)
    assert findings["FKB001"] == "pass"
    assert findings["FKB002"] == "fail"  # no backup at all

    taken = backup(deployment)
    old = replace(taken.manifest, created_at=datetime.now(UTC) - timedelta(hours=2))
    write_manifest(taken.with_manifest(old))
    assert audit_backup_findings(deployment)["FKB002"] == "fail"  # older than max_age 1h

    backup(deployment)
    findings = audit_backup_findings(deployment)
    assert findings == {"FKB001": "pass", "FKB002": "pass", "FKB003": "pass"}


def test_backup_refuses_clearly_before_touching_anything(
    make_deployment: Callable[..., Deployment],
) -> None:
    made = make_deployment([])
    not_running = made.faktctl("backup")
    assert not_running.code == 4
    assert "has no faktory server container" in not_running.stderr
    assert "faktctl up" in not_running.stderr

    made.up()
    (made.folder / "backups").rmdir()  # the refused run made it, and nothing in it
    (made.folder / "backups").write_text("a file where the folder should be")
    unwritable = made.faktctl("backup")
    assert unwritable.code == 4
    assert "is not a folder" in unwritable.stderr
    (made.folder / "backups").unlink()

    def development(spec: dict[str, Any]) -> None:
        spec["server"]["environment"] = "development"

    made.edit(development)
    made.up()
    no_socket = made.faktctl("backup")
    assert no_socket.code == 4, no_socket.output
    assert "no Redis socket at /var/lib/faktory/db/redis.sock" in no_socket.stderr
    assert "development" in no_socket.stderr
    assert not (made.folder / "backups").exists() or not list((made.folder / "backups").iterdir())
    assert "Traceback" not in not_running.output + unwritable.output + no_socket.output


def test_a_snapshot_from_a_newer_redis_is_refused_before_anything_stops(
    deployment: Deployment,
) -> None:
    taken = backup(deployment)
    rdb = gzip.decompress(taken.snapshot_path.read_bytes())
    assert rdb.startswith(b"REDIS00")
    taken.snapshot_path.write_bytes(gzip.compress(b"REDIS0099" + rdb[9:]))
    data = taken.snapshot_path.read_bytes()
    newer = replace(taken.manifest, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    write_manifest(taken.with_manifest(newer))
    before = server_state(deployment)

    restore = deployment.faktctl("restore", taken.name, "--yes")
    assert restore.code == 4, restore.output
    assert "holds RDB format 99, newer than the" in restore.stderr
    assert "nothing was changed" in restore.stderr
    assert server_state(deployment) == before
