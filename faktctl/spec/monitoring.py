"""The `monitoring:` section of faktory.yaml: the thresholds of the Prometheus alert rules that
`faktctl render --target prometheus` writes (faktctl.monitoring.rules). Every field has a safe
default, so a spec without the section still gets every alert. docs/monitoring.md explains
each alert."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from faktctl.spec.types import Duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Monitoring(_Model):
    """Alert thresholds for `faktctl render --target prometheus`."""

    server_down_for: Duration = Field(
        default="1m",
        validate_default=True,
        description="Alert when faktory_up has been 0 this long.",
    )
    alert_for: Duration = Field(
        default="5m",
        validate_default=True,
        description="How long every other condition must hold before its alert fires.",
    )
    queue_latency: Duration = Field(
        default="5m",
        validate_default=True,
        description="Alert when a queue's oldest job has waited longer than this.",
    )
    growth_window: Duration = Field(
        default="1h",
        validate_default=True,
        description="The window over which the dead and retries sets' growth is measured.",
    )
    dead_growth: int = Field(
        default=0,
        ge=0,
        description="Alert when the dead set grew by more than this many jobs in the window.",
    )
    retries_growth: int = Field(
        default=100,
        ge=0,
        description="Alert when the retries set grew by more than this many jobs in the window.",
    )
    snapshot_max_age: Duration = Field(
        default="2h",
        validate_default=True,
        description="Alert when the server's last successful snapshot is older than this.",
    )
    connections_ratio: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Alert when open connections exceed this share of the server's limit.",
    )
