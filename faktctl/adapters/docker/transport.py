"""The engine transport on the standard library: HTTP/1.0 over a plain unix or tcp socket.

`faktctl status` asks the engine for one container list, a network, a volume, an image, the
server's inspect and one exec: a few milliseconds of engine work. Importing the docker SDK
(requests, urllib3, charset_normalizer, ssl, tarfile) costs ten times that before the first
request, so on a plain socket (faktctl.adapters.docker.connect decides) the requests go here.
One request per connection: a unix socket connects in microseconds, requests from several
threads never share one, and http.client alone would import ssl and email for nothing.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

from faktctl.adapters.docker.api import (
    API_TIMEOUT_S,
    EngineError,
    Reply,
    no_answer,
    unavailable,
)


class SocketTransport:
    """One HTTP/1.0 exchange per request (the engine answers and then closes)."""

    def __init__(self, address: str, timeout: float = API_TIMEOUT_S) -> None:
        self._address = address
        self.timeout = timeout
        parts = urlsplit(address)
        self._unix_path = parts.path if parts.scheme == "unix" else None
        self._host, self._port = parts.hostname or "", parts.port or 2375

    @property
    def address(self) -> str:
        return self._address

    def close(self) -> None:
        """Nothing stays open between requests."""

    def _socket(self, timeout: float) -> socket.socket:
        if self._unix_path is None:
            return socket.create_connection((self._host, self._port), timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self._unix_path)
        except OSError:
            sock.close()
            raise
        return sock

    def request(
        self, method: str, path: str, body: Any = None, *, doing: str, wait_s: float = 0
    ) -> Reply:
        head = f"{method} {path} HTTP/1.0\r\nHost: docker\r\n"
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        try:
            sock = self._socket(self.timeout + wait_s)
        except OSError as exc:
            raise unavailable(self._address, exc, doing) from exc
        try:
            sock.sendall(head.encode() + b"\r\n" + payload)
            received = b"".join(iter(lambda: sock.recv(1 << 16), b""))
        except TimeoutError as exc:
            raise no_answer(doing) from exc
        except OSError as exc:
            raise unavailable(self._address, exc, doing) from exc
        finally:
            sock.close()
        return parse_response(received, doing, head_only=method == "HEAD")


def parse_response(received: bytes, doing: str, head_only: bool = False) -> Reply:
    """A whole HTTP/1.x response (chunked or not) as the engine's Reply."""
    header, sep, body = received.partition(b"\r\n\r\n")
    status_line, *fields = header.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[1].isdigit():
        raise EngineError(f"{doing}: the Docker engine's answer was cut short")
    headers = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    if head_only:
        body = b""
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunked(body)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return Reply(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body)


def _unchunked(body: bytes) -> bytes:
    out = bytearray()
    at = 0
    while True:
        line_end = body.find(b"\r\n", at)
        if line_end < 0:
            return bytes(out)
        size = int(body[at:line_end].split(b";", 1)[0] or b"0", 16)
        if size == 0:
            return bytes(out)
        out += body[line_end + 2 : line_end + 2 + size]
        at = line_end + 2 + size + 2
