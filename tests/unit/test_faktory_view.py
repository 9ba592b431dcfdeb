"""The Faktory view `faktctl status` prints: parsing INFO and Redis's persistence state (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from faktctl.adapters.docker.api import EngineError, ObjectNotFound
from faktctl.live import view as faktory_view
from faktctl.live.view import FaktoryView, LastSave

# INFO as the real 1.9.4 server answers it (trimmed of the task runner's timing fields).
INFO_194: dict[str, Any] = {
    "now": "2026-12-01T04:03:04.23180405Z",
    "server_utc_time": "04:03:04 UTC",
    "faktory": {
        "queues": {"mail": 2, "default": 7},
        "sets": {"dead": 1, "retries": 3, "scheduled": 4, "working": 0},
        "tasks": {
            "Busy": {"reaped": 0, "size": 0},
            "Dead": {"size": 1},
            "Retries": {"size": 3},
            "Scheduled": {"size": 4},
            "Workers": {"reaped": 0, "size": 5},
        },
        "total_failures": 6,
        "total_processed": 40,
        "total_enqueued": 9,
        "total_queues": 2,
    },
    "server": {
        "description": "Faktory",
        "faktory_version": "1.9.4",
        "uptime": 3725,
        "connections": 12,
        "command_count": 2,
        "used_memory_mb": 7,
    },
}

REDIS_INFO = """DIR /var/lib/faktory/db
FILE 1796097700
# Server
redis_version:7.0.15
server_time_usec:1796097784449529
uptime_in_seconds:84
# Persistence
rdb_changes_since_last_save:4
rdb_bgsave_in_progress:0
rdb_last_save_time:1796097781
rdb_last_bgsave_status:ok
rdb_saves:{saves}
"""


def test_info_becomes_the_view() -> None:
    view = faktory_view.from_info(INFO_194, "127.0.0.1:7419")
    assert view.reachable
    assert view.version == "1.9.4" and view.uptime_s == 3725
    assert list(view.queues.items()) == [("default", 7), ("mail", 2)]
    assert view.enqueued == 9
    assert view.sets == {"scheduled": 4, "retries": 3, "dead": 1, "working": 0}
    assert (view.processed, view.failed, view.workers, view.connections) == (40, 6, 5, 12)


def test_set_sizes_fall_back_to_the_task_runner() -> None:
    info = {**INFO_194, "faktory": {k: v for k, v in INFO_194["faktory"].items() if k != "sets"}}
    view = faktory_view.from_info(info)
    assert view.sets == {"scheduled": 4, "retries": 3, "dead": 1, "working": 0}


def test_odd_info_does_not_raise() -> None:
    view = faktory_view.from_info({"faktory": {"queues": {"a": "x"}, "tasks": []}, "server": 3})
    assert view.queues == {} and view.version is None and view.workers is None
    assert faktory_view.text_lines(view)[0].startswith("Faktory ?")


def test_last_save_age_uses_redis_clock() -> None:
    save = faktory_view.last_save_from(REDIS_INFO.format(saves=2), fallback_now=0.0)
    assert save.error is None and save.status == "ok"
    assert save.age_s is not None and round(save.age_s) == 3
    assert (save.saves_since_start, save.changes_since, save.in_progress) == (2, 4, False)


def test_without_a_save_since_start_the_file_age_counts() -> None:
    save = faktory_view.last_save_from(REDIS_INFO.format(saves=0), fallback_now=0.0)
    assert save.age_s is not None and round(save.age_s) == 84
    assert "no save since" in faktory_view.last_save_text(save)


def test_no_file_and_no_save_is_said() -> None:
    text = REDIS_INFO.format(saves=0).replace("FILE 1796097700", "FILE ")
    save = faktory_view.last_save_from(text, fallback_now=0.0)
    assert save.age_s is None and save.error is not None
    assert faktory_view.last_save_text(save).startswith("unknown: no save since")


def test_missing_socket_is_said() -> None:
    save = faktory_view.last_save_from("NOSOCKET\n", fallback_now=0.0)
    assert save.age_s is None and "redis.sock" in (save.error or "")


def test_text_lines() -> None:
    view = faktory_view.from_info(INFO_194, "127.0.0.1:7419")
    view = FaktoryView(**{**view.__dict__, "last_save": LastSave(age_s=75, status="err")})
    lines = faktory_view.text_lines(view)
    assert lines[0] == "Faktory 1.9.4 at 127.0.0.1:7419, up 1h02m"
    assert "default 7, mail 2 (9 enqueued)" in lines[1]
    assert "scheduled 4, retries 3, dead 1, working 0" in lines[2]
    assert "processed 40, failed 6" in lines[3]
    assert "5 connected (12 open connections)" in lines[4]
    assert "1m15s ago (the last background save FAILED (err))" in lines[5]


def test_unreachable_is_one_line_and_json() -> None:
    view = faktory_view.unreachable("127.0.0.1:7419: cannot connect: Connection refused")
    assert faktory_view.text_lines(view) == [
        "Faktory: not reachable: 127.0.0.1:7419: cannot connect: Connection refused"
    ]
    assert view.as_json() == {
        "reachable": False,
        "address": None,
        "error": "127.0.0.1:7419: cannot connect: Connection refused",
    }


class _StatEngine:
    """Answers stat_path from a table of paths (pure: the I/O is proven in e2e)."""

    def __init__(self, files: dict[str, dict[str, object]], error: Exception | None = None):
        self.files = files
        self.error = error
        self.asked: list[str] = []

    def stat_path(self, container_id: str, path: str) -> dict[str, object]:
        self.asked.append(path)
        if self.error is not None:
            raise self.error
        if path not in self.files:
            raise ObjectNotFound(f"looking at {path}: no such file")
        return self.files[path]


def test_engine_times_with_nanoseconds_and_offsets() -> None:
    assert faktory_view.engine_time("2026-12-01T10:00:00.123456789Z") == pytest.approx(
        1796119200.123456
    )
    assert faktory_view.engine_time("2026-12-01T11:00:00+01:00") == 1796119200.0
    assert faktory_view.engine_time("2026-12-01T10:00:00") is None  # no zone: not guessed
    assert faktory_view.engine_time("yesterday") is None and faktory_view.engine_time(None) is None


def test_the_snapshot_age_comes_from_the_file_in_the_production_folder_first() -> None:
    engine = _StatEngine(
        {"/var/lib/faktory/db/faktory.rdb": {"mtime": "2026-12-01T10:00:00Z", "size": 9}}
    )
    save = faktory_view.read_save_file(engine, "abc", now=1796119200.0 + 75)  # type: ignore[arg-type]
    assert save.age_s == 75 and save.error is None
    assert faktory_view.last_save_text(save) == "1m15s ago"
    assert engine.asked == ["/var/lib/faktory/db/faktory.rdb"]


def test_a_development_server_keeps_its_snapshot_under_root() -> None:
    engine = _StatEngine({"/root/.faktory/db/faktory.rdb": {"mtime": "2026-12-01T10:00:00Z"}})
    save = faktory_view.read_save_file(engine, "abc", now=1796119200.0 + 5)  # type: ignore[arg-type]
    assert save.age_s == 5 and len(engine.asked) == 2


def test_no_snapshot_file_or_an_engine_error_says_why() -> None:
    none = faktory_view.read_save_file(_StatEngine({}), "abc", now=0.0)  # type: ignore[arg-type]
    assert none.age_s is None and "no faktory.rdb yet" in faktory_view.last_save_text(none)
    broken = _StatEngine({}, error=EngineError("looking at the file: permission denied"))
    failed = faktory_view.read_save_file(broken, "abc", now=0.0)  # type: ignore[arg-type]
    assert failed.error is not None and "permission denied" in failed.error
