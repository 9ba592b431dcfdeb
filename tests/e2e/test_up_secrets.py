"""A new value in the separate dashboard password file reaches the server on the next `up`.

The server reads the password from a conf.d TOML that faktctl writes beside the password file;
the TOML is only read at start, so a changed password must recreate the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faktctl.adapters import probe
from tests.support.upkit import Deployment, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

FIRST = "first-dashboard-password-0123"
SECOND = "second-dashboard-password-4567"


def _dashboard(deployment: Deployment, password: str) -> int:
    return probe.http_status("127.0.0.1", deployment.dashboard_port, "/", password=password)


def test_a_changed_dashboard_password_recreates_the_server(
    make_deployment: Callable[..., Deployment],
) -> None:
    deployment = make_deployment()
    password_file = deployment.folder / "secrets" / "dashboard_password"
    password_file.write_text(FIRST + "\n")

    def separate_dashboard_password(spec: dict[str, Any]) -> None:
        spec["server"]["dashboard_password_file"] = "secrets/dashboard_password"

    deployment.edit(separate_dashboard_password)
    deployment.up()
    assert _dashboard(deployment, FIRST) == 200
    before = deployment.containers()

    password_file.write_text(SECOND + "\n")
    planned = deployment.faktctl("up", "--dry-run")
    assert planned.code == 0, planned.output
    assert "recreate faktory: dashboard password changed" in planned.stdout.splitlines()
    changed = deployment.up()
    assert "dashboard password changed" in changed.stderr
    assert set(deployment.containers().values()).isdisjoint(before.values())
    assert _dashboard(deployment, SECOND) == 200
    assert _dashboard(deployment, FIRST) == 401
    assert "up to date" in deployment.up().stderr

    for run in deployment.runs:
        assert FIRST not in run.output and SECOND not in run.output
