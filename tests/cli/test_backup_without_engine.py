"""`faktctl backup list / verify` and `faktctl restore` as a user runs them, where no engine is
needed: listing, JSON envelopes, and every refusal that must happen before the engine is used."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from faktctl.backups.manifest import read_manifest
from tests.support.backups import CREATED, write_backup
from tests.support.cli import run_faktctl

NO_ENGINE = {"DOCKER_HOST": "tcp://127.0.0.1:9"}  # nothing listens: any engine use fails (exit 3)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    spec = yaml.safe_load((tmp_path / "faktory.yaml").read_text())
    spec["backup"] = {"destination": "backups", "keep": 3, "max_age": "1h"}
    (tmp_path / "faktory.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path


def test_backup_list_when_there_is_none(project: Path) -> None:
    result = run_faktctl("backup", "list", cwd=project)
    assert result.code == 0
    assert "no backups of `shop` in" in result.stderr


def test_backup_list_shows_age_size_and_verification(project: Path) -> None:
    write_backup(project / "backups", created=CREATED)
    write_backup(project / "backups", created=CREATED + timedelta(hours=1), tag="pre-restore")
    result = run_faktctl("backup", "list", cwd=project)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "BACKUP", "CREATED", "(UTC)", "AGE", "SIZE", "JOBS", "SNAPSHOT", "VERIFIED"
    ]  # fmt: skip
    assert lines[1].startswith("shop-20260131T130005Z-pre-restore  2026-01-31 13:00:05")
    assert lines[2].split()[-3:] == ["6", "ok", "no"]
    assert "newest is" in result.stderr and "TOO OLD" in result.stderr


def test_backup_list_json_envelope(project: Path) -> None:
    backup = write_backup(project / "backups")
    result = run_faktctl("backup", "list", "--json", cwd=project)
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"faktctl", "command", "result"}
    assert document["faktctl"] == 1 and document["command"] == "backup list"
    (folder,) = document["result"]["destinations"]
    assert folder["destination"] == str(project / "backups") and folder["kind"] == "folder"
    assert folder["max_age_seconds"] == 3600 and folder["error"] is None
    listed = folder["backups"][0]
    assert listed["name"] == backup.name
    assert listed["sha256"] == backup.manifest.sha256
    assert listed["snapshot"] == "ok"
    assert listed["manifest"] == str(backup.manifest_path) and listed["snapshot_id"] is None


def _documented_listing() -> dict[str, Any]:
    """The example under "`backup list --json`" in docs/backups.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "backups.md").read_text()
    section = text[text.index("## `backup list --json`") :]
    example = section[section.index("```json") + len("```json") : section.index("```\n", 10)]
    document: dict[str, Any] = json.loads(example)
    return document


def _shape(document: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """The keys of a listing's destination entries, of their backups and of their invalid
    entries, whatever the values."""
    entries = document["result"]["destinations"]
    return (
        {key for entry in entries for key in entry},
        {key for entry in entries for backup in entry["backups"] for key in backup},
        {key for entry in entries for invalid in entry["invalid"] for key in invalid},
    )


def test_backup_list_json_has_one_shape_whatever_the_number_of_destinations(
    project: Path,
) -> None:
    """docs/backups.md documents the shape; one folder, two folders and --from all give it."""
    write_backup(project / "backups")
    (project / "backups" / "shop-20260130T120000Z.manifest.json").write_text("{")
    lone = run_faktctl("backup", "list", "--json", cwd=project)
    assert lone.code == 0, lone.output
    documented = _shape(_documented_listing())
    assert _shape(json.loads(lone.stdout)) == documented

    spec = yaml.safe_load((project / "faktory.yaml").read_text())
    del spec["backup"]["destination"]
    spec["backup"]["destinations"] = ["backups", "more"]
    (project / "faktory.yaml").write_text(yaml.safe_dump(spec))
    write_backup(project / "more")
    (project / "more" / "shop-20260130T120000Z.manifest.json").write_text("{")
    for args in ([], ["--from", "2"]):
        several = run_faktctl("backup", "list", "--json", *args, cwd=project)
        assert several.code == 0, several.output
        assert _shape(json.loads(several.stdout)) == documented
    entries = json.loads(several.stdout)["result"]["destinations"]
    assert [entry["destination"] for entry in entries] == [str(project / "more")]


def test_restore_of_a_missing_backup_is_refused_without_the_engine(project: Path) -> None:
    result = run_faktctl("restore", "shop-20990101T000000Z", "--yes", cwd=project, env=NO_ENGINE)
    assert result.code == 2
    assert "backup `shop-20990101T000000Z` not found" in result.stderr
    assert "Traceback" not in result.output


def _corrupt(project: Path) -> str:
    backup = write_backup(project / "backups", data=b"REDIS0010" + bytes(1000))
    data = bytearray(backup.snapshot_path.read_bytes())
    data[500] ^= 0xFF
    backup.snapshot_path.write_bytes(bytes(data))
    return backup.name


def test_restore_of_a_corrupted_backup_is_refused_before_the_engine(project: Path) -> None:
    name = _corrupt(project)
    result = run_faktctl("restore", name, "--yes", cwd=project, env=NO_ENGINE)
    assert result.code == 4, result.output
    assert f"backup {name} failed its checksum" in result.stderr
    assert "nothing was changed" in result.stderr


def test_verify_of_a_corrupted_backup_records_the_failure(project: Path) -> None:
    name = _corrupt(project)
    result = run_faktctl("backup", "verify", name, cwd=project, env=NO_ENGINE)
    assert result.code == 4, result.output
    assert "failed its checksum" in result.stderr
    manifest = read_manifest(project / "backups" / f"{name}.manifest.json")
    assert manifest.verified_at is None
    assert manifest.verification is not None
    assert manifest.verification.ok is False and manifest.verification.checksum_ok is False


def test_backup_into_a_file_is_refused_before_the_engine(project: Path) -> None:
    (project / "backups").write_text("not a folder")
    result = run_faktctl("backup", cwd=project, env=NO_ENGINE)
    assert result.code == 4
    assert "backup destination" in result.stderr and "is not a folder" in result.stderr


def test_backup_without_an_engine_says_so(project: Path) -> None:
    result = run_faktctl("backup", cwd=project, env=NO_ENGINE)
    assert result.code == 3
    assert "cannot reach the Docker engine at tcp://127.0.0.1:9" in result.stderr


def test_restore_without_an_engine_stops_before_asking(project: Path) -> None:
    """(The --yes check itself is proven against a running server in tests/e2e/test_backup.py.)"""
    write_backup(project / "backups")
    result = run_faktctl("restore", "latest", cwd=project, env=NO_ENGINE)
    assert result.code == 3  # the engine is needed before the question; no engine here
    assert "cannot reach the Docker engine" in result.stderr


@pytest.mark.parametrize(
    "args", [["backup"], ["backup", "list"], ["backup", "verify"], ["restore"]]
)
def test_backup_commands_explain_themselves(args: list[str]) -> None:
    from tests.support.cli import undocumented

    result = run_faktctl(*args, "--help", cwd=Path.cwd())
    assert result.code == 0
    assert undocumented(args, result.stdout) == []


def test_no_backup_policy_uses_defaults_and_says_so(tmp_path: Path) -> None:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    spec = yaml.safe_load((tmp_path / "faktory.yaml").read_text())
    del spec["backup"]
    (tmp_path / "faktory.yaml").write_text(yaml.safe_dump(spec))
    result = run_faktctl("backup", "list", cwd=tmp_path)
    assert result.code == 0
    assert "the spec has no `backup:` policy" in result.stderr
    assert f"no backups of `shop` in {tmp_path / 'backups'}" in result.stderr


def _fake_restic(folder: Path, marker: Path) -> None:
    folder.mkdir(parents=True)
    script = folder / "restic"
    script.write_text(
        f'#!/bin/sh\necho "$PWD $*" >> {marker}\n'
        'if [ "$1" = version ]; then echo "restic 0.16.4 compiled with go1.21 on linux/amd64"; '
        "exit 0; fi\necho 'Fatal: repository does not exist' >&2\nexit 10\n"
    )
    script.chmod(0o755)


def test_a_relative_restic_runs_from_the_spec_folder_not_the_callers(
    project: Path, tmp_path: Path
) -> None:
    spec = yaml.safe_load((project / "faktory.yaml").read_text())
    (project / "restic-password").write_text("a-long-restic-repository-password\n")
    (project / "restic-password").chmod(0o600)
    spec["backup"] = {
        "destination": "restic:rest:https://alice:Pa@ssw0rd-Secret@127.0.0.1:9/repo",
        "password_file": "restic-password",
        "restic": "bin/restic",
    }
    (project / "faktory.yaml").write_text(yaml.safe_dump(spec))
    elsewhere = tmp_path / "elsewhere"
    ours, theirs = tmp_path / "ours.log", tmp_path / "theirs.log"
    _fake_restic(project / "bin", ours)
    _fake_restic(elsewhere / "bin", theirs)
    result = run_faktctl(
        "backup", "list", "--json", "-f", str(project / "faktory.yaml"), cwd=elsewhere
    )
    assert not theirs.exists(), "the caller's bin/restic ran"
    assert ours.exists() and "version" in ours.read_text()
    assert "ssw0rd-Secret" not in result.output and "Pa@" not in result.output
