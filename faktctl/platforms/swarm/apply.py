"""`faktctl up` on a swarm: resolve images, translate, observe, plan, apply, wait until ready.

Order: the overlay network and any new secret; the server (created or updated stop-first),
ready when its task runs healthy and a HELLO with the password answers +OK (through a relay
into its container, see faktctl.adapters.docker.tunnel); then the workers (start-first rolling
updates), each
converged when all its tasks run, or reported with the failing task's error and its last log
lines; then services no longer in the spec; then secrets no longer used (old passwords).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from faktctl import ui
from faktctl.adapters import probe
from faktctl.adapters.docker import swarm as swarm
from faktctl.adapters.docker.api import EngineError, RawDict
from faktctl.adapters.docker.engine import Engine
from faktctl.desired import PROTOCOL_PORT, Desired
from faktctl.errors import OperationFailed
from faktctl.live import ready
from faktctl.live.reach import Endpoint
from faktctl.platforms.engine.apply import Failure
from faktctl.platforms.swarm import objects
from faktctl.platforms.swarm.plan import (
    ImageEntry,
    SwarmDesired,
    SwarmPlan,
    SwarmPlanError,
    SwarmService,
    plan,
    translate,
    with_images,
)
from faktctl.secretvalue import SecretStr, redact
from faktctl.ui import Progress

POLL_S = 0.25
LOG_TAIL_LINES = 12
FAILED_STATES = frozenset({"failed", "rejected", "orphaned"})
ROLLBACK_STATES = frozenset({"rollback_started", "rollback_completed", "rollback_paused", "paused"})


@dataclass(frozen=True)
class Prepared:
    desired: SwarmDesired
    the_plan: SwarmPlan
    service_ids: dict[str, tuple[str, int]]  # service name -> (id, version)
    secret_ids: dict[str, str]  # secret name -> id
    running: dict[str, int]  # service name -> tasks running


def pinned_reference(found: RawDict) -> str:
    """What a swarm task runs: a registry digest every node can pull, else the local image id
    (no registry lookup, which would fail for an image that exists only on this engine)."""
    digests = [d for d in found.get("RepoDigests") or [] if "@" in d]
    return str(digests[0]) if digests else str(found["Id"])


def image_entry(found: RawDict) -> ImageEntry:
    config = found.get("Config") or {}
    return ImageEntry(tuple(config.get("Entrypoint") or ()), tuple(config.get("Cmd") or ()))


def _inspect_image(engine: Engine, reference: str) -> RawDict:
    found = engine.image(reference)
    if found is None:
        raise OperationFailed(f"image {reference} is not on the engine; run `faktctl up` again")
    return found


def swarm_desired(
    engine: Engine,
    resolved: Desired,
    password: SecretStr,
    web: SecretStr | None,
    tls_files: Mapping[str, SecretStr] | None = None,
) -> SwarmDesired:
    """The swarm objects for `resolved` (the desired state with built images tagged);
    `tls_files` the TLS files' contents (faktctl.secretfiles.tls_file_contents)."""
    images = {ref: _inspect_image(engine, ref) for ref in {s.image for s in resolved.services}}
    entries = {ref: image_entry(found) for ref, found in images.items()}
    try:
        translated = translate(resolved, password, web, entries, tls_files)
    except SwarmPlanError as exc:
        raise OperationFailed(str(exc)) from exc
    return with_images(translated, {ref: pinned_reference(found) for ref, found in images.items()})


def observe_and_plan(engine: Engine, desired: SwarmDesired) -> Prepared:
    secret_list = swarm.secrets(engine, desired.project)
    observed = objects.observe(engine, desired.project, desired.network, secret_list)
    ids = {s.name: (s.id, s.version) for s in observed.services}
    secret_ids = {str(raw["Spec"]["Name"]): str(raw["ID"]) for raw in secret_list}
    running = {s.name: s.running for s in observed.services}
    return Prepared(desired, plan(desired, observed), ids, secret_ids, running)


class SwarmExecutor:
    def __init__(
        self,
        engine: Engine,
        prepared: Prepared,
        password: SecretStr,
        redact_values: tuple[SecretStr, ...],
        progress: Progress,
        timeout_s: float,
        tls: probe.Tls | None = None,
    ) -> None:
        self._engine = engine
        self._tls = tls  # how the server speaks on 7419 (faktctl.live.reach.tls_client)
        self._prepared = prepared
        self._desired = prepared.desired
        self._password = password
        self._redact = redact_values
        self._progress = progress
        self._timeout_s = timeout_s
        self._extra = dict(engine.labels_to_add)
        self.failures: list[Failure] = []

    def apply(self) -> list[Failure]:
        the_plan = self._prepared.the_plan
        desired = self._desired
        if the_plan.of("create-network"):
            self._progress.update(desired.network, "creating overlay network")
            swarm.create_network(
                self._engine, desired.network, desired.encrypted, desired.object_labels()
            )
            self._progress.finish(desired.network, "overlay network created")
        secret_ids = dict(self._prepared.secret_ids)
        for secret in desired.secrets:
            if secret.name not in secret_ids:
                secret_ids[secret.name] = swarm.create_secret(
                    self._engine,
                    secret.name,
                    secret.data,
                    {**desired.object_labels(), "io.faktctl.secret": secret.key},
                )
        changed = {
            a.target for a in the_plan.actions if a.kind in ("create-service", "update-service")
        }
        server = desired.server
        if server.name in changed:
            self._deploy(server, secret_ids)
            if not self._server_ready(server):
                return self.failures  # workers would only fail against a missing server
        for worker in desired.workers:
            if worker.name in changed:
                self._deploy(worker, secret_ids)
        for worker in desired.workers:
            if worker.name in changed:
                self._converged(worker)
        for action in the_plan.of("remove-service"):
            service_id, _ = self._prepared.service_ids[action.target]
            self._progress.update(action.target, "removing (no longer in the spec)")
            swarm.remove_service(self._engine, service_id)
            self._progress.finish(action.target, "removed")
        if not self.failures:
            for action in the_plan.of("remove-secret"):
                swarm.remove_secret(self._engine, secret_ids[action.target])
        return self.failures

    def check_running(self) -> list[Failure]:
        """For an unchanged deployment: every service's tasks are running."""
        for service in self._desired.services:
            service_id, _ = self._prepared.service_ids[service.name]
            running = self._prepared.running.get(service.name, 0)
            if running < service.replicas:
                self._fail(service, service_id, f"{running}/{service.replicas} tasks running")
        return self.failures

    def _deploy(self, service: SwarmService, secret_ids: dict[str, str]) -> None:
        body = objects.service_body(service, self._desired.project, secret_ids, self._extra)
        known = self._prepared.service_ids.get(service.name)
        if known is None:
            self._progress.update(service.name, f"creating ({service.replicas} replicas)")
            swarm.create_service(self._engine, body)
        else:
            self._progress.update(service.name, f"updating ({service.update.order})")
            service_id, version = known
            swarm.update_service(self._engine, service_id, version, body)

    def _service_id(self, service: SwarmService) -> str:
        for raw in swarm.services(self._engine, self._desired.project):
            if raw["Spec"]["Name"] == service.name:
                return str(raw["ID"])
        raise EngineError(f"service {service.name} disappeared while being deployed")

    def _wait(self, service: SwarmService, done: Callable[[str], str | None]) -> str | None:
        """Poll until `done` returns "" (ready) or a problem; None when the time ran out."""
        service_id = self._service_id(service)
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            verdict = done(service_id)
            if verdict is not None:
                if verdict:
                    self._fail(service, service_id, verdict)
                return verdict
            time.sleep(POLL_S)
        self._fail(service, service_id, f"not ready after {self._timeout_s:g}s")
        return None

    def _server_ready(self, service: SwarmService) -> bool:
        self._progress.update(service.name, "waiting for its task to run healthy")
        verdict = self._wait(service, lambda sid: _rollout_verdict(self._engine, sid, 1))
        if verdict != "":
            return False
        service_id = self._service_id(service)
        container_id = self._task_container(service_id)
        note = self._hello(container_id)
        if note.startswith("!"):
            self._fail(service, service_id, note[1:])
            return False
        self._progress.finish(service.name, f"running, {note}")
        return True

    def _task_container(self, service_id: str) -> str:
        """The container of the server's running task: a task the swarm reports running may
        not name its container yet (seen right after a stop-first update)."""
        deadline = time.monotonic() + min(self._timeout_s, 30.0)
        while True:
            running, _ = _running_tasks(self._engine, service_id)
            found = next((c for c in map(_container_of, running) if c), "")
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(POLL_S)

    def _hello(self, container_id: str) -> str:
        if not container_id:
            return "!no container of its running task was reported"
        from faktctl.adapters.docker.tunnel import relay

        try:
            self._engine.inspect(container_id)
        except OperationFailed:
            return "HELLO skipped: its container runs on another node"
        with relay(self._engine, container_id, PROTOCOL_PORT) as opened:
            endpoint = Endpoint("127.0.0.1", opened.port, self._tls)
            answering = ready.Answering(endpoint, self._password)
            outcome = ready.wait(answering, min(self._timeout_s, 30.0), ready.Pace(POLL_S), last="")
        if isinstance(outcome, ready.Ready):
            return "HELLO answered +OK" + (" over TLS" if self._tls else "")
        if isinstance(outcome, ready.Refused):
            return f"!HELLO refused: {outcome.reason or 'password not accepted'}"
        last = outcome.reason if isinstance(outcome, ready.Failed) else outcome.last
        return f"!no HELLO answer: {last or 'no reply'}"

    def _converged(self, service: SwarmService) -> None:
        self._progress.update(service.name, f"rolling out {service.replicas} tasks")
        verdict = self._wait(
            service, lambda sid: _rollout_verdict(self._engine, sid, service.replicas)
        )
        if verdict == "":
            self._progress.finish(service.name, f"{service.replicas}/{service.replicas} running")

    def _fail(self, service: SwarmService, service_id: str, message: str) -> None:
        error, container = _last_task_error(self._engine, service_id)
        if error:
            message = f"{message}: {error}"
        tail = self._log_tail(service_id)
        self._progress.finish(service.name, message, ok=False)
        self.failures.append(Failure(service.name, redact(message, self._redact), tail))
        del container

    def _log_tail(self, service_id: str) -> tuple[str, ...]:
        try:
            stream = swarm.service_logs(self._engine, service_id, LOG_TAIL_LINES, follow=False)
            text = b"".join(stream).decode("utf-8", "replace")
        except Exception:  # logs are a courtesy on the error path
            return ()
        lines = [redact(line, self._redact) for line in text.splitlines() if line.strip()]
        return tuple(lines[-LOG_TAIL_LINES:])


def _running_tasks(engine: Engine, service_id: str) -> tuple[list[RawDict], list[RawDict]]:
    """(tasks running, every task the swarm wants running)."""
    wanted = [t for t in swarm.tasks(engine, service_id) if t.get("DesiredState") == "running"]
    running = [t for t in wanted if (t.get("Status") or {}).get("State") == "running"]
    return running, wanted


def _rollout_verdict(engine: Engine, service_id: str, replicas: int) -> str | None:
    """ "" when converged, a problem when the update failed, None while it goes on."""
    raw = swarm.inspect_service(engine, service_id)
    update = raw.get("UpdateStatus") or {}
    state = str(update.get("State", ""))
    if state in ROLLBACK_STATES:
        return f"update {state.replace('_', ' ')}: {update.get('Message', '')}".rstrip(": ")
    if state == "updating":
        return None
    running, wanted = _running_tasks(engine, service_id)
    if len(running) == replicas and len(wanted) == replicas:
        return ""
    return None


def _container_of(task: RawDict) -> str:
    return str(((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID", ""))


def _last_task_error(engine: Engine, service_id: str) -> tuple[str, str]:
    """The most recent failed task's error and container, if any."""
    failed = [
        t
        for t in swarm.tasks(engine, service_id)
        if (t.get("Status") or {}).get("State") in FAILED_STATES
        or (t.get("Status") or {}).get("Err")
    ]
    if not failed:
        return "", ""
    latest = max(failed, key=lambda t: str(t.get("UpdatedAt", "")))
    status = latest.get("Status") or {}
    return str(status.get("Err") or status.get("Message") or ""), _container_of(latest)


def print_plan(the_plan: SwarmPlan) -> None:
    ui.data("\n".join(the_plan.lines()))
    if the_plan.up_to_date:
        ui.info("up to date: nothing to do")
