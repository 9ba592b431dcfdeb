"""Issue 10 part 5: `faktctl status` shows the Faktory view of the real server with jobs in it
(version, queue sizes, scheduled / retries / dead sizes, processed and failed totals, connected
workers, the age of the last save), in the table and in --json, and one line saying why when
the server cannot be reached."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.local import wait_until
from tests.support.producer import Producer, make_job
from tests.support.upkit import (
    Deployment,
    assert_password_never_printed,
    go_worker,
    make_deployment,
)

__all__ = ["make_deployment"]  # the fixture, imported for pytest

QUEUED = {"status-a": 3, "status-b": 2}


def _fail_one(conn: Producer, queue: str) -> None:
    reply = conn.command("FETCH", queue)
    assert reply is not None, f"no job to fetch from {queue}"
    jid = json.loads(reply)["jid"]
    conn.command("FAIL", json.dumps({"jid": jid, "errtype": "Boom", "message": "test failure"}))


def _fill(deployment: Deployment) -> None:
    """Jobs in two queues, one scheduled, one retry, one dead, one processed."""
    with deployment.connect() as conn:
        for queue, count in QUEUED.items():
            for n in range(count):
                conn.push(make_job("StatusJob", [n], queue=queue))
        later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        conn.push({**make_job("Later", [], queue="status-later"), "at": later})
        # A job that already failed 10 times: Faktory schedules its next try count^4 s later
        # (~3 h), so it stays in the retry set while the test reads it twice. A first failure
        # comes due after 15-45 s and once left the set between the two reads.
        earlier = {"retry_count": 10, "errtype": "Boom", "message": "earlier failure"}
        retried = make_job("Retried", [], queue="status-r")
        conn.push({**retried, "retry": 25, "failure": earlier})
        _fail_one(conn, "status-r")
        conn.push({**make_job("Doomed", [], queue="status-d"), "retry": -1})
        _fail_one(conn, "status-d")
        conn.push(make_job("Done", [], queue="status-ok"))
        reply = conn.command("FETCH", "status-ok")
        assert reply is not None
        conn.command("ACK", json.dumps({"jid": json.loads(reply)["jid"]}))


def _status(deployment: Deployment) -> dict[str, Any]:
    # The exit code says whether the containers drift from the spec (another test may re-tag a
    # shared test image meanwhile); the Faktory view is there either way.
    run = deployment.faktctl("status", "--json")
    assert run.code in (0, 1), run.output
    result = json.loads(run.stdout)["result"]
    assert isinstance(result, dict)
    return result


def test_status_shows_the_faktory_view(
    make_deployment: Callable[..., Deployment], go_worker_image: str
) -> None:
    deployment = make_deployment(workers=[go_worker("go", go_worker_image, queues="nothing-here")])
    deployment.up()
    _fill(deployment)

    def worker_connected() -> bool:
        return bool(_status(deployment)["faktory"].get("workers"))

    wait_until(worker_connected, 60, "the Go worker to show up in status")
    assert deployment.faktctl("backup").code == 0

    view = _status(deployment)["faktory"]
    assert view["reachable"] is True
    version = deployment.spec()["server"]["image"].rsplit(":", 1)[1]
    assert view["version"] == version
    assert view["address"] == f"127.0.0.1:{deployment.protocol_port}"
    for queue, count in QUEUED.items():
        assert view["queues"][queue] == count
    assert view["sets"]["scheduled"] == 1
    assert view["sets"]["retries"] == 1
    assert view["sets"]["dead"] == 1
    assert view["failed"] == 2
    assert view["processed"] == 3  # Faktory counts the two failures as processed too
    assert view["workers"] == 1
    # by default the snapshot's age is the file's (one stat by the engine, no exec); the
    # backup above made the server save, so it is recent
    save = view["last_save"]
    assert save["error"] is None and 0 <= save["age_s"] < 120
    assert save["status"] is None and save["saves_since_start"] is None
    # --verbose reads Redis's own persistence state in the server, which agrees with the file
    verbose = deployment.faktctl("status", "--json", "--verbose")
    assert verbose.code in (0, 1), verbose.output
    detailed = json.loads(verbose.stdout)["result"]["faktory"]["last_save"]
    assert detailed["error"] is None and detailed["status"] == "ok"
    assert detailed["saves_since_start"] >= 1 and abs(detailed["age_s"] - save["age_s"]) <= 5

    table = deployment.faktctl("status")
    assert table.code in (0, 1), table.output
    text = table.stdout
    assert f"Faktory {version} at 127.0.0.1:{deployment.protocol_port}" in text
    assert "status-a 3, status-b 2" in text
    assert "retries 1" in text and "dead 1" in text and "scheduled 1" in text
    assert "processed 3, failed 2" in text
    assert "workers    1 connected" in text
    assert "last save" in text and " ago" in text
    assert_password_never_printed(deployment)


def test_status_says_in_one_line_why_the_server_is_unreachable(
    make_deployment: Callable[..., Deployment],
) -> None:
    deployment = make_deployment()
    deployment.up()
    secret = deployment.folder / "secrets" / "faktory_password"
    right = secret.read_text()
    secret.write_text("not-the-password-" + "x" * 24 + "\n")
    run = deployment.faktctl("status")
    lines = [line for line in run.stdout.splitlines() if line.startswith("Faktory")]
    assert len(lines) == 1 and "not reachable" in lines[0] and "HELLO refused" in lines[0], (
        run.stdout
    )
    secret.write_text(right)

    server = next(iter(deployment.containers("faktory")))
    deployment.client.containers.get(server).stop(timeout=30)
    run = deployment.faktctl("status", "--json")
    view = json.loads(run.stdout)["result"]["faktory"]
    assert view["reachable"] is False and "has exited" in view["error"], view
    table = deployment.faktctl("status")
    lines = [line for line in table.stdout.splitlines() if line.startswith("Faktory")]
    assert lines == [f"Faktory: not reachable: {view['error']}"]
    assert_password_never_printed(deployment)
