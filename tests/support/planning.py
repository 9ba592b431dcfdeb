"""A planner world for tests: a spec, the desired state built from it, and containers exactly
as the executor would have created them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from faktctl.desired import Desired, Secrets, build_desired
from faktctl.platforms.engine.apply import container_config
from faktctl.platforms.engine.observe import Observed, ObservedContainer, ObservedNetwork
from faktctl.platforms.engine.plan import config_parts
from faktctl.platforms.swarm.plan import ImageEntry
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import parse_spec

SPEC = """\
project: shop
server: {image: "contribsys/faktory:1.9.3"}
workers:
  - name: emails
    image: emails:1
    replicas: 2
  - name: reports
    image: reports:7
"""
# a swarm with both worker deliveries: the server address as a variable and as a file
SWARM_SPEC = """\
project: shop
platform: swarm
server:
  image: contribsys/faktory:1.10.0
workers:
  - name: emails
    image: emails:1
    replicas: 3
    env: {FAKTORY_QUEUES: mail}
  - name: reports
    image: reports:1
    command: [report, --fast]
swarm:
  server_node: {label: faktory.server=true}
  worker_spread: [node.labels.zone]
  update_parallelism: 2
  workers:
    reports: {faktory_url: file}
"""
SWARM_ENTRIES = {"emails:1": ImageEntry(("/usr/bin/emails",), ("--serve",))}
IMAGE_IDS = {
    "contribsys/faktory:1.9.3": "sha256:aaa111",
    "contribsys/faktory:1.9.4": "sha256:bbb222",
    "emails:1": "sha256:ccc333",
    "reports:7": "sha256:ddd444",
}


def desired_from(
    text: str = SPEC, password: str = "pw-one", dashboard_password: str | None = None
) -> Desired:
    loaded = parse_spec(text, Path("/srv/shop/faktory.yaml"))
    dashboard = SecretStr(dashboard_password) if dashboard_password is not None else None
    return build_desired(loaded, Secrets(SecretStr(password), dashboard))


def deployed(desired: Desired, service: str, replica: int, **changes: Any) -> ObservedContainer:
    """A container exactly as the executor would have created it, with `changes` applied."""
    request = desired.service(service)
    config = container_config(desired, request, replica)
    container = ObservedContainer(
        id=f"id-{service}-{replica}",
        name=config.name,
        service=service,
        replica=replica,
        config_hash=request.config_hash(),
        config_parts=config_parts(desired, request),
        image_ref=request.image,
        image_id=IMAGE_IDS.get(request.image, ""),
        state="running",
        health="healthy" if request.role == "server" else None,
        restart_count=0,
        exit_code=0,
        started_at=None,
        ports=request.ports,
        ip_addresses={},
        stop_timeout_s=request.stop_grace_s,
    )
    return dataclasses.replace(container, **changes)


def everything(desired: Desired) -> tuple[ObservedContainer, ...]:
    return tuple(
        deployed(desired, s.name, n) for s in desired.services for n in range(1, s.replicas + 1)
    )


def everything_but(
    desired: Desired, replacement: ObservedContainer
) -> tuple[ObservedContainer, ...]:
    """The full deployment with one container swapped for `replacement` (same name)."""
    return tuple(replacement if c.name == replacement.name else c for c in everything(desired))


def observed_with(
    desired: Desired, containers: tuple[ObservedContainer, ...], **changes: Any
) -> Observed:
    observed = Observed(
        project=desired.project,
        containers=containers,
        network=ObservedNetwork(desired.network, "net-id", managed=True),
        volumes=frozenset(v.name for v in desired.volumes),
        image_ids=IMAGE_IDS,
    )
    return dataclasses.replace(observed, **changes)
