"""The running deployment as backup and restore see it: find the server and workers, reach the
server's protocol port, read INFO, stop and start containers in the safe order, wait for health.

These are deliberately small: `faktctl up`/`down` own the full lifecycle. Restore only needs
"stop what runs, workers first; start it again, server first" on containers that already exist.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from faktctl import labels
from faktctl.adapters import probe
from faktctl.backups.savepoint import save_before_stop
from faktctl.desired import DATA_DIR, PROTOCOL_PORT
from faktctl.errors import OperationFailed
from faktctl.faktory.server import SERVER_SERVICE, TLS_CERT_TARGET
from faktctl.live import containers, ready
from faktctl.live.reach import Endpoint, log_tail, protocol_address, read_info
from faktctl.platforms.engine.observe import published_ports
from faktctl.secretvalue import SecretStr

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import RawDict
    from faktctl.adapters.docker.engine import Engine

DEFAULT_SERVER_STOP_S = 60
DEFAULT_WORKER_STOP_S = 10
LOG_TAIL = 15
SET_NAMES = ("scheduled", "retries", "dead", "working")

# Throwaway containers and volumes made by backup verify / restore carry these labels (and the
# engine's FAKTCTL_EXTRA_LABELS); they never carry io.faktctl.project, so `up` ignores them.
JOB_LABEL = labels.JOB
BACKUP_OF_LABEL = labels.JOB_OF
# what the swarm puts on a task's container
SWARM_SERVICE_ID = "com.docker.swarm.service.id"
SWARM_NODE_ID = "com.docker.swarm.node.id"
WORKER_TASKS_TIMEOUT_S = 120.0
SWARM_POLL_S = 0.5


class ServerNotRunning(OperationFailed):
    """The project's server container is missing or not running."""


class ServerUnreachable(OperationFailed):
    """The server runs, but its protocol port cannot be reached or INFO fails."""


class NotReady(OperationFailed):
    """A server did not become ready in time (or exited)."""


def job_labels(job: str, project: str) -> dict[str, str]:
    return {JOB_LABEL: job, BACKUP_OF_LABEL: project}


# --- finding containers -----------------------------------------------------------------------


def _role(engine: Engine, project: str, role: containers.Role) -> list[RawDict]:
    """Containers of a role: launched by `faktctl up`, else by compose from `faktctl render`."""
    return containers.find(engine, project).with_role(role)


name_of = containers.name_of


def is_running(container: Mapping[str, Any]) -> bool:
    return bool(container.get("State", {}).get("Running"))


def running_server(engine: Engine, project: str) -> RawDict:
    """The project's server container; ServerNotRunning (before anything is touched) otherwise.

    On a swarm this is the server service's running task container, when that task runs on the
    node of the engine the SDK reaches; when it runs on another node the error names that node
    and says where to point DOCKER_HOST."""
    servers = _role(engine, project, "server")
    if not any(is_running(c) for c in servers):
        elsewhere = swarm_server_elsewhere(engine, project)
        if elsewhere is not None:
            raise ServerNotRunning(elsewhere)
    if not servers:
        strangers = containers.find(engine, project).strangers
        if strangers:
            name, why = strangers[0]
            raise ServerNotRunning(
                f"project `{project}` has no {SERVER_SERVICE} server container on this engine; "
                f"container {name} carries the project's label but is not faktctl's: {why}",
                "start the server with `faktctl up`; remove or relabel that container",
            )
        raise ServerNotRunning(
            f"project `{project}` has no {SERVER_SERVICE} server container on this engine",
            "start it with `faktctl up`",
        )
    running = [c for c in servers if is_running(c)]
    if not running:
        state = servers[0].get("State", {}).get("Status", "not running")
        raise ServerNotRunning(
            f"the server container {name_of(servers[0])} is {state}",
            "start it with `faktctl up`",
        )
    return running[0]


def swarm_service_of(container: Mapping[str, Any]) -> str:
    """The id of the swarm service whose task this container is ("" for a plain container)."""
    return str(((container.get("Config") or {}).get("Labels") or {}).get(SWARM_SERVICE_ID, ""))


def elsewhere_message(project: str, node: str, address: str, here: str) -> str:
    """One line: the server's task runs on another swarm node, and what to run instead."""
    where = f"{node} ({address})" if address and address != node else node
    target = address or node
    return (
        f"the server of `{project}` runs on swarm node {where}, not on {here}, the node of the "
        f"engine faktctl reaches: run the same command against that node's engine "
        f"(DOCKER_HOST=ssh://<user>@{target} faktctl ..., or a docker context for it "
        "with DOCKER_CONTEXT)"
    )


def swarm_server_elsewhere(engine: Engine, project: str) -> str | None:
    """The message for a swarm server task running on another node; None otherwise (no swarm,
    a worker node that cannot list services, no such service, no running task)."""
    from faktctl.adapters.docker import swarm as docker_swarm

    try:
        here = docker_swarm.require_manager(engine)
        found = docker_swarm.services(engine, project)
    except OperationFailed:
        return None
    for service in found:
        if ((service.get("Spec") or {}).get("Labels") or {}).get(labels.ROLE) != "server":
            continue
        for task in docker_swarm.tasks(engine, str(service["ID"])):
            state = (task.get("Status") or {}).get("State")
            node_id = str(task.get("NodeID", ""))
            if task.get("DesiredState") != "running" or state != "running" or not node_id:
                continue
            if node_id == here.node_id:
                return None
            node, address = docker_swarm.node_name_and_address(engine, node_id)
            return elsewhere_message(project, node, address, here.hostname or "this engine")
    return None


def running_workers(engine: Engine, project: str) -> list[RawDict]:
    return [c for c in _role(engine, project, "worker") if is_running(c)]


def image_of(container: Mapping[str, Any]) -> str:
    """The image reference the container was created from (its id when the tag moved)."""
    return str(container.get("Config", {}).get("Image") or container.get("Image") or "")


@dataclass(frozen=True)
class DataMount:
    kind: Literal["volume", "bind"]
    source: str  # volume name or host path


def data_mount(container: Mapping[str, Any]) -> DataMount:
    """Where the server keeps /var/lib/faktory."""
    for mount in container.get("Mounts") or []:
        if mount.get("Destination") == DATA_DIR:
            kind = mount.get("Type")
            source = mount.get("Name") if kind == "volume" else mount.get("Source")
            if kind == "volume" and source:
                return DataMount("volume", str(source))
            if kind == "bind" and source:
                return DataMount("bind", str(source))
    raise OperationFailed(
        f"the server container {name_of(container)} has no volume or bind mount at {DATA_DIR}",
        "its data would not survive a restart; fix server.storage and run `faktctl up`",
    )


# --- reaching the server ----------------------------------------------------------------------


def container_tls(container: Mapping[str, Any], engine: Engine | None = None) -> probe.Tls | None:
    """How to speak to a server container that has a TLS certificate mounted in its config
    folder (faktctl's server.tls): verified against the project CA beside the certificate's
    host file when there is one (`generate`), else only encrypted (faktctl found the
    container by its labels; HELLO sends a salted hash, never the password). A swarm task's
    certificate is a secret of its service, not among the container's mounts: asked of the
    service when `engine` is given."""
    for mount in container.get("Mounts") or []:
        if mount.get("Destination") == TLS_CERT_TARGET and mount.get("Source"):
            ca = Path(str(mount["Source"])).parent / "ca.cert.pem"
            if ca.is_file():
                return probe.Tls(ca_file=str(ca), server_name=SERVER_SERVICE)
            return probe.Tls(ca_file=None, server_name=SERVER_SERVICE, verify=False)
    service_id = swarm_service_of(container)
    if service_id and engine is not None:
        from faktctl.adapters.docker import swarm

        task = (swarm.inspect_service(engine, service_id).get("Spec") or {}).get("TaskTemplate")
        secrets = ((task or {}).get("ContainerSpec") or {}).get("Secrets") or []
        if any((s.get("File") or {}).get("Name") == TLS_CERT_TARGET for s in secrets):
            return probe.Tls(ca_file=None, server_name=SERVER_SERVICE, verify=False)
    return None


def protocol_endpoint(container: Mapping[str, Any], engine: Engine) -> Endpoint:
    """Where this machine reaches the container's port 7419, from its published bindings."""
    tls = container_tls(container, engine)
    found = protocol_address(published_ports(container), engine, tls=tls)
    if found is None:
        raise ServerUnreachable(
            f"the server container {name_of(container)} does not publish port 7419",
            "faktctl reads queue sizes through it: "
            "set server.ports.protocol (127.0.0.1 by default)",
        )
    return found


@contextlib.contextmanager
def reaching(engine: Engine, container: Mapping[str, Any]) -> Iterator[Endpoint]:
    """Where this machine reaches the server's port 7419 for the duration of the block: its
    published binding; for a swarm task with nothing published (the swarm default), a relay
    through the engine API into its container (faktctl.adapters.docker.tunnel), closed at the
    end."""
    if swarm_service_of(container) and protocol_address(published_ports(container), engine) is None:
        from faktctl.adapters.docker.tunnel import relay

        with relay(engine, str(container["Id"]), PROTOCOL_PORT) as opened:
            yield Endpoint("127.0.0.1", opened.port, container_tls(container, engine))
        return
    yield protocol_endpoint(container, engine)


@dataclass(frozen=True)
class Counts:
    """Queue and set sizes, and the version, from a server's INFO."""

    queues: Mapping[str, int] = field(default_factory=dict)
    sets: Mapping[str, int] = field(default_factory=dict)
    version: str = ""

    @property
    def jobs(self) -> int:
        return sum(self.queues.values()) + sum(self.sets.values())

    def same_as(self, other: Counts) -> bool:
        return not differences(self.queues, self.sets, other)


def counts_from_info(info: Mapping[str, Any]) -> Counts:
    faktory = info.get("faktory", {}) or {}
    queues = {str(k): int(v) for k, v in (faktory.get("queues") or {}).items()}
    sets_info = faktory.get("sets") or {}
    sets = {name: int(sets_info.get(name, 0) or 0) for name in SET_NAMES}
    version = str((info.get("server", {}) or {}).get("faktory_version", ""))
    return Counts(queues, sets, version)


def read_counts(endpoint: Endpoint, password: SecretStr, timeout: float = 10.0) -> Counts:
    try:
        return counts_from_info(read_info(endpoint, password, timeout))
    except probe.ProbeError as err:
        raise ServerUnreachable(f"cannot read INFO from the server: {err}") from None


def differences(queues: Mapping[str, int], sets: Mapping[str, int], actual: Counts) -> list[str]:
    """Human lines for every size that differs (`queue x: expected → actual`)."""
    lines: list[str] = []
    for name in sorted(set(queues) | set(actual.queues)):
        want, got = queues.get(name, 0), actual.queues.get(name, 0)
        if want != got:
            lines.append(f"queue {name}: {want} → {got}")
    for name in SET_NAMES:
        want, got = sets.get(name, 0), actual.sets.get(name, 0)
        if want != got:
            lines.append(f"{name}: {want} → {got}")
    return lines


def only_moved(queues: Mapping[str, int], sets: Mapping[str, int], actual: Counts) -> bool:
    """True when sizes differ but the total is the same: jobs moved, none were lost.

    Scheduled jobs and retries whose time has come move into their queues as soon as a server
    starts, so a snapshot taken some time ago rarely reloads with identical per-set sizes.
    """
    return sum(queues.values()) + sum(sets.values()) == actual.jobs


# --- stopping and starting --------------------------------------------------------------------


def stop_timeout(container: Mapping[str, Any], default: int) -> int:
    value = container.get("Config", {}).get("StopTimeout")
    return int(value) if isinstance(value, int) and value > 0 else default


def stop_in_order(
    engine: Engine,
    workers: Iterable[Mapping[str, Any]],
    server: Mapping[str, Any],
    say: Callable[[str], None],
    password: SecretStr | None = None,
) -> None:
    """Stop every worker, then the server, each with its own grace period (SIGTERM first).

    With the server password, the workers are first quieted through the server and their
    running jobs drained (faktctl.platforms.engine.rollout), so none is cut off."""
    workers = list(workers)
    if password is not None and workers:
        _quiet_workers(engine, workers, server, say, password)
    for worker in workers:
        say(f"stopping worker {name_of(worker)}")
        engine.stop(str(worker["Id"]), timeout=stop_timeout(worker, DEFAULT_WORKER_STOP_S))
    grace = stop_timeout(server, DEFAULT_SERVER_STOP_S)
    say(save_before_stop(partial(engine.exec, str(server["Id"]))))
    say(f"stopping server {name_of(server)} (grace period {grace}s, so Redis saves)")
    engine.stop(str(server["Id"]), timeout=grace)


class _Said:
    """Rollout progress as `say` lines (one per finished step)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say

    def update(self, target: str, message: str) -> None:
        pass

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        self._say(f"{target}: {message}")


def _quiet_workers(
    engine: Engine,
    workers: list[Mapping[str, Any]],
    server: Mapping[str, Any],
    say: Callable[[str], None],
    password: SecretStr,
) -> None:
    from faktctl import labels
    from faktctl.platforms.engine import rollout
    from faktctl.platforms.engine.plan import ContainerRef

    network = next(iter(server.get("NetworkSettings", {}).get("Networks") or {}), None)
    tls = container_tls(server, engine)
    view = rollout.Server(engine, str(server["Id"]), network, password, tls=tls)
    work = []
    for worker in workers:
        grace = stop_timeout(worker, DEFAULT_WORKER_STOP_S)
        ref = ContainerRef(str(worker["Id"]), name_of(worker), None, grace)
        service = (worker.get("Config", {}).get("Labels") or {}).get(labels.SERVICE, "worker")
        work.append(rollout.Retiring(str(service), ref, "server"))
    say(f"quieting {len(work)} worker(s) and waiting for their running jobs")
    report = rollout.quiet_and_drain(engine, view, _Said(say), work)
    for line in report.notes + [message for _, message in report.problems]:
        say(line)


def start_workers(
    engine: Engine, workers: Iterable[Mapping[str, Any]], say: Callable[[str], None]
) -> list[str]:
    """Start workers again; returns one line per worker that would not start."""
    problems = []
    for worker in workers:
        try:
            engine.start(str(worker["Id"]), name_of(worker))
            say(f"started worker {name_of(worker)}")
        except OperationFailed as err:
            problems.append(err.one_line())
    return problems


def wait_ready(
    engine: Engine,
    container_id: str,
    password: SecretStr,
    timeout: float,
    *,
    require_health: bool = True,
) -> Counts:
    """Wait until the container runs, is healthy (when it has a healthcheck) and answers INFO
    (faktctl.live.ready decides).

    Returns the first INFO counts. NotReady, with the end of its log, on exit or timeout.
    """
    server = _RestartedServer(engine, container_id, password, require_health)
    outcome = ready.wait(server, timeout, ready.Pace(0.1, growth=1.5, most_s=1.0))
    if isinstance(outcome, ready.Ready):
        return outcome.value
    name = name_of(server.container)
    if isinstance(outcome, ready.Failed):
        raise NotReady(outcome.reason + _log_ending(engine, container_id, password))
    last = outcome.reason if isinstance(outcome, ready.Refused) else outcome.last
    raise NotReady(
        f"{name} was not ready after {timeout:g}s ({last})"
        + _log_ending(engine, container_id, password)
    )


class _RestartedServer:
    """A server container restore, upgrade or verify (re)started, as the readiness gate asks
    about it: the password question is the INFO whose counts the caller compares."""

    def __init__(
        self, engine: Engine, container_id: str, password: SecretStr, require_health: bool
    ) -> None:
        self._engine = engine
        self._container_id = container_id
        self._password = password
        self._require_health = require_health
        self.container: RawDict = {}

    def look(self) -> ready.Seen:
        self.container = self._engine.inspect(self._container_id)
        state = self.container.get("State", {})
        if state.get("Running"):
            return ready.Seen()
        if state.get("Status") in ("exited", "dead"):
            code = state.get("ExitCode")
            return ready.Seen(
                failed=f"{name_of(self.container)} exited (status {code}) before it was ready"
            )
        return ready.Seen(
            running=False, waiting=f"container is {state.get('Status', 'not running')}"
        )

    def ask(self) -> ready.Answer[Counts]:
        try:
            with reaching(self._engine, self.container) as endpoint:
                return ready.Answer(accepted=read_counts(endpoint, self._password, timeout=5.0))
        except ServerUnreachable as err:
            return ready.Answer(unanswered=err.message)

    def unhealthy(self) -> str | None:
        health = (self.container.get("State", {}).get("Health") or {}).get("Status")
        if not self._require_health or health in (None, "healthy"):
            return None
        return f"the engine reports it {health}"


def _log_ending(engine: Engine, container_id: str, password: SecretStr) -> str:
    """`; its log ends with:` and the last lines of the log (password hidden), or nothing."""
    tail = log_tail(engine, container_id, LOG_TAIL, (password,))
    return "; its log ends with:\n" + "\n".join(tail) if tail else ""


# --- pausing a deployment for restore -----------------------------------------------------------


class Pause(Protocol):
    """Stop what runs (workers first, then the server) and start it again (server first).

    On one engine the containers themselves are stopped and started; on a swarm the services
    are scaled to 0 and back (a stopped task would be replaced by a new one at once)."""

    @property
    def worker_names(self) -> list[str]: ...

    @property
    def worker_kind(self) -> str: ...

    def stop(self, say: Callable[[str], None]) -> None: ...

    def start_server(self, say: Callable[[str], None], timeout: float) -> str:
        """Start the server again; the id of the container to wait on."""
        ...

    def start_workers(self, say: Callable[[str], None]) -> list[str]:
        """Start the workers again; one line per worker that would not start."""
        ...


@dataclass(frozen=True)
class ContainerPause:
    """One engine: the project's containers are stopped and started again as they are."""

    engine: Engine
    server: Mapping[str, Any]
    workers: list[RawDict]
    password: SecretStr | None = None  # quiets the workers first (see stop_in_order)

    @property
    def worker_names(self) -> list[str]:
        return [name_of(w) for w in self.workers]

    @property
    def worker_kind(self) -> str:
        return "worker container(s)"

    def stop(self, say: Callable[[str], None]) -> None:
        stop_in_order(self.engine, self.workers, self.server, say, self.password)

    def start_server(self, say: Callable[[str], None], timeout: float) -> str:
        say(f"starting the server {name_of(self.server)}")
        self.engine.start(str(self.server["Id"]), name_of(self.server))
        return str(self.server["Id"])

    def start_workers(self, say: Callable[[str], None]) -> list[str]:
        return start_workers(self.engine, self.workers, say)


@dataclass(frozen=True)
class ScaledService:
    id: str
    name: str
    replicas: int
    grace_s: float


def _scaled(raw: Mapping[str, Any], default_grace: int) -> ScaledService:
    from faktctl.adapters.docker import swarm as docker_swarm

    spec = raw.get("Spec") or {}
    grace_ns = ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("StopGracePeriod")
    grace = grace_ns / 1e9 if isinstance(grace_ns, int) and grace_ns > 0 else default_grace
    return ScaledService(
        str(raw["ID"]), str(spec.get("Name", "")), docker_swarm.replicas_of(dict(raw)), grace
    )


@dataclass(frozen=True)
class SwarmPause:
    """A swarm: worker services, then the server service, are scaled to 0 (every task stopped
    with its grace period, so no server runs on the data volume) and back to what they were."""

    engine: Engine
    server: Mapping[str, Any]  # the task container the restore reads and writes through
    server_service: ScaledService
    workers: list[ScaledService]

    @property
    def worker_names(self) -> list[str]:
        return [f"{w.name} ({w.replicas} task(s))" for w in self.workers]

    @property
    def worker_kind(self) -> str:
        return "worker service(s), scaled to 0 and back"

    def stop(self, say: Callable[[str], None]) -> None:
        from faktctl.adapters.docker import swarm as docker_swarm

        for worker in self.workers:
            say(f"scaling worker service {worker.name} to 0 (from {worker.replicas})")
            docker_swarm.scale(self.engine, worker.id, 0)
        for worker in self.workers:
            self._wait_stopped(worker)
        server = self.server_service
        say(save_before_stop(partial(self.engine.exec, str(self.server["Id"]))))
        say(
            f"scaling the server service {server.name} to 0 "
            f"(grace period {server.grace_s:g}s, so Redis saves)"
        )
        docker_swarm.scale(self.engine, server.id, 0)
        self._wait_stopped(server, str(self.server["Id"]))

    def _wait_stopped(self, service: ScaledService, container_id: str = "") -> None:
        """Until no task of the service runs (and the given container has exited)."""
        from faktctl.adapters.docker import swarm as docker_swarm
        from faktctl.adapters.docker.api import ObjectNotFound

        limit = service.grace_s + 60
        deadline = time.monotonic() + limit
        while True:
            running = [
                t
                for t in docker_swarm.tasks(self.engine, service.id)
                if (t.get("Status") or {}).get("State") in ("running", "starting")
            ]
            exited = True
            if container_id:
                try:
                    exited = not is_running(self.engine.inspect(container_id))
                except ObjectNotFound:
                    exited = True
            if not running and exited:
                return
            if time.monotonic() >= deadline:
                raise OperationFailed(
                    f"the tasks of service {service.name} did not stop within {limit:g}s"
                )
            time.sleep(SWARM_POLL_S)

    def start_server(self, say: Callable[[str], None], timeout: float) -> str:
        from faktctl.adapters.docker import swarm as docker_swarm

        server = self.server_service
        say(f"scaling the server service {server.name} back to {server.replicas}")
        docker_swarm.scale(self.engine, server.id, server.replicas)
        deadline = time.monotonic() + timeout
        while True:
            for task in docker_swarm.tasks(self.engine, server.id):
                status = task.get("Status") or {}
                container_id = (status.get("ContainerStatus") or {}).get("ContainerID")
                if task.get("DesiredState") == "running" and container_id:
                    return str(container_id)
            if time.monotonic() >= deadline:
                raise NotReady(
                    f"the swarm started no task of {server.name} within {timeout:g}s "
                    "(`docker service ps` shows why)"
                )
            time.sleep(SWARM_POLL_S)

    def start_workers(self, say: Callable[[str], None]) -> list[str]:
        from faktctl.adapters.docker import swarm as docker_swarm

        problems = []
        scaled = []
        for worker in self.workers:
            try:
                docker_swarm.scale(self.engine, worker.id, worker.replicas)
                say(f"scaled worker service {worker.name} back to {worker.replicas}")
                scaled.append(worker)
            except OperationFailed as err:
                problems.append(err.one_line())
        return problems + self._wait_running(scaled, WORKER_TASKS_TIMEOUT_S)

    def _wait_running(self, services: list[ScaledService], timeout: float) -> list[str]:
        """Scaling returns before the tasks run: wait (bounded) until each service runs its
        replicas, so the next command sees the deployment as it was, not `0/N tasks running`."""

        deadline = time.monotonic() + timeout
        waiting = list(services)
        while waiting:
            waiting = [s for s in waiting if _running_tasks(self.engine, s.id) < s.replicas]
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(SWARM_POLL_S)
        return [
            f"worker service {s.name}: {_running_tasks(self.engine, s.id)}/{s.replicas} tasks "
            f"running after {timeout:g}s (`docker service ps {s.name}` shows why)"
            for s in waiting
        ]


def _running_tasks(engine: Engine, service_id: str) -> int:
    from faktctl.adapters.docker import swarm as docker_swarm

    return sum(
        1
        for task in docker_swarm.tasks(engine, service_id)
        if task.get("DesiredState") == "running"
        and (task.get("Status") or {}).get("State") == "running"
    )


def pause_for(
    engine: Engine, project: str, server: Mapping[str, Any], password: SecretStr | None = None
) -> Pause:
    """How restore stops and starts this deployment: its containers on one engine (quieted
    first with the password), its services (scaled to 0 and back) when the server is a swarm
    task."""
    service_id = swarm_service_of(server)
    if not service_id:
        return ContainerPause(engine, server, running_workers(engine, project), password)
    from faktctl.adapters.docker import swarm as docker_swarm

    try:
        docker_swarm.require_manager(engine)
    except docker_swarm.NotAManager as err:
        raise OperationFailed(
            "restore on a swarm scales the server and worker services, which only a manager "
            f"can do, and the server's task runs on this engine's node: {err.message}",
            "promote this node for the restore (`docker node promote`) or pin the server "
            "(swarm.server_node) to a manager and run `faktctl up`",
        ) from None
    found = docker_swarm.services(engine, project)
    servers = [s for s in found if str(s["ID"]) == service_id]
    if not servers:
        raise ServerNotRunning(f"the server's swarm service {service_id[:12]} is gone")
    workers = [
        _scaled(s, DEFAULT_WORKER_STOP_S)
        for s in found
        if ((s.get("Spec") or {}).get("Labels") or {}).get(labels.ROLE) == "worker"
        and docker_swarm.replicas_of(s) > 0
    ]
    return SwarmPause(engine, server, _scaled(servers[0], DEFAULT_SERVER_STOP_S), workers)
