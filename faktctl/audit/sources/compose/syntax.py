"""Compose syntax forms the audit resolves: volumes and tmpfs (short and long), secrets and
configs references, ports (short, long, ranges, IPv6), restart, healthcheck, memory, replicas.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from faktctl.audit.model import (
    HealthcheckFact,
    Location,
    MountFact,
    Origin,
    PortFact,
    SwarmFacts,
)
from faktctl.audit.sources.compose.file import ComposeFile, Service, parse_size
from faktctl.audit.sources.secretfacts import read_small
from faktctl.audit.sources.yamlsrc import LineDict, LineList

# Where a bind-mounted host file may hold configuration or a password worth reading.
_READABLE_TARGETS = ("/etc/faktory", "/run/secrets", "/.faktory/conf.d", "/root/.faktory")


def _is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or bool(re.match(r"^[A-Za-z]:[\\/]", source))


def _dir_entries(path: Path) -> dict[str, str] | None:
    """Small files directly in `path` and in `path/conf.d`, by relative name."""
    entries: dict[str, str] = {}
    try:
        for folder, prefix in ((path, ""), (path / "conf.d", "conf.d/")):
            if not folder.is_dir():
                continue
            for child in sorted(folder.iterdir()):
                if child.is_file():
                    content = read_small(child)
                    if content is None:
                        return None
                    entries[prefix + child.name] = content
    except OSError:
        return None
    return entries


def _bind(
    compose: ComposeFile, source: str, target: str, read_only: bool, where: Location
) -> MountFact:
    host = compose.host_path(source)
    readable = any(t in target for t in _READABLE_TARGETS) or target.endswith(".toml")
    is_dir: bool | None = None
    content = None
    entries = None
    if host.is_dir():
        is_dir = True
        entries = _dir_entries(host) if readable else None
    elif host.is_file():
        is_dir = False
        content = read_small(host) if readable else None
    return MountFact(
        "bind",
        target,
        compose.shown(host),
        read_only,
        content,
        is_dir,
        entries,
        str(host),
        location=where,
    )


def _short_volume(compose: ComposeFile, text: str, where: Location) -> MountFact | None:
    parts = text.split(":")
    if len(parts) == 1:
        return MountFact("anonymous", parts[0], None, location=where)
    source, target = parts[0], parts[1]
    read_only = len(parts) > 2 and "ro" in parts[2].split(",")
    if not source:
        return MountFact("anonymous", target, None, read_only, location=where)
    if _is_path(source):
        return _bind(compose, source, target, read_only, where)
    return MountFact("volume", target, source, read_only, location=where)


def _long_volume(compose: ComposeFile, item: LineDict, where: Location) -> MountFact | None:
    line = where.line or item.line
    kind = compose.text(item.get("type", "volume"), line) or "volume"
    target = compose.text(item.get("target", ""), line) or ""
    source = compose.text(item.get("source"), line) if item.get("source") is not None else None
    read_only = bool(item.get("read_only", False))
    if not target:
        return None
    if kind == "tmpfs":
        return MountFact("tmpfs", target, None, location=where)
    if kind == "bind" and source:
        return _bind(compose, source, target, read_only, where)
    if kind == "volume":
        if not source:
            return MountFact("anonymous", target, None, read_only, location=where)
        return MountFact("volume", target, source, read_only, location=where)
    return MountFact("bind", target, source, read_only, location=where)


def volumes(svc: Service) -> list[MountFact]:
    mounts: list[MountFact] = []
    raw = svc.data.get("volumes")
    if isinstance(raw, LineList):
        for index, item in enumerate(raw):
            line = raw.line_of(index)
            where = svc.c.loc(line)
            mount: MountFact | None
            if isinstance(item, LineDict):
                mount = _long_volume(svc.c, item, where)
            else:
                text = svc.c.compose_text(item, line)
                mount = _short_volume(svc.c, text, where) if text else None
            if mount is not None:
                mounts.append(mount)
    tmpfs = svc.data.get("tmpfs")
    if tmpfs is not None:
        items = tmpfs if isinstance(tmpfs, list) else [tmpfs]
        for item in items:
            text = svc.c.text(item, svc.line("tmpfs")) or ""
            target = text.split(":", 1)[0].strip()
            if target:
                mounts.append(MountFact("tmpfs", target, None, location=svc.loc("tmpfs")))
    return mounts


def _top_level_source(
    compose: ComposeFile, section: str, name: str
) -> tuple[str | None, str | None, Origin | None]:
    """(content, host path, content origin) of a top-level secret or config."""
    table = compose.doc.get(section)
    entry = table.get(name) if isinstance(table, LineDict) else None
    if not isinstance(entry, LineDict):
        return None, None, None
    line = entry.line
    if "file" in entry:
        text = compose.text(entry["file"], line)
        if text is None:
            return None, None, None
        host = compose.host_path(text)
        return read_small(host), str(host), None
    if "content" in entry:
        resolved = compose.resolve(entry["content"], line)
        return resolved.value, None, ("interpolated" if resolved.interpolated else "literal")
    if "environment" in entry:
        variable = str(entry["environment"])
        return compose.environ.get(variable), None, "host-env"
    return None, None, None


def references(svc: Service, section: str, default_dir: str) -> list[MountFact]:
    raw = svc.data.get(section)
    if not isinstance(raw, LineList):
        return []
    mounts = []
    kind = "secret" if section == "secrets" else "config"
    for index, item in enumerate(raw):
        line = raw.line_of(index)
        if isinstance(item, LineDict):
            source = svc.c.text(item.get("source", ""), line) or ""
            target = svc.c.text(item.get("target", source), line) or source
        else:
            source = target = svc.c.text(item, line) or ""
        if not source:
            continue
        if not target.startswith("/"):
            target = f"{default_dir}/{target}"
        content, host, origin = _top_level_source(svc.c, section, source)
        mounts.append(
            MountFact(
                kind,  # type: ignore[arg-type]
                target,
                source,
                True,
                content,
                False,
                None,
                host,
                origin,
                svc.c.loc(line),
            )
        )
    return mounts


# --- ports -----------------------------------------------------------------------------------


def _port_range(text: str) -> list[int]:
    text = text.strip()
    if "-" in text:
        low, _, high = text.partition("-")
        if low.isdigit() and high.isdigit() and int(low) <= int(high) <= 65535:
            return list(range(int(low), int(high) + 1))
        return []
    return [int(text)] if text.isdigit() else []


def split_short_port(text: str) -> tuple[str, str, str, str]:
    """`[[IP:]HOST:]CONTAINER[/PROTO]` -> (ip, host ports, container ports, protocol)."""
    body, _, protocol = text.partition("/")
    if body.startswith("["):
        ip, _, rest = body[1:].partition("]")
        host, _, container = rest.lstrip(":").rpartition(":")
        return ip, host, container, protocol or "tcp"
    head, _, container = body.rpartition(":")
    if not head:
        return "", "", container, protocol or "tcp"
    ip, _, host = head.rpartition(":")
    return ip, host, container, protocol or "tcp"


def _ports_from(
    ip: str, host: str, container: str, protocol: str, raw: str, where: Location
) -> list[PortFact]:
    inside = _port_range(container)
    outside = _port_range(host) if host else []
    facts = []
    for index, port in enumerate(inside):
        published = str(outside[index]) if len(outside) == len(inside) else host
        facts.append(PortFact(port, ip, published, protocol, raw, where))
    return facts


def ports(svc: Service) -> list[PortFact]:
    raw = svc.data.get("ports")
    if not isinstance(raw, LineList):
        return []
    facts: list[PortFact] = []
    for index, item in enumerate(raw):
        line = raw.line_of(index)
        where = svc.c.loc(line)
        if isinstance(item, LineDict):
            target = svc.c.compose_text(item.get("target", ""), line)
            published = svc.c.compose_text(item.get("published", ""), line)
            ip = svc.c.compose_text(item.get("host_ip", ""), line)
            protocol = svc.c.compose_text(item.get("protocol", "tcp"), line) or "tcp"
            shown = f"{ip + ':' if ip else ''}{published}:{target}".lstrip(":")
            mode = svc.c.compose_text(item.get("mode", ""), line) or None
            if mode == "ingress":
                # a swarm's routing mesh ignores host_ip: the port opens on every node
                ip, shown = "", f"{shown} (swarm ingress mode: every interface of every node)"
            elif mode == "host" and not ip:
                shown = f"{shown} (swarm host mode: every interface of the task's node)"
            found = _ports_from(ip, published, target, protocol, shown, where)
            facts += [replace(f, swarm_mode=mode) for f in found]
            continue
        text = svc.c.compose_text(item, line)
        if text:
            shown = text if text == str(item) else f"{item} -> {text}{_unset_note(svc, item)}"
            facts += _ports_from(*split_short_port(text), shown, where)
    return facts


def unknown_ports(svc: Service) -> list[str]:
    """Short-syntax ports whose container side is an unset variable: compose refuses an empty
    container port, and which Faktory port it would be is not known here (never dropped
    silently)."""
    raw = svc.data.get("ports")
    if not isinstance(raw, LineList):
        return []
    found = []
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            continue
        text = svc.c.compose_text(item, raw.line_of(index))
        if text is not None and not split_short_port(text)[2].strip():
            found.append(
                f"{svc.name}: port `{item}`{_unset_note(svc, item)}; its container side is "
                "empty, which compose refuses: set the variable to audit that port"
            )
    return found


def _unset_note(svc: Service, raw: object) -> str:
    """Which variables of a port were not set here, and what compose makes of them."""
    if not isinstance(raw, str):
        return ""
    names = sorted({u.name for u in svc.c.resolve(raw, 0).uses if u.source == "unset"})
    if not names:
        return ""
    shown = ", ".join(f"${{{n}}}" for n in names)
    return f", assuming {shown} unset as here: compose leaves it empty"


# --- the rest of a server --------------------------------------------------------------------


def restart(svc: Service) -> str | None:
    restart = svc.text("restart")
    if restart is not None:
        return restart
    deploy = svc.data.get("deploy")
    policy = deploy.get("restart_policy") if isinstance(deploy, LineDict) else None
    if isinstance(policy, LineDict):
        condition = str(policy.get("condition", "any"))
        return {"any": "always", "none": "no"}.get(condition, condition)
    return None


def restart_text(svc: Service) -> str | None:
    """The restart policy as the file spells it, key included."""
    restart = svc.text("restart")
    if restart is not None:
        return f"restart: {restart}"
    deploy = svc.data.get("deploy")
    policy = deploy.get("restart_policy") if isinstance(deploy, LineDict) else None
    if isinstance(policy, LineDict):
        condition = policy.get("condition")
        if condition is None:
            return "deploy.restart_policy (condition: any, the default)"
        return f"deploy.restart_policy.condition: {condition}"
    return None


def healthcheck(svc: Service) -> HealthcheckFact | None:
    raw = svc.data.get("healthcheck")
    if not isinstance(raw, LineDict):
        return None
    if raw.get("disable") is True:
        return HealthcheckFact((), disabled=True)
    test = raw.get("test")
    if isinstance(test, list):
        words = tuple(str(part) for part in test)
        if words[:1] == ("NONE",):
            return HealthcheckFact(words, disabled=True)
        return HealthcheckFact(words)
    if isinstance(test, str):
        return HealthcheckFact(("CMD-SHELL", test))
    return HealthcheckFact(())


def memory(svc: Service) -> int | None:
    for key in ("mem_limit", "memory"):
        if key in svc.data:
            return parse_size(svc.text(key))
    deploy = svc.data.get("deploy")
    resources = deploy.get("resources") if isinstance(deploy, LineDict) else None
    limits = resources.get("limits") if isinstance(resources, LineDict) else None
    if isinstance(limits, LineDict) and "memory" in limits:
        return parse_size(limits["memory"])
    return None


SWARM_ONLY_DEPLOY_KEYS = ("placement", "update_config", "rollback_config", "endpoint_mode", "mode")


def swarm(svc: Service) -> SwarmFacts | None:
    """The swarm side of a service written for `docker stack deploy` (its `deploy:` has a key
    only a swarm reads); None for a plain compose service."""
    deploy = svc.data.get("deploy")
    if not isinstance(deploy, LineDict) or not any(k in deploy for k in SWARM_ONLY_DEPLOY_KEYS):
        return None
    placement = deploy.get("placement")
    raw = placement.get("constraints") if isinstance(placement, LineDict) else None
    constraints = tuple(str(c) for c in raw) if isinstance(raw, list) else ()
    update = deploy.get("update_config")
    order = update.get("order") if isinstance(update, LineDict) else None
    return SwarmFacts(constraints, str(order) if order is not None else "stop-first")


def replicas(svc: Service) -> int:
    if "scale" in svc.data:
        value = svc.text("scale")
        return int(value) if value and value.isdigit() else 1
    deploy = svc.data.get("deploy")
    if isinstance(deploy, LineDict) and "replicas" in deploy:
        value = str(deploy["replicas"])
        return int(value) if value.isdigit() else 1
    return 1
