"""up, down, status and logs for `platform: swarm` (faktctl.platforms hands the commands here).

The engine the SDK reaches (DOCKER_HOST, the docker context, the local socket) must be a
manager of an active swarm; every object carries the project's labels like on one engine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from faktctl import labels, ui
from faktctl.errors import FaktctlError, OperationFailed, UsageError
from faktctl.secretvalue import SecretStr, redact

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import RawDict
    from faktctl.adapters.docker.engine import Engine
    from faktctl.live.view import FaktoryView
    from faktctl.platforms.engine.plan import PullPolicy
    from faktctl.platforms.protocol import StatusReport
    from faktctl.platforms.swarm.apply import Prepared
    from faktctl.platforms.swarm.plan import SwarmDesired
    from faktctl.project import Project
    from faktctl.spec.load import LoadedSpec

DOWN_POLL_S = 0.25
DOWN_EXTRA_WAIT_S = 30.0


class SwarmPlatform:
    """The swarm platform, bound to one spec (and the project opened from it, once needed)."""

    def __init__(self, loaded: LoadedSpec, project: Project | None = None) -> None:
        self._loaded = loaded
        self._project = project

    def _opened(self) -> Project:
        if self._project is None:
            from faktctl.project import project_of
            from faktctl.secretfiles import read_server_password

            self._project = project_of(self._loaded, read_server_password(self._loaded))
        return self._project

    def connect(self) -> Engine:
        from faktctl.adapters.docker.connect import connect
        from faktctl.adapters.docker.swarm import require_manager

        self._opened()
        engine = connect()
        try:
            require_manager(engine)
        except BaseException:
            engine.close()
            raise
        return engine

    def dry_run(self, engine: Engine, pull: PullPolicy) -> int:
        return dry_run(engine, self._opened(), pull)

    def apply(
        self,
        engine: Engine,
        pull: PullPolicy,
        timeout_s: float,
        started: float,
        *,
        adopt_volume: bool = False,  # a swarm's volumes live on its nodes: not looked at here
    ) -> int:
        return apply(engine, self._with_tls_files(), pull, timeout_s, started)

    def _with_tls_files(self) -> Project:
        """The project once its TLS files are made, renewed or checked (faktctl.live.tls)."""
        from faktctl.live.tls import prepare

        prepared = prepare(self._opened().loaded)
        for line in prepared.done if prepared is not None else ():
            ui.info(f"tls: {line}")
        if prepared is not None and prepared.done:
            self._project = None  # opened again: the files changed
        return self._opened()

    def down(self, *, volumes: bool, assume_yes: bool) -> int:
        return down(self._loaded, volumes=volumes, assume_yes=assume_yes)

    def status(self, *, verbose: bool) -> StatusReport:
        """`verbose` adds nothing on a swarm: every service's tasks are listed anyway."""
        return status(self._opened())

    def logs(
        self, secrets: tuple[SecretStr, ...], *, service: str | None, follow: bool, tail: int | None
    ) -> int:
        return logs(self._loaded, secrets, service=service, follow=follow, tail=tail)

    def stack_desired(self) -> SwarmDesired:
        """The swarm objects `up` would create, for `render --target stack` (reads the images'
        ids on the engine, like `up`)."""
        from faktctl.adapters.docker.connect import connect
        from faktctl.platforms.engine.images import with_built_images
        from faktctl.platforms.swarm.apply import swarm_desired

        project = self._with_tls_files()
        resolved = with_built_images(project.desired)
        engine = connect()
        try:
            return swarm_desired(
                engine, resolved, project.password, web_conf(project), tls_files(project)
            )
        finally:
            engine.close()


# --- up -----------------------------------------------------------------------------------------


def web_conf(project: Project) -> SecretStr | None:
    from faktctl.secretfiles import web_conf_text

    if project.desired.dashboard_password is None:
        return None
    return web_conf_text(project.desired.dashboard_password)


def tls_files(project: Project) -> dict[str, SecretStr]:
    """The TLS files' contents the swarm carries as secrets (empty when TLS is off)."""
    from faktctl.secretfiles import tls_file_contents

    return tls_file_contents(project.loaded)


def dry_run(engine: Engine, project: Project, pull: PullPolicy) -> int:
    from faktctl.platforms.engine.images import resolve_images
    from faktctl.platforms.swarm.apply import observe_and_plan, print_plan, swarm_desired

    resolved, image_actions = resolve_images(engine, project.desired, pull)
    if image_actions:
        ui.data("\n".join(a.text() for a in image_actions))
        ui.info("the images above are needed before the services can be planned")
        return 0
    try:
        files = tls_files(project)
    except UsageError as err:
        if project.loaded.spec.server.tls.mode != "generate":
            raise
        raise UsageError(
            f"cannot plan the TLS secrets: {err.message}",
            "`faktctl up` makes the CA and the certificate first (a dry run writes nothing)",
        ) from None
    desired = swarm_desired(engine, resolved, project.password, web_conf(project), files)
    print_plan(observe_and_plan(engine, desired).the_plan)
    return 0


def apply(engine: Engine, project: Project, pull: PullPolicy, timeout_s: float, t0: float) -> int:
    from faktctl.live.reach import tls_client
    from faktctl.platforms.engine.apply import apply_images
    from faktctl.platforms.engine.images import resolve_images
    from faktctl.platforms.progress import progress_display
    from faktctl.platforms.swarm.apply import SwarmExecutor, observe_and_plan, swarm_desired

    resolved, image_actions = resolve_images(engine, project.desired, pull)
    files = tls_files(project)
    with progress_display() as progress:
        apply_images(engine, resolved, image_actions, progress)
        desired = swarm_desired(engine, resolved, project.password, web_conf(project), files)
        prepared = observe_and_plan(engine, desired)
        _guard_version(engine, project, resolved.server.image, prepared)
        executor = SwarmExecutor(
            engine,
            prepared,
            project.password,
            project.secrets,
            progress,
            timeout_s,
            tls_client(project.desired.tls),
        )
        if prepared.the_plan.up_to_date:
            failures = executor.check_running()
        else:
            for action in prepared.the_plan.changes:
                ui.info(f"plan: {action.text()}")
            failures = executor.apply()
    elapsed = time.monotonic() - t0
    if failures:
        ui.info(f"up: {len(failures)} failure(s) after {elapsed:.1f}s:")
        for failure in failures:
            for line in failure.lines():
                ui.info(f"  {line}")
        first = failures[0]
        raise OperationFailed(f"up failed: {first.target}: {first.message}")
    if prepared.the_plan.up_to_date:
        count = sum(s.replicas for s in desired.services)
        ui.info(f"up to date: {count} swarm tasks match the spec ({elapsed:.1f}s)")
    else:
        ui.info(f"up: done in {elapsed:.1f}s")
    return 0


def _guard_version(engine: Engine, project: Project, image: str, prepared: Prepared) -> None:
    """`up`'s version guard (faktctl.upgrade.guard), before the server service changes."""
    from faktctl.upgrade.guard import check_swarm_change

    server = prepared.desired.server
    kinds = {a.kind for a in prepared.the_plan.actions if a.target == server.name}
    if not kinds & {"create-service", "update-service"}:
        return
    known = prepared.service_ids.get(server.name)
    check_swarm_change(
        engine, project.desired.project, image, prepared.desired.volume, known and known[0]
    )


# --- down ---------------------------------------------------------------------------------------


def down(loaded: LoadedSpec, *, volumes: bool, assume_yes: bool) -> int:
    from faktctl import journal
    from faktctl.adapters.docker import swarm as docker_swarm
    from faktctl.adapters.docker.connect import connect
    from faktctl.lock import project_lock

    project = loaded.spec.project
    network = f"{project}_default"
    volume = None if loaded.spec.server.storage.host_path else _volume_name(loaded)
    engine = connect()
    try:
        docker_swarm.require_manager(engine)
        with project_lock(loaded.base_dir, project, "down"):
            journal.require_none(loaded.base_dir, project, "run `down`")
            if volumes and volume is not None:
                _confirm_volume(volume, assume_yes)
            removed = _remove_services(engine, project, loaded)
            removed += _remove_rest(engine, project, network, volume if volumes else None)
    finally:
        engine.close()
    if not removed:
        ui.info(f"nothing to remove for project `{project}`")
    elif volume is not None and not volumes:
        ui.info(f"kept volume {volume} (on the server's node); `down --volumes` deletes it")
    return 0


def _volume_name(loaded: LoadedSpec) -> str:
    return f"{loaded.spec.project}_{loaded.spec.server.storage.volume_key}"


def _confirm_volume(volume: str, assume_yes: bool) -> None:
    if assume_yes:
        return
    if not ui.stderr_is_terminal():
        raise UsageError(f"`down --volumes` deletes volume {volume}: add --yes to confirm")
    import typer

    if not typer.confirm(f"Delete volume {volume} and every job in it?", err=True):
        raise UsageError("nothing removed")


def _remove_services(engine: Engine, project: str, loaded: LoadedSpec) -> int:
    """Workers first, then the server; waits until their containers here have stopped, within
    the server's stop grace period, so Faktory can save its data before the network goes."""
    from faktctl.adapters.docker import swarm as docker_swarm

    found = docker_swarm.services(engine, project)
    ordered = sorted(
        found, key=lambda s: (s["Spec"].get("Labels") or {}).get(labels.ROLE) == "server"
    )
    for raw in ordered:
        if (raw["Spec"].get("Labels") or {}).get(labels.ROLE) == "server":
            _save_before_removal(engine, project)
        ui.info(f"removing service {raw['Spec']['Name']}")
        docker_swarm.remove_service(engine, str(raw["ID"]))
    if found:
        grace = loaded.spec.server.stop_grace_period.total_seconds()
        _wait_containers_gone(engine, project, grace + DOWN_EXTRA_WAIT_S)
    return len(found)


def _save_before_removal(engine: Engine, project: str) -> None:
    """A fresh snapshot from the server's task, when it runs on this node (elsewhere only its
    own grace period protects the data), as every stop on one engine takes."""
    from functools import partial

    from faktctl.backups.savepoint import save_before_stop

    selector = {**labels.owned(project), labels.ROLE: "server"}
    for container in engine.containers(selector):
        ui.info(save_before_stop(partial(engine.exec, str(container["Id"]))))


def _wait_containers_gone(engine: Engine, project: str, timeout_s: float) -> None:
    selector = labels.owned(project)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not engine.containers(selector):
            return
        time.sleep(DOWN_POLL_S)
    ui.info("note: some task containers are still stopping; the network is removed once free")


def _remove_rest(engine: Engine, project: str, network: str, volume: str | None) -> int:
    from faktctl.adapters.docker import swarm as docker_swarm

    removed = 0
    found_network = engine.network(network)
    if found_network is not None and not labels.owns(found_network.get("Labels"), project):
        ui.info(f"kept network {network}: it lacks faktctl's labels for this project")
    elif found_network is not None:
        _retry(lambda: engine.remove_network(network), f"removing network {network}")
        ui.info(f"removed network {network}")
        removed += 1
    for raw in docker_swarm.secrets(engine, project):
        docker_swarm.remove_secret(engine, str(raw["ID"]))
        ui.info(f"removed secret {raw['Spec']['Name']}")
        removed += 1
    if volume is not None:
        found = engine.volume(volume)
        if found is None:
            ui.info(f"volume {volume} is not on this engine: remove it on the server's node")
        elif not labels.owns(found.get("Labels"), project):  # the one ownership rule
            ui.info(
                f"kept volume {volume}: it lacks faktctl's labels for this project (faktctl "
                "did not create it); remove it yourself if it is yours to delete"
            )
        else:
            _retry(lambda: engine.remove_volume(volume), f"removing volume {volume}")
            ui.info(f"removed volume {volume}")
            removed += 1
    return removed


def _retry(action: Any, doing: str, timeout_s: float = 30.0) -> None:
    """Objects stay in use for a moment after their tasks stop; try again until free."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            action()
            return
        except FaktctlError as err:
            if time.monotonic() >= deadline:
                raise OperationFailed(f"{doing}: {err.one_line()}") from err
            time.sleep(DOWN_POLL_S * 2)


# --- status -------------------------------------------------------------------------------------


def status(project: Project) -> StatusReport:
    from faktctl.adapters.docker import swarm as docker_swarm
    from faktctl.adapters.docker.connect import connect

    engine = connect()
    try:
        docker_swarm.require_manager(engine)
        desired = _status_desired(engine, project)
        rows = _status_rows(engine, project.desired.project, desired)
        view = _faktory_view(engine, project)
    finally:
        engine.close()
    from faktctl.live.view import text_lines
    from faktctl.platforms.protocol import StatusReport

    drift = [r for r in rows if r["drift"] != "up to date"]
    document = {
        "platform": "swarm",
        "project": project.desired.project,
        "services": rows,
        "up_to_date": not drift,
        "faktory": view.as_json(),
    }
    text = "\n".join(_status_lines(rows)) + "\n\n" + "\n".join(text_lines(view))
    return StatusReport(document, text, drifts=bool(drift))


def _faktory_view(engine: Engine, project: Project) -> FaktoryView:
    """What the server says (INFO through the engine-API relay into its task's container)."""
    from faktctl.adapters import probe
    from faktctl.adapters.docker.tunnel import relay
    from faktctl.backups.deployment import running_server
    from faktctl.desired import PROTOCOL_PORT
    from faktctl.live import reach
    from faktctl.live import view as faktory_view

    try:
        server = running_server(engine, project.desired.project)
    except FaktctlError as err:
        return faktory_view.unreachable(
            f"{err.one_line()} (on a swarm: the server's task must run on this engine's node)"
        )
    container_id = str(server["Id"])
    with relay(engine, container_id, PROTOCOL_PORT) as opened:
        endpoint = reach.Endpoint("127.0.0.1", opened.port, reach.tls_client(project.desired.tls))
        try:
            info = reach.read_info(endpoint, project.password, faktory_view.INFO_TIMEOUT_S)
        except probe.ProbeError as err:
            return faktory_view.unreachable(str(err), "relay into the server's task")
        served = faktory_view.tls_view(endpoint, faktory_view.INFO_TIMEOUT_S)
    view = faktory_view.from_info(info, "relay into the server's task")
    save = faktory_view.read_last_save(engine, container_id, time.time())
    return replace(view, last_save=save, tls=served)


def _status_desired(engine: Engine, project: Project) -> SwarmDesired | None:
    from faktctl.platforms.engine.images import with_built_images
    from faktctl.platforms.swarm.apply import swarm_desired

    resolved = with_built_images(project.desired)
    try:
        files = tls_files(project)
        return swarm_desired(engine, resolved, project.password, web_conf(project), files)
    except (OperationFailed, UsageError):  # an image or a TLS file is missing: all drift
        return None


def _status_rows(
    engine: Engine, project: str, desired: SwarmDesired | None
) -> list[dict[str, Any]]:
    from faktctl.adapters.docker import swarm as docker_swarm

    hosts = docker_swarm.nodes(engine)
    found = {str(s["Spec"]["Name"]): s for s in docker_swarm.services(engine, project)}
    wanted = desired.services if desired is not None else ()
    names = [s.name for s in wanted] + sorted(set(found) - {s.name for s in wanted})
    rows = []
    for name in names:
        raw = found.get(name)
        want = next((s for s in wanted if s.name == name), None)
        rows.append(_row(engine, name, raw, want, hosts))
    return rows


def _row(
    engine: Engine, name: str, raw: RawDict | None, want: Any, hosts: dict[str, str]
) -> dict[str, Any]:
    from faktctl.adapters.docker import swarm as docker_swarm

    if raw is None:
        return {"service": name, "drift": "missing", "desired": want.replicas, "running": 0}
    spec = raw["Spec"]
    service_labels = spec.get("Labels") or {}
    tasks = [
        t for t in docker_swarm.tasks(engine, str(raw["ID"])) if t.get("DesiredState") == "running"
    ]
    per_node: dict[str, list[str]] = {}
    for task in tasks:
        node = hosts.get(str(task.get("NodeID", "")), "unassigned")
        per_node.setdefault(node, []).append(str((task.get("Status") or {}).get("State", "?")))
    if want is None:
        drift = "not in the spec"
    elif service_labels.get(labels.CONFIG_HASH) != want.config_hash():
        drift = "differs from the spec"
    else:
        drift = "up to date"
    replicas = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0))
    update = (raw.get("UpdateStatus") or {}).get("State", "")
    return {
        "service": name,
        "role": service_labels.get(labels.ROLE, ""),
        "desired": replicas,
        "running": sum(states.count("running") for states in per_node.values()),
        "tasks_per_node": per_node,
        "update": update,
        "version": int((raw.get("Version") or {}).get("Index", 0)),
        "drift": drift,
    }


def _status_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        nodes = ", ".join(
            f"{node}: {'/'.join(states)}" for node, states in row.get("tasks_per_node", {}).items()
        )
        update = f", update {row['update']}" if row.get("update") else ""
        lines.append(
            f"{row['service']}: {row['running']}/{row['desired']} running"
            f"{update} ({row['drift']})" + (f"\n    {nodes}" if nodes else "")
        )
    return lines or ["no services"]


# --- logs ---------------------------------------------------------------------------------------


def logs(
    loaded: LoadedSpec,
    secrets: tuple[SecretStr, ...],
    *,
    service: str | None,
    follow: bool,
    tail: int | None,
) -> int:
    from faktctl.adapters.docker import swarm as docker_swarm
    from faktctl.adapters.docker.connect import connect

    engine = connect()
    try:
        docker_swarm.require_manager(engine)
        found = docker_swarm.services(engine, loaded.spec.project)
        chosen = [
            s
            for s in found
            if service is None or (s["Spec"].get("Labels") or {}).get(labels.SERVICE) == service
        ]
        if not chosen:
            what = f"service `{service}`" if service else "no services"
            raise UsageError(f"project `{loaded.spec.project}` has {what} running on this swarm")
        lock = threading.Lock()
        threads = [
            threading.Thread(
                target=_pump, args=(engine, raw, secrets, follow, tail, lock), daemon=True
            )
            for raw in chosen
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
    finally:
        engine.close()
    return 0


def _pump(
    engine: Engine,
    raw: RawDict,
    secrets: tuple[SecretStr, ...],
    follow: bool,
    tail: int | None,
    lock: threading.Lock,
) -> None:
    from faktctl.adapters.docker import swarm as docker_swarm

    prefix = str((raw["Spec"].get("Labels") or {}).get(labels.SERVICE, raw["Spec"]["Name"]))
    pending = ""
    for chunk in docker_swarm.service_logs(engine, str(raw["ID"]), tail, follow):
        pending += chunk.decode("utf-8", "replace")
        *complete, pending = pending.split("\n")
        if complete:
            with lock:
                ui.data("\n".join(f"{prefix} | {redact(line, secrets)}" for line in complete))
    if pending:
        with lock:
            ui.data(f"{prefix} | {redact(pending, secrets)}")
