"""Issue 23 section 4: the server's final save.

Faktory waits only ~10 s for Redis to exit after SIGTERM, then exits, and the container's end
kills Redis mid-save, whatever the stop grace period. So before faktctl stops a server it takes
a fresh snapshot and waits for it. Proven here with a save that takes longer than 10 s, then
jobs pushed and acknowledged right before `faktctl down`: every one of them is back after
`faktctl up`.

The long save comes from Redis's own `rdb-key-save-delay` (microseconds per key, every save,
the shutdown's included; not kept across a restart, since Faktory rewrites redis.conf), set on
a few thousand small keys: as slow as a multi-gigabyte data set, without one. A real 2.3 GB data
set (200,000 random 10 KB values, memory raised to 8g) was tried first: on this shared 2-core
machine each full save took about 5 minutes, and the test twice that. One version (1.10.0):
the save and Faktory's 10 s wait for Redis are the same code in 1.9.4 (`stopRedis`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tests.support.producer import make_job
from tests.support.upkit import Deployment, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

SOCKET = "/var/lib/faktory/db/redis.sock"
FILLER_KEYS = 2_000
DELAY_US = 10_000  # 2,000 keys x 10 ms: a full save of 20 s or more
JOBS = 1_000
QUEUE = "final-save"
FILL = "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'faktctl-test-filler:' .. i, i) end"


def _redis(deployment: Deployment, *args: str) -> str:
    (server_id,) = deployment.containers("faktory").values()
    container = deployment.client.containers.get(server_id)
    code, output = container.exec_run(["redis-cli", "-s", SOCKET, "--raw", *args])
    assert code == 0 and isinstance(output, bytes), output
    return output.decode().strip()


def _slow_save_with_jobs(deployment: Deployment) -> None:
    """A running server whose every save takes 20 s or more, holding JOBS acknowledged jobs
    pushed after its last snapshot."""
    deployment.edit(lambda spec: spec["server"].update(stop_grace_period="120s"))
    deployment.up()
    _redis(deployment, "EVAL", FILL, "0", str(FILLER_KEYS))
    assert _redis(deployment, "CONFIG", "SET", "rdb-key-save-delay", str(DELAY_US)) == "OK"
    with deployment.connect() as conn:
        for start in range(0, JOBS, 500):
            batch = [make_job("Kept", [n], queue=QUEUE) for n in range(start, start + 500)]
            assert conn.push_many(batch) == {}  # acknowledged by the server


def test_every_acknowledged_job_survives_down_with_a_slow_save(
    make_deployment: Callable[..., Deployment],
) -> None:
    deployment = make_deployment()
    _slow_save_with_jobs(deployment)

    down = deployment.faktctl("down")
    assert down.code == 0, down.output
    saved = re.search(r"fresh snapshot saved in ([0-9.]+)s", down.output)
    assert saved is not None, down.output
    # a save Faktory's 10 s wait for Redis at SIGTERM would have cut off
    assert float(saved.group(1)) > 10, down.output

    deployment.up()
    with deployment.connect() as conn:
        assert conn.queue_sizes().get(QUEUE) == JOBS
    assert int(_redis(deployment, "DBSIZE")) >= FILLER_KEYS + 1


def test_without_the_snapshot_a_plain_stop_loses_them(
    make_deployment: Callable[..., Deployment],
) -> None:
    """The control: the same server stopped the way the engine stops it (SIGTERM, the same
    120 s grace period, no snapshot first). Faktory gives its Redis about 10 s, the save
    needs 20 s or more, and the jobs pushed since the last snapshot are gone after `up`."""
    deployment = make_deployment()
    _slow_save_with_jobs(deployment)

    (server_id,) = deployment.containers("faktory").values()
    began = time.monotonic()
    deployment.client.api.stop(server_id, timeout=120)
    stopped_s = time.monotonic() - began
    assert stopped_s < 60, stopped_s  # Faktory exits after its 10 s wait, not at the grace's end

    deployment.up()
    with deployment.connect() as conn:
        kept = conn.queue_sizes().get(QUEUE, 0)
    assert kept < JOBS, f"{kept} of {JOBS} jobs kept without the snapshot"
