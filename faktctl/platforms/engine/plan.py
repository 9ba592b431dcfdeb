"""Desired x observed -> plan: what `up` (and `down`) will do, each step with a reason.

Pure: no engine, no file system, no clock. The executor (faktctl.platforms.engine.apply) applies a
plan and
decides nothing; `up --dry-run` prints `Plan.lines()`, and `status` reports the same lines as
drift.

Rules:
- The config-hash label decides recreation; the config-parts label (image + per-field
  digests) only explains it. Replicas never force a recreate: they scale.
- A container whose image reference still matches but whose local image changed (re-pulled or
  rebuilt under the same tag) is recreated too.
- The server's password lives in a file it reads at start, so a changed password (or password
  file) recreates the server; workers see it through FAKTORY_URL in their config hash.
- Order: network and volumes, orphans, the server, a wait until it is healthy, then workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from faktctl import labels
from faktctl.desired import Desired, ServiceRequest
from faktctl.errors import OperationFailed
from faktctl.platforms.engine.observe import Observed, ObservedContainer
from faktctl.secretvalue import fingerprint

ActionKind = Literal[
    "create",
    "recreate",
    "start",
    "scale up",
    "scale down",
    "remove orphan",
    "wait",
    "noop",
    "remove",
]
PullPolicy = Literal["missing", "always", "never"]
PULL_POLICIES: tuple[PullPolicy, ...] = ("missing", "always", "never")
DEFAULT_WORKER_STOP_S = 10
STARTING_KINDS = frozenset({"create", "recreate", "start", "scale up"})
BUILD_TAG_PREFIX = "build-"


@dataclass(frozen=True)
class ContainerRef:
    """An existing container an action touches."""

    id: str
    name: str
    replica: int | None
    stop_timeout_s: int


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    target: str  # a service name, or "network NAME" / "volume NAME"
    reason: str
    service: str | None = None
    remove: tuple[ContainerRef, ...] = ()  # stop (gracefully) and remove
    start: tuple[ContainerRef, ...] = ()  # start as they are
    create: tuple[int, ...] = ()  # replica numbers to create

    def text(self) -> str:
        return f"{self.kind} {self.target}: {self.reason}"

    @property
    def starts_containers(self) -> bool:
        return self.kind in STARTING_KINDS


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]

    @property
    def up_to_date(self) -> bool:
        return all(action.kind == "noop" for action in self.actions)

    @property
    def changes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind not in ("noop", "wait"))

    def lines(self) -> list[str]:
        return [action.text() for action in self.actions]


def container_name(project: str, service: str, replica: int) -> str:
    return labels.container_name(project, service, replica)


# --- config parts: what the labels remember so a recreate can be explained ----------------------


def _digest(value: Any) -> str:
    return labels.config_fingerprint(value)[:12]


def secrets_digest(desired: Desired) -> str:
    """Digest of the server's secret files and the password (via FAKTORY_URL's value)."""
    files = [(s.name, s.host_path, s.target) for s in desired.secrets]
    values = [fingerprint(value) for _, value in desired.env_file]
    return _digest([files, values])


def dashboard_digest(desired: Desired) -> str | None:
    """Digest of the separate dashboard password (the content of the conf.d file the server
    reads at start), or None when the server has none."""
    if desired.dashboard_password is None:
        return None
    return _digest(fingerprint(desired.dashboard_password))


def config_parts(desired: Desired, service: ServiceRequest) -> dict[str, Any]:
    """The image plus a short digest per field: enough to say what changed, nothing secret."""
    data = asdict(service)
    parts: dict[str, Any] = {
        "image": service.image,
        "command": _digest(data["command"]),
        "env": {"names": list(service.env_names), "values": _digest(service.env_without_secrets())},
        "mounts": _digest(data["mounts"]),
        "ports": _digest(data["ports"]),
        "restart": service.restart,
        "healthcheck": _digest(data["healthcheck"]),
        "stop_grace": service.stop_grace_s,
        "limits": _digest([service.memory_bytes, service.cpus]),
        "depends": _digest(data["depends_on_healthy"]),
    }
    if service.files_digest:  # TLS files, read once at start
        parts["tls files"] = _digest(service.files_digest)
    if service.stop_signal is not None:
        parts["stop_signal"] = service.stop_signal
    if service.role == "server":
        parts["secrets"] = secrets_digest(desired)
        dashboard = dashboard_digest(desired)
        if dashboard is not None:
            parts["dashboard"] = dashboard
    return parts


_PART_NAMES = {
    "command": "command",
    "mounts": "mounts",
    "ports": "published ports",
    "restart": "restart policy",
    "healthcheck": "healthcheck",
    "stop_grace": "stop grace period",
    "limits": "resource limits",
    "depends": "dependencies",
    "tls files": "tls files",
    "stop_signal": "stop signal",
}


def _repository(reference: str) -> str:
    if "@" in reference:
        return reference.split("@", 1)[0]
    repository, sep, tag = reference.rpartition(":")
    return repository if sep and "/" not in tag else reference


def _tag(reference: str) -> str:
    repository = _repository(reference)
    return reference[len(repository) :].lstrip(":@") or "latest"


def describe_image_change(old: str, new: str) -> str:
    if _repository(old) == _repository(new):
        return f"image {_tag(old)} → {_tag(new)}"
    return f"image {old} → {new}"


def _env_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    old_names, new_names = list(old.get("names", [])), list(new.get("names", []))
    added = [name for name in new_names if name not in old_names]
    removed = [name for name in old_names if name not in new_names]
    if added or removed:
        changes = [f"+{name}" for name in added] + [f"-{name}" for name in removed]
        return "environment " + " ".join(changes)
    if old.get("values") != new.get("values"):
        return "environment values"
    return None


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human names of the parts that differ (empty when the old parts are unknown)."""
    if not old:
        return []
    changes = []
    if old.get("image") != new.get("image"):
        changes.append(describe_image_change(str(old.get("image")), str(new["image"])))
    env = _env_change(old.get("env") or {}, new["env"])
    if env:
        changes.append(env)
    changes += [label for key, label in _PART_NAMES.items() if old.get(key) != new.get(key)]
    return changes


# --- images -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageAction:
    kind: Literal["pull", "build"]
    reference: str
    reason: str
    service: str | None = None
    context: str | None = None
    dockerfile: str | None = None
    also_tag: str | None = None  # the name the spec gives a built image

    def text(self) -> str:
        if self.kind == "build":
            return f"build {self.service}: {self.reference} ({self.reason})"
        return f"pull {self.reference}: {self.reason}"


class ImageNotAllowed(OperationFailed):
    """--pull never, and an image is not present locally."""


def build_tag(service: ServiceRequest, context_digest: str) -> str:
    """Built images are tagged by the digest of their context: same inputs, same tag."""
    return f"{_repository(service.image)}:{BUILD_TAG_PREFIX}{context_digest[:12]}"


def with_build_tags(desired: Desired, digests: Mapping[str, str]) -> Desired:
    """The desired state with every `build:` service pointing at its content-tagged image."""
    services = tuple(
        replace(s, image=build_tag(s, digests[s.name])) if s.build is not None else s
        for s in desired.services
    )
    return replace(desired, services=services)


def plan_images(
    desired: Desired,
    digests: Mapping[str, str],
    present: Mapping[str, str | None],
    policy: PullPolicy,
) -> tuple[ImageAction, ...]:
    """What to pull or build before any container is touched.

    `desired` is the spec's (untagged) state; `present` maps references to local image ids.
    """
    actions: list[ImageAction] = []
    refused: list[str] = []
    seen: set[str] = set()
    for service in desired.services:
        if service.build is not None:
            reference = build_tag(service, digests[service.name])
            if present.get(reference) is None and reference not in seen:
                actions.append(
                    ImageAction(
                        "build",
                        reference,
                        "no image built from this context yet",
                        service=service.name,
                        context=service.build.context,
                        dockerfile=service.build.dockerfile,
                        also_tag=service.image,
                    )
                )
            seen.add(reference)
            continue
        reference = service.image
        if reference in seen:
            continue
        seen.add(reference)
        missing = present.get(reference) is None
        if policy == "always":
            actions.append(ImageAction("pull", reference, "--pull always"))
        elif missing and policy == "missing":
            actions.append(ImageAction("pull", reference, "not present locally"))
        elif missing:
            refused.append(reference)
    if refused:
        raise ImageNotAllowed(
            f"image {', '.join(refused)} is not present locally and --pull never forbids "
            "pulling it",
            "build or load the image first, or use --pull missing",
        )
    return tuple(actions)


# --- containers -------------------------------------------------------------------------------


def _ref(container: ObservedContainer, default_stop_s: int) -> ContainerRef:
    stop = container.stop_timeout_s if container.stop_timeout_s is not None else default_stop_s
    return ContainerRef(container.id, container.name, container.replica, stop)


def _removal(
    kind: ActionKind, service: str, reason: str, group: Iterable[ObservedContainer]
) -> Action:
    """One action that stops (each with its own grace period) and removes a service's
    containers."""
    refs = tuple(_ref(c, DEFAULT_WORKER_STOP_S) for c in group)
    return Action(kind, service, reason, service=service, remove=refs)


def _names(containers: Iterable[ObservedContainer | ContainerRef]) -> str:
    return ", ".join(c.name for c in containers)


def _short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class Wanted:
    """What a service's containers must carry, worked out once per service (not per replica)."""

    config_hash: str
    parts: dict[str, Any]

    @classmethod
    def of(cls, desired: Desired, service: ServiceRequest) -> Wanted:
        return cls(service.config_hash(), config_parts(desired, service))


def why_outdated(
    wanted: Wanted,
    service: ServiceRequest,
    container: ObservedContainer,
    local_image_id: str | None,
) -> str | None:
    """Why this container must be recreated, or None when it matches `wanted`."""
    if container.config_hash != wanted.config_hash:
        changes = describe_changes(container.config_parts, wanted.parts)
        return f"config changed ({', '.join(changes)})" if changes else "config changed"
    secrets = container.config_parts.get("secrets")
    if service.role == "server" and secrets is not None and secrets != wanted.parts["secrets"]:
        return "password or password file changed"
    dashboard = wanted.parts.get("dashboard")
    if dashboard is not None and container.config_parts.get("dashboard") != dashboard:
        return "dashboard password changed"
    if local_image_id and container.image_id and container.image_id != local_image_id:
        return (
            f"image {service.image} changed "
            f"({_short_id(container.image_id)} → {_short_id(local_image_id)})"
        )
    if container.state in ("dead", "removing"):
        return f"{container.name} is {container.state}"
    return None


def _split_by_replica(
    containers: tuple[ObservedContainer, ...], wanted: int
) -> tuple[dict[int, ObservedContainer], list[ObservedContainer]]:
    kept: dict[int, ObservedContainer] = {}
    extra: list[ObservedContainer] = []
    for container in containers:
        replica = container.replica
        if replica is None or replica > wanted or replica in kept:
            extra.append(container)
        else:
            kept[replica] = container
    return kept, extra


def plan_service(desired: Desired, service: ServiceRequest, observed: Observed) -> list[Action]:
    containers = observed.of_service(service.name)
    default_stop = service.stop_grace_s or DEFAULT_WORKER_STOP_S
    kept, extra = _split_by_replica(containers, service.replicas)
    actions: list[Action] = []
    name = service.name
    if extra:
        extra.sort(key=lambda c: -(c.replica or 0))
        actions.append(
            Action(
                "scale down",
                name,
                f"{len(containers)} → {service.replicas} (remove {_names(extra)})",
                service=name,
                remove=tuple(_ref(c, default_stop) for c in extra),
            )
        )
    local_image = observed.image_ids.get(service.image)
    outdated: dict[str, list[ObservedContainer]] = {}
    stopped: list[ObservedContainer] = []
    wanted = Wanted.of(desired, service)
    for replica in sorted(kept):
        container = kept[replica]
        reason = why_outdated(wanted, service, container, local_image)
        if reason is not None:
            outdated.setdefault(reason, []).append(container)
        elif container.state in ("created", "exited"):
            stopped.append(container)
    for reason, group in outdated.items():
        actions.append(
            Action(
                "recreate",
                name,
                reason,
                service=name,
                remove=tuple(_ref(c, default_stop) for c in group),
                create=tuple(c.replica or 0 for c in group),
            )
        )
    if stopped:
        states = ", ".join(f"{c.name} is {c.state}" for c in stopped)
        actions.append(
            Action(
                "start",
                name,
                states,
                service=name,
                start=tuple(_ref(c, default_stop) for c in stopped),
            )
        )
    missing = tuple(n for n in range(1, service.replicas + 1) if n not in kept)
    if missing:
        new_names = ", ".join(container_name(desired.project, name, n) for n in missing)
        if kept:
            kind: ActionKind = "scale up"
            reason = f"{len(kept)} → {service.replicas} (create {new_names})"
        else:
            kind, reason = "create", f"no container (create {new_names})"
        actions.append(Action(kind, name, reason, service=name, create=missing))
    if not actions:
        running = sum(1 for c in kept.values() if c.is_running)
        actions.append(Action("noop", name, f"{running} running, up to date", service=name))
    return actions


def _plan_infrastructure(desired: Desired, observed: Observed) -> list[Action]:
    actions = []
    if observed.network is None:
        actions.append(Action("create", f"network {desired.network}", "missing"))
    for volume in desired.volumes:
        if volume.name not in observed.volumes:
            actions.append(Action("create", f"volume {volume.name}", "missing"))
        elif volume.name in observed.foreign_volumes:
            actions.append(Action("noop", f"volume {volume.name}", adopt_note(volume.name)))
    return actions


def adopt_note(volume: str) -> str:
    """What `up` says about a volume of the spec's name that faktctl did not create."""
    return (
        "exists without faktctl's labels (made by hand or by another tool): `up` uses it as "
        "it is only with --adopt-volume, and `down --volumes` never removes it; or remove it "
        "(`docker volume rm`) and let `up` create a labelled one"
    )


def _plan_orphans(desired: Desired, observed: Observed) -> list[Action]:
    known = {s.name for s in desired.services}
    orphans: dict[str, list[ObservedContainer]] = {}
    for container in observed.containers:
        if container.service not in known:
            orphans.setdefault(container.service or "(unlabelled)", []).append(container)
    return [
        _removal("remove orphan", service, f"not in the spec (remove {_names(group)})", group)
        for service, group in sorted(orphans.items())
    ]


def _starting_health(server: ServiceRequest, observed: Observed) -> str | None:
    """Why a server left as it is must still be waited for (its health check has not passed)."""
    for container in observed.of_service(server.name):
        if container.is_running and container.health == "starting":
            return f"{container.name} is still starting"
    return None


def plan(desired: Desired, observed: Observed) -> Plan:
    """Everything `up` must do to make the engine match the spec, in execution order."""
    server = desired.server
    server_actions = plan_service(desired, server, observed)
    worker_actions = [a for w in desired.workers for a in plan_service(desired, w, observed)]
    actions = _plan_infrastructure(desired, observed) + _plan_orphans(desired, observed)
    actions += server_actions
    workers_start = any(a.starts_containers for a in worker_actions)
    server_starts = any(a.starts_containers for a in server_actions)
    still_starting = _starting_health(server, observed) if not server_starts else None
    if workers_start or server_starts or still_starting:
        reason = "ready (HELLO +OK with the password, /health 200)"
        if still_starting:
            reason += f"; {still_starting}"
        if workers_start:
            reason += " before starting workers"
        actions.append(Action("wait", server.name, reason, service=server.name))
    actions += worker_actions
    return Plan(tuple(actions))


# --- down -------------------------------------------------------------------------------------


def plan_down(
    observed: Observed, server_service: str, volumes: Iterable[str], remove_volumes: bool
) -> Plan:
    """Workers first, then the server (with its grace period), then the network and volumes."""
    workers: dict[str, list[ObservedContainer]] = {}
    servers: list[ObservedContainer] = []
    for container in observed.containers:
        if container.service == server_service:
            servers.append(container)
        else:
            workers.setdefault(container.service, []).append(container)
    actions = [
        _removal("remove", service, f"stop and remove {_names(group)}", group)
        for service, group in sorted(workers.items())
    ]
    if servers:
        grace = max(_ref(c, DEFAULT_WORKER_STOP_S).stop_timeout_s for c in servers)
        reason = f"stop (up to {grace}s for its final save) and remove {_names(servers)}"
        actions.append(_removal("remove", server_service, reason, servers))
    if observed.network is not None and observed.network.managed:
        actions.append(Action("remove", f"network {observed.network.name}", "created by faktctl"))
    for volume in sorted(observed.volumes.intersection(volumes)):
        if volume in observed.foreign_volumes:
            reason = "kept: it lacks faktctl's labels for this project (faktctl did not create it)"
            actions.append(Action("noop", f"volume {volume}", reason))
        elif remove_volumes:
            actions.append(Action("remove", f"volume {volume}", "--volumes: its data is deleted"))
        else:
            actions.append(Action("noop", f"volume {volume}", "kept (use --volumes to delete)"))
    return Plan(tuple(actions))
