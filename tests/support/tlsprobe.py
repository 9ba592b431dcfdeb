"""What a TLS client and a plain one see on a server's port (the TLS end-to-end tests)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path


def handshake(host: str, port: int, ca: Path) -> tuple[str, bytes]:
    """The TLS version and the served certificate (DER), verified against `ca` as `faktory`."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="faktory") as tls,
    ):
        return tls.version() or "", tls.getpeercert(binary_form=True) or b""


def plain_greeting(host: str, port: int) -> bytes:
    """What a plain TCP client reads first: a plain server sends `+HI` at once."""
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.settimeout(3)
        try:
            return raw.recv(64)
        except (TimeoutError, ConnectionError):
            return b""
