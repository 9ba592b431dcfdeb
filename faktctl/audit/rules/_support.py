"""Small pure helpers the checks share: reachability of the ports, origins, URLs, versions."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from faktctl.audit.effective import Behaviour, binding_host
from faktctl.audit.model import (
    EnvVar,
    LiveData,
    LiveProbe,
    Location,
    MountFact,
    PortFact,
    ServerFacts,
)
from faktctl.audit.registry import ServerCtx
from faktctl.faktory.images import parse_image
from faktctl.faktory.versions import parse_version

Reach = Literal["loopback", "private", "public", "all", "cluster-external"]
PROTOCOL_PORT = 7419
WEB_PORT = 7420
DATA_KINDS = frozenset({"volume", "bind", "anonymous", "tmpfs"})
FILE_KINDS = frozenset({"volume", "bind", "anonymous", "secret", "config"})


def classify_host(host: str) -> Reach:
    """How far an address reaches: every interface, a loopback, a private or a public one."""
    text = host.strip().strip("[]")
    if text in {"", "*", "0.0.0.0", "::"}:
        return "all"
    if text == "localhost":
        return "loopback"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "public"  # a host name: assume it resolves to something reachable
    if address.is_unspecified:
        return "all"
    if address.is_loopback:
        return "loopback"
    if address.is_private or address.is_link_local:
        return "private"
    return "public"


@dataclass(frozen=True)
class Reachable:
    port: int  # the Faktory port: 7419 or 7420
    reach: Reach
    how: str
    location: Location | None


def listen_port(binding: str, default: int) -> int:
    _, _, port = binding.rpartition(":")
    return int(port) if port.isdigit() else default


def reachable(ctx: ServerCtx, faktory_port: int) -> list[Reachable]:
    """Where port 7419 or 7420 of this server can be reached from outside the container."""
    server, eff = ctx.server, ctx.eff
    is_web = faktory_port == WEB_PORT
    binding = eff.web_binding if is_web else eff.protocol_binding
    if is_web and not eff.web_enabled:
        return []
    if server.network_mode == "host":
        host = binding_host(binding)
        flag = "-w" if is_web else "-b"
        return [
            Reachable(
                faktory_port,
                classify_host(host),
                f"network_mode: host with {flag} {binding}",
                server.loc("network_mode"),
            )
        ]
    if classify_host(binding_host(binding)) == "loopback":
        return []  # listening on the container's own loopback: publishing cannot reach it
    inside = listen_port(binding, faktory_port)
    found = []
    for port in server.ports:
        if port.container_port == inside and port.protocol == "tcp":
            shown = port.raw or f"{port.host_ip}:{port.host_port}:{port.container_port}"
            found.append(Reachable(faktory_port, classify_host(port.host_ip), shown, port.location))
    return found


def published_anyway(ctx: ServerCtx, faktory_port: int) -> tuple[str, list[Reachable]] | None:
    """When `reachable` found nothing but the file publishes the port Faktory uses by default:
    why nothing was counted (the text to say instead of "not published"), and the bindings."""
    server, eff = ctx.server, ctx.eff
    if server.network_mode == "host":
        return None
    found = [
        Reachable(
            faktory_port,
            classify_host(p.host_ip),
            p.raw or f"{p.host_ip}:{p.host_port}:{p.container_port}",
            p.location,
        )
        for p in server.ports
        if p.container_port == faktory_port and p.protocol == "tcp"
    ]
    if not found:
        return None
    flag = "-w" if faktory_port == WEB_PORT else "-b"
    if not eff.args_known:
        note = eff.argv_note or "the faktory command line is not known"
        return (
            f"{faktory_port} is published as {reach_text(found)}, but what the server listens "
            f"on depends on its command, which is not known here ({note})",
            found,
        )
    binding = eff.web_binding if faktory_port == WEB_PORT else eff.protocol_binding
    return (
        f"{faktory_port} is published as {reach_text(found)}, but the server listens on "
        f"{flag} {binding}, so nothing reaches it through that port",
        found,
    )


@dataclass(frozen=True)
class Proxied:
    """What the proxy services in the file make of one server's dashboard."""

    exposed: list[Reachable]  # the dashboard reached beyond this host through a proxy
    undecided: list[str]  # why a route could not be decided
    safe: list[str]  # routes that exist but reach nothing beyond this host


def _published_text(ports: list[PortFact]) -> str:
    return ", ".join(f"`{p.raw or p.container_port}`" for p in ports)


def proxied(ctx: ServerCtx) -> Proxied:
    """The proxy routes to this server's 7420 (compose input), judged against where the
    dashboard listens inside its container (the effective command)."""
    result = Proxied([], [], [])
    eff = ctx.eff
    for route in ctx.facts.proxies:
        if route.server != ctx.server.service:
            continue
        if not route.in_file:
            result.undecided.append(route.how)
            continue
        open_ports = [
            p
            for p in route.published
            if p.protocol == "tcp" and classify_host(p.host_ip) != "loopback"
        ]
        where = f"proxy service `{route.proxy}` ({route.kind})"
        if not open_ports and not route.host_network:
            result.safe.append(f"{where} publishes nothing beyond loopback")
            continue
        shown = "network_mode: host" if route.host_network else _published_text(open_ports)
        if route.state == "undecided":
            result.undecided.append(
                f"{where}, published as {shown}, may forward to the dashboard: {route.how}"
            )
            continue
        if not eff.web_enabled:
            result.safe.append(f"{where} forwards to 7420, but the dashboard is disabled (-w :0)")
            continue
        if not eff.args_known:
            result.undecided.append(
                f"{where}, published as {shown}, forwards to 7420 ({route.how}), but whether "
                f"the dashboard listens beyond its container's loopback depends on its command "
                f"({eff.argv_note or 'not known here'})"
            )
            continue
        if classify_host(binding_host(eff.web_binding)) == "loopback":
            result.safe.append(
                f"{where} forwards to 7420, but the dashboard listens on -w {eff.web_binding} "
                "inside its container, out of the proxy's reach"
            )
            continue
        how = f"{where} published as {shown}, forwarding to 7420 through {route.how}"
        if route.host_network:
            result.exposed.append(Reachable(WEB_PORT, "all", how, route.location))
        for port in open_ports:
            result.exposed.append(
                Reachable(
                    WEB_PORT, classify_host(port.host_ip), how, port.location or route.location
                )
            )
    return result


def beyond_loopback(items: list[Reachable]) -> list[Reachable]:
    return [item for item in items if item.reach != "loopback"]


def reach_text(items: list[Reachable]) -> str:
    words = {
        "all": "all interfaces",
        "public": "a public address",
        "private": "a private IP",
        "cluster-external": "beyond the cluster",
    }
    return ", ".join(
        f"{item.how if '`' in item.how else f'`{item.how}`'} ({words.get(item.reach, item.reach)})"
        for item in items
    )


def origin_text(var: EnvVar) -> str:
    where = {
        "literal": "written in clear" + (f" (as {var.detail})" if var.detail else ""),
        "env-file": f"from {var.detail or 'an env_file'}",
        "interpolated": f"interpolated from {var.detail or 'the environment'}",
        "host-env": "passed through from the shell environment",
        "dotenv": f"from {var.detail or '.env'}",
        "engine": "set in the container",
        "reference": f"from {var.detail or 'a Kubernetes object'}",
    }[var.origin]
    return f"{var.name} {where}"


def unknown_reason(var: EnvVar) -> str:
    reason = f"{var.name} comes from {var.detail or 'the environment'}, not available here"
    if (
        var.name != "FAKTORY_PASSWORD"
        or var.required
        or var.origin
        not in (
            "interpolated",
            "host-env",
        )
    ):
        return reason
    return (
        f"{reason}; where it is unset, compose makes it empty: no password in development, "
        "a refused start (exit 0) in production. Write ${FAKTORY_PASSWORD:?} so compose "
        "refuses to start without it"
    )


def env_unknown_reason(ctx: ServerCtx) -> str:
    if ctx.eff.cannot_start is not None:
        return "the server never starts, so it runs in no environment (FKM003)"
    var = ctx.server.env.get("FAKTORY_ENV")
    if var is not None and var.value is None:
        return f"the environment is not known: {unknown_reason(var)}"
    if not ctx.eff.env_valid:
        return f"`{ctx.eff.environment}` is not a valid environment (FKM003)"
    if not ctx.eff.args_known and ctx.eff.argv_note:
        return f"the environment is not known: {ctx.eff.argv_note}"
    return "the environment is not known"


def environment_reason(eff: Behaviour) -> str:
    if eff.env_source == "flag":
        default = "default command" in eff.argv_note
        return f"-e {eff.flag_env}" + (f", from {eff.argv_note}" if default else "")
    if eff.env_var_ignored:
        return "no -e flag, and FAKTORY_ENV is not read by servers older than 1.4.2"
    if eff.env_source == "FAKTORY_ENV":
        return f"FAKTORY_ENV={eff.var_env}"
    if eff.var_env == "":
        return "no -e flag and FAKTORY_ENV is empty"
    return "no -e flag and no FAKTORY_ENV"


def deepest_mount(server: ServerFacts, path: str, kinds: frozenset[str]) -> MountFact | None:
    """The deepest mount of one of `kinds` at or above `path`."""
    covering = [m for m in server.mounts if m.kind in kinds and m.covers(path)]
    return max(covering, key=lambda m: len(m.target), default=None)


def data_mount(server: ServerFacts, path: str) -> MountFact | None:
    """The deepest volume/bind/anonymous/tmpfs mount at or above `path`."""
    return deepest_mount(server, path, DATA_KINDS)


def redact_url(url: str) -> str:
    """A Faktory URL with its password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return f"{parts.scheme}://{user}:***@{host}{port}{parts.path}"


def url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def live_probe(ctx: ServerCtx) -> LiveProbe | None:
    """What talking to the running server showed (live input), if anything."""
    return ctx.server.live.probe if ctx.server.live else None


def live_data(ctx: ServerCtx) -> LiveData | None:
    """Where the running server's Redis keeps its data (live input), if it was read."""
    return ctx.server.live.data if ctx.server.live else None


def wire_version(probe: LiveProbe | None) -> tuple[str, str] | None:
    """The version the server itself reports, and where: GET /health first, then INFO."""
    if probe is None:
        return None
    for text, where in ((probe.health_version, "GET /health"), (probe.info_version, "INFO")):
        if text:
            return text, where
    return None


def server_version(ctx: ServerCtx) -> tuple[tuple[int, int, int] | None, str]:
    """The Faktory version and where it was read (a live answer beats the image tag)."""
    reported = wire_version(live_probe(ctx))
    if reported is not None:
        text, where = reported
        return parse_version(text), f"{where} reports {text}"
    if ctx.server.image is None:
        return None, "the image is built locally"
    ref = parse_image(ctx.server.image)
    if ref.tag is None:
        return None, f"{ctx.server.image} has no tag"
    return ref.version, f"image tag {ref.tag}"
