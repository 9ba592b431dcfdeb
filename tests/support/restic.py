"""restic, a restic REST server and a webhook receiver for the backup tests (issue 15).

restic comes from Debian's package and rest-server from the Go module proxy (tests/support/
provision.py). The REST server runs on a free 127.0.0.1 port with its own user and password
(an htpasswd file in its SHA form); the webhook receiver is a local HTTP server that records
every POST.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.local import free_port
from tests.support.provision import deb_tool, go_binary

REST_SERVER_VERSION = "v0.12.1"
READY_TIMEOUT = 30.0
USER = "faktctl-test"


def restic_path() -> Path:
    return deb_tool("restic", "restic").path


def rest_server_path() -> Path:
    return go_binary(
        "rest-server",
        "github.com/restic/rest-server",
        REST_SERVER_VERSION,
        "github.com/restic/rest-server/cmd/rest-server",
    )


def restic_env(repository: str, password: str) -> dict[str, str]:
    return {**os.environ, "RESTIC_REPOSITORY": repository, "RESTIC_PASSWORD": password}


def run_restic(repository: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(restic_path()), *args],
        env=restic_env(repository, password),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass
class RestServer:
    """A rest-server process on 127.0.0.1; `stop()` and `start()` it as a test needs."""

    data: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    process: subprocess.Popen[bytes] | None = None

    def repository(self, name: str) -> str:
        return f"rest:http://{USER}:{self.password}@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        digest = base64.b64encode(hashlib.sha1(self.password.encode()).digest()).decode()
        htpasswd = self.data / ".htpasswd"
        htpasswd.write_text(f"{USER}:{{SHA}}{digest}\n")
        self.process = subprocess.Popen(
            [
                str(rest_server_path()),
                "--path",
                str(self.data),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--htpasswd-file",
                str(htpasswd),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rest-server exited with {self.process.returncode}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=2.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"rest-server did not answer within {READY_TIMEOUT:g}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def packs(self, name: str) -> list[Path]:
        return sorted(p for p in (self.data / name / "data").rglob("*") if p.is_file())


@dataclass
class Webhook:
    """A local HTTP server recording the JSON bodies POSTed to it."""

    port: int
    received: list[dict[str, Any]]
    raw: list[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/backup"


def webhook() -> Iterator[Webhook]:
    received: list[dict[str, Any]] = []
    raw: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            raw.append(body)
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Webhook(int(server.server_address[1]), received, raw)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
