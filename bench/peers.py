"""The peers the benchmarks measure faktctl against.

docker compose v2 is the CLI most users run: v2.40.3 built from its Go module by the test
suite's provisioning (tests/support/provision.py, cached after the first build). The Python
docker-compose v1, when installed, is only reported as a footnote.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.provision import COMPOSE_VERSION, compose_v2  # noqa: E402

COMPOSE_V2_NAME = f"docker compose {COMPOSE_VERSION.removeprefix('v')}"


def compose_v2_command(project: str | None = None, file: str = "compose.yaml") -> list[str]:
    """`compose -f FILE [-p PROJECT]` for the standalone compose v2 binary."""
    command = [str(compose_v2()), "-f", file]
    return [*command, "-p", project] if project else command


def compose_v1() -> str | None:
    """The old Python docker-compose, for footnotes only."""
    return shutil.which("docker-compose")


def faktctl_command() -> list[str]:
    found = shutil.which("faktctl")
    return [found] if found else [sys.executable, "-m", "faktctl"]
