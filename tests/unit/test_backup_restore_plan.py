"""The pure parts of restore: the plan shown for confirmation, size comparisons, addresses."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from faktctl.backups import deployment, restore
from faktctl.backups.manifest import Backup
from faktctl.errors import OperationFailed
from faktctl.live.reach import Endpoint
from tests.support.backups import make_manifest, write_backup


def counts(queues: dict[str, int], **sets: int) -> deployment.Counts:
    full = {name: sets.get(name, 0) for name in deployment.SET_NAMES}
    return deployment.Counts(queues, full, "1.9.4")


def test_plan_stops_workers_before_the_server_and_saves_first(tmp_path: Path) -> None:
    backup = Backup(make_manifest(), tmp_path / "shop-20260131T120005Z.manifest.json")
    steps = restore.plan_steps(
        backup, "shop-faktory-1", ["shop-go-1", "shop-go-2"], "/b", "volume shop_data"
    )
    assert steps[0].startswith("save the current data as a `pre-restore` backup in /b")
    assert steps[1] == "stop 2 worker container(s): shop-go-1, shop-go-2"
    assert steps[2] == "stop the server shop-faktory-1 gracefully"
    assert "replace faktory.rdb in volume shop_data with backup shop-20260131T120005Z" in steps[3]
    assert "(6 jobs, taken 2026-01-31T12:00:05Z)" in steps[3]
    assert steps[-1] == "start the workers again"


def test_plan_without_workers_has_no_worker_steps(tmp_path: Path) -> None:
    backup = Backup(make_manifest(), tmp_path / "x.manifest.json")
    steps = restore.plan_steps(backup, "s", [], "/b", "bind /data")
    assert not any("worker" in step for step in steps)


def test_differences_name_each_queue_and_set() -> None:
    actual = counts({"default": 1000, "new": 2}, scheduled=5)
    lines = deployment.differences({"default": 0, "gone": 3}, {"retries": 1}, actual)
    assert lines == [
        "queue default: 0 → 1000",
        "queue gone: 3 → 0",
        "queue new: 0 → 2",
        "scheduled: 0 → 5",
        "retries: 1 → 0",
    ]


def test_an_empty_queue_missing_from_info_is_not_a_difference() -> None:
    assert deployment.differences({"default": 0}, {}, counts({})) == []


def test_moved_jobs_keep_the_total() -> None:
    after = counts({"default": 12}, scheduled=3)
    assert deployment.only_moved({"default": 10}, {"scheduled": 5}, after)
    assert not deployment.only_moved({"default": 10}, {"scheduled": 6}, after)


def test_counts_from_info() -> None:
    info = {
        "faktory": {
            "queues": {"default": 3},
            "sets": {"scheduled": 1, "retries": 2, "dead": 0, "working": 4},
        },
        "server": {"faktory_version": "1.9.4"},
    }
    found = deployment.counts_from_info(info)
    assert found.jobs == 10
    assert found.version == "1.9.4"
    assert found.same_as(counts({"default": 3}, scheduled=1, retries=2, working=4))


def engine(local: bool = True, address: str = "unix:///var/run/docker.sock") -> Any:
    return SimpleNamespace(is_local=local, address=address)


def container(
    bindings: list[dict[str, str]] | None, mounts: tuple[dict[str, str], ...] = ()
) -> Any:
    return {
        "Name": "/shop-faktory-1",
        "NetworkSettings": {"Ports": {"7419/tcp": bindings}},
        "Mounts": list(mounts),
    }


@pytest.mark.parametrize(
    ("host_ip", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("10.0.0.5", "10.0.0.5"),
    ],
)
def test_protocol_endpoint_from_the_published_binding(host_ip: str, expected: str) -> None:
    found = deployment.protocol_endpoint(
        container([{"HostIp": host_ip, "HostPort": "27419"}]), engine()
    )
    assert found == Endpoint(expected, 27419)


def test_protocol_endpoint_of_a_remote_engine_uses_its_host() -> None:
    found = deployment.protocol_endpoint(
        container([{"HostIp": "0.0.0.0", "HostPort": "7419"}]),
        engine(local=False, address="tcp://build-box:2376"),
    )
    assert found == Endpoint("build-box", 7419)


def test_an_unpublished_protocol_port_is_explained() -> None:
    with pytest.raises(deployment.ServerUnreachable, match="does not publish port 7419"):
        deployment.protocol_endpoint(container(None), engine())


def test_data_mount_finds_the_volume_or_bind() -> None:
    volume = {"Type": "volume", "Name": "shop_data", "Destination": "/var/lib/faktory"}
    bind = {"Type": "bind", "Source": "/srv/faktory", "Destination": "/var/lib/faktory"}
    assert deployment.data_mount(container([], (volume,))) == deployment.DataMount(
        "volume", "shop_data"
    )
    assert deployment.data_mount(container([], (bind,))) == deployment.DataMount(
        "bind", "/srv/faktory"
    )
    with pytest.raises(OperationFailed, match="no volume or bind mount at /var/lib/faktory"):
        deployment.data_mount(container([], ()))


def test_stop_timeout_prefers_the_container_setting() -> None:
    assert deployment.stop_timeout({"Config": {"StopTimeout": 60}}, 10) == 60
    assert deployment.stop_timeout({"Config": {}}, 10) == 10


def test_throwaway_labels_never_carry_the_project_label() -> None:
    made = deployment.job_labels("backup-verify", "shop")
    assert made == {"io.faktctl.job": "backup-verify", "io.faktctl.backup-of": "shop"}
    assert "io.faktctl.project" not in made


def test_restore_result_json() -> None:
    backup = Backup(make_manifest(), Path("/b/shop-x.manifest.json"))
    result = restore.RestoreResult(
        backup=backup,
        safety=backup,
        before=counts({}),
        after=counts({"default": 3}, scheduled=1, retries=2),
        changes=("queue default: 0 → 3",),
        differences=(),
        moved_only=False,
        worker_problems=(),
        workers_started=2,
    )
    data = result.to_json()
    assert data["matches_manifest"] is True
    assert data["after"]["jobs"] == 6
    assert data["changes"] == ["queue default: 0 → 3"]


@pytest.mark.parametrize(
    ("header", "version"),
    [(b"REDIS0011", 11), (b"REDIS0009xyz", 9), (b"REDIS", None), (b"NOTREDIS1", None)],
)
def test_rdb_version_from_the_header(header: bytes, version: int | None) -> None:
    assert restore.rdb_version(header) == version


def test_backup_rdb_version_reads_the_compressed_snapshot(tmp_path: Path) -> None:
    backup = write_backup(tmp_path, data=gzip.compress(b"REDIS0010" + bytes(100)))
    assert restore.backup_rdb_version(backup) == 10
