"""The running deployment as backup and restore see it: find the server and workers, reach the
server's protocol port, read INFO, stop and start containers in the safe order, wait for health.

These are deliberately small: `faktctl up`/`down` own the full lifecycle. Restore only needs
"stop what runs, workers first; start it again, server first" on containers that already exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from faktctl import containers
from faktctl.adapters import probe
from faktctl.desired import DATA_DIR
from faktctl.errors import OperationFailed
from faktctl.observe import published_ports
from faktctl.reach import Endpoint, log_tail, protocol_address, read_info
from faktctl.spec.model import SERVER_SERVICE

if TYPE_CHECKING:
    from faktctl.adapters.docker_engine import Engine, RawDict

DEFAULT_SERVER_STOP_S = 60
DEFAULT_WORKER_STOP_S = 10
LOG_TAIL = 15
SET_NAMES = ("scheduled", "retries", "dead", "working")

# Throwaway containers and volumes made by backup verify / restore carry these labels (and the
# engine's FAKTCTL_EXTRA_LABELS); they never carry io.faktctl.project, so `up` ignores them.
JOB_LABEL = "io.faktctl.job"
BACKUP_OF_LABEL = "io.faktctl.backup-of"


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
    """The project's server container; ServerNotRunning (before anything is touched) otherwise."""
    servers = _role(engine, project, "server")
    if not servers:
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


def protocol_endpoint(container: Mapping[str, Any], engine: Engine) -> Endpoint:
    """Where this machine reaches the container's port 7419, from its published bindings."""
    found = protocol_address(published_ports(container), engine)
    if found is None:
        raise ServerUnreachable(
            f"the server container {name_of(container)} does not publish port 7419",
            "faktctl reads queue sizes through it: "
            "set server.ports.protocol (127.0.0.1 by default)",
        )
    return found


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
) -> None:
    """Stop every worker, then the server, each with its own grace period (SIGTERM first)."""
    for worker in workers:
        say(f"stopping worker {name_of(worker)}")
        engine.stop(str(worker["Id"]), timeout=stop_timeout(worker, DEFAULT_WORKER_STOP_S))
    grace = stop_timeout(server, DEFAULT_SERVER_STOP_S)
    say(f"stopping server {name_of(server)} (grace period {grace}s, so Redis saves)")
    engine.stop(str(server["Id"]), timeout=grace)


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
    """Wait until the container runs, is healthy (when it has a healthcheck) and answers INFO.

    Returns the first INFO counts. NotReady, with the end of its log, on exit or timeout.
    """
    deadline = time.monotonic() + timeout
    last = "not started"
    pause = 0.1
    while True:
        container = engine.inspect(container_id)
        state = container.get("State", {})
        if not state.get("Running"):
            if state.get("Status") in ("exited", "dead"):
                code = state.get("ExitCode")
                raise NotReady(
                    f"{name_of(container)} exited (status {code}) before it was ready"
                    + _log_ending(engine, container_id, password)
                )
            last = f"container is {state.get('Status', 'not running')}"
        else:
            health = (state.get("Health") or {}).get("Status")
            try:
                counts = read_counts(protocol_endpoint(container, engine), password, timeout=5.0)
            except ServerUnreachable as err:
                last = err.message
            else:
                if not require_health or health in (None, "healthy"):
                    return counts
                last = f"the engine reports it {health}"
        if time.monotonic() >= deadline:
            raise NotReady(
                f"{name_of(container)} was not ready after {timeout:g}s ({last})"
                + _log_ending(engine, container_id, password)
            )
        time.sleep(pause)
        pause = min(pause * 1.5, 1.0)


def _log_ending(engine: Engine, container_id: str, password: SecretStr) -> str:
    """`; its log ends with:` and the last lines of the log (password hidden), or nothing."""
    tail = log_tail(engine, container_id, LOG_TAIL, (password,))
    return "; its log ends with:\n" + "\n".join(tail) if tail else ""
