"""A small Faktory worker built on the ``faktory`` package (faktory_worker_python 1.0.0).

It processes ``demo.echo`` (logs its arguments and succeeds) and ``demo.fail`` (raises, so
Faktory records a failure and schedules a retry) from the queues in ``FAKTORY_QUEUES``
(comma-separated, default ``default``), and ``demo.sleep`` (sleeps for its first argument in
seconds, then logs ``demo.sleep done``: a long job to watch a deploy finish). The server comes
from ``FAKTORY_URL`` (``tcp://:password@host:7419``), which the library reads itself.

It runs on the library's own ``Worker.run()`` lifecycle: the server's "quiet" (the dashboard's,
or `faktctl up` rolling this worker) arrives with the next heartbeat (every 15 s) and stops
fetching while running jobs finish; SIGTERM or Ctrl-C stops fetching, waits up to
``disconnect_wait`` (15 s) for running jobs, fails the rest back to Faktory and exits. The
library has no SIGTSTP handler: quiet it through the server (faktctl's default), not the signal.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from faktory import Worker  # type: ignore[import-untyped]  # the package ships no types

LOG = logging.getLogger("python-worker")


def echo(*args: Any) -> None:
    """The demo.echo job: succeed and log what it was given."""
    LOG.info("demo.echo args=%r", list(args))


def fail(*args: Any) -> None:
    """The demo.fail job: always raise."""
    raise RuntimeError(f"demo.fail: failing on purpose (args={list(args)!r})")


def sleep(seconds: Any = 1, *rest: Any) -> None:
    """The demo.sleep job: sleep, then log that it is done."""
    duration = float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else 1.0
    LOG.info("demo.sleep start seconds=%g", duration)
    time.sleep(duration)
    LOG.info("demo.sleep done args=%r", [seconds, *rest])


def queues_from_env() -> list[str]:
    """FAKTORY_QUEUES split on commas, empty entries dropped; ``["default"]`` when unset."""
    names = [name.strip() for name in os.environ.get("FAKTORY_QUEUES", "").split(",")]
    return [name for name in names if name] or ["default"]


def concurrency_from_env() -> int:
    """WORKER_CONCURRENCY as a positive integer (default 5)."""
    raw = os.environ.get("WORKER_CONCURRENCY", "").strip() or "5"
    value = int(raw)
    if value < 1:
        raise ValueError(f"WORKER_CONCURRENCY must be a positive integer, got {raw!r}")
    return value


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    queues = queues_from_env()
    # Threads keep the example light; the library defaults to a process pool.
    worker = Worker(queues=queues, concurrency=concurrency_from_env(), use_threads=True)
    worker.register("demo.echo", echo)
    worker.register("demo.fail", fail)
    worker.register("demo.sleep", sleep)
    LOG.info("python-worker: queues=%s", ",".join(queues))
    try:
        worker.run()
    except SystemExit as stop:
        # Worker.run() always ends with sys.exit(1), even after a clean SIGTERM shutdown.
        if worker.is_disconnecting:
            LOG.info("python-worker: stopped")
            return 0
        raise stop
    return 0


if __name__ == "__main__":
    sys.exit(main())
