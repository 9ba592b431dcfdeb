"""The backup manifest format: names, JSON contract, listing, lookup and checksums."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from faktctl.backups import manifest as m
from faktctl.errors import ExitCode
from tests.support.backups import CREATED, make_manifest, write_backup

# --- names ------------------------------------------------------------------------------------


def test_names_follow_the_agreed_layout() -> None:
    stem = m.stem_for("shop", CREATED)
    assert stem == "shop-20260131T120005Z"
    assert m.manifest_name(stem) == "shop-20260131T120005Z.manifest.json"
    assert m.snapshot_name(stem) == "shop-20260131T120005Z.rdb.gz"
    assert m.stem_for("shop", CREATED, "pre-restore") == "shop-20260131T120005Z-pre-restore"


@pytest.mark.parametrize(
    ("name", "project", "tag"),
    [
        ("shop-20260131T120005Z.manifest.json", "shop", None),
        ("my-shop_2-20260131T120005Z.manifest.json", "my-shop_2", None),
        ("shop-20260131T120005Z-pre-restore.manifest.json", "shop", "pre-restore"),
    ],
)
def test_manifest_names_parse(name: str, project: str, tag: str | None) -> None:
    parsed = m.parse_manifest_name(name)
    assert parsed is not None
    assert (parsed.project, parsed.tag, parsed.created) == (project, tag, CREATED)


@pytest.mark.parametrize(
    "name",
    [
        "shop-20260131T120005Z.rdb.gz",
        "shop.manifest.json",
        "shop-20261331T120005Z.manifest.json",  # month 13
        ".shop-20260131T120005Z.manifest.json",
        "notes.txt",
    ],
)
def test_other_files_are_not_manifests(name: str) -> None:
    assert m.parse_manifest_name(name) is None


# --- the JSON contract ------------------------------------------------------------------------


def test_manifest_json_has_exactly_the_agreed_fields() -> None:
    data = make_manifest().to_json()
    assert list(data) == [
        "format",
        "project",
        "created_at",
        "file",
        "sha256",
        "size",
        "rdb_size",
        "faktory_version",
        "queues",
        "sets",
        "faktctl_version",
        "verified_at",
        "verification",
    ]
    assert data["format"] == 1
    assert data["created_at"] == "2026-01-31T12:00:05Z"
    assert data["sets"] == {"scheduled": 1, "retries": 2, "dead": 0, "working": 0}
    assert data["verified_at"] is None and data["verification"] is None


def test_manifest_round_trips_with_a_verification() -> None:
    verification = m.Verification(
        ok=True,
        checked_at=CREATED + timedelta(minutes=1),
        checksum_ok=True,
        loaded=True,
        image="contribsys/faktory:1.9.4",
        faktory_version="1.9.4",
        queues={"default": 3},
        sets={"scheduled": 1, "retries": 2, "dead": 0, "working": 0},
        seconds=1.5,
    )
    original = m.Manifest(
        **{**make_manifest().__dict__, "verified_at": verification.checked_at,
           "verification": verification}
    )  # fmt: skip
    again = m.Manifest.from_json(json.loads(original.dumps()))
    assert again == original
    assert again.to_json()["verified_at"] == "2026-01-31T12:01:05Z"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 2}, "format 2 is not 1"),
        ({"sha256": "ABC"}, "sha256"),
        ({"size": -1}, "`size` is not a non-negative integer"),
        ({"file": "../etc/passwd"}, "plain file name"),
        ({"created_at": "2026-01-31T12:00:05"}, "not a UTC time"),
        ({"queues": {"default": "many"}}, "queues.default"),
        ({"project": ""}, "`project` is missing"),
    ],
)
def test_invalid_manifests_name_the_field(change: dict[str, object], message: str) -> None:
    data = {**make_manifest().to_json(), **change}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        m.Manifest.from_json(data)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = {**make_manifest().to_json(), "comment": "added by a newer faktctl"}
    assert m.Manifest.from_json(data) == make_manifest()


def test_manifest_jobs_counts_queues_and_sets() -> None:
    assert make_manifest().jobs == 3 + 1 + 2


# --- listing and lookup -----------------------------------------------------------------------


def test_list_backups_newest_first_for_one_project(tmp_path: Path) -> None:
    old = write_backup(tmp_path, created=CREATED)
    new = write_backup(tmp_path, created=CREATED + timedelta(hours=1))
    write_backup(tmp_path, project="other", created=CREATED + timedelta(hours=2))
    listing = m.list_backups(tmp_path, "shop")
    assert [b.name for b in listing.backups] == [new.name, old.name]
    assert listing.newest == listing.backups[0]
    assert len(m.list_backups(tmp_path).backups) == 3


def test_list_backups_reports_invalid_manifests_without_hiding_others(tmp_path: Path) -> None:
    good = write_backup(tmp_path)
    (tmp_path / "shop-20250101T000000Z.manifest.json").write_text("{not json")
    (tmp_path / "shop-20250102T000000Z.manifest.json").write_text('{"format": 9}')
    listing = m.list_backups(tmp_path, "shop")
    assert [b.name for b in listing.backups] == [good.name]
    reasons = sorted(i.reason for i in listing.invalid)
    assert "not valid JSON" in reasons[0] or "not valid JSON" in reasons[1]
    assert any("format 9 is not 1" in r for r in reasons)


def test_list_backups_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert m.list_backups(tmp_path / "nope", "shop").backups == ()


def test_list_backups_of_a_file_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(m.ManifestError, match="not a folder"):
        m.list_backups(file, "shop")


def test_a_manifest_naming_another_project_is_invalid(tmp_path: Path) -> None:
    backup = write_backup(tmp_path)
    data = json.loads(backup.manifest_path.read_text())
    data["project"] = "other"
    backup.manifest_path.write_text(json.dumps(data))
    listing = m.list_backups(tmp_path, "shop")
    assert listing.backups == ()
    assert "names project `other`" in listing.invalid[0].reason


def test_newest_backup_can_skip_tagged_ones(tmp_path: Path) -> None:
    plain = write_backup(tmp_path, created=CREATED)
    tagged = write_backup(tmp_path, created=CREATED + timedelta(minutes=5), tag="pre-restore")
    assert m.newest_backup(tmp_path, "shop") == tagged
    assert m.newest_backup(tmp_path, "shop", include_tagged=False) == plain
    assert m.newest_backup(tmp_path, "nobody") is None


@pytest.mark.parametrize(
    "reference",
    [
        "shop-20260131T120005Z",
        "shop-20260131T120005Z.manifest.json",
        "shop-20260131T120005Z.rdb.gz",
        "latest",
        None,
    ],
)
def test_find_backup_accepts_names_files_and_latest(tmp_path: Path, reference: str | None) -> None:
    backup = write_backup(tmp_path)
    assert m.find_backup(tmp_path, "shop", reference) == backup


def test_find_backup_accepts_a_path(tmp_path: Path) -> None:
    backup = write_backup(tmp_path / "elsewhere")
    found = m.find_backup(tmp_path / "destination", "shop", str(backup.manifest_path))
    assert found == backup


def test_a_missing_backup_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(m.BackupNotFound, match="backup `nosuch` not found") as caught:
        m.find_backup(tmp_path, "shop", "nosuch")
    assert caught.value.exit_code == ExitCode.USAGE
    with pytest.raises(m.BackupNotFound, match="no backup of project `shop`"):
        m.find_backup(tmp_path, "shop", None)


# --- checksums --------------------------------------------------------------------------------


def test_verify_checksum_passes_for_an_intact_snapshot(tmp_path: Path) -> None:
    backup = write_backup(tmp_path, data=b"a" * 3_000_000)
    seen: list[int] = []
    result = m.verify_checksum(backup, seen.append)
    assert result.ok is True
    assert seen[-1] == 3_000_000


def test_one_flipped_byte_fails_the_checksum(tmp_path: Path) -> None:
    backup = write_backup(tmp_path, data=b"snapshot bytes")
    data = bytearray(backup.snapshot_path.read_bytes())
    data[3] ^= 0x01
    backup.snapshot_path.write_bytes(bytes(data))
    result = m.verify_checksum(backup)
    assert result.ok is False
    assert "does not match its sha256" in result.detail
    with pytest.raises(m.ChecksumMismatch, match="failed its checksum") as caught:
        m.require_checksum(backup)
    assert caught.value.exit_code == ExitCode.FAILED


def test_a_truncated_snapshot_fails_on_size_before_hashing(tmp_path: Path) -> None:
    backup = write_backup(tmp_path, data=b"snapshot bytes")
    backup.snapshot_path.write_bytes(b"snap")
    result = m.verify_checksum(backup)
    assert result.ok is False
    assert "has 4 bytes, the manifest says 14" in result.detail


def test_a_missing_snapshot_cannot_be_checked(tmp_path: Path) -> None:
    backup = write_backup(tmp_path)
    backup.snapshot_path.unlink()
    result = m.verify_checksum(backup)
    assert result.ok is None
    assert "missing" in result.detail


def test_age_of_a_backup() -> None:
    assert m.age_of(make_manifest(), CREATED + timedelta(hours=2)) == timedelta(hours=2)
