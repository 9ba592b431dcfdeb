"""The faktory.yaml spec: the single source of truth for rendering, launching and auditing.

Every default here is the safe production choice; docs/spec.md (generated from this model)
lists each one.
"""

from __future__ import annotations

import posixpath
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from faktctl.faktory.server import SERVER_SERVICE as SERVER_SERVICE
from faktctl.faktory.versions import DEFAULT_IMAGE
from faktctl.spec.monitoring import Monitoring
from faktctl.spec.swarm import Swarm
from faktctl.spec.tls import Tls
from faktctl.spec.types import (
    ENV_NAME_PATTERN,
    ByteSize,
    Command,
    Duration,
    EnvValue,
    PathOf,
    PortBinding,
    PublishedPort,
    WebhookUrl,
    format_size,
    parse_port_binding,
    rule_error,
)

DEFAULT_PASSWORD_FILE = "secrets/faktory_password"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
NAME_MAX_LENGTH = 63  # engine object names are built from it (a DNS label's length)

FaktoryEnvironment = Literal["production", "staging", "development"]
DashboardExposure = Literal["internal", "proxy", "public"]
Platform = Literal["engine", "swarm"]
RestartPolicy = Literal["unless-stopped", "always", "on-failure", "no"]
LogLevel = Literal["info", "debug", "warn", "error"]
WorkerQuiet = Literal["server", "signal", "none"]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
EnvMap = dict[Annotated[str, Field(pattern=ENV_NAME_PATTERN)], EnvValue]

# Variables faktctl sets itself; a spec that sets them would silently fight the safe defaults.
SERVER_MANAGED_ENV = {
    "FAKTORY_ENV": "use server.environment",
    "FAKTORY_PASSWORD": "use server.password_file",
    "FAKTORY_SKIP_PASSWORD": "faktctl always requires a password",
}
WORKER_MANAGED_ENV = {
    "FAKTORY_URL": "faktctl sets it from the server's password",
    "FAKTORY_PROVIDER": "faktctl sets FAKTORY_URL directly",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ENGINE_MIN_MEMORY = 6 * 1024**2  # the engine refuses a smaller limit
SERVER_MIN_MEMORY = 64 * 1024**2  # Faktory and its Redis hold every job in RAM
# Host folders a data directory must never be: bind-mounting one hands the server (and anyone
# who controls it) the host's system files.
SYSTEM_FOLDERS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/local",
        "/var",
        "/var/lib",
        "/var/lib/docker",
        "/var/run",
    }
)


class Resources(_Model):
    """Container limits. Faktory keeps all data in RAM: a server limit must be generous."""

    memory: ByteSize | None = Field(default=None, description="Memory limit, e.g. 2g.")
    cpus: float | None = Field(default=None, gt=0, description="CPU limit, e.g. 1.5.")

    @field_validator("memory")
    @classmethod
    def _engine_minimum(cls, value: int | None) -> int | None:
        if value is not None and value < ENGINE_MIN_MEMORY:
            raise rule_error(
                f"{format_size(value)} is below the engine's minimum of 6m",
                hint="memory is a size such as 512m or 2g; a bare number counts bytes",
            )
        return value


class Ports(_Model):
    protocol: PublishedPort = Field(
        default=PortBinding("127.0.0.1", 7419),
        description="Where the job protocol port 7419 is published; loopback by default.",
    )
    dashboard: PublishedPort = Field(
        default=PortBinding("127.0.0.1", 7420),
        description="Where the dashboard port 7420 is published, or none.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Ports:
        if self.protocol is not None and self.protocol == self.dashboard:
            raise rule_error(
                f"protocol and dashboard are both published on {self.protocol}",
                "dashboard",
                "give each its own host port",
            )
        return self


class Storage(_Model):
    """Where /var/lib/faktory lives: a named volume (default) or a host directory."""

    volume: Name | None = Field(default=None, description="Named volume (default: data).")
    host_path: Annotated[str, PathOf("folder")] | None = Field(
        default=None, description="Host directory, relative to spec."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Storage:
        if self.volume is not None and self.host_path is not None:
            raise rule_error("give either volume or host_path, not both", "host_path")
        return self

    @field_validator("host_path")
    @classmethod
    def _not_a_system_folder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise rule_error("must name a folder", hint="e.g. data, or omit it for a volume")
        normal = posixpath.normpath(value)
        if normal in SYSTEM_FOLDERS:
            raise rule_error(
                f"`{value}` is a system folder of the host",
                hint="the server would own it; use a folder of its own, e.g. /srv/faktory/data",
            )
        if not normal.startswith("/") and all(
            part == ".." for part in normal.split("/") if part != "."
        ):
            raise rule_error(
                f"`{value}` holds this spec and its secrets",
                hint="use a folder of its own below or beside it, e.g. data",
            )
        return value

    @property
    def volume_key(self) -> str:
        return self.volume or "data"


class Server(_Model):
    image: str = Field(
        default=DEFAULT_IMAGE, min_length=1, description="Server image with a pinned tag."
    )
    environment: FaktoryEnvironment = Field(
        default="production",
        description="Faktory environment; production persists to /var/lib/faktory and "
        "requires a password.",
    )
    ports: Ports = Field(default_factory=Ports)
    dashboard_exposure: DashboardExposure = Field(
        default="internal",
        description="internal: loopback only; proxy: a reverse proxy on a private IP; "
        "public: reachable from anywhere (audited).",
    )
    storage: Storage = Field(default_factory=Storage)
    password_file: Annotated[str, PathOf("file")] = Field(
        default=DEFAULT_PASSWORD_FILE,
        min_length=1,
        description="File holding the server password (mode 0600), relative to the spec.",
    )
    dashboard_password_file: Annotated[str, PathOf("file")] | None = Field(
        default=None, description="Optional separate dashboard password file."
    )
    stop_grace_period: Duration = Field(
        default="60s",  # parsed by the Duration validator
        validate_default=True,
        description="Time Faktory gets to save its data on stop (at least 30s).",
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(memory=2 * 1024**3),
        description="Server limits; memory default 2g.",
    )
    log_level: LogLevel = "info"
    env: EnvMap = Field(default_factory=dict, description="Extra environment variables.")
    tls: Tls = Field(
        default_factory=Tls, description="TLS on 7419 and 7420 (docs/workers-on-other-hosts.md)."
    )

    @field_validator("resources")
    @classmethod
    def _server_memory(cls, value: Resources) -> Resources:
        if value.memory is not None and value.memory < SERVER_MIN_MEMORY:
            raise rule_error(
                f"{format_size(value.memory)} is too little for the server (at least 64m)",
                "memory",
                "Faktory keeps every job in RAM; 2g is the default",
            )
        return value

    @field_validator("image")
    @classmethod
    def _image_has_no_spaces(cls, value: str) -> str:
        if re.search(r"\s", value):
            raise ValueError(f"`{value}` is not an image reference")
        return value

    @field_validator("env")
    @classmethod
    def _no_managed_env(cls, value: dict[str, str]) -> dict[str, str]:
        return _reject_managed(value, SERVER_MANAGED_ENV)

    @field_validator("password_file", "dashboard_password_file")
    @classmethod
    def _relative_or_absolute_file(cls, value: str | None) -> str | None:
        if value is not None and value.endswith("/"):
            raise ValueError(f"`{value}` names a folder, not a file")
        return value


K8S_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"


class Kubernetes(_Model):
    """What `faktctl render --target kubernetes` needs beyond the server itself."""

    namespace: str | None = Field(
        default=None,
        pattern=K8S_NAME_PATTERN,
        max_length=63,
        description="Namespace for every object (default: the one kubectl uses).",
    )
    storage_size: ByteSize = Field(
        default=10 * 1024**3, description="Size of the server's PersistentVolumeClaim, e.g. 10g."
    )
    storage_class: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
        max_length=253,
        description="StorageClass of the claim (default: the cluster's default class).",
    )


class Build(_Model):
    context: Annotated[str, PathOf("folder")] = Field(
        description="Build context folder, relative to the spec."
    )
    dockerfile: Annotated[str, PathOf("in-context")] = Field(
        default="Dockerfile", description="Dockerfile inside the context."
    )


class Worker(_Model):
    name: Name
    image: str | None = Field(default=None, description="Image to run (or the tag to build).")
    build: Build | None = Field(default=None, description="Build the image from a Dockerfile.")
    command: Command | None = Field(default=None, description="Override the image's command.")
    replicas: int = Field(default=1, ge=0, le=100, description="Number of containers.")
    env: EnvMap = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    restart: RestartPolicy = "unless-stopped"
    stop_grace_period: Duration = Field(
        default="30s",  # parsed by the Duration validator
        validate_default=True,
        description="Time a worker gets between its stop signal and SIGKILL, and the longest "
        "faktctl waits for a quieted worker's jobs to finish (the common libraries wait 25s).",
    )
    stop_signal: str = Field(
        default="SIGTERM",
        pattern=r"^SIG[A-Z0-9]+$",
        description="Signal that stops the worker process (the libraries finish running jobs "
        "on SIGTERM).",
    )
    quiet: WorkerQuiet = Field(
        default="server",
        description="How faktctl quiets a worker before stopping it: `server` (the dashboard's "
        "quiet, which every library honours on its next heartbeat), `signal` (SIGTSTP, for "
        "libraries that handle it; on Kubernetes a preStop hook that needs /bin/sh in the "
        "image) or `none` (stopped at once).",
    )

    @field_validator("env")
    @classmethod
    def _no_managed_env(cls, value: dict[str, str]) -> dict[str, str]:
        return _reject_managed(value, WORKER_MANAGED_ENV)

    @model_validator(mode="after")
    def _has_image_or_build(self) -> Worker:
        if self.image is None and self.build is None:
            raise rule_error(
                f"worker `{self.name}` has neither image nor build",
                "",
                "add `image: NAME:TAG` or `build: {context: PATH}`",
            )
        return self


RESTIC_PREFIX = "restic:"


class BackupNotify(_Model):
    """Webhooks told about scheduled (and manual) backups."""

    urls: list[WebhookUrl] = Field(min_length=1, description="Webhook URLs; each gets a JSON POST.")
    on_success: bool = Field(default=False, description="Also notify when a backup succeeds.")
    timeout: Duration = Field(
        default="10s", validate_default=True, description="Time each attempt may take."
    )


class BackupPolicy(_Model):
    destination: Annotated[str, PathOf("destination")] = Field(
        default="backups",
        min_length=1,
        description="Folder for backups, relative to spec, or `restic:<repository>`.",
    )
    destinations: list[Annotated[str, Field(min_length=1), PathOf("destination")]] | None = Field(
        default=None,
        min_length=1,
        description="Several destinations (folders or `restic:<repository>`); each gets every "
        "backup. Replaces `destination`.",
    )
    password_file: Annotated[str, PathOf("file")] | None = Field(
        default=None, description="File holding the restic repository password (0600)."
    )
    restic: Annotated[str, PathOf("executable")] = Field(
        default="restic",
        min_length=1,
        description="The restic executable: a name on PATH, or a path (relative to the spec).",
    )
    keep: int = Field(default=7, ge=1, description="How many backups to keep.")
    keep_daily: int | None = Field(
        default=None, ge=1, description="Also keep the newest backup of this many days."
    )
    keep_weekly: int | None = Field(
        default=None, ge=1, description="Also keep the newest backup of this many weeks."
    )
    max_age: Duration = Field(
        default="24h",
        validate_default=True,
        description="The newest backup must be younger than this.",
    )
    schedule: str = Field(
        default="hourly",
        min_length=1,
        pattern=r"^[^\n\r]+$",
        description="When `faktctl backup schedule` runs backups (systemd OnCalendar).",
    )
    notify: BackupNotify | None = Field(default=None, description="Webhooks to alert.")

    @model_validator(mode="after")
    def _destinations_and_password(self) -> BackupPolicy:
        if self.destinations is not None and "destination" in self.model_fields_set:
            raise rule_error("set either `destination` or `destinations`, not both", "destinations")
        if len(set(self.all_destinations)) != len(self.all_destinations):
            raise rule_error("a destination is listed twice", "destinations")
        uses_restic = any(d.startswith(RESTIC_PREFIX) for d in self.all_destinations)
        if uses_restic and self.password_file is None:
            raise rule_error(
                "a restic destination needs `password_file` (the repository password)",
                "password_file",
            )
        for destination in self.all_destinations:
            if destination.startswith(RESTIC_PREFIX) and not destination[len(RESTIC_PREFIX) :]:
                raise rule_error("`restic:` needs a repository after it", "destinations")
        return self

    @property
    def all_destinations(self) -> list[str]:
        return list(self.destinations) if self.destinations is not None else [self.destination]


class Suppression(_Model):
    id: str = Field(min_length=1, description="Audit check id to ignore.")
    reason: str = Field(min_length=1, description="Why it is acceptable here.")
    expires: date | None = Field(default=None, description="Date the ignore stops applying.")


class AuditSettings(_Model):
    ignore: list[Suppression] = Field(default_factory=list)


class Spec(_Model):
    """faktory.yaml"""

    model_config = ConfigDict(title="faktctl spec (faktory.yaml)")

    version: Literal[1] = Field(default=1, description="Spec format version.")
    project: Name = Field(description="Project name; prefixes every container and volume.")
    platform: Platform = Field(
        default="engine", description="engine: one Docker host; swarm: a Docker Swarm."
    )
    swarm: Swarm | None = Field(default=None, description="Settings for platform: swarm.")
    server: Server = Field(default_factory=Server)
    workers: list[Worker] = Field(default_factory=list)
    backup: BackupPolicy | None = Field(default=None, description="Backup policy (audited).")
    kubernetes: Kubernetes = Field(
        default_factory=Kubernetes, description="Settings for `render --target kubernetes`."
    )
    audit: AuditSettings = Field(default_factory=AuditSettings)
    monitoring: Monitoring = Field(
        default_factory=Monitoring,
        description="Alert thresholds for `faktctl render --target prometheus`.",
    )

    @field_validator("workers")
    @classmethod
    def _unique_worker_names(cls, workers: list[Worker]) -> list[Worker]:
        seen: dict[str, int] = {}
        for index, worker in enumerate(workers):
            if worker.name == SERVER_SERVICE:
                raise rule_error(
                    f"`{SERVER_SERVICE}` is the server's name", f"[{index}].name", "rename it"
                )
            if worker.name in seen:
                raise rule_error(
                    f"duplicate worker name `{worker.name}`",
                    f"[{index}].name",
                    f"already used by workers[{seen[worker.name]}]",
                )
            seen[worker.name] = index
        return workers

    @model_validator(mode="after")
    def _grace_period(self) -> Spec:
        if self.server.stop_grace_period.total_seconds() < 30:
            raise rule_error(
                "stop_grace_period is shorter than 30s",
                "server.stop_grace_period",
                "Faktory needs time for its final save; use 30s or more",
            )
        return self

    @model_validator(mode="after")
    def _platform_settings(self) -> Spec:
        _check_platform(self)
        return self

    def worker(self, name: str) -> Worker:
        for worker in self.workers:
            if worker.name == name:
                return worker
        raise KeyError(name)


def _reject_managed(env: dict[str, str], managed: dict[str, str]) -> dict[str, str]:
    for name in env:
        if name in managed:
            raise rule_error(f"{name} is managed by faktctl", f".{name}", managed[name])
    return env


def _check_platform(spec: Spec) -> None:
    """Which spec keys apply to which platform: a key that does nothing there is an error."""
    if spec.platform == "engine":
        if spec.swarm is not None:
            raise rule_error(
                "the swarm section applies only to `platform: swarm`",
                "swarm",
                "add `platform: swarm` or remove the section",
            )
        return
    if spec.swarm is None:
        raise rule_error(
            "`platform: swarm` needs a swarm section with server_node",
            "platform",
            "add `swarm: {server_node: {hostname: NODE}}`",
        )
    _check_swarm_irrelevant(spec)
    names = {worker.name for worker in spec.workers}
    for name in spec.swarm.workers:
        if name not in names:
            raise rule_error(
                f"`{name}` is not a worker of this spec",
                f"swarm.workers.{name}",
                f"workers: {', '.join(sorted(names)) or 'none'}",
            )


def _check_swarm_irrelevant(spec: Spec) -> None:
    if "ports" in spec.server.model_fields_set:
        raise rule_error(
            "server.ports does not apply to `platform: swarm`",
            "server.ports",
            "nothing is published on a swarm; use swarm.publish_protocol for 7419 and "
            "`faktctl dashboard` for the dashboard",
        )
    if "dashboard_exposure" in spec.server.model_fields_set:
        raise rule_error(
            "server.dashboard_exposure does not apply to `platform: swarm`",
            "server.dashboard_exposure",
            "the dashboard is never published on a swarm; use `faktctl dashboard`",
        )
    for index, worker in enumerate(spec.workers):
        if "restart" in worker.model_fields_set:
            raise rule_error(
                "workers[].restart does not apply to `platform: swarm`",
                f"workers[{index}].restart",
                "swarm restarts a worker task whenever it exits (restart condition any)",
            )


def spec_json_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["patternProperties"] = {"^x-": {}}
    return schema


def spec_json_schema_text() -> str:
    """The JSON Schema as `faktctl schema` prints it and `init` writes it beside the spec."""
    import json

    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"


__all__ = [
    "DEFAULT_IMAGE",
    "SERVER_SERVICE",
    "AuditSettings",
    "BackupPolicy",
    "Build",
    "Kubernetes",
    "PortBinding",
    "Resources",
    "Server",
    "Spec",
    "Storage",
    "Suppression",
    "Worker",
    "parse_port_binding",
    "spec_json_schema",
    "spec_json_schema_text",
]
