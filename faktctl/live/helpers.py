"""Throwaway helper containers a faktctl run left behind (kill -9, a reboot): the upgrade's and
the version guard's Redis on the data volume (`faktctl-keys-*`), the restore's copier. They are
labelled (faktctl.labels.JOB, JOB_OF) and hold the data volume: a leftover one can still run
Redis on it, and any of them makes `docker volume rm` fail with "volume is in use".

Only called under the project's lock (faktctl.lock): no other faktctl run of the project is
then using one, so every helper of the project found is a leftover."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from faktctl import labels
from faktctl.live.containers import name_of

if TYPE_CHECKING:
    from faktctl.adapters.docker.client import EngineClient

# the jobs whose helpers touch the project's data volume
DATA_JOBS = ("upgrade", "restore", "version-guard")


def remove_leftovers(engine: EngineClient, project: str, say: Callable[[str], None]) -> int:
    """Remove (force: a helper still running Redis is killed, whose file writes are atomic)
    every helper container left for the project; how many were removed."""
    removed = 0
    for job in DATA_JOBS:
        for raw in engine.containers({labels.JOB: job, labels.JOB_OF: project}):
            state = (raw.get("State") or {}).get("Status", "unknown")
            say(f"removing {name_of(raw)}, left behind by an interrupted {job} ({state})")
            engine.remove(str(raw["Id"]), force=True)
            removed += 1
    return removed
