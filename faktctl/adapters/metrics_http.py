"""The HTTP side of `faktctl metrics --listen`: `GET /metrics` on the standard library's
threading HTTP server. What a scrape answers is the caller's (`answer`: the Accept header in,
content type and body out); this module only speaks HTTP."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[str | None], tuple[str, str]]
INDEX = b"faktctl metrics: see /metrics\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int, answer: Answer) -> ThreadingHTTPServer:
    """A bound server (not serving yet); OSError when the address cannot be bound."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "faktctl-metrics"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                kind, text = answer(self.headers.get("Accept"))
                self._send(200, kind, text.encode())
            elif path == "/":
                self._send(200, "text/plain; charset=utf-8", INDEX)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _send(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes are not logged

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("_Bound", (_Server,), {"address_family": family})
    server: ThreadingHTTPServer = server_class((host, port), Handler)
    return server
