"""A local port that reaches a port inside the server's container through the engine API.

Like `kubectl port-forward`: every connection accepted on 127.0.0.1 starts one exec in the
container (busybox `sh` and `nc` ship in the Faktory image) with its stdin and stdout attached,
and relays bytes both ways until either side closes. Nothing is published and no network path
to the container is needed: only the engine API, which the operator already reaches. Used by
`faktctl dashboard`, by `up`'s HELLO on a swarm and by the live audit of a swarm task.

The exec does not connect until the relay says go (a newline on its stdin, read by the shell
one byte at a time), for two reasons:
- the dashboard's web server closes a connection that sends nothing for one second (Faktory's
  ReadTimeout); under load the engine can take longer than that to pass the first bytes to the
  exec, so for a port where the client speaks first the relay waits for those bytes and sends
  them with the go;
- the SDK reads the upgrade's headers through a buffered reader; output that arrived with them
  (Faktory's `+HI`) would be lost, so nothing may come back before the SDK hands the socket over.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any, cast

from faktctl.adapters.docker.engine import Engine

_HEADER = 8
_CHUNK = 65536
_STDOUT = 1
_GO = b"\n"
# The SDK keeps one connection pool per URL and closes the least recently used beyond 25; every
# exec start has its own URL, so unbounded parallel openings could close the pool of the shared
# exec-create URL while another thread uses it. A few openings at once keep it recent.
_OPENINGS_AT_ONCE = 8


class Relay:
    """Listens on `host:port` (port 0: any free port) and forwards to the container's port."""

    def __init__(
        self,
        engine: Engine,
        container_id: str,
        target_port: int,
        host: str,
        port: int,
        *,
        client_speaks_first: bool = False,
    ) -> None:
        self._engine = engine
        self._container_id = container_id
        self._target_port = target_port
        self._client_speaks_first = client_speaks_first
        self._openings = threading.BoundedSemaphore(_OPENINGS_AT_ONCE)
        self._listener = socket.create_server((host, port), reuse_port=False)
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def serve_in_background(self) -> None:
        thread = threading.Thread(target=self.serve, name="faktctl-relay", daemon=True)
        thread.start()

    def serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
            thread.start()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _relay(self, client: socket.socket) -> None:
        first = b""
        if self._client_speaks_first:
            with contextlib.suppress(OSError):
                first = client.recv(_CHUNK)
            if not first:  # connected and left without a word (a browser's preconnect)
                client.close()
                return
        try:
            holder, raw = self._open_exec()
        except Exception as exc:  # the engine said no: tell the operator, drop this connection
            self.errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            client.close()
            return
        upstream = threading.Thread(target=_pump_in, args=(client, raw, _GO + first), daemon=True)
        upstream.start()
        try:
            for chunk in _stdout_frames(raw):
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
            upstream.join(timeout=5)
            with contextlib.suppress(OSError):
                raw.close()
            del holder

    def _open_exec(self) -> tuple[Any, socket.socket]:
        api = self._engine.api
        command = [
            "sh",
            "-c",
            'read -r go && exec nc 127.0.0.1 "$1"',
            "relay",
            str(self._target_port),
        ]
        with self._openings, self._engine.doing(f"opening a relay into {self._container_id[:12]}"):
            exec_id = api.exec_create(
                self._container_id, command, stdin=True, stdout=True, stderr=True, tty=False
            )["Id"]
            holder = api.exec_start(exec_id, socket=True, tty=False)
        raw = cast(socket.socket, getattr(holder, "_sock", holder))
        return holder, raw


def _pump_in(client: socket.socket, raw: socket.socket, first: bytes) -> None:
    """Client -> container, starting with the go and what the client already sent; the
    container's stdin is half-closed when the client is done."""
    try:
        raw.sendall(first)
        while True:
            data = client.recv(_CHUNK)
            if not data:
                break
            raw.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        raw.shutdown(socket.SHUT_WR)


def _stdout_frames(raw: socket.socket) -> Iterator[bytes]:
    """The container's stdout from the engine's multiplexed stream (8-byte frame headers)."""
    while True:
        header = _read_exact(raw, _HEADER)
        if header is None:
            return
        stream, size = struct.unpack(">BxxxL", header)
        payload = _read_exact(raw, size) if size else b""
        if payload is None:
            return
        if stream == _STDOUT and payload:
            yield payload


def _read_exact(raw: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = raw.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


@contextlib.contextmanager
def relay(
    engine: Engine, container_id: str, target_port: int, *, client_speaks_first: bool = False
) -> Iterator[Relay]:
    """A relay on a free loopback port for the duration of the block."""
    opened = Relay(
        engine, container_id, target_port, "127.0.0.1", 0, client_speaks_first=client_speaks_first
    )
    opened.serve_in_background()
    try:
        yield opened
    finally:
        opened.close()
