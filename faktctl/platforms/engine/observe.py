"""Observed state: one snapshot of the engine, taken before planning.

`parse_container` turns a raw inspect dict into an `ObservedContainer`, `parse_summary` does the
same for one entry of the engine's container list (pure, unit-tested); `take_snapshot` and
`summary_snapshot` are the only functions here that talk to the engine.

A summary snapshot is one list query for every container of the project: enough for the plan,
`down` and `status`, without the restart count or the exact start time (`detailed` is False).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from faktctl import labels
from faktctl.desired import Desired, Publish
from faktctl.errors import UsageError
from faktctl.live import containers

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import ReadEngine
    from faktctl.adapters.docker.engine import Engine

RUNNING_STATES = ("running", "restarting")
_T = TypeVar("_T")
SNAPSHOT_PARALLEL = 8  # engine look-ups side by side (the adapter's connection pool is larger)


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
    detailed: bool = True  # False: from the list summary (restart count, start time unknown)
    status_text: str = ""  # the engine's own words, e.g. "Up 5 minutes (healthy)" (summaries)

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
    # volumes of the spec's names that exist without faktctl's labels for this project
    # (labels.owns): never removed, and used by `up` only when adopted (--adopt-volume)
    foreign_volumes: frozenset[str] = frozenset()

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


_HEALTH_IN_STATUS = {"(healthy)": "healthy", "(unhealthy)": "unhealthy"}
_EXIT_IN_STATUS = re.compile(r"^Exited \((-?\d+)\)")


def health_from_status(status: str) -> str | None:
    """The health the engine folds into a summary's Status text, None without a healthcheck."""
    if "(health: starting)" in status:
        return "starting"
    return next((health for word, health in _HEALTH_IN_STATUS.items() if word in status), None)


def _summary_ports(raw: Mapping[str, Any]) -> tuple[Publish, ...]:
    found = {
        Publish(int(port["PrivatePort"]), str(port.get("IP") or "0.0.0.0"), int(port["PublicPort"]))
        for port in raw.get("Ports") or []
        if port.get("PublicPort") and port.get("Type", "tcp") == "tcp"
    }
    return tuple(sorted(found, key=lambda p: (p.container_port, p.host_ip)))


def _stop_grace(parts: Mapping[str, Any]) -> int | None:
    value = parts.get("stop_grace")
    return int(value) if isinstance(value, int) else None


def parse_summary(raw: Mapping[str, Any]) -> ObservedContainer:
    """An entry of the engine's container list -> ObservedContainer (restart count and start
    time are unknown; the stop grace comes from the config-parts label faktctl wrote)."""
    tags = raw.get("Labels") or {}
    names = raw.get("Names") or [""]
    status = str(raw.get("Status") or "")
    exited = _EXIT_IN_STATUS.match(status)
    networks = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    parts = _parts(tags.get(labels.CONFIG_PARTS))
    return ObservedContainer(
        id=str(raw["Id"]),
        name=str(names[0]).lstrip("/"),
        service=str(tags.get(labels.SERVICE, "")),
        replica=_replica(tags.get(labels.REPLICA)),
        config_hash=tags.get(labels.CONFIG_HASH),
        config_parts=parts,
        image_ref=str(raw.get("Image", "")),
        image_id=str(raw.get("ImageID", "")),
        state=str(raw.get("State") or "unknown"),
        health=health_from_status(status),
        restart_count=0,
        exit_code=int(exited.group(1)) if exited else None,
        started_at=None,
        ports=_summary_ports(raw),
        ip_addresses={
            name: str(net.get("IPAddress"))
            for name, net in networks.items()
            if net and net.get("IPAddress")
        },
        stop_timeout_s=_stop_grace(parts),
        detailed=False,
        status_text=status,
    )


def stop_grace_known(container: ObservedContainer) -> bool:
    """Whether a summary's stop grace can be trusted: faktctl's label records it (None there
    means the engine's default)."""
    return container.detailed or "stop_grace" in container.config_parts


def with_exact_stop_grace(engine: ReadEngine, observed: Observed, server_service: str) -> Observed:
    """A summary snapshot with the server's containers, and any whose stop grace no label
    records, inspected: their grace period comes from the engine itself."""
    unsure = [
        c.id for c in observed.containers if c.service == server_service or not stop_grace_known(c)
    ]
    exact = {c.id: c for c in in_parallel(partial(inspected, engine), unsure) if c is not None}
    containers = tuple(
        exact.get(c.id, c) for c in observed.containers if c.id not in unsure or c.id in exact
    )
    return replace(observed, containers=containers)


def needs_inspect(container: ObservedContainer) -> bool:
    """Whether a summary is not enough for `up`: a container that is not running, or has run
    for seconds only (it may be crash-looping: `up` wants its restart count), or whose stop
    grace no label records."""
    if container.detailed:
        return False
    short = "second" in container.status_text  # "Up 3 seconds", "Up Less than a second"
    return container.state != "running" or short or not stop_grace_known(container)


def up_snapshot(engine: Engine, desired: Desired) -> Observed:
    """One list query, then an inspect only of the server's containers (the version guard
    reads the image reference it was created from) and of those `needs_inspect` picks: what
    `up` plans and checks with, without inspecting a hundred settled replicas."""
    observed = summary_snapshot(engine, desired)
    server = desired.server.name
    unsure = [c.id for c in observed.containers if c.service == server or needs_inspect(c)]
    exact = {c.id: c for c in in_parallel(partial(inspected, engine), unsure) if c is not None}
    containers = tuple(
        exact.get(c.id, c) for c in observed.containers if c.id not in unsure or c.id in exact
    )
    return replace(observed, containers=containers)


def _sorted(containers: Iterable[ObservedContainer]) -> tuple[ObservedContainer, ...]:
    return tuple(sorted(containers, key=lambda c: (c.service, c.replica or 0, c.name)))


def take_snapshot(engine: ReadEngine, desired: Desired, images: bool = True) -> Observed:
    """Containers by project label (each inspected); network, volumes and images by the names
    the spec uses."""
    return _snapshot(engine, desired, images, detailed=True)


def summary_snapshot(engine: ReadEngine, desired: Desired, images: bool = True) -> Observed:
    """Like take_snapshot, from one list query for the containers (no inspect per container),
    with the network, volume and image look-ups side by side with it."""
    return _snapshot(engine, desired, images, detailed=False)


def _snapshot(engine: ReadEngine, desired: Desired, images: bool, detailed: bool) -> Observed:
    references = sorted({s.image for s in desired.services}) if images else []
    with ThreadPoolExecutor(max_workers=SNAPSHOT_PARALLEL) as pool:
        found = pool.submit(_containers, engine, desired.project, detailed)
        network = pool.submit(_network, engine, desired)
        volumes = {v.name: pool.submit(engine.volume, v.name) for v in desired.volumes}
        image_ids = {ref: pool.submit(_image_id, engine, ref) for ref in references}
        mine, compose_started = found.result()
        existing = {name: got.result() for name, got in volumes.items()}
        return Observed(
            desired.project,
            mine,
            network.result(),
            frozenset(name for name, raw in existing.items() if raw is not None),
            {ref: found.result() for ref, found in image_ids.items()},
            compose_started,
            frozenset(
                name
                for name, raw in existing.items()
                if raw is not None and not labels.owns(raw.get("Labels"), desired.project)
            ),
        )


def _containers(
    engine: ReadEngine, project: str, detailed: bool
) -> tuple[tuple[ObservedContainer, ...], tuple[str, ...]]:
    """faktctl's containers of the project, and the names of those compose started (when
    faktctl has none), as `containers.find` decides."""
    if detailed:
        found = containers.find(engine, project)
        if found.launched_by == "compose":
            return (), found.names
        return _sorted(parse_container(raw) for raw in found.containers), ()
    launcher, summaries = containers.find_summaries(engine, project)
    if launcher == "compose":
        return (), tuple(sorted(containers.summary_name(raw) for raw in summaries))
    return _sorted(parse_summary(raw) for raw in summaries), ()


def inspected(engine: ReadEngine, container_id: str) -> ObservedContainer | None:
    """One container, inspected; None when it was removed meanwhile."""
    from faktctl.adapters.docker.api import ObjectNotFound

    try:
        return parse_container(engine.inspect(container_id))
    except ObjectNotFound:
        return None


def _network(engine: ReadEngine, desired: Desired) -> ObservedNetwork | None:
    network_raw = engine.network(desired.network)
    if network_raw is None:
        return None
    network_labels = network_raw.get("Labels") or {}
    return ObservedNetwork(
        name=desired.network,
        id=str(network_raw["Id"]),
        managed=labels.owns(network_labels, desired.project),
    )


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


def _image_id(engine: ReadEngine, reference: str) -> str | None:
    found = engine.image(reference)
    return str(found["Id"]) if found is not None else None


def in_parallel(work: Callable[[str], _T], keys: Iterable[str]) -> list[_T]:
    """Run a per-container engine look-up over keys, a few at a time; results in key order."""
    keys = list(keys)
    if len(keys) <= 1:
        return [work(key) for key in keys]
    with ThreadPoolExecutor(max_workers=min(SNAPSHOT_PARALLEL, len(keys))) as pool:
        return list(pool.map(work, keys))
