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


SWARM_SERVICE_ID = "com.docker.swarm.service.id"  # a swarm task's container: named by the swarm


def container_name(project: str, service: str, replica: int | str) -> str:
    """The name `faktctl up` gives a container (the engine keeps names unique)."""
    return f"{project}-{service}-{replica}"


def not_own_container(name: str, tags: Mapping[str, str] | None, project: str) -> str | None:
    """Why a container that carries the project's label does not look like one `faktctl up`
    made (anyone can put labels on a container; only one can hold the name faktctl gives),
    or None when it does. A swarm task's container is named by the swarm: not judged here."""
    tags = tags or {}
    if tags.get(SWARM_SERVICE_ID):
        return None
    if not owns(tags, project):
        return f"it lacks the label {MANAGED}=true"
    service, replica = tags.get(SERVICE), tags.get(REPLICA)
    if not service or not replica:
        return f"it lacks the {SERVICE} or {REPLICA} label"
    expected = container_name(project, service, replica)
    if name != expected:
        return f"it is not named {expected}, as faktctl names that container"
    return None


def of_service(project: str, service: str, role: str) -> dict[str, str]:
    """The labels of a service's containers (and of a swarm service), without its fingerprint."""
    return {**owned(project), SERVICE: service, ROLE: role}


def config_fingerprint(config: Any) -> str:
    """sha256 hex of `config`'s canonical JSON (sorted keys, no spaces, other types as str).

    The value stored under CONFIG_HASH, and (cut short) each digest under CONFIG_PARTS."""
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# The annotation a Secret carries when a kustomize secretGenerator made it from files (faktctl's
# Kubernetes render sets it through generatorOptions; the audit also marks the Secrets it makes
# from a kustomization): its value sits in a git-ignored file, never in a manifest, so a
# `kustomize build` of that render is no committed password.
GENERATED_FROM = "faktctl.io/generated-from"
# Throwaway helper containers (backup verify, restore, upgrade, the version guard) carry these
# two, never PROJECT: `up` does not take them for the project's own; `up`, `down` and the
# `--resume` of upgrade and restore find a leftover one by them.
JOB = "io.faktctl.job"
JOB_OF = "io.faktctl.backup-of"  # the project the helper works for
