"""Swarm objects through the Docker SDK: services, tasks, secrets, overlay networks.

A sibling of docker_engine.py (which keeps containers, images and archives): it reuses that
module's `Engine` connection and its one-line error translation, and turns the pure
`faktctl.platforms.swarm.plan.SwarmService` into the engine's service spec. Service updates always
send
the complete spec (never merged with the current one), so what the plan says is what runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faktctl import labels
from faktctl.adapters.docker.engine import Engine, EngineError, ObjectNotFound, RawDict
from faktctl.errors import OperationFailed
from faktctl.platforms.swarm.plan import Observed, ObservedService, SwarmService
from faktctl.secretvalue import SecretStr

_NS = 1_000_000_000


class NotAManager(OperationFailed):
    """The engine is not a manager of an active swarm."""


@dataclass(frozen=True)
class SwarmInfo:
    node_id: str
    hostname: str


def require_manager(engine: Engine) -> SwarmInfo:
    with engine.doing("reading the engine's swarm state"):
        info = engine.api.info()
    swarm = info.get("Swarm") or {}
    state = swarm.get("LocalNodeState", "inactive")
    if state != "active":
        raise NotAManager(
            f"the engine at {engine.address} is not in a swarm (state: {state}); run "
            "`docker swarm init` there or point DOCKER_HOST at a swarm manager"
        )
    if not swarm.get("ControlAvailable"):
        raise NotAManager(
            f"the engine at {engine.address} is a swarm worker, not a manager; point "
            "DOCKER_HOST at a manager (docker node ls shows them)"
        )
    return SwarmInfo(str(swarm.get("NodeID", "")), str(info.get("Name", "")))


def project_filter(project: str, **extra: str) -> dict[str, list[str]]:
    selector = {labels.MANAGED: "true", labels.PROJECT: project, **extra}
    return {"label": [f"{key}={value}" for key, value in selector.items()]}


# --- observing ----------------------------------------------------------------------------------


def services(engine: Engine, project: str) -> list[RawDict]:
    with engine.doing("listing swarm services"):
        found = engine.api.services(filters=project_filter(project), status=True)  # type: ignore[no-untyped-call]
        return [dict(s) for s in found]


def secrets(engine: Engine, project: str) -> list[RawDict]:
    with engine.doing("listing swarm secrets"):
        return [dict(s) for s in engine.api.secrets(filters=project_filter(project))]


def observe(
    engine: Engine, project: str, network: str, secret_list: list[RawDict] | None = None
) -> Observed:
    """The project's services, secrets (pass `secret_list` when already listed) and network."""
    found = []
    for raw in services(engine, project):
        spec = raw.get("Spec") or {}
        service_labels = spec.get("Labels") or {}
        found.append(
            ObservedService(
                id=str(raw["ID"]),
                name=str(spec.get("Name", "")),
                version=int((raw.get("Version") or {}).get("Index", 0)),
                config_hash=str(service_labels.get(labels.CONFIG_HASH, "")),
                service=str(service_labels.get(labels.SERVICE, "")),
                running=int((raw.get("ServiceStatus") or {}).get("RunningTasks", 0)),
            )
        )
    names = tuple(
        sorted(
            str((raw.get("Spec") or {}).get("Name", ""))
            for raw in (secrets(engine, project) if secret_list is None else secret_list)
        )
    )
    return Observed(
        network=overlay(engine, network) is not None,
        secrets=names,
        services=tuple(sorted(found, key=lambda s: s.name)),
    )


def overlay(engine: Engine, name: str) -> RawDict | None:
    found = engine.network(name)
    if found is not None and found.get("Driver") != "overlay":
        raise EngineError(
            f"network {name} exists with driver {found.get('Driver')}, not overlay; remove it "
            "(`faktctl down` on the single-engine platform) before deploying to the swarm"
        )
    return found


def tasks(engine: Engine, service_id: str) -> list[RawDict]:
    with engine.doing(f"listing tasks of service {service_id[:12]}"):
        return [dict(t) for t in engine.api.tasks(filters={"service": service_id})]  # type: ignore[no-untyped-call]


def inspect_service(engine: Engine, service_id: str) -> RawDict:
    import docker.errors

    with engine.doing(f"inspecting service {service_id[:12]}"):
        try:
            return dict(engine.api.inspect_service(service_id))  # type: ignore[no-untyped-call]
        except docker.errors.NotFound as exc:
            raise ObjectNotFound(f"service {service_id[:12]} is gone") from exc


def nodes(engine: Engine) -> dict[str, str]:
    """Node id -> hostname."""
    with engine.doing("listing swarm nodes"):
        return {
            str(n["ID"]): str((n.get("Description") or {}).get("Hostname", n["ID"][:12]))
            for n in engine.api.nodes()
        }


def node_name_and_address(engine: Engine, node_id: str) -> tuple[str, str]:
    """A node's hostname and the address the swarm reaches it on (either may be empty)."""
    with engine.doing(f"inspecting swarm node {node_id[:12]}"):
        raw = engine.api.inspect_node(node_id)
    hostname = str((raw.get("Description") or {}).get("Hostname", "") or node_id[:12])
    return hostname, str((raw.get("Status") or {}).get("Addr", "") or "")


def replicas_of(raw: RawDict) -> int:
    """A replicated service's desired task count (0 for a global service)."""
    return int(
        (((raw.get("Spec") or {}).get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)
    )


# --- changing -----------------------------------------------------------------------------------


def scale(engine: Engine, service_id: str, replicas: int) -> None:
    """Set a replicated service's task count, every other part of its spec kept as it is."""
    raw = inspect_service(engine, service_id)
    with engine.doing(f"scaling service {service_id[:12]} to {replicas}"):
        engine.api.update_service(
            service_id,
            int((raw.get("Version") or {}).get("Index", 0)),
            mode={"Replicated": {"Replicas": replicas}},
            fetch_current_spec=True,
        )


def create_network(
    engine: Engine, name: str, encrypted: bool, object_labels: Mapping[str, str]
) -> None:
    options = {"encrypted": ""} if encrypted else None
    with engine.doing(f"creating overlay network {name}"):
        engine.api.create_network(
            name,
            driver="overlay",
            attachable=True,
            options=options,
            labels={**object_labels, **engine.labels_to_add},
            check_duplicate=True,
        )


def create_secret(
    engine: Engine, name: str, data: SecretStr, object_labels: Mapping[str, str]
) -> str:
    """A swarm secret holding `data` (its value leaves faktctl here, to the engine)."""
    with engine.doing(f"creating secret {name}"):
        created = engine.api.create_secret(
            name, data.get_secret_value().encode(), labels={**object_labels, **engine.labels_to_add}
        )
    return str(created["ID"])


def remove_secret(engine: Engine, secret_id: str) -> None:
    import docker.errors

    with engine.doing(f"removing secret {secret_id}"):
        try:
            engine.api.remove_secret(secret_id)
        except docker.errors.NotFound:
            return


def remove_service(engine: Engine, service_id: str) -> None:
    import docker.errors

    with engine.doing(f"removing service {service_id[:12]}"):
        try:
            engine.api.remove_service(service_id)  # type: ignore[no-untyped-call]
        except docker.errors.NotFound:
            return


def create_service(engine: Engine, body: RawDict) -> str:
    with engine.doing(f"creating service {body['name']}"):
        created = engine.api.create_service(**body)  # type: ignore[no-untyped-call]
    return str(created["ID"])


def update_service(engine: Engine, service_id: str, version: int, body: RawDict) -> None:
    with engine.doing(f"updating service {body['name']}"):
        engine.api.update_service(service_id, version, **body)


def service_body(
    service: SwarmService, project: str, secret_ids: Mapping[str, str], extra: Mapping[str, str]
) -> RawDict:
    """Keyword arguments of APIClient.create_service / update_service for one service."""
    return {
        "name": service.name,
        "labels": {**service.labels(project), **extra},
        "task_template": _task_template(service, project, secret_ids, extra),
        "mode": {"Replicated": {"Replicas": service.replicas}},
        "update_config": _update_config(service),
        "rollback_config": _rollback_config(service),
        "endpoint_spec": _endpoint(service),
    }


def _task_template(
    service: SwarmService, project: str, secret_ids: Mapping[str, str], extra: Mapping[str, str]
) -> RawDict:
    container: RawDict = {
        "Image": service.image,
        "Env": [f"{name}={value}" for name, value in service.env],
        "Labels": {**service.container_labels(project), **extra},
        "Mounts": [_mount(m, service, extra) for m in service.mounts],
        "Secrets": [
            {
                "SecretID": secret_ids[m.secret],
                "SecretName": m.secret,
                "File": {"Name": m.target, "UID": "0", "GID": "0", "Mode": m.mode},
            }
            for m in service.secrets
        ],
    }
    if service.entrypoint is not None:
        container["Command"] = list(service.entrypoint)
    if service.args is not None:
        container["Args"] = list(service.args)
    if service.stop_grace_s is not None:
        container["StopGracePeriod"] = service.stop_grace_s * _NS
    if service.healthcheck is not None:
        check = service.healthcheck
        container["Healthcheck"] = {
            "Test": list(check.test),
            "Interval": check.interval_s * _NS,
            "Timeout": check.timeout_s * _NS,
            "Retries": check.retries,
            "StartPeriod": check.start_period_s * _NS,
        }
    limits: RawDict = {}
    if service.memory_bytes is not None:
        limits["MemoryBytes"] = service.memory_bytes
    if service.cpus is not None:
        limits["NanoCPUs"] = int(service.cpus * _NS)
    placement: RawDict = {}
    if service.constraints:
        placement["Constraints"] = list(service.constraints)
    if service.spread:
        placement["Preferences"] = [{"Spread": {"SpreadDescriptor": d}} for d in service.spread]
    return {
        "ContainerSpec": container,
        "Resources": {"Limits": limits} if limits else {},
        "RestartPolicy": {
            "Condition": "any",
            "Delay": service.restart_delay_s * _NS,
            "MaxAttempts": 0,
        },
        "Placement": placement,
        "Networks": [{"Target": service.network, "Aliases": list(service.aliases)}],
    }


def _mount(mount: Any, service: SwarmService, extra: Mapping[str, str]) -> RawDict:
    body: RawDict = {
        "Type": mount.kind,
        "Source": mount.source,
        "Target": mount.target,
        "ReadOnly": mount.read_only,
    }
    if mount.kind == "volume":
        body["VolumeOptions"] = {"Labels": {**dict(service.volume_labels), **extra}}
    return body


def _update_config(service: SwarmService) -> RawDict:
    policy = service.update
    return {
        "Parallelism": policy.parallelism,
        "Delay": policy.delay_s * _NS,
        "FailureAction": policy.failure_action,
        "Monitor": policy.monitor_s * _NS,
        "Order": policy.order,
    }


def _rollback_config(service: SwarmService) -> RawDict:
    policy = service.update
    return {
        "Parallelism": policy.parallelism,
        "FailureAction": "pause",
        "Monitor": policy.monitor_s * _NS,
        "Order": policy.order,
    }


def _endpoint(service: SwarmService) -> RawDict:
    """DNS round robin: the service's name resolves to its tasks' own addresses. A virtual IP
    adds a kernel load balancer (IPVS) in front of what is one server, and ingress publishing
    is refused with it, which is what the server wants anyway (host mode only)."""
    if service.published_port is None:
        return {"Mode": service.endpoint_mode}
    return {
        "Mode": service.endpoint_mode,
        "Ports": [
            {
                "Protocol": "tcp",
                "TargetPort": 7419,
                "PublishedPort": service.published_port,
                "PublishMode": "host",
            }
        ],
    }


def service_logs(engine: Engine, service_id: str, tail: int | None, follow: bool) -> Any:
    with engine.doing(f"reading logs of service {service_id[:12]}"):
        return engine.api.service_logs(
            service_id,
            stdout=True,
            stderr=True,
            follow=follow,
            tail="all" if tail is None else str(tail),
            is_tty=False,
        )
