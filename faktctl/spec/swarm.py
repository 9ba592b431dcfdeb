"""The `swarm:` section of faktory.yaml: only what Docker Swarm needs beyond the common spec.

The server's data lives in a volume on one node, so the server is pinned to a node; nothing is
published unless `publish_protocol` says so (host mode, on the server's node only); workers get
placement preferences and an update pace. docs/platforms.md ("Docker Swarm") explains each
key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from faktctl.spec.types import rule_error

NODE_LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*=[^\s=]+$")
SPREAD_PATTERN = re.compile(r"^node\.(labels\.[A-Za-z0-9][A-Za-z0-9._/-]*|id|hostname)$")
WorkerUrlDelivery = Literal["shell", "file"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerNode(_Model):
    """The node the server runs on: its volume is local to that node."""

    hostname: str | None = Field(default=None, description="The node's hostname.")
    label: str | None = Field(
        default=None, description="A node label `key=value` (docker node update --label-add)."
    )

    @field_validator("hostname")
    @classmethod
    def _plain_hostname(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}", value):
            raise ValueError(f"`{value}` is not a hostname")
        return value

    @field_validator("label")
    @classmethod
    def _key_value(cls, value: str | None) -> str | None:
        if value is not None and not NODE_LABEL_PATTERN.fullmatch(value):
            raise ValueError(f"`{value}` is not a node label `key=value`")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ServerNode:
        if (self.hostname is None) == (self.label is None):
            raise rule_error(
                "give exactly one of hostname or label",
                "",
                "e.g. `label: faktory.server=true` after "
                "`docker node update --label-add faktory.server=true NODE`",
            )
        return self

    @property
    def constraint(self) -> str:
        if self.hostname is not None:
            return f"node.hostname=={self.hostname}"
        key, value = str(self.label).split("=", 1)
        return f"node.labels.{key}=={value}"


class SwarmWorker(_Model):
    faktory_url: WorkerUrlDelivery = Field(
        default="shell",
        description="How the worker gets FAKTORY_URL from its swarm secret: `shell` wraps the "
        "image's own entrypoint in /bin/sh to export it; `file` leaves the command alone and "
        "sets FAKTORY_URL_FILE for a worker that reads the file itself (images without a shell).",
    )
    spread: list[Annotated[str, Field(pattern=SPREAD_PATTERN.pattern)]] | None = Field(
        default=None,
        description="Placement preferences for this worker (default: swarm.worker_spread).",
    )


class Swarm(_Model):
    server_node: ServerNode = Field(description="Where the server (and its volume) lives.")
    publish_protocol: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Publish 7419 on this port of the server's node (host mode, every "
        "interface of that node). Default: not published; clients join the overlay network.",
    )
    worker_spread: list[Annotated[str, Field(pattern=SPREAD_PATTERN.pattern)]] = Field(
        default_factory=list,
        description="Placement preferences for workers, e.g. node.labels.zone.",
    )
    update_parallelism: int = Field(
        default=1, ge=1, le=100, description="Worker tasks replaced at a time during an update."
    )
    encrypted_network: bool = Field(
        default=False, description="Encrypt the overlay network's traffic between nodes (IPsec)."
    )
    workers: dict[str, SwarmWorker] = Field(
        default_factory=dict, description="Per-worker swarm settings, by worker name."
    )


__all__ = ["ServerNode", "Swarm", "SwarmWorker", "WorkerUrlDelivery"]
