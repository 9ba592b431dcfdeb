"""faktctl down: stop the workers, then the server with its grace period (so Faktory saves its
data), remove the containers and the network; the data volume stays unless --volumes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from faktctl import ui
from faktctl.errors import OperationFailed, UsageError
from faktctl.secretvalue import SecretStr


def run(file: Path | None, *, volumes: bool, assume_yes: bool) -> int:
    from faktctl.adapters.docker.connect import connect_reader
    from faktctl.commands.up import progress_display
    from faktctl.desired import Desired, Secrets, build_desired
    from faktctl.lock import project_lock
    from faktctl.platforms.engine import cache as desired_cache
    from faktctl.platforms.engine.apply import take_down
    from faktctl.platforms.engine.observe import summary_snapshot, with_exact_stop_grace
    from faktctl.platforms.engine.plan import plan_down
    from faktctl.spec.locate import find_spec

    started = time.monotonic()
    spec_path = find_spec(file)
    remembered = desired_cache.lookup(spec_path)
    if remembered is not None:
        desired: Desired = remembered.desired
    else:
        from faktctl.project import load  # the spec model: only when the cache cannot answer

        loaded = load(file)
        if loaded.spec.platform == "swarm":
            from faktctl.platforms.swarm import lifecycle as swarm

            return swarm.down(loaded, volumes=volumes, assume_yes=assume_yes)
        # down needs names only, never the password: it works even when the secret is gone
        desired = build_desired(loaded, Secrets(SecretStr("")))
    engine = connect_reader()
    try:
        with project_lock(spec_path.parent, desired.project, "down"):
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
                outcome = take_down(engine, desired, progress, plan)
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
