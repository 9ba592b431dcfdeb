"""A non-editable install carries the templates and works outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.paths import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    proc = subprocess.run(
        [*pip_wheel, "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stderr}")
    (built,) = out.glob("faktctl-*.whl")
    return built


def test_wheel_ships_the_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("compose.yaml.j2", "env.j2", "faktory.yaml.j2"):
        assert f"faktctl/templates/{template}" in names
    assert any(name.endswith("entry_points.txt") for name in names)


def test_installed_wheel_finds_its_templates_outside_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )
    project = tmp_path / "project"
    project.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "NO_COLOR": "1"}

    def faktctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "faktctl", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import faktctl.platforms.compose as r; print(r.templates_dir())"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert where.stdout.strip().startswith(str(target))
    assert faktctl("--version").stdout.startswith("faktctl ")
    assert faktctl("init", "--yes").returncode == 0
    rendered = faktctl("render")
    assert rendered.returncode == 0, rendered.stderr
    assert (project / "compose.yaml").is_file()
