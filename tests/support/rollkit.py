"""Watching a worker deploy with jobs in flight (issue 23): the proof scenarios and the bench.

- `LogFollower` follows the log of every container of one worker service, old and new, from its
  first line, with the engine's timestamps, until the container is gone: completions are
  counted from the worker's own log ("demo.sleep done jid=…"), not from the server's counters;
- `SteadyProducer` pushes a short demo.sleep job every PERIOD_S on its own thread;
- `Scenario` pushes the long jobs, waits until they are all reserved, and reads the result:
  the long jobs processed once each, those run twice, those still reserved, the failures and
  the longest gap between two completions while the deploy ran.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import docker

from faktctl import labels
from faktctl.adapters import probe
from tests.support.producer import Producer, make_job

LONG_JOBS = 10
LONG_S = 15
SHORT_S = 0.05
PERIOD_S = 0.2
DONE = re.compile(rb"demo\.sleep done jid=([0-9a-f]+)")
POLL_S = 0.2


def _when(stamp: bytes) -> float:
    """The engine's RFC 3339 timestamp (nanoseconds) as unix seconds."""
    text = stamp.decode()
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
    return seconds + float("0." + (fraction or "0"))


class LogFollower:
    """Every `demo.sleep done` line of a service's containers, with the engine's time."""

    def __init__(self, client: docker.DockerClient, selector: list[str]) -> None:
        self._client = client
        self._selector = selector
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.done: list[tuple[float, str]] = []  # (time, jid)
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> LogFollower:
        self._attach_new()
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            self._attach_new()

    def _attach_new(self) -> None:
        found = self._client.api.containers(all=True, filters={"label": self._selector})
        for summary in found:
            container_id = str(summary["Id"])
            if container_id not in self._seen:
                self._seen.add(container_id)
                threading.Thread(target=self._follow, args=(container_id,), daemon=True).start()

    def _follow(self, container_id: str) -> None:
        try:
            stream: Iterator[bytes] = self._client.api.logs(
                container_id, stream=True, follow=True, timestamps=True
            )
            for line in stream:
                stamp, _, text = line.partition(b" ")
                match = DONE.search(text)
                if match:
                    with self._lock:
                        self.done.append((_when(stamp), match.group(1).decode()))
        except docker.errors.APIError:
            return  # removed before it could be followed: it never ran a job

    def completions(self) -> list[tuple[float, str]]:
        with self._lock:
            return sorted(self.done)


class SteadyProducer:
    """A short job every PERIOD_S until stopped (its own connection, its own thread)."""

    def __init__(self, connect: Callable[[], Producer]) -> None:
        self._connect = connect
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.pushed: list[str] = []

    def __enter__(self) -> SteadyProducer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            with self._connect() as producer:
                while not self._stop.wait(PERIOD_S):
                    job = make_job("demo.sleep", [SHORT_S, "steady"])
                    self.pushed.append(producer.push(job))
        except probe.ProbeError:
            return  # the server went away (`down`): nothing more to push


def working(producer: Producer) -> int:
    return int(producer.info()["faktory"]["sets"]["working"])


def failures(producer: Producer) -> int:
    return int(producer.info()["faktory"]["total_failures"])


@dataclass
class Result:
    long_jids: list[str]
    completions: list[tuple[float, str]]
    reserved_after: int  # reservations left RESERVED_AFTER_S after the deploy returned
    failed: int
    deploy_s: float
    window: tuple[float, float]  # unix times: the deploy's start, and its end + a margin
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> Counter[str]:
        return Counter(jid for _, jid in self.completions)

    @property
    def long_done_once(self) -> int:
        counts = self.counts
        return sum(1 for jid in self.long_jids if counts[jid] == 1)

    @property
    def run_twice(self) -> int:
        return sum(1 for count in self.counts.values() if count > 1)

    @property
    def stranded(self) -> int:
        counts = self.counts
        return sum(1 for jid in self.long_jids if counts[jid] == 0)

    def _gaps(self) -> list[tuple[float, float]]:
        start, end = self.window
        times = [t for t, _ in self.completions if start <= t <= end]
        return list(itertools.pairwise([start, *times, end]))

    def longest_gap(self) -> float:
        return max(b - a for a, b in self._gaps())

    def where_gap(self) -> str:
        """The longest gap, in seconds since the deploy began (for a failure message)."""
        a, b = max(self._gaps(), key=lambda pair: pair[1] - pair[0])
        start = self.window[0]
        return f"{b - a:.2f}s from +{a - start:.2f}s to +{b - start:.2f}s of the deploy"


def push_long(producer: Producer, count: int = LONG_JOBS, seconds: float = LONG_S) -> list[str]:
    return [producer.push(make_job("demo.sleep", [seconds, "long"])) for _ in range(count)]


def wait_reserved(producer: Producer, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while working(producer) < count:
        assert time.monotonic() < deadline, f"{count} jobs were not reserved in {timeout_s}s"
        time.sleep(POLL_S)


def wait_no_reservation(producer: Producer, timeout_s: float) -> int:
    """Reservations left when none remain or `timeout_s` ran out."""
    deadline = time.monotonic() + timeout_s
    while (left := working(producer)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return left


def selector(project: str, service: str) -> list[str]:
    return [f"{labels.PROJECT}={project}", f"{labels.SERVICE}={service}"]
