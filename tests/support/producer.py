"""A Faktory producer for the tests: faktctl's own connection (faktctl.adapters.probe) plus
pushing jobs and reading queue sizes, which faktctl itself never does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from faktctl.adapters import probe


def new_jid() -> str:
    """A random job id long enough for Faktory (it rejects ids shorter than 8 characters)."""
    return uuid.uuid4().hex


def make_job(jobtype: str, args: Iterable[Any] = (), queue: str = "default") -> dict[str, Any]:
    """A minimal valid job payload."""
    return {"jid": new_jid(), "jobtype": jobtype, "args": list(args), "queue": queue}


def _complete(job: dict[str, Any]) -> dict[str, Any]:
    return {"jid": new_jid(), "args": [], **job}


class Producer(probe.FaktoryConnection):
    """A connection that also enqueues jobs and reads queue sizes."""

    def push(self, job: dict[str, Any]) -> str:
        """Enqueue one job; fills in ``jid`` and ``args`` when missing. Returns the jid."""
        full = _complete(job)
        self.command("PUSH", json.dumps(full))
        return str(full["jid"])

    def push_many(self, jobs: Iterable[dict[str, Any]]) -> dict[str, str]:
        """Enqueue jobs with one PUSHB; returns ``{jid: error}`` for the jobs the server refused."""
        reply = self.command("PUSHB", json.dumps([_complete(job) for job in jobs]))
        refused = json.loads(reply or "null")
        if not isinstance(refused, dict):
            raise probe.ProbeError(f"PUSHB reply is not a JSON object: {reply!r}")
        return {str(jid): str(error) for jid, error in refused.items()}

    def queue_sizes(self) -> dict[str, int]:
        """Queue name -> number of enqueued jobs, taken from INFO."""
        queues = self.info().get("faktory", {}).get("queues", {})
        return {str(name): int(size) for name, size in queues.items()}
