"""Observed state: one snapshot of the engine, taken before planning.

`parse_container` turns a raw inspect dict into an `ObservedContainer` (pure, unit-tested);
`take_snapshot` is the only function here that talks to the engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faktctl import containers, labels
from faktctl.desired import Desired, Publish
from faktctl.errors import UsageError

if TYPE_CHECKING:
    from faktctl.adapters.docker_engine import Engine

RUNNING_STATES = ("running", "restarting")


@dataclass(frozen=True)
class ObservedContainer:
    id: str
    name: str
    service: str
    replica: int | None
    config_hash: str | None
    config_parts: Mapping[str, Any]
    image_ref: str
    image_id: str
    state: str  # created | running | restarting | paused | exited | dead | removing
    health: str | None  # starting | healthy | unhealthy, or None without a healthcheck
    restart_count: int
    exit_code: int | None
    started_at: datetime | None
    ports: tuple[Publish, ...]
    ip_addresses: Mapping[str, str]  # network name -> address
    stop_timeout_s: int | None

    @property
    def is_running(self) -> bool:
        return self.state in RUNNING_STATES

    def uptime_s(self, now: datetime) -> float | None:
        if not self.is_running or self.started_at is None:
            return None
        return max(0.0, (now - self.started_at).total_seconds())


@dataclass(frozen=True)
class ObservedNetwork:
    name: str
    id: str
    managed: bool  # carries faktctl's project label


@dataclass(frozen=True)
class Observed:
    project: str
    containers: tuple[ObservedContainer, ...]
    network: ObservedNetwork | None
    volumes: frozenset[str]
    image_ids: Mapping[str, str | None] = field(default_factory=dict)  # reference -> local id
    # names of the project's containers `docker compose up` started (no faktctl labels): faktctl
    # never plans for them, and `up` refuses to start a second copy beside them
    compose_started: tuple[str, ...] = ()

    def of_service(self, service: str) -> tuple[ObservedContainer, ...]:
        return tuple(c for c in self.containers if c.service == service)


def parse_time(text: str | None) -> datetime | None:
    """Engine timestamps have nanoseconds and a Z; the zero time means "never"."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        moment = datetime.fromisoformat(head + (f".{fraction}" if fraction else ""))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC)


def published_ports(raw: Mapping[str, Any]) -> tuple[Publish, ...]:
    """The TCP ports a container publishes (those it asked for, until it runs), in order."""
    running = (raw.get("NetworkSettings") or {}).get("Ports") or {}
    configured = (raw.get("HostConfig") or {}).get("PortBindings") or {}
    found = []
    for key, bindings in sorted((running or configured).items()):
        port_text, _, protocol = key.partition("/")
        if protocol not in ("", "tcp"):
            continue
        for binding in bindings or []:
            host_port = str(binding.get("HostPort") or "")
            if host_port.isdigit():
                host_ip = binding.get("HostIp") or "0.0.0.0"
                found.append(Publish(int(port_text), host_ip, int(host_port)))
    return tuple(sorted(set(found), key=lambda p: (p.container_port, p.host_ip)))


def _replica(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and int(text) > 0 else None


def _parts(text: str | None) -> Mapping[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def parse_container(raw: Mapping[str, Any]) -> ObservedContainer:
    config = raw.get("Config") or {}
    state = raw.get("State") or {}
    tags = config.get("Labels") or {}
    networks = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    stop_timeout = config.get("StopTimeout")
    return ObservedContainer(
        id=str(raw["Id"]),
        name=str(raw.get("Name", "")).lstrip("/"),
        service=containers.service_of(raw),
        replica=_replica(containers.replica_of(raw)),
        config_hash=tags.get(labels.CONFIG_HASH),
        config_parts=_parts(tags.get(labels.CONFIG_PARTS)),
        image_ref=str(config.get("Image", "")),
        image_id=str(raw.get("Image", "")),
        state=str(state.get("Status", "unknown")),
        health=(state.get("Health") or {}).get("Status"),
        restart_count=int(raw.get("RestartCount") or 0),
        exit_code=state.get("ExitCode"),
        started_at=parse_time(state.get("StartedAt")),
        ports=published_ports(raw),
        ip_addresses={
            name: str(net.get("IPAddress"))
            for name, net in networks.items()
            if net and net.get("IPAddress")
        },
        stop_timeout_s=int(stop_timeout) if stop_timeout is not None else None,
    )


def take_snapshot(engine: Engine, desired: Desired, images: bool = True) -> Observed:
    """Containers by project label; network, volumes and images by the names the spec uses."""
    found = containers.find(engine, desired.project)
    mine = found.containers if found.launched_by == "faktctl" else ()
    compose_started = found.names if found.launched_by == "compose" else ()
    parsed = tuple(
        sorted(
            (parse_container(raw) for raw in mine),
            key=lambda c: (c.service, c.replica or 0, c.name),
        )
    )
    network_raw = engine.network(desired.network)
    network = None
    if network_raw is not None:
        network_labels = network_raw.get("Labels") or {}
        network = ObservedNetwork(
            name=desired.network,
            id=str(network_raw["Id"]),
            managed=network_labels.get(labels.PROJECT) == desired.project,
        )
    volumes = frozenset(v.name for v in desired.volumes if engine.volume(v.name) is not None)
    references = sorted({s.image for s in desired.services}) if images else []
    image_ids = {ref: _image_id(engine, ref) for ref in references}
    return Observed(desired.project, parsed, network, volumes, image_ids, compose_started)


def refuse_compose_started(observed: Observed) -> None:
    """UsageError when `docker compose up` runs this project: faktctl would start a second
    server beside it (and clash on its names and ports)."""
    if observed.compose_started:
        raise UsageError(
            f"project `{observed.project}` was started by docker compose "
            f"({', '.join(observed.compose_started)})",
            "keep managing it with `docker compose`, or stop it with `docker compose down` "
            "before `faktctl up` takes over",
        )


def _image_id(engine: Engine, reference: str) -> str | None:
    found = engine.image(reference)
    return str(found["Id"]) if found is not None else None
