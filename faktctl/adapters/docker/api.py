"""What every engine client shares: the errors, engine addresses, and the transport protocol.

faktctl speaks to the Docker engine through one set of operations (faktctl.adapters.docker
.client) written over one `Transport`: a method, a path and an optional JSON body in, a status,
headers and a body out. Two transports carry them: the standard library on a plain socket
(faktctl.adapters.docker.transport, cheap to import: `status` and `down` use it) and the docker
SDK's session (faktctl.adapters.docker.engine, for ssh://, TLS and docker contexts).
faktctl.adapters.docker.connect decides which.

Every engine failure becomes a one-line FaktctlError: `EngineUnavailable` (exit 3, naming the
engine address in use), `PortInUse`, `ImageUnavailable`, `BuildFailed`, `NameConflict`,
`ObjectNotFound`, `EngineError`. Pure: no I/O here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from faktctl import labels
from faktctl.errors import EngineUnavailable, OperationFailed

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_TIMEOUT_S = 60
DEFAULT_STOP_TIMEOUT_S = 10
INSPECT_PARALLEL = 8
_SOCKET_SCHEMES = frozenset({"unix", "npipe", "fd"})
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_ADDRESS_IN_MESSAGE = re.compile(r"(?:listen tcp[46]? |Bind for )(\[[0-9a-fA-F:]+\]|[0-9.]+):(\d+)")

RawDict = dict[str, Any]


# --- errors ----------------------------------------------------------------------------------


class PortInUse(OperationFailed):
    """A host port the spec publishes is already taken."""


class ImageUnavailable(OperationFailed):
    """An image is neither present locally nor pullable."""


class BuildFailed(OperationFailed):
    """An image build failed."""


class NameConflict(OperationFailed):
    """A container name is taken by an object faktctl does not manage here."""


class ObjectNotFound(OperationFailed):
    """A container, network, volume or file vanished or never existed."""


class EngineError(OperationFailed):
    """Any other refusal by the engine."""


def first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _why_unreachable(exc: BaseException) -> tuple[str, str]:
    text = str(exc)
    if "Permission denied" in text or isinstance(exc, PermissionError):
        return "permission denied", "add your user to the docker group, or use a rootless engine"
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return "no engine socket there", "start the Docker engine, or set DOCKER_HOST"
    if "Connection refused" in text:
        return "connection refused", "start the Docker engine, or fix DOCKER_HOST"
    if "timed out" in text.lower():
        return "the engine did not answer", "check that the engine is running and reachable"
    reason = first_line(text.replace("Error while fetching server API version: ", ""))
    return reason or type(exc).__name__, "start the Docker engine, or fix DOCKER_HOST"


def address_label(address: str) -> str:
    """The address and where it came from, as error messages show it."""
    if os.environ.get("DOCKER_HOST"):
        return f"{address} (DOCKER_HOST)"
    if address == DEFAULT_HOST:
        return f"{address} (DOCKER_HOST is not set)"
    return f"{address} (docker context)"


def unavailable(address: str, exc: BaseException, doing: str = "") -> EngineUnavailable:
    """The engine could not be reached at all (no socket, refused, no answer to connect)."""
    reason, hint = _why_unreachable(exc)
    while_doing = f" while {doing}" if doing else ""
    return EngineUnavailable(
        f"cannot reach the Docker engine at {address_label(address)}{while_doing}: {reason}",
        hint,
    )


def no_answer(doing: str) -> EngineError:
    """The engine took a request and did not answer it in time."""
    return EngineError(f"{doing}: the Docker engine did not answer in time")


def _port_in_use(text: str, doing: str) -> PortInUse | None:
    if "port is already allocated" not in text and "address already in use" not in text:
        return None
    match = _ADDRESS_IN_MESSAGE.search(text)
    where = f"host port {match.group(1)}:{match.group(2)}" if match else "a published host port"
    return PortInUse(
        f"{doing}: {where} is already in use",
        "stop what listens there, or change server.ports in the spec",
    )


def refusal(status: int | None, message: str, doing: str) -> OperationFailed:
    """The one-line error for an engine's refusal (an HTTP status of 400 or more) and its
    message, whichever transport carried it."""
    text = first_line(message) or str(status)
    if status == 404:
        return ObjectNotFound(f"{doing}: {text}")
    port = _port_in_use(text, doing)
    if port is not None:
        return port
    if status == 409 and "name" in text and "already in use" in text:
        return NameConflict(
            f"{doing}: {text}", "remove that container, or choose another project name"
        )
    return EngineError(f"{doing}: {text}")


def still_attached(name_or_id: str, attached: Mapping[str, Any]) -> EngineError:
    """Why a network with "active endpoints" cannot go, from its inspected `Containers`: the
    containers still attached, or none (the engine lost count of its endpoints)."""
    names = sorted(str(c.get("Name") or cid[:12]) for cid, c in attached.items())
    if names:
        return EngineError(
            f"removing network {name_or_id}: still attached: {', '.join(names)}",
            "disconnect or remove those containers, then run the command again",
        )
    return EngineError(
        f"removing network {name_or_id}: the Docker engine still counts endpoints on it "
        "though no container is attached (an engine fault seen after many containers "
        "stopped at once)",
        "restart the Docker engine, then run `faktctl down` again; the data volume is untouched",
    )


def volume_in_use(name: str, holders: list[Any]) -> EngineError:
    """Why a volume cannot go, from the containers (summaries) that mount it: their names,
    states and, for faktctl's throwaway helpers, the job they were doing."""
    described = []
    for holder in holders:
        names = holder.get("Names") or [str(holder.get("Id", ""))[:12]]
        job = (holder.get("Labels") or {}).get(labels.JOB)
        what = f", a leftover faktctl {job} helper" if job else ""
        described.append(f"{str(names[0]).lstrip('/')} ({holder.get('State', 'unknown')}{what})")
    if not described:
        return EngineError(f"removing volume {name}: the engine says it is in use")
    return EngineError(
        f"removing volume {name}: it is in use by container(s) {', '.join(sorted(described))}",
        "remove those containers (`docker rm -f NAME`) if they are not needed, then run the "
        "command again",
    )


# --- addresses ---------------------------------------------------------------------------------


def engine_host(address: str) -> str:
    """The host an engine address names, without user, port or brackets:
    `tcp://build-box:2376` -> `build-box`, `ssh://deploy@box:2222` -> `box`,
    `ssh://[fd00::7]:22` -> `fd00::7`. Empty for a socket or pipe, or when it names none."""
    text = address.strip()
    if "://" not in text:
        text = f"tcp://{text}"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:  # an unbalanced bracket
        return ""
    return "" if parts.scheme.lower() in _SOCKET_SCHEMES else host or ""


def is_local(address: str) -> bool:
    """Whether an engine at `address` runs on this machine (a socket, a pipe or a loopback
    host), so that ports it publishes can be reached on 127.0.0.1 from here."""
    scheme = address.strip().partition("://")[0].lower() if "://" in address else ""
    return scheme in _SOCKET_SCHEMES or engine_host(address) in _LOOPBACK_NAMES


# --- the transport -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One answer of the engine: status, reason, headers (lower-case names) and the body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    def message(self) -> str:
        """The engine's explanation of a refusal: its JSON `message`, else the body, else the
        reason."""
        try:
            document = json.loads(self.body)
        except ValueError:
            document = None
        if isinstance(document, dict) and document.get("message"):
            return str(document["message"])
        return self.body.decode(errors="replace").strip() or self.reason


class Transport(Protocol):
    """Carries one request to the engine and brings back its whole answer.

    `path` is the API path with its query (`/containers/json?all=1`), without a version
    prefix; `body` is sent as JSON. A failure to reach the engine raises EngineUnavailable, an
    answer that does not come in time EngineError (`doing` names the operation in both); any
    status, 4xx and 5xx included, is returned. `wait_s`: how long the engine may take on
    purpose (a stop's grace period), on top of the usual timeout.
    """

    @property
    def address(self) -> str: ...

    def request(
        self, method: str, path: str, body: Any = None, *, doing: str, wait_s: float = 0
    ) -> Reply: ...

    def close(self) -> None: ...


# --- what the look-ups need ----------------------------------------------------------------------


class ReadEngine(Protocol):
    """What the look-ups of status, observe and the Faktory view need from an engine
    (faktctl.adapters.docker.client.EngineClient has it, whichever its transport)."""

    @property
    def address(self) -> str: ...

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
