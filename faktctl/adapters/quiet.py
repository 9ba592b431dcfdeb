"""Quiet or terminate worker processes through the server's dashboard (`POST /busy`).

The dashboard is the only way to ask a worker process to stop fetching: there is no protocol
command for it. The server keeps the state and stops handing jobs to the process at once (a
FETCH from a quiet process gets nothing); the worker library learns it on its next heartbeat
(BEAT, every 15 s for most libraries) and finishes what runs. From Faktory 1.9.4 the form needs
no CSRF token (the server only refuses cross-origin browser requests), so a plain form POST with
basic auth is enough (faktctl.faktory.versions.BUSY_SIGNAL_WITHOUT_TOKEN).
"""

from __future__ import annotations

from typing import Literal

from faktctl.adapters.probe import ProbeError, Tls, _endpoint, _plain, _url
from faktctl.secretvalue import SecretStr

ProcessSignal = Literal["quiet", "terminate"]


def signal_process(
    host: str,
    port: int,
    password: SecretStr | None,
    wid: str,
    signal: ProcessSignal,
    timeout: float = 5.0,
    tls: Tls | None = None,
) -> None:
    """Ask the server to send `signal` to the process `wid` (or every process: `all`).

    The server answers a redirect back to /busy whether or not it knew the wid; anything else
    (a refused password, an error page) raises ProbeError."""
    import httpx

    auth = httpx.BasicAuth("faktctl", _plain(password)) if password is not None else None
    where = _endpoint(host, port)
    # over TLS: verified against the CA for the server name (SNI), whatever address is dialled
    verify = tls.context() if tls is not None else True
    extensions = {"sni_hostname": tls.server_name} if tls is not None else {}
    try:
        with httpx.Client(verify=verify, timeout=timeout, auth=auth) as client:
            response = client.post(
                _url(host, port, "/busy", tls),
                data={"wid": wid, "signal": signal},
                follow_redirects=False,
                extensions=extensions,
            )
    except httpx.HTTPError as exc:
        raise ProbeError(f"{where}: POST /busy failed: {exc}") from exc
    if response.status_code == 401:
        raise ProbeError(f"{where}: the dashboard refused the password (POST /busy)")
    if response.status_code not in (200, 302, 303):
        raise ProbeError(f"{where}: POST /busy ({signal}) answered HTTP {response.status_code}")
