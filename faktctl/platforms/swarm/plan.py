"""Desired state -> swarm objects, and observed swarm objects -> a plan. Pure: no engine.

The server's flags, environment, mounts and health check come from faktctl.desired unchanged;
this module only says how a swarm carries them:

- secrets are immutable, so each is named by a hash of its content; a new password is a new
  secret, the services move to it, and the old one is removed afterwards;
- the server: one replica pinned to its node (its volume lives there), `stop-first` updates (two
  servers on one data directory must never overlap), restart on any exit (Faktory exits 0);
- workers: `start-first` rolling updates that roll back on failure, spread by preference;
- TLS (spec: server.tls): each TLS file the desired state bind-mounts (the server's certificate
  and key in its config folder, the workers' CA) is a secret mounted at the same path, named
  by its content like the password: a renewed certificate is a new secret, so the server
  service updates (stop-first) and reads it at start; the CA key is no mount, never a secret;
- FAKTORY_URL never appears in a service's environment: it is a secret file. With `shell`
  delivery the worker's own entrypoint and command run under `/bin/sh -c` which exports the
  variable from the file and `exec`s them (same argv, same PID 1); with `file` the command is
  left alone and FAKTORY_URL_FILE names the file for a worker that reads it itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from faktctl import labels
from faktctl.desired import (
    PASSWORD_TARGET,
    WEB_CONF_TARGET,
    Desired,
    Healthcheck,
    SecretEnv,
    ServiceRequest,
    SwarmSettings,
)
from faktctl.faktory.server import (
    SERVER_SERVICE,
    TLS_CERT_TARGET,
    TLS_KEY_TARGET,
    WORKER_CA_TARGET,
)
from faktctl.secretvalue import SecretStr, as_line, fingerprint

URL_SECRET_TARGET = "/run/secrets/faktory_url"
URL_FILE_VAR = "FAKTORY_URL_FILE"
SHELL_WRAPPER = (
    "/bin/sh",
    "-c",
    f'IFS= read -r FAKTORY_URL < {URL_SECRET_TARGET}; export FAKTORY_URL; exec "$@"',
    "faktctl-worker",
)
SERVER_RESTART_DELAY_S = 5
WORKER_UPDATE_DELAY_S = 2
WORKER_MONITOR_S = 10
SecretKey = Literal["password", "url", "web", "tls_cert", "tls_key", "tls_ca"]
# each TLS file's secret, by the path the desired state mounts it at, and its file mode
TLS_SECRETS: dict[str, tuple[SecretKey, int]] = {
    TLS_CERT_TARGET: ("tls_cert", 0o444),
    TLS_KEY_TARGET: ("tls_key", 0o400),
    WORKER_CA_TARGET: ("tls_ca", 0o444),  # a worker may run as any user
}


class SwarmPlanError(ValueError):
    """The desired state cannot be carried by a swarm as asked (a one-line reason)."""


@dataclass(frozen=True)
class SecretObject:
    key: SecretKey
    name: str  # <project>_<key>_<hash of content>
    data: SecretStr = field(compare=False, repr=False)


@dataclass(frozen=True)
class SecretMount:
    secret: str  # the secret object's name
    target: str  # absolute path inside the container
    mode: int = 0o400


@dataclass(frozen=True)
class VolumeMount:
    kind: Literal["volume", "bind"]
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class UpdatePolicy:
    parallelism: int
    order: Literal["stop-first", "start-first"]
    failure_action: Literal["pause", "rollback", "continue"]
    delay_s: int = 0
    monitor_s: int = 5


@dataclass(frozen=True)
class SwarmService:
    """One swarm service; `config_hash()` covers everything, so a changed hash means update."""

    name: str  # the swarm service's name: <project>_<service>
    service: str  # the spec's name (faktory, or a worker's name)
    role: Literal["server", "worker"]
    image: str
    entrypoint: tuple[str, ...] | None  # None: the image's own
    args: tuple[str, ...] | None  # None: the image's own
    env: tuple[tuple[str, str], ...]
    secrets: tuple[SecretMount, ...]
    mounts: tuple[VolumeMount, ...]
    replicas: int
    constraints: tuple[str, ...]
    spread: tuple[str, ...]
    update: UpdatePolicy
    restart_delay_s: int
    stop_grace_s: int | None
    memory_bytes: int | None
    cpus: float | None
    healthcheck: Healthcheck | None
    published_port: int | None  # host mode on the server's node
    network: str
    aliases: tuple[str, ...]
    volume_labels: tuple[tuple[str, str], ...] = ()
    # dnsrr: the name resolves to the tasks' own addresses (no IPVS virtual IP in between)
    endpoint_mode: Literal["dnsrr", "vip"] = "dnsrr"
    stop_signal: str | None = None  # None: the image's own

    def config_hash(self) -> str:
        data = asdict(self)
        if data["stop_signal"] is None:  # hashes from before the field existed stay the same
            data.pop("stop_signal")
        return labels.config_fingerprint(data)

    def labels(self, project: str) -> dict[str, str]:
        return {**self.container_labels(project), labels.CONFIG_HASH: self.config_hash()}

    def container_labels(self, project: str) -> dict[str, str]:
        return labels.of_service(project, self.service, self.role)


@dataclass(frozen=True)
class SwarmDesired:
    project: str
    network: str
    encrypted: bool
    secrets: tuple[SecretObject, ...]
    services: tuple[SwarmService, ...]  # the server first
    volume: str | None  # the named volume the server mounts, if any

    @property
    def server(self) -> SwarmService:
        return self.services[0]

    @property
    def workers(self) -> tuple[SwarmService, ...]:
        return self.services[1:]

    def object_labels(self) -> dict[str, str]:
        return labels.owned(self.project)


@dataclass(frozen=True)
class ImageEntry:
    """What the image itself runs, for `shell` delivery (from the engine's image inspect)."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]


def secret_name(project: str, key: SecretKey, value: SecretStr) -> str:
    return f"{project}_{key}_{fingerprint(value, 12)}"


def translate(
    desired: Desired,
    password: SecretStr,
    web_conf: SecretStr | None,
    entries: Mapping[str, ImageEntry],
    tls_files: Mapping[str, SecretStr] | None = None,
) -> SwarmDesired:
    """The swarm form of `desired`. `entries` maps each `shell`-delivery worker's image to what
    the image runs; `web_conf` is the conf.d text with a separate dashboard password, if any;
    `tls_files` the content of each TLS file the desired state mounts, by host path
    (faktctl.secretfiles.tls_file_contents)."""
    settings = desired.swarm
    if settings is None:
        raise SwarmPlanError("the spec has no swarm section")
    project = desired.project
    url = _worker_url(desired)
    secrets = [SecretObject("password", secret_name(project, "password", password), password)]
    if url is not None:
        secrets.append(SecretObject("url", secret_name(project, "url", url), url))
    if web_conf is not None:
        secrets.append(SecretObject("web", secret_name(project, "web", web_conf), web_conf))
    files = _tls_secrets(desired, project, tls_files or {})
    secrets += files.values()
    by_key: dict[str, str] = {s.key: s.name for s in secrets}
    network = f"{project}_default"
    server = _server(desired.server, project, network, settings, by_key)
    workers = tuple(
        _worker(w, project, network, settings, by_key, entries) for w in desired.workers
    )
    volume = next((m.source for m in desired.server.mounts if m.kind == "volume"), None)
    return SwarmDesired(
        project=project,
        network=network,
        encrypted=settings.encrypted_network,
        secrets=tuple(secrets),
        services=(server, *workers),
        volume=volume,
    )


def _tls_secrets(
    desired: Desired, project: str, files: Mapping[str, SecretStr]
) -> dict[str, SecretObject]:
    """The secret of each TLS file a service mounts, by its target path."""
    found: dict[str, SecretObject] = {}
    for service in desired.services:
        for mount in service.mounts:
            if mount.target not in TLS_SECRETS or mount.kind != "bind":
                continue
            content = files.get(mount.source)
            if content is None:
                raise SwarmPlanError(f"the TLS file {mount.source} was not read")
            key, _ = TLS_SECRETS[mount.target]
            found[mount.target] = SecretObject(key, secret_name(project, key, content), content)
    return found


def _tls_mounts(request: ServiceRequest, secrets: Mapping[str, str]) -> list[SecretMount]:
    return [
        SecretMount(secrets[TLS_SECRETS[m.target][0]], m.target, TLS_SECRETS[m.target][1])
        for m in request.mounts
        if m.kind == "bind" and m.target in TLS_SECRETS
    ]


def _worker_url(desired: Desired) -> SecretStr | None:
    for worker in desired.workers:
        for _, value in worker.env:
            if isinstance(value, SecretEnv):
                return as_line(value.value)
    return None


def _server(
    request: ServiceRequest,
    project: str,
    network: str,
    settings: SwarmSettings,
    secrets: dict[str, str],
) -> SwarmService:
    env = tuple((name, _plain(name, value)) for name, value in request.env)
    mounts = tuple(
        VolumeMount(m.kind, m.source, m.target, m.read_only)
        for m in request.mounts
        # on a swarm the dashboard password and the TLS files are secrets
        if m.target != WEB_CONF_TARGET and m.target not in TLS_SECRETS
    )
    secret_mounts = [SecretMount(secrets["password"], PASSWORD_TARGET)]
    if "web" in secrets:
        secret_mounts.append(SecretMount(secrets["web"], WEB_CONF_TARGET))
    secret_mounts += _tls_mounts(request, secrets)
    return SwarmService(
        name=f"{project}_{request.name}",
        service=request.name,
        role="server",
        image=request.image,
        entrypoint=None,
        args=request.command,
        env=env,
        secrets=tuple(secret_mounts),
        mounts=mounts,
        replicas=1,
        constraints=(settings.server_constraint,),
        spread=(),
        update=UpdatePolicy(parallelism=1, order="stop-first", failure_action="pause"),
        restart_delay_s=SERVER_RESTART_DELAY_S,
        stop_grace_s=request.stop_grace_s,
        memory_bytes=request.memory_bytes,
        cpus=request.cpus,
        healthcheck=request.healthcheck,
        published_port=settings.publish_protocol,
        network=network,
        aliases=(SERVER_SERVICE,),
        volume_labels=tuple(sorted(labels.owned(project).items())),
    )


def _plain(name: str, value: str | SecretEnv) -> str:
    if isinstance(value, SecretEnv):
        raise SwarmPlanError(f"{name} carries a secret and cannot be a service variable")
    return value


def _worker(
    request: ServiceRequest,
    project: str,
    network: str,
    settings: SwarmSettings,
    secrets: Mapping[str, str],
    entries: Mapping[str, ImageEntry],
) -> SwarmService:
    own = settings.worker(request.name)
    url_secret = secrets.get("url", "")
    delivery = own.faktory_url if own is not None else "shell"
    spread = own.spread if own is not None and own.spread is not None else settings.worker_spread
    env = [(name, value) for name, value in request.env if isinstance(value, str)]
    entrypoint: tuple[str, ...] | None = None
    args = request.command
    if delivery == "file":
        env.insert(0, (URL_FILE_VAR, URL_SECRET_TARGET))
    else:
        entry = entries.get(request.image)
        if entry is None:
            raise SwarmPlanError(
                f"worker `{request.name}`: image {request.image} was not inspected"
            )
        runs = (*entry.entrypoint, *(request.command or entry.cmd))
        if not runs:
            raise SwarmPlanError(
                f"worker `{request.name}`: image {request.image} has no entrypoint or command"
            )
        entrypoint, args = SHELL_WRAPPER, runs
    return SwarmService(
        name=f"{project}_{request.name}",
        service=request.name,
        role="worker",
        image=request.image,
        entrypoint=entrypoint,
        args=args,
        env=tuple(env),
        secrets=(
            *((SecretMount(url_secret, URL_SECRET_TARGET),) if url_secret else ()),
            *_tls_mounts(request, secrets),
        ),
        mounts=(),
        replicas=request.replicas,
        constraints=(),
        spread=tuple(spread),
        update=UpdatePolicy(
            parallelism=settings.update_parallelism,
            order="start-first",
            failure_action="rollback",
            delay_s=WORKER_UPDATE_DELAY_S,
            monitor_s=WORKER_MONITOR_S,
        ),
        restart_delay_s=SERVER_RESTART_DELAY_S,
        stop_grace_s=request.stop_grace_s,
        memory_bytes=request.memory_bytes,
        cpus=request.cpus,
        healthcheck=None,
        published_port=None,
        network=network,
        aliases=(request.name,),
        stop_signal=request.stop_signal,
    )


def with_images(desired: SwarmDesired, images: Mapping[str, str]) -> SwarmDesired:
    """The same services with image references replaced (e.g. pinned to a local image id)."""
    services = tuple(replace(s, image=images.get(s.image, s.image)) for s in desired.services)
    return replace(desired, services=services)


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservedService:
    id: str
    name: str
    version: int
    config_hash: str
    service: str
    running: int = 0  # tasks running, as the swarm counts them


@dataclass(frozen=True)
class Observed:
    network: bool
    secrets: tuple[str, ...]  # names of the project's secrets
    services: tuple[ObservedService, ...]


ActionKind = Literal[
    "create-network",
    "create-secret",
    "create-service",
    "update-service",
    "noop",
    "remove-service",
    "remove-secret",
]


@dataclass(frozen=True)
class SwarmAction:
    kind: ActionKind
    target: str
    reason: str = ""

    def text(self) -> str:
        words = {
            "create-network": "create overlay network",
            "create-secret": "create secret",
            "create-service": "create service",
            "update-service": "update service",
            "noop": "keep service",
            "remove-service": "remove service",
            "remove-secret": "remove secret",
        }[self.kind]
        return f"{words} {self.target}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class SwarmPlan:
    actions: tuple[SwarmAction, ...]

    @property
    def changes(self) -> tuple[SwarmAction, ...]:
        return tuple(a for a in self.actions if a.kind != "noop")

    @property
    def up_to_date(self) -> bool:
        return not self.changes

    def lines(self) -> list[str]:
        return [a.text() for a in self.actions]

    def of(self, kind: ActionKind) -> tuple[SwarmAction, ...]:
        return tuple(a for a in self.actions if a.kind == kind)


def plan(desired: SwarmDesired, observed: Observed) -> SwarmPlan:
    """Network, new secrets, services (server first), then what is left over."""
    actions: list[SwarmAction] = []
    if not observed.network:
        encrypted = " (encrypted)" if desired.encrypted else ""
        actions.append(SwarmAction("create-network", desired.network + encrypted))
    have_secrets = set(observed.secrets)
    for secret in desired.secrets:
        if secret.name not in have_secrets:
            actions.append(SwarmAction("create-secret", secret.name, _secret_reason(secret.key)))
    have = {s.name: s for s in observed.services}
    for service in desired.services:
        found = have.get(service.name)
        if found is None:
            actions.append(SwarmAction("create-service", service.name, _replicas(service)))
        elif found.config_hash != service.config_hash():
            actions.append(SwarmAction("update-service", service.name, _update_reason(service)))
        else:
            actions.append(SwarmAction("noop", service.name, "up to date"))
    wanted = {s.name for s in desired.services}
    for found in observed.services:
        if found.name not in wanted:
            actions.append(SwarmAction("remove-service", found.name, "no longer in the spec"))
    wanted_secrets = {s.name for s in desired.secrets}
    for name in observed.secrets:
        if name not in wanted_secrets:
            actions.append(SwarmAction("remove-secret", name, "replaced or no longer used"))
    return SwarmPlan(tuple(actions))


def _secret_reason(key: SecretKey) -> str:
    return {
        "password": "server password",
        "url": "workers' FAKTORY_URL",
        "web": "dashboard password",
        "tls_cert": "server's TLS certificate",
        "tls_key": "server's TLS key",
        "tls_ca": "workers' TLS CA",
    }[key]


def _replicas(service: SwarmService) -> str:
    return f"{service.replicas} replica{'s' if service.replicas != 1 else ''}"


def _update_reason(service: SwarmService) -> str:
    order = service.update.order
    return f"configuration changed; {order}"
