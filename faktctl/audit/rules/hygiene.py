"""Hygiene: pinned image, restart policy, healthcheck, memory limit, Enterprise-only features
on the OSS image, versions, render drift and the suppressions themselves."""

from __future__ import annotations

import posixpath
import re

from faktctl.audit.model import AuditFacts
from faktctl.audit.registry import (
    REGISTRY,
    Result,
    ServerCtx,
    audit_rule,
    failed,
    passed,
    server_rule,
    skipped,
)
from faktctl.audit.rules._support import server_version
from faktctl.faktory.images import parse_image
from faktctl.faktory.versions import (
    DEFAULT_IMAGE,
    FORMATS,
    format_of,
    has_security_fixes,
    text_of,
    upgrade_command,
)

GOOD_RESTART = ("unless-stopped", "always")
MIN_MEMORY = 512 * 1024**2
ENTERPRISE_ENV = {
    "REDIS_URL": "external Redis",
    "REDIS_PROVIDER": "external Redis",
    "FAKTORY_LICENSE": "a license key",
    "DD_DOGSTATSD_URL": "DogStatsD metrics",
}
ENTERPRISE_CONF = {"cron.toml": "cron", "throttles.toml": "throttles", "statsd.toml": "statsd"}
ENTERPRISE_TABLES = re.compile(r"^\s*\[+\s*(cron|throttles|statsd)\s*[\].]", re.MULTILINE)
MISSING_TOOLS = ("curl", "bash")


@server_rule(
    "FKH001",
    "hygiene",
    "error",
    "The image tag is pinned",
    f"Pin a version ({DEFAULT_IMAGE}) or a digest; `latest` upgrades on the next "
    "pull, including across the 1.10 queue-key change.",
)
def image_pinned(ctx: ServerCtx) -> Result:
    """The server image's tag: any tag other than `latest`, or a digest, passes; no tag or
    `latest` fails.

    A moving tag changes the server on the next pull, without review, including across the 1.10
    queue-key change that hides queued jobs."""
    image = ctx.server.image
    where = ctx.server.loc("image")
    if image is None:
        return skipped("the image is built locally, not pulled", where)
    ref = parse_image(image)
    if ref.pinned:
        return passed(f"{image} is pinned", where)
    if ref.tag is None:
        return failed(f"{image} has no tag, which means `latest`", where)
    return failed(f"{image} uses the moving `latest` tag", where)


@server_rule(
    "FKH002",
    "hygiene",
    "warning",
    "A restart policy brings the server back",
    "Set restart: unless-stopped (or always).",
)
def restart_policy(ctx: ServerCtx) -> Result:
    """The server's restart policy (`restart:`, or a swarm service's `deploy.restart_policy`).

    Without one, a server that stops (a host reboot, a crash) stays down until someone notices."""
    restart = ctx.server.restart
    where = ctx.server.loc("restart")
    if restart is None or restart in {"no", "none", ""}:
        return failed(
            "no restart policy: after a crash or a host reboot the job server stays down", where
        )
    shown = ctx.server.restart_text or f"restart: {restart}"
    if restart.startswith("on-failure"):
        return skipped(f"{shown} is wrong for another reason (FKH003)", where)
    return passed(shown, where)


@server_rule(
    "FKH003",
    "hygiene",
    "error",
    "The restart policy is not on-failure",
    "Use restart: unless-stopped (swarm: deploy.restart_policy.condition: any): Faktory exits "
    "with status 0 on most failed starts, which on-failure does not restart.",
)
def restart_not_on_failure(ctx: ServerCtx) -> Result:
    """Whether the restart policy is `on-failure` (or a swarm `restart_policy.condition: on-
    failure`).

    Faktory exits with status 0 when most start-ups fail, so `on-failure` never brings it back."""
    restart = ctx.server.restart
    where = ctx.server.loc("restart")
    if restart is None:
        return passed("no restart policy (FKH002), so not on-failure", where)
    shown = ctx.server.restart_text or f"restart: {restart}"
    if restart.startswith("on-failure"):
        return failed(
            f"{shown} restarts crashes and OOM kills (non-zero exits), but Faktory exits with "
            "status 0 on most failed starts (no or an unreadable password, a bad TOML file, "
            "the port in use, Redis not booting), so those are not restarted and it stays down",
            where,
        )
    return passed(shown, where)


@server_rule(
    "FKH004",
    "hygiene",
    "warning",
    "A healthcheck is defined",
    "Add a healthcheck on the unauthenticated /health endpoint: "
    'test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:7420/health"].',
)
def healthcheck(ctx: ServerCtx) -> Result:
    """Whether the server has a healthcheck that is not disabled.

    Without one, the engine reports a server that stopped answering as running, and nothing waits
    for it to be ready."""
    check = ctx.server.healthcheck
    where = ctx.server.loc("healthcheck")
    if check is None:
        return failed("no healthcheck: a server that failed to start looks alive", where)
    if check.disabled:
        return failed("the healthcheck is disabled", where)
    return passed("a healthcheck is defined", where)


def _test_words(test: tuple[str, ...]) -> list[str]:
    words: list[str] = []
    for part in test:
        words.extend(part.replace(";", " ").replace("|", " ").split())
    return words


@server_rule(
    "FKH005",
    "hygiene",
    "warning",
    "The healthcheck can succeed",
    "Probe GET http://127.0.0.1:7420/health with wget (busybox), not curl or bash, and not "
    "another dashboard page: those answer 401 once a password is set.",
)
def healthcheck_works(ctx: ServerCtx) -> Result:
    """The healthcheck's command: the tools it runs and the URL it asks for.

    The Faktory image has no `curl` or `bash`, and every dashboard page except `/health` answers 401
    once a password is set: such a check is always unhealthy."""
    check = ctx.server.healthcheck
    where = ctx.server.loc("healthcheck")
    if check is None or check.disabled or not check.test:
        return skipped("there is no healthcheck (FKH004)", where)
    words = _test_words(check.test)
    for word in words:
        if posixpath.basename(word) in MISSING_TOOLS:
            return failed(f"the healthcheck runs {word}, which the Faktory image lacks", where)
    text = " ".join(words)
    uses_web = ":7420" in text
    if uses_web and "/health" not in text and ctx.eff.ui_password is not False:
        return failed(
            "the healthcheck requests a dashboard page other than /health, which answers 401 "
            "once a password is set",
            where,
        )
    return passed("the healthcheck uses tools and endpoints that work", where)


@server_rule(
    "FKH006",
    "hygiene",
    "warning",
    "A generous memory limit is set",
    "Set mem_limit (spec: server.resources.memory) well above the data set: Faktory keeps "
    "every job in RAM and a limit means an OOM kill, not eviction.",
)
def memory_limit(ctx: ServerCtx) -> Result:
    """The server's memory limit: none, or one under 512 MiB, fails.

    Faktory keeps every job in RAM. Without a limit a runaway queue can starve the host; with a
    tight one the kernel kills the server instead of evicting anything."""
    memory = ctx.server.memory_bytes
    where = ctx.server.loc("memory")
    if memory is None:
        return failed("no memory limit: a runaway queue can take the whole host down", where)
    mib = memory // 1024**2
    if memory < MIN_MEMORY:
        return failed(
            f"the memory limit is {mib} MiB: all jobs live in RAM, so a tight limit means an "
            "OOM kill",
            where,
        )
    return passed(f"memory limit {mib} MiB", where)


def _asks_nothing(content: str | None) -> bool:
    """True when a file's content is known and holds no setting (blank lines, comments)."""
    if content is None:
        return False
    return all(not line.strip() or line.strip().startswith("#") for line in content.splitlines())


def _enterprise_requests(ctx: ServerCtx) -> list[str]:
    found = []
    for name, what in ENTERPRISE_ENV.items():
        if name in ctx.server.env:
            found.append(f"{name} ({what})")
    for mount in ctx.server.mounts:
        files = [(mount.target, mount.content)]
        files += [
            (posixpath.join(mount.target, rel), text) for rel, text in (mount.entries or {}).items()
        ]
        for path, content in files:
            base = posixpath.basename(path.rstrip("/"))
            if _asks_nothing(content):  # an empty cron.toml (a chart's empty value) sets nothing
                continue
            if base in ENTERPRISE_CONF:
                found.append(f"{path} ({ENTERPRISE_CONF[base]})")
                continue
            match = ENTERPRISE_TABLES.search(content or "") if path.endswith(".toml") else None
            if match:
                found.append(f"[{match.group(1)}] in {path}")
    return found


@server_rule(
    "FKH007",
    "hygiene",
    "warning",
    "No Enterprise-only feature is requested from the OSS image",
    "Use contribsys/faktory-ent with a license, or remove the setting: OSS Faktory ignores "
    "external Redis, cron, throttles and statsd.",
)
def enterprise_features(ctx: ServerCtx) -> Result:
    """Settings only Faktory Enterprise reads (its environment variables, conf.d files and TOML
    tables for external Redis, cron, throttles, statsd and the like) on a server that runs the open-
    source image.

    The open-source server ignores them without a word: a cron schedule that never fires or a
    throttle that never applies."""
    where = ctx.server.loc("environment", "volumes")
    if ctx.server.image is not None and parse_image(ctx.server.image).enterprise:
        return passed("the Enterprise image provides Enterprise features", where)
    found = _enterprise_requests(ctx)
    if found:
        return failed(
            f"the OSS image silently ignores Enterprise-only settings: {', '.join(found)}", where
        )
    return passed("no Enterprise-only setting on the OSS image", where)


@server_rule(
    "FKH008",
    "hygiene",
    "warning",
    "The version includes the 1.10.0 security fixes",
    f"Run `{upgrade_command()}`: it moves the queues to 1.10's keys with the server stopped, "
    "checks every count and rolls back on any difference.",
)
def security_fixes(ctx: ServerCtx) -> Result:
    """The server's version, from the image tag or, live, from the running server.

    Faktory 1.10.0 fixed a crash on malformed commands and queue names that collide with internal
    keys."""
    version, where_from = server_version(ctx)
    where = ctx.server.loc("image")
    if version is None:
        return skipped(f"the version is not known ({where_from})", where)
    if not has_security_fixes(version):
        return failed(
            f"{text_of(version)} ({where_from}) predates 1.10.0, which fixed a crash on "
            "malformed commands and queue names colliding with internal keys; upgrade with "
            f"`{upgrade_command()}`",
            where,
        )
    return passed(f"{text_of(version)} ({where_from}) has the 1.10.0 fixes", where)


@server_rule(
    "FKH009",
    "hygiene",
    "info",
    "The image cannot silently cross the 1.10 queue-key change",
    "Pin the tag and cross from 1.9.x to 1.10+ only with `faktctl upgrade`: 1.10 stores queues "
    "under q:<name> and does not move the old ones at boot, so changing the tag hides them.",
)
def queue_key_upgrade(ctx: ServerCtx) -> Result:
    """Whether the image's tag is pinned below, or already at, the version that moved queues to
    `q:<name>` keys.

    Faktory 1.10 does not move queues written by 1.9.x when it starts: a tag change that crosses
    that line hides every queued job until they are moved by hand."""
    where = ctx.server.loc("image")
    live = ctx.server.live is not None
    version, where_from = server_version(ctx)
    if ctx.server.image is None and not live:
        return skipped("the image is built locally", where)
    ref = parse_image(ctx.server.image) if ctx.server.image else None
    if ref is not None and not ref.pinned and version is None:
        return failed(
            f"{ctx.server.image} is not pinned: the next pull may move a 1.9.x server to 1.10+, "
            "which hides the jobs queued under the old keys",
            where,
        )
    if version is None:
        return skipped(f"the version is not known ({where_from})", where)
    if format_of(version) == FORMATS[-1]:
        return passed(f"{text_of(version)} ({where_from}) already uses q:<name> queue keys", where)
    return passed(
        f"{text_of(version)} ({where_from}) is pinned below 1.10: upgrade with "
        f"`{upgrade_command()}`",
        where,
    )


@audit_rule(
    "FKH010",
    "hygiene",
    "error",
    "The rendered files match the spec",
    "Run `faktctl render` and commit the spec and compose.yaml together.",
    inputs=frozenset({"spec"}),
)
def render_drift(facts: AuditFacts) -> Result:
    """The rendered `compose.yaml` and `.env` beside the spec, against what the spec renders now.
    When neither file exists the check skips (a project deployed with `faktctl up` has none); only
    one of them present is drift. Spec input only.

    Files that drifted from the spec deploy something other than what was reviewed and audited."""
    render = facts.render
    if render is None:
        return skipped("no spec to render")
    if render.error is not None:
        return skipped(f"could not render the spec: {render.error}")
    if render.files and all(f.state == "missing" for f in render.files):
        names = " nor ".join(f.path for f in render.files)
        subject = f"neither {names} exists" if len(render.files) > 1 else f"{names} does not exist"
        return skipped(
            f"{subject}: nothing was rendered (a project deployed with "
            "`faktctl up` needs no rendered files)"
        )
    problems = [f for f in render.files if f.state != "match"]
    if not problems:
        names = ", ".join(f.path for f in render.files)
        verb = "match" if len(render.files) > 1 else "matches"
        return passed(f"{names} {verb} the spec")
    text = ", ".join(f"{f.path} {f.state}" for f in problems)
    return failed(f"the rendered files drifted from the spec: {text}")


@audit_rule(
    "FKH011",
    "hygiene",
    "error",
    "No suppression has expired",
    "Fix the finding, or renew the suppression with a new date and a reason.",
)
def suppression_expired(facts: AuditFacts) -> Result:
    """The expiry date of every suppression (`audit.ignore`, `x-faktctl-ignore`, the
    `faktctl.io/audit-ignore` annotation).

    A suppression is a decision with a deadline; an expired one must be looked at again rather than
    hide a finding for ever."""
    if not facts.suppressions:
        return passed("no suppressions are declared")
    today = facts.now.date()
    outcomes = []
    for item in facts.suppressions:
        if item.expires is not None and item.expires < today:
            scope = f" for `{item.service}`" if item.service else ""
            outcomes.append(
                failed(
                    f"the suppression of {item.id}{scope} expired on {item.expires.isoformat()}"
                    f" ({item.reason})",
                    item.location,
                    item.service,
                )
            )
    return outcomes or passed(f"{len(facts.suppressions)} suppression(s), none expired")


@audit_rule(
    "FKH012",
    "hygiene",
    "warning",
    "Every suppression names a known check",
    "Use an id from `faktctl audit --format json` (for example FKP001).",
)
def suppression_known(facts: AuditFacts) -> Result:
    """The id every suppression names, against the registered checks.

    A typo in a suppression silences nothing, and the finding it meant to accept keeps failing (or a
    misremembered id hides the wrong one)."""
    unknown = [item for item in facts.suppressions if item.id not in REGISTRY]
    if not facts.suppressions:
        return passed("no suppressions are declared")
    if not unknown:
        return passed("every suppression names a known check")
    return [
        failed(f"the suppression names {item.id}, which is no check", item.location, item.service)
        for item in unknown
    ]


@server_rule(
    "FKH013",
    "hygiene",
    "warning",
    "Every service taken for a Faktory server is confirmed to be one",
    "Name the image contribsys/faktory (or a mirror of it), run the /faktory binary in "
    "`command:`, or build FROM contribsys/faktory; otherwise suppress this check for the "
    "service with a reason.",
    inputs=frozenset({"compose", "ecs", "render", "fly"}),
)
def server_confirmed(ctx: ServerCtx) -> Result:
    """Services audited as Faktory servers that could not be confirmed as one: an image that only
    looks like Faktory's (`someone/faktory-tls`), or a service named `faktory` whose Dockerfile is
    missing. A server is confirmed by its image (`contribsys/faktory`, `faktory-ent`, any registry),
    a `/faktory` command, or a Dockerfile `FROM contribsys/faktory`. Compose files, ECS task
    definitions, Render blueprints and fly.toml.

    The other checks' findings for such a service are only as true as the guess that it runs
    Faktory."""
    where = ctx.server.loc("image")
    if ctx.server.unconfirmed is not None:
        return failed(
            f"`{ctx.server.service}` looks like a Faktory server and is audited as one, but "
            f"that could not be confirmed: {ctx.server.unconfirmed}",
            where,
        )
    if ctx.server.identified_by:
        return passed(f"a Faktory server: {ctx.server.identified_by}", where)
    return []
