"""faktctl dashboard: the Faktory dashboard on 127.0.0.1 through the engine API.

Works for both platforms: the server's container (a swarm task's container on a swarm) is
found by its labels on the engine the SDK reaches, and every browser connection becomes one
`nc 127.0.0.1 7420` exec inside it (faktctl.adapters.docker.tunnel). Nothing needs to be published.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.desired import DASHBOARD_PORT
from faktctl.errors import ExitCode, FaktctlError, UsageError

if TYPE_CHECKING:
    from faktctl.adapters.docker.tunnel import Relay


def is_loopback(address: str) -> bool:
    """Whether listening on `address` keeps the tunnel on this machine."""
    import ipaddress

    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, not known to be loopback


def check_address(address: str, exposure: str, *, allow_remote: bool) -> None:
    """A non-loopback address opens the dashboard to every host that reaches this one: only
    when the spec's exposure says the dashboard may be reached from elsewhere, or the flag."""
    if is_loopback(address) or allow_remote or exposure in ("proxy", "public"):
        return
    raise UsageError(
        f"--address {address} would open the dashboard to other machines, and the spec's "
        f"server.dashboard_exposure is `{exposure}` (loopback only)",
        "use 127.0.0.1 (the default), or pass --allow-remote if other machines may reach it",
    )


def run(file: Path | None, *, port: int, address: str, allow_remote: bool = False) -> int:
    from faktctl.adapters.docker.connect import connect
    from faktctl.adapters.docker.tunnel import Relay
    from faktctl.backups.deployment import container_tls, running_server
    from faktctl.project import load

    loaded = load(file)
    check_address(address, loaded.spec.server.dashboard_exposure, allow_remote=allow_remote)
    engine = connect()
    try:
        server = running_server(engine, loaded.spec.project)
        try:
            relay = Relay(
                engine,
                str(server["Id"]),
                DASHBOARD_PORT,
                address,
                port,
                client_speaks_first=True,
            )
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {address}:{port}: {exc.strerror or exc}",
                "pick another port with --port",
            ) from exc
        tls = container_tls(server, engine)
        scheme = "https" if tls else "http"
        ui.info(
            f"dashboard of `{loaded.spec.project}`: {scheme}://{address}:{relay.port}/ "
            "(sign in with the dashboard password; Ctrl-C stops the tunnel)"
        )
        if tls is not None:
            trust = f"trust {tls.ca_file}" if tls.ca_file else "trust your CA"
            ui.info(
                "the tunnel passes TLS through to the server: the browser sees the server's "
                f"certificate ({trust} in the browser, or accept it once)"
            )
        if not is_loopback(address):
            ui.info(f"warning: listening on {address}: other machines can reach this tunnel")
        _serve_until_interrupted(relay)
    finally:
        engine.close()
    return 0


def _serve_until_interrupted(relay: Relay) -> None:
    """Serve until Ctrl-C (or SIGTERM), which is how a tunnel is meant to end: exit 0."""
    relay.serve_in_background()
    reported = 0
    try:
        while True:
            time.sleep(0.5)
            for error in relay.errors[reported:]:
                ui.info(f"relay: {error}")
            reported = len(relay.errors)
    except FaktctlError as err:
        if err.exit_code != ExitCode.INTERRUPTED:
            raise
        ui.info("dashboard tunnel closed")
    finally:
        relay.close()
