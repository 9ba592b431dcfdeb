"""up, down, status and logs on one Docker engine (the default platform).

`up` observes the engine, plans and applies: the server first and healthy, then the workers;
`--dry-run` prints the plan on stdout and changes nothing. `down` stops the workers, then the
server with its grace period (so Faktory saves its data), and removes the containers and the
network; the data volume stays unless asked for. `status` and `logs`: faktctl.platforms.engine
.status and .logs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.errors import OperationFailed, UsageError

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.desired import Desired
    from faktctl.platforms.engine.apply import Failure, Outcome
    from faktctl.platforms.engine.cache import Remembered
    from faktctl.platforms.engine.observe import Observed
    from faktctl.platforms.engine.plan import Plan, PullPolicy
    from faktctl.platforms.protocol import StatusReport
    from faktctl.project import Project
    from faktctl.secretvalue import SecretStr
    from faktctl.spec.load import LoadedSpec


class EnginePlatform:
    """The single-engine platform, bound to one spec: loaded, opened as a project (with its
    password), or only remembered from an earlier run (faktctl.platforms.engine.cache)."""

    def __init__(
        self,
        spec_path: Path,
        *,
        loaded: LoadedSpec | None = None,
        project: Project | None = None,
        remembered: Remembered | None = None,
    ) -> None:
        self._spec_path = spec_path
        self._loaded = loaded
        self._project = project
        self._remembered = remembered
        self._written = False

    # --- what is known of the deployment ---------------------------------------------------

    def _loaded_spec(self) -> LoadedSpec:
        if self._loaded is None:
            from faktctl.spec.load import load_spec

            self._loaded = load_spec(self._spec_path)
        return self._loaded

    def _opened(self) -> Project:
        """The project with its password; remembered so that the next `status` or `down`
        skips loading the spec."""
        if self._project is None:
            from faktctl.project import project_of
            from faktctl.secretfiles import read_server_password

            loaded = self._loaded_spec()
            self._project = project_of(loaded, read_server_password(loaded))
        if not self._written:
            from faktctl.platforms.engine import cache

            cache.remember(self._project)
            self._written = True
        return self._project

    def _desired_and_password(self) -> Remembered:
        if self._remembered is None:
            from faktctl.platforms.engine.cache import Remembered

            project = self._opened()
            self._remembered = Remembered(project.desired, project.password)
        return self._remembered

    def _names(self) -> Desired:
        """The desired state for `down`, which needs names only, never the password: it works
        even when the secret is gone."""
        if self._remembered is not None:
            return self._remembered.desired
        if self._project is not None:
            return self._project.desired
        from faktctl.desired import Secrets, build_desired
        from faktctl.secretvalue import SecretStr

        return build_desired(self._loaded_spec(), Secrets(SecretStr("")))

    # --- up ----------------------------------------------------------------------------------

    def connect(self) -> Engine:
        from faktctl.adapters.docker.connect import connect

        self._opened()
        return connect()

    def _with_tls_files(self) -> Project:
        """The project once its TLS files are made, renewed or checked (faktctl.live.tls);
        opened again when they changed, so the config hash carries the new files."""
        from faktctl.live.tls import prepare

        prepared = prepare(self._opened().loaded)
        if prepared is not None and prepared.done:
            for line in prepared.done:
                ui.info(f"tls: {line}")
            self._project, self._remembered, self._written = None, None, False
        return self._opened()

    def dry_run(self, engine: Engine, pull: PullPolicy) -> int:
        from faktctl.platforms.engine.images import resolve_images
        from faktctl.platforms.engine.observe import refuse_compose_started, up_snapshot
        from faktctl.platforms.engine.plan import plan

        resolved, image_actions = resolve_images(engine, self._opened().desired, pull)
        observed = up_snapshot(engine, resolved)
        refuse_compose_started(observed)
        _note_strangers(engine, resolved.project)
        the_plan = plan(resolved, observed)
        ui.data("\n".join([*(a.text() for a in image_actions), *rollout_lines(resolved, the_plan)]))
        if the_plan.up_to_date and not image_actions:
            ui.info("up to date: nothing to do")
        return 0

    def apply(
        self,
        engine: Engine,
        pull: PullPolicy,
        timeout_s: float,
        started: float,
        *,
        adopt_volume: bool = False,
    ) -> int:
        from faktctl.desired import web_conf_path
        from faktctl.platforms.engine.apply import Executor, Outcome, Settings, apply_images
        from faktctl.platforms.engine.images import resolve_images
        from faktctl.platforms.engine.observe import refuse_compose_started, up_snapshot
        from faktctl.platforms.engine.plan import plan
        from faktctl.platforms.progress import progress_display
        from faktctl.secretfiles import write_web_conf
        from faktctl.upgrade.guard import check_version_change

        project = self._with_tls_files()
        write_web_conf(project.loaded, web_conf_path(project.loaded))
        resolved, image_actions = resolve_images(engine, project.desired, pull)
        settings = Settings(timeout_s=timeout_s, password=project.password, secrets=project.secrets)
        with progress_display() as progress:
            apply_images(engine, resolved, image_actions, progress)
            observed = up_snapshot(engine, resolved)
            refuse_compose_started(observed)
            _note_strangers(engine, resolved.project)
            _refuse_foreign_volumes(observed, resolved.server.name, adopt=adopt_volume)
            the_plan = plan(resolved, observed)
            check_version_change(engine, resolved, observed, the_plan)
            executor = Executor(engine, resolved, settings, progress)
            if the_plan.up_to_date:
                outcome = Outcome()
            else:
                # Without changes the plan only waits for a server whose engine health check
                # has not run yet: Faktory's own readiness answers that at once, and nothing
                # changes.
                for action in the_plan.changes:
                    ui.info(f"plan: {action.text()}")
                outcome = executor.apply(the_plan)
            untouched = {a.service for a in the_plan.actions if a.kind == "noop"}
            outcome.failures += executor.troubled(
                c for c in observed.containers if c.service in untouched
            )
        if not outcome.failures:
            _prune_old_builds(engine, resolved)
        if not the_plan.changes and not outcome.failures:
            count = sum(s.replicas for s in resolved.services)
            elapsed = time.monotonic() - started
            ui.info(f"up to date: {count} containers match the spec ({elapsed:.1f}s)")
            return 0
        return _report(outcome, time.monotonic() - started)

    # --- down --------------------------------------------------------------------------------

    def down(self, *, volumes: bool, assume_yes: bool) -> int:
        from faktctl import journal
        from faktctl.adapters.docker.connect import connect_reader
        from faktctl.live import helpers
        from faktctl.lock import project_lock
        from faktctl.platforms.engine.apply import take_down
        from faktctl.platforms.engine.observe import summary_snapshot, with_exact_stop_grace
        from faktctl.platforms.engine.plan import plan_down
        from faktctl.platforms.progress import progress_display

        started = time.monotonic()
        desired = self._names()
        engine = connect_reader()
        try:
            with project_lock(self._spec_path.parent, desired.project, "down"):
                journal.require_none(self._spec_path.parent, desired.project, "run `down`")
                if volumes:
                    helpers.remove_leftovers(engine, desired.project, ui.info)
                observed = summary_snapshot(engine, desired, images=False)
                observed = with_exact_stop_grace(engine, observed, desired.server.name)
                volume_names = [v.name for v in desired.volumes]
                plan = plan_down(observed, desired.server.name, volume_names, volumes)
                _confirm(
                    [
                        a.target.removeprefix("volume ")
                        for a in plan.changes
                        if a.target.startswith("volume ")
                    ],
                    assume_yes,
                )
                if not plan.changes:
                    ui.info(f"nothing to remove for project `{desired.project}`")
                    return 0
                with progress_display() as progress:
                    outcome = take_down(engine, desired, progress, plan, self._password())
                for action in plan.actions:
                    if action.kind == "noop":
                        ui.info(f"{action.target}: {action.reason}")
        finally:
            engine.close()
        if outcome.failures:
            for failure in outcome.failures:
                for line in failure.lines():
                    ui.info(f"  {line}")
            first = outcome.failures[0]
            raise OperationFailed(f"down failed: {first.target}: {first.message}")
        ui.info(f"down: done in {time.monotonic() - started:.1f}s")
        return 0

    def _password(self) -> SecretStr | None:
        """The server password when it can be read: `down` quiets the workers with it (through
        the dashboard) and works without it."""
        from faktctl.errors import FaktctlError

        try:
            return self._desired_and_password().password
        except FaktctlError:
            return None

    # --- status and logs ---------------------------------------------------------------------

    def status(self, *, verbose: bool) -> StatusReport:
        from faktctl.platforms.engine.status import status_report

        remembered = self._desired_and_password()
        return status_report(remembered.desired, remembered.password, verbose=verbose)

    def logs(
        self, secrets: tuple[SecretStr, ...], *, service: str | None, follow: bool, tail: int | None
    ) -> int:
        from faktctl.platforms.engine.logs import show_logs

        return show_logs(self._loaded_spec(), secrets, service=service, follow=follow, tail=tail)


def rollout_lines(desired: Desired, the_plan: Plan) -> list[str]:
    """The plan's lines, each worker rollout followed by its steps (`up --dry-run`)."""
    from faktctl.platforms.engine.rollout import retire_steps, steps

    workers = {s.name: s for s in desired.workers}
    lines = []
    for action in the_plan.actions:
        lines.append(action.text())
        service = workers.get(action.service or "")
        if service is None:
            continue
        if action.kind == "recreate":
            lines += [f"  then: {step}" for step in steps(service, len(action.remove))]
        elif action.kind == "scale down":
            lines += [f"  then: {step}" for step in retire_steps(service)]
    return lines


def _note_strangers(engine: Engine, project: str) -> None:
    """Containers that carry the project's label but are not faktctl's own are left alone:
    said, with why (labels.not_own_container)."""
    from faktctl.live.containers import find

    for name, why in find(engine, project).strangers:
        ui.info(
            f"note: container {name} carries project `{project}`'s label but is not "
            f"faktctl's ({why}): left alone"
        )


def _refuse_foreign_volumes(observed: Observed, server: str, *, adopt: bool) -> None:
    """A volume of the spec's name that faktctl did not create (labels.owns) becomes the
    server's data only when the user says so; a server of the project's already on it has
    adopted it before."""
    from faktctl.platforms.engine.plan import adopt_note

    foreign = sorted(observed.foreign_volumes)
    if not foreign or adopt or observed.of_service(server):
        return
    raise UsageError(f"volume {foreign[0]} {adopt_note(foreign[0])}", "see `up --dry-run`")


def _prune_old_builds(engine: Engine, resolved: Desired) -> None:
    """Old `build-*` tags of worker images go; the current and the one before it stay."""
    if not any(s.build is not None for s in resolved.services):
        return
    from faktctl.platforms.engine.prune import prune_build_tags

    removed, busy = prune_build_tags(engine, resolved)
    if removed:
        ui.info(f"pruned {len(removed)} old worker image tag(s): {', '.join(removed)}")
    if busy:
        ui.info(f"kept {len(busy)} old worker image tag(s) still in use: {', '.join(busy)}")


def _report(outcome: Outcome, elapsed_s: float) -> int:
    if not outcome.failures:
        ui.info(f"up: done in {elapsed_s:.1f}s")
        return 0
    ui.info(f"up: {len(outcome.failures)} failure(s) after {elapsed_s:.1f}s:")
    for failure in outcome.failures:
        for line in failure.lines():
            ui.info(f"  {line}")
    raise OperationFailed(_summary(outcome.failures))


def _summary(failures: list[Failure]) -> str:
    first = failures[0]
    more = f" (and {len(failures) - 1} more, listed above)" if len(failures) > 1 else ""
    return f"up failed: {first.target}: {first.message}{more}"


def _confirm(volume_names: list[str], assume_yes: bool) -> None:
    if not volume_names or assume_yes:
        return
    names = ", ".join(volume_names)
    if not sys.stdin.isatty():
        raise UsageError(
            f"--volumes deletes the data in {names}",
            "confirm with --yes (no terminal to ask on)",
        )
    from rich.prompt import Confirm

    if not Confirm.ask(
        f"Delete volume {names} and every job stored in it?", console=ui.stderr(), default=False
    ):
        raise UsageError("down cancelled: nothing was removed")
