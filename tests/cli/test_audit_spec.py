"""`faktctl audit` on a spec, through the real CLI: a fresh project, drift, secrets, git,
suppressions, backups, and the examples."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.paths import EXAMPLES
from tests.support.cli import run_faktctl

FORMATS = ("table", "json", "sarif", "junit", "github", "markdown", "gitlab")


def audit_json(folder: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_faktctl("audit", "--format", "json", *args, cwd=folder)
    assert result.code in (0, 1), result.output
    return result.code, json.loads(result.stdout)


def statuses(document: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for item in document["result"]["findings"]:
        found.setdefault(item["id"], set()).add(item["status"])
    return found


def failing(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in document["result"]["findings"] if f["status"] == "fail"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run_faktctl("init", "--yes", cwd=tmp_path).code == 0
    assert run_faktctl("render", cwd=tmp_path).code == 0
    return tmp_path


def write_backup(folder: Path, project: str, created: datetime, corrupt: bool = False) -> None:
    """A backup in the format `faktctl backup` writes (faktctl.backups.manifest)."""
    folder.mkdir(exist_ok=True)
    stem = f"{project}-{created.strftime('%Y%m%dT%H%M%SZ')}"
    data = b"compressed snapshot bytes"
    (folder / f"{stem}.rdb.gz").write_bytes(data)
    digest = hashlib.sha256(data + (b"!" if corrupt else b"")).hexdigest()
    manifest = {
        "format": 1, "project": project, "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "file": f"{stem}.rdb.gz", "sha256": digest, "size": len(data), "rdb_size": 100,
        "faktory_version": "1.9.4", "queues": {}, "sets": {}, "faktctl_version": "0.1.0",
        "verified_at": None, "verification": None,
    }  # fmt: skip
    (folder / f"{stem}.manifest.json").write_text(json.dumps(manifest))


def test_fresh_project_fails_nothing_outside_backup_under_strict(project: Path) -> None:
    code, document = audit_json(project, "--strict")
    outside = [f for f in failing(document) if f["category"] != "backup"]
    assert outside == []
    # The default image (1.10.0) has the security fixes: init writes no suppression for it.
    assert statuses(document)["FKH008"] == {"pass"}
    assert "ignore: []" in (project / "faktory.yaml").read_text()
    assert {f["id"] for f in failing(document) if f["category"] == "backup"} == {"FKB002"}
    assert code == 1  # only because no backup exists yet
    found = statuses(document)
    assert found["FKH010"] == {"pass"}  # rendered files match
    assert found["FKS009"] == {"pass"}  # 0600
    assert found["FKS010"] == {"skip"}  # no git work tree here

    write_backup(project / "backups", project.name.lower(), datetime.now(UTC) - timedelta(hours=1))
    code, document = audit_json(project, "--strict")
    assert code == 0, failing(document)
    assert statuses(document)["FKB002"] == statuses(document)["FKB003"] == {"pass"}


def test_the_password_is_never_printed(project: Path) -> None:
    password = (project / "secrets" / "faktory_password").read_text().strip()
    outputs = [run_faktctl("audit", "--format", fmt, cwd=project) for fmt in FORMATS]
    outputs += [
        run_faktctl("audit", "--compose", "compose.yaml", "--format", fmt, cwd=project)
        for fmt in FORMATS
    ]
    for result in outputs:
        assert result.code in (0, 1), result.output
        assert password not in result.output
        assert "Traceback" not in result.output


def test_render_drift_is_a_failure(project: Path) -> None:
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace("unless-stopped", "always"))
    (project / ".env").unlink()
    _, document = audit_json(project)
    drift = next(f for f in document["result"]["findings"] if f["id"] == "FKH010")
    assert drift["status"] == "fail"
    assert "compose.yaml differs" in drift["message"] and ".env missing" in drift["message"]


def test_no_rendered_files_is_not_drift(project: Path) -> None:
    (project / "compose.yaml").unlink()
    (project / ".env").unlink()
    _, document = audit_json(project)
    drift = next(f for f in document["result"]["findings"] if f["id"] == "FKH010")
    assert drift["status"] == "skip"
    assert "neither compose.yaml nor .env exists" in drift["message"]


@pytest.mark.parametrize("kept", ["compose.yaml", ".env"])
def test_only_one_rendered_file_is_drift(project: Path, kept: str) -> None:
    gone = ".env" if kept == "compose.yaml" else "compose.yaml"
    (project / gone).unlink()
    _, document = audit_json(project)
    drift = next(f for f in document["result"]["findings"] if f["id"] == "FKH010")
    assert drift["status"] == "fail"
    assert f"{gone} missing" in drift["message"]


def test_secret_file_mode_and_weak_password(project: Path) -> None:
    secret = project / "secrets" / "faktory_password"
    secret.write_text("short\n")
    secret.chmod(0o644)
    _, document = audit_json(project)
    found = statuses(document)
    assert found["FKS009"] == {"fail", "pass"}  # the password file fails, .env passes
    assert found["FKS006"] == {"fail"}


def test_missing_password_file_is_a_finding_not_a_crash(project: Path) -> None:
    (project / "secrets" / "faktory_password").unlink()
    code, document = audit_json(project, "--scope", "host")
    assert code == 1
    # the spec declares a file secret (FKS001); the file missing on this host is FKS011's
    assert statuses(document)["FKS001"] == {"pass"}
    assert "fail" in statuses(document)["FKS011"]
    # compose.yaml, which never holds the password, is still compared; .env is host state
    assert statuses(document)["FKH010"] == {"pass"}
    assert document["result"]["scope"] == "host"


def test_git_status_of_secret_files(project: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, timeout=30)

    git("init", "-q")
    _, document = audit_json(project)
    assert statuses(document)["FKS010"] == {"pass"}  # init wrote .gitignore

    (project / ".gitignore").write_text("backups/\n")
    _, document = audit_json(project)
    assert statuses(document)["FKS010"] == {"fail"}
    assert any("not git-ignored" in f["message"] for f in failing(document) if f["id"] == "FKS010")

    git("add", "secrets/faktory_password")
    _, document = audit_json(project)
    assert any("tracked by git" in f["message"] for f in failing(document))


def test_spec_suppressions(project: Path) -> None:
    spec = project / "faktory.yaml"
    text = spec.read_text()
    spec.write_text(
        text[: text.index("audit:")].replace("faktory:1.10.0", "faktory:1.9.4")
        + (
            "audit:\n"
            "  ignore:\n"
            "    - {id: FKB002, reason: first backup runs tonight, expires: 2999-01-01}\n"
            "    - {id: FKH008, reason: waiting for 1.10.0, expires: 2001-01-01}\n"
            "    - {id: FKZ001, reason: typo}\n"
        )
    )
    code, document = audit_json(project, "--strict")
    findings = {f["id"]: f for f in document["result"]["findings"]}
    assert findings["FKB002"]["status"] == "skip"
    assert findings["FKB002"]["suppressed"] == {
        "reason": "first backup runs tonight",
        "expires": "2999-01-01",
    }
    assert findings["FKH008"]["status"] == "fail"  # its suppression expired
    assert "faktctl upgrade --to 1.10.0" in findings["FKH008"]["remediation"]
    assert findings["FKH011"]["status"] == "fail"
    assert findings["FKH011"]["location"]["line"] > 1
    assert findings["FKH012"]["status"] == "fail"
    assert code == 1


def test_invalid_spec_exits_2(tmp_path: Path) -> None:
    (tmp_path / "faktory.yaml").write_text("project: [broken\n")
    result = run_faktctl("audit", cwd=tmp_path)
    assert result.code == 2 and "Traceback" not in result.output
    nothing = run_faktctl("audit", "-f", "missing.yaml", cwd=tmp_path)
    assert nothing.code == 2 and "not found" in nothing.stderr


def test_output_file_and_summary(project: Path) -> None:
    result = run_faktctl("audit", "--format", "sarif", "--output", "audit.sarif", cwd=project)
    assert result.code == 1
    assert result.stdout == ""
    assert "report written to audit.sarif" in result.stderr
    assert json.loads((project / "audit.sarif").read_text())["version"] == "2.1.0"


@pytest.mark.parametrize("name", sorted(p.parent.name for p in EXAMPLES.glob("*/faktory.yaml")))
def test_examples_audit(tmp_path: Path, name: str) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("go-worker"))
    folder = tmp_path / "examples" / name
    (folder / "secrets").mkdir(mode=0o700)
    password = folder / "secrets" / "faktory_password"
    password.write_text("an-example-password-long-enough\n")
    password.chmod(0o600)
    assert run_faktctl("render", cwd=folder).code == 0
    _, document = audit_json(folder, "--strict")
    outside = [f for f in failing(document) if f["category"] != "backup"]
    assert [f["id"] for f in outside if f["severity"] != "info"] == [], outside


def test_separate_dashboard_password(project: Path) -> None:
    web = project / "secrets" / "dashboard_password"
    web.write_text("a-separate-dashboard-password-123\n")
    web.chmod(0o600)
    spec = project / "faktory.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  password_file:",
            "  dashboard_password_file: secrets/dashboard_password\n  password_file:",
        )
    )
    assert run_faktctl("render", cwd=project).code == 0
    code, document = audit_json(project, "--strict")
    files = [f["message"] for f in document["result"]["findings"] if f["id"] == "FKS009"]
    assert any("dashboard password" in m for m in files)
    assert any("generated dashboard config" in m for m in files)
    assert {f["id"] for f in failing(document)} == {"FKB002"}
    assert code == 1
