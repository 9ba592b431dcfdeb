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
