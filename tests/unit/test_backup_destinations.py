"""Issue 15, pure parts: destinations, restic output, snapshot tags, retention, schedule, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from faktctl.adapters.restic import Restic, failure_reason, parse_version, snapshot_tags
from faktctl.backups import destinations, notify, repository, schedule
from faktctl.backups.manifest import Backup, Manifest
from faktctl.backups.take import select_pruned
from faktctl.errors import UsageError
from faktctl.secretvalue import SecretStr
from faktctl.spec.model import BackupNotify, BackupPolicy

BASE = Path("/srv/app")


def test_destinations_are_folders_or_restic_repositories() -> None:
    folder = destinations.parse("backups", BASE)
    assert isinstance(folder, destinations.Folder) and folder.path == BASE / "backups"
    local = destinations.parse("restic:repo", BASE)
    assert isinstance(local, destinations.Repository) and local.repository == "/srv/app/repo"
    remote = destinations.parse("restic:rest:https://u:secret@host:8000/f", BASE)
    assert isinstance(remote, destinations.Repository)
    assert remote.repository == "rest:https://u:secret@host:8000/f"
    assert remote.label == "restic:rest:https://***@host:8000/f"
    sftp = destinations.parse("restic:sftp:backup@host:/srv/restic", BASE)
    assert isinstance(sftp, destinations.Repository)
    assert sftp.repository == "sftp:backup@host:/srv/restic"


def test_choose_by_text_label_or_position() -> None:
    found = [destinations.parse(t, BASE) for t in ("backups", "restic:/r")]
    assert destinations.choose(found, None) == found[0]
    assert destinations.choose(found, "2") == found[1]
    assert destinations.choose(found, "restic:/r") == found[1]
    with pytest.raises(UsageError, match="not one of"):
        destinations.choose(found, "3")
    assert destinations.first_folder(found[1:], BASE) == BASE / "backups"


def test_policy_rules() -> None:
    assert BackupPolicy().all_destinations == ["backups"]
    with pytest.raises(ValidationError, match="password_file"):
        BackupPolicy(destination="restic:/r")
    with pytest.raises(ValidationError, match="not both"):
        BackupPolicy(destination="a", destinations=["b"])
    with pytest.raises(ValidationError, match="twice"):
        BackupPolicy(destinations=["a", "a"])
    policy = BackupPolicy(destinations=["a", "restic:/r"], password_file="p", keep_daily=7)
    assert policy.all_destinations == ["a", "restic:/r"]
    with pytest.raises(ValidationError):
        BackupNotify(urls=["ftp://nope"])


def test_restic_version_and_reasons() -> None:
    assert parse_version("restic 0.14.0 compiled with go1.19.8 on linux/amd64") == (0, 14, 0)
    assert parse_version("something else") is None
    check = (
        "read all data\nerror for tree 80f44c66:\n  decrypting blob 80 failed: ciphertext "
        "verification failed\nPack ID does not match, want a, got b\n"
        "Fatal: repository contains errors\n"
    )
    reason = failure_reason(check)
    assert reason.startswith("error for tree 80f44c66: decrypting blob 80 failed: ciphertext")
    assert "Pack ID does not match" in reason and reason.endswith("(repository contains errors)")
    refused = (
        "Fatal: unable to open config file: Head http://u:pw@127.0.0.1:1/x/config: "
        "connection refused\nIs there a repository at the following location?\n"
    )
    assert "pw" not in failure_reason(refused)
    assert "connection refused" in failure_reason(refused)
    with pytest.raises(ValueError, match="comma"):
        snapshot_tags(["a,b"])


def test_restic_gets_repository_and_password_from_the_environment_only() -> None:
    restic = Restic(Path("/usr/bin/restic"), "rest:http://u:p@h/x", SecretStr("s3cret"), "lbl")
    env = restic.env()
    assert env["RESTIC_REPOSITORY"] == "rest:http://u:p@h/x"
    assert env["RESTIC_PASSWORD"] == "s3cret"
    assert "RESTIC_PASSWORD_FILE" not in env and "RESTIC_PASSWORD_COMMAND" not in env
    assert "s3cret" not in repr(restic)


def test_snapshot_tags_carry_the_manifest() -> None:
    restic = Restic(Path("/usr/bin/restic"), "/r", SecretStr("x"), "restic:/r")
    queues, sets = {"default": 3, "odd,name": 1}, {"scheduled": 1, "retries": 0}
    tags = repository.start_tags("shop", "shop-20260101T000000Z", None, "0.1")
    tags += repository.finish_tags("a" * 64, 1234, queues, sets, "1.9.4")
    tags += ["verified=20260101T010000Z", "verified=20260102T010000Z"]
    backup = repository.to_backup(restic, {"id": "abcdef0123", "tags": tags})
    assert backup.name == "shop-20260101T000000Z" and backup.snapshot_id == "abcdef0123"
    assert dict(backup.manifest.queues) == queues
    assert backup.manifest.rdb_size == 1234 and backup.manifest.sha256 == "a" * 64
    assert backup.manifest.faktory_version == "1.9.4"
    assert backup.manifest.verified_at == datetime(2026, 1, 2, 1, tzinfo=UTC)
    assert backup.read_rdb is not None
    unfinished = repository.start_tags("shop", "shop-20260101T000000Z", None, "0.1")
    with pytest.raises(ValueError, match="unfinished"):
        repository.to_backup(restic, {"id": "x", "tags": unfinished})


def _backup(moment: datetime) -> Backup:
    manifest = Manifest("p", moment, "f", "0" * 64, 1, 1, "", {}, {}, "")
    return Backup(manifest, Path(f"/b/{moment.isoformat()}.manifest.json"))


def test_retention_keeps_last_daily_and_weekly_like_restic() -> None:
    start = datetime(2026, 3, 2, 12, tzinfo=UTC)  # a Monday
    backups = [_backup(start - timedelta(hours=12 * n)) for n in range(30)]  # newest first
    assert len(select_pruned(backups, 2, None)) == 28
    kept = [b for b in backups if b not in select_pruned(backups, 2, None, keep_daily=3)]
    # the newest two, plus the newest of each of the 3 newest days (the first is already kept)
    days = {b.manifest.created_at.date() for b in kept}
    assert len(kept) == 4 and len(days) == 3
    weekly = [b for b in backups if b not in select_pruned(backups, 1, None, keep_weekly=2)]
    assert len(weekly) == 2
    assert weekly[1].manifest.created_at.isocalendar()[1] != start.isocalendar()[1]


def test_schedule_units_and_cron() -> None:
    job = schedule.Job(
        "shop", Path("/srv/my app/faktory.yaml"), ("/usr/bin/python3", "-m", "faktctl"), "hourly"
    )
    service = schedule.service_text(job)
    assert 'ExecStart=/usr/bin/python3 -m faktctl backup -f "/srv/my app/faktory.yaml"' in service
    assert "Type=oneshot" in service
    timer = schedule.timer_text(job)
    assert "OnCalendar=hourly" in timer and "Persistent=true" in timer
    assert "RandomizedDelaySec=" in timer and "Unit=faktctl-backup-shop.service" in timer
    assert schedule.cron_line(job).startswith("@hourly cd '/srv/my app' && ")
    with pytest.raises(UsageError):
        schedule.cron_schedule("Mon *-*-* 02:00")
    assert schedule.cron_schedule("30 2 * * *") == "30 2 * * *"


def test_notification_payload_hides_credentials() -> None:
    report = notify.Report(
        project="shop",
        ok=False,
        error="backup failed for restic:rest:http://u:pw@h/x: connection refused",
        size=None,
        seconds=1.5,
        destinations=[{"destination": "rest:http://u:pw@h/x", "ok": False, "error": "x"}],
    )
    document = notify.payload(report)
    assert document["outcome"] == "failure" and document["project"] == "shop"
    assert "pw" not in str(document)
    assert notify.send(None, report) == []
    quiet = BackupNotify(urls=["http://127.0.0.1:1/hook"])
    assert notify.send(quiet, notify.Report("shop", True, None, 1, 1.0, [])) == []


def test_missing_or_old_restic_is_one_line_naming_the_install(tmp_path: Path) -> None:
    from faktctl.adapters.restic import ResticMissing, find

    with pytest.raises(ResticMissing, match="restic not found") as missing:
        find(str(tmp_path / "no-restic-here"))
    assert "apt-get install restic" in missing.value.one_line()
    old = tmp_path / "restic"
    old.write_text("#!/bin/sh\necho 'restic 0.9.6 compiled with go1.13 on linux/amd64'\n")
    old.chmod(0o755)
    with pytest.raises(ResticMissing, match="too old") as too_old:
        find(str(old))
    assert "apt-get install restic" in too_old.value.one_line()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("rest:https://alice:Pa@ssw0rd-Secret@host/repo", "rest:https://***@host/repo"),
        ("rest:https://u:p@ss@host:8000/r?x=a@b", "rest:https://***@host:8000/r?x=a@b"),
        ("s3:https://key:se@cr@et@s3.example/bucket/a@b", "s3:https://***@s3.example/bucket/a@b"),
        ("rest:https://host/repo@2", "rest:https://host/repo@2"),
        (
            "see rest:https://a:b@c@h/r and http://x:y@z@w/",
            "see rest:https://***@h/r and http://***@w/",
        ),
    ],
)
def test_url_credentials_are_masked_up_to_the_last_at_of_the_authority(
    text: str, shown: str
) -> None:
    from faktctl.adapters.restic import failure_reason
    from faktctl.secretvalue import hide_url_userinfo

    assert hide_url_userinfo(text) == shown
    assert failure_reason(f"Fatal: {text}") == shown
    if text.startswith(("rest:", "s3:")):
        assert destinations.parse(f"restic:{text}", BASE).label == "restic:" + shown


def test_a_faktory_url_password_holding_at_signs_is_redacted_whole() -> None:
    from faktctl.secretvalue import redact

    assert redact("FAKTORY_URL=tcp://:pa@ss@faktory:7419/x", []) == (
        "FAKTORY_URL=tcp://:<redacted>@faktory:7419/x"
    )


def test_an_alert_that_cannot_be_sent_is_a_warning_never_an_exception() -> None:
    """A URL the sender cannot parse (`https://[::1`, let through by an older spec check) is
    one warning line; the backup's outcome is decided before and apart from it."""
    settings = BackupNotify.model_construct(
        urls=["https://[::1", "http://[fe80::1%zz/"], on_success=True, timeout=timedelta(seconds=1)
    )
    report = notify.Report("shop", True, None, 1, 0.1, [])
    problems = notify.send(settings, report)
    assert len(problems) == 2 and all("could not notify" in p for p in problems), problems
