"""The executor: applies a plan through the engine adapter and reports progress. It decides
nothing: what to do and in which order comes from faktctl.platforms.engine.plan.

Phases follow the plan: network and volumes, orphans, the server, the health gate, then every
worker container in parallel. A failure is recorded and the run goes on where that is safe
(worker failures never touch the server); every failure is returned together at the end.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial

from faktctl import labels, ui
from faktctl.adapters import probe
from faktctl.adapters.docker.client import EngineClient
from faktctl.adapters.docker.engine import ContainerConfig, Engine
from faktctl.desired import Desired, Mount, SecretEnv, ServiceRequest, WorkerQuiet
from faktctl.errors import ExitCode, FaktctlError, OperationFailed
from faktctl.live import reach, ready
from faktctl.platforms.engine import rollout
from faktctl.platforms.engine.observe import ObservedContainer, parse_container
from faktctl.platforms.engine.plan import (
    Action,
    ContainerRef,
    ImageAction,
    Plan,
    config_parts,
    container_name,
)
from faktctl.platforms.engine.stop import BulkStop, StopEngine, TeardownEngine, save_first
from faktctl.secretvalue import SecretStr
from faktctl.ui import Progress

POLL_S = 0.25
HEALTH_POLL_S = 0.02  # an inspect is ~2 ms on an idle engine
SETTLE_POLL_S = 0.03
LOG_TAIL_LINES = 12
PARALLEL = 8


@dataclass(frozen=True)
class Failure:
    target: str
    message: str
    log_tail: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [f"{self.target}: {self.message}"] + [f"    | {line}" for line in self.log_tail]


@dataclass
class Outcome:
    failures: list[Failure] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Started:
    container_id: str
    since: float  # monotonic time of the start
    restarts_before: int


@dataclass(frozen=True)
class Unit:
    """One container's worth of work, reported under `target` (a service name)."""

    target: str
    run: Callable[[], Started | None]


@dataclass(frozen=True)
class Settings:
    timeout_s: float
    password: SecretStr
    secrets: tuple[SecretStr, ...]  # values to redact from any log line shown
    settle_s: float = 0.25  # how long a new worker must stay up to count as started


# --- what to create ---------------------------------------------------------------------------


def container_config(desired: Desired, service: ServiceRequest, replica: int) -> ContainerConfig:
    """The container for one replica of a service, as rendered in compose.yaml."""
    mounts = list(service.mounts)
    if service.role == "server":
        mounts += [Mount("bind", s.host_path, s.target, read_only=True) for s in desired.secrets]
    parts = json.dumps(config_parts(desired, service), sort_keys=True, separators=(",", ":"))
    return ContainerConfig(
        name=container_name(desired.project, service.name, replica),
        image=service.image,
        command=service.command,
        env=tuple(
            (name, value.value if isinstance(value, SecretEnv) else value)
            for name, value in service.env
        ),
        labels={
            **service.labels(desired.project),
            labels.REPLICA: str(replica),
            labels.CONFIG_PARTS: parts,
        },
        mounts=tuple(mounts),
        ports=service.ports,
        restart=service.restart,
        healthcheck=service.healthcheck,
        stop_timeout_s=service.stop_grace_s,
        memory_bytes=service.memory_bytes,
        cpus=service.cpus,
        network=desired.network,
        aliases=(service.name,),
        stop_signal=service.stop_signal,
    )


# --- images -----------------------------------------------------------------------------------


def apply_images(
    engine: Engine, desired: Desired, actions: Iterable[ImageAction], progress: Progress
) -> None:
    """Pull and build; every failure is collected and raised together."""
    problems: list[FaktctlError] = []
    for action in actions:
        target = action.service or action.reference

        def show(line: str, target: str = target) -> None:
            progress.update(target, line[:120])

        try:
            if action.kind == "pull":
                progress.update(target, f"pulling {action.reference}")
                engine.pull(action.reference, on_progress=show)
                progress.finish(target, f"pulled {action.reference}")
            else:
                progress.update(target, f"building {action.reference}")
                engine.build(
                    action.context or ".",
                    action.dockerfile or "Dockerfile",
                    [action.reference] + ([action.also_tag] if action.also_tag else []),
                    desired.object_labels(),
                    on_progress=show,
                )
                progress.finish(target, f"built {action.reference}")
        except FaktctlError as err:
            progress.finish(target, err.one_line(), ok=False)
            problems.append(err)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise OperationFailed("; ".join(p.one_line() for p in problems))


# --- containers -------------------------------------------------------------------------------


def _exit_text(container: ObservedContainer) -> str:
    """The exit code while it is known; once the engine restarted the container, the count."""
    if container.state in ("exited", "dead", "restarting") or not container.restart_count:
        return f"exit code {container.exit_code}"
    return f"restarted {container.restart_count} time(s) by the engine"


def take_down(
    engine: EngineClient,
    desired: Desired,
    progress: Progress,
    plan: Plan,
    password: SecretStr | None = None,
) -> Outcome:
    """`down`: the workers (quieted and drained first when the server password is known, see
    faktctl.platforms.engine.rollout; stopped side by side, see faktctl.platforms.engine.stop),
    then the server with its grace period once every worker is gone, then the network and the
    volumes."""
    outcome = Outcome()
    server = desired.server.name
    containers = [a for a in plan.actions if a.kind == "remove" and a.service is not None]
    quiet_modes = {s.name: s.quiet for s in desired.workers}
    work = [
        rollout.Retiring(action.target, ref, quiet_modes.get(action.target, "server"))
        for action in containers
        if action.service != server
        for ref in action.remove
    ]
    if work:
        report = rollout.retire(
            engine, rollout.Server.of(engine, desired, password), progress, work
        )
        for note in report.notes:
            ui.info(note)
        outcome.failures += [Failure(target, message) for target, message in report.problems]
    for action in (a for a in containers if a.service == server):
        for ref in action.remove:
            save_first(engine, progress, action.target, ref)
    outcome.failures += stop_and_remove(
        engine, progress, [a for a in containers if a.service == server]
    )
    for action in (a for a in plan.actions if a.kind == "remove" and a.service is None):
        if outcome.failures:
            break  # a container still attached would make these fail; say the first cause
        try:
            _remove_object(engine, progress, action)
        except FaktctlError as err:
            progress.finish(action.target, err.one_line(), ok=False)
            outcome.failures.append(Failure(action.target, err.one_line()))
    outcome.done += [a.text() for a in plan.actions if a.kind == "remove"]
    return outcome


def stop_and_remove(engine: StopEngine, progress: Progress, actions: list[Action]) -> list[Failure]:
    """Every container of these actions, stopped side by side (each with its own grace
    period) and removed; see faktctl.platforms.engine.stop."""
    work = [(action.target, ref) for action in actions for ref in action.remove]
    problems = BulkStop(engine, progress).run(work)
    return [Failure(problem.target, problem.message) for problem in problems]


def _remove_object(engine: TeardownEngine, progress: Progress, action: Action) -> None:
    kind, _, name = action.target.partition(" ")
    progress.update(action.target, "removing")
    if kind == "network":
        engine.remove_network(name)
    else:
        engine.remove_volume(name)
    progress.finish(action.target, "removed")


def _startup_failure(current: ObservedContainer, baseline: int) -> str | None:
    if current.state in ("exited", "dead") or current.restart_count > baseline:
        return f"{current.name} exited during start-up ({_exit_text(current)})"
    if current.health == "unhealthy":
        return f"{current.name} is unhealthy"
    return None


def _probe_address(
    engine: Engine, desired: Desired, current: ObservedContainer
) -> reach.Endpoint | None:
    """None for a remote engine: `up` then goes by the engine's health alone."""
    if not engine.is_local:
        return None
    network_ip = current.ip_addresses.get(desired.network)
    return reach.protocol_address(
        current.ports, engine, network_ip, tls=reach.tls_client(desired.tls)
    )


class Executor:
    def __init__(
        self, engine: Engine, desired: Desired, settings: Settings, progress: Progress
    ) -> None:
        self.engine = engine
        self.desired = desired
        self.settings = settings
        self.progress = progress

    def apply(self, plan: Plan) -> Outcome:
        outcome = Outcome()
        server = self.desired.server.name
        infrastructure = [a for a in plan.actions if a.service is None]
        orphans = [a for a in plan.actions if a.kind == "remove orphan"]
        server_steps = [a for a in plan.actions if a.service == server and a.kind != "noop"]
        worker_steps = [
            a
            for a in plan.actions
            if a.service not in (None, server) and a.kind not in ("noop", "remove orphan")
        ]
        self._create_infrastructure(infrastructure)  # nothing works without them: errors abort
        outcome.done += [action.text() for action in infrastructure]
        outcome.failures += self._stop_and_remove(orphans)
        # new worker containers are created (not started) while the server gets healthy
        prepared = _Prepared(self, [a for a in worker_steps if a.kind in ("create", "scale up")])
        try:
            server_ok = self._server(server_steps, outcome, prepared)
        finally:
            prepared.finish()  # on Ctrl-C too: creations end, their containers stay created
        if not server_ok:
            prepared.discard()
        runnable = [a for a in worker_steps if server_ok or not a.starts_containers]
        for skipped in (a for a in worker_steps if a not in runnable):
            outcome.failures.append(
                Failure(skipped.target, f"not started ({skipped.kind}): the server is not healthy")
            )
        shrinking = [a for a in runnable if a.kind == "scale down"]
        rolling = [a for a in runnable if a.kind == "recreate"]
        units = [
            u
            for a in runnable
            if a not in shrinking and a not in rolling
            for u in self._units(a, prepared)
        ]
        server_view = self._server_view() if shrinking or rolling else None
        # Counted beside the starts, not before them: a new worker would have to boot and say
        # HELLO within the few milliseconds of this INFO to be counted too, and then watching
        # merely runs its full window. Scaling down and the rollouts (see
        # faktctl.platforms.engine.rollout) run beside the starts too, each worker on its own.
        with ThreadPoolExecutor(max_workers=2 + len(rolling)) as side:
            counting = side.submit(self._registered_workers) if server_ok and units else None
            removing = side.submit(self._retire, shrinking, server_view)
            rolls = [side.submit(self._roll, action, server_view) for action in rolling]
            started = self._parallel(outcome, units)
            outcome.failures += removing.result()
            for roll in rolls:
                outcome.failures += roll.result()
        known = counting.result() if counting is not None else None
        expected = known + len(started) if known is not None else None
        self._settle(started, outcome, until_registered=expected)
        return outcome

    def troubled(self, containers: Iterable[ObservedContainer]) -> list[Failure]:
        """Containers the plan left alone that are crash-looping or unhealthy. One that the
        engine has restarted before is watched for `settle_s` to see whether it still does."""
        outcome = Outcome()
        watch = []
        for container in containers:
            if container.state == "restarting":
                message = f"{container.name} keeps restarting ({_exit_text(container)})"
                outcome.failures.append(self._failure(container.service, container, message))
            elif container.health == "unhealthy":
                message = f"{container.name} is unhealthy"
                outcome.failures.append(self._failure(container.service, container, message))
            elif container.is_running and container.restart_count:
                watch.append(Started(container.id, time.monotonic(), container.restart_count))
        self._settle(watch, outcome, "keeps restarting")
        return outcome.failures

    def _stop_and_remove(self, actions: list[Action]) -> list[Failure]:
        return stop_and_remove(self.engine, self.progress, actions)

    # worker rollouts (faktctl.platforms.engine.rollout)

    def _server_view(self) -> rollout.Server:
        return rollout.Server.of(self.engine, self.desired, self.settings.password)

    def _quiet_mode(self, service: str) -> WorkerQuiet:
        known = {s.name: s for s in self.desired.workers}
        return known[service].quiet if service in known else "server"

    def _retire(self, actions: list[Action], server: rollout.Server | None) -> list[Failure]:
        if not actions:
            return []
        work = [
            rollout.Retiring(action.target, ref, self._quiet_mode(action.target))
            for action in actions
            for ref in action.remove
        ]
        return self._reported(
            rollout.retire(self.engine, server or self._server_view(), self.progress, work)
        )

    def _reported(self, report: rollout.Report) -> list[Failure]:
        for note in report.notes:
            ui.info(note)
        return [Failure(target, message) for target, message in report.problems]

    def _roll(self, action: Action, server: rollout.Server | None) -> list[Failure]:
        """Replace a worker's outdated replicas, new ones first, in rounds (see rollout)."""
        service = self.desired.service(action.target)
        server = server or self._server_view()
        pairs = list(zip(action.remove, action.create, strict=True))
        size = rollout.roll_size(service.replicas)
        failures: list[Failure] = []
        for first in range(0, len(pairs), size):
            fresh: list[tuple[ContainerRef, str]] = []
            for old, replica in pairs[first : first + size]:
                try:
                    self.engine.rename(old.id, f"{old.name}-{old.id[:12]}")
                except FaktctlError as err:
                    failures.append(Failure(service.name, err.one_line()))
                    continue
                try:
                    fresh.append((old, self._create(service, replica).container_id))
                except FaktctlError as err:
                    failures.append(Failure(service.name, err.one_line()))
                    self._restore(service, old, replica)
            ids = [new_id for _, new_id in fresh]
            why = rollout.wait_connected(self.engine, server, ids, self.settings.timeout_s)
            if why is not None:
                self.progress.finish(service.name, why, ok=False)
                failures.append(Failure(service.name, f"{why}; the old replicas keep running"))
                for old, new_id in fresh:
                    with contextlib.suppress(FaktctlError):
                        self.engine.remove(new_id, force=True)
                    self._restore(service, old, old.replica or 0)
                return failures
            work = [rollout.Retiring(service.name, old, service.quiet) for old, _ in fresh]
            failures += self._reported(rollout.retire(self.engine, server, self.progress, work))
        return failures

    def _restore(self, service: ServiceRequest, old: ContainerRef, replica: int) -> None:
        """Give an old replica its name back after its replacement failed."""
        with contextlib.suppress(FaktctlError):
            name = container_name(self.desired.project, service.name, replica)
            self.engine.rename(old.id, name)

    # infrastructure

    def _create_infrastructure(self, actions: list[Action]) -> None:
        """The network and the volumes, side by side (they do not depend on each other)."""
        if not actions:
            return
        with ThreadPoolExecutor(max_workers=len(actions)) as pool:
            futures = [pool.submit(self._infrastructure, action) for action in actions]
        for future in futures:
            future.result()  # the first failure, in plan order

    def _infrastructure(self, action: Action) -> None:
        kind, _, name = action.target.partition(" ")
        self.progress.update(action.target, "creating")
        if kind == "network":
            self.engine.create_network(name, self.desired.object_labels())
        else:
            self.engine.create_volume(name, self.desired.object_labels())
        self.progress.finish(action.target, "created")

    # the server

    def _server(self, steps: list[Action], outcome: Outcome, prepared: _Prepared) -> bool:
        fresh = False
        for action in steps:
            if action.kind == "wait":
                prepared.begin()
                failure = self._wait_healthy(action.target, fresh)
                if failure is not None:
                    outcome.failures.append(failure)
                    return False
                outcome.done.append(action.text())
                continue
            try:
                for unit in self._units(action):
                    unit.run()
            except FaktctlError as err:
                if err.exit_code == ExitCode.INTERRUPTED:
                    raise  # Ctrl-C is no failure of this step: the command stops with 130
                self.progress.finish(action.target, err.one_line(), ok=False)
                outcome.failures.append(Failure(action.target, err.one_line()))
                return False
            fresh = fresh or bool(action.create)
            outcome.done.append(action.text())
        return True

    def _wait_healthy(self, service: str, fresh: bool) -> Failure | None:
        """Until Faktory itself says it is ready (faktctl.live.ready), or the timeout.

        Ready: the container runs, a HELLO with the password answers +OK and, where 7420 is
        reachable, GET /health answers 200, whatever the engine's health status says yet (its
        first check only comes after its interval). Without a route to the server (a remote
        engine) the engine's health status decides. A start-up failure is reported at once,
        with the end of the server's log."""
        name = container_name(self.desired.project, service, 1)
        server = _StartingServer(self, service, name, baseline=0 if fresh else None)
        outcome = ready.wait(server, self.settings.timeout_s, ready.Pace(HEALTH_POLL_S))
        current = server.current
        if isinstance(outcome, ready.Ready):
            self.progress.finish(service, f"ready ({name}: {outcome.value}{server.web_text})")
            return None
        assert current is not None  # every outcome follows at least one look
        if isinstance(outcome, ready.Failed):
            return self._failed(service, current, outcome.reason)
        if isinstance(outcome, ready.Refused):
            return self._failed(
                service, current, f"Faktory refused the configured password: {outcome.reason}"
            )
        return self._failed(
            service,
            current,
            f"{name} was not ready after {self.settings.timeout_s:g}s "
            f"(engine health: {current.health or 'none'}; handshake: {server.last_probe})",
        )

    def _failed(self, service: str, current: ObservedContainer, message: str) -> Failure:
        failure = self._failure(service, current, message)
        self.progress.finish(service, message, ok=False)
        return failure

    def _failure(self, target: str, current: ObservedContainer, message: str) -> Failure:
        tail = reach.log_tail(self.engine, current.id, LOG_TAIL_LINES, self.settings.secrets)
        return Failure(target, message, tail)

    # container work units (each runs on its own; workers run them in parallel)

    def _units(self, action: Action, prepared: _Prepared | None = None) -> list[Unit]:
        if action.kind in ("scale down", "remove orphan", "remove"):
            return self._removals(action)
        service = self.desired.service(action.target)
        if action.kind == "recreate":
            return [
                Unit(service.name, partial(self._recreate, service, old, replica))
                for old, replica in zip(action.remove, action.create, strict=True)
            ]
        if action.kind == "start":
            return [Unit(service.name, partial(self._start, service.name, r)) for r in action.start]
        if prepared is not None:
            return [
                Unit(service.name, partial(self._start_prepared, service, n, prepared))
                for n in action.create
            ]
        return [Unit(service.name, partial(self._create, service, n)) for n in action.create]

    def _removals(self, action: Action) -> list[Unit]:
        return [Unit(action.target, partial(self._remove, action.target, r)) for r in action.remove]

    def _remove(self, target: str, ref: ContainerRef) -> None:
        if target == self.desired.server.name:
            save_first(self.engine, self.progress, target, ref)
        self.progress.update(target, f"stopping {ref.name} (up to {ref.stop_timeout_s}s)")
        self.engine.stop(ref.id, timeout=ref.stop_timeout_s)
        self.engine.remove(ref.id)
        self.progress.finish(target, f"removed {ref.name}")

    def _create(self, service: ServiceRequest, replica: int) -> Started:
        container_id = self._create_stopped(service, replica)
        return self._start_new(service, replica, container_id)

    def _create_stopped(self, service: ServiceRequest, replica: int) -> str:
        config = container_config(self.desired, service, replica)
        self.progress.update(service.name, f"creating {config.name}")
        return self.engine.create_container(config)

    def _start_new(self, service: ServiceRequest, replica: int, container_id: str) -> Started:
        name = container_name(self.desired.project, service.name, replica)
        self.engine.start(container_id, name)
        self.progress.finish(service.name, f"started {name}")
        return Started(container_id, time.monotonic(), restarts_before=0)

    def _start_prepared(
        self, service: ServiceRequest, replica: int, prepared: _Prepared
    ) -> Started:
        container_id = prepared.created(service.name, replica)
        if container_id is None:
            return self._create(service, replica)
        return self._start_new(service, replica, container_id)

    def _recreate(self, service: ServiceRequest, old: ContainerRef, replica: int) -> Started:
        self._remove(service.name, old)
        return self._create(service, replica)

    def _start(self, service: str, ref: ContainerRef) -> Started:
        self.progress.update(service, f"starting {ref.name}")
        before = parse_container(self.engine.inspect(ref.id)).restart_count
        self.engine.start(ref.id, ref.name)
        self.progress.finish(service, f"started {ref.name}")
        return Started(ref.id, time.monotonic(), restarts_before=before)

    def _parallel(self, outcome: Outcome, units: list[Unit]) -> list[Started]:
        """Run units side by side; failures are recorded per service, the rest goes on."""
        if not units:
            return []
        started: list[Started] = []
        pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(units)))
        try:
            futures = [(unit.target, pool.submit(unit.run)) for unit in units]
            pending: set[Future[Started | None]] = {future for _, future in futures}
            while pending:
                _, pending = wait(pending, timeout=POLL_S)
            for target, future in futures:
                self._collect(target, future, outcome, started)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return started

    def _collect(
        self,
        target: str,
        future: Future[Started | None],
        outcome: Outcome,
        started: list[Started],
    ) -> None:
        error = future.exception()
        if isinstance(error, FaktctlError):
            self.progress.finish(target, error.one_line(), ok=False)
            outcome.failures.append(Failure(target, error.one_line()))
        elif error is not None:
            raise error
        elif (result := future.result()) is not None:
            started.append(result)

    def _settle(
        self,
        started: list[Started],
        outcome: Outcome,
        what: str = "exited right after starting",
        until_registered: int | None = None,
    ) -> None:
        """A container that dies within `settle_s` of starting is reported with its last log.

        Watching ends early once Faktory counts `until_registered` worker processes: a worker
        that has said HELLO with the password is past its start-up."""
        watching = list(started)
        while watching:
            for item in list(watching):
                current = parse_container(self.engine.inspect(item.container_id))
                if current.state in ("exited", "dead", "restarting") or (
                    current.restart_count > item.restarts_before
                ):
                    message = f"{current.name} {what} ({_exit_text(current)})"
                    self.progress.finish(current.service, message, ok=False)
                    outcome.failures.append(self._failure(current.service, current, message))
                    watching.remove(item)
                elif time.monotonic() - item.since >= self.settings.settle_s:
                    watching.remove(item)
            if not watching:
                return
            if (
                until_registered is not None
                and (self._registered_workers() or 0) >= until_registered
            ):
                return
            next_due = min(item.since for item in watching) + self.settings.settle_s
            time.sleep(min(SETTLE_POLL_S, max(next_due - time.monotonic(), 0.0)))

    def _registered_workers(self) -> int | None:
        """How many worker processes Faktory knows (INFO tasks.Workers.size), if reachable."""
        name = container_name(self.desired.project, self.desired.server.name, 1)
        try:
            address = _probe_address(
                self.engine, self.desired, parse_container(self.engine.inspect(name))
            )
            if address is None:
                return None
            info = reach.read_info(address, self.settings.password, timeout=2.0)
            return int(info["faktory"]["tasks"]["Workers"]["size"])
        except (FaktctlError, probe.ProbeError, KeyError, TypeError, ValueError):
            return None


class _StartingServer:
    """The server container `up` just started, as the readiness gate asks about it."""

    def __init__(self, executor: Executor, service: str, name: str, baseline: int | None) -> None:
        self._executor = executor
        self._engine = executor.engine
        self._desired = executor.desired
        self._service = service
        self._name = name
        self._baseline = baseline
        self.current: ObservedContainer | None = None
        self.last_probe = "not tried yet"  # the handshake's last result, for a timeout
        self.web_text = ""  # the last /health result, for the ready line
        self._accepted: str | None = None  # the HELLO note, once the password was accepted

    def look(self) -> ready.Seen:
        if self.current is not None:  # the previous round did not decide
            health = self.current.health or "up"
            self._executor.progress.update(self._service, f"waiting until ready ({health})")
        current = parse_container(self._engine.inspect(self._name))
        self.current = current
        self._baseline = current.restart_count if self._baseline is None else self._baseline
        failed = _startup_failure(current, self._baseline)
        return ready.Seen(failed=failed, running=current.state == "running" or bool(self._accepted))

    def ask(self) -> ready.Answer[str]:
        if self._accepted is not None:
            return ready.Answer(accepted=self._accepted)
        assert self.current is not None
        address = _probe_address(self._engine, self._desired, self.current)
        if address is None:
            self.last_probe = "skipped (engine not local)"
            healthy = self.current.health == "healthy"
            answer = (
                ready.Answer(accepted=self.last_probe)
                if healthy
                else ready.Answer(unanswered=self.last_probe)
            )
        else:
            answer = ready.hello(address, self._executor.settings.password, timeout=2.0)
            self.last_probe = answer.accepted or answer.unanswered or ""
        self._accepted = answer.accepted
        return answer

    def unhealthy(self) -> str | None:
        assert self.current is not None
        web_ok, self.web_text = self._web_health(self.current)
        if web_ok or self.current.health == "healthy":
            return None
        self.last_probe = f"+OK, {self.web_text.lstrip(', ')}"
        return self.last_probe

    def _web_health(self, current: ObservedContainer) -> tuple[bool, str]:
        """(ready, what was seen): GET /health must answer 200 where 7420 is reachable."""
        protocol = _probe_address(self._engine, self._desired, current)
        if protocol is None:
            return False, ""
        network_ip = current.ip_addresses.get(self._desired.network)
        web = reach.dashboard_address(current.ports, self._engine, protocol, network_ip)
        if web is None:
            return True, ""
        try:
            code = probe.health_code(web.host, web.port, timeout=2.0, tls=web.tls)
        except probe.ProbeError as err:
            return False, f", /health: {err}"
        return code == 200, f", /health {code}"


class _Prepared:
    """Worker containers created in the background while the server becomes healthy."""

    def __init__(self, executor: Executor, actions: list[Action]) -> None:
        self._executor = executor
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[tuple[str, int], Future[str]] = {}
        self._jobs = [(executor.desired.service(a.target), n) for a in actions for n in a.create]

    def begin(self) -> None:
        """Start creating (called once the server container runs, so it never waits on us)."""
        if not self._jobs or self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(self._jobs)))
        for service, replica in self._jobs:
            future = self._pool.submit(self._executor._create_stopped, service, replica)
            self._futures[(service.name, replica)] = future

    def finish(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def created(self, service: str, replica: int) -> str | None:
        """The prepared container's id; its creation error is raised here, in the unit."""
        future = self._futures.get((service, replica))
        return future.result() if future is not None else None

    def discard(self) -> None:
        """The server never became healthy: remove what was prepared, start nothing."""
        for future in self._futures.values():
            if future.exception() is None:
                with contextlib.suppress(FaktctlError):
                    self._executor.engine.remove(future.result(), force=True)
        self._futures.clear()
