"""faktctl audit --compose FILE: gather facts from any hand-written compose file.

Faktory servers are found by image (`…/faktory`, `…/faktory-ent`, any registry, any tag or
none) or by a `/faktory` command; workers are services whose environment has FAKTORY_URL or
FAKTORY_PROVIDER. Short and long syntax, env_file, the .env beside the file, `${VAR}`
interpolation, anchors and merge keys are resolved the way compose does (compose_file.py,
compose_syntax.py); this module assembles the facts.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from faktctl.audit.effective import image_default, reads_faktory_env
from faktctl.audit.model import (
    AuditFacts,
    BackupFacts,
    EnvVar,
    Location,
    MountFact,
    SecretFileFact,
    ServerFacts,
    Suppression,
    WorkerFacts,
)
from faktctl.audit.sources.backups import gather_backup
from faktctl.audit.sources.compose import syntax as syntax
from faktctl.audit.sources.compose.file import (
    V1_LAYOUT_NOTE,
    ComposeFile,
    Service,
    parse_duration,
)
from faktctl.audit.sources.compose.identify import (
    Dockerfile,
    Identity,
    identify,
    parse_dockerfile,
    read_dockerfile,
)
from faktctl.audit.sources.compose.proxies import Upstream, gather_proxies, upstream_of
from faktctl.audit.sources.dockerimage import image_env
from faktctl.audit.sources.secretfacts import inspect_secret_files
from faktctl.audit.sources.yamlsrc import LineDict, LineList
from faktctl.errors import UsageError
from faktctl.faktory.workers import DOCKER_DEFAULT_GRACE_S

IGNORE_KEY = "x-faktctl-ignore"
EXPOSURE_KEY = "x-faktctl-exposure"
BACKUP_KEY = "x-faktctl-backup"
WORKER_VARS = ("FAKTORY_URL", "FAKTORY_PROVIDER")


def _exposure(svc: Service) -> str:
    value = str(svc.data.get(EXPOSURE_KEY, "internal"))
    if value not in {"internal", "proxy", "public"}:
        raise UsageError(
            f"{svc.c.display}:{svc.line(EXPOSURE_KEY)}: {EXPOSURE_KEY} must be internal, proxy "
            f"or public, not `{value}`"
        )
    return value


def suppressions_from(
    items: Any, service: str | None, display: str, line: int
) -> tuple[Suppression, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise UsageError(f"{display}:{line}: {IGNORE_KEY} must be a list of {{id, reason}}")
    found = []
    for index, item in enumerate(items):
        item_line = items.line_of(index) if isinstance(items, LineList) else line
        if not isinstance(item, dict) or not item.get("id") or not item.get("reason"):
            raise UsageError(
                f"{display}:{item_line}: each {IGNORE_KEY} entry needs an `id` and a `reason`"
            )
        expires = item.get("expires")
        if expires is not None and not isinstance(expires, date):
            try:
                expires = date.fromisoformat(str(expires))
            except ValueError:
                raise UsageError(
                    f"{display}:{item_line}: expires `{expires}` is not a date (YYYY-MM-DD)"
                ) from None
        found.append(
            Suppression(
                str(item["id"]),
                str(item["reason"]),
                expires,
                service,
                Location(display, item_line),
            )
        )
    return tuple(found)


def _server(
    svc: Service, who: Identity, env: dict[str, EnvVar], unreadable: tuple[str, ...]
) -> ServerFacts:
    image = who.image
    argv: tuple[str, ...] | None = who.argv
    note = "the Dockerfile's ENTRYPOINT/CMD"
    built = _build_dockerfile(svc)
    if argv is None:
        argv, note = svc.argv(image)
        own = "command" in svc.data and "entrypoint" not in svc.data
        if own and argv is not None and built is not None and built.entrypoint is not None:
            # the Dockerfile's ENTRYPOINT stays; the service's command replaces only its CMD
            argv, note = built.entrypoint + argv, "the Dockerfile's ENTRYPOINT and the command"
    if built is not None:  # the image's ENV, unless the service sets the variable itself
        env = {**image_env(built), **env}
    mounts = syntax.volumes(svc) + syntax.references(svc, "secrets", "/run/secrets")
    mounts += syntax.references(svc, "configs", "")
    grace = svc.data.get("stop_grace_period")
    return ServerFacts(
        service=svc.name,
        image=image,
        argv=argv,
        argv_note=note,
        user=svc.text("user"),
        env=env,
        unreadable_env_files=unreadable,
        mounts=tuple(mounts),
        ports=tuple(syntax.ports(svc)),
        network_mode=svc.text("network_mode"),
        restart=syntax.restart(svc),
        restart_text=syntax.restart_text(svc),
        identified_by=who.found_by,
        unconfirmed=who.unconfirmed,
        healthcheck=syntax.healthcheck(svc),
        stop_grace_s=parse_duration(grace) if grace is not None else None,
        memory_bytes=syntax.memory(svc),
        replicas=syntax.replicas(svc),
        swarm=syntax.swarm(svc),
        exposure_intent=_exposure(svc),  # type: ignore[arg-type]
        reads_faktory_env=reads_faktory_env(image),
        location=svc.where,
        locations=svc.locations(),
    )


def _default_command_note(svc: Service, who: Identity) -> list[str]:
    """Which default command was assumed for an image whose tag names no version."""
    if who.argv is not None or "command" in svc.data or "entrypoint" in svc.data:
        return []
    assumed = image_default(who.image).assumed
    return [f"{svc.name}: {assumed}"] if assumed else []


def _worker(svc: Service, env: dict[str, EnvVar]) -> WorkerFacts:
    where = svc.where
    provider = env.get("FAKTORY_PROVIDER")
    name = provider.value if provider is not None and provider.value else None
    url = env.get(name) if name else env.get("FAKTORY_URL")
    entry, entry_note = svc.command("entrypoint")
    cmd, cmd_note = svc.command("command")
    argv = (
        None
        if entry_note or cmd_note or (entry is None and cmd is None)
        else (entry or ()) + (cmd or ())
    )
    grace = svc.data.get("stop_grace_period")
    return WorkerFacts(
        svc.name,
        url,
        name,
        where,
        image=svc.text("image"),
        build_base=_build_dockerfile(svc).base if "build" in svc.data else None,  # type: ignore[union-attr]
        argv=argv,
        # Docker's own default when the file sets none
        stop_grace_s=parse_duration(grace) if grace is not None else DOCKER_DEFAULT_GRACE_S,
        grace_location=svc.loc("stop_grace_period") if grace is not None else where,
    )


def _build_dockerfile(svc: Service) -> Dockerfile | None:
    """The Dockerfile a `build:` service is built from (None without `build:`)."""
    raw = svc.data.get("build")
    if raw is None:
        return None
    line = svc.line("build")
    if isinstance(raw, LineDict):
        if raw.get("dockerfile_inline") is not None:
            return parse_dockerfile(svc.c.text(raw["dockerfile_inline"], line) or "")
        context = svc.c.text(raw.get("context", "."), line) or "."
        dockerfile = svc.c.text(raw.get("dockerfile", "Dockerfile"), line) or "Dockerfile"
    else:
        context, dockerfile = svc.c.text(raw, line) or ".", "Dockerfile"
    if "://" in context or context.startswith("git@"):
        return Dockerfile(None, problem=f"its build context {context} is remote")
    return read_dockerfile(svc.c.host_path(context), dockerfile, svc.c.shown)


def _proxy_image(svc: Service) -> str | None:
    """The image a service runs, or the base its `build:` starts from (to spot a proxy)."""
    image = svc.text("image")
    if image is not None:
        return image
    built = _build_dockerfile(svc)  # None also for `build: null`
    return built.base if built is not None else None


def _identity(svc: Service, image: str | None) -> Identity:
    own = "command" in svc.data or "entrypoint" in svc.data
    argv, _ = svc.argv(None) if own else (None, "")
    return identify(svc.name, image, argv, _build_dockerfile(svc), has_command=own)


# --- files on this host that hold secrets ----------------------------------------------------


_PASSWORD_LINE = re.compile(r"^\s*password\s*=", re.MULTILINE)


def _host_files(mount: MountFact, path: str | None) -> list[str]:
    """Host files behind `mount` that hold a password: the file providing `path`, or TOML
    files with a `password =` line."""
    if mount.host_path is None:
        return []
    if mount.is_dir is not True:
        holds = path is not None and mount.covers(path)
        toml = mount.target.endswith(".toml") and _PASSWORD_LINE.search(mount.content or "")
        return [mount.host_path] if holds or toml else []
    found = []
    for relative, content in (mount.entries or {}).items():
        inside = posixpath.join(mount.target, relative)
        if inside == path or (relative.endswith(".toml") and _PASSWORD_LINE.search(content)):
            found.append(str(Path(mount.host_path) / relative))
    return found


def _secret_files(
    servers: list[ServerFacts], workers: list[WorkerFacts]
) -> tuple[SecretFileFact, ...]:
    from faktctl.audit.runner import behaviour_of

    found: dict[str, tuple[str, Location | None]] = {}
    for server in servers:
        pw = behaviour_of(server).password
        what = f"password of {server.service}"
        var = server.env.get("FAKTORY_PASSWORD")
        if var is not None and var.source_file and not pw.file_path:
            found.setdefault(var.source_file, (what, var.location))
        path = pw.file_path
        if path is None and pw.source == "/etc/faktory/password":
            path = "/etc/faktory/password"
        for mount in server.mounts:
            for host in _host_files(mount, path):
                found.setdefault(host, (what, mount.location))
    for worker in workers:
        url = worker.url
        if url is not None and url.source_file and url.value and "@" in url.value:
            found.setdefault(url.source_file, (f"{url.name} of {worker.service}", url.location))
    return inspect_secret_files([(Path(p), what, where) for p, (what, where) in found.items()])


def _with_certificates(
    servers: list[ServerFacts], workers: list[WorkerFacts], base: Path
) -> list[ServerFacts]:
    """Each server with the certificate a host file mounted into its config folder holds
    (a bind mount, a secret's `file:`), judged against the hosts the workers dial."""
    from faktctl.audit.runner import behaviour_of
    from faktctl.audit.sources.tlsfacts import from_mounts, tls_names

    wanted = tls_names(w.url.value if w.url is not None else None for w in workers)
    return [
        replace(s, tls_cert=from_mounts(s, behaviour_of(s).config_dir, wanted, base))
        for s in servers
    ]


# --- the whole file --------------------------------------------------------------------------


def _backup(compose: ComposeFile) -> BackupFacts:
    raw = compose.doc.get(BACKUP_KEY)
    if raw is None:
        return BackupFacts(False)
    line = compose.doc.line_of(BACKUP_KEY)
    if not isinstance(raw, LineDict) or not raw.get("destination"):
        raise UsageError(f"{compose.display}:{line}: {BACKUP_KEY} needs a `destination`")
    destination = compose.text(raw["destination"], line) or ""
    max_age_s = parse_duration(raw.get("max_age", "24h"))
    if max_age_s is None:
        raise UsageError(f"{compose.display}:{line}: max_age is not a duration (e.g. 24h)")
    return gather_backup(destination, compose.base, timedelta(seconds=max_age_s), compose.loc(line))


def gather_compose(path: Path, environ: Mapping[str, str], now: datetime) -> AuditFacts:
    compose = ComposeFile(path, environ)
    servers: list[ServerFacts] = []
    workers: list[WorkerFacts] = []
    suppressions: list[Suppression] = []
    notes: list[str] = []
    upstreams: list[Upstream] = []
    others: list[tuple[Service, str | None]] = []
    if compose.layout_v1:
        notes.append(V1_LAYOUT_NOTE)
    for name, data in compose.services.items():
        if compose.layout_v1 and str(name).startswith("x-"):
            continue
        if not isinstance(data, LineDict):
            line = compose.services.line_of(name)
            raise UsageError(f"{compose.display}:{line}: service `{name}` is not a mapping")
        svc = Service(compose, str(name), data)
        if "extends" in data:
            notes.append(f"service `{name}` uses extends, which the audit does not follow")
        env, unreadable = svc.environment()
        who = _identity(svc, svc.text("image"))
        is_worker = any(var in env for var in WORKER_VARS)
        if who.role == "server" or (who.role == "candidate" and not is_worker):
            servers.append(_server(svc, who, env, unreadable))
            upstreams.append(upstream_of(svc, env))
            notes += _default_command_note(svc, who)
            notes += syntax.unknown_ports(svc)
        elif is_worker:
            workers.append(_worker(svc, env))
        else:
            others.append((svc, _proxy_image(svc)))
            continue
        suppressions += suppressions_from(
            data.get(IGNORE_KEY), svc.name, compose.display, svc.line(IGNORE_KEY)
        )
    if not servers and not workers:
        raise UsageError(
            f"{compose.display}: no Faktory server or worker found (looked for images named "
            "faktory/faktory-ent, a /faktory command, FAKTORY_URL or FAKTORY_PROVIDER)"
        )
    for server in servers:
        notes += [
            f"{server.service}: env_file {f} cannot be read here (compose itself refuses to "
            "start without it unless it is marked `required: false`)"
            for f in server.unreadable_env_files
        ]
    routes, seen = gather_proxies(upstreams, others)
    servers = _with_certificates(servers, workers, compose.base)
    return AuditFacts(
        kind="compose",
        file=compose.display,
        now=now,
        servers=tuple(servers),
        workers=tuple(workers),
        suppressions=tuple(suppressions),
        backup=_backup(compose),
        secret_files=_secret_files(servers, workers),
        notes=tuple(notes),
        proxies=routes,
        proxies_seen=seen,
    )
