"""Worker rollouts on one engine: no job stranded, no pause in processing.

A worker container is never just stopped. Replacing one (a config or image change) goes:
1. the old container is renamed out of the way and its new replica is created and started;
2. `up` waits until the new process is connected (listed on the server's /busy page, where a
   process appears when it says HELLO; its hostname is the container id);
3. the old process is quieted (faktctl.adapters.quiet: the server stops handing it jobs at once
   and tells its library on the next heartbeat), or sent SIGTSTP (`quiet: signal`);
4. `up` waits until it holds no reservation, at most its stop grace period;
5. it is stopped (its stop signal, then SIGKILL after the grace period) and removed.
Jobs still reserved when the grace period runs out are reported by worker and jid.

Removing one (scale down, `down`, an orphan) runs steps 3 to 5.

Bounded parallelism: a worker's replicas are replaced in rounds of `roll_size(replicas)` (a
quarter of them, at least 1, at most ROLL_MAX), so a worker never runs more than that many
extra containers; the workers of a project roll side by side.

Where the dashboard cannot be reached from here (a remote engine whose 7420 is not published),
the rollout says so and falls back to stopping with the grace period, which still lets every
library finish its running jobs on SIGTERM within its own shutdown wait.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from faktctl.adapters import probe, quiet
from faktctl.desired import Desired, ServiceRequest, WorkerQuiet
from faktctl.errors import FaktctlError
from faktctl.faktory import reservations as res
from faktctl.live import processes, reach
from faktctl.platforms.engine.observe import parse_container
from faktctl.platforms.engine.plan import ContainerRef, container_name
from faktctl.platforms.engine.stop import BulkStop
from faktctl.secretvalue import SecretStr
from faktctl.ui import Progress

if TYPE_CHECKING:
    from faktctl.adapters.docker.client import EngineClient
    from faktctl.live.reach import Endpoint

ROLL_FRACTION = 0.25
ROLL_MAX = 10
POLL_S = 0.25
HOSTNAME_CHARS = 12  # the engine's default hostname: the container id's first 12 characters
QUIET_SIGNAL = "SIGTSTP"
# A FETCH the process sent before it was quieted may still hand it a job: the server blocks a
# FETCH for up to 5 s. A process counts as drained once it held nothing after that window.
FETCH_WINDOW_S = 5.5


def roll_size(replicas: int) -> int:
    """How many replicas of one worker are replaced at a time."""
    return max(1, min(ROLL_MAX, math.ceil(replicas * ROLL_FRACTION)))


def hostname_of(container_id: str) -> str:
    return container_id[:HOSTNAME_CHARS]


@dataclass(frozen=True)
class Retiring:
    """One container to quiet, drain and remove."""

    target: str  # the service name, for progress and reports
    ref: ContainerRef
    quiet: WorkerQuiet


@dataclass(frozen=True)
class Straggler:
    target: str
    name: str
    grace_s: int
    jids: tuple[str, ...]

    def message(self) -> str:
        jids = ", ".join(self.jids) if self.jids else "(jids unknown)"
        return (
            f"{self.name}: {len(self.jids) or 'some'} job(s) still reserved after the "
            f"{self.grace_s}s stop grace period, stopped anyway: {jids}"
        )


@dataclass
class Report:
    problems: list[tuple[str, str]] = field(default_factory=list)  # (target, message)
    notes: list[str] = field(default_factory=list)


class ServerView(Protocol):
    """What a rollout asks the server (Server below; a fake in the unit tests)."""

    why_not: str

    @property
    def reachable(self) -> bool: ...

    def processes(self) -> tuple[res.Process, ...]: ...

    def reserved_jids(self, wids: set[str]) -> tuple[str, ...]: ...

    def quiet(self, wid: str) -> None: ...


class Server:
    """The running server as a rollout sees it: its process list, reservations and the quiet
    form. `reachable` is False when the dashboard cannot be reached from here."""

    def __init__(
        self,
        engine: EngineClient,
        container: str,
        network: str | None,
        password: SecretStr | None,
        dashboard_password: SecretStr | None = None,
        tls: probe.Tls | None = None,
    ) -> None:
        """`container`: the server container's name or id; `network`: the project's network
        (its address there is dialled on a local engine when 7420 is not published)."""
        self._engine = engine
        self._password = dashboard_password or password
        self.container_id: str | None = None
        self.endpoint: Endpoint | None = None
        self.why_not = ""
        if password is None:
            self.why_not = "the server password is not readable"
            return
        try:
            current = parse_container(engine.inspect(container))
            if current.state != "running":
                self.why_not = f"{current.name} is {current.state}"
                return
            self.container_id = current.id
            network_ip = current.ip_addresses.get(network) if network else None
            self.endpoint = processes.dashboard_of(engine, current.ports, network_ip, tls)
        except FaktctlError as err:
            self.why_not = err.one_line()

    @classmethod
    def of(cls, engine: EngineClient, desired: Desired, password: SecretStr | None) -> Server:
        name = container_name(desired.project, desired.server.name, 1)
        return cls(
            engine,
            name,
            desired.network,
            password,
            desired.dashboard_password,
            reach.tls_client(desired.tls),
        )

    @property
    def reachable(self) -> bool:
        return self.endpoint is not None

    def processes(self) -> tuple[res.Process, ...]:
        assert self.endpoint is not None
        return processes.read_processes(self.endpoint, self._password)

    def reserved_jids(self, wids: set[str]) -> tuple[str, ...]:
        if self.container_id is None:
            return ()
        try:
            working = processes.read_working(self._engine, self.container_id)
        except FaktctlError:
            return ()
        return tuple(sorted(r.jid for r in working.reservations if r.wid in wids))

    def quiet(self, wid: str) -> None:
        assert self.endpoint is not None
        quiet.signal_process(
            self.endpoint.host,
            self.endpoint.port,
            self._password,
            wid,
            "quiet",
            tls=self.endpoint.tls,
        )


def _by_host(found: Sequence[res.Process]) -> dict[str, list[res.Process]]:
    hosts: dict[str, list[res.Process]] = {}
    for process in found:
        hosts.setdefault(process.hostname, []).append(process)
    return hosts


def retire(
    engine: EngineClient,
    server: ServerView,
    progress: Progress,
    work: Sequence[Retiring],
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Quiet, drain (at most each container's grace period) and remove these containers."""
    report = quiet_and_drain(engine, server, progress, work, clock)
    problems = BulkStop(engine, progress).run([(item.target, item.ref) for item in work])
    report.problems += [(p.target, p.message) for p in problems]
    return report


def quiet_and_drain(
    engine: EngineClient,
    server: ServerView,
    progress: Progress,
    work: Sequence[Retiring],
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Quiet these containers' processes and wait until they hold no job (each at most its
    grace period); stopping them is the caller's (restore and upgrade start them again)."""
    report = Report()
    if not work:
        return report
    quieting = [item for item in work if item.quiet != "none"]
    wids: dict[str, set[str]] = {}  # container id -> its processes' wids
    if quieting and not server.reachable:
        report.notes.append(
            f"workers stopped without quieting them first ({server.why_not}); each still gets "
            "its stop grace period to finish running jobs"
        )
        quieting = []
    started = clock()
    if quieting:
        try:
            hosts = _by_host(server.processes())
        except FaktctlError as err:
            report.notes.append(f"workers stopped without quieting them first: {err.one_line()}")
            hosts, quieting = {}, []
        for item in quieting:
            found = {p.wid for p in hosts.get(hostname_of(item.ref.id), [])}
            wids[item.ref.id] = found
            progress.update(item.target, f"quieting {item.ref.name}")
            try:
                if item.quiet == "signal":
                    engine.kill(item.ref.id, QUIET_SIGNAL)
                else:
                    for wid in sorted(found):
                        server.quiet(wid)
            except (FaktctlError, probe.ProbeError) as err:
                message = err.one_line() if isinstance(err, FaktctlError) else str(err)
                report.notes.append(f"{item.ref.name}: not quieted ({message})")
                wids[item.ref.id] = set()
        _drain(server, progress, quieting, wids, started, clock, report)
    return report


def _drain(
    server: ServerView,
    progress: Progress,
    quieting: Sequence[Retiring],
    wids: dict[str, set[str]],
    started: float,
    clock: Callable[[], float],
    report: Report,
) -> None:
    """Until no quieted process holds a reservation, each at most its grace period."""
    waiting = [item for item in quieting if wids.get(item.ref.id)]
    for item in waiting:
        progress.update(item.target, f"draining {item.ref.name} (up to {item.ref.stop_timeout_s}s)")
    while waiting:
        try:
            busy: dict[str, int] | None = {p.wid: p.busy or 0 for p in server.processes()}
        except FaktctlError:
            busy = None  # not read this time: nothing is concluded but the deadlines
        now = clock()
        for item in list(waiting):
            mine = wids[item.ref.id]
            settled = now - started >= min(FETCH_WINDOW_S, item.ref.stop_timeout_s)
            if settled and busy is not None and sum(busy.get(wid, 0) for wid in mine) == 0:
                waiting.remove(item)
            elif now - started >= item.ref.stop_timeout_s:
                waiting.remove(item)
                straggler = Straggler(
                    item.target, item.ref.name, item.ref.stop_timeout_s, server.reserved_jids(mine)
                )
                report.problems.append((item.target, straggler.message()))
        if waiting:
            time.sleep(POLL_S)


def wait_connected(
    engine: EngineClient,
    server: ServerView,
    container_ids: Sequence[str],
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> str | None:
    """Until each new container's process is listed by the server; why not, or None."""
    if not server.reachable:
        return None
    deadline = clock() + timeout_s
    wanted = {hostname_of(i): i for i in container_ids}
    while True:
        try:
            seen = {p.hostname for p in server.processes()}
        except FaktctlError:
            seen = set()
        missing = [host for host in wanted if host not in seen]
        if not missing:
            return None
        for host in missing:
            current = parse_container(engine.inspect(wanted[host]))
            if current.state in ("exited", "dead", "restarting"):
                return f"{current.name} exited before it connected (exit code {current.exit_code})"
        if clock() >= deadline:
            names = ", ".join(missing)
            return f"container(s) {names} did not connect to the server within {timeout_s:g}s"
        time.sleep(POLL_S)


_QUIET_TEXT = {
    "server": "quiet the old processes through the server",
    "signal": f"send the old processes {QUIET_SIGNAL}",
    "none": "no quiet (quiet: none)",
}


def retire_steps(service: ServiceRequest) -> list[str]:
    """What removing some of a worker's replicas does, for `up --dry-run`."""
    if service.quiet == "none":
        return [f"stop them (up to {service.stop_grace_s}s each) and remove them"]
    return [
        f"{_QUIET_TEXT[service.quiet]}, wait until they hold no job (up to "
        f"{service.stop_grace_s}s), then stop and remove them"
    ]


def steps(service: ServiceRequest, replaced: int) -> list[str]:
    """What a rollout of `replaced` replicas does, for `up --dry-run`."""
    size = roll_size(service.replicas)
    rounds = math.ceil(replaced / size) if replaced else 0
    return [
        f"{rounds} round(s) of up to {size} replica(s): start the new ones, wait until the "
        "server lists them",
        *retire_steps(service),
    ]
