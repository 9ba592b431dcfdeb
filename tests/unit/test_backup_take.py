"""The file-system side of taking a backup: destination checks, naming, retention."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faktctl.backups import take
from faktctl.backups.manifest import list_backups
from faktctl.errors import ExitCode
from tests.support.backups import CREATED, write_backup

Usage = namedtuple("Usage", "total used free")


def test_check_destination_creates_the_folder(tmp_path: Path) -> None:
    take.check_destination(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []


def test_a_file_is_not_a_destination(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(take.DestinationError, match="is not a folder") as caught:
        take.check_destination(tmp_path / "file")
    assert caught.value.exit_code == ExitCode.FAILED
    with pytest.raises(take.DestinationError, match="not writable: Not a directory"):
        take.check_destination(tmp_path / "file" / "below")


def test_an_unwritable_destination_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(take.DestinationError, match="not writable: Permission denied"):
        take.check_destination(tmp_path)


def test_too_little_free_space_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 5_000_000, 5_000_000)
    )
    take.check_free_space(tmp_path, 1_000_000)
    with pytest.raises(
        take.DestinationError, match=r"5\.0 MB free, the snapshot needs up to 200\.0 MB"
    ):
        take.check_free_space(tmp_path, 200_000_000)


def test_worst_case_size_covers_stored_gzip_overhead() -> None:
    # 5 bytes per 64 KiB stored block and 18 bytes per 4 MiB member
    rdb = 200_000_000
    overhead = rdb // 65535 * 5 + (rdb // (4 << 20) + 1) * 18
    assert take.worst_case_size(rdb) >= rdb + overhead


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (999, "999 B"), (52_674, "52.7 KB"), (2.5e9, "2.5 GB")]
)
def test_human_bytes(size: float, text: str) -> None:
    assert take.human_bytes(size) == text


def test_unique_stem_waits_for_a_free_second(tmp_path: Path) -> None:
    existing = write_backup(tmp_path, created=CREATED)
    moments = iter([CREATED, CREATED, CREATED + timedelta(seconds=1)])
    slept: list[float] = []
    stem, moment = take.unique_stem(
        tmp_path, "shop", None, now=lambda: next(moments), sleep=slept.append
    )
    assert stem != existing.name
    assert moment == CREATED + timedelta(seconds=1)
    assert len(slept) == 1
    assert take.unique_stem(tmp_path, "shop", "pre-restore", now=lambda: CREATED)[0] == (
        f"{existing.name}-pre-restore"
    )


def test_retention_keeps_the_newest_per_tag(tmp_path: Path) -> None:
    plain = [write_backup(tmp_path, created=CREATED + timedelta(hours=h)) for h in range(5)]
    tagged = [
        write_backup(tmp_path, created=CREATED + timedelta(hours=h, minutes=30), tag="pre-restore")
        for h in range(3)
    ]
    removed = take.prune(tmp_path, "shop", keep=2, tag=None)
    assert removed == [plain[2].name, plain[1].name, plain[0].name]
    left = {b.name for b in list_backups(tmp_path, "shop").backups}
    assert left == {plain[3].name, plain[4].name} | {b.name for b in tagged}
    for backup in plain[:3]:
        assert not backup.snapshot_path.exists()
        assert not backup.manifest_path.exists()


def test_retention_never_touches_other_projects(tmp_path: Path) -> None:
    other = write_backup(tmp_path, project="other", created=CREATED)
    write_backup(tmp_path, created=CREATED)
    write_backup(tmp_path, created=CREATED + timedelta(hours=1))
    take.prune(tmp_path, "shop", keep=1, tag=None)
    assert other.manifest_path.exists() and other.snapshot_path.exists()


def test_stale_leftovers_of_crashed_runs_are_removed(tmp_path: Path) -> None:
    kept = write_backup(tmp_path, created=CREATED)
    partial = tmp_path / ".shop-20260131T130000Z.abc.rdb.gz.partial"
    orphan = tmp_path / "shop-20260131T140000Z.rdb.gz"  # renamed, but its manifest never came
    fresh_partial = tmp_path / ".shop-20260131T150000Z.xyz.rdb.gz.partial"  # a running backup
    other = tmp_path / "other-20260131T140000Z.rdb.gz"
    for path in (partial, orphan, fresh_partial, other):
        path.write_bytes(b"x")
    old = time.time() - 2 * take.STALE_AFTER_S
    for path in (partial, orphan, other):
        os.utime(path, (old, old))
    removed = take.prune(tmp_path, "shop", keep=5, tag=None)
    assert sorted(removed) == sorted([partial.name, orphan.name])
    assert fresh_partial.exists() and other.exists()
    assert kept.snapshot_path.exists()


def test_backup_result_json_summary(tmp_path: Path) -> None:
    backup = write_backup(tmp_path)
    result = take.BackupResult(backup, ("old",), (), 1.23456, 0.5, 2.0, 1, 2)
    data = result.to_json()
    assert data["name"] == backup.name
    assert data["jobs"] == backup.manifest.jobs
    assert data["seconds"] == {"save": 1.235, "copy": 0.5, "total": 2.0}
    assert data["pruned"] == ["old"]
    assert datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")).tzinfo == UTC
