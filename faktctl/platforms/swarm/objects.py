"""The Swarm plan as the engine's service specs, and the engine's swarm objects as what the
plan observes: the translation between faktctl.platforms.swarm.plan and the raw dicts of
faktctl.adapters.docker.swarm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faktctl import labels
from faktctl.adapters.docker import swarm
from faktctl.adapters.docker.api import RawDict
from faktctl.adapters.docker.engine import Engine
from faktctl.platforms.swarm.plan import Observed, ObservedService, SwarmService

_NS = 1_000_000_000


def observe(
    engine: Engine, project: str, network: str, secret_list: list[RawDict] | None = None
) -> Observed:
    """The project's services, secrets (pass `secret_list` when already listed) and network."""
    found = []
    for raw in swarm.services(engine, project):
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
            for raw in (swarm.secrets(engine, project) if secret_list is None else secret_list)
        )
    )
    return Observed(
        network=swarm.overlay(engine, network) is not None,
        secrets=names,
        services=tuple(sorted(found, key=lambda s: s.name)),
    )


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
    if service.stop_signal is not None:
        container["StopSignal"] = service.stop_signal
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
