"""The facts of one container, as the platforms besides compose and Kubernetes describe it (an
ECS container definition, a Render service, a Fly.io app), turned into the audit model.

Each platform's reader (ecs.py, render.py, fly.py) fills a `Container`; this module decides,
the way compose and Kubernetes do, which containers are Faktory servers (a Faktory image, or a
command that runs the faktory binary) and which are workers (FAKTORY_URL/FAKTORY_PROVIDER),
so the existing checks run unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from faktctl.audit.effective import faktory_args, image_default, reads_faktory_env
from faktctl.audit.model import (
    AuditFacts,
    BackupFacts,
    EnvVar,
    HealthcheckFact,
    InputKind,
    Location,
    MountFact,
    PortFact,
    ServerFacts,
    WorkerFacts,
)
from faktctl.errors import UsageError
from faktctl.faktory.images import parse_image

WORKER_VARS = ("FAKTORY_URL", "FAKTORY_PROVIDER")


@dataclass
class Container:
    name: str
    image: str | None
    entrypoint: tuple[str, ...] | None = None  # None: the image's own
    command: tuple[str, ...] | None = None  # None: the image's own
    env: dict[str, EnvVar] = field(default_factory=dict)
    mounts: list[MountFact] = field(default_factory=list)
    ports: list[PortFact] = field(default_factory=list)
    healthcheck: HealthcheckFact | None = None
    memory_bytes: int | None = None
    stop_grace_s: float | None = None
    user: str | None = None
    restart: str | None = None
    restart_text: str | None = None
    replicas: int = 1
    location: Location | None = None
    locations: dict[str, Location] = field(default_factory=dict)
    # the image's ENTRYPOINT is not known (a custom image): a command alone is not the argv
    entrypoint_unknown: bool = False
    identified_by: str = ""
    # audited as a server, but that could not be confirmed (FKH013 says why)
    unconfirmed: str | None = None

    def argv(self) -> tuple[tuple[str, ...] | None, str]:
        if self.entrypoint is not None:
            return self.entrypoint + (self.command or ()), ""
        if self.command is not None:
            official = self.image is not None and parse_image(self.image).is_faktory
            if self.entrypoint_unknown and not official:
                return None, "a command given to an image whose ENTRYPOINT is not known here"
            return self.command, ""
        default = image_default(self.image)
        return default.argv, default.note

    def is_server(self) -> bool:
        if self.unconfirmed is not None and not _is_worker(self):
            return True
        if self.image is not None and parse_image(self.image).is_faktory:
            return True
        argv, _ = self.argv()
        return argv is not None and faktory_args(argv) is not None


def server_facts(box: Container) -> ServerFacts:
    argv, note = box.argv()
    return ServerFacts(
        service=box.name,
        image=box.image,
        argv=argv,
        argv_note=note,
        user=box.user,
        env=dict(box.env),
        mounts=tuple(box.mounts),
        ports=tuple(box.ports),
        restart=box.restart,
        restart_text=box.restart_text,
        identified_by=box.identified_by,
        unconfirmed=box.unconfirmed,
        healthcheck=box.healthcheck,
        stop_grace_s=box.stop_grace_s,
        memory_bytes=box.memory_bytes,
        replicas=box.replicas,
        reads_faktory_env=reads_faktory_env(box.image),
        location=box.location,
        locations=dict(box.locations),
    )


def worker_facts(box: Container) -> WorkerFacts:
    provider = box.env.get("FAKTORY_PROVIDER")
    if provider is not None and provider.value:
        return WorkerFacts(box.name, box.env.get(provider.value), provider.value, box.location)
    return WorkerFacts(box.name, box.env.get("FAKTORY_URL"), None, box.location)


def audit_facts(
    kind: InputKind,
    display: str,
    what: str,
    boxes: list[Container],
    now: datetime,
    notes: list[str],
) -> AuditFacts:
    """The facts of every container; a UsageError when none is a Faktory server or worker."""
    servers = [server_facts(b) for b in boxes if b.is_server()]
    workers = [worker_facts(b) for b in boxes if not b.is_server() and _is_worker(b)]
    if not servers and not workers:
        names = ", ".join(b.name for b in boxes) or "none"
        raise UsageError(
            f"{display}: no Faktory server or worker in this {what} (containers: {names}; "
            "looked for images named faktory/faktory-ent, a /faktory command, FAKTORY_URL or "
            "FAKTORY_PROVIDER)"
        )
    return AuditFacts(
        kind=kind,
        file=display,
        now=now,
        servers=tuple(servers),
        workers=tuple(workers),
        backup=BackupFacts(False),
        notes=tuple(dict.fromkeys(notes)),
    )


def _is_worker(box: Container) -> bool:
    return any(var in box.env for var in WORKER_VARS)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_FACTOR = {"": 1024**2, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def memory_size(value: object, unit_default: str = "m") -> int | None:
    """`512` (MiB by default), `"1gb"`, `"2048mb"`, `"1g"` -> bytes; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value * _FACTOR[unit_default])
    match = _SIZE.match(str(value))
    if match is None:
        return None
    unit = match.group(2).lower() or unit_default
    return int(float(match.group(1)) * _FACTOR[unit])


def literal_env(
    values: Mapping[str, object], where: Mapping[str, Location | None], detail: str
) -> dict[str, EnvVar]:
    """Variables written in clear in the file."""
    return {
        name: EnvVar(name, "" if value is None else str(value), "literal", detail, where.get(name))
        for name, value in values.items()
    }
