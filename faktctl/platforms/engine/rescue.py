"""Reservations a crash left behind: find them (`status`, `audit --live`) and hand them back to
their queue (`faktctl rescue`).

A worker killed by SIGKILL or the OOM killer cannot acknowledge or fail the jobs it fetched;
they stay in Faktory's `working` set until their reservation expires (30 minutes unless the job
says `reserve_for`), and even then the server's reaper files them as failures (see
faktctl.faktory.reservations). The server itself says which processes still live (the
dashboard's /busy page), so a reservation held by a wid it no longer lists is an orphan:
`rescue` puts its job back on its queue, atomically per batch (faktctl.live.processes), never
through FAIL, and never touches a reservation of a process the server lists.

The server container is found as backup finds it (faktctl.backups.deployment: faktctl's or
compose's, a swarm task on this node), its version from INFO (the queue's Redis key), the
dashboard where `up` reaches the server (its published binding, else on a local engine the
container's address on the project's network).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faktctl.faktory import reservations as res
from faktctl.faktory import versions
from faktctl.live import processes, reach
from faktctl.live.view import duration

if TYPE_CHECKING:
    from faktctl.adapters import probe
    from faktctl.adapters.docker.api import ReadEngine
    from faktctl.adapters.docker.engine import Engine
    from faktctl.desired import Desired, Publish
    from faktctl.secretvalue import SecretStr

# `audit --live` warns about orphans older than this (a worker may be restarting meanwhile)
AUDIT_AGE_S = 300.0


@dataclass(frozen=True)
class Orphans:
    """What the server holds reserved and for whom, at the server's clock `now`."""

    now: float
    processes: tuple[res.Process, ...]
    reservations: tuple[res.Reservation, ...]

    @property
    def orphans(self) -> tuple[res.Reservation, ...]:
        return res.orphaned(self.reservations, self.processes)

    def by_queue(self) -> dict[str, dict[str, Any]]:
        """Per queue: how many orphans and the age of the oldest (seconds)."""
        found: dict[str, dict[str, Any]] = {}
        for r in self.orphans:
            entry = found.setdefault(r.queue, {"count": 0, "oldest_s": 0})
            entry["count"] += 1
            entry["oldest_s"] = max(entry["oldest_s"], round(r.age_s(self.now) or 0))
        return dict(sorted(found.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "processes": len(self.processes),
            "reserved": len(self.reservations),
            "orphaned": len(self.orphans),
            "orphaned_by_queue": self.by_queue(),
            "orphans": [describe(r, self.now) for r in self.orphans],
        }


def describe(r: res.Reservation, now: float) -> dict[str, Any]:
    age = r.age_s(now)
    return {
        "jid": r.jid,
        "queue": r.queue,
        "jobtype": r.jobtype,
        "wid": r.wid,
        "age_s": None if age is None else round(age, 1),
        "expires_in_s": round(r.expires_at - now, 1),
    }


def _network_ip(container: Mapping[str, Any], network: str | None) -> str | None:
    networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
    if network and network in networks:
        return str(networks[network].get("IPAddress") or "") or None
    return None


def read_at(
    engine: ReadEngine,
    container_id: str,
    ports: Sequence[Publish],
    network_ip: str | None,
    web_password: SecretStr,
    tls: probe.Tls | None = None,
) -> Orphans:
    """The reservations and processes of the running server container (processes.look)."""
    dashboard = processes.dashboard_of(engine, ports, network_ip, tls)
    seen = processes.look(engine, container_id, dashboard, web_password)
    return Orphans(seen.now, seen.processes, seen.reservations)


def read(
    engine: Engine, container: Mapping[str, Any], desired: Desired, password: SecretStr
) -> Orphans:
    """`read_at` for a server container as the engine's inspect gives it. A swarm task with
    no dashboard published (the swarm default) is read through a relay into its container
    (faktctl.adapters.docker.tunnel), as its port 7419 is."""
    from faktctl.backups.deployment import swarm_service_of
    from faktctl.desired import DASHBOARD_PORT
    from faktctl.platforms.engine.observe import published_ports

    ports = published_ports(container)
    web_password = desired.dashboard_password or password
    tls = reach.tls_client(desired.tls)
    if swarm_service_of(container) and not any(p.container_port == DASHBOARD_PORT for p in ports):
        from faktctl.adapters.docker.tunnel import relay

        with relay(
            engine, str(container["Id"]), DASHBOARD_PORT, client_speaks_first=True
        ) as opened:
            dashboard = reach.Endpoint("127.0.0.1", opened.port, tls)
            seen = processes.look(engine, str(container["Id"]), dashboard, web_password)
        return Orphans(seen.now, seen.processes, seen.reservations)
    return read_at(
        engine,
        str(container["Id"]),
        ports,
        _network_ip(container, desired.network),
        web_password,
        tls,
    )


@dataclass(frozen=True)
class Rescued:
    orphans: Orphans
    chosen: tuple[res.Reservation, ...]  # orphans old enough
    moved: tuple[res.Reservation, ...]  # () on a dry run
    dry_run: bool
    older_than_s: float

    def to_json(self) -> dict[str, Any]:
        now = self.orphans.now
        return {
            "dry_run": self.dry_run,
            "older_than_s": self.older_than_s,
            "orphaned": len(self.orphans.orphans),
            "chosen": [describe(r, now) for r in self.chosen],
            "moved": [describe(r, now) for r in self.moved],
        }

    def text_lines(self) -> list[str]:
        now = self.orphans.now
        total = len(self.orphans.orphans)
        if not self.chosen:
            younger = f" ({total} younger than --older-than)" if total else ""
            return [f"no orphaned reservation to rescue{younger}"]
        rows = self.chosen if self.dry_run else self.moved
        verb = "would hand back" if self.dry_run else "handed back"
        lines = [f"{verb} {len(rows)} job(s) to their queue:"]
        for r in rows:
            age = duration(r.age_s(now))
            lines.append(f"  {r.jid}  {r.queue}  {r.jobtype}  (reserved {age} ago by {r.wid})")
        skipped = len(self.chosen) - len(self.moved)
        if not self.dry_run and skipped:
            lines.append(f"{skipped} finished or were reaped meanwhile (left alone)")
        return lines


def rescue(
    engine: Engine,
    desired: Desired,
    password: SecretStr,
    *,
    dry_run: bool,
    older_than_s: float,
) -> Rescued:
    """Hand the orphaned reservations (reserved at least `older_than_s` ago) back to their
    queue; on a dry run only say which."""
    from faktctl.backups import deployment

    server = deployment.running_server(engine, desired.project)
    found = read(engine, server, desired, password)
    chosen = res.older_than(found.orphans, found.now, older_than_s)
    if dry_run or not chosen:
        return Rescued(found, chosen, (), dry_run, older_than_s)
    with deployment.reaching(engine, server) as endpoint:
        version = deployment.read_counts(endpoint, password).version
    prefix = queue_prefix(version)
    moved = processes.hand_back(engine, str(server["Id"]), chosen, prefix)
    return Rescued(found, chosen, tuple(moved), dry_run, older_than_s)


def queue_prefix(version: str) -> str:
    parsed = versions.parse_version(version)
    if parsed is None:
        return versions.current_release().data.queue_prefix
    return versions.format_of(parsed).queue_prefix
