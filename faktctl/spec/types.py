"""Small value types the spec is made of: durations, byte sizes, port bindings, env values."""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
DURATION_PATTERN = r"^(\d+(ms|s|m|h|d))+$"
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    """'90s', '1h30m', '7d' or a number of seconds -> timedelta. Anything else is left for
    pydantic to reject with its own message."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(DURATION_PATTERN, text):
            raise ValueError(f"`{value}` is not a duration (use e.g. 30s, 5m, 24h, 7d)")
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
        return timedelta(seconds=seconds)
    return value


def format_duration(value: timedelta) -> str:
    """The spec's own form of a duration: its largest exact unit (`90s`, `5m`, `24h`, `7d`)."""
    total = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total and total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "integer", "minimum": 0},
            ],
            "description": "A duration such as 30s, 5m, 24h, 7d, or a number of seconds.",
        }
    ),
]


def rule_error(message: str, subpath: str = "", hint: str = "") -> PydanticCustomError:
    """A validation error that points below the validator's own location (see spec.load)."""
    return PydanticCustomError(
        "spec_rule", "{message}", {"message": message, "subpath": subpath, "hint": hint}
    )


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.IGNORECASE)
_SIZE_FACTOR = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
SIZE_PATTERN = r"^\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?$"


def parse_size(value: Any) -> Any:
    """'512m', '2g', '1.5GiB' or a number of bytes -> bytes."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value.strip())
        if not match:
            raise ValueError(f"`{value}` is not a size (use e.g. 512m or 2g)")
        return int(float(match.group(1)) * _SIZE_FACTOR[match.group(2).lower()])
    return value


def format_size(value: int) -> str:
    for unit, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def _positive_size(value: int) -> int:
    """A size is more than 0 bytes: `0` and `-1` are no size (a Kubernetes claim of `0Ti`)."""
    if value <= 0:
        raise rule_error(f"must be more than 0 bytes (got `{value}`)", hint="e.g. 512m or 10g")
    return value


ByteSize = Annotated[
    int,
    AfterValidator(_positive_size),
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": SIZE_PATTERN},
                {"type": "integer", "minimum": 1},
            ],
            "description": "A memory size such as 512m or 2g, or a number of bytes.",
        }
    ),
]


@dataclass(frozen=True)
class PortBinding:
    """Where a container port is published on the host: a host IP and a host port."""

    host_ip: str
    host_port: int

    def __str__(self) -> str:
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return f"{ip}:{self.host_port}"

    @property
    def is_loopback(self) -> bool:
        return ipaddress.ip_address(self.host_ip).is_loopback

    @property
    def is_unspecified(self) -> bool:
        return ipaddress.ip_address(self.host_ip).is_unspecified


PORT_PATTERN = r"^(\[[0-9a-fA-F:.]+\]|[0-9.]+):[0-9]{1,5}$"


def parse_port_binding(value: Any) -> Any:
    """'127.0.0.1:7420', '[::1]:7420' -> PortBinding; 'none' or null -> None (not published)."""
    if value is None or isinstance(value, PortBinding):
        return value
    if isinstance(value, str) and value.strip().lower() == "none":
        return None
    if not isinstance(value, str):
        raise ValueError("expected HOST_IP:PORT as a string, or none")
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"`{value}` is not HOST_IP:PORT (e.g. 127.0.0.1:7420, or none)")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"`{host}` is not an IP address (e.g. 127.0.0.1:7420)") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"`{port_text}` is not a port number between 1 and 65535")
    return PortBinding(host_ip=str(address), host_port=int(port_text))


PublishedPort = Annotated[
    PortBinding | None,
    BeforeValidator(parse_port_binding),
    PlainSerializer(lambda v: str(v) if v is not None else "none", return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PORT_PATTERN},
                {"type": "string", "enum": ["none"]},
                {"type": "null"},
            ],
            "description": "HOST_IP:PORT to publish on (e.g. 127.0.0.1:7420), or none.",
        }
    ),
]


def _env_value(value: Any) -> Any:
    """YAML turns `true` and `8` into bool/int; the environment only has strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_env_value)]
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _command(value: Any) -> Any:
    if isinstance(value, str):
        return shlex.split(value)
    return value


Command = Annotated[
    list[str],
    BeforeValidator(_command),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "A command as a list of arguments, or a string split like a shell.",
        }
    ),
]


@dataclass(frozen=True)
class PathOf:
    """Marks a spec field that names a path (in `Annotated[str, PathOf(kind)]`): a relative
    one resolves against the spec's folder (faktctl.spec.load.LoadedSpec.path_of), never the
    caller's. Kinds: `file`, `folder`, `destination` (a folder or `restic:<repository>`),
    `executable` (a bare name is looked up on PATH, anything with a `/` is a path) and
    `in-context` (relative to the build context, itself relative to the spec)."""

    kind: str


def _webhook_url(value: str) -> str:
    """An http(s) URL with a host, parsed as a URL (an unclosed `[::1` is refused here, not by
    the backup that would send to it); the sender (adapters.probe.post_json) reads a URL it
    cannot send to as a failed alert, never a failed backup."""
    from urllib.parse import urlsplit

    problem = re.search(r"\s", value) is not None
    try:
        parts = urlsplit(value)
        problem = problem or parts.scheme not in ("http", "https") or not parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        problem = True
    if problem:
        raise rule_error(
            f"`{value}` is not an http(s) URL", hint="e.g. https://hooks.example.com/backup"
        )
    return value


WebhookUrl = Annotated[
    str,
    AfterValidator(_webhook_url),
    WithJsonSchema({"type": "string", "pattern": r"^https?://\S+$"}),  # for editors
]
