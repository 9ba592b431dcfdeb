"""BGSAVE and the wait for it, against a scripted stand-in for redis-cli through the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from faktctl.backups import savepoint


def persistence(
    in_progress: bool = False, last_save: int = 1000, status: str = "ok", saves: int | None = 1
) -> str:
    lines = [
        "# Persistence",
        "loading:0",
        f"rdb_bgsave_in_progress:{int(in_progress)}",
        f"rdb_last_save_time:{last_save}",
        f"rdb_last_bgsave_status:{status}",
    ]
    if saves is not None:
        lines.append(f"rdb_saves:{saves}")
    return "\r\n".join(lines) + "\r\n"


@dataclass
class FakeClock:
    now: float = 0.0
    wall_start: float = 2000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_start + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> savepoint.Clock:
        return savepoint.Clock(self.monotonic, self.wall, self.sleep)


@dataclass
class FakeRedis:
    """Answers each redis-cli call from a script of (command, reply) pairs."""

    replies: list[tuple[str, str]]
    calls: list[list[str]] = field(default_factory=list)
    exit_code: int = 0

    def run(self, cmd: list[str]) -> tuple[int, bytes]:
        self.calls.append(cmd)
        assert cmd[:3] == ["redis-cli", "-s", savepoint.SOCKET]
        expected, reply = self.replies.pop(0)
        assert " ".join(cmd[3:]) == expected
        return self.exit_code, reply.encode()


def test_parse_persistence() -> None:
    state = savepoint.parse_persistence(persistence(True, 1234, "err", 7))
    assert state == savepoint.Persistence(True, 1234, "err", 7)
    assert savepoint.parse_persistence(persistence(saves=None)).saves is None


def test_parse_persistence_without_the_fields_is_an_error() -> None:
    with pytest.raises(savepoint.SnapshotFailed, match="without the save fields"):
        savepoint.parse_persistence("ERR unknown command")


def test_a_fresh_snapshot_waits_for_the_save_counter() -> None:
    fork_seen: list[bool] = []
    redis = FakeRedis(
        [
            ("INFO persistence", persistence(saves=4)),
            ("BGSAVE", "Background saving started"),
            ("INFO persistence", persistence(in_progress=True, saves=4)),
            ("INFO persistence", persistence(in_progress=True, saves=4)),
            ("INFO persistence", persistence(last_save=1001, saves=5)),
        ]
    )
    saved = savepoint.fresh_snapshot(
        savepoint.Redis(redis.run),
        timeout=10,
        after_fork=lambda: fork_seen.append(True),
        clock=FakeClock().clock(),
    )
    assert saved.last_save == 1001
    assert fork_seen == [True]
    assert redis.replies == []


def test_a_save_already_running_is_waited_for_and_then_ours_starts() -> None:
    redis = FakeRedis(
        [
            ("INFO persistence", persistence(in_progress=True, saves=1)),
            ("INFO persistence", persistence(saves=2)),
            ("BGSAVE", "ERR Background save already in progress"),
            ("INFO persistence", persistence(in_progress=True, saves=2)),
            ("INFO persistence", persistence(saves=3)),
            ("BGSAVE", "Background saving started"),
            ("INFO persistence", persistence(saves=4, last_save=1002)),
        ]
    )
    saved = savepoint.fresh_snapshot(
        savepoint.Redis(redis.run), timeout=10, clock=FakeClock().clock()
    )
    assert saved.last_save == 1002
    assert redis.replies == []


def test_without_a_save_counter_lastsave_must_advance_past_the_current_second() -> None:
    clock = FakeClock(wall_start=1000.5)  # LASTSAVE 1000 is "this second"
    redis = FakeRedis(
        [
            ("INFO persistence", persistence(last_save=1000, saves=None)),
            ("BGSAVE", "Background saving started"),
            ("INFO persistence", persistence(last_save=1000, saves=None)),
            ("INFO persistence", persistence(last_save=1001, saves=None)),
        ]
    )
    saved = savepoint.fresh_snapshot(savepoint.Redis(redis.run), timeout=10, clock=clock.clock())
    assert saved.last_save == 1001
    assert clock.now >= 0.5  # it waited for the next second before BGSAVE


def test_a_failed_save_is_reported() -> None:
    redis = FakeRedis(
        [
            ("INFO persistence", persistence(saves=1)),
            ("BGSAVE", "Background saving started"),
            ("INFO persistence", persistence(saves=2, status="err")),
        ]
    )
    with pytest.raises(savepoint.SnapshotFailed, match="rdb_last_bgsave_status:err"):
        savepoint.fresh_snapshot(savepoint.Redis(redis.run), timeout=10, clock=FakeClock().clock())


def test_the_wait_is_bounded() -> None:
    redis = FakeRedis(
        [("INFO persistence", persistence(saves=1)), ("BGSAVE", "Background saving started")]
        + [("INFO persistence", persistence(in_progress=True, saves=1))] * 200
    )
    with pytest.raises(savepoint.SnapshotFailed, match="timed out waiting for Redis"):
        savepoint.fresh_snapshot(savepoint.Redis(redis.run), timeout=3, clock=FakeClock().clock())


def test_a_refused_bgsave_is_reported() -> None:
    redis = FakeRedis(
        [("INFO persistence", persistence()), ("BGSAVE", "ERR MISCONF something is wrong")]
    )
    with pytest.raises(savepoint.SnapshotFailed, match="Redis refused BGSAVE: ERR MISCONF"):
        savepoint.fresh_snapshot(savepoint.Redis(redis.run), timeout=3, clock=FakeClock().clock())


def test_a_missing_socket_is_a_clear_error() -> None:
    def run(cmd: list[str]) -> tuple[int, bytes]:
        return 1, b"Could not connect to Redis at /var/lib/faktory/db/redis.sock: No such file"

    with pytest.raises(savepoint.SocketMissing, match="no Redis socket at") as caught:
        savepoint.Redis(run).call("PING")
    assert "development" in (caught.value.hint or "")


def test_a_missing_redis_cli_is_a_clear_error() -> None:
    def run(cmd: list[str]) -> tuple[int, bytes]:
        return 127, b'exec: "redis-cli": executable file not found in $PATH'

    with pytest.raises(savepoint.SnapshotFailed, match="redis-cli is not available"):
        savepoint.Redis(run).call("PING")


def test_polls_soon_after_a_short_save_and_rarely_during_a_long_one() -> None:
    assert savepoint.poll_pause(0.0) == savepoint.POLL_MIN_S
    assert savepoint.poll_pause(1.0) <= 0.05  # a 1 s save is noticed within ~50 ms (+ the exec)
    assert savepoint.poll_pause(3600.0) == savepoint.POLL_MAX_S
    waited, polls = 0.0, 0
    while waited < 600:  # a 10-minute save
        waited += savepoint.poll_pause(waited)
        polls += 1
    assert polls < 1500  # not an exec every 20 ms for ten minutes
