"""What a platform that builds a Dockerfile (Render's `runtime: docker`, Fly.io's `[build]`,
a compose `build:`) runs: the base image, ENTRYPOINT/CMD and ENV of the final stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from faktctl.audit.model import EnvVar, Location
from faktctl.audit.sources.compose.identify import Dockerfile, read_dockerfile
from faktctl.audit.sources.secretfacts import display


@dataclass
class Built:
    image: str | None  # the final stage's base image
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: dict[str, EnvVar] = field(default_factory=dict)
    problem: str | None = None  # why the Dockerfile tells nothing


def image_env(parsed: Dockerfile) -> dict[str, EnvVar]:
    """The image's ENV as variables written in clear in the Dockerfile (they are baked into
    the image and shown by `docker inspect` of it)."""
    return {
        name: EnvVar(name, value, "literal", f"ENV in {parsed.shown}", Location(parsed.shown, line))
        for name, value, line in parsed.env
    }


def read_built(path: Path) -> Built:
    parsed = read_dockerfile(path.parent, path.name, display)
    return Built(parsed.base, parsed.entrypoint, parsed.cmd, image_env(parsed), parsed.problem)
