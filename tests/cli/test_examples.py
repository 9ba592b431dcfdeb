"""Every example spec loads, renders, and passes docker compose v2's own validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.paths import EXAMPLES
from tests.support.cli import run_faktctl
from tests.support.compose import config_problems

SPECS = sorted(p.parent.name for p in EXAMPLES.glob("*/faktory.yaml"))


def test_the_examples_exist() -> None:
    assert {"minimal", "polyglot"} <= set(SPECS)


@pytest.mark.parametrize("name", SPECS)
def test_example_loads_and_renders(tmp_path: Path, name: str) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("go-worker"))
    (tmp_path / "examples" / "go-worker").mkdir()
    folder = tmp_path / "examples" / name
    secrets = folder / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "faktory_password").write_text("example-password-that-is-long-enough\n")

    result = run_faktctl("render", cwd=folder)
    assert result.code == 0, result.output
    compose = yaml.safe_load((folder / "compose.yaml").read_text())
    assert "faktory" in compose["services"]
    assert run_faktctl("render", "--check", cwd=folder).code == 0
    assert config_problems(folder) == ""


def test_polyglot_sizes_its_workers_differently(tmp_path: Path) -> None:
    from faktctl.spec.load import load_spec

    spec = load_spec(EXAMPLES / "polyglot" / "faktory.yaml").spec
    memories = {worker.name: worker.resources.memory for worker in spec.workers}
    assert len(set(memories.values())) == len(memories) == 2
    assert all(worker.build is not None for worker in spec.workers)
