"""faktctl audit on a Fly.io app config (fly.toml): each process group becomes a container.

What Fly does that the facts must say (fly.io/docs/reference/configuration):
- `[build] image` runs that image; otherwise `[build] dockerfile` (default ./Dockerfile) is
  built; `[processes]` commands (or `[experimental] cmd`) replace the image's CMD;
- `[[services]]` and `[http_service]` route the app's public IPs to `internal_port`;
- `[mounts]` attaches a Fly volume; everything else is lost when the Machine is replaced;
- secrets (`fly secrets set`) are environment variables that fly.toml never shows;
- `kill_timeout` (default 5 s) is the wait after `kill_signal` before SIGKILL;
- Machines restart `on-failure` unless a `[[restart]]` policy says otherwise.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from faktctl import safeyaml
from faktctl.audit.model import AuditFacts, EnvVar, HealthcheckFact, Location, MountFact, PortFact
from faktctl.audit.sources.compose.file import parse_duration
from faktctl.audit.sources.containers import Container, audit_facts, memory_size
from faktctl.audit.sources.dockerimage import read_built
from faktctl.audit.sources.secretfacts import display
from faktctl.errors import UsageError
from faktctl.faktory.images import parse_image

DEFAULT_KILL_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 256  # shared-cpu-1x
DEFAULT_RESTART = "on-failure"
_FLY_TABLE = re.compile(
    r"^\s*\[\[?(build|env|services|http_service|mounts|processes|vm)\b", re.MULTILINE
)


def looks_like_fly(text: str) -> bool:
    return bool(
        re.search(r"^\s*app\s*=", text, re.MULTILINE)
        and re.search(
            r"^\s*\[\[?(build|env|services|http_service|mounts|processes|vm)\b", text, re.MULTILINE
        )
    )


class _Lines:
    """Where a table or key of the TOML text starts (tomllib keeps no positions)."""

    def __init__(self, text: str, shown: str) -> None:
        self.lines = text.splitlines()
        self.shown = shown

    def of(self, table: str, key: str | None = None) -> Location:
        start = 0
        if table:
            header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
            for number, line in enumerate(self.lines):
                if header.match(line):
                    start = number
                    break
        if key is not None:
            pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
            for number in range(start, len(self.lines)):
                if number > start and self.lines[number].lstrip().startswith("["):
                    break
                if pattern.match(self.lines[number]):
                    return Location(self.shown, number + 1)
        return Location(self.shown, start + 1)


def gather_fly(path: Path, now: datetime) -> AuditFacts:
    shown = display(path)
    text = safeyaml.read_text(path, shown, what="fly.toml")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{shown}: invalid TOML: {err}") from None
    lines = _Lines(text, shown)
    notes: list[str] = []
    base = _base(doc, path.parent, lines, notes)
    processes = doc.get("processes")
    groups: dict[str, str | None] = (
        {str(k): str(v) for k, v in processes.items()}
        if isinstance(processes, dict) and processes
        else {"app": None}
    )
    boxes = []
    for group, command in groups.items():
        box = _group(doc, base, group, command, len(groups) > 1, lines, notes)
        boxes.append(box)
    app = str(doc.get("app") or path.parent.name)
    return audit_facts("fly", shown, f"Fly.io app `{app}`", boxes, now, notes)


def _base(doc: dict[str, Any], folder: Path, lines: _Lines, notes: list[str]) -> Container:
    build: dict[str, Any] = doc["build"] if isinstance(doc.get("build"), dict) else {}
    box = Container(str(doc.get("app") or "app"), None, entrypoint_unknown=True)
    if build.get("image"):
        box.image = str(build["image"])
        box.locations["image"] = lines.of("build", "image")
    else:
        built = read_built(folder / str(build.get("dockerfile") or "Dockerfile"))
        box.image = built.image
        box.entrypoint, box.command = built.entrypoint, built.cmd
        box.entrypoint_unknown = built.entrypoint is None and not (
            built.image is not None and parse_image(built.image).is_faktory
        )
        box.env.update(built.env)
        if built.image is not None:
            box.identified_by = f"built FROM {built.image}"
        if built.problem:
            notes.append(f"{box.name}: {built.problem}")
    experimental: dict[str, Any] = (
        doc["experimental"] if isinstance(doc.get("experimental"), dict) else {}
    )
    for key, attr in (("entrypoint", "entrypoint"), ("cmd", "command")):
        value = experimental.get(key)
        words = _words(value)
        if words is not None:
            setattr(box, attr, words)
            box.locations["command"] = lines.of("experimental", key)
    env: dict[str, Any] = doc["env"] if isinstance(doc.get("env"), dict) else {}
    for name, value in env.items():
        box.env[str(name)] = EnvVar(
            str(name), str(value), "literal", "[env] in fly.toml", lines.of("env", str(name))
        )
    if env:
        box.locations["environment"] = lines.of("env")
    return box


def _words(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and value:
        return tuple(str(v) for v in value)
    if isinstance(value, str) and value.strip():
        try:
            return tuple(shlex.split(value))
        except ValueError:
            return None
    return None


def _in_group(entry: Any, group: str, many: bool) -> bool:
    processes = entry.get("processes") if isinstance(entry, dict) else None
    if not isinstance(processes, list) or not processes:
        return True if not many else group == "app"
    return group in processes


def _tables(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = doc.get(key)
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _group(
    doc: dict[str, Any],
    base: Container,
    group: str,
    command: str | None,
    many: bool,
    lines: _Lines,
    notes: list[str],
) -> Container:
    name = f"{base.name}/{group}" if many else base.name
    box = Container(
        name,
        base.image,
        entrypoint=base.entrypoint,
        command=base.command,
        env=dict(base.env),
        location=lines.of("processes", group) if command is not None else lines.of("", "app"),
        locations=dict(base.locations),
        entrypoint_unknown=base.entrypoint_unknown,
        identified_by=base.identified_by,
    )
    if command is not None:
        box.command = _words(command)
        box.locations["command"] = lines.of("processes", group)
    if "FAKTORY_PASSWORD" not in box.env:
        box.env["FAKTORY_PASSWORD"] = EnvVar(
            "FAKTORY_PASSWORD",
            None,
            "reference",
            "a Fly secret, if one is set (`fly secrets list`): fly.toml never shows secrets",
            box.location,
        )
    for mount in _tables(doc, "mounts"):
        if _in_group(mount, group, many) and mount.get("destination"):
            box.mounts.append(
                MountFact(
                    "volume",
                    str(mount["destination"]).rstrip("/") or "/",
                    f"Fly volume {mount.get('source', '')}",
                    location=lines.of("mounts", "destination"),
                )
            )
            box.locations["volumes"] = lines.of("mounts")
    _routes(doc, box, group, many, lines)
    _checks(doc, box, lines)
    timeout = parse_duration(doc.get("kill_timeout")) if "kill_timeout" in doc else None
    box.stop_grace_s = timeout if timeout is not None else DEFAULT_KILL_TIMEOUT_S
    if "kill_timeout" in doc:
        box.locations["stop_grace_period"] = lines.of("", "kill_timeout")
    restart = next((r for r in _tables(doc, "restart") if _in_group(r, group, many)), None)
    if restart is not None and restart.get("policy"):
        policy = str(restart["policy"])
        box.restart = {"on-fail": "on-failure", "never": "no"}.get(policy, policy)
        box.restart_text = f"[[restart]] policy = {restart['policy']}"
        box.locations["restart"] = lines.of("restart", "policy")
    else:
        box.restart = DEFAULT_RESTART
        box.restart_text = "Fly's default restart policy, on-failure ([[restart]] not set)"
    vm = next((v for v in _tables(doc, "vm") if _in_group(v, group, many)), None)
    memory = None
    if vm is not None:
        memory = memory_size(vm.get("memory")) if vm.get("memory") else None
        if memory is None and isinstance(vm.get("memory_mb"), int):
            memory = int(vm["memory_mb"]) * 1024**2
        box.locations["memory"] = lines.of("vm")
    box.memory_bytes = memory if memory is not None else DEFAULT_MEMORY_MB * 1024**2
    notes.append(
        f"{name}: the number of Machines is set by `fly scale count`, not in fly.toml: "
        "one is assumed"
    )
    return box


def _routes(doc: dict[str, Any], box: Container, group: str, many: bool, lines: _Lines) -> None:
    http = doc.get("http_service")
    if isinstance(http, dict) and _in_group(http, group, many):
        port = http.get("internal_port")
        if isinstance(port, int):
            where = lines.of("http_service", "internal_port")
            box.ports.append(
                PortFact(
                    port,
                    "",
                    "443",
                    "tcp",
                    f"[http_service] internal_port {port}: the app's public IPs, HTTPS 443",
                    where,
                )
            )
            box.locations["ports"] = where
    for service in _tables(doc, "services"):
        port = service.get("internal_port")
        if not isinstance(port, int) or not _in_group(service, group, many):
            continue
        public = [p.get("port") for p in service.get("ports") or [] if isinstance(p, dict)]
        shown = ", ".join(str(p) for p in public) or "none"
        where = lines.of("services", "internal_port")
        for outside in public or [None]:
            box.ports.append(
                PortFact(
                    port,
                    "",
                    "" if outside is None else str(outside),
                    str(service.get("protocol") or "tcp"),
                    f"[[services]] internal_port {port}: the app's public IPs, port(s) {shown}",
                    where,
                )
            )
        box.locations["ports"] = where


def _checks(doc: dict[str, Any], box: Container, lines: _Lines) -> None:
    candidates: list[tuple[dict[str, Any], int | None, str]] = []
    checks = doc.get("checks")
    if isinstance(checks, dict):
        candidates += [(c, c.get("port"), "checks") for c in checks.values() if isinstance(c, dict)]
    for service in _tables(doc, "services"):
        port = service.get("internal_port")
        for key, kind in (("http_checks", "http"), ("tcp_checks", "tcp")):
            for check in service.get(key) or []:
                if isinstance(check, dict):
                    candidates.append(({**check, "type": kind}, port, f"services.{key}"))
    http = doc.get("http_service")
    if isinstance(http, dict):
        for check in http.get("checks") or []:
            if isinstance(check, dict):
                candidates.append(
                    ({"type": "http", **check}, http.get("internal_port"), "http_service.checks")
                )
    for check, port, table in candidates:
        number = check.get("port", port)
        test: tuple[str, ...] = ("TCP", str(number))
        if str(check.get("type", "")) == "http":
            test = ("HTTP", "GET", f"http://127.0.0.1:{number}{check.get('path', '/')}")
        box.healthcheck = HealthcheckFact(test)
        box.locations["healthcheck"] = lines.of(table)
        return
