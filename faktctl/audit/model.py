"""The neutral fact model every audit input is gathered into, and the findings rules produce.

Gatherers (spec, compose file, live engine) fill these frozen records; rules only read them.
Nothing here does I/O. Secret values may sit in facts (to measure strength or to probe) but no
message built from them may contain them: rules speak about origins and lengths, never values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

Status = Literal["pass", "fail", "skip"]
Severity = Literal["error", "warning", "info"]
Category = Literal[
    "persistence",
    "production-mode",
    "password-secret",
    "dashboard-exposure",
    "backup",
    "hygiene",
]
CATEGORIES: tuple[Category, ...] = (
    "persistence",
    "production-mode",
    "password-secret",
    "dashboard-exposure",
    "backup",
    "hygiene",
)
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
# ecs: an ECS task definition (JSON, or inside CloudFormation / Terraform); render: a Render
# blueprint (render.yaml); fly: a Fly.io app config (fly.toml)
InputKind = Literal["spec", "compose", "live", "kubernetes", "ecs", "render", "fly"]
# Where an audit runs, and so which facts it can see (docs/ci.md):
#   repo  a checkout (CI): the committed configuration only
#   host  the deploy host: plus its secret files and local backups
#   live  the running deployment (--live): plus the engine and the wire
AuditScope = Literal["repo", "host", "live"]
SCOPES: tuple[AuditScope, ...] = ("repo", "host", "live")
Exposure = Literal["internal", "proxy", "public"]

# Where an environment value came from.
#   literal      written in clear in the compose file / spec
#   env-file     a line of an env_file listed by the service
#   interpolated `${VAR}` resolved from the shell environment or the .env beside the file
#   host-env     a bare name (`- VAR`) handed through from the shell running compose
#   dotenv       faktctl's own 0600, git-ignored .env (spec input)
#   engine       read from a running container (live input)
#   reference    a Kubernetes Secret/ConfigMap/field that is not in the input (detail names it)
Origin = Literal["literal", "env-file", "interpolated", "host-env", "dotenv", "engine", "reference"]


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")


@dataclass(frozen=True)
class EnvVar:
    name: str
    # None: decided by a variable that is not set here. May be a password: never in a repr.
    value: str | None = field(repr=False)
    origin: Origin
    detail: str = ""  # e.g. "${FAKTORY_PASSWORD}" or "env_file prod.env"
    location: Location | None = None
    source_file: str | None = None  # host file holding the value (env_file, .env)
    # compose refuses to start when the variable behind it is unset (`${VAR:?}`, `${VAR?}`)
    required: bool = False


MountKind = Literal["volume", "bind", "anonymous", "tmpfs", "secret", "config"]


@dataclass(frozen=True)
class MountFact:
    kind: MountKind
    target: str
    source: str | None = None  # volume name, host path, secret/config name
    read_only: bool = False
    # file content when it is known (secret, config, bind file): may be a password, no repr
    content: str | None = field(default=None, repr=False)
    is_dir: bool | None = None
    # dir mount: relative *.toml path -> content
    entries: Mapping[str, str] | None = field(default=None, repr=False)
    host_path: str | None = None  # host file behind a secret/config/bind, when local
    content_origin: Origin | None = None  # inline compose content or a secret from a variable
    location: Location | None = None
    # the input declares this file (the spec's password_file) but it is not on this host: the
    # container gets it at deploy time (`up` refuses without it); FKS011 checks it on the host
    host_only: bool = False

    def covers(self, path: str) -> bool:
        """True when `path` is this mount's target or lies below it."""
        target = self.target.rstrip("/") or "/"
        return path == target or path.startswith(target.rstrip("/") + "/")


@dataclass(frozen=True)
class PortFact:
    container_port: int
    host_ip: str  # "" means every interface (no IP given)
    host_port: str  # "" means an ephemeral port chosen by the engine
    protocol: str = "tcp"
    raw: str = ""
    location: Location | None = None
    swarm_mode: str | None = None  # a swarm's publish mode: "ingress" or "host"


@dataclass(frozen=True)
class HealthcheckFact:
    test: tuple[str, ...]
    disabled: bool = False


@dataclass(frozen=True)
class Suppression:
    id: str
    reason: str
    expires: date | None
    service: str | None  # None: applies to every service
    location: Location | None = None


@dataclass(frozen=True)
class LiveProbe:
    """What talking to a running server over the wire showed."""

    endpoint: str | None  # host:port probed, None when no safe address was found
    unreachable: str | None = None  # why no probe could be made
    greeting_salted: bool | None = None
    hello_accepted: bool | None = None
    hello_error: str | None = None
    password_known: bool = False
    info_version: str | None = None
    queues: int | None = None
    web_endpoint: str | None = None
    health_version: str | None = None
    health_error: str | None = None
    web_status: int | None = None
    web_error: str | None = None


@dataclass(frozen=True)
class LiveData:
    """Where the running server really keeps its data (read through the engine)."""

    socket_dir: str | None  # directory holding redis.sock, None when not found
    looked_in: tuple[str, ...] = ()
    rdb_path: str | None = None
    rdb_age_s: float | None = None
    rdb_size: int | None = None
    changes_since_save: int | None = None
    last_bgsave_ok: bool | None = None
    uptime_s: float | None = None
    error: str | None = None
    # per queue: (name, jobs under `<name>` (1.9 keys), jobs under `q:<name>` (1.10 keys))
    queue_keys: tuple[tuple[str, int, int], ...] | None = None


@dataclass(frozen=True)
class OrphanFacts:
    """Reservations held by processes the running server no longer lists (its /busy page)."""

    orphans: tuple[tuple[str, str, float | None], ...] = ()  # (jid, queue, age in seconds)
    error: str | None = None  # why they could not be read


@dataclass(frozen=True)
class LiveState:
    container: str
    status: str  # running, exited, restarting...
    health: str | None  # healthy, unhealthy, starting, None (no healthcheck)
    restart_count: int
    exit_code: int | None = None
    probe: LiveProbe | None = None
    data: LiveData | None = None
    reservations: OrphanFacts | None = None


@dataclass(frozen=True)
class KubeRoute:
    """A way into the server's pods from outside them: a Service, an Ingress, an HTTPRoute."""

    port: int  # the Faktory port it reaches: 7419 or 7420
    how: str  # e.g. "Service faktory-ui (LoadBalancer) port 80 -> targetPort web (7420)"
    beyond_cluster: bool  # LoadBalancer, NodePort, externalIPs, Ingress, HTTPRoute
    location: Location | None = None


@dataclass(frozen=True)
class KubeServerFacts:
    """What only a Kubernetes input says about a server's workload."""

    kind: str  # StatefulSet, Deployment, DaemonSet, ReplicaSet, Pod, Job, CronJob
    name: str
    strategy: str | None = None  # the Deployment's or StatefulSet's update strategy
    strategy_location: Location | None = None
    autoscalers: tuple[tuple[str, Location | None], ...] = ()  # HPAs targeting the workload
    network_policies: tuple[str, ...] = ()  # NetworkPolicies selecting its pods
    routes: tuple[KubeRoute, ...] = ()
    probes: tuple[str, ...] = ()  # which of startup, readiness, liveness are defined
    memory_request: int | None = None


@dataclass(frozen=True)
class SwarmFacts:
    """What only a swarm says about a server's service (a stack file's `deploy:` or the live
    service): where its tasks may run and how an update replaces them."""

    # placement constraints, e.g. ("node.hostname==node-1",); empty: any node
    constraints: tuple[str, ...] = ()
    update_order: str | None = None  # "stop-first" (the default) or "start-first"
    node: str | None = None  # live: the node its task runs on
    service: str | None = None  # live: the swarm service's name


@dataclass(frozen=True)
class CertFacts:
    """The server's TLS certificate (from its file, or as a running server showed it), and
    what it is checked against."""

    origin: str  # "secrets/tls/server.cert.pem", "the running server (127.0.0.1:7419)"
    subject: str | None = None
    names: tuple[str, ...] = ()  # DNS names and IP addresses in subjectAltName
    not_after: datetime | None = None
    # names the workers and faktctl use to reach the server (spec: service name, published
    # addresses, server.tls.names); empty when the input does not say
    wanted: tuple[str, ...] = ()
    chain: str | None = None  # None: chains to the CA; else why not (or "not checked: ...")
    chain_checked: bool = False
    key_path: str | None = None  # the private key's host file, when known
    key_mode: int | None = None
    error: str | None = None  # why the certificate could not be read
    pending: bool = False  # `generate` has not made it yet (the next `up` does)
    # why the certificate cannot be read from this input (not judged): its file is absent
    # from this checkout, or it comes from an external secret or a volume
    unknown: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class ServerFacts:
    service: str
    image: str | None
    argv: tuple[str, ...] | None  # entrypoint + command as the engine will run it; None unknown
    argv_note: str = ""  # how argv was derived, or why it is unknown
    user: str | None = None
    env: Mapping[str, EnvVar] = field(default_factory=dict)
    unreadable_env_files: tuple[str, ...] = ()
    mounts: tuple[MountFact, ...] = ()
    ports: tuple[PortFact, ...] = ()
    network_mode: str | None = None
    restart: str | None = None
    # how the input spells the restart policy (`deploy.restart_policy.condition: on-failure`)
    restart_text: str | None = None
    # compose: how a server that is not a plain Faktory image was found, or why it could not
    # be confirmed to be one (it is audited as a server either way)
    identified_by: str = ""
    unconfirmed: str | None = None
    healthcheck: HealthcheckFact | None = None
    stop_grace_s: float | None = None
    memory_bytes: int | None = None
    replicas: int = 1
    exposure_intent: Exposure = "internal"
    location: Location | None = None
    locations: Mapping[str, Location] = field(default_factory=dict)
    live: LiveState | None = None
    # False for images older than 1.4.2, whose server does not read FAKTORY_ENV
    # (faktory/versions.py)
    reads_faktory_env: bool = True
    # Files read from a running container: path -> content (None: it does not exist), and
    # folder listings (path -> file names). They override what the mounts suggest.
    container_files: Mapping[str, str | None] = field(default_factory=dict, repr=False)
    container_dirs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kube: KubeServerFacts | None = None  # Kubernetes input only
    swarm: SwarmFacts | None = None  # a stack file written for a swarm, or a live swarm task
    # the certificate served (spec, live; compose and Kubernetes when a host file is mounted)
    tls_cert: CertFacts | None = None

    def loc(self, *keys: str) -> Location | None:
        """The location of the first field named in `keys` that has one, else the service's."""
        for key in keys:
            if key in self.locations:
                return self.locations[key]
        return self.location


ProxyState = Literal["forwards", "undecided"]


@dataclass(frozen=True)
class ProxyRoute:
    """A proxy service that forwards to a Faktory server's dashboard, or may: only those are
    kept (a proxy that plainly does not forward there is listed in AuditFacts.proxies_seen)."""

    proxy: str  # the proxy's service name, or a description when it is not in the file
    kind: str  # nginx, traefik, caddy, nginx-proxy, haproxy...
    server: str  # the Faktory service
    state: ProxyState
    how: str  # what forwards there ("proxy_pass http://faktory:7420 in nginx.conf"), or why
    # it could not be decided
    published: tuple[PortFact, ...] = ()  # the proxy's published ports
    host_network: bool = False  # the proxy runs with network_mode: host
    in_file: bool = True  # False: the route names a proxy outside this file (labels only)
    location: Location | None = None


@dataclass(frozen=True)
class WorkerFacts:
    service: str
    url: EnvVar | None  # FAKTORY_URL, or the variable FAKTORY_PROVIDER names
    provider: str | None = None  # the FAKTORY_PROVIDER value, when used
    location: Location | None = None
    image: str | None = None
    # the base image of the final stage of its `build:` Dockerfile (None: no build, or unknown)
    build_base: str | None = None
    argv: tuple[str, ...] | None = None  # entrypoint + command as given; None: the image's own
    # seconds between the stop signal and SIGKILL (the platform's default when unset); None:
    # unknown
    stop_grace_s: float | None = None
    grace_location: Location | None = None


@dataclass(frozen=True)
class SecretFileFact:
    path: str  # as shown to the user
    what: str  # "server password file", ".env (FAKTORY_URL)", ...
    mode: int | None  # permission bits, None when it cannot be read
    git: Literal["ignored", "tracked", "not-ignored"] | None = None
    git_skip: str | None = None  # why the git status is unknown
    error: str | None = None  # why the file could not be inspected
    location: Location | None = None


@dataclass(frozen=True)
class Manifest:
    name: str
    created_at: datetime
    sha256: str
    file: str
    checksum_ok: bool | None  # None: the snapshot file could not be read
    checksum_note: str = ""


@dataclass(frozen=True)
class BackupFacts:
    policy: bool
    destination: str | None = None
    max_age: timedelta | None = None
    readable: bool = False
    unreadable_reason: str = ""
    newest: Manifest | None = None
    manifests: int = 0
    invalid_manifests: tuple[str, ...] = ()
    location: Location | None = None


@dataclass(frozen=True)
class RenderedFile:
    path: str
    state: Literal["match", "differs", "missing"]


@dataclass(frozen=True)
class RenderFacts:
    files: tuple[RenderedFile, ...] = ()
    error: str | None = None  # why rendering could not be compared


@dataclass(frozen=True)
class AuditFacts:
    kind: InputKind
    file: str | None
    now: datetime
    servers: tuple[ServerFacts, ...] = ()
    workers: tuple[WorkerFacts, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    backup: BackupFacts | None = None
    secret_files: tuple[SecretFileFact, ...] = ()
    render: RenderFacts | None = None
    notes: tuple[str, ...] = ()
    proxies: tuple[ProxyRoute, ...] = ()  # compose: routes from proxy services to a dashboard
    proxies_seen: tuple[str, ...] = ()  # compose: every proxy service looked at
    scope: AuditScope = "host"  # decided by the command (faktctl.audit.scope)


@dataclass(frozen=True)
class RuleMeta:
    id: str
    name: str
    category: Category
    severity: Severity
    title: str
    remediation: str
    needs: AuditScope = "repo"  # the narrowest scope whose facts the check reads

    @property
    def anchor(self) -> str:
        """The check's heading anchor in docs/audit-checks.md."""
        return self.id.lower()


@dataclass(frozen=True)
class Finding:
    rule: RuleMeta
    status: Status
    service: str | None
    message: str
    location: Location | None = None
    remediation: str | None = None  # overrides the rule's when a finding needs a sharper hint
    suppressed_by: Suppression | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def fix(self) -> str:
        return self.remediation or self.rule.remediation


@dataclass(frozen=True)
class AuditReport:
    kind: InputKind
    file: str | None
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    scope: AuditScope = "host"
    # checks that need a wider scope than this audit's: not run, reported once
    not_evaluated: tuple[RuleMeta, ...] = ()
