"""The engine operations, each written once over a Transport (faktctl.adapters.docker.api).

The look-ups (`status`, observe, the Faktory view), the stops and removals `down` makes, the
engine's stat of a path, and an exec. The same code runs over the standard-library socket and
over the docker SDK's session, so both answer with the engine's own JSON and fail with the
same one-line errors.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode

from faktctl.adapters.docker.api import (
    DEFAULT_STOP_TIMEOUT_S,
    INSPECT_PARALLEL,
    EngineError,
    ObjectNotFound,
    RawDict,
    Reply,
    Transport,
    is_local,
    refusal,
    still_attached,
    volume_in_use,
)


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


def _label_filters(labels: Mapping[str, str] | None) -> dict[str, list[str]]:
    return {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else {}


def _id(text: str) -> str:
    return quote(text, safe="")


class EngineClient:
    """Reads from the engine, and makes the few changes `down` makes, over a transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @property
    def address(self) -> str:
        return self.transport.address

    @property
    def is_local(self) -> bool:
        """True when published ports can be reached on 127.0.0.1 from here."""
        return is_local(self.address)

    def close(self) -> None:
        self.transport.close()

    def _call(
        self,
        method: str,
        path: str,
        doing: str,
        body: Any = None,
        *,
        missing_ok: bool = False,
        wait_s: float = 0,
    ) -> Reply | None:
        """The engine's answer; None for a 404 when `missing_ok`; a refusal raises."""
        reply = self.transport.request(method, path, body, doing=doing, wait_s=wait_s)
        if reply.status == 404 and missing_ok:
            return None
        if reply.status >= 400:
            raise refusal(reply.status, reply.message(), doing)
        return reply

    def _json(self, path: str, doing: str, *, missing_ok: bool = False) -> Any:
        reply = self._call("GET", path, doing, missing_ok=missing_ok)
        return None if reply is None else json.loads(reply.body)

    def _answered(self, method: str, path: str, doing: str, body: Any = None) -> Reply:
        reply = self._call(method, path, doing, body)
        assert reply is not None  # not missing_ok: a 404 raised
        return reply

    # the reads

    def summaries(self, labels: Mapping[str, str] | None = None) -> list[RawDict]:
        """One list query: the engine's summary of every container (any state) carrying every
        given label. A summary has the id, names, image and image id, labels, state, status
        text (with the health), published ports and networks."""
        query = urlencode({"all": "1", "filters": json.dumps(_label_filters(labels))})
        return [dict(s) for s in self._json(f"/containers/json?{query}", "listing containers")]

    def containers(self, labels: Mapping[str, str], all: bool = True) -> list[RawDict]:
        """Full inspect dicts of the containers carrying every given label (inspected a few
        at a time)."""
        filters = json.dumps(_label_filters(labels))
        query = urlencode({"all": "1" if all else "0", "filters": filters})
        ids = [str(s["Id"]) for s in self._json(f"/containers/json?{query}", "listing containers")]
        if len(ids) <= 1:
            found = [self._inspect_if_there(i) for i in ids]
        else:
            with ThreadPoolExecutor(max_workers=min(INSPECT_PARALLEL, len(ids))) as pool:
                found = list(pool.map(self._inspect_if_there, ids))
        return [raw for raw in found if raw is not None]

    def _inspect_if_there(self, container_id: str) -> RawDict | None:
        try:
            return self.inspect(container_id)
        except ObjectNotFound:  # removed between list and inspect
            return None

    def inspect(self, container_id: str) -> RawDict:
        path = f"/containers/{_id(container_id)}/json"
        return dict(self._json(path, f"inspecting container {container_id[:12]}"))

    def network(self, name: str) -> RawDict | None:
        query = urlencode({"filters": json.dumps({"name": [name]})})
        for candidate in self._json(f"/networks?{query}", f"looking up network {name}"):
            if candidate.get("Name") == name:
                return dict(candidate)
        return None

    def volume(self, name: str) -> RawDict | None:
        found = self._json(f"/volumes/{_id(name)}", f"looking up volume {name}", missing_ok=True)
        return None if found is None else dict(found)

    def image(self, reference: str) -> RawDict | None:
        """Inspect dict of a local image, or None when it is not present."""
        path = f"/images/{_id(reference)}/json"
        found = self._json(path, f"looking up image {reference}", missing_ok=True)
        return None if found is None else dict(found)

    def stat_path(self, container_id: str, path: str) -> RawDict:
        """The engine's stat of a path in a container (name, size, mode, mtime, linkTarget):
        one HEAD request on the archive endpoint, no process started in the container."""
        where = f"/containers/{_id(container_id)}/archive?{urlencode({'path': path})}"
        reply = self._answered("HEAD", where, f"looking at {path} in {container_id[:12]}")
        encoded = reply.headers.get("x-docker-container-path-stat")
        return dict(json.loads(base64.b64decode(encoded))) if encoded else {}

    def exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]:
        """Run a command in a running container; returns its exit code and combined output."""
        doing = f"running {cmd[0]} in {container_id[:12]}"
        body = {"AttachStdout": True, "AttachStderr": True, "Cmd": cmd}
        created = self._answered("POST", f"/containers/{_id(container_id)}/exec", doing, body)
        exec_id = _id(str(json.loads(created.body)["Id"]))
        output = self._answered("POST", f"/exec/{exec_id}/start", doing, {"Detach": False})
        code = self._json(f"/exec/{exec_id}/json", doing).get("ExitCode")
        return (int(code) if code is not None else -1), demultiplex(output.body)

    # the changes `down` makes

    def stop(self, container_id: str, timeout: int = DEFAULT_STOP_TIMEOUT_S) -> None:
        """Stop gracefully: SIGTERM, then SIGKILL after `timeout` seconds."""
        path = f"/containers/{_id(container_id)}/stop?t={int(timeout)}"
        self._call("POST", path, f"stopping container {container_id[:12]}", wait_s=timeout)

    def rename(self, container_id: str, name: str) -> None:
        """Give a container a new name (a rollout moves an old replica out of its new one's way)."""
        path = f"/containers/{_id(container_id)}/rename?{urlencode({'name': name})}"
        self._call("POST", path, f"renaming container {container_id[:12]}")

    def kill(self, container_id: str, signal: str) -> None:
        """Send a signal to a container's main process."""
        path = f"/containers/{_id(container_id)}/kill?{urlencode({'signal': signal})}"
        self._call("POST", path, f"sending {signal} to container {container_id[:12]}")

    def remove(self, container_id: str, force: bool = False) -> None:
        """Remove a container; one already gone is no error."""
        path = f"/containers/{_id(container_id)}?{urlencode({'force': '1' if force else '0'})}"
        self._call("DELETE", path, f"removing container {container_id[:12]}", missing_ok=True)

    def remove_network(self, name_or_id: str) -> None:
        """Remove a network. When the engine says it still has endpoints, the error names the
        containers attached, or says that none is (the engine then lost count of them)."""
        where = f"/networks/{_id(name_or_id)}"
        try:
            self._call("DELETE", where, f"removing network {name_or_id}")
        except EngineError as err:
            if "has active endpoints" not in err.message:
                raise
            found = self._json(where, f"inspecting network {name_or_id}", missing_ok=True) or {}
            raise still_attached(name_or_id, found.get("Containers") or {}) from err

    def remove_volume(self, name: str) -> None:
        """Remove a volume. When the engine says it is in use, the error names the containers
        (running or not) that hold it."""
        try:
            self._call("DELETE", f"/volumes/{_id(name)}", f"removing volume {name}")
        except EngineError as err:
            if "in use" not in err.message:
                raise
            query = urlencode({"all": "1", "filters": json.dumps({"volume": [name]})})
            holders = self._json(f"/containers/json?{query}", f"listing users of volume {name}")
            raise volume_in_use(name, holders) from err
