"""Where a reverse proxy's configuration forwards: pure parsing of nginx, Caddyfile and other
proxy configuration text, and of the container labels Traefik and caddy-docker-proxy read.

Each parser answers with `Target`s (host, port, the directive that names them) and with the
directives it could not resolve (a variable, a placeholder), so the caller can tell "forwards to
faktory:7420", "forwards elsewhere" and "could not be decided" apart. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from faktctl.secretvalue import hide_url_userinfo

WEB_PORT = 7420
_DEFAULT_PORTS = {"http": 80, "https": 443, "h2c": 80, "ws": 80, "wss": 443}
_URL = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?:[^@/]*@)?"
    r"(?P<host>\[[^\]]*\]|[^:/?#@]*)(?::(?P<port>\d+))?"
)


redact = hide_url_userinfo  # a directive fit for a message: `http://user:pw@host` hidden


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    directive: str  # as written (credentials hidden), e.g. "proxy_pass http://faktory:7420"

    def __post_init__(self) -> None:
        object.__setattr__(self, "directive", redact(self.directive))


@dataclass
class Forwards:
    targets: list[Target] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # directives naming a variable

    def add(self, address: str, directive: str, unresolved: str | None = None) -> None:
        """Record where `address` points, or that it cannot be resolved here."""
        target = parse_target(address, directive)
        if target is None:
            self.unresolved.append(redact(unresolved or directive))
        else:
            self.targets.append(target)

    def to(self, names: Iterable[str], port: int = WEB_PORT) -> list[Target]:
        wanted = {n.lower() for n in names}
        return [t for t in self.targets if t.host.lower() in wanted and t.port == port]


def strip_comments(text: str) -> str:
    """Drop `#` comments (nginx, Caddyfile, HAProxy, YAML, TOML all use them)."""
    return "\n".join(re.sub(r"(^|\s)#.*$", r"\1", line) for line in text.splitlines())


def parse_target(text: str, directive: str, default_port: int = 80) -> Target | None:
    """`http://host:port/path`, `host:port`, `host` -> a Target; None for a unix socket or an
    address with a variable or placeholder in it."""
    if any(c in text for c in "${}") or text.startswith("unix:"):
        return None
    match = _URL.match(text.strip())
    if match is None or not match.group("host"):
        return None
    scheme = (match.group("scheme") or "").lower()
    port = match.group("port")
    number = int(port) if port else _DEFAULT_PORTS.get(scheme, default_port)
    return Target(match.group("host").strip("[]"), number, directive)


# --- nginx -----------------------------------------------------------------------------------

_UPSTREAM = re.compile(r"\bupstream\s+([^\s{]+)\s*\{([^}]*)\}", re.S)
_SERVER = re.compile(r"(?:^|[;{\s])server\s+([^\s;]+)[^;]*;")
_SET = re.compile(r"\bset\s+\$(\w+)\s+[\"']?([^\"';\s]+)[\"']?\s*;")
_PASS = re.compile(r"\b(proxy_pass|grpc_pass|uwsgi_pass|fastcgi_pass|scgi_pass)\s+([^;\s]+)\s*;")


def nginx_forwards(text: str) -> Forwards:
    """The addresses nginx forwards to: `proxy_pass` (and the other *_pass directives) with
    `upstream` blocks and `set $var` values resolved."""
    text = strip_comments(text)
    upstreams: dict[str, list[str]] = {}
    for name, body in _UPSTREAM.findall(text):
        upstreams[name] = _SERVER.findall(body)
    variables = dict(_SET.findall(text))
    found = Forwards()
    for verb, raw in _PASS.findall(text):
        value = re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: variables.get(m[1] or m[2], m[0]), raw)
        directive = f"{verb} {raw}"
        match = _URL.match(value)
        host = match.group("host") if match else ""
        if host in upstreams and not (match and match.group("port")):
            for server in upstreams[host]:
                found.add(server, f"{directive} (upstream {host}: server {server})")
            continue
        found.add(value, directive)
    return found


# --- Caddyfile -------------------------------------------------------------------------------


def caddy_forwards(text: str) -> Forwards:
    """The upstreams of every `reverse_proxy` directive (inline, and `to` lines in its block)."""
    found = Forwards()
    inside = 0  # brace depth of the reverse_proxy block we are in (0: none)
    depth = 0
    for line in strip_comments(text).splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "reverse_proxy":
            found = _caddy_upstreams(found, words[1:], "reverse_proxy", skip_matcher=True)
            if words[-1] == "{":
                inside = depth + 1
        elif inside and words[0] == "to":
            found = _caddy_upstreams(found, words[1:], "reverse_proxy … to", skip_matcher=False)
        depth += line.count("{") - line.count("}")
        if inside and depth < inside:
            inside = 0
    return found


def _caddy_upstreams(found: Forwards, words: list[str], verb: str, skip_matcher: bool) -> Forwards:
    words = [w for w in words if w != "{"]
    if skip_matcher and words and words[0].startswith(("/", "@", "*")):
        words = words[1:]
    for word in words:
        found.add(word, f"{verb} {word}")
    return found


# --- any other proxy's configuration -----------------------------------------------------------

_ADDRESS = re.compile(r"(?:(?:https?|h2c|tcp)://)?([A-Za-z0-9_][A-Za-z0-9_.-]*):(\d{1,5})\b")


def generic_forwards(text: str) -> Forwards:
    """Every `host:port` written in a configuration (HAProxy `server x faktory:7420`, Traefik's
    file provider `url: http://faktory:7420`, Apache `ProxyPass`, Envoy...)."""
    found = Forwards()
    for line in strip_comments(text).splitlines():
        for host, port in _ADDRESS.findall(line):
            found.targets.append(Target(host, int(port), line.strip()))
    return found


def mentions(text: str, names: Iterable[str], port: int = WEB_PORT) -> bool:
    """The configuration names one of `names` and the port, though not as `host:port`."""
    body = strip_comments(text)
    named = any(re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", body) for n in names)
    return named and re.search(rf"(?<!\d){port}(?!\d)", body) is not None


# --- container labels --------------------------------------------------------------------------

_TRAEFIK_PORT = re.compile(r"^traefik\.(?:http|tcp)\.services\.[^.]+\.loadbalancer\.server\.port$")


@dataclass(frozen=True)
class TraefikLabels:
    enabled: bool | None  # traefik.enable: True, False, None when not set
    ports: tuple[int, ...]  # loadbalancer.server.port values
    routed: bool  # any traefik.* label besides enable (routers, services, middlewares)
    port_label: str | None  # the first port label as written, for messages


def traefik_labels(labels: Mapping[str, str]) -> TraefikLabels:
    enable = labels.get("traefik.enable")
    enabled = None if enable is None else enable.strip().lower() == "true"
    ports: list[int] = []
    shown = None
    for key, value in labels.items():
        if _TRAEFIK_PORT.match(key.lower()) and value.strip().isdigit():
            ports.append(int(value))
            shown = shown or f"{key}={value}"
    routed = any(k.lower().startswith("traefik.") and k.lower() != "traefik.enable" for k in labels)
    return TraefikLabels(enabled, tuple(ports), routed, shown)


_UPSTREAMS = re.compile(r"\{\{\s*upstreams\s*(?:(https?|h2c)\s*)?(\d+)?\s*\}\}")
_CADDY_KEY = re.compile(r"^caddy(?:_\d+)?(?:\.[^.]+)*\.reverse_proxy$")


def caddy_label_forwards(labels: Mapping[str, str], names: Iterable[str]) -> Forwards:
    """caddy-docker-proxy: `caddy.reverse_proxy: "{{upstreams 7420}}"` on the service itself
    (port 80 when `{{upstreams}}` names none), or a literal `faktory:7420`."""
    found = Forwards()
    own = next(iter(names), "")
    for key, value in labels.items():
        if not _CADDY_KEY.match(key.lower()):
            continue
        directive = f"{key}: {value}"
        for scheme, port in _UPSTREAMS.findall(value):
            number = int(port) if port else _DEFAULT_PORTS.get(scheme.lower(), 80)
            found.targets.append(Target(own, number, directive))
        for word in _UPSTREAMS.sub("", value).split():
            found.add(word, directive)
    return found
