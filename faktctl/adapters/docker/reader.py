"""A read-only engine client on the standard library, for the commands that only look.

`faktctl status` asks the engine for one container list, a network, a volume, an image, the
server's inspect and one exec: a few milliseconds of engine work. Importing the docker SDK
(requests, urllib3, charset_normalizer, ssl, tarfile) costs ten times that before the first
request. So when the engine is reached over a plain socket (DOCKER_HOST `unix://` or `tcp://`
without TLS, or no DOCKER_HOST and no docker context in use) these reads go over http.client;
for anything else (ssh://, TLS, a docker context, npipe) `connect_reader` hands back the SDK
adapter, which reads the same way. Both answer with the engine's own JSON, and fail with the
same one-line errors (faktctl.adapters.docker.engine): `EngineUnavailable` naming the address,
`ObjectNotFound`, `EngineError`.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from faktctl.adapters.docker.engine import (
    API_TIMEOUT_S,
    DEFAULT_HOST,
    DEFAULT_STOP_TIMEOUT_S,
    INSPECT_PARALLEL,
    EngineError,
    ObjectNotFound,
    RawDict,
    _first_line,
    still_attached,
    unavailable,
)
from faktctl.live.reach import engine_host
from faktctl.platforms.engine.stop import TeardownEngine


class ReadEngine(Protocol):
    """What the look-ups of status, observe and the Faktory view need from an engine; both
    EngineReader and the SDK adapter (docker_engine.Engine) have it."""

    address: str

    @property
    def is_local(self) -> bool: ...

    def summaries(self, labels: Mapping[str, str] | None = None) -> list[RawDict]: ...

    def containers(self, labels: Mapping[str, str], all: bool = True) -> list[RawDict]: ...

    def inspect(self, container_id: str) -> RawDict: ...

    def network(self, name: str) -> RawDict | None: ...

    def volume(self, name: str) -> RawDict | None: ...

    def image(self, reference: str) -> RawDict | None: ...

    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]: ...

    def stat_path(self, container_id: str, path: str) -> RawDict: ...

    def close(self) -> None: ...


def plain_address(environ: Mapping[str, str] | None = None) -> str | None:
    """The engine address when it is a plain socket this module can speak to, else None (the
    SDK adapter then connects: TLS, ssh://, npipe://, or a docker context other than the
    default)."""
    env = os.environ if environ is None else environ
    host = env.get("DOCKER_HOST", "")
    if not host:
        if env.get("DOCKER_CONTEXT", "default") != "default" or _context_in_config(env):
            return None
        return DEFAULT_HOST
    if env.get("DOCKER_TLS_VERIFY") or env.get("DOCKER_CERT_PATH"):
        return None
    parts = urlsplit(host)
    if parts.scheme == "unix" and parts.path:
        return host
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        return host
    return None


def _context_in_config(env: Mapping[str, str]) -> bool:
    """Whether ~/.docker/config.json names a current context other than the default (or
    cannot be read: the SDK then decides, and explains)."""
    folder = env.get("DOCKER_CONFIG") or str(Path(env.get("HOME", "~")).expanduser() / ".docker")
    try:
        text = (Path(folder) / "config.json").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        document = json.loads(text)
    except ValueError:
        return True
    current = document.get("currentContext") if isinstance(document, dict) else None
    return current not in (None, "", "default")


def demultiplex(stream: bytes) -> bytes:
    """stdout and stderr of a non-tty exec, in order, from the engine's framed stream (8-byte
    headers: stream, 0, 0, 0, big-endian length)."""
    out = bytearray()
    at = 0
    while at + 8 <= len(stream):
        (length,) = struct.unpack(">I", stream[at + 4 : at + 8])
        out += stream[at + 8 : at + 8 + length]
        at += 8 + length
    return bytes(out)


class EngineReader:
    """Reads from the engine (and makes the few changes `down` makes) over a plain unix or tcp
    socket, one HTTP/1.0 request per connection (a unix socket connects in microseconds,
    requests from several threads never share one, and http.client alone would import ssl and
    email for nothing)."""

    def __init__(self, address: str, timeout: float = API_TIMEOUT_S) -> None:
        self.address = address
        self.timeout = timeout
        parts = urlsplit(address)
        self._unix_path = parts.path if parts.scheme == "unix" else None
        self._host, self._port = parts.hostname or "", parts.port or 2375

    @property
    def is_local(self) -> bool:
        if self._unix_path is not None:
            return True
        return engine_host(self.address) in ("localhost", "127.0.0.1", "::1")

    def close(self) -> None:
        """Nothing stays open between requests."""

    def _socket(self, timeout: float | None = None) -> socket.socket:
        timeout = self.timeout if timeout is None else timeout
        if self._unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self._unix_path)
            except OSError:
                sock.close()
                raise
            return sock
        return socket.create_connection((self._host, self._port), timeout=timeout)

    def _exchange(
        self, method: str, path: str, doing: str, body: Any = None, wait_s: float = 0
    ) -> bytes:
        """One HTTP/1.0 exchange, the whole answer as received (the engine answers unchunked
        and then closes). `wait_s`: how long the engine may take on purpose (a stop's grace
        period), on top of the usual timeout."""
        head = f"{method} {path} HTTP/1.0\r\nHost: docker\r\n"
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        try:
            sock = self._socket(self.timeout + wait_s)
        except OSError as exc:
            raise unavailable(self.address, exc, doing) from exc
        try:
            sock.sendall(head.encode() + b"\r\n" + payload)
            return b"".join(iter(lambda: sock.recv(1 << 16), b""))
        except TimeoutError as exc:
            raise EngineError(f"{doing}: the Docker engine did not answer in time") from exc
        except OSError as exc:
            raise unavailable(self.address, exc, doing) from exc
        finally:
            sock.close()

    def _request(
        self,
        method: str,
        path: str,
        doing: str,
        body: Any = None,
        missing_ok: bool = False,
        wait_s: float = 0,
    ) -> tuple[int, bytes]:
        received = self._exchange(method, path, doing, body, wait_s)
        status, reason, data = parse_response(received, doing)
        if status == 404 and missing_ok:
            return 404, b""
        if status >= 400:
            kind = ObjectNotFound if status == 404 else EngineError
            raise kind(f"{doing}: {_first_line(_message(data) or reason)}")
        return status, data

    def _json(self, path: str, doing: str, missing_ok: bool = False) -> Any:
        status, data = self._request("GET", path, doing, missing_ok=missing_ok)
        return None if status == 404 else json.loads(data)

    # the reads

    def summaries(self, labels: Mapping[str, str] | None = None) -> list[RawDict]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else {}
        query = urlencode({"all": "1", "filters": json.dumps(filters)})
        return [dict(s) for s in self._json(f"/containers/json?{query}", "listing containers")]

    def containers(self, labels: Mapping[str, str], all: bool = True) -> list[RawDict]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        query = urlencode({"all": "1" if all else "0", "filters": json.dumps(filters)})
        ids = [str(s["Id"]) for s in self._json(f"/containers/json?{query}", "listing containers")]
        with ThreadPoolExecutor(max_workers=max(1, min(INSPECT_PARALLEL, len(ids)))) as pool:
            found = list(pool.map(self._inspect_if_there, ids))
        return [raw for raw in found if raw is not None]

    def _inspect_if_there(self, container_id: str) -> RawDict | None:
        try:
            return self.inspect(container_id)
        except ObjectNotFound:  # removed between list and inspect
            return None

    def inspect(self, container_id: str) -> RawDict:
        path = f"/containers/{quote(container_id, safe='')}/json"
        return dict(self._json(path, f"inspecting container {container_id[:12]}"))

    def network(self, name: str) -> RawDict | None:
        query = urlencode({"filters": json.dumps({"name": [name]})})
        for candidate in self._json(f"/networks?{query}", f"looking up network {name}"):
            if candidate.get("Name") == name:
                return dict(candidate)
        return None

    def volume(self, name: str) -> RawDict | None:
        path = f"/volumes/{quote(name, safe='')}"
        found = self._json(path, f"looking up volume {name}", missing_ok=True)
        return None if found is None else dict(found)

    def image(self, reference: str) -> RawDict | None:
        path = f"/images/{quote(reference, safe='')}/json"
        found = self._json(path, f"looking up image {reference}", missing_ok=True)
        return None if found is None else dict(found)

    # the writes `down` needs (the same names and errors as the SDK adapter's)

    def stop(self, container_id: str, timeout: int = DEFAULT_STOP_TIMEOUT_S) -> None:
        """Stop gracefully: SIGTERM, then SIGKILL after `timeout` seconds."""
        path = f"/containers/{quote(container_id, safe='')}/stop?t={int(timeout)}"
        self._request("POST", path, f"stopping container {container_id[:12]}", wait_s=timeout)

    def remove(self, container_id: str, force: bool = False) -> None:
        """Remove a container; one already gone is no error."""
        query = urlencode({"force": "1" if force else "0"})
        path = f"/containers/{quote(container_id, safe='')}?{query}"
        self._request("DELETE", path, f"removing container {container_id[:12]}", missing_ok=True)

    def remove_network(self, name_or_id: str) -> None:
        """Remove a network; "active endpoints" names the containers still attached."""
        doing = f"removing network {name_or_id}"
        try:
            self._request("DELETE", f"/networks/{quote(name_or_id, safe='')}", doing)
        except EngineError as err:
            if "has active endpoints" not in err.message:
                raise
            where = f"/networks/{quote(name_or_id, safe='')}"
            found = self._json(where, f"inspecting network {name_or_id}", missing_ok=True) or {}
            raise still_attached(name_or_id, found.get("Containers") or {}) from err

    def remove_volume(self, name: str) -> None:
        self._request("DELETE", f"/volumes/{quote(name, safe='')}", f"removing volume {name}")

    def stat_path(self, container_id: str, path: str) -> RawDict:
        """The engine's stat of a path in a container (name, size, mode, mtime, linkTarget):
        one HEAD request on the archive endpoint, no process started in the container."""
        doing = f"looking at {path} in {container_id[:12]}"
        query = urlencode({"path": path})
        where = f"/containers/{quote(container_id, safe='')}/archive?{query}"
        status, reason, headers, _ = split_response(self._exchange("HEAD", where, doing), doing)
        if status >= 400:
            kind = ObjectNotFound if status == 404 else EngineError
            raise kind(f"{doing}: {reason or status}")
        encoded = headers.get("x-docker-container-path-stat")
        return dict(json.loads(base64.b64decode(encoded))) if encoded else {}

    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]:
        doing = f"running {cmd[0]} in {container_id[:12]}"
        body = {"AttachStdout": True, "AttachStderr": True, "Cmd": cmd}
        path = f"/containers/{quote(container_id, safe='')}/exec"
        _, created = self._request("POST", path, doing, body)
        exec_id = quote(str(json.loads(created)["Id"]), safe="")
        _, output = self._request("POST", f"/exec/{exec_id}/start", doing, {"Detach": False})
        code = self._json(f"/exec/{exec_id}/json", doing).get("ExitCode")
        return (int(code) if code is not None else -1), demultiplex(output)


def split_response(received: bytes, doing: str) -> tuple[int, str, dict[str, str], bytes]:
    """Status, reason, headers (lower-case names) and raw body of an HTTP/1.x response."""
    header, sep, body = received.partition(b"\r\n\r\n")
    status_line, *fields = header.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[1].isdigit():
        raise EngineError(f"{doing}: the Docker engine's answer was cut short")
    headers = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body


def parse_response(received: bytes, doing: str) -> tuple[int, str, bytes]:
    """Status, reason and body of a whole HTTP/1.x response (chunked or not)."""
    status, reason, headers, body = split_response(received, doing)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunked(body)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return status, reason, body


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


def _message(data: bytes) -> str:
    try:
        document = json.loads(data)
    except ValueError:
        return data.decode(errors="replace")
    if isinstance(document, dict) and document.get("message"):
        return str(document["message"])
    return data.decode(errors="replace")


def connect_reader() -> ReadEngine:
    """An engine to read from: EngineReader for a plain socket, else the SDK adapter."""
    address = plain_address()
    if address is None:
        from faktctl.adapters.docker.engine import connect

        return connect()
    return EngineReader(address)


class DownEngine(ReadEngine, TeardownEngine, Protocol):
    """What `down` needs: the reads, and stopping and removing containers, network, volumes."""


def connect_for_down() -> DownEngine:
    """EngineReader for a plain socket (no docker SDK to import, and a few hundred requests
    without its per-request cost), else the SDK adapter."""
    address = plain_address()
    if address is None:
        from faktctl.adapters.docker.engine import connect

        return connect()
    return EngineReader(address)
