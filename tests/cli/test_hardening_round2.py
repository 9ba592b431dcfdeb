"""Issue 24, the second hostile review: private folders are never reached through a link,
nothing is written where faktctl does not own it. Each case failed on the code before."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from faktctl.errors import FaktctlError
from faktctl.fsutil import ensure_private_dir
from tests.support.cli import run_faktctl


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    target = tmp_path / "shared-tmp"
    target.mkdir()
    target.chmod(0o1777)
    return target


def test_k8s_render_never_follows_a_secrets_link(tmp_path: Path, shared_tmp: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=project).code == 0
    (project / "k8s").mkdir()
    (project / "k8s" / "secrets").symlink_to(shared_tmp)
    result = run_faktctl("render", "--target", "kubernetes", cwd=project)
    assert result.code != 0
    assert "link" in result.stderr and "Traceback" not in result.output
    assert _mode(shared_tmp) == 0o1777 and list(shared_tmp.iterdir()) == []


def test_init_never_follows_a_secrets_link(tmp_path: Path, shared_tmp: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "secrets").symlink_to(shared_tmp)
    result = run_faktctl("init", "--yes", "--project", "shop", cwd=project)
    assert result.code != 0
    assert "link" in result.stderr and "Traceback" not in result.output
    assert _mode(shared_tmp) == 0o1777 and list(shared_tmp.iterdir()) == []
    assert not (project / "faktory.yaml").exists()  # all or nothing


def test_a_private_folder_is_a_real_folder_this_user_owns(tmp_path: Path, shared_tmp: Path) -> None:
    link = tmp_path / "desired"
    link.symlink_to(shared_tmp)
    with pytest.raises(FaktctlError, match="link"):
        ensure_private_dir(link)
    assert _mode(shared_tmp) == 0o1777
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o755)
        os.chown(foreign, 12345, 12345)
        with pytest.raises(FaktctlError, match="another user"):
            ensure_private_dir(foreign)
        assert _mode(foreign) == 0o755
    made = tmp_path / "a" / "b"
    ensure_private_dir(made)
    assert _mode(made) == 0o700 and not made.is_symlink()


def test_the_desired_state_cache_never_follows_a_planted_link(
    tmp_path: Path, shared_tmp: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=project).code == 0
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "desired").symlink_to(shared_tmp)
    env = {"FAKTCTL_CACHE_DIR": str(cache), "DOCKER_HOST": "tcp://127.0.0.1:9"}
    for command in (["status"], ["up", "--dry-run"]):
        result = run_faktctl(*command, cwd=project, env=env)
        assert "Traceback" not in result.output
    assert _mode(shared_tmp) == 0o1777 and list(shared_tmp.iterdir()) == []


def _spec_folder(parent: Path, name: str | bytes) -> Path:
    folder = Path(os.fsdecode(os.path.join(os.fsencode(parent), os.fsencode(name))))
    folder.mkdir()
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=folder).code == 0
    return folder


def test_backup_schedule_quotes_a_spaced_folder_by_systemds_rules(tmp_path: Path) -> None:
    from tests.support.provision import deb_tool

    folder = _spec_folder(tmp_path, "a b 100%")
    out = tmp_path / "units"
    result = run_faktctl("backup", "schedule", "--out", str(out), cwd=folder)
    assert result.code == 0, result.output
    service = out / "faktctl-backup-shop.service"
    text = service.read_text()
    assert f"WorkingDirectory={tmp_path}/a b 100%%\n" in text
    analyze = deb_tool("systemd-analyze", "systemd")
    verify = analyze.run("verify", str(service), str(out / "faktctl-backup-shop.timer"))
    problems = [
        line
        for line in verify.stderr.splitlines()
        if "absolute" in line or "ignoring" in line.lower() or "Unknown" in line
    ]
    assert problems == [], verify.stderr


def test_backup_schedule_cron_escapes_percent_and_refuses_a_newline(tmp_path: Path) -> None:
    folder = _spec_folder(tmp_path, "a b 100%")
    cron = run_faktctl("backup", "schedule", "--cron", cwd=folder)
    assert cron.code == 0, cron.output
    line = next(x for x in cron.stdout.splitlines() if x.startswith("@hourly"))
    assert "100\\%" in line and "100%" not in line.replace("100\\%", "")
    bad = _spec_folder(tmp_path, "evil\n* * * * * touch pwned #")
    for args in (["--cron"], ["--out", str(tmp_path / "u2")]):
        refused = run_faktctl("backup", "schedule", *args, cwd=bad)
        assert refused.code == 2, refused.output
        assert "newline" in refused.stderr and "Traceback" not in refused.output
    assert not (tmp_path / "u2").exists()


def test_backup_schedule_in_a_folder_whose_name_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    folder = _spec_folder(tmp_path, b"caf\xe9")
    for args in (["--cron"], ["--out", str(tmp_path / "u3")]):
        result = run_faktctl("backup", "schedule", *args, cwd=folder)
        assert result.code == 2, result.output
        assert "UTF-8" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["status"], ["up", "--dry-run"], ["down"]])
def test_commands_in_a_folder_whose_name_is_not_utf8_do_not_crash(
    tmp_path: Path, command: list[str]
) -> None:
    folder = _spec_folder(tmp_path, b"caf\xe9")
    env = {"FAKTCTL_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_HOST": "tcp://127.0.0.1:9"}
    result = run_faktctl(*command, cwd=folder, env=env)
    assert "Traceback" not in result.output and "UnicodeEncodeError" not in result.output
    assert "engine" in result.stderr  # it got as far as the engine (none listens here)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.10", "myhost.example"])
def test_dashboard_refuses_a_non_loopback_address_with_internal_exposure(
    tmp_path: Path, address: str
) -> None:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    env = {"DOCKER_HOST": "tcp://127.0.0.1:9"}  # refused before the engine is asked
    result = run_faktctl("dashboard", "--address", address, "--port", "0", cwd=tmp_path, env=env)
    assert result.code == 2, result.output
    assert "dashboard_exposure is `internal`" in result.stderr and "--allow-remote" in result.stderr
    allowed = run_faktctl(
        "dashboard", "--address", address, "--allow-remote", cwd=tmp_path, env=env
    )
    assert allowed.code != 2 and "engine" in allowed.stderr  # got past the check
