"""Which engine faktctl talks to, and over which transport: decided here and nowhere else.

The address comes the way the docker CLI finds it: DOCKER_HOST, else the active docker context,
else the local socket. A plain socket (DOCKER_HOST `unix://` or `tcp://` without TLS, or no
DOCKER_HOST and no docker context in use) is spoken to with the standard library
(faktctl.adapters.docker.transport: no SDK to import, which is what keeps `status` and `down`
quick); anything else (ssh://, TLS, a docker context, npipe) goes through the docker SDK's
session. Either way the operations are the same (faktctl.adapters.docker.client).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from faktctl.adapters.docker.api import API_TIMEOUT_S, DEFAULT_HOST, unavailable
from faktctl.adapters.docker.client import EngineClient
from faktctl.adapters.docker.transport import SocketTransport

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine

CONNECTIONS = 32  # kept open for reuse: more than faktctl ever has in flight at once


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def context_in_use(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a docker context other than the default is selected (DOCKER_CONTEXT, or the
    current context in ~/.docker/config.json), or the config cannot be read: the SDK then
    decides, and explains."""
    env = _environ(environ)
    if env.get("DOCKER_CONTEXT", "default") != "default":
        return True
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


def engine_address(environ: Mapping[str, str] | None = None) -> str:
    """The engine address faktctl will use, in the docker CLI's order of precedence."""
    env = _environ(environ)
    if env.get("DOCKER_HOST"):
        return env["DOCKER_HOST"]
    if context_in_use(env):
        with contextlib.suppress(Exception):  # a broken ~/.docker/config.json must not hide why
            from docker.context import ContextAPI

            base_url = ContextAPI.kwargs_from_context(environment=dict(env)).get("base_url")
            if base_url:
                return str(base_url)
    return DEFAULT_HOST


def plain_address(environ: Mapping[str, str] | None = None) -> str | None:
    """The engine address when it is a plain socket the standard library can speak to, else
    None (TLS, ssh://, npipe://, or a docker context other than the default)."""
    env = _environ(environ)
    host = env.get("DOCKER_HOST", "")
    if not host:
        return None if context_in_use(env) else DEFAULT_HOST
    if env.get("DOCKER_TLS_VERIFY") or env.get("DOCKER_CERT_PATH"):
        return None
    parts = urlsplit(host)
    if parts.scheme == "unix" and parts.path:
        return host
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        return host
    return None


def connect(timeout: int = API_TIMEOUT_S) -> Engine:
    """The whole engine adapter (creating, building, pulling, archives), over the SDK."""
    import logging

    import docker

    from faktctl.adapters.docker.engine import Engine, extra_labels

    address = engine_address()
    # `logs -f` on many replicas holds more streams than the pool keeps; the extra connections
    # are closed when done, which urllib3 would report as a warning on stderr
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    try:
        client = docker.from_env(timeout=timeout, max_pool_size=CONNECTIONS)
    except Exception as exc:  # DockerException, requests and socket errors alike
        raise unavailable(address, exc) from exc
    _never_close_a_pool_in_use(client)
    return Engine(client, address, extra_labels())


def _never_close_a_pool_in_use(client: Any) -> None:
    """The SDK's unix-socket adapter keeps one connection pool per request URL, at most
    `num_pools` (25) of them, and closes the least recently used one when a new URL comes:
    with more parallel streams than that (the dashboard relay's execs under 25+ browser
    connections, `logs -f` on many replicas) it closed a pool another thread was still
    using ("'NoneType' object has no attribute 'qsize'"). An evicted pool is left to close
    its idle connections when it is dropped instead."""
    for adapter in getattr(getattr(client, "api", None), "adapters", {}).values():
        pools = getattr(adapter, "pools", None)
        if pools is not None and hasattr(pools, "dispose_func"):
            pools.dispose_func = None


def connect_reader() -> EngineClient:
    """An engine to look at and take down (status, down): over the standard library on a
    plain socket, else the SDK adapter."""
    address = plain_address()
    if address is None:
        return connect()
    return EngineClient(SocketTransport(address))
