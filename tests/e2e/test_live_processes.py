"""Issue 23 section 3: reading the processes a real server lists on /busy and the reservations
in its `working` set (faktctl.live.processes), and handing an orphan back to its queue.

On 1.10.0 and 1.9.4 (the /busy markup and the reservation format are the same in both; the
queue's Redis key differs): a worker process that fetched a job and still lives holds a
reservation that is never orphaned; one whose connection closed leaves an orphan; `hand_back`
moves exactly that orphan to the end of its queue FETCH pops next, and the next FETCH gets it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from faktctl.adapters.docker.connect import connect
from faktctl.faktory import versions
from faktctl.live import processes
from faktctl.live.reach import Endpoint
from tests.support.e2e_fixtures import FaktoryServer
from tests.support.local import wait_until
from tests.support.producer import Producer, make_job

PASSWORD = "processes-e2e-pw"


def _worker(server: FaktoryServer, wid: str) -> Producer:
    identity = {"wid": wid, "hostname": f"host-{wid}", "pid": 4242, "labels": ["e2e"]}
    return Producer(server.host, server.port, PASSWORD, worker=identity)


@pytest.mark.parametrize("version", ["1.10.0", "1.9.4"])
def test_live_and_orphaned_reservations(
    faktory_server: Callable[..., FaktoryServer],
    faktory_image: str,
    faktory_old_image: str,
    version: str,
) -> None:
    image = faktory_image if version == "1.10.0" else faktory_old_image
    server = faktory_server(password=PASSWORD, production=True, image=image)
    engine = connect()
    cid = str(server.container.id)
    dashboard = Endpoint(server.host, server.web_port)
    queue = f"rescue-{uuid.uuid4().hex[:6]}"
    live_wid, dead_wid = "live" + uuid.uuid4().hex[:8], "dead" + uuid.uuid4().hex[:8]
    with server.connect() as producer:
        jids = [producer.push(make_job("Slow", [n, {}, []], queue=queue)) for n in range(3)]
    live = _worker(server, live_wid)
    dead = _worker(server, dead_wid)
    try:
        live_job = json.loads(live.command("FETCH", queue) or "null")
        dead_job = json.loads(dead.command("FETCH", queue) or "null")
        seen = processes.look(engine, cid, dashboard, PASSWORD)
        by_wid = {p.wid: p for p in seen.processes}
        assert by_wid[live_wid].hostname == f"host-{live_wid}"
        assert by_wid[live_wid].pid == 4242
        assert by_wid[live_wid].busy == 1
        assert {r.jid: r.wid for r in seen.reservations} == {
            live_job["jid"]: live_wid,
            dead_job["jid"]: dead_wid,
        }
        assert seen.orphans == ()
        held = next(r for r in seen.reservations if r.wid == dead_wid)
        assert held.queue == queue and held.jobtype == "Slow"
        assert 0 <= (held.age_s(seen.now) or 0) < 30
        assert json.loads(held.job) == dead_job  # the job exactly as fetched

        dead.close()  # the process is gone: the server drops it from /busy at once

        def orphan_seen() -> bool:
            return bool(processes.look(engine, cid, dashboard, PASSWORD).orphans)

        wait_until(orphan_seen, 10, "the closed worker's reservation to be orphaned")
        after = processes.look(engine, cid, dashboard, PASSWORD)
        assert [r.jid for r in after.orphans] == [dead_job["jid"]]
        prefix = versions.format_of(versions.parse_version(version) or (0, 0, 0)).queue_prefix
        moved = processes.hand_back(engine, cid, after.orphans, prefix)
        assert [r.jid for r in moved] == [dead_job["jid"]]
        # a second hand-back of the same reservation moves nothing
        assert processes.hand_back(engine, cid, after.orphans, prefix) == []
        left = processes.look(engine, cid, dashboard, PASSWORD)
        assert [r.jid for r in left.reservations] == [live_job["jid"]]
        # the rescued job is the next one fetched, unchanged (args with {} and [] intact)
        again = json.loads(live.command("FETCH", queue) or "null")
        assert again == dead_job
        assert sorted([live_job["jid"], again["jid"]]) == sorted(jids[:2])
    finally:
        live.close()
        dead.close()
