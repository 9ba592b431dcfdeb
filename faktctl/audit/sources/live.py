"""faktctl audit --live: facts from the running deployment.

Containers come from the engine (the spec's project, found as faktctl.live.containers finds it for
every command, compose-started projects included; without a spec any container running a
Faktory image or a /faktory command). Their inspect data gives the effective command,
environment, mounts, port bindings, restart policy and health; the files the password logic
needs are read through the engine; and the server is asked over the wire where `up` and backup
reach it too (faktctl.live.reach.dial_address: a published port, else on a local engine the
container's own IP on its network): the +HI greeting, HELLO with the configured password,
INFO, GET /health and GET / without credentials. Where the data really goes is read with
`ls`/`stat`/`redis-cli` inside the container.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from faktctl.adapters import probe
from faktctl.audit import effective
from faktctl.audit.model import (
    AuditFacts,
    BackupFacts,
    CertFacts,
    EnvVar,
    Exposure,
    HealthcheckFact,
    LiveData,
    LiveProbe,
    LiveState,
    MountFact,
    OrphanFacts,
    PortFact,
    ServerFacts,
    Suppression,
    SwarmFacts,
    WorkerFacts,
)
from faktctl.errors import FaktctlError, UsageError
from faktctl.faktory.images import parse_image
from faktctl.faktory.workers import DOCKER_DEFAULT_GRACE_S
from faktctl.live import containers, reach
from faktctl.platforms.engine.observe import published_ports
from faktctl.secretvalue import SecretStr

PROBE_TIMEOUT_S = 3.0
MAX_FILE = 64 * 1024
_ANONYMOUS = re.compile(r"^[0-9a-f]{64}$")
RawDict = dict[str, Any]


class LiveEngine(Protocol):
    """The engine primitives the live audit needs (faktctl.adapters.docker.engine.Engine)."""

    def containers(self, labels: Mapping[str, str], all: bool = True) -> list[RawDict]: ...

    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]: ...

    def read_file(self, container_id: str, path: str) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class SpecContext:
    """What a spec adds to a live audit: which containers, the password, the intent."""

    project: str
    password: SecretStr | None
    exposure: Exposure
    backup: BackupFacts
    suppressions: tuple[Suppression, ...]
    file: str
    tls: probe.Tls | None = None  # the spec's TLS: the CA its workers trust
    tls_names: tuple[str, ...] = ()  # the names the certificate must cover


# --- reading one container -------------------------------------------------------------------


def _name(raw: RawDict) -> str:
    return str(raw.get("Name", "")).lstrip("/") or str(raw.get("Id", ""))[:12]


def _config(raw: RawDict) -> RawDict:
    return raw.get("Config") or {}


def _host(raw: RawDict) -> RawDict:
    return raw.get("HostConfig") or {}


def _argv(raw: RawDict) -> tuple[str, ...]:
    config = _config(raw)
    return tuple(config.get("Entrypoint") or ()) + tuple(config.get("Cmd") or ())


def _env(raw: RawDict) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    for item in _config(raw).get("Env") or ():
        key, _, value = str(item).partition("=")
        env[key] = EnvVar(key, value, "engine", "the container's environment")
    return env


def is_server(raw: RawDict) -> bool:
    image = str(_config(raw).get("Image") or "")
    if image and parse_image(image).is_faktory:
        return True
    return effective.faktory_args(_argv(raw)) is not None


def _mounts(raw: RawDict) -> list[MountFact]:
    mounts = []
    for item in raw.get("Mounts") or ():
        target = str(item.get("Destination", ""))
        read_only = not item.get("RW", True)
        kind = item.get("Type")
        if kind == "volume":
            name = str(item.get("Name", ""))
            anonymous = bool(_ANONYMOUS.match(name))
            mounts.append(
                MountFact("anonymous" if anonymous else "volume", target, name, read_only)
            )
        elif kind == "bind":
            mounts.append(MountFact("bind", target, str(item.get("Source", "")), read_only))
        elif kind == "tmpfs":
            mounts.append(MountFact("tmpfs", target))
    for target in _host(raw).get("Tmpfs") or {}:
        mounts.append(MountFact("tmpfs", str(target)))
    return mounts


def _ports(raw: RawDict) -> list[PortFact]:
    facts = []
    bindings = _host(raw).get("PortBindings") or {}
    for key, items in bindings.items():
        port, _, protocol = str(key).partition("/")
        if not port.isdigit():
            continue
        for item in items or ():
            ip = str(item.get("HostIp") or "")
            host_port = str(item.get("HostPort") or "")
            shown = f"{ip + ':' if ip else ''}{host_port}:{port}".lstrip(":")
            facts.append(PortFact(int(port), ip, host_port, protocol or "tcp", shown))
    return facts


def _restart(raw: RawDict) -> str | None:
    policy = _host(raw).get("RestartPolicy") or {}
    name = str(policy.get("Name") or "")
    if not name or name == "no":
        return None
    retries = policy.get("MaximumRetryCount") or 0
    return f"{name}:{retries}" if name == "on-failure" and retries else name


def _healthcheck(raw: RawDict) -> HealthcheckFact | None:
    check = _config(raw).get("Healthcheck")
    if not check or not check.get("Test"):
        return None
    test = tuple(str(part) for part in check["Test"])
    return HealthcheckFact(test, disabled=test[:1] == ("NONE",))


def _live_state(raw: RawDict) -> LiveState:
    state = raw.get("State") or {}
    health = state.get("Health") or {}
    running = state.get("Status") == "running"
    return LiveState(
        container=_name(raw),
        status=str(state.get("Status") or "unknown"),
        health=health.get("Status"),
        restart_count=int(raw.get("RestartCount") or 0),
        exit_code=None if running else state.get("ExitCode"),
    )


def server_facts(raw: RawDict, exposure: Exposure = "internal") -> ServerFacts:
    """The neutral facts of one container (no engine calls)."""
    grace = _config(raw).get("StopTimeout")
    memory = _host(raw).get("Memory") or None
    image = str(_config(raw).get("Image") or "") or None
    return ServerFacts(
        service=_name(raw),
        image=image,
        argv=_argv(raw),
        argv_note="the container's command",
        user=str(_config(raw).get("User") or "") or None,
        env=_env(raw),
        mounts=tuple(_mounts(raw)),
        ports=tuple(_ports(raw)),
        network_mode=str(_host(raw).get("NetworkMode") or "") or None,
        restart=_restart(raw),
        healthcheck=_healthcheck(raw),
        stop_grace_s=float(grace) if grace is not None else None,
        memory_bytes=int(memory) if memory else None,
        exposure_intent=exposure,
        live=_live_state(raw),
        reads_faktory_env=effective.reads_faktory_env(image),
    )


# --- a swarm task: what its service says ------------------------------------------------------

SWARM_SERVICE_ID = "com.docker.swarm.service.id"
_SWARM_RESTART = {"any": "always", "none": "no", "on-failure": "on-failure"}
_NS = 1_000_000_000


def swarm_service_id(raw: RawDict) -> str:
    return str((_config(raw).get("Labels") or {}).get(SWARM_SERVICE_ID, ""))


def _swarm_ports(endpoint: RawDict, node: str | None) -> tuple[PortFact, ...]:
    facts = []
    for port in endpoint.get("Ports") or ():
        mode = str(port.get("PublishMode") or "ingress")
        target, published = int(port.get("TargetPort") or 0), str(port.get("PublishedPort") or "")
        where = (
            "every interface of every node"
            if mode == "ingress"
            else f"every interface of node {node or 'of its task'}"
        )
        shown = f"{published}:{target} (swarm {mode} mode: {where})"
        protocol = str(port.get("Protocol") or "tcp")
        facts.append(PortFact(target, "", published, protocol, shown, swarm_mode=mode))
    return tuple(facts)


def swarm_server_facts(facts: ServerFacts, service: RawDict, node: str | None) -> ServerFacts:
    """A task container's facts with what its swarm service decides (no engine calls): the
    service's environment (in the raft log and `docker service inspect`: written in clear),
    restart policy, replicas, published ports with their mode, limits, placement, update order."""
    spec = service.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    env = dict(facts.env)
    for item in container.get("Env") or ():
        key, _, value = str(item).partition("=")
        env[key] = EnvVar(key, value, "literal", "the swarm service's environment")
    policy = template.get("RestartPolicy") or {}
    condition = str(policy.get("Condition") or "any")
    restart = _SWARM_RESTART.get(condition, condition)
    attempts = int(policy.get("MaxAttempts") or 0)
    if restart == "on-failure" and attempts:
        restart = f"on-failure:{attempts}"
    replicated = (spec.get("Mode") or {}).get("Replicated")
    replicas = int(replicated.get("Replicas", 1)) if isinstance(replicated, dict) else 2
    grace = container.get("StopGracePeriod")
    limits = (template.get("Resources") or {}).get("Limits") or {}
    placement = template.get("Placement") or {}
    endpoint = service.get("Endpoint") or spec.get("EndpointSpec") or {}
    return replace(
        facts,
        env=env,
        restart=restart,
        restart_text=f"the service's restart_policy.condition: {condition}",
        replicas=replicas,
        ports=_swarm_ports(endpoint, node),
        stop_grace_s=grace / _NS if isinstance(grace, int) else 10.0,
        memory_bytes=int(limits["MemoryBytes"]) if limits.get("MemoryBytes") else None,
        swarm=SwarmFacts(
            constraints=tuple(str(c) for c in placement.get("Constraints") or ()),
            update_order=str((spec.get("UpdateConfig") or {}).get("Order") or "stop-first"),
            node=node,
            service=str(spec.get("Name") or "") or None,
        ),
    )


def _with_swarm(engine: LiveEngine, raw: RawDict, facts: ServerFacts) -> ServerFacts:
    service_id = swarm_service_id(raw)
    if not service_id or not hasattr(engine, "api"):
        return facts
    from faktctl.adapters.docker import swarm as docker_swarm

    node = str(_config(raw).get("Labels", {}).get("com.docker.swarm.node.id", ""))
    try:
        service = docker_swarm.inspect_service(engine, service_id)  # type: ignore[arg-type]
        name = docker_swarm.node_name_and_address(engine, node)[0] if node else None  # type: ignore[arg-type]
    except FaktctlError:
        return facts
    return swarm_server_facts(facts, service, name)


# --- files inside the container --------------------------------------------------------------


def _read(engine: LiveEngine, container: str, path: str) -> str | None:
    try:
        data = b""
        for chunk in engine.read_file(container, path):
            data += chunk
            if len(data) > MAX_FILE:
                return None
    except FaktctlError:
        return _cat(engine, container, path)
    if not data:
        return _cat(engine, container, path) or ""
    return data.decode("utf-8", errors="replace")


def _cat(engine: LiveEngine, container: str, path: str) -> str | None:
    """A file as the running container sees it, read from inside it: the engine's archive API
    sees only an empty placeholder where a swarm secret (/run/secrets/...) is mounted."""
    try:
        code, output = engine.exec(container, ["cat", path])
    except FaktctlError:
        return None
    if code != 0 or len(output) > MAX_FILE:
        return None
    return output.decode("utf-8", errors="replace")


def _listing(engine: LiveEngine, container: str, folder: str) -> tuple[str, ...] | None:
    try:
        code, output = engine.exec(container, ["ls", "-1", folder])
    except FaktctlError:
        return None
    if code != 0:
        return ()
    return tuple(line for line in output.decode(errors="replace").splitlines() if line)


def _tls_files_seen(engine: LiveEngine, container: str, config_dir: str) -> dict[str, str | None]:
    """Whether the TLS pair is in the config folder as the container sees it: a swarm task's
    secrets mounted there are not among its container's mounts. Present files are known by
    name only ("": their content, the key's above all, never enters the facts)."""
    names = _listing(engine, container, config_dir)
    if names is None:
        return {}
    return {
        posixpath.join(config_dir, name): "" if name in names else None
        for name in effective.TLS_FILES
    }


def read_config_files(engine: LiveEngine, raw: RawDict, facts: ServerFacts) -> ServerFacts:
    """Read what the password lookup needs from the running container."""
    if (raw.get("State") or {}).get("Status") != "running":
        return facts
    env = {name: var.value for name, var in facts.env.items()}
    first = effective.resolve(facts.argv, env, facts.mounts, facts.user)
    container = str(raw.get("Id"))
    files: dict[str, str | None] = {}
    dirs: dict[str, tuple[str, ...]] = {}
    if first.config_dir is not None:
        folder = posixpath.join(first.config_dir, "conf.d")
        names = _listing(engine, container, folder)
        if names is not None:
            dirs[folder] = names
            for name in names:
                if name.endswith(".toml"):
                    files[f"{folder}/{name}"] = _read(engine, container, f"{folder}/{name}")
    if first.config_dir is not None:
        files.update(_tls_files_seen(engine, container, first.config_dir))
    candidates = [effective.ETC_PASSWORD]
    value = env.get("FAKTORY_PASSWORD")
    if value and value.startswith("/"):
        candidates.append(value)
    for path in candidates:
        files[path] = _read(engine, container, path)
    second = effective.resolve(
        facts.argv,
        env,
        facts.mounts,
        facts.user,
        files=effective.FileView(facts.mounts, files, dirs),
    )
    named = second.password.file_path
    if named and named not in files:  # a conf.d password naming a file
        files[named] = _read(engine, container, named)
    return replace(facts, container_files=files, container_dirs=dirs)


_DATA_SCRIPT = (
    'for d in {dirs}; do [ -S "$d/redis.sock" ] && echo "SOCK $d"; done; echo "NOW $(date +%s)"'
)


def _redis_info(text: str) -> dict[str, str]:
    info = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            info[key] = value
    return info


def data_facts(engine: LiveEngine, raw: RawDict, eff: effective.Behaviour) -> LiveData | None:
    if (raw.get("State") or {}).get("Status") != "running":
        return None
    container = str(raw.get("Id"))
    candidates = [eff.data_dir] if eff.data_dir else []
    home_db = posixpath.join(eff.home, ".faktory", "db")
    for extra in (effective.DEFAULT_DATA_DIR, home_db, "/root/.faktory/db", "/.faktory/db"):
        if extra not in candidates:
            candidates.append(extra)
    script = _DATA_SCRIPT.format(dirs=" ".join(shlex.quote(c) for c in candidates))
    try:
        _, output = engine.exec(container, ["sh", "-c", script])
    except FaktctlError as err:
        return LiveData(None, tuple(candidates), error=err.one_line())
    lines = output.decode(errors="replace").splitlines()
    sockets = [line[5:] for line in lines if line.startswith("SOCK ")]
    now = next(
        (int(line[4:]) for line in lines if line.startswith("NOW ") and line[4:].isdigit()), None
    )
    if not sockets:
        return LiveData(None, tuple(candidates))
    folder = sockets[0]
    return _rdb_facts(engine, container, folder, now, tuple(candidates))


def _rdb_facts(
    engine: LiveEngine, container: str, folder: str, now: int | None, looked: tuple[str, ...]
) -> LiveData:
    rdb = f"{folder}/faktory.rdb"
    age: float | None = None
    size: int | None = None
    try:
        code, output = engine.exec(container, ["stat", "-c", "%Y %s", rdb])
        words = output.decode(errors="replace").split()
        if code == 0 and len(words) == 2 and now is not None:
            age, size = float(now - int(words[0])), int(words[1])
        code, output = engine.exec(container, ["redis-cli", "-s", f"{folder}/redis.sock", "INFO"])
    except (FaktctlError, ValueError):
        return LiveData(folder, looked, rdb if age is not None else None, age, size)
    info = _redis_info(output.decode(errors="replace")) if code == 0 else {}
    queue_keys = _queue_keys(engine, container, folder)
    changes = info.get("rdb_changes_since_last_save")
    uptime = info.get("uptime_in_seconds")
    status = info.get("rdb_last_bgsave_status")
    return LiveData(
        socket_dir=folder,
        looked_in=looked,
        rdb_path=rdb if age is not None else None,
        rdb_age_s=age,
        rdb_size=size,
        changes_since_save=int(changes) if changes and changes.isdigit() else None,
        last_bgsave_ok=None if status is None else status == "ok",
        uptime_s=float(uptime) if uptime and uptime.isdigit() else None,
        queue_keys=queue_keys,
    )


def _queue_keys(
    engine: LiveEngine, container: str, folder: str
) -> tuple[tuple[str, int, int], ...] | None:
    """Every queue's size under both key formats (1.9 `<name>`, 1.10 `q:<name>`)."""
    from faktctl.faktory import keys

    command = ["redis-cli", "-s", f"{folder}/redis.sock", "--raw", "EVAL", keys.SCRIPT, "0"]
    try:
        code, output = engine.exec(container, [*command, "count", "", "q:", "1"])
        if code != 0:
            return None
        report = keys.parse_report(output.decode(errors="replace"))
    except FaktctlError:
        return None
    return tuple((q.name, q.bare, q.prefixed) for q in report.queues)


# --- over the wire ---------------------------------------------------------------------------


def _address(
    raw: RawDict, listen: str, is_local: bool, engine_address: str = ""
) -> tuple[str, int] | None:
    """Where to reach `listen` (a Go listen address inside the container) from here: the one
    rule faktctl.live.reach.dial_address that `up` and backup use too."""
    _, _, port_text = listen.rpartition(":")
    if not port_text.isdigit():
        return None
    networks = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    found = reach.dial_address(
        published_ports(raw),
        int(port_text),
        is_local=is_local,
        engine_address=engine_address,
        network_ips=[str((net or {}).get("IPAddress") or "") for net in networks.values()],
        host_network=str(_host(raw).get("NetworkMode")) == "host",
        loopback_only=effective.binding_host(listen) in {"localhost", "127.0.0.1", "::1"},
    )
    return (found.host, found.port) if found is not None else None


def _endpoint(address: tuple[str, int]) -> str:
    return str(reach.Endpoint(*address))


def wire_probe(
    raw: RawDict,
    eff: effective.Behaviour,
    password: probe.Password | None,
    is_local: bool,
    engine_address: str = "",
    tls: probe.Tls | None = None,
) -> LiveProbe:
    if (raw.get("State") or {}).get("Status") != "running":
        return LiveProbe(None, unreachable="the container is not running")
    target = _address(raw, eff.protocol_binding, is_local, engine_address)
    web = _address(raw, eff.web_binding, is_local, engine_address) if eff.web_enabled else None
    result = LiveProbe(None, unreachable="no published loopback port and no container IP")
    if target is not None:
        result = _protocol_probe(target, password, tls)
    if web is not None:
        result = replace(result, **_web_probe(web, tls))
    return result


def probe_tls(eff: effective.Behaviour, spec: SpecContext | None) -> probe.Tls | None:
    """How the audit speaks to a server whose config folder holds the TLS files: verified
    against the spec's CA when there is one, else only read (the chain is then not checked)."""
    if eff.tls is not True:
        return None
    if spec is not None and spec.tls is not None:
        return spec.tls
    return probe.Tls(ca_file=None, server_name="faktory", verify=False)


def _protocol_probe(
    target: tuple[str, int], password: probe.Password | None, tls: probe.Tls | None = None
) -> LiveProbe:
    host, port = target
    endpoint = _endpoint(target)
    if tls is not None and tls.verify:
        # the certificate is judged by FKD041; the wire facts are read either way
        tls = replace(tls, verify=False)
    try:
        shake = probe.handshake(host, port, password, timeout=PROBE_TIMEOUT_S, tls=tls)
    except probe.ProbeError as err:
        return LiveProbe(endpoint, hello_error=str(err))
    known = password is not None
    result = LiveProbe(
        endpoint,
        greeting_salted=shake.password_required,
        hello_accepted=shake.accepted if (known or not shake.password_required) else None,
        hello_error=shake.error,
        password_known=known,
    )
    if not shake.accepted:
        return result
    try:
        with probe.FaktoryConnection(
            host, port, password, timeout=PROBE_TIMEOUT_S, tls=tls
        ) as conn:
            info = conn.info()
    except probe.ProbeError:
        return result
    server = info.get("server") or {}
    queues = (info.get("faktory") or {}).get("queues") or {}
    return replace(
        result,
        info_version=server.get("faktory_version"),
        queues=len(queues),
    )


def _web_probe(target: tuple[str, int], tls: probe.Tls | None = None) -> dict[str, Any]:
    host, port = target
    if tls is not None and tls.verify:
        tls = replace(tls, verify=False)
    found: dict[str, Any] = {"web_endpoint": _endpoint(target)}
    try:
        health = probe.http_health(host, port, timeout=PROBE_TIMEOUT_S, tls=tls)
        found["health_version"] = (health.get("server") or {}).get("faktory_version")
    except probe.ProbeError as err:
        found["health_error"] = str(err)
    try:
        found["web_status"] = probe.http_status(host, port, "/", timeout=PROBE_TIMEOUT_S, tls=tls)
    except probe.ProbeError as err:
        found["web_error"] = str(err)
    return found


# --- the whole deployment --------------------------------------------------------------------


def _spec_context(file: Path | None) -> SpecContext | None:
    from faktctl.audit.sources.spec import SpecFacts
    from faktctl.project import load
    from faktctl.spec.load import SPEC_FILENAME

    if file is None and not (Path.cwd() / SPEC_FILENAME).exists():
        return None
    facts = SpecFacts(load(file))
    return SpecContext(
        project=facts.loaded.spec.project,
        password=facts.password,
        exposure=facts.loaded.spec.server.dashboard_exposure,
        backup=facts.backup(),
        suppressions=facts.suppressions(),
        file=facts.display,
        tls=reach.tls_client(facts.desired.tls),
        tls_names=facts.desired.tls.names if facts.desired.tls else (),
    )


def _select(
    engine: LiveEngine, spec: SpecContext | None, labels: Mapping[str, str]
) -> list[RawDict]:
    """The spec's project's containers (started by faktctl, else by compose), or every
    container carrying `labels` when there is no spec."""
    if spec is not None:
        found = list(containers.find(engine, spec.project, extra=labels).containers)
    else:
        found = engine.containers(dict(labels), all=True)
    # a swarm keeps its earlier tasks' containers (the task history): only running ones count
    found = [
        c
        for c in found
        if not swarm_service_id(c) or (c.get("State") or {}).get("Status") == "running"
    ]
    if not found and spec is not None and hasattr(engine, "api"):
        from faktctl.backups.deployment import swarm_server_elsewhere

        elsewhere = swarm_server_elsewhere(engine, spec.project)  # type: ignore[arg-type]
        if elsewhere is not None:
            raise UsageError(elsewhere)
    if not found:
        scope = f"of project `{spec.project}`" if spec else "at all"
        shown = ", ".join(f"{k}={v}" for k, v in labels.items())
        where = f" with label {shown}" if shown else ""
        raise UsageError(
            f"no container {scope}{where} on this engine",
            "start it (faktctl up / docker compose up), or audit the files without --live",
        )
    return found


def _worker(raw: RawDict) -> WorkerFacts | None:
    env = _env(raw)
    provider = env.get("FAKTORY_PROVIDER")
    name = provider.value if provider is not None and provider.value else None
    if name is None and "FAKTORY_URL" not in env:
        return None
    grace = _config(raw).get("StopTimeout")
    return WorkerFacts(
        _name(raw),
        env.get(name or "FAKTORY_URL"),
        name,
        image=str(_config(raw).get("Image") or "") or None,
        argv=_argv(raw) or None,
        stop_grace_s=float(grace) if isinstance(grace, int) else DOCKER_DEFAULT_GRACE_S,
    )


def orphan_facts(
    engine: LiveEngine,
    raw: RawDict,
    password: probe.Password | None,
    is_local: bool,
    address: str,
    tls: probe.Tls | None = None,
) -> OrphanFacts | None:
    """The reservations whose process the server no longer lists (faktctl.live.processes):
    None for a container that is not running or a swarm task (its dashboard is behind a relay)."""
    from faktctl.live import processes

    if (raw.get("State") or {}).get("Status") != "running" or swarm_service_id(raw):
        return None
    networks = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    dashboard = reach.dial_address(
        published_ports(raw),
        7420,
        is_local=is_local,
        engine_address=address,
        network_ips=[str(n.get("IPAddress")) for n in networks.values() if n.get("IPAddress")],
        tls=tls,
    )
    if dashboard is None:
        return OrphanFacts(error="the dashboard (port 7420) is not reachable from here")
    try:
        seen = processes.look(engine, str(raw.get("Id")), dashboard, password)
    except FaktctlError as err:
        return OrphanFacts(error=err.one_line())
    return OrphanFacts(tuple((r.jid, r.queue, r.age_s(seen.now)) for r in seen.orphans))


def _audit_server(
    engine: LiveEngine, raw: RawDict, spec: SpecContext | None, is_local: bool, address: str
) -> ServerFacts:
    from faktctl.audit.runner import behaviour_of

    facts = read_config_files(engine, raw, server_facts(raw, spec.exposure if spec else "internal"))
    facts = _with_swarm(engine, raw, facts)
    eff = behaviour_of(facts)
    password = spec.password if spec and spec.password else eff.password.value or None
    live = facts.live
    assert live is not None
    tls = probe_tls(eff, spec)
    cert = None
    if facts.swarm is not None and hasattr(engine, "api"):
        found, cert = _relayed_probe(engine, raw, eff, password, tls, spec)
    else:
        found = wire_probe(raw, eff, password, is_local, address, tls)
        cert = _served_cert(raw, eff, is_local, address, tls, spec)
    live = replace(live, probe=found, data=data_facts(engine, raw, eff))
    if facts.swarm is None:
        live = replace(
            live, reservations=orphan_facts(engine, raw, password, is_local, address, tls)
        )
    return replace(facts, live=live, tls_cert=cert)


def _served_cert(
    raw: RawDict,
    eff: effective.Behaviour,
    is_local: bool,
    address: str,
    tls: probe.Tls | None,
    spec: SpecContext | None,
) -> CertFacts | None:
    """The certificate the running server shows on 7419 (None without TLS or no answer)."""
    target = _address(raw, eff.protocol_binding, is_local, address)
    if tls is None or target is None:
        return None
    from faktctl.audit.sources.tlsfacts import from_server

    shown = f"the certificate served at {_endpoint(target)}"
    cert, _ = from_server(*target, tls, shown, spec.tls_names if spec else ())
    return cert


def _relayed_probe(
    engine: LiveEngine,
    raw: RawDict,
    eff: effective.Behaviour,
    password: probe.Password | None,
    tls: probe.Tls | None = None,
    spec: SpecContext | None = None,
) -> tuple[LiveProbe, CertFacts | None]:
    """A swarm task's overlay address is not reachable from this machine, and its ports are
    usually not published: probe it through relays into its container, as `up` and
    `faktctl dashboard` reach it (faktctl.adapters.docker.tunnel); with TLS, the certificate
    it serves too."""
    import contextlib

    from faktctl.adapters.docker.tunnel import relay

    if (raw.get("State") or {}).get("Status") != "running":
        return LiveProbe(None, unreachable="the container is not running"), None
    container = str(raw.get("Id"))
    protocol_port = _port_of(eff.protocol_binding, 7419)
    cert = None
    with contextlib.ExitStack() as stack:
        opened = stack.enter_context(relay(engine, container, protocol_port))  # type: ignore[arg-type]
        result = _protocol_probe(("127.0.0.1", opened.port), password, tls)
        if tls is not None:
            from faktctl.audit.sources.tlsfacts import from_server

            shown = f"the certificate served by the swarm task (port {protocol_port})"
            names = spec.tls_names if spec else ()
            cert, _ = from_server("127.0.0.1", opened.port, tls, shown, names)
        if eff.web_enabled:
            web_port = _port_of(eff.web_binding, 7420)
            web = stack.enter_context(
                relay(engine, container, web_port, client_speaks_first=True)  # type: ignore[arg-type]
            )
            result = replace(result, **_web_probe(("127.0.0.1", web.port), tls))
    note = "relay into the swarm task's container"
    return replace(
        result,
        endpoint=f"{note} (port {protocol_port})",
        web_endpoint=f"{note} (port {_port_of(eff.web_binding, 7420)})"
        if eff.web_enabled
        else None,
    ), cert


def _port_of(binding: str, default: int) -> int:
    _, _, text = binding.rpartition(":")
    return int(text) if text.isdigit() else default


def gather_live(
    file: Path | None,
    labels: Mapping[str, str],
    now: datetime,
    engine: LiveEngine | None = None,
) -> AuditFacts:
    spec = _spec_context(file)
    owned = engine is None
    if engine is None:
        from faktctl.adapters.docker.connect import connect

        engine = connect()
    try:
        containers = _select(engine, spec, labels)
        is_local = bool(getattr(engine, "is_local", True))
        address = str(getattr(engine, "address", ""))
        servers = [
            _audit_server(engine, raw, spec, is_local, address)
            for raw in containers
            if is_server(raw)
        ]
        workers = [w for raw in containers if not is_server(raw) for w in [_worker(raw)] if w]
    finally:
        if owned:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
    if not servers:
        raise UsageError("no running Faktory server among the containers found")
    return AuditFacts(
        kind="live",
        file=spec.file if spec else None,
        now=now,
        servers=tuple(servers),
        workers=tuple(workers),
        suppressions=spec.suppressions if spec else (),
        backup=spec.backup if spec else None,
    )
