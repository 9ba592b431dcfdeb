"""Checks only a running deployment can answer: what the server says over the wire, and where
its Redis really writes."""

from __future__ import annotations

from faktctl.audit.model import LiveData
from faktctl.audit.registry import (
    LIVE,
    Result,
    ServerCtx,
    failed,
    passed,
    server_rule,
    skipped,
)
from faktctl.audit.rules._support import data_mount, live_data, live_probe, wire_version

RECENT_SAVE_S = 300.0  # Redis saves after 120 s with one change; allow for a slow save
SAVE_WINDOW_S = 180.0


@server_rule(
    "FKP010",
    "persistence",
    "error",
    "The running server's Redis writes into a mounted folder",
    "Run in production with a named volume at /var/lib/faktory, then recreate the container "
    "(copy faktory.rdb across first if development already holds data).",
    inputs=LIVE,
)
def live_data_location(ctx: ServerCtx) -> Result:
    """Live, inside the running container: where Redis really writes (its `dir` and `dbfilename`)
    and whether that folder is a mount.

    It proves from the running server what FKP001 infers from the files: whether the data would
    survive a recreate."""
    data = live_data(ctx)
    if data is None:
        return skipped("the container's files could not be inspected")
    if data.socket_dir is None:
        if data.error:
            return skipped(f"could not look inside the container: {data.error}")
        return skipped(f"no redis.sock in {', '.join(data.looked_in)}: is the server up?")
    mount = data_mount(ctx.server, data.socket_dir)
    if mount is None or mount.kind in {"anonymous", "tmpfs"}:
        what = "the container's own layer" if mount is None else f"an {mount.kind} mount"
        return failed(f"Redis runs in {data.socket_dir}, on {what}: lost on recreate")
    what = f"volume `{mount.source}`" if mount.kind == "volume" else f"bind {mount.source}"
    return passed(f"Redis runs in {data.socket_dir}, on {what}")


def _saved_outcome(data: LiveData) -> Result:
    changes = data.changes_since_save
    if data.rdb_path is None or data.rdb_age_s is None:
        if changes == 0:
            return passed("nothing has been written yet, so there is nothing to save")
        if data.uptime_s is not None and data.uptime_s < SAVE_WINDOW_S:
            return skipped(
                f"faktory.rdb not written yet ({changes} changes; Redis saves after 120 s)"
            )
        return failed(f"no faktory.rdb in {data.socket_dir} although {changes} changes wait")
    age = data.rdb_age_s
    shown = f"{data.rdb_path} saved {age:.0f}s ago"
    if changes and age > RECENT_SAVE_S:
        return failed(f"{shown} with {changes} changes not saved yet")
    return passed(shown if not changes else f"{shown}; {changes} changes pending")


@server_rule(
    "FKP011",
    "persistence",
    "warning",
    "faktory.rdb exists in the mounted folder and was saved recently",
    "Check redis.log in the data folder; a failing background save (low memory, "
    "vm.overcommit_memory=0) stops writes.",
    inputs=LIVE,
)
def live_rdb_saved(ctx: ServerCtx) -> Result:
    """Live: whether `faktory.rdb` exists in the mounted data folder and how recently Redis saved
    it, with Redis's own persistence state (a failed background save).

    A snapshot that stopped being written (low memory, `vm.overcommit_memory=0`) means the next
    restart loses everything since the last good save, and Redis refuses writes once a save
    fails."""
    data = live_data(ctx)
    if data is None or data.socket_dir is None:
        return skipped("Redis's folder was not found (FKP010)")
    if data.last_bgsave_ok is False:
        return failed("Redis reports its last background save failed: writes may stop")
    return _saved_outcome(data)


@server_rule(
    "FKS020",
    "password-secret",
    "error",
    "The running server demands a password (+HI carries a salt)",
    "Give the server a password and recreate it.",
    inputs=LIVE,
)
def live_password_enforced(ctx: ServerCtx) -> Result:
    """Live: the running server's `+HI` greeting, which carries a salt when the server demands a
    password.

    It proves over the wire that the server really asks for a password."""
    probe = live_probe(ctx)
    if probe is None or probe.endpoint is None:
        return skipped(probe.unreachable if probe and probe.unreachable else "no probe was made")
    if probe.greeting_salted is None:
        return skipped(f"{probe.endpoint}: {probe.hello_error or 'no +HI greeting'}")
    if probe.greeting_salted:
        return passed(f"{probe.endpoint} greets with a salt: a password is required")
    return failed(f"{probe.endpoint} greets without a salt: it accepts anyone")


@server_rule(
    "FKS021",
    "password-secret",
    "error",
    "The configured password opens the running server",
    "Recreate the server after changing its password, and give workers the same one.",
    inputs=LIVE,
)
def live_password_accepted(ctx: ServerCtx) -> Result:
    """Live: a `HELLO` with the configured password against the running server.

    A password changed in the files but not in the running server (or the other way round) locks the
    workers out."""
    probe = live_probe(ctx)
    if probe is None or probe.endpoint is None or probe.greeting_salted is None:
        return skipped("no handshake was made (FKS020)")
    if not probe.greeting_salted:
        return skipped("the server asks for no password (FKS020)")
    if not probe.password_known:
        return skipped("the configured password could not be read")
    if probe.hello_accepted:
        reported = wire_version(probe)
        extra = f"; {reported[1]}: Faktory {reported[0]}" if reported else ""
        queues = f", {probe.queues} queues" if probe.queues is not None else ""
        return passed(f"{probe.endpoint} accepted the configured password{extra}{queues}")
    return failed(f"{probe.endpoint} refused the configured password: {probe.hello_error}")


@server_rule(
    "FKD010",
    "dashboard-exposure",
    "error",
    "The running dashboard asks for a login",
    "Give the server a password: GET / on 7420 must answer 401 without credentials.",
    inputs=LIVE,
)
def live_dashboard_auth(ctx: ServerCtx) -> Result:
    """The running dashboard: `GET /` on 7420 without credentials must answer 401. Live audits only.

    It proves what the configuration checks can only infer: that the admin UI really asks for a
    login."""
    probe = live_probe(ctx)
    if probe is None or probe.web_endpoint is None:
        return skipped("the dashboard could not be reached from here")
    if probe.web_status is None:
        return skipped(f"{probe.web_endpoint}: {probe.web_error}")
    if probe.web_status == 401:
        return passed(f"GET / on {probe.web_endpoint} without credentials answers 401")
    if probe.web_status < 400:
        return failed(
            f"GET / on {probe.web_endpoint} without credentials answers {probe.web_status}: "
            "the dashboard is open"
        )
    return skipped(f"GET / on {probe.web_endpoint} answered {probe.web_status}")


@server_rule(
    "FKH020",
    "hygiene",
    "warning",
    "The server is running and healthy",
    "Read `docker logs` of the container: Faktory logs why it stopped, then exits 0.",
    inputs=LIVE,
)
def live_health(ctx: ServerCtx) -> Result:
    """The running server container's state and engine health. Live audits only.

    A server that exited or reports unhealthy is not taking jobs, whatever its configuration
    says."""
    live = ctx.server.live
    if live is None:
        return skipped("no container state")
    if live.status != "running":
        code = f" (exit code {live.exit_code})" if live.exit_code is not None else ""
        return failed(f"container {live.container} is {live.status}{code}")
    if live.health == "unhealthy":
        return failed(f"container {live.container} is unhealthy")
    probe = live.probe
    if probe is not None and probe.health_error and probe.web_endpoint:
        return failed(f"GET /health failed: {probe.health_error}")
    reported = wire_version(probe)
    version = f" ({reported[1]}: Faktory {reported[0]})" if reported else ""
    state = f", {live.health}" if live.health else ""
    return passed(f"container {live.container} is running{state}{version}")


@server_rule(
    "FKH021",
    "hygiene",
    "warning",
    "The server has not been restarting",
    "Read `docker logs`: restarts usually mean a start-up failure (missing password, bad "
    "TOML, port in use).",
    inputs=LIVE,
)
def live_restart_count(ctx: ServerCtx) -> Result:
    """The running server container's restart count. Live audits only.

    A restarting server usually fails at start-up (missing password, bad TOML, port in use) and is
    unavailable between restarts."""
    live = ctx.server.live
    if live is None:
        return skipped("no container state")
    if live.restart_count:
        return failed(f"container {live.container} restarted {live.restart_count} times")
    return passed(f"container {live.container} has not restarted")
