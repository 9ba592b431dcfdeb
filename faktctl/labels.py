"""Label keys faktctl puts on every engine object it owns; the engine is searched by these.

The ownership labels and the config fingerprint are written here once: both are stored on
running containers and swarm services, and a second copy that drifted would make every
deployment look changed (and be recreated) on the next `up`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

PROJECT = "io.faktctl.project"
SERVICE = "io.faktctl.service"
ROLE = "io.faktctl.role"  # "server" | "worker"
REPLICA = "io.faktctl.replica"
CONFIG_HASH = "io.faktctl.config-hash"
MANAGED = "io.faktctl.managed"  # always "true"
CONFIG_PARTS = "io.faktctl.config-parts"  # JSON: image and per-field digests, to explain a recreate

# Tests label everything they create with this key (value: the test session id) and remove by it.
TEST = "io.faktctl.test"


def owned(project: str) -> dict[str, str]:
    """The labels of every object a project owns (networks, volumes, secrets, containers)."""
    return {MANAGED: "true", PROJECT: project}


def owns(tags: Mapping[str, str] | None, project: str) -> bool:
    """Whether an engine object with these labels is the project's own: the one ownership
    rule. faktctl removes (`down --volumes`) only what it owns; an object of the project's
    name without both labels (made by hand, or by compose) is someone else's."""
    return tags is not None and tags.get(MANAGED) == "true" and tags.get(PROJECT) == project


def of_service(project: str, service: str, role: str) -> dict[str, str]:
    """The labels of a service's containers (and of a swarm service), without its fingerprint."""
    return {**owned(project), SERVICE: service, ROLE: role}


def config_fingerprint(config: Any) -> str:
    """sha256 hex of `config`'s canonical JSON (sorted keys, no spaces, other types as str).

    The value stored under CONFIG_HASH, and (cut short) each digest under CONFIG_PARTS."""
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
