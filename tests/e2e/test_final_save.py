"""Issue 23 section 4: the server's final save.

Faktory waits only ~10 s for Redis to exit after SIGTERM, then exits, and the container's end
kills Redis mid-save, whatever the stop grace period. So before faktctl stops a server it takes
a fresh snapshot and waits for it. Proven here with a data set whose full save takes longer
than 10 s on this machine (incompressible filler written straight into Redis, the server's
memory raised to hold it), then jobs pushed and acknowledged right before `faktctl down`:
every one of them is back after `faktctl up`.

One version (1.10.0): the save and Faktory's 10 s wait for Redis are the same code in 1.9.4
(`stopRedis`), and each run costs minutes of both cores for the multi-gigabyte save.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.support.producer import make_job
from tests.support.upkit import Deployment, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

SOCKET = "/var/lib/faktory/db/redis.sock"
FILLER_KEYS = 200_000
FILLER_BYTES = 10_240  # 2 GB in all, random bytes so the RDB's compression cannot shrink it
JOBS = 2_000
QUEUE = "final-save"
# one random value, each key's a copy with its number in front (compression is per value)
FILL = """
local blob = {}
for i = 1, tonumber(ARGV[2]) do blob[i] = string.char(math.random(0, 255)) end
blob = table.concat(blob)
for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'faktctl-test-filler:' .. i, i .. blob) end
return redis.call('DBSIZE')
"""


def _redis(deployment: Deployment, *args: str) -> str:
    (server_id,) = deployment.containers("faktory").values()
    container = deployment.client.containers.get(server_id)
    code, output = container.exec_run(["redis-cli", "-s", SOCKET, "--raw", *args])
    assert code == 0 and isinstance(output, bytes), output
    return output.decode().strip()


def test_every_acknowledged_job_survives_down_with_a_slow_save(
    make_deployment: Callable[..., Deployment],
) -> None:
    deployment = make_deployment()

    def big_server(spec: dict[str, object]) -> None:
        server = spec["server"]
        assert isinstance(server, dict)
        server["resources"] = {"memory": "8g"}
        server["stop_grace_period"] = "120s"

    deployment.edit(big_server)
    deployment.up()
    filled = int(_redis(deployment, "EVAL", FILL, "0", str(FILLER_KEYS), str(FILLER_BYTES)))
    assert filled >= FILLER_KEYS
    with deployment.connect() as conn:
        for start in range(0, JOBS, 500):
            batch = [make_job("Kept", [n], queue=QUEUE) for n in range(start, start + 500)]
            assert conn.push_many(batch) == {}  # acknowledged by the server

    down = deployment.faktctl("down", timeout=600)
    assert down.code == 0, down.output
    saved = re.search(r"fresh snapshot saved in ([0-9.]+)s", down.output)
    assert saved is not None, down.output
    # the data set is one Faktory's 10 s wait for Redis cannot save at SIGTERM
    assert float(saved.group(1)) > 10, down.output

    deployment.up()
    with deployment.connect() as conn:
        assert conn.queue_sizes().get(QUEUE) == JOBS
    assert int(_redis(deployment, "DBSIZE")) >= FILLER_KEYS + 1
