"""Issue 15 acceptance: backups into restic repositories (a local one and a restic REST server),
several destinations, retention, alerts, the audit reading a repository, and the schedule.

Real tools only: restic from Debian's package, rest-server from the Go module proxy, the real
engine and Faktory server, systemd-analyze from Debian's systemd package.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from faktctl.backups.manifest import list_backups
from tests.support.producer import make_job
from tests.support.provision import deb_tool
from tests.support.restic import RestServer, Webhook, restic_path, run_restic, webhook
from tests.support.upkit import Deployment, assert_password_never_printed, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

PARKED = "parked"
JOBS = 1000
MORE = 50


@pytest.fixture
def rest_server(tmp_path: Path) -> Iterator[RestServer]:
    server = RestServer(tmp_path / "rest-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    yield from webhook()


def restic_spec(deployment: Deployment, destinations: list[str], **extra: Any) -> str:
    """Point the spec's backup policy at `destinations`; returns the repository password."""
    password = secrets.token_urlsafe(24)
    secret = deployment.folder / "secrets" / "restic_password"
    secret.write_text(password + "\n")
    secret.chmod(0o600)

    def policy(spec: dict[str, Any]) -> None:
        spec["backup"] = {
            "destinations": destinations,
            "password_file": "secrets/restic_password",
            "restic": str(restic_path()),
            "keep": 5,
            "max_age": "1h",
            **extra,
        }

    deployment.edit(policy)
    return password


def push(deployment: Deployment, count: int, start: int = 0) -> None:
    with deployment.connect() as conn:
        jobs = [make_job("demo.echo", [n], queue=PARKED) for n in range(start, start + count)]
        assert conn.push_many(jobs) == {}


def parked(deployment: Deployment) -> int:
    with deployment.connect() as conn:
        return int(conn.info()["faktory"]["queues"].get(PARKED, 0))


def server_state(deployment: Deployment) -> tuple[str, str]:
    attrs = deployment.inspect(f"{deployment.project}-faktory-1")
    return attrs["Id"], attrs["State"]["StartedAt"]


def backup_json(deployment: Deployment) -> dict[str, Any]:
    run = deployment.faktctl("backup", "--json")
    assert run.code == 0, run.output
    document = json.loads(run.stdout)
    assert document["command"] == "backup"
    result: dict[str, Any] = document["result"]
    return result


def assert_secrets_hidden(deployment: Deployment, *secrets_: str) -> None:
    assert_password_never_printed(deployment)
    for run in deployment.runs:
        for secret in secrets_:
            assert secret not in run.output, "a secret appeared in faktctl's output"


def test_backup_to_a_folder_and_a_rest_server_then_restore_from_the_remote(
    make_deployment: Callable[..., Deployment], rest_server: RestServer
) -> None:
    deployment = make_deployment()
    remote = rest_server.repository("faktory")
    repo_password = restic_spec(deployment, ["backups", f"restic:{remote}"])
    deployment.up()
    push(deployment, JOBS)

    result = backup_json(deployment)
    assert result["ok"] is True
    assert result["queues"][PARKED] == JOBS
    folder, repository = result["destinations"]
    assert folder["ok"] and folder["kind"] == "folder"
    assert repository["ok"] and repository["kind"] == "restic"
    assert repository["created_repository"] is True
    assert rest_server.password not in repository["destination"]
    assert len(list_backups(deployment.folder / "backups").backups) == 1
    # the repository holds faktory.rdb itself, tagged with the manifest's facts
    snapshots = json.loads(run_restic(remote, repo_password, "snapshots", "--json").stdout)
    assert len(snapshots) == 1
    tags = snapshots[0]["tags"]
    assert f"project={deployment.project}" in tags
    assert f"sha256={result['rdb_sha256']}" in tags
    assert any(tag.startswith("faktory=") for tag in tags)

    push(deployment, MORE, start=JOBS)
    assert parked(deployment) == JOBS + MORE
    restore = deployment.faktctl("restore", "latest", "--from", "2", "--yes")
    assert restore.code == 0, restore.output
    assert parked(deployment) == JOBS
    # the safety snapshot of the replaced data went to the folder
    safety = [b for b in list_backups(deployment.folder / "backups").backups if b.tag]
    assert len(safety) == 1 and safety[0].manifest.queues.get(PARKED) == JOBS + MORE

    verify = deployment.faktctl("backup", "verify", "--from", "2")
    assert verify.code == 0, verify.output
    assert "restic check passed" in verify.stderr
    listing = deployment.faktctl("backup", "list", "--json", "--from", "2")
    assert listing.code == 0, listing.output
    (remote_listing,) = json.loads(listing.stdout)["result"]["destinations"]
    assert remote_listing["backups"][0]["verified_at"] is not None

    # a damaged pack: verify fails with restic's reason, restore refuses, the server is untouched
    for pack in rest_server.packs("faktory"):
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0xFF
        pack.write_bytes(bytes(data))
    before = server_state(deployment)
    verify = deployment.faktctl("backup", "verify", "--from", "2")
    assert verify.code == 4, verify.output
    assert "does not match" in verify.stderr or "ciphertext" in verify.stderr
    restore = deployment.faktctl("restore", "latest", "--from", "2", "--yes")
    assert restore.code == 4, restore.output
    assert "nothing was changed" in restore.stderr
    assert "Traceback" not in restore.output
    assert server_state(deployment) == before
    assert parked(deployment) == JOBS
    assert_secrets_hidden(deployment, repo_password, rest_server.password)


def test_remote_down_fails_naming_it_keeps_the_local_copy_and_alerts_without_secrets(
    make_deployment: Callable[..., Deployment], rest_server: RestServer, hook: Webhook
) -> None:
    deployment = make_deployment()
    remote = rest_server.repository("faktory")
    repo_password = restic_spec(
        deployment,
        ["backups", f"restic:{remote}"],
        notify={"urls": [hook.url], "on_success": True},
    )
    deployment.up()
    push(deployment, 20)
    assert backup_json(deployment)["ok"] is True
    assert hook.received[-1]["outcome"] == "success"

    rest_server.stop()
    run = deployment.faktctl("backup")
    assert run.code == 4, run.output
    label = f"restic:rest:http://***@127.0.0.1:{rest_server.port}/faktory"
    assert f"backup failed for {label}" in run.stderr
    assert "kept in" in run.stderr and str(deployment.folder / "backups") in run.stderr
    assert len(list_backups(deployment.folder / "backups").backups) == 2
    failure = hook.received[-1]
    assert failure["outcome"] == "failure"
    assert failure["project"] == deployment.project
    assert label in failure["error"]
    states = {d["destination"]: d["ok"] for d in failure["destinations"]}
    assert states == {label: False, str(deployment.folder / "backups"): True}
    for body in hook.raw:
        for secret in (repo_password, rest_server.password, deployment.password):
            assert secret.encode() not in body
    assert_secrets_hidden(deployment, repo_password, rest_server.password)


def test_retention_keeps_the_policy_and_the_audit_reads_the_repository(
    make_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = make_deployment()
    repo = tmp_path / "restic-repo"
    password = restic_spec(deployment, [f"restic:{repo}"], keep=2, keep_daily=1, max_age="1h")
    deployment.up()
    push(deployment, 10)
    names = [backup_json(deployment)["name"] for _ in range(4)]
    assert not (deployment.folder / "backups").exists(), "nothing landed on local disk"

    listing = deployment.faktctl("backup", "list", "--json")
    assert listing.code == 0, listing.output
    (found,) = json.loads(listing.stdout)["result"]["destinations"]
    assert [b["name"] for b in found["backups"]] == names[:-3:-1]
    snapshots = json.loads(run_restic(str(repo), password, "snapshots", "--json").stdout)
    assert len(snapshots) == 2

    audit = deployment.faktctl("audit", "--strict", "--format", "json")
    document = json.loads(audit.stdout)
    results = {f["id"]: f for f in document["result"]["findings"]}
    assert results["FKB002"]["status"] == "pass", results["FKB002"]
    assert names[-1] in json.dumps(results["FKB002"])
    assert results["FKB003"]["status"] == "pass", results["FKB003"]


def test_schedule_writes_units_that_systemd_accepts(
    make_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = make_deployment()

    def policy(spec: dict[str, Any]) -> None:
        spec["backup"] = {"destination": "backups", "schedule": "*-*-* 02:30:00"}

    deployment.edit(policy)
    out = tmp_path / "units"
    run = deployment.faktctl("backup", "schedule", "--out", str(out))
    assert run.code == 0, run.output
    assert "systemctl enable --now" in run.stderr
    unit = f"faktctl-backup-{deployment.project}"
    service, timer = out / f"{unit}.service", out / f"{unit}.timer"
    assert "OnCalendar=*-*-* 02:30:00" in timer.read_text()
    assert "Persistent=true" in timer.read_text()
    analyze = deb_tool("systemd-analyze", "systemd")
    verify = analyze.run("verify", str(service), str(timer))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "ignoring" not in verify.stderr and "Unknown" not in verify.stderr, verify.stderr
    if not Path("/run/systemd/system").is_dir():  # a container: --install must refuse
        install = deployment.faktctl("backup", "schedule", "--install")
        assert install.code == 2 and "systemd" in install.stderr, install.output
    cron = deployment.faktctl("backup", "schedule", "--cron")
    assert cron.code == 2 and "no crontab equivalent" in cron.stderr
