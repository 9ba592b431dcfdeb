"""Ask the server's embedded Redis for a fresh RDB snapshot and wait until it is on disk.

Faktory's Redis listens only on a unix socket (mode 700) inside the server container, so every
command goes through `redis-cli -s <socket>` run by the engine's exec (as root, the image's
user). Pure apart from the `run` function it is handed, so the waiting logic is unit-tested
with a scripted fake.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from faktctl.errors import FaktctlError, OperationFailed
from faktctl.faktory.server import DB_DIR as DB_DIR

SOCKET = f"{DB_DIR}/redis.sock"
RDB_PATH = f"{DB_DIR}/faktory.rdb"
REDIS_CLI = "redis-cli"
# Each poll is an exec (~50 ms). Pausing for a small fraction of the time already waited keeps
# a short save's lateness low and a long save's exec count small.
POLL_MIN_S = 0.02
POLL_FRACTION = 0.05
POLL_MAX_S = 0.5

Run = Callable[[list[str]], tuple[int, bytes]]


class SnapshotFailed(OperationFailed):
    """Redis could not produce a snapshot."""


class SocketMissing(OperationFailed):
    """The server container has no Redis socket where production Faktory keeps it."""


@dataclass(frozen=True)
class Persistence:
    """The fields of Redis `INFO persistence` that say where saving stands."""

    in_progress: bool
    last_save: int
    status: str
    saves: int | None  # rdb_saves, Redis 7+


@dataclass(frozen=True)
class Saved:
    last_save: int  # Redis LASTSAVE (unix seconds) of the snapshot now in faktory.rdb
    seconds: float  # how long the save took, as seen from here


def command(*args: str, socket: str = SOCKET) -> list[str]:
    return [REDIS_CLI, "-s", socket, *args]


def parse_persistence(text: str) -> Persistence:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key] = value
    try:
        return Persistence(
            in_progress=fields["rdb_bgsave_in_progress"] == "1",
            last_save=int(fields["rdb_last_save_time"]),
            status=fields.get("rdb_last_bgsave_status", "unknown"),
            saves=int(fields["rdb_saves"]) if "rdb_saves" in fields else None,
        )
    except (KeyError, ValueError):
        raise SnapshotFailed(
            "Redis answered INFO persistence without the save fields: "
            + (text.strip().splitlines() or ["(empty)"])[0][:200]
        ) from None


class Redis:
    """redis-cli through the engine, with errors phrased for a person."""

    def __init__(self, run: Run, socket: str = SOCKET) -> None:
        self._run = run
        self.socket = socket

    def call(self, *args: str) -> str:
        code, output = self._run(command(*args, socket=self.socket))
        text = output.decode("utf-8", "replace").strip()
        if "Could not connect to Redis" in text or (code != 0 and "No such file" in text):
            raise SocketMissing(
                f"the server container has no Redis socket at {self.socket}",
                "is the server running in production (or staging) mode with its data in "
                "/var/lib/faktory? In development Faktory keeps data in /root/.faktory",
            )
        if code == 126 or code == 127 or "executable file not found" in text:
            raise SnapshotFailed(
                f"{REDIS_CLI} is not available in the server container",
                "use an image built like contribsys/faktory (it ships redis-cli)",
            )
        if code != 0:
            raise SnapshotFailed(f"{REDIS_CLI} {args[0]} failed (exit {code}): {text[:200]}")
        return text

    def persistence(self) -> Persistence:
        return parse_persistence(self.call("INFO", "persistence"))


@dataclass
class Clock:
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


def _wait(
    redis: Redis, done: Callable[[Persistence], bool], deadline: float, clock: Clock, what: str
) -> Persistence:
    started = clock.monotonic()
    while True:
        state = redis.persistence()
        if done(state):
            return state
        now = clock.monotonic()
        if now >= deadline:
            raise SnapshotFailed(
                f"timed out waiting for {what}",
                "a very large data set needs a longer --timeout",
            )
        clock.sleep(poll_pause(now - started))


def poll_pause(waited_s: float) -> float:
    return min(max(waited_s * POLL_FRACTION, POLL_MIN_S), POLL_MAX_S)


def _start_bgsave(redis: Redis, deadline: float, clock: Clock) -> Persistence:
    """BGSAVE once no save is running; returns the state read just before it was accepted."""
    while True:
        before = _wait(redis, lambda s: not s.in_progress, deadline, clock, "a running save")
        if before.saves is None:
            # Without a save counter only LASTSAVE (whole seconds) tells saves apart.
            while int(clock.wall()) <= before.last_save and clock.monotonic() < deadline:
                clock.sleep(0.1)
        reply = redis.call("BGSAVE")
        if reply.startswith("Background saving"):  # "started", or "scheduled" during a rewrite
            return before
        if "already in progress" not in reply:
            raise SnapshotFailed(f"Redis refused BGSAVE: {reply[:200]}")


def fresh_snapshot(
    redis: Redis,
    *,
    timeout: float,
    after_fork: Callable[[], None] | None = None,
    clock: Clock | None = None,
) -> Saved:
    """BGSAVE, then wait until LASTSAVE (or the save counter) advances and the save is ok.

    `after_fork` runs as soon as Redis has accepted the BGSAVE (its fork is done by then).
    """
    clock = clock or Clock()
    started = clock.monotonic()
    deadline = started + timeout
    before = _start_bgsave(redis, deadline, clock)
    if after_fork is not None:
        after_fork()

    def finished(state: Persistence) -> bool:
        if state.in_progress:
            return False
        if before.saves is not None and state.saves is not None:
            return state.saves > before.saves
        return state.last_save > before.last_save

    after = _wait(redis, finished, deadline, clock, "Redis to finish the snapshot")
    if after.status != "ok":
        raise SnapshotFailed(
            f"Redis could not write the snapshot (rdb_last_bgsave_status:{after.status})",
            "see redis.log in the data folder; a failed fork usually means too little memory "
            "or vm.overcommit_memory=0 on the host",
        )
    return Saved(after.last_save, clock.monotonic() - started)


# Before faktctl stops a server (down, a recreate, restore, upgrade): Faktory waits only ~10 s
# for Redis to exit after SIGTERM (1000 x 10 ms in stopRedis, 1.9.4 and 1.10.0), then exits,
# and the container's end kills Redis mid-save. A fresh snapshot taken first leaves the
# shutdown save almost nothing to write.
FINAL_SAVE_TIMEOUT_S = 600.0


def save_before_stop(run: Run, timeout: float = FINAL_SAVE_TIMEOUT_S) -> str:
    """Take a fresh snapshot of a running server and wait for it; one line saying how it went.

    Never raises for the server's sake: a server that is not running, runs in development (no
    socket where production keeps it) or cannot save is stopped anyway, as it would have been.
    """
    try:
        saved = fresh_snapshot(Redis(run), timeout=timeout)
    except FaktctlError as err:
        return f"no fresh snapshot before the stop ({err.one_line()})"
    return f"fresh snapshot saved in {saved.seconds:.1f}s before the stop"
