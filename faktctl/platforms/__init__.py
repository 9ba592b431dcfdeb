"""The platforms faktctl deploys to, and the one place that reads `spec.platform`.

A platform translates the desired state (faktctl.desired) into its own objects and carries out
what the commands ask of a deployment: `up` (or its dry run), `down`, `status` and `logs`.
- engine/: one Docker engine, containers planned and applied by faktctl itself;
- swarm/: a Docker swarm, one service per server and worker (`platform: swarm`);
- compose.py and kubernetes.py render files for another tool to deploy (`faktctl render`).

The commands ask `platform_of` (or `platform_at`) for the platform of a deployment and call it
(faktctl.platforms.protocol: what each platform does); nothing else reads `spec.platform` (the
spec's own validation aside).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faktctl.platforms.protocol import Platform
    from faktctl.platforms.swarm.lifecycle import SwarmPlatform
    from faktctl.project import Project
    from faktctl.spec.load import LoadedSpec


def platform_of(opened: LoadedSpec | Project) -> Platform:
    """The platform the spec names, bound to that spec (or to the project opened from it)."""
    from faktctl.project import Project

    loaded = opened.loaded if isinstance(opened, Project) else opened
    project = opened if isinstance(opened, Project) else None
    if loaded.spec.platform == "swarm":
        from faktctl.platforms.swarm.lifecycle import SwarmPlatform

        return SwarmPlatform(loaded, project)
    from faktctl.platforms.engine.lifecycle import EnginePlatform

    return EnginePlatform(loaded.path, loaded=loaded, project=project)


def platform_at(file: Path | None) -> Platform:
    """The platform of the spec at `file` (default ./faktory.yaml). When the engine platform
    remembers the spec's desired state (faktctl.platforms.engine.cache, which holds only specs
    of that platform), the spec model is not even loaded: what keeps `status` and `down` fast."""
    from faktctl.platforms.engine import cache
    from faktctl.platforms.engine.lifecycle import EnginePlatform
    from faktctl.spec.locate import find_spec

    spec_path = find_spec(file)
    remembered = cache.lookup(spec_path)
    if remembered is not None:
        return EnginePlatform(spec_path, remembered=remembered)
    from faktctl.spec.load import load_spec  # the spec model: only when the cache cannot answer

    return platform_of(load_spec(spec_path))


def swarm_of(project: Project) -> SwarmPlatform:
    """The swarm platform of a project whose spec must say `platform: swarm`."""
    from faktctl.errors import UsageError
    from faktctl.platforms.swarm.lifecycle import SwarmPlatform

    platform = platform_of(project)
    if not isinstance(platform, SwarmPlatform):
        raise UsageError(
            "`render --target stack` needs `platform: swarm` in the spec",
            "add `platform: swarm` and a swarm section with server_node",
        )
    return platform
