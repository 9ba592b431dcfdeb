"""`faktctl up`'s version guard: a spec whose server image crosses a queue-key change
(faktctl.faktory.versions) must not simply recreate the server, or every queued job disappears from
its view. `up` refuses and points to `faktctl upgrade`, unless the server holds no queued job.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from faktctl.errors import FaktctlError, OperationFailed
from faktctl.faktory.images import parse_image
from faktctl.faktory.server import DATA_DIR
from faktctl.faktory.versions import FORMATS, crosses_boundary, format_of, text_of, upgrade_command
from faktctl.live import queue_keys

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.desired import Desired
    from faktctl.platforms.engine.observe import Observed, ObservedContainer
    from faktctl.platforms.engine.plan import Plan


class VersionChangeRefused(OperationFailed):
    """`up` would move the server across a queue-key change with jobs in it."""


def queued_jobs(engine: Engine, container: ObservedContainer, project: str = "") -> int | None:
    """Jobs in the server's queues under either key format; None when it cannot be told."""
    from faktctl.backups import deployment

    try:
        if container.is_running:
            report = queue_keys.in_server(engine, container.id, "count", FORMATS[0], FORMATS[-1])
        else:
            mount = deployment.data_mount(engine.inspect(container.id))
            report = queue_keys.offline(
                engine,
                container.image_id,
                (mount.kind, mount.source),
                "count",
                FORMATS[0],
                FORMATS[-1],
                deployment.job_labels("version-guard", project or container.name),
            )
    except FaktctlError:
        return None
    return sum(q.bare + q.prefixed for q in report.queues)


def refuse_crossing(
    old: tuple[int, int, int] | None,
    new: tuple[int, int, int] | None,
    jobs: Callable[[], int | None],
) -> None:
    """The guard itself, for both platforms: moving a server from version `old` to `new`
    across a queue-key change is refused unless `jobs` (queued jobs under either key format,
    None when it cannot be told) says the server holds none."""
    if old is None or new is None or not crosses_boundary(old, new):
        return
    found = jobs()
    if found == 0:
        return
    count = "its queued jobs" if found is None else f"{found} queued job(s)"
    old_format, new_format = format_of(old), format_of(new)
    raise VersionChangeRefused(
        f"the spec moves the server from Faktory {text_of(old)} to {text_of(new)}, whose "
        f"queues live under `{new_format.queue_prefix}<name>` instead of "
        f"`{old_format.queue_prefix}<name>`: replacing it would hide {count}",
        f"run `{upgrade_command(text_of(new))}`, which moves them and checks every count; "
        "nothing was changed",
    )


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
        volume = next(
            (m.source for m in server.mounts if m.kind == "volume" and m.target == DATA_DIR),
            None,
        )
        if volume is not None and volume in observed.volumes:
            check_existing_volume(engine, server.image, volume, desired.project, new)
    if "recreate" not in kinds:
        return
    for container in observed.of_service(server.name):
        old = parse_image(container.image_ref).version
        refuse_crossing(
            old, new, functools.partial(queued_jobs, engine, container, desired.project)
        )


def check_swarm_change(
    engine: Engine,
    project: str,
    image: str,
    volume: str | None,
    service_id: str | None,
) -> None:
    """The same guard for `up` on a swarm, before the server service is created or updated:
    `image` is the spec's server image, `service_id` the existing server service (None when
    `up` creates it; then an existing data volume on this engine is checked like on one
    engine). The running version is read from the tags of the image the service runs (it runs
    an image id or digest); its queued jobs from its task container on this engine's node."""
    from faktctl.adapters.docker import swarm as docker_swarm

    new = parse_image(image).version
    if new is None:
        return
    if service_id is None:
        if volume is not None and engine.volume(volume) is not None:
            check_existing_volume(engine, image, volume, project, new)
        return
    raw = docker_swarm.inspect_service(engine, service_id)
    running = ((raw.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
    refuse_crossing(
        _tagged_version(engine, str(running.get("Image", ""))),
        new,
        lambda: _swarm_queued_jobs(engine, project),
    )


def _tagged_version(engine: Engine, reference: str) -> tuple[int, int, int] | None:
    """The Faktory version an image reference names, or the tags of the image it resolves to
    on this engine (a pinned id or digest names none itself)."""
    version = parse_image(reference).version
    if version is not None or not reference:
        return version
    found = engine.image(reference)
    for tag in (found or {}).get("RepoTags") or []:
        version = parse_image(str(tag)).version
        if version is not None:
            return version
    return None


def _swarm_queued_jobs(engine: Engine, project: str) -> int | None:
    from faktctl.backups import deployment

    try:
        server = deployment.running_server(engine, project)
        report = queue_keys.in_server(engine, str(server["Id"]), "count", FORMATS[0], FORMATS[-1])
    except FaktctlError:
        return None
    return sum(q.bare + q.prefixed for q in report.queues)


def check_existing_volume(
    engine: Engine, image: str, volume: str, project: str, new: tuple[int, int, int]
) -> None:
    """A new server on a data volume that already exists (after `down`): refuse when the
    volume holds queued jobs under keys the new version does not read."""
    from faktctl.backups import deployment

    try:
        report = queue_keys.offline(
            engine,
            image,
            ("volume", volume),
            "count",
            FORMATS[0],
            FORMATS[-1],
            deployment.job_labels("version-guard", project),
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
