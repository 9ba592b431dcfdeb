"""Finding a project's containers on the engine: the one lookup `up`/`down`/`status`, backup,
restore, logs and `audit --live` share.

A project's containers are those `faktctl up` labelled with io.faktctl.project; when there is
none, those `docker compose up` started from a rendered compose.yaml (compose labels them with
com.docker.compose.project, and `faktctl render` names the compose project after the spec's
project). Pure apart from the two label queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from faktctl import labels
from faktctl.faktory.server import SERVER_SERVICE

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import RawDict

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"

Launcher = Literal["faktctl", "compose"]
Role = Literal["server", "worker"]


class ContainerSource(Protocol):
    """What the lookup needs from the engine (faktctl.adapters.docker.engine.Engine)."""

    def containers(self, labels: Mapping[str, str], all: bool = True) -> list[RawDict]: ...


@dataclass(frozen=True)
class ProjectContainers:
    """The containers of one project, sorted by name, and who started them."""

    project: str
    launched_by: Launcher | None  # None: no container at all
    containers: tuple[RawDict, ...]
    # carry the project's label but do not look like faktctl's own (labels.not_own_container):
    # (name, why); never taken as the project's server or workers, never removed
    strangers: tuple[tuple[str, str], ...] = ()

    def with_role(self, role: Role) -> list[RawDict]:
        return [c for c in self.containers if role_of(c) == role]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name_of(c) for c in self.containers)


def _tags(raw: Mapping[str, Any]) -> Mapping[str, str]:
    return (raw.get("Config") or {}).get("Labels") or {}


def name_of(raw: Mapping[str, Any]) -> str:
    return str(raw.get("Name", "")).lstrip("/") or str(raw.get("Id", ""))[:12]


def service_of(raw: Mapping[str, Any]) -> str:
    """The spec's service name: faktctl's label, else compose's."""
    tags = _tags(raw)
    return str(tags.get(labels.SERVICE) or tags.get(COMPOSE_SERVICE) or "")


def replica_of(raw: Mapping[str, Any]) -> str | None:
    tags = _tags(raw)
    return tags.get(labels.REPLICA) or tags.get(COMPOSE_NUMBER)


def role_of(raw: Mapping[str, Any]) -> Role:
    """faktctl's role label; a compose container is the server when its service is the
    rendered server's service."""
    role = _tags(raw).get(labels.ROLE)
    if role in ("server", "worker"):
        return "server" if role == "server" else "worker"
    return "server" if service_of(raw) == SERVER_SERVICE else "worker"


def launched_by(raw: Mapping[str, Any]) -> Launcher | None:
    tags = _tags(raw)
    if labels.PROJECT in tags:
        return "faktctl"
    return "compose" if COMPOSE_PROJECT in tags else None


def find(
    engine: ContainerSource,
    project: str,
    *,
    extra: Mapping[str, str] | None = None,
    all: bool = True,
) -> ProjectContainers:
    """The project's containers (running or not, unless all=False), each carrying every
    `extra` label too: faktctl's when there are any, else compose's."""
    more = dict(extra or {})
    found = engine.containers({labels.PROJECT: project, **more}, all=all)
    own, strangers = split_strangers(found, project, name_of, _tags)
    if own:
        return ProjectContainers(project, "faktctl", _sorted(own), strangers)
    composed = engine.containers({COMPOSE_PROJECT: project, **more}, all=all)
    launcher: Launcher | None = "compose" if composed else None
    return ProjectContainers(project, launcher, _sorted(composed), strangers)


def split_strangers(
    found: list[RawDict],
    project: str,
    name: Any,
    tags: Any,
) -> tuple[list[RawDict], tuple[tuple[str, str], ...]]:
    """faktctl's own containers among those with the project's label, and the others with
    why they do not look like its own."""
    own, strangers = [], []
    for raw in found:
        why = labels.not_own_container(name(raw), tags(raw), project)
        if why is None:
            own.append(raw)
        else:
            strangers.append((name(raw), why))
    return own, tuple(strangers)


class SummarySource(Protocol):
    def summaries(self, labels: Mapping[str, str] | None = None) -> list[RawDict]: ...


def find_summaries(engine: SummarySource, project: str) -> tuple[Launcher | None, list[RawDict]]:
    """`find` from the engine's list summaries (no inspect per container): who started the
    project's containers, and their summaries."""
    found, _ = split_strangers(
        engine.summaries({labels.PROJECT: project}),
        project,
        summary_name,
        lambda raw: raw.get("Labels") or {},
    )
    if found:
        return "faktctl", found
    composed = engine.summaries({COMPOSE_PROJECT: project})
    return ("compose" if composed else None), composed


def summary_name(raw: Mapping[str, Any]) -> str:
    names = raw.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(raw.get("Id", ""))[:12]


def _sorted(found: list[RawDict]) -> tuple[RawDict, ...]:
    return tuple(sorted(found, key=lambda c: str(c.get("Name", ""))))
