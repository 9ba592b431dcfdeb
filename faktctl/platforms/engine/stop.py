"""Stopping and removing many containers at once (down, scale down, orphans).

Each container is stopped the engine's own way (`stop` with its grace period: its stop signal,
the wait, SIGKILL when the grace period runs out), then removed. What is bounded is the number
of stops the engine is busy with: at most `STOP_PARALLEL` stops younger than `SLOW_S` run at a
time. A stop still waiting after `SLOW_S` is a container taking its grace period (ignoring
SIGTERM, or finishing its jobs): it keeps its thread and its request, but no longer holds a
place, so the next containers get their signal meanwhile. So a hundred replicas that ignore
SIGTERM are all signalled within a few seconds and cost about one grace period together, not
one per batch, while the engine never tears down more than a handful of containers at once
(with a few hundred exits at the same moment, the Docker 20.10 engine was seen losing count of
a network's endpoints, after which the network cannot be removed until the engine restarts).

SLOW_S = 0.5 was tried (issue 16): on a heavily loaded 2-core engine, 100 Go workers then got
the stale-endpoint fault in 3 of 4 `down` runs (docker compose v2, which signals them all at
once, in 2 of 2), for no measurable gain over compose (1.14x), so SLOW_S stays at 1 s.
STOP_PARALLEL: with 100 Go workers on 2 cores the engine finishes about 16 stops a second
whatever the concurrency, and a stop takes 2-3 s of engine time under that load. 16 at a time
left it idle between batches (`down` 8.8 s against compose's 6.9 s); 32 keeps it busy (6.7-6.9 s,
level with compose); 100 at once was slower again (7.5 s, the engine contending with itself).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from faktctl.adapters.docker.api import ObjectNotFound
from faktctl.errors import FaktctlError
from faktctl.ui import Progress

if TYPE_CHECKING:
    from faktctl.platforms.engine.plan import ContainerRef

STOP_PARALLEL = 32  # stops the engine is busy with at once (see above)
SLOW_S = 1.0  # a stop running longer than this is waiting out a grace period
POLL_S = 0.05
MAX_THREADS = 256  # beyond this, even waiting stops queue up


class StopEngine(Protocol):
    """The engine client has these, over either transport (faktctl.adapters.docker.client)."""

    def stop(self, container_id: str, timeout: int = ...) -> None: ...

    def remove(self, container_id: str, force: bool = ...) -> None: ...


class TeardownEngine(StopEngine, Protocol):
    """And the network and volumes after the containers (`down`), and the server's final save."""

    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]: ...

    def remove_network(self, name_or_id: str) -> None: ...

    def remove_volume(self, name: str) -> None: ...


@dataclass(frozen=True)
class Problem:
    target: str
    message: str


@dataclass
class _Running:
    target: str
    ref: ContainerRef
    since: float
    future: Future[None]


class BulkStop:
    """Stop (gracefully) and remove a set of containers; failures are returned, not raised."""

    def __init__(
        self, engine: StopEngine, progress: Progress, parallel: int = STOP_PARALLEL
    ) -> None:
        self.engine = engine
        self.progress = progress
        self.parallel = parallel
        self.problems: list[Problem] = []

    def run(self, work: Sequence[tuple[str, ContainerRef]]) -> list[Problem]:
        if not work:
            return []
        self._announce(work)
        waiting = deque(work)
        running: list[_Running] = []
        pool = ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(work)))
        try:
            while waiting or running:
                now = time.monotonic()
                busy = sum(1 for r in running if now - r.since < SLOW_S)
                while waiting and busy < self.parallel:
                    target, ref = waiting.popleft()
                    future = pool.submit(self._stop_and_remove, target, ref)
                    running.append(_Running(target, ref, now, future))
                    busy += 1
                for item in [r for r in running if r.future.done()]:
                    running.remove(item)
                    self._collect(item)
                if running:
                    # back as soon as a stop ends (the next phase, e.g. the server's stop after
                    # the workers', starts at once), else after POLL_S to let old stops age
                    wait([r.future for r in running], timeout=POLL_S, return_when=FIRST_COMPLETED)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return self.problems

    def _announce(self, work: Sequence[tuple[str, ContainerRef]]) -> None:
        by_target: dict[str, list[ContainerRef]] = {}
        for target, ref in work:
            by_target.setdefault(target, []).append(ref)
        for target, refs in by_target.items():
            grace = max(ref.stop_timeout_s for ref in refs)
            what = f"{len(refs)} containers" if len(refs) > 1 else refs[0].name
            self.progress.update(target, f"stopping {what} (up to {grace}s each)")

    def _stop_and_remove(self, target: str, ref: ContainerRef) -> None:
        self.engine.stop(ref.id, timeout=ref.stop_timeout_s)
        self.progress.update(target, f"removing {ref.name}")
        self.engine.remove(ref.id)

    def _collect(self, item: _Running) -> None:
        error = item.future.exception()
        if error is None:
            self.progress.finish(item.target, f"removed {item.ref.name}")
        elif isinstance(error, ObjectNotFound):
            self.progress.finish(item.target, f"removed {item.ref.name} (it was already gone)")
        elif isinstance(error, FaktctlError):
            self.progress.finish(item.target, error.one_line(), ok=False)
            self.problems.append(Problem(item.target, error.one_line()))
        else:
            raise error


class SaveEngine(Protocol):
    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]: ...


def save_first(engine: SaveEngine, progress: Progress, target: str, ref: ContainerRef) -> None:
    """Before a server container is stopped: a fresh snapshot, waited for (see
    faktctl.backups.savepoint.save_before_stop), so Faktory's short wait for Redis at SIGTERM
    cuts no save off."""
    from functools import partial

    from faktctl.backups.savepoint import save_before_stop

    progress.update(target, f"saving a fresh snapshot in {ref.name} before stopping it")
    progress.update(target, save_before_stop(partial(engine.exec, ref.id)))
