"""Persistence: the data directory the server really uses survives the container."""

from __future__ import annotations

import posixpath

from faktctl.audit.effective import DEFAULT_DATA_DIR
from faktctl.audit.model import ServerFacts
from faktctl.audit.registry import (
    Outcome,
    Result,
    ServerCtx,
    failed,
    passed,
    server_rule,
    skipped,
)
from faktctl.audit.rules._support import DATA_KINDS, data_mount, env_unknown_reason
from faktctl.faktory.server import DATA_DIR

MIN_GRACE_S = 30
# Where people mount Faktory data; a mount here that misses the real data dir is a trap.
DATA_ROOTS = (DATA_DIR, "/root/.faktory", "/.faktory")
WRONG_RDB_NAMES = ("redis.rdb", "dump.rdb")


def _why_dir(ctx: ServerCtx) -> str:
    eff = ctx.eff
    if eff.development and eff.data_dir != DEFAULT_DATA_DIR:
        if eff.data_dir_flag == DEFAULT_DATA_DIR:
            return " (development ignores -d /var/lib/faktory/db and uses $HOME/.faktory/db)"
        if eff.data_dir_flag is None:
            return " (development keeps data in $HOME/.faktory/db)"
    return ""


@server_rule(
    "FKP001",
    "persistence",
    "error",
    "The data directory is on a named volume or a bind mount",
    "Mount a named volume or a host folder at the directory the server writes "
    "(/var/lib/faktory in production); never anonymous volumes or tmpfs.",
)
def data_on_volume(ctx: ServerCtx) -> Result:
    """What is mounted at the data directory the server really uses (`/var/lib/faktory/db` in
    production, `/root/.faktory/db` in development): a named volume or a host folder passes;
    nothing, an anonymous volume or tmpfs fails. When an env file that decides the mode is missing
    and only one of the two paths is mounted, the check skips and says what each mode would mean.

    Everything Faktory holds lives in that folder; anywhere else it is lost when the container is
    recreated."""
    data_dir = ctx.eff.data_dir
    if data_dir is None:
        return _either_mode(ctx)
    if not data_dir.startswith("/"):
        return skipped(f"the data directory `{data_dir}` is relative to the working directory")
    mount = data_mount(ctx.server, data_dir)
    why = _why_dir(ctx)
    if mount is None:
        return failed(
            f"nothing is mounted at {data_dir}{why}: every job is lost when the container "
            "is recreated",
            ctx.server.loc("volumes"),
        )
    where = mount.location or ctx.server.loc("volumes")
    if mount.kind == "anonymous":
        return failed(
            f"{data_dir}{why} is on an anonymous volume at {mount.target}: a new container "
            "(down/up, rm) starts with an empty one",
            where,
        )
    if mount.kind == "tmpfs":
        return failed(
            f"{data_dir}{why} is on tmpfs at {mount.target}: the data lives in memory and is "
            "gone after every restart",
            where,
        )
    what = f"named volume `{mount.source}`" if mount.kind == "volume" else "a bind mount"
    return passed(f"{data_dir}{why} is on {what} at {mount.target}", where)


def _mode_dirs(ctx: ServerCtx) -> dict[str, str]:
    """Where each mode would keep the data, for a server whose mode is not known here."""
    flag = ctx.eff.data_dir_flag
    production = flag or DEFAULT_DATA_DIR
    development = flag if flag and flag != DEFAULT_DATA_DIR else f"{ctx.eff.home}/.faktory/db"
    return {"production": production, "development": development}


def _either_mode(ctx: ServerCtx) -> Outcome:
    """The mode is unknown (say, an env_file that is not here): decide what does not depend on
    it, and say what each mode would mean otherwise."""
    kept: dict[str, str] = {}
    lost: dict[str, str] = {}
    for mode, folder in _mode_dirs(ctx).items():
        mount = data_mount(ctx.server, folder) if folder.startswith("/") else None
        if mount is not None and mount.kind in ("volume", "bind"):
            what = f"named volume `{mount.source}`" if mount.kind == "volume" else "a bind mount"
            kept[mode] = f"{mode} keeps {folder} on {what}"
        else:
            lost[mode] = f"{mode} writes {folder}, which nothing keeps"
    where = ctx.server.loc("volumes")
    if not kept:
        return failed(
            f"{'; '.join(lost.values())}: whichever mode it runs in, every job is lost when "
            "the container is recreated",
            where,
        )
    if not lost:
        return passed(f"{' and '.join(kept.values())}: the data survives in either mode", where)
    return skipped(
        f"{env_unknown_reason(ctx)}; {'; '.join([*kept.values(), *lost.values()])}", where
    )


def _unused(ctx: ServerCtx, data_dir: str) -> list[tuple[str, Outcome]]:
    problems = []
    config_dir = ctx.eff.config_dir or ""
    for mount in ctx.server.mounts:
        if mount.kind not in DATA_KINDS:
            continue
        target = mount.target.rstrip("/")
        in_roots = any(target == r or target.startswith(r + "/") for r in DATA_ROOTS)
        if not in_roots or mount.covers(data_dir):
            continue
        if config_dir and (mount.covers(config_dir) or target.startswith(config_dir + "/")):
            continue
        where = mount.location or ctx.server.loc("volumes")
        name = posixpath.basename(target)
        if target.startswith(data_dir + "/"):
            if name in WRONG_RDB_NAMES:
                text = f"{target}: Faktory writes faktory.rdb, not {name}"
            else:
                text = (
                    f"{target} mounts a single file: Redis replaces faktory.rdb by renaming a "
                    "temporary file, which fails on a mounted file; mount the folder"
                )
        elif ctx.eff.development:
            text = (
                f"{target} is never written: the server runs in development and keeps its "
                f"data in {data_dir}"
            )
        else:
            text = f"{target} is never written: the server keeps its data in {data_dir}"
        problems.append((target, failed(text, where)))
    return problems


@server_rule(
    "FKP002",
    "persistence",
    "error",
    "No volume sits at a Faktory data path the server does not use",
    "Run in production (-e production or FAKTORY_ENV=production) so the server uses "
    "/var/lib/faktory/db, and mount the folder, not a single .rdb file.",
)
def unused_data_mount(ctx: ServerCtx) -> Result:
    """Volumes mounted at a Faktory data path the server does not use in its mode (the production
    path on a development server, or the other way round), and mounts of a single `.rdb` file
    instead of the folder.

    Such a volume looks like persistence but stays empty, while the real data lives in the container
    and is lost with it."""
    data_dir = ctx.eff.data_dir
    if data_dir is None:
        return skipped(env_unknown_reason(ctx))
    problems = _unused(ctx, data_dir)
    if not problems:
        return passed(f"no mount misses the data directory {data_dir}")
    return [outcome for _, outcome in problems]


@server_rule(
    "FKP003",
    "persistence",
    "warning",
    "The stop grace period leaves time for the final save",
    "Set stop_grace_period (compose, stack), server.stop_grace_period (spec) or the pod's "
    "terminationGracePeriodSeconds (Kubernetes) to 30s or more; large data sets need longer.",
)
def stop_grace_period(ctx: ServerCtx) -> Result:
    """The server's stop grace period: under 30 s fails.

    On stop, Faktory's Redis writes its final snapshot; Docker's default 10 s can kill it halfway
    and lose recent jobs."""
    grace = ctx.server.stop_grace_s
    where = ctx.server.loc("stop_grace_period")
    if grace is None:
        return failed(
            "no stop grace period: Docker kills the container after 10 s, which can cut the "
            "final save short and lose recent jobs",
            where,
        )
    if grace < MIN_GRACE_S:
        return failed(f"stop grace period is {grace:g}s, under {MIN_GRACE_S}s", where)
    return passed(f"stop grace period is {grace:g}s", where)


@server_rule(
    "FKP004",
    "persistence",
    "error",
    "One server per data directory",
    "Run a single Faktory container per data volume; OSS Faktory cannot be scaled out.",
)
def single_writer(ctx: ServerCtx) -> Result:
    """How many servers share one data directory: replicas above one, or several servers mounting
    the same volume or folder.

    Open-source Faktory cannot be scaled out: each replica runs its own Redis, so jobs split across
    them, and a second server on a shared volume finds the Redis socket in use and does not
    start."""
    server = ctx.server
    live = ctx.facts.kind == "live"
    if live and server.swarm is None:
        return []  # one engine's containers: the static inputs say what would run
    if server.replicas > 1:
        return failed(
            f"{server.replicas} replicas: each runs its own Redis, so jobs split across them "
            "and a second one on a shared volume fails to start",
            server.loc("replicas"),
        )
    own = _data_sources(server)
    for other in ctx.facts.servers:
        if other.service == server.service:
            continue
        shared = own & _data_sources(other)
        if shared:
            kind, source = sorted(shared, key=str)[0]
            return failed(
                f"shares {kind} `{source}` with Faktory service `{other.service}`: the second "
                "server finds redis.sock in use and does not start",
                server.loc("volumes"),
            )
    return passed("a single server owns its data")


def _data_sources(server: ServerFacts) -> set[tuple[str, str | None]]:
    """Named volumes and host folders mounted at a Faktory data path."""
    return {
        (m.kind, m.source)
        for m in server.mounts
        if m.kind in {"volume", "bind"}
        and any(m.target == r or m.target.startswith(r + "/") for r in DATA_ROOTS)
    }
