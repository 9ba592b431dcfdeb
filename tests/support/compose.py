"""Drive docker compose v2 (built by tests.support.provision, the CLI most users run) on a folder
made by `faktctl render`, with everything it creates labelled for the session cleanup; and ask
it whether it accepts a compose file (`config -q`), instead of a JSON schema kept elsewhere."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from faktctl import labels
from tests.support.provision import compose_v2

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
    """`docker compose -f compose.yaml -f test-labels.yaml ARGS`; with `check`, it must pass."""
    proc = subprocess.run(
        [str(compose_v2()), "-f", "compose.yaml", "-f", LABELS_FILE, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert proc.returncode == 0, f"docker compose {' '.join(args)}:\n{proc.stderr}"
    return proc


def config_problems(folder: Path, file: str = "compose.yaml", *, resolve: bool = True) -> str:
    """What `docker compose config -q` says about a compose file; empty when it accepts it.

    With `resolve=False` only the file itself is judged: variables stay uninterpolated and
    env files unread (an audit corpus case may name ones that are missing on purpose)."""
    extra = [] if resolve else ["--no-interpolate", "--no-env-resolution"]
    proc = subprocess.run(
        [str(compose_v2()), "-f", file, "config", "-q", *extra],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return "" if proc.returncode == 0 else proc.stderr or f"exit {proc.returncode}"
