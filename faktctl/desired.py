"""Spec -> desired state: one container request per service, plus the network and volumes.

Pure: no engine, no file system. The compose renderer and `faktctl up` both read this, so a
rendered compose.yaml and a launched deployment cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from faktctl import labels
from faktctl.faktory.server import DASHBOARD_PORT as DASHBOARD_PORT
from faktctl.faktory.server import DATA_DIR as DATA_DIR
from faktctl.faktory.server import HEALTH_URL as HEALTH_URL
from faktctl.faktory.server import PASSWORD_SECRET as PASSWORD_SECRET
from faktctl.faktory.server import PASSWORD_TARGET as PASSWORD_TARGET
from faktctl.faktory.server import PROTOCOL_PORT as PROTOCOL_PORT
from faktctl.faktory.server import SERVER_SERVICE
from faktctl.faktory.server import command as server_command
from faktctl.faktory.server import environment as server_environment
from faktctl.secretvalue import SecretStr, derived, fingerprint

if TYPE_CHECKING:  # the spec model (pydantic) is only needed to build a desired state
    from faktctl.spec.load import LoadedSpec
    from faktctl.spec.model import Spec, Worker

WEB_CONF_TARGET = "/etc/faktory/conf.d/faktctl-web.toml"
FAKTORY_URL_VAR = "FAKTORY_URL"

Role = Literal["server", "worker"]
WorkerQuiet = Literal["server", "signal", "none"]
DEFAULT_STOP_SIGNAL = "SIGTERM"


@dataclass(frozen=True)
class Mount:
    kind: Literal["volume", "bind"]
    source: str  # volume name, or absolute host path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Publish:
    container_port: int
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]
    interval_s: int = 10
    timeout_s: int = 5
    retries: int = 3
    start_period_s: int = 10

    @property
    def http_url(self) -> str | None:
        """The URL the check requests when it is an HTTP GET (Kubernetes probes reuse it)."""
        return next((w for w in self.test if w.startswith(("http://", "https://"))), None)


@dataclass(frozen=True)
class SecretEnv:
    """An environment value that carries a secret. `variable` is its name in .env."""

    variable: str
    value: SecretStr = field(compare=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value, 16)


@dataclass(frozen=True)
class BuildRequest:
    context: str  # absolute host path
    dockerfile: str


@dataclass(frozen=True)
class ServiceRequest:
    """Everything the engine needs to run one service's containers."""

    name: str
    role: Role
    image: str
    command: tuple[str, ...] | None
    env: tuple[tuple[str, str | SecretEnv], ...]
    mounts: tuple[Mount, ...]
    ports: tuple[Publish, ...]
    restart: str
    healthcheck: Healthcheck | None
    stop_grace_s: int | None
    memory_bytes: int | None
    cpus: float | None
    replicas: int
    build: BuildRequest | None = None
    image_given: bool = True  # False when the spec only has `build:` and faktctl names the image
    depends_on_healthy: tuple[str, ...] = ()
    stop_signal: str | None = None  # None: the image's own (SIGTERM unless it says otherwise)
    quiet: WorkerQuiet = "none"  # how faktctl quiets it before a stop (not container config)

    @property
    def env_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.env)

    def config_hash(self) -> str:
        """sha256 of the container's configuration; replicas and build inputs do not count."""
        data = asdict(self)
        for ignored in ("replicas", "build", "image_given", "quiet"):
            data.pop(ignored)
        if data["stop_signal"] is None:  # hashes from before the field existed stay the same
            data.pop("stop_signal")
        data["env"] = self.env_without_secrets()
        return labels.config_fingerprint(data)

    def env_without_secrets(self) -> list[tuple[str, str]]:
        """The environment with each secret value replaced by its fingerprint (what is hashed)."""
        return [
            (name, value.fingerprint if isinstance(value, SecretEnv) else value)
            for name, value in self.env
        ]

    def labels(self, project: str) -> dict[str, str]:
        return {
            **labels.of_service(project, self.name, self.role),
            labels.CONFIG_HASH: self.config_hash(),
        }


@dataclass(frozen=True)
class VolumeRequest:
    key: str  # the name inside compose.yaml
    name: str  # the engine's name


@dataclass(frozen=True)
class SecretFile:
    name: str
    host_path: str  # absolute
    target: str


@dataclass(frozen=True)
class SwarmWorkerSettings:
    """One worker's own swarm settings (spec: swarm.workers.NAME)."""

    name: str
    faktory_url: Literal["shell", "file"]  # how the worker gets FAKTORY_URL from its secret
    spread: tuple[str, ...] | None  # None: the swarm's worker_spread


@dataclass(frozen=True)
class SwarmSettings:
    """Where a swarm places the services and how it updates them (spec: swarm)."""

    server_constraint: str  # the node the server (and its volume) lives on
    publish_protocol: int | None
    worker_spread: tuple[str, ...]
    update_parallelism: int
    encrypted_network: bool
    workers: tuple[SwarmWorkerSettings, ...] = ()

    def worker(self, name: str) -> SwarmWorkerSettings | None:
        return next((w for w in self.workers if w.name == name), None)


@dataclass(frozen=True)
class KubernetesSettings:
    """What the Kubernetes manifests need beyond the services (spec: kubernetes)."""

    namespace: str | None
    storage_size: int  # bytes, of the server's PersistentVolumeClaim
    storage_class: str | None


@dataclass(frozen=True)
class AuditIgnore:
    """One of the spec's audit suppressions (spec: audit.ignore), carried into rendered files
    so that auditing them honours it."""

    id: str
    reason: str
    expires: str | None  # an ISO date


@dataclass(frozen=True)
class Desired:
    project: str
    network: str
    volumes: tuple[VolumeRequest, ...]
    secrets: tuple[SecretFile, ...]
    services: tuple[ServiceRequest, ...]
    env_file: tuple[tuple[str, SecretStr], ...]  # the .env contents
    # the separate dashboard password the server reads from its conf.d file, when it has one
    dashboard_password: SecretStr | None = None
    # what the other platforms need from the spec; never part of a container's configuration
    swarm: SwarmSettings | None = None
    kubernetes: KubernetesSettings | None = None
    audit_ignore: tuple[AuditIgnore, ...] = ()

    @property
    def server(self) -> ServiceRequest:
        return next(s for s in self.services if s.role == "server")

    @property
    def workers(self) -> tuple[ServiceRequest, ...]:
        return tuple(s for s in self.services if s.role == "worker")

    def service(self, name: str) -> ServiceRequest:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def object_labels(self) -> dict[str, str]:
        return labels.owned(self.project)


@dataclass(frozen=True)
class Secrets:
    """Secret values read from disk by the caller (keeps this module free of I/O)."""

    password: SecretStr
    dashboard_password: SecretStr | None = None  # from server.dashboard_password_file


def faktory_url(password: SecretStr, host: str = SERVER_SERVICE) -> SecretStr:
    return derived(password, lambda value: f"tcp://:{quote(value, safe='')}@{host}:{PROTOCOL_PORT}")


def build_desired(loaded: LoadedSpec, secrets: Secrets) -> Desired:
    spec = loaded.spec
    url = SecretEnv(FAKTORY_URL_VAR, faktory_url(secrets.password))
    volumes = _volumes(spec)
    server = _server(loaded, volumes)
    workers = tuple(_worker(loaded, worker, url) for worker in spec.workers)
    return Desired(
        project=spec.project,
        network=f"{spec.project}_default",
        volumes=volumes,
        secrets=(
            SecretFile(
                PASSWORD_SECRET,
                str(loaded.resolve(spec.server.password_file).absolute()),
                PASSWORD_TARGET,
            ),
        ),
        services=(server, *workers),
        env_file=(("COMPOSE_PROJECT_NAME", SecretStr(spec.project)), (FAKTORY_URL_VAR, url.value)),
        dashboard_password=(
            secrets.dashboard_password if spec.server.dashboard_password_file is not None else None
        ),
        swarm=_swarm_settings(spec),
        kubernetes=KubernetesSettings(
            namespace=spec.kubernetes.namespace,
            storage_size=spec.kubernetes.storage_size,
            storage_class=spec.kubernetes.storage_class,
        ),
        audit_ignore=tuple(
            AuditIgnore(i.id, i.reason, i.expires.isoformat() if i.expires else None)
            for i in spec.audit.ignore
        ),
    )


def _swarm_settings(spec: Spec) -> SwarmSettings | None:
    swarm = spec.swarm
    if swarm is None:
        return None
    return SwarmSettings(
        server_constraint=swarm.server_node.constraint,
        publish_protocol=swarm.publish_protocol,
        worker_spread=tuple(swarm.worker_spread),
        update_parallelism=swarm.update_parallelism,
        encrypted_network=swarm.encrypted_network,
        workers=tuple(
            SwarmWorkerSettings(
                name,
                own.faktory_url,
                tuple(own.spread) if own.spread is not None else None,
            )
            for name, own in swarm.workers.items()
        ),
    )


def _volumes(spec: Spec) -> tuple[VolumeRequest, ...]:
    if spec.server.storage.host_path is not None:
        return ()
    key = spec.server.storage.volume_key
    return (VolumeRequest(key=key, name=f"{spec.project}_{key}"),)


def _server(loaded: LoadedSpec, volumes: tuple[VolumeRequest, ...]) -> ServiceRequest:
    server = loaded.spec.server
    command = server_command(server.environment, server.log_level)
    env: list[tuple[str, str | SecretEnv]] = [
        *server_environment(server.environment),
        *sorted(server.env.items()),
    ]
    if server.storage.host_path is not None:
        data = Mount("bind", str(loaded.resolve(server.storage.host_path).absolute()), DATA_DIR)
    else:
        data = Mount("volume", volumes[0].name, DATA_DIR)
    mounts = [data]
    if server.dashboard_password_file is not None:
        mounts.append(Mount("bind", str(web_conf_path(loaded)), WEB_CONF_TARGET, read_only=True))
    ports = tuple(
        Publish(container_port, binding.host_ip, binding.host_port)
        for container_port, binding in (
            (PROTOCOL_PORT, server.ports.protocol),
            (DASHBOARD_PORT, server.ports.dashboard),
        )
        if binding is not None
    )
    return ServiceRequest(
        name=SERVER_SERVICE,
        role="server",
        image=server.image,
        command=command,
        env=tuple(env),
        mounts=tuple(mounts),
        ports=ports,
        restart="unless-stopped",
        healthcheck=Healthcheck(test=("CMD", "wget", "-q", "-O", "/dev/null", HEALTH_URL)),
        stop_grace_s=int(server.stop_grace_period.total_seconds()),
        memory_bytes=server.resources.memory,
        cpus=server.resources.cpus,
        replicas=1,
    )


def web_conf_path(loaded: LoadedSpec) -> Path:
    """The generated conf.d file that carries the separate dashboard password (kept 0600)."""
    password_dir = loaded.resolve(loaded.spec.server.password_file).absolute().parent
    return password_dir / "faktory_web.toml"


def _worker(loaded: LoadedSpec, worker: Worker, url: SecretEnv) -> ServiceRequest:
    build = None
    if worker.build is not None:
        build = BuildRequest(
            context=str(loaded.resolve(worker.build.context).absolute()),
            dockerfile=worker.build.dockerfile,
        )
    env: tuple[tuple[str, str | SecretEnv], ...] = (
        (FAKTORY_URL_VAR, url),
        *sorted(worker.env.items()),
    )
    return ServiceRequest(
        name=worker.name,
        role="worker",
        image=worker.image or f"{loaded.spec.project}-{worker.name}:local",
        image_given=worker.image is not None,
        command=tuple(worker.command) if worker.command is not None else None,
        env=env,
        mounts=(),
        ports=(),
        restart=worker.restart,
        healthcheck=None,
        stop_grace_s=int(worker.stop_grace_period.total_seconds()),
        memory_bytes=worker.resources.memory,
        cpus=worker.resources.cpus,
        replicas=worker.replicas,
        build=build,
        depends_on_healthy=(SERVER_SERVICE,),
        stop_signal=worker.stop_signal if worker.stop_signal != DEFAULT_STOP_SIGNAL else None,
        quiet=worker.quiet,
    )
