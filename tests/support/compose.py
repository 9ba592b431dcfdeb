"""Drive `docker-compose` on a folder made by `faktctl render`, with everything it creates
labelled for the session cleanup."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from faktctl import labels

LABELS_FILE = "test-labels.yaml"


def label_override(folder: Path, session_id: str, project: str) -> None:
    """Write an override file that adds only the test label (service, volume, network), so
    what compose creates is removed by label even if the test dies half-way."""
    test_label = {labels.TEST: session_id}
    override = {
        "services": {"faktory": {"labels": test_label}},
        "volumes": {"data": {"name": f"{project}_data", "labels": test_label}},
        "networks": {"default": {"name": f"{project}_default", "labels": test_label}},
    }
    (folder / LABELS_FILE).write_text(yaml.safe_dump(override))


def compose(
    folder: Path, *args: str, timeout: float = 180, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f compose.yaml -f test-labels.yaml ARGS`; with `check`, it must pass."""
    proc = subprocess.run(
        ["docker-compose", "-f", "compose.yaml", "-f", LABELS_FILE, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert proc.returncode == 0, f"docker-compose {' '.join(args)}:\n{proc.stderr}"
    return proc


def config_problems(folder: Path) -> str:
    """What `docker-compose config -q` says about the folder's files; empty when it accepts
    them."""
    proc = subprocess.run(
        ["docker-compose", "config", "-q"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "" if proc.returncode == 0 else proc.stderr or f"exit {proc.returncode}"
