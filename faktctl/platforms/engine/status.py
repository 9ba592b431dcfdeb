"""`status` on one engine: per service its containers, state, health, ports, image, uptime, and the
drift against the spec (the plan `up` would carry out); then the Faktory view of the server
(faktctl.live.view: version, queues, sets, totals, workers, last save). The deployment
drifts when it does not match the spec (including not deployed at all).

The containers come from one engine list query (the engine's summary: state, health, ports,
uptime in its words); the Faktory view is asked for at the same time. `--verbose` inspects
every container as well, for the restart count and the exact start time, and reads Redis's
persistence state with an exec in the server container (else the snapshot's age is the file's,
from one stat by the engine)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faktctl.desired import Desired, ServiceRequest
from faktctl.live import reach
from faktctl.live import view as faktory_view
from faktctl.platforms.engine.observe import Observed, ObservedContainer
from faktctl.platforms.engine.plan import Plan, plan

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import ReadEngine
    from faktctl.platforms.protocol import StatusReport
    from faktctl.secretvalue import SecretStr


def _port_text(container: ObservedContainer) -> list[str]:
    return [f"{p.host_ip}:{p.host_port}->{p.container_port}/tcp" for p in container.ports]


def _container_doc(container: ObservedContainer, now: datetime) -> dict[str, Any]:
    """restart_count, started_at and uptime_s are null unless the container was inspected
    (`--verbose`); `status` is the engine's own summary ("Up 5 minutes (healthy)")."""
    uptime = container.uptime_s(now)
    return {
        "name": container.name,
        "id": container.id[:12],
        "state": container.state,
        "health": container.health,
        "restart_count": container.restart_count if container.detailed else None,
        "ports": _port_text(container),
        "image": container.image_ref,
        "started_at": container.started_at.isoformat() if container.started_at else None,
        "uptime_s": round(uptime) if uptime is not None else None,
        "status": container.status_text or None,
    }


def _service_doc(
    service: ServiceRequest, observed: Observed, the_plan: Plan, now: datetime
) -> dict[str, Any]:
    containers = observed.of_service(service.name)
    return {
        "name": service.name,
        "role": service.role,
        "image": service.image,
        "replicas": {
            "desired": service.replicas,
            "running": sum(1 for c in containers if c.is_running),
        },
        "containers": [_container_doc(c, now) for c in containers],
        "drift": [
            a.text()
            for a in the_plan.changes
            if a.service == service.name and a.kind != "remove orphan"
        ],
    }


def status_document(
    desired: Desired, observed: Observed, the_plan: Plan, now: datetime
) -> dict[str, Any]:
    """The `result` of `status --json` (pure)."""
    known = {s.name for s in desired.services}
    orphans = [c for c in observed.containers if c.service not in known]
    return {
        "project": desired.project,
        "verbose": all(c.detailed for c in observed.containers),
        "up_to_date": not the_plan.changes,
        "network": {"name": desired.network, "exists": observed.network is not None},
        "volumes": [
            {"name": v.name, "exists": v.name in observed.volumes} for v in desired.volumes
        ],
        "services": [_service_doc(s, observed, the_plan, now) for s in desired.services],
        "orphans": [_container_doc(c, now) | {"service": c.service} for c in orphans],
        "drift": [a.text() for a in the_plan.changes],
    }


def _uptime(c: dict[str, Any]) -> str:
    """Exact when inspected; else the engine's words ("Up 5 minutes (healthy)" -> "5 minutes")."""
    if c["uptime_s"] is not None or not c.get("status"):
        return faktory_view.duration(c["uptime_s"])
    text = str(c["status"])
    if not text.startswith("Up "):
        return "-"
    return text.removeprefix("Up ").split(" (", 1)[0]


def _row(service: str, c: dict[str, Any], verbose: bool) -> tuple[str, ...]:
    restarts = (str(c["restart_count"]),) if verbose else ()
    return (
        service,
        c["name"],
        c["state"],
        c["health"] or "-",
        *restarts,
        ",".join(c["ports"]) or "-",
        c["image"],
        _uptime(c),
    )


def render_table(document: dict[str, Any]) -> str:
    verbose = bool(document.get("verbose", True))
    restarts = ("RESTARTS",) if verbose else ()
    headers = ("SERVICE", "CONTAINER", "STATE", "HEALTH", *restarts, "PORTS", "IMAGE", "UPTIME")
    rows: list[tuple[str, ...]] = []
    for service in document["services"]:
        if not service["containers"]:
            missing = (service["name"], "-", "missing", "-", *("-" for _ in restarts), "-")
            rows.append((*missing, service["image"], "-"))
        rows += [_row(service["name"], c, verbose) for c in service["containers"]]
    rows += [_row(f"{c['service']} (orphan)", c, verbose) for c in document["orphans"]]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    lines.append("")
    if document["drift"]:
        lines.append("drift from the spec (`faktctl up` would):")
        lines += [f"  {line}" for line in document["drift"]]
    else:
        lines.append("up to date with the spec")
    return "\n".join(lines)


def status_report(desired: Desired, password: SecretStr, *, verbose: bool) -> StatusReport:
    """Observe the deployment of `desired` (built images named by their content tags) and
    compare it with the spec; the Faktory view of the server beside it."""
    from faktctl.adapters.docker.connect import connect_reader
    from faktctl.platforms.engine.images import with_built_images
    from faktctl.platforms.protocol import StatusReport

    desired = with_built_images(desired)
    engine = connect_reader()
    try:
        observed, server_view, reservations = _look(engine, desired, password, verbose)
    finally:
        engine.close()
    the_plan = plan(desired, observed)
    document = status_document(desired, observed, the_plan, datetime.now(UTC))
    document["faktory"] = server_view.as_json()
    text = render_table(document) + "\n\n" + "\n".join(faktory_view.text_lines(server_view))
    if reservations is not None:
        document["faktory"]["reservations"] = reservations
        text += "\n" + "\n".join(reservation_lines(reservations))
    return StatusReport(document, text, drifts=bool(the_plan.changes))


def _look(
    engine: ReadEngine, desired: Desired, password: SecretStr, verbose: bool
) -> tuple[Observed, faktory_view.FaktoryView, dict[str, Any] | None]:
    """The containers (one list query) and the Faktory view, asked for side by side: the
    server's INFO and its last save go out at once, addressed by the server container's name,
    and are kept when that container is the project's."""
    from concurrent.futures import ThreadPoolExecutor

    from faktctl.platforms.engine.observe import inspected, summary_snapshot, take_snapshot
    from faktctl.platforms.engine.plan import container_name

    snapshot = take_snapshot if verbose else summary_snapshot
    server_name = container_name(desired.project, desired.server.name, 1)
    with ThreadPoolExecutor(max_workers=3) as pool:
        # Redis's own persistence state takes an exec (tens of ms, the slowest request
        # here); without --verbose the file's age is enough and takes one stat
        read_save = faktory_view.read_last_save if verbose else faktory_view.read_save_file
        saving = pool.submit(read_save, engine, server_name, time.time())
        looking = pool.submit(snapshot, engine, desired)
        server = inspected(engine, server_name)
        tls = reach.tls_client(desired.tls)
        held = pool.submit(_reservations, engine, server, desired, password)
        view = faktory_view.ask_info(engine, server, password, desired.network, tls=tls)
        observed = looking.result()
        last_save = saving.result()
        reservations = held.result()
    mine = {c.id for c in observed.containers}
    if server is None or server.id not in mine or server.service != desired.server.name:
        server_view = faktory_view.for_deployment(
            engine, desired, observed, password, now=time.time()
        )
        return observed, server_view, None
    if view.reachable:
        view = replace(view, last_save=last_save)
    return observed, view, reservations


def _reservations(
    engine: ReadEngine, server: ObservedContainer | None, desired: Desired, password: SecretStr
) -> dict[str, Any] | None:
    """The orphaned reservations (faktctl.platforms.engine.rescue) for `status --json`: null
    when the server does not run, `{"error": ...}` when they cannot be read."""
    from faktctl.errors import FaktctlError
    from faktctl.platforms.engine.rescue import read_at

    if server is None or not server.is_running:
        return None
    try:
        found = read_at(
            engine,
            server.id,
            server.ports,
            server.ip_addresses.get(desired.network),
            desired.dashboard_password or password,
            reach.tls_client(desired.tls),
        )
    except FaktctlError as err:
        return {"error": str(err)}
    return found.to_json()


def reservation_lines(document: dict[str, Any]) -> list[str]:
    """The reservations part of `status`'s text (from its JSON)."""
    if "error" in document:
        return [f"reservations: not read ({document['error']})"]
    head = f"reservations: {document['reserved']} held, {document['processes']} live process(es)"
    if not document["orphaned"]:
        return [head + ", none orphaned"]
    lines = [head + f", {document['orphaned']} orphaned (process gone; `faktctl rescue`):"]
    for queue, entry in document["orphaned_by_queue"].items():
        oldest = faktory_view.duration(entry["oldest_s"])
        lines.append(f"  {queue}: {entry['count']} orphaned, oldest {oldest}")
    return lines
