"""Reaching a running Faktory server from this machine, and showing why one did not start.

Shared by `faktctl up` (faktctl.platforms.engine.apply) and by backup/restore
(faktctl.backups.deployment):

- `protocol_address`: where this machine dials the server's port 7419, from the container's
  published bindings (and, on a local engine, its address on a network faktctl created);
- `read_info`: one authenticated INFO over that address;
- `log_tail`: the end of a container's log with every known secret hidden.

Only the two last ones do I/O, through the engine adapter and the probe. This module never
imports the docker SDK: the engine's type is needed by the type checker alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faktctl.adapters import probe
from faktctl.adapters.docker.api import engine_host
from faktctl.desired import DASHBOARD_PORT, PROTOCOL_PORT, Publish, TlsSetup
from faktctl.errors import FaktctlError
from faktctl.faktory import versions
from faktctl.secretvalue import SecretStr, redact

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import ReadEngine
    from faktctl.adapters.docker.engine import Engine

LOCALHOST = "127.0.0.1"
EVERY_INTERFACE = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: probe.Tls | None = None  # the server speaks TLS: how to verify it

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def tls_client(setup: TlsSetup | None) -> probe.Tls | None:
    """How faktctl's own probes speak to a server deployed with `setup` (None: plain)."""
    if setup is None:
        return None
    return probe.Tls(ca_file=setup.ca, server_name=setup.server_name)


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


def _dial_host(host_ip: str, is_local: bool, remote_host: str) -> str | None:
    """Where to dial a port published on `host_ip` of the engine's host."""
    if host_ip in EVERY_INTERFACE:
        return LOCALHOST if is_local else (remote_host or None)
    if _is_loopback(host_ip):
        return host_ip if is_local else None  # a remote host's loopback is out of reach
    return host_ip  # one address of the engine's host


def _preference(port: Publish) -> int:
    if port.host_ip in ("", "0.0.0.0"):
        return 0
    if _is_loopback(port.host_ip):
        return 1
    return 3 if port.host_ip == "::" else 2


def dial_address(
    ports: Iterable[Publish],
    container_port: int,
    *,
    is_local: bool,
    engine_address: str = "",
    network_ips: Iterable[str] = (),
    host_network: bool = False,
    loopback_only: bool = False,
    tls: probe.Tls | None = None,
) -> Endpoint | None:
    """Where this machine reaches a container's `container_port`, or None when it cannot.

    The one rule `up`, backup, restore and `audit --live` share:
    - host networking: the engine's host (127.0.0.1 for a local engine) at that port;
    - a published binding, IPv4 every-interface first, then loopback, then a given address,
      then `::`: every interface is dialled on 127.0.0.1 of a local engine or on the host a
      remote engine's address names; a loopback address only on a local engine; a given
      address as it is;
    - otherwise, on a local engine only, the container's own address on one of its networks
      (`network_ips`), unless the server listens on its loopback alone (`loopback_only`).
    """
    remote_host = "" if is_local else engine_host(engine_address)
    if host_network:
        same_host = LOCALHOST if is_local else remote_host
        return Endpoint(same_host, container_port, tls) if same_host else None
    bindings = sorted((p for p in ports if p.container_port == container_port), key=_preference)
    for binding in bindings:
        host = _dial_host(binding.host_ip, is_local, remote_host)
        if host is not None:
            return Endpoint(host, binding.host_port, tls)
    if is_local and not loopback_only:
        for ip in network_ips:
            if ip:
                return Endpoint(ip, container_port, tls)
    return None


def protocol_address(
    ports: Iterable[Publish],
    engine: ReadEngine,
    network_ip: str | None = None,
    tls: probe.Tls | None = None,
) -> Endpoint | None:
    """Where this machine reaches the server's port 7419 (see dial_address), or None."""
    return dial_address(
        ports,
        PROTOCOL_PORT,
        is_local=engine.is_local,
        engine_address=engine.address,
        network_ips=(network_ip,) if network_ip else (),
        tls=tls,
    )


def dashboard_address(
    ports: Iterable[Publish], engine: ReadEngine, protocol: Endpoint, network_ip: str | None = None
) -> Endpoint | None:  # speaks TLS when `protocol` does (Faktory serves both or neither)
    """Where this machine reaches the server's port 7420 the way it reaches 7419 (`protocol`):
    its published binding, or the container's network address when 7419 is dialled there too.
    None when the dashboard is neither published nor reachable that way."""
    return dial_address(
        ports,
        DASHBOARD_PORT,
        is_local=engine.is_local,
        engine_address=engine.address,
        network_ips=(network_ip,) if network_ip and protocol.host == network_ip else (),
        tls=protocol.tls,
    )


def read_info(endpoint: Endpoint, password: SecretStr, timeout: float) -> dict[str, Any]:
    """The server's INFO document; probe.ProbeError when it is unreachable or refuses us."""
    with probe.FaktoryConnection(
        endpoint.host, endpoint.port, password, timeout=timeout, tls=endpoint.tls
    ) as conn:
        return conn.info()


def read_info_and_latency(
    endpoint: Endpoint, password: SecretStr, timeout: float
) -> tuple[dict[str, Any], dict[str, float] | None]:
    """INFO and `QUEUE LATENCY` of every queue INFO names, over one connection (see
    `info_and_latency`); probe.ProbeError when the server cannot be read."""
    with probe.FaktoryConnection(
        endpoint.host, endpoint.port, password, timeout=timeout, tls=endpoint.tls
    ) as conn:
        return info_and_latency(conn)


def info_and_latency(
    conn: probe.FaktoryConnection, known: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str, float] | None]:
    """INFO and the latency of every queue it names, on an open connection. The latencies are
    None on a server too old to answer (faktctl.faktory.versions.has_queue_latency). `known`:
    queues of an earlier answer of this server, asked in the same write as INFO, so a
    connection kept open reads both in one round trip while no queue appears."""
    asked = sorted(known)
    info, latencies = conn.info_and_queue_latency(asked) if asked else (conn.info(), {})
    server = info.get("server")
    text = server.get("faktory_version") if isinstance(server, dict) else None
    version = versions.parse_version(str(text)) if text is not None else None
    if version is None or not versions.has_queue_latency(version):
        return info, None
    faktory = info.get("faktory")
    queues = faktory.get("queues") if isinstance(faktory, dict) else None
    names = sorted(str(q) for q in queues) if isinstance(queues, dict) else []
    names = [n for n in names if n.split() == [n]]  # no whitespace: one word of the line
    missing = [n for n in names if n not in latencies]
    if missing:
        latencies.update(conn.queue_latency(missing))
    return info, {n: latencies[n] for n in names if n in latencies}


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
