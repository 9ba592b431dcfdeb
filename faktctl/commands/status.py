"""faktctl status: per service its containers, state, health, restarts, ports, image, uptime,
and the drift against the spec (the plan `up` would carry out); then the Faktory view of the
server (faktctl.faktory_view: version, queues, sets, totals, workers, last save). Exit 0 when
the deployment matches the spec, 1 when it drifts (including not deployed at all)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faktctl import faktory_view, ui
from faktctl.desired import Desired, ServiceRequest
from faktctl.errors import ExitCode
from faktctl.observe import Observed, ObservedContainer
from faktctl.planner import Plan, plan

ENVELOPE_VERSION = 1


def _port_text(container: ObservedContainer) -> list[str]:
    return [f"{p.host_ip}:{p.host_port}->{p.container_port}/tcp" for p in container.ports]


def _container_doc(container: ObservedContainer, now: datetime) -> dict[str, Any]:
    uptime = container.uptime_s(now)
    return {
        "name": container.name,
        "id": container.id[:12],
        "state": container.state,
        "health": container.health,
        "restart_count": container.restart_count,
        "ports": _port_text(container),
        "image": container.image_ref,
        "started_at": container.started_at.isoformat() if container.started_at else None,
        "uptime_s": round(uptime) if uptime is not None else None,
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
        "up_to_date": not the_plan.changes,
        "network": {"name": desired.network, "exists": observed.network is not None},
        "volumes": [
            {"name": v.name, "exists": v.name in observed.volumes} for v in desired.volumes
        ],
        "services": [_service_doc(s, observed, the_plan, now) for s in desired.services],
        "orphans": [_container_doc(c, now) | {"service": c.service} for c in orphans],
        "drift": [a.text() for a in the_plan.changes],
    }


def envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"faktctl": ENVELOPE_VERSION, "command": "status", "result": result}


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24}h"
    if hours:
        return f"{hours}h{minutes % 60:02d}m"
    if minutes:
        return f"{minutes}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _row(service: str, c: dict[str, Any]) -> tuple[str, ...]:
    return (
        service,
        c["name"],
        c["state"],
        c["health"] or "-",
        str(c["restart_count"]),
        ",".join(c["ports"]) or "-",
        c["image"],
        _duration(c["uptime_s"]),
    )


def render_table(document: dict[str, Any]) -> str:
    headers = ("SERVICE", "CONTAINER", "STATE", "HEALTH", "RESTARTS", "PORTS", "IMAGE", "UPTIME")
    rows: list[tuple[str, ...]] = []
    for service in document["services"]:
        if not service["containers"]:
            rows.append((service["name"], "-", "missing", "-", "-", "-", service["image"], "-"))
        rows += [_row(service["name"], c) for c in service["containers"]]
    rows += [_row(f"{c['service']} (orphan)", c) for c in document["orphans"]]
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


def run(file: Path | None, *, as_json: bool) -> int:
    from faktctl.adapters.docker_engine import connect
    from faktctl.commands.up import build_digests
    from faktctl.observe import take_snapshot
    from faktctl.planner import with_build_tags
    from faktctl.project import open_project

    project = open_project(file)
    if project.loaded.spec.platform == "swarm":
        from faktctl.commands import swarm

        return swarm.status(project, as_json=as_json)
    desired = with_build_tags(project.desired, build_digests(project.desired))
    engine = connect()
    try:
        observed = take_snapshot(engine, desired)
        server = faktory_view.for_deployment(
            engine, desired, observed, project.password, now=time.time()
        )
    finally:
        engine.close()
    the_plan = plan(desired, observed)
    document = status_document(desired, observed, the_plan, datetime.now(UTC))
    document["faktory"] = server.as_json()
    if as_json:
        ui.data(json.dumps(envelope(document), indent=2))
    else:
        ui.data(render_table(document) + "\n\n" + "\n".join(faktory_view.text_lines(server)))
    return ExitCode.FINDINGS if the_plan.changes else ExitCode.OK
