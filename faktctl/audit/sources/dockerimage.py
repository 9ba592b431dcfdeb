"""What a platform that builds a Dockerfile (Render's `runtime: docker`, Fly.io's `[build]`)
runs: the base image, ENTRYPOINT/CMD and ENV of the Dockerfile's final stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from faktctl.audit.model import EnvVar, Location
from faktctl.audit.sources.compose.identify import MAX_DOCKERFILE, dockerfile_env, parse_dockerfile
from faktctl.audit.sources.secretfacts import display


@dataclass
class Built:
    image: str | None  # the final stage's base image
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: dict[str, EnvVar] = field(default_factory=dict)
    problem: str | None = None  # why the Dockerfile tells nothing


def read_built(path: Path) -> Built:
    shown = display(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCKERFILE + 1)
    except OSError as err:
        return Built(None, problem=f"its Dockerfile {shown} cannot be read ({err.strerror})")
    if len(data) > MAX_DOCKERFILE:
        return Built(None, problem=f"its Dockerfile {shown} is larger than 256 KiB")
    text = data.decode("utf-8", errors="replace")
    parsed = parse_dockerfile(text)
    env = {
        name: EnvVar(name, value, "literal", f"ENV in {shown}", Location(shown, line))
        for name, (value, line) in dockerfile_env(text).items()
    }
    return Built(parsed.base, parsed.entrypoint, parsed.cmd, env, parsed.problem)
