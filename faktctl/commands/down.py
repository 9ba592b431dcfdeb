"""faktctl down: stop the workers, then the server with its grace period (so Faktory saves its
data), remove the containers and the network; the data volume stays unless --volumes.

The platform the spec names does the work (faktctl.platforms)."""

from __future__ import annotations

from pathlib import Path


def run(file: Path | None, *, volumes: bool, assume_yes: bool) -> int:
    from faktctl.platforms import platform_at

    return platform_at(file).down(volumes=volumes, assume_yes=assume_yes)
