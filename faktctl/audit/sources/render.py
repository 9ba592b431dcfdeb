"""faktctl audit on a Render blueprint (render.yaml): each service becomes a container.

What Render does that the facts must say (render.com/docs/blueprint-spec):
- `type: web` is served to the internet over HTTPS at <name>.onrender.com, routed to the port
  the service opens (`PORT` says which); `pserv` is reachable on Render's private network only;
  `worker` and `cron` have no inbound port;
- `runtime: docker` (older blueprints: `env: docker`) builds `dockerfilePath` (default
  ./Dockerfile) and its ENV is the container's environment unless `envVars` overrides it;
  `runtime: image` runs `image.url`; `dockerCommand` replaces the image's CMD;
- without `disk:` the filesystem is lost on every deploy and restart;
- `envVars` with `generateValue` or `sync: false` are stored by Render, not in the file;
- Render restarts a service that exits and waits 30 s after SIGTERM by default
  (`maxShutdownDelaySeconds`).
"""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

from faktctl import safeyaml
from faktctl.audit.model import AuditFacts, EnvVar, HealthcheckFact, Location, MountFact, PortFact
from faktctl.audit.sources import yamlsrc
from faktctl.audit.sources.containers import Container, audit_facts
from faktctl.audit.sources.dockerimage import read_built
from faktctl.audit.sources.secretfacts import display
from faktctl.audit.sources.yamlsrc import LineDict, LineList
from faktctl.errors import UsageError

SERVICE_TYPES = frozenset({"web", "pserv", "worker", "cron", "keyvalue", "redis"})
# memory of each instance type (MB), render.com/pricing
PLAN_MEMORY_MB = {
    "free": 512,
    "starter": 512,
    "standard": 2048,
    "pro": 4096,
    "pro plus": 8192,
    "pro max": 16384,
    "pro ultra": 32768,
}
DEFAULT_SHUTDOWN_S = 30.0


def looks_like_render(doc: Any) -> bool:
    """A blueprint: `services:` is a list of mappings with a Render `type`."""
    services = doc.get("services") if isinstance(doc, dict) else None
    return (
        isinstance(services, list)
        and bool(services)
        and all(isinstance(s, dict) and s.get("type") in SERVICE_TYPES for s in services)
    )


def gather_render(path: Path, now: datetime) -> AuditFacts:
    shown = display(path)
    doc = yamlsrc.load(safeyaml.read_text(path, shown, what="Render blueprint"), shown)
    if not looks_like_render(doc):
        raise UsageError(f"{shown}: not a Render blueprint (services with a Render `type`)")
    groups = _env_groups(doc, shown)
    notes: list[str] = []
    boxes = []
    for service in doc["services"]:
        if service.get("type") in {"keyvalue", "redis"}:
            continue
        boxes.append(_service(service, path.parent, shown, groups, notes))
    return audit_facts("render", shown, "Render blueprint", boxes, now, notes)


def _env_groups(doc: LineDict, shown: str) -> dict[str, dict[str, EnvVar]]:
    groups: dict[str, dict[str, EnvVar]] = {}
    for group in doc.get("envVarGroups") or []:
        if isinstance(group, LineDict) and group.get("name"):
            groups[str(group["name"])] = _env_vars(group.get("envVars"), shown, {}, [], "")
    return groups


def _env_vars(
    entries: Any,
    shown: str,
    groups: dict[str, dict[str, EnvVar]],
    notes: list[str],
    name: str,
) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    if not isinstance(entries, LineList):
        return env
    for position, entry in enumerate(entries):
        if not isinstance(entry, LineDict):
            continue
        where = Location(shown, entries.line_of(position))
        if entry.get("fromGroup") is not None:
            group = str(entry["fromGroup"])
            if group in groups:
                env.update(groups[group])
            else:
                notes.append(
                    f"{name}: env group `{group}` is not in this blueprint; its variables "
                    "are unknown here"
                )
            continue
        key = entry.get("key")
        if key is None:
            continue
        key = str(key)
        if "value" in entry:
            env[key] = EnvVar(key, str(entry["value"]), "literal", "envVars value", where)
        elif entry.get("generateValue"):
            env[key] = EnvVar(key, None, "reference", "a value Render generates", where)
        elif entry.get("sync") is False:
            env[key] = EnvVar(key, None, "reference", "set in the Render dashboard", where)
        else:
            source = next((k for k in ("fromDatabase", "fromService") if k in entry), "envVars")
            env[key] = EnvVar(key, None, "reference", source, where)
    return env


def _service(
    service: LineDict,
    folder: Path,
    shown: str,
    groups: dict[str, dict[str, EnvVar]],
    notes: list[str],
) -> Container:
    name = str(service.get("name") or "service")
    kind = str(service.get("type"))
    runtime = str(service.get("runtime") or service.get("env") or "")
    here = Location(shown, service.line)
    box = Container(name, None, location=here, entrypoint_unknown=True)
    env: dict[str, EnvVar] = {}
    if runtime == "image":
        image = service.get("image")
        url = image.get("url") if isinstance(image, dict) else image
        box.image = str(url) if url else None
    elif runtime == "docker":
        context = folder / str(service.get("dockerContext") or ".")
        dockerfile = folder / str(service.get("dockerfilePath") or "./Dockerfile")
        if not dockerfile.is_absolute() and service.get("dockerfilePath") is None:
            dockerfile = context / "Dockerfile"
        built = read_built(dockerfile)
        box.image = built.image
        box.entrypoint = built.entrypoint
        box.command = built.cmd
        box.entrypoint_unknown = built.entrypoint is None and not _official(built.image)
        env.update(built.env)
        if built.image is not None:
            box.identified_by = f"built FROM {built.image}"
        repo = str(service.get("repo") or "")
        if built.image is None and "faktory" in f"{name} {repo}".lower():
            source = f"the repository {repo}" if repo else "its Dockerfile"
            why = built.problem or "its Dockerfile does not show Faktory"
            if repo:
                why = f"{source} is not here to read ({built.problem or 'no Dockerfile'})"
            box.unconfirmed = f"it is built from {source}, and {why}"
        elif built.problem:
            notes.append(f"{name}: {built.problem}")
    if service.get("dockerCommand"):
        try:
            box.command = tuple(shlex.split(str(service["dockerCommand"])))
        except ValueError:
            notes.append(f"{name}: dockerCommand cannot be split into words")
        box.locations["command"] = Location(shown, service.line_of("dockerCommand"))
    env.update(_env_vars(service.get("envVars"), shown, groups, notes, name))
    box.env = env
    if "envVars" in service:
        box.locations["environment"] = Location(shown, service.line_of("envVars"))
    disk = service.get("disk")
    if isinstance(disk, LineDict) and disk.get("mountPath"):
        where = Location(shown, service.line_of("disk"))
        box.mounts.append(
            MountFact(
                "volume",
                str(disk["mountPath"]).rstrip("/") or "/",
                f"Render disk {disk.get('name', '')}",
                location=where,
            )
        )
        box.locations["volumes"] = where
    if kind == "web":
        port = env.get("PORT")
        number = int(port.value) if port and port.value and port.value.isdigit() else 7420
        how = "PORT" if port and port.value else "PORT unset: the port it opens, 7420 assumed"
        where = Location(shown, service.line_of("type"))
        box.ports.append(
            PortFact(
                number,
                "",
                "443",
                "tcp",
                f"Render web service {name}: public HTTPS at {name}.onrender.com -> {number} "
                f"({how})",
                where,
            )
        )
        box.locations["ports"] = where
        if service.get("healthCheckPath"):
            box.healthcheck = HealthcheckFact(
                ("HTTP", "GET", f"http://127.0.0.1:{number}{service['healthCheckPath']}")
            )
            box.locations["healthcheck"] = Location(shown, service.line_of("healthCheckPath"))
    box.restart = "always"
    box.restart_text = "Render restarts a service that exits"
    delay = service.get("maxShutdownDelaySeconds")
    box.stop_grace_s = float(delay) if isinstance(delay, int) else DEFAULT_SHUTDOWN_S
    plan = str(service.get("plan") or "starter").lower()
    if plan in PLAN_MEMORY_MB:
        box.memory_bytes = PLAN_MEMORY_MB[plan] * 1024**2
        box.locations["memory"] = Location(shown, service.line_of("plan"))
    scaling = service.get("scaling")
    count = service.get("numInstances")
    if isinstance(scaling, dict) and isinstance(scaling.get("maxInstances"), int):
        box.replicas = int(scaling["maxInstances"])
    elif isinstance(count, int):
        box.replicas = count
    return box


def _official(image: str | None) -> bool:
    from faktctl.faktory.images import parse_image

    return image is not None and parse_image(image).is_faktory
