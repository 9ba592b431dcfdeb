"""Every audit check, one module per category (plus the live-only checks).

Importing this package registers them all in faktctl.audit.registry.
"""

from faktctl.audit.rules import (
    backup,
    exposure,
    hygiene,
    kubernetes,
    live,
    password,
    persistence,
    production,
    swarm,
    tls,
    versions,
    workers,
)

__all__ = [
    "backup",
    "exposure",
    "hygiene",
    "kubernetes",
    "live",
    "password",
    "persistence",
    "production",
    "swarm",
    "tls",
    "versions",
    "workers",
]
