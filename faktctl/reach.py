"""Reaching a running Faktory server from this machine, and showing why one did not start.

Shared by `faktctl up` (faktctl.launch) and by backup/restore (faktctl.backups.deployment):

- `protocol_address`: where this machine dials the server's port 7419, from the container's
  published bindings (and, on a local engine, its address on a network faktctl created);
- `read_info`: one authenticated INFO over that address;
- `log_tail`: the end of a container's log with every known secret hidden.

Only the two last ones do I/O, through the engine adapter and the probe. This module never
imports the docker SDK: the engine's type is needed by the type checker alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from faktctl.adapters import probe
from faktctl.desired import DASHBOARD_PORT, PROTOCOL_PORT, Publish
from faktctl.errors import FaktctlError
from faktctl.render import redact

if TYPE_CHECKING:
    from faktctl.adapters.docker_engine import Engine

LOCALHOST = "127.0.0.1"
EVERY_INTERFACE = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def engine_host(address: str) -> str:
    """The host named by an engine address (`tcp://build-box:2376` -> `build-box`); it is empty
    when the address names none."""
    return re.sub(r"^\w+://", "", address).rsplit(":", 1)[0].strip("[]")


def protocol_address(
    ports: Iterable[Publish], engine: Engine, network_ip: str | None = None
) -> Endpoint | None:
    """Where this machine reaches the server's port 7419, or None when it cannot.

    The first binding that publishes 7419 decides: one on every interface is dialled on
    127.0.0.1 of a local engine, or on the host of a remote engine; one on a given address, on
    that address. Without such a binding, a local engine's container is dialled directly on
    `network_ip` (its address on a network faktctl created), when the caller knows it.
    """
    for port in ports:
        if port.container_port != PROTOCOL_PORT:
            continue
        host = port.host_ip
        if host in EVERY_INTERFACE:
            host = LOCALHOST if engine.is_local else engine_host(engine.address) or LOCALHOST
        return Endpoint(host, port.host_port)
    if network_ip and engine.is_local:
        return Endpoint(network_ip, PROTOCOL_PORT)
    return None


def dashboard_address(
    ports: Iterable[Publish], engine: Engine, protocol: Endpoint, network_ip: str | None = None
) -> Endpoint | None:
    """Where this machine reaches the server's port 7420 the way it reaches 7419 (`protocol`):
    its published binding, or the container's network address when 7419 is dialled there too.
    None when the dashboard is neither published nor reachable that way."""
    for port in ports:
        if port.container_port != DASHBOARD_PORT:
            continue
        host = port.host_ip
        if host in EVERY_INTERFACE:
            host = LOCALHOST if engine.is_local else engine_host(engine.address) or LOCALHOST
        return Endpoint(host, port.host_port)
    if network_ip and protocol.host == network_ip:
        return Endpoint(network_ip, DASHBOARD_PORT)
    return None


def read_info(endpoint: Endpoint, password: SecretStr, timeout: float) -> dict[str, Any]:
    """The server's INFO document; probe.ProbeError when it is unreachable or refuses us."""
    secret = password.get_secret_value()
    with probe.FaktoryConnection(endpoint.host, endpoint.port, secret, timeout=timeout) as conn:
        return conn.info()


def log_tail(
    engine: Engine, container_id: str, lines: int, secrets: tuple[SecretStr, ...] = ()
) -> tuple[str, ...]:
    """The last `lines` lines of a container's log, blank ones dropped, secrets redacted.

    Empty when the engine cannot give the log: the tail only ever explains another failure.
    """
    try:
        raw = engine.logs(container_id, tail=lines)
    except FaktctlError:
        return ()
    text = redact(raw.decode("utf-8", errors="replace"), secrets)
    return tuple(line.rstrip() for line in text.splitlines() if line.strip())
