"""The processes a running server knows and the reservations they hold; orphaned reservations
handed back to their queue (faktctl.faktory.reservations has the formats and the pure logic).

- `read_working`: the `working` set and the server's clock in one atomic read, with
  `redis-cli` inside the server container on Faktory's Redis socket (as faktctl.live.queue_keys);
- `read_processes`: the dashboard's `/busy` page over HTTP with basic auth (the only listing of
  live processes; there is no protocol command for it);
- `look`: both, in the order that keeps a live process's reservation from ever looking
  orphaned: `working` first, then `/busy` (a wid in `working` said HELLO before that read, so
  if its process still lives it is on the page read after);
- `hand_back`: RESCUE_SCRIPT (one EVAL per batch, atomic): each reservation still in `working`
  is removed and its job pushed back on its queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from faktctl.adapters import probe
from faktctl.errors import OperationFailed
from faktctl.faktory import reservations as res
from faktctl.faktory.server import DB_DIR
from faktctl.live import reach

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import ReadEngine
    from faktctl.desired import Publish
    from faktctl.live.reach import Endpoint

SOCKET = f"{DB_DIR}/redis.sock"
HTTP_TIMEOUT_S = 5.0


class Unavailable(OperationFailed):
    """The reservations or the process list could not be read."""


class ExecEngine(Protocol):
    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]: ...


@dataclass(frozen=True)
class Look:
    now: float  # the server's clock (Redis TIME) when `working` was read
    reservations: tuple[res.Reservation, ...]
    processes: tuple[res.Process, ...]

    @property
    def orphans(self) -> tuple[res.Reservation, ...]:
        return res.orphaned(self.reservations, self.processes)


def _redis(engine: ExecEngine, container_id: str, args: list[str]) -> str:
    code, output = engine.exec(container_id, ["redis-cli", "-s", SOCKET, "--raw", *args])
    text = output.decode("utf-8", "replace")
    first = text.split("\n", 1)[0]
    if code != 0 or first.startswith(("ERR", "(error)")) or "Could not connect" in first:
        raise Unavailable(
            f"redis-cli in the server container failed (exit {code}): {text.strip()[:200]}",
            f"the server must run in production or staging mode with its data in {DB_DIR}",
        )
    return text


def read_working(engine: ExecEngine, container_id: str) -> res.Working:
    text = _redis(engine, container_id, ["EVAL", res.READ_SCRIPT, "0"])
    try:
        return res.parse_working(text.rstrip("\n").split("\n"))
    except res.Unreadable as err:
        raise Unavailable(str(err)) from None


def read_processes(endpoint: Endpoint, password: probe.Password | None) -> tuple[res.Process, ...]:
    try:
        status, body = probe.http_get_text(
            endpoint.host, endpoint.port, "/busy", HTTP_TIMEOUT_S, password, tls=endpoint.tls
        )
    except probe.ProbeError as err:
        raise Unavailable(f"the dashboard cannot be read: {err}") from None
    if status == 401:
        raise Unavailable(f"the dashboard at {endpoint} refused the server password")
    if status != 200:
        raise Unavailable(f"the dashboard at {endpoint} answered GET /busy with HTTP {status}")
    try:
        return res.parse_busy(body)
    except res.Unreadable as err:
        raise Unavailable(f"{endpoint}: {err}") from None


def look(
    engine: ExecEngine, container_id: str, dashboard: Endpoint, password: probe.Password | None
) -> Look:
    working = read_working(engine, container_id)  # first: see the module's docstring
    processes = read_processes(dashboard, password)
    return Look(working.now, working.reservations, processes)


def hand_back(
    engine: ExecEngine,
    container_id: str,
    chosen: Sequence[res.Reservation],
    queue_prefix: str,
) -> list[res.Reservation]:
    """Put each chosen reservation's job back on its queue; returns those moved (a reservation
    acknowledged or reaped meanwhile is left alone)."""
    moved: list[res.Reservation] = []
    start = 0
    for argv in res.rescue_batches(chosen, queue_prefix):
        count = (len(argv) - 1) // 3
        text = _redis(engine, container_id, ["EVAL", res.RESCUE_SCRIPT, "0", *argv])
        batch = chosen[start : start + count]
        for line in text.split():
            if line.isdigit() and int(line) < count:
                moved.append(batch[int(line)])
        start += count
    return moved


def dashboard_of(
    engine: ReadEngine,
    ports: Sequence[Publish],
    network_ip: str | None,
    tls: probe.Tls | None = None,
) -> Endpoint:
    """Where this machine reaches the dashboard (as for 7419: published, else the network);
    over TLS when the server serves it (`tls`, spec: server.tls)."""
    protocol = reach.protocol_address(ports, engine, network_ip, tls=tls)
    address = (
        None if protocol is None else reach.dashboard_address(ports, engine, protocol, network_ip)
    )
    if address is None:
        raise Unavailable(
            "the dashboard (port 7420) cannot be reached from here: the process list is only "
            "on its /busy page",
            "publish server.ports.dashboard (127.0.0.1 is enough)",
        )
    return address
