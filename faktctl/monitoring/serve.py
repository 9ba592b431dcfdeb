"""The scrapes behind `faktctl metrics --listen`: one read at a time, shared, time-bounded.

A scrape that arrives while a read is under way waits for that read instead of starting its
own, so concurrent scrapes (two Prometheus servers, a retry) cost the engine and the server one
read. No scrape waits longer than the stated timeout: past it the answer is `faktory_up 0`
with reason `timeout` (an HTTP 200 with the families, never an HTTP error), and the late read
still serves the next scrape if it finishes by then.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from faktctl.live.view import unreachable
from faktctl.monitoring import exposition
from faktctl.monitoring.reading import ErrorCounts, Reading, samples


class SharedRead:
    def __init__(self, read: Callable[[], Reading], project: str, timeout: float) -> None:
        self._read = read
        self._project = project
        self._timeout = timeout
        self._lock = threading.Lock()
        self._running: Future[Reading] | None = None
        self._errors = ErrorCounts()
        self._asked: queue.SimpleQueue[Future[Reading]] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None

    def _start(self) -> Future[Reading]:
        with self._lock:
            if self._running is not None:
                return self._running
            future: Future[Reading] = Future()
            self._running = future
            if self._reader is None:  # one thread reads for every scrape: none started per scrape
                self._reader = threading.Thread(
                    target=self._reads, name="faktctl-metrics-read", daemon=True
                )
                self._reader.start()
        self._asked.put(future)
        return future

    def _reads(self) -> None:
        while True:
            future = self._asked.get()
            try:
                future.set_result(self._read())
            except BaseException as exc:  # a bug in a read must not hang every later scrape
                future.set_exception(exc)
            finally:
                with self._lock:
                    self._running = None

    def reading(self) -> Reading:
        started = time.monotonic()
        future = self._start()
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout:
            why = f"the read took longer than {self._timeout:g}s"
            return Reading(
                self._project,
                "timeout",
                unreachable(why),
                failed_parts=("server",),
                duration_s=time.monotonic() - started,
            )

    def exposition(self, accept: str | None) -> tuple[str, str]:
        """(content type, body) of one scrape."""
        reading = self.reading()
        with self._lock:
            errors = self._errors.add(reading)
        openmetrics = exposition.negotiate(accept)
        body = exposition.render(samples(reading, errors), openmetrics=openmetrics)
        return exposition.content_type(openmetrics), body
