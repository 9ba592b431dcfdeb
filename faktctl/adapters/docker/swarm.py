"""Swarm objects through the Docker SDK: services, tasks, secrets, overlay networks.

A sibling of faktctl.adapters.docker.engine (which keeps containers, images and archives): it
reuses that module's `Engine` connection and its one-line error translation, on raw engine
dicts; the Swarm platform (faktctl.platforms.swarm.objects) turns its plan into service specs
and the engine's answers back into what it observed. Service updates always send the complete
spec (never merged with the current one), so what the plan says is what runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faktctl import labels
from faktctl.adapters.docker.api import EngineError, ObjectNotFound, RawDict
from faktctl.adapters.docker.engine import Engine
from faktctl.errors import OperationFailed
from faktctl.secretvalue import SecretStr


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
    selector = {**labels.owned(project), **extra}
    return {"label": [f"{key}={value}" for key, value in selector.items()]}


# --- observing ----------------------------------------------------------------------------------


def services(engine: Engine, project: str) -> list[RawDict]:
    with engine.doing("listing swarm services"):
        found = engine.api.services(filters=project_filter(project), status=True)  # type: ignore[no-untyped-call]
        return [dict(s) for s in found]


def secrets(engine: Engine, project: str) -> list[RawDict]:
    with engine.doing("listing swarm secrets"):
        return [dict(s) for s in engine.api.secrets(filters=project_filter(project))]


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
