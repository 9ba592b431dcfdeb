"""Label keys faktctl puts on every engine object it owns; the engine is searched by these.

The ownership labels and the config fingerprint are written here once: both are stored on
running containers and swarm services, and a second copy that drifted would make every
deployment look changed (and be recreated) on the next `up`.
"""

from __future__ import annotations

import hashlib
import json
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
