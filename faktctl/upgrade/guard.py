"""`faktctl up`'s version guard: a spec whose server image crosses a queue-key change
(faktctl.versions) must not simply recreate the server, or every queued job disappears from
its view. `up` refuses and points to `faktctl upgrade`, unless the server holds no queued job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faktctl.audit.images import parse_image
from faktctl.errors import FaktctlError, OperationFailed
from faktctl.upgrade import keys
from faktctl.versions import FORMATS, crosses_boundary, format_of, text_of, upgrade_command

if TYPE_CHECKING:
    from faktctl.adapters.docker_engine import Engine
    from faktctl.desired import Desired
    from faktctl.observe import Observed, ObservedContainer
    from faktctl.planner import Plan


class VersionChangeRefused(OperationFailed):
    """`up` would move the server across a queue-key change with jobs in it."""


def queued_jobs(engine: Engine, container: ObservedContainer) -> int | None:
    """Jobs in the server's queues under either key format; None when it cannot be told."""
    from faktctl.backups import deployment

    try:
        if container.is_running:
            report = keys.in_server(engine, container.id, "count", FORMATS[0], FORMATS[-1])
        else:
            mount = deployment.data_mount(engine.inspect(container.id))
            report = keys.offline(
                engine,
                container.image_id,
                (mount.kind, mount.source),
                "count",
                FORMATS[0],
                FORMATS[-1],
                deployment.job_labels("version-guard", container.name),
            )
    except FaktctlError:
        return None
    return sum(q.bare + q.prefixed for q in report.queues)


def check_version_change(
    engine: Engine, desired: Desired, observed: Observed, the_plan: Plan
) -> None:
    """Raise VersionChangeRefused when the plan recreates the server across a key change."""
    server = desired.server
    new = parse_image(server.image).version
    if new is None:
        return
    kinds = {a.kind for a in the_plan.actions if a.service == server.name}
    if "create" in kinds and not observed.of_service(server.name):
        _check_existing_volume(engine, desired, observed, new)
    if "recreate" not in kinds:
        return
    for container in observed.of_service(server.name):
        old = parse_image(container.image_ref).version
        if old is None or not crosses_boundary(old, new):
            continue
        jobs = queued_jobs(engine, container)
        if jobs == 0:
            continue
        count = "its queued jobs" if jobs is None else f"{jobs} queued job(s)"
        old_format, new_format = format_of(old), format_of(new)
        raise VersionChangeRefused(
            f"the spec moves the server from Faktory {text_of(old)} to {text_of(new)}, whose "
            f"queues live under `{new_format.queue_prefix}<name>` instead of "
            f"`{old_format.queue_prefix}<name>`: recreating it would hide {count}",
            f"run `{upgrade_command(text_of(new))}`, which moves them and checks every count; "
            "nothing was changed",
        )


def _check_existing_volume(
    engine: Engine, desired: Desired, observed: Observed, new: tuple[int, int, int]
) -> None:
    """A new server on a data volume that already exists (after `down`): refuse when the
    volume holds queued jobs under keys the new version does not read."""
    from faktctl.backups import deployment
    from faktctl.serverconf import DATA_DIR

    server = desired.server
    volume = next(
        (m.source for m in server.mounts if m.kind == "volume" and m.target == DATA_DIR), None
    )
    if volume is None or volume not in observed.volumes:
        return
    try:
        report = keys.offline(
            engine,
            server.image,
            ("volume", volume),
            "count",
            FORMATS[0],
            FORMATS[-1],
            deployment.job_labels("version-guard", desired.project),
        )
    except FaktctlError:
        return
    hidden = report.hidden(format_of(new))
    if not hidden:
        return
    listing = ", ".join(f"{name} ({size})" for name, size in sorted(hidden.items()))
    raise VersionChangeRefused(
        f"volume {volume} holds queues that Faktory {text_of(new)} would not see: {listing} "
        f"are stored under another version's keys",
        "set server.image back to the version that wrote them and run `faktctl up`, then "
        f"`{upgrade_command(text_of(new))}`; nothing was changed",
    )
