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
from faktctl.faktory.server import SERVER_SERVICE, TLS_CERT_TARGET, TLS_KEY_TARGET, WORKER_CA_TARGET
from faktctl.faktory.server import command as server_command
from faktctl.faktory.server import environment as server_environment
from faktctl.faktory.server import health_check as server_health_check
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
    # sha256 of the contents of mounted TLS files: a renewed certificate changes the config
    # hash, so `up` recreates the containers that read it (files are read once at start)
    files_digest: str = ""
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
        if not self.files_digest:  # without TLS files the hash stays what it always was
            data.pop("files_digest")
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
class TlsSetup:
    """TLS on both ports (spec: server.tls): the host files and the names workers use."""

    mode: Literal["files", "generate"]
    cert: str  # absolute host paths
    key: str
    ca: str | None  # what workers trust; None: their system roots
    ca_key: str | None  # generate only: stays on this host, never mounted
    names: tuple[str, ...]  # DNS names and IP addresses the certificate must cover
    server_name: str = SERVER_SERVICE  # the name faktctl's own clients verify


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
    tls: TlsSetup | None = None

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
    tls_server_digest: str = ""  # of the certificate and key files ("" while they are missing)
    tls_ca_digest: str = ""  # of the CA file workers get


def faktory_url(password: SecretStr, host: str = SERVER_SERVICE, *, tls: bool = False) -> SecretStr:
    scheme = "tcp+tls" if tls else "tcp"
    return derived(
        password, lambda value: f"{scheme}://:{quote(value, safe='')}@{host}:{PROTOCOL_PORT}"
    )


def build_desired(loaded: LoadedSpec, secrets: Secrets) -> Desired:
    spec = loaded.spec
    tls = tls_setup(loaded)
    url = SecretEnv(FAKTORY_URL_VAR, faktory_url(secrets.password, tls=tls is not None))
    volumes = _volumes(spec)
    server = _with_server_tls(_server(loaded, volumes), tls, secrets.tls_server_digest)
    workers = tuple(
        _with_worker_tls(_worker(loaded, worker, url), tls, secrets.tls_ca_digest)
        for worker in spec.workers
    )
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
        tls=tls,
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
        healthcheck=Healthcheck(test=server_health_check(tls=False)),
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


# --- TLS (spec: server.tls) -------------------------------------------------------------------

TLS_FOLDER = "tls"  # beside the password file: secrets/tls/
WORKER_CA_ENV = "SSL_CERT_FILE"  # Go, OpenSSL-based clients (Ruby, Python) read it


def tls_folder(loaded: LoadedSpec) -> Path:
    """Where `generate` keeps the CA and the server certificate."""
    return loaded.resolve(loaded.spec.server.password_file).absolute().parent / TLS_FOLDER


def tls_names(spec: Spec) -> tuple[str, ...]:
    """Every name and address workers and faktctl use for the server: the service name,
    loopback (faktctl's own probes and the health check), the addresses the ports are
    published on (not wildcards) and the spec's extra names."""
    names = [SERVER_SERVICE, "localhost", "127.0.0.1"]
    for binding in (spec.server.ports.protocol, spec.server.ports.dashboard):
        if binding is not None and binding.host_ip not in ("", "0.0.0.0", "::"):
            names.append(binding.host_ip)
    names += spec.server.tls.names
    return tuple(dict.fromkeys(names))


def tls_setup(loaded: LoadedSpec) -> TlsSetup | None:
    tls = loaded.spec.server.tls
    if tls.mode == "off":
        return None
    if tls.mode == "files":
        assert tls.cert_file is not None and tls.key_file is not None  # the spec checks
        return TlsSetup(
            mode="files",
            cert=str(loaded.resolve(tls.cert_file).absolute()),
            key=str(loaded.resolve(tls.key_file).absolute()),
            ca=str(loaded.resolve(tls.ca_file).absolute()) if tls.ca_file else None,
            ca_key=None,
            names=tls_names(loaded.spec),
        )
    folder = tls_folder(loaded)
    return TlsSetup(
        mode="generate",
        cert=str(folder / "server.cert.pem"),
        key=str(folder / "server.key.pem"),
        ca=str(folder / "ca.cert.pem"),
        ca_key=str(folder / "ca.key.pem"),
        names=tls_names(loaded.spec),
    )


def _with_server_tls(server: ServiceRequest, tls: TlsSetup | None, digest: str) -> ServiceRequest:
    if tls is None:
        return server
    from dataclasses import replace

    return replace(
        server,
        mounts=(
            *server.mounts,
            Mount("bind", tls.cert, TLS_CERT_TARGET, read_only=True),
            Mount("bind", tls.key, TLS_KEY_TARGET, read_only=True),
        ),
        healthcheck=Healthcheck(test=server_health_check(tls=True)),
        files_digest=digest,
    )


def _with_worker_tls(worker: ServiceRequest, tls: TlsSetup | None, digest: str) -> ServiceRequest:
    if tls is None or tls.ca is None:
        return worker
    from dataclasses import replace

    return replace(
        worker,
        env=(*worker.env, (WORKER_CA_ENV, WORKER_CA_TARGET)),
        mounts=(*worker.mounts, Mount("bind", tls.ca, WORKER_CA_TARGET, read_only=True)),
        files_digest=digest,
    )
