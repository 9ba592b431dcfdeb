"""Reverse proxies in a compose file that forward to a Faktory server's dashboard (7420).

A proxy service is recognised by its image (or the base image of its `build:`): nginx,
openresty, Traefik, Caddy, nginx-proxy, HAProxy, Envoy, Apache httpd. What it forwards to is
read from the places each one keeps it:

- nginx / openresty: mounted configuration files (`proxy_pass`, `upstream`, `set $var`);
- nginx-proxy (jwilder/nginxproxy): `VIRTUAL_HOST` + `VIRTUAL_PORT` on the Faktory service;
- Traefik: `traefik.*` labels on the Faktory service, the Traefik command line / static file for
  `exposedByDefault` (Traefik's default is true), and file-provider configuration;
- Caddy: a mounted Caddyfile (`reverse_proxy`), or caddy-docker-proxy `caddy.*` labels;
- the others: `host:port` in their mounted configuration.

Configuration files are read from the host with the capped reader (regular files only, at
most 64 KiB each, at most 64 files a proxy). When the answer cannot be read (no configuration
mounted, an external config, a file that is missing or too large, an address built from a
variable), the route is kept as "undecided" with the reason, never dropped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from faktctl.audit.model import EnvVar, MountFact, PortFact, ProxyRoute
from faktctl.audit.sources.compose import proxyconf
from faktctl.audit.sources.compose import syntax as syntax
from faktctl.audit.sources.compose.file import Service
from faktctl.audit.sources.secretfacts import read_config
from faktctl.audit.sources.yamlsrc import LineDict, LineList
from faktctl.faktory.images import parse_image

MAX_FILES = 64
MAX_DEPTH = 3
_SKIP_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".p12", ".pfx", ".der", ".gz", ".png", ".ico")
_CONTENT_TARGETS = (
    "/usr/share/nginx/html",
    "/var/www",
    "/srv",
    "/data",
    "/config",
    "/etc/letsencrypt",
    "/etc/ssl",
    "/certs",
    "/letsencrypt",
    "/var/log",
    "/var/cache",
)
_CONFIG_NAME = re.compile(
    r"(caddyfile|\.conf|\.toml|\.ya?ml|\.cfg|\.json|\.template|\.inc)$", re.IGNORECASE
)


@dataclass(frozen=True)
class Upstream:
    """A Faktory service as a proxy sees it."""

    service: Service
    env: dict[str, EnvVar]
    names: frozenset[str]  # service name, container_name, hostname, network aliases
    labels: dict[str, str]


@dataclass
class Config:
    texts: list[tuple[str, str]]  # (shown path, text)
    problems: list[str]  # why a mounted configuration could not be read
    mounted: bool  # any configuration is mounted at all


def kind_of(image: str | None) -> str | None:
    """The kind of proxy an image runs, or None."""
    if not image:
        return None
    ref = parse_image(image)
    repo, name = ref.repository.lower(), ref.name.lower()
    if "traefik" in name:
        return "traefik"
    if "caddy" in name:
        return "caddy-docker-proxy" if "docker-proxy" in repo else "caddy"
    if "nginx-proxy-manager" in repo:
        return "nginx-proxy-manager"
    if "nginx-proxy" in name or name == "docker-gen":
        return "nginx-proxy"
    if "nginx" in name or "openresty" in name or name == "angie":
        return "nginx"
    for other in ("haproxy", "envoy", "httpd", "apache"):
        if other in name:
            return other
    return None


def labels_of(svc: Service) -> dict[str, str]:
    raw = svc.data.get("labels")
    found: dict[str, str] = {}
    if isinstance(raw, LineDict):
        for key, value in raw.items():
            found[str(key)] = svc.c.compose_text(value, raw.line_of(key))
    elif isinstance(raw, LineList):
        for index, item in enumerate(raw):
            text = svc.c.compose_text(item, raw.line_of(index))
            key, _, value = text.partition("=")
            found[key.strip()] = value.strip()
    return found


def _networks(svc: Service) -> set[str] | None:
    """The compose networks of a service; None when it shares another's (network_mode)."""
    if svc.data.get("network_mode") is not None:
        return None
    raw = svc.data.get("networks")
    if isinstance(raw, LineDict):
        return {str(k) for k in raw}
    if isinstance(raw, LineList):
        return {str(k) for k in raw}
    return {"default"}


def names_of(svc: Service) -> frozenset[str]:
    names = {svc.name}
    for key in ("container_name", "hostname"):
        value = svc.text(key)
        if value:
            names.add(value)
    raw = svc.data.get("networks")
    if isinstance(raw, LineDict):
        for settings in raw.values():
            aliases = settings.get("aliases") if isinstance(settings, LineDict) else None
            if isinstance(aliases, list):
                names.update(str(a) for a in aliases)
    return frozenset(names)


def _link_names(proxy: Service, upstream: Service) -> set[str]:
    """Names the proxy gives the upstream through `links: [faktory:alias]`."""
    raw = proxy.data.get("links")
    found: set[str] = set()
    if isinstance(raw, list):
        for item in raw:
            service, _, alias = str(item).partition(":")
            if service == upstream.name and alias:
                found.add(alias)
    return found


def _is_config_target(target: str) -> bool:
    if target.endswith("docker.sock"):
        return False
    if any(target == t or target.startswith(t + "/") for t in _CONTENT_TARGETS):
        return False
    return target.startswith(("/etc/", "/usr/local/etc/", "/usr/local/openresty/")) or bool(
        _CONFIG_NAME.search(target)
    )


def _read_tree(root: Path, shown: str) -> tuple[list[tuple[str, str]], list[str]]:
    texts: list[tuple[str, str]] = []
    problems: list[str] = []
    count = 0
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if len(here.parts) - base_depth >= MAX_DEPTH:
            dirs[:] = []
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(_SKIP_SUFFIXES):
                continue
            count += 1
            if count > MAX_FILES:
                problems.append(f"{shown} holds more than {MAX_FILES} files")
                return texts, problems
            path = here / name
            relative = f"{shown}/{path.relative_to(root)}"
            text, why = read_config(path)
            if text is not None:
                texts.append((relative, text))
            elif why and "larger" in why:
                problems.append(f"{relative}: {why}")
    return texts, problems


def read_proxy_config(svc: Service) -> Config:
    """The configuration files a proxy service mounts (binds and compose configs)."""
    config = Config([], [], False)
    mounts: list[MountFact] = syntax.volumes(svc) + syntax.references(svc, "configs", "")
    for mount in mounts:
        if mount.kind not in {"bind", "config"}:
            continue
        # a compose config is configuration wherever it lands (the short syntax mounts it at
        # /<name>, which the proxy's command may point to); a bind only on a config path
        if mount.kind == "bind" and not _is_config_target(mount.target):
            continue
        config.mounted = True
        if mount.kind == "config":
            if mount.content is not None:
                config.texts.append((f"config `{mount.source}`", mount.content))
            else:
                config.problems.append(
                    f"config `{mount.source}` at {mount.target} is external or empty here"
                )
            continue
        if mount.host_path is None:
            config.problems.append(f"the bind at {mount.target} names no host path")
            continue
        host = Path(mount.host_path)
        shown = svc.c.shown(host)
        if host.is_dir():
            texts, problems = _read_tree(host, shown)
            config.texts += texts
            config.problems += problems
            continue
        text, why = read_config(host)
        if text is None:
            config.problems.append(f"{shown} (mounted at {mount.target}): {why}")
        else:
            config.texts.append((shown, text))
    return config


# --- Traefik settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class TraefikSettings:
    docker: bool  # the docker (or swarm) provider is on
    exposed_by_default: bool | None  # None: not set anywhere readable (Traefik: true)
    where: str  # where exposedByDefault was read


_EXPOSED = re.compile(r"exposedbydefault\s*[:=]\s*[\"']?(true|false)", re.IGNORECASE)


def traefik_settings(svc: Service, config: Config, env: dict[str, EnvVar]) -> TraefikSettings:
    argv, _ = svc.argv(None)
    words = [w.lower() for w in (argv or ())]
    docker = any(w.startswith("--docker") or ".docker" in w or ".swarm" in w for w in words)
    docker = docker or any(k.startswith("TRAEFIK_PROVIDERS_DOCKER") for k in env)
    for _, text in config.texts:
        lowered = proxyconf.strip_comments(text).lower()
        docker = docker or ("providers" in lowered and "docker" in lowered)
    mounts = syntax.volumes(svc)
    docker = docker or any(m.target.endswith("docker.sock") for m in mounts)
    for word in words:
        if "exposedbydefault" in word and ("docker" in word or "swarm" in word):
            value = word.partition("=")[2] or "true"
            return TraefikSettings(docker, value == "true", f"`{word}`")
    for name in ("TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT", "TRAEFIK_DOCKER_EXPOSEDBYDEFAULT"):
        var = env.get(name)
        if var is not None and var.value is not None:
            return TraefikSettings(docker, var.value.lower() == "true", f"{name}={var.value}")
    for shown, text in config.texts:
        match = _EXPOSED.search(proxyconf.strip_comments(text))
        if match:
            return TraefikSettings(docker, match.group(1).lower() == "true", f"{shown}")
    return TraefikSettings(docker, None, "")


# --- the routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    state: str  # forwards, undecided, none
    how: str


NONE = Verdict("none", "")


def _from_config(
    kind: str, config: Config, names: frozenset[str], need_config: bool = True
) -> Verdict:
    found = proxyconf.Forwards()
    for shown, text in config.texts:
        if kind == "nginx":
            parsed = proxyconf.nginx_forwards(text)
        elif kind in {"caddy", "caddy-docker-proxy"} and not shown.lower().endswith(".json"):
            parsed = proxyconf.caddy_forwards(text)
        else:
            parsed = proxyconf.generic_forwards(text)
        hits = parsed.to(names)
        if hits:
            return Verdict("forwards", f"`{hits[0].directive}` in {shown}")
        found.unresolved += [f"`{d}` in {shown}" for d in parsed.unresolved]
        if kind not in {"nginx", "caddy"} and proxyconf.mentions(text, names):
            found.unresolved.append(f"{shown} names the Faktory service and 7420")
    reasons: list[str] = []
    if found.unresolved:
        reasons.append(f"an address is built at run time ({found.unresolved[0]})")
    reasons += config.problems
    if need_config and not config.mounted:
        reasons.append("no configuration file is mounted (it is built into the image)")
    if reasons:
        return Verdict("undecided", "; ".join(reasons))
    return NONE


def _traefik(
    labels: proxyconf.TraefikLabels,
    settings: TraefikSettings | None,
    config: Config,
    names: frozenset[str],
) -> Verdict:
    from_files = _from_config("traefik", config, names, need_config=False)
    if from_files.state == "forwards":
        return from_files
    if settings is not None and not settings.docker:
        return from_files
    if labels.enabled is False:
        return from_files
    exposed = settings.exposed_by_default if settings is not None else None
    if labels.enabled is True:
        why = "traefik.enable=true"
    elif exposed is False:
        return from_files
    elif exposed is True:
        why = f"Traefik exposes every container ({settings.where if settings else ''})"
    else:
        why = (
            "Traefik exposes every container by default (exposedByDefault is not set to false "
            "here; assumed true, its default)"
        )
    if 7420 in labels.ports:
        return Verdict("forwards", f"`{labels.port_label}` ({why})")
    if labels.ports:
        return from_files
    return Verdict(
        "undecided",
        f"{why} and no loadbalancer.server.port label names the port: Traefik then picks one of "
        "the ports the image exposes (7419, 7420) itself",
    )


def _nginx_proxy(env: dict[str, EnvVar]) -> Verdict:
    host = env.get("VIRTUAL_HOST")
    if host is None or host.value == "":
        return NONE
    port = env.get("VIRTUAL_PORT")
    if port is None:
        return NONE  # several exposed ports and no VIRTUAL_PORT: nginx-proxy uses port 80
    if port.value is None:
        return Verdict("undecided", f"VIRTUAL_PORT comes from {port.detail}, not set here")
    if port.value.strip() == "7420":
        return Verdict("forwards", "VIRTUAL_HOST with VIRTUAL_PORT=7420 on the Faktory service")
    return NONE


def _route(proxy: Service, kind: str, upstream: Upstream, config: Config) -> Verdict:
    names = upstream.names | _link_names(proxy, upstream.service)
    docker_sock = any(m.target.endswith("docker.sock") for m in syntax.volumes(proxy))
    if kind == "traefik":
        env, _ = proxy.environment()
        settings = traefik_settings(proxy, config, env)
        return _traefik(proxyconf.traefik_labels(upstream.labels), settings, config, names)
    if kind == "nginx-proxy" or (kind == "nginx" and docker_sock and not config.texts):
        return _nginx_proxy(upstream.env)
    if kind in {"caddy", "caddy-docker-proxy"}:
        if kind == "caddy-docker-proxy" or docker_sock:
            hits = proxyconf.caddy_label_forwards(upstream.labels, sorted(names)).to(names)
            if hits:
                return Verdict("forwards", f"label `{hits[0].directive}` (caddy-docker-proxy)")
            return _from_config(kind, config, names, need_config=False)
        return _from_config(kind, config, names)
    if kind == "nginx-proxy-manager":
        return Verdict("undecided", "nginx-proxy-manager keeps its proxy hosts in its own database")
    return _from_config(kind, config, names)


def _shares_network(proxy: Service, upstream: Upstream) -> bool:
    ours, theirs = _networks(proxy), _networks(upstream.service)
    if ours is None or theirs is None:
        return True
    return bool(ours & theirs)


def upstream_of(svc: Service, env: dict[str, EnvVar]) -> Upstream:
    return Upstream(svc, env, names_of(svc), labels_of(svc))


def _external_routes(upstream: Upstream, kinds: set[str]) -> list[ProxyRoute]:
    """Labels and variables that route the dashboard through a proxy not in this file."""
    routes: list[ProxyRoute] = []
    where = upstream.service.loc("labels") if "labels" in upstream.service.data else None
    traefik = proxyconf.traefik_labels(upstream.labels)
    if "traefik" not in kinds and traefik.enabled and 7420 in traefik.ports:
        routes.append(
            ProxyRoute(
                "a Traefik outside this file",
                "traefik",
                upstream.service.name,
                "undecided",
                f"`{traefik.port_label}` with traefik.enable=true routes the dashboard through a "
                "Traefik that is not in this file: where it publishes cannot be seen here",
                in_file=False,
                location=where,
            )
        )
    caddy = proxyconf.caddy_label_forwards(upstream.labels, sorted(upstream.names))
    hits = caddy.to(upstream.names)
    if not kinds & {"caddy", "caddy-docker-proxy"} and hits:
        routes.append(
            ProxyRoute(
                "a caddy-docker-proxy outside this file",
                "caddy-docker-proxy",
                upstream.service.name,
                "undecided",
                f"label `{hits[0].directive}` routes the dashboard through a Caddy that is not "
                "in this file: where it publishes cannot be seen here",
                in_file=False,
                location=where,
            )
        )
    proxied = _nginx_proxy(upstream.env)
    if not kinds & {"nginx-proxy", "nginx"} and proxied.state == "forwards":
        routes.append(
            ProxyRoute(
                "an nginx-proxy outside this file",
                "nginx-proxy",
                upstream.service.name,
                "undecided",
                f"{proxied.how} routes the dashboard through an nginx-proxy that is not in this "
                "file: where it publishes cannot be seen here",
                in_file=False,
                location=upstream.service.loc("environment"),
            )
        )
    return routes


def gather_proxies(
    upstreams: list[Upstream], candidates: list[tuple[Service, str | None]]
) -> tuple[tuple[ProxyRoute, ...], tuple[str, ...]]:
    """The routes from proxy services to each Faktory server's 7420, and every proxy service
    looked at. `candidates` are the other services with the image to judge them by."""
    routes: list[ProxyRoute] = []
    seen: list[str] = []
    kinds: set[str] = set()
    for proxy, image in candidates:
        kind = kind_of(image)
        if kind is None:
            continue
        kinds.add(kind)
        seen.append(f"{proxy.name} ({kind})")
        config = read_proxy_config(proxy)
        published: tuple[PortFact, ...] = tuple(syntax.ports(proxy))
        host = proxy.text("network_mode") == "host"
        for upstream in upstreams:
            if not _shares_network(proxy, upstream):
                continue
            verdict = _route(proxy, kind, upstream, config)
            if verdict.state == "none":
                continue
            routes.append(
                ProxyRoute(
                    proxy.name,
                    kind,
                    upstream.service.name,
                    verdict.state,  # type: ignore[arg-type]
                    verdict.how,
                    published,
                    host,
                    True,
                    proxy.where,
                )
            )
    for upstream in upstreams:
        routes += _external_routes(upstream, kinds)
    return tuple(routes), tuple(seen)
