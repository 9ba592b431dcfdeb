"""Backups also work for a deployment started with `docker compose up` from `faktctl render`:
the server is found by compose's project and service labels."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from faktctl import labels
from faktctl.adapters import probe
from tests.support.cli import CliResult, run_faktctl
from tests.support.compose import compose, label_override
from tests.support.local import free_port
from tests.support.producer import Producer, make_job

JOBS = 50
HEALTH_TIMEOUT = 90.0


class Composed:
    def __init__(self, folder: Path, name: str, port: int, session_id: str) -> None:
        self.folder, self.name, self.port, self.session_id = folder, name, port, session_id

    @property
    def password(self) -> str:
        return (self.folder / "secrets" / "faktory_password").read_text().strip()

    def compose(self, *args: str) -> None:
        compose(self.folder, *args)

    def faktctl(self, *args: str) -> CliResult:
        labelled = {"FAKTCTL_EXTRA_LABELS": f"{labels.TEST}={self.session_id}"}
        return run_faktctl(*args, cwd=self.folder, env=labelled, timeout=240)

    def queue(self) -> int:
        with Producer("127.0.0.1", self.port, self.password) as conn:
            return conn.queue_sizes().get("parked", 0)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            try:
                Producer("127.0.0.1", self.port, self.password).close()
                return
            except probe.ProbeError:
                time.sleep(0.5)
        pytest.fail("the composed server did not answer in time")


@pytest.fixture
def composed(tmp_path: Path, faktory_image: str, test_session_id: str) -> Iterator[Composed]:
    name = f"c{uuid.uuid4().hex[:10]}"
    made = Composed(tmp_path, name, free_port(), test_session_id)
    assert made.faktctl("init", "--yes", "--project", name).code == 0
    spec = yaml.safe_load((tmp_path / "faktory.yaml").read_text())
    spec["server"]["image"] = faktory_image
    spec["server"]["ports"] = {"protocol": f"127.0.0.1:{made.port}", "dashboard": None}
    spec["server"]["stop_grace_period"] = "30s"
    (tmp_path / "faktory.yaml").write_text(yaml.safe_dump(spec))
    assert made.faktctl("render").code == 0
    label_override(tmp_path, test_session_id, name)
    made.compose("up", "-d")
    try:
        made.wait_ready()
        yield made
    finally:
        made.compose("down", "-v")


def test_backup_and_restore_of_a_composed_deployment(composed: Composed) -> None:
    with Producer("127.0.0.1", composed.port, composed.password) as conn:
        conn.push_many([make_job("demo.echo", [n], queue="parked") for n in range(JOBS)])
    taken = composed.faktctl("backup")
    assert taken.code == 0, taken.output
    name = Path(taken.stdout.strip()).name.removesuffix(".manifest.json")

    with Producer("127.0.0.1", composed.port, composed.password) as conn:
        conn.command("FLUSH")
    assert composed.queue() == 0

    restored = composed.faktctl("restore", name, "--yes")
    assert restored.code == 0, restored.output
    assert composed.queue() == JOBS
    assert composed.password not in taken.output + restored.output


def test_live_audit_logs_and_up_find_a_composed_deployment(composed: Composed) -> None:
    """The one container lookup: `audit --live` and `logs` see the compose-started server,
    and `up` refuses to start a second one beside it."""
    audited = composed.faktctl("audit", "--live", "--format", "json")
    assert audited.code in (0, 1), audited.output
    document = json.loads(audited.stdout)
    assert document["command"] == "audit"
    server = re.compile(rf"{composed.name}[-_]faktory[-_]1")  # compose v2 or v1 naming
    assert server.search(audited.stdout), audited.stdout
    logs = composed.faktctl("logs", "--tail", "5")
    assert logs.code == 0 and server.search(logs.stdout), logs.output
    up = composed.faktctl("up")
    assert up.code == 2, up.output
    assert "started by docker compose" in up.stderr
    assert composed.password not in audited.output + logs.output + up.output
