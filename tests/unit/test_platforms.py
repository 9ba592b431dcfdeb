"""The one registry that reads `spec.platform`: which platform a spec gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from faktctl.desired import Secrets, build_desired
from faktctl.errors import UsageError
from faktctl.platforms import platform_of, swarm_of
from faktctl.platforms.engine.lifecycle import EnginePlatform
from faktctl.platforms.swarm.lifecycle import SwarmPlatform
from faktctl.project import Project
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import parse_spec

ENGINE = "project: shop\n"
SWARM = "project: shop\nplatform: swarm\nswarm:\n  server_node: {hostname: node-1}\n"


def _project(text: str) -> Project:
    loaded = parse_spec(text, Path("/srv/shop/faktory.yaml"))
    password = SecretStr("pw")
    return Project(loaded, password, build_desired(loaded, Secrets(password)))


def test_the_spec_names_the_platform() -> None:
    assert isinstance(platform_of(_project(ENGINE)), EnginePlatform)
    assert isinstance(platform_of(_project(ENGINE).loaded), EnginePlatform)
    assert isinstance(platform_of(_project(SWARM)), SwarmPlatform)


def test_a_stack_needs_a_swarm_spec() -> None:
    assert isinstance(swarm_of(_project(SWARM)), SwarmPlatform)
    with pytest.raises(UsageError, match="needs `platform: swarm`"):
        swarm_of(_project(ENGINE))


def test_the_swarm_settings_ride_in_the_desired_state() -> None:
    """The platforms translate the desired state alone: what a swarm needs from the spec is in
    it."""
    engine, swarm = _project(ENGINE).desired, _project(SWARM).desired
    assert engine.swarm is None
    assert swarm.swarm is not None and swarm.swarm.server_constraint == "node.hostname==node-1"
