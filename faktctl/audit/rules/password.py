"""Password and secrets: a password exists, it comes from a file secret, it is strong, and
workers carry it. No message ever contains a password or part of one."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from faktctl.audit.model import AuditFacts, Location, MountFact, Origin
from faktctl.audit.registry import (
    STATIC,
    Outcome,
    Result,
    ServerCtx,
    WorkerCtx,
    audit_rule,
    failed,
    passed,
    server_rule,
    skipped,
    worker_rule,
)
from faktctl.audit.rules._support import (
    FILE_KINDS,
    deepest_mount,
    env_unknown_reason,
    origin_text,
    redact_url,
    unknown_reason,
    url_password,
)

MIN_LENGTH = 16
STRONG_LENGTH = 24
COMMON_WORDS = (
    "password",
    "passw0rd",
    "faktory",
    "changeme",
    "secret",
    "admin",
    "letmein",
    "qwerty",
    "123456",
    "welcome",
    "default",
    "example",
)


@dataclass(frozen=True)
class PasswordOrigin:
    kind: Origin | None  # None: a file (a compose secret, a mounted file, conf.d)
    text: str
    location: Location | None


def _providing(ctx: ServerCtx, path: str) -> MountFact | None:
    return deepest_mount(ctx.server, path, FILE_KINDS)


def _confd_mount(ctx: ServerCtx, folder: str) -> MountFact | None:
    for mount in ctx.server.mounts:
        if mount.kind == "tmpfs":
            continue
        if mount.covers(folder) or posixpath.dirname(mount.target.rstrip("/")) == folder:
            return mount
    return None


def _file_origin(mount: MountFact | None, path: str, where: Location | None) -> PasswordOrigin:
    if mount is None:
        return PasswordOrigin(None, f"the file {path}", where)
    where = mount.location or where
    if mount.content_origin == "literal":
        return PasswordOrigin(
            "literal",
            f"{path}, whose content is written inline in {mount.kind} `{mount.source}`",
            where,
        )
    label = {"secret": "secret", "config": "config", "bind": "bind mount"}.get(mount.kind, "volume")
    shown = f" `{mount.source}`" if mount.source and mount.kind != "bind" else ""
    filled = ", filled from a variable" if mount.content_origin is not None else ""
    return PasswordOrigin(None, f"the file {path} ({label}{shown}{filled})", where)


def password_origin(ctx: ServerCtx) -> PasswordOrigin | None:
    """Where the password in effect comes from, or None when there is none."""
    pw = ctx.eff.password
    if pw.present is False:
        return None
    var = ctx.server.env.get("FAKTORY_PASSWORD")
    var_where = var.location if var is not None and var.location else None
    if pw.file_path is not None:
        where = var_where if pw.source == "FAKTORY_PASSWORD" else ctx.server.loc("volumes")
        return _file_origin(_providing(ctx, pw.file_path), pw.file_path, where)
    if pw.source == "FAKTORY_PASSWORD" and var is not None:
        if var.origin == "env-file" and var.value is None:
            return None  # an env_file that cannot be read: whether it sets it is unknown
        return PasswordOrigin(
            var.origin, origin_text(var), var_where or ctx.server.loc("environment")
        )
    if pw.source == "conf.d" and ctx.eff.config_dir is not None:
        folder = posixpath.join(ctx.eff.config_dir, "conf.d")
        target = f"[faktory] password in {folder}"
        return _file_origin(_confd_mount(ctx, folder), target, ctx.server.loc("volumes"))
    if pw.source == "/etc/faktory/password":
        path = "/etc/faktory/password"
        return _file_origin(_providing(ctx, path), path, ctx.server.loc("volumes"))
    return None


def _confd_unknown(ctx: ServerCtx) -> str:
    folder = posixpath.join(ctx.eff.config_dir or "/etc/faktory", "conf.d")
    return f"whether {folder} sets a [faktory] password is not known: its files cannot be read here"


@server_rule(
    "FKS001",
    "password-secret",
    "error",
    "The server has a password",
    "Give the server a password from a file secret: FAKTORY_PASSWORD=/run/secrets/"
    "faktory_password with a compose secret (spec: server.password_file).",
)
def password_set(ctx: ServerCtx) -> Result:
    """Whether the server ends up with a password, decided the way Faktory decides it (a password
    file through `FAKTORY_PASSWORD`, a conf.d `password`, an empty value, development's default of
    none). A password that would come from a conf.d folder that cannot be read makes the check skip,
    or fail in development, which needs none.

    Without a password anyone who reaches 7419 or 7420 controls every job; in production Faktory
    also refuses to start without one."""
    pw = ctx.eff.password
    var = ctx.server.env.get("FAKTORY_PASSWORD")
    where = var.location if var and var.location else ctx.server.loc("environment")
    if pw.value is None and (ctx.eff.environment is None or not ctx.eff.env_valid):
        return skipped(env_unknown_reason(ctx), where)
    if pw.value is None:
        if var is not None and var.value is None:
            return skipped(unknown_reason(var), where)
        declared = _providing(ctx, pw.file_path) if pw.file_path is not None else None
        if declared is not None and declared.host_only:
            origin = password_origin(ctx)
            return passed(
                f"a password is set ({origin.text if origin else pw.file_path}); the file "
                "itself is on the deploy host (FKS011)",
                where,
            )
        if pw.file_path is not None:
            return skipped(f"the password file {pw.file_path} cannot be read here", where)
        if ctx.eff.development:
            return failed(
                "runs in development, which starts without a password, and nothing here shows "
                f"one: {_confd_unknown(ctx)}",
                where,
            )
        return skipped(_confd_unknown(ctx), where)
    if pw.present:
        origin = password_origin(ctx)
        return passed(f"a password is set ({origin.text if origin else pw.source})", where)
    if pw.file_path is not None and pw.file_provided is False:
        return failed(
            f"the password file {pw.file_path} does not exist in the container: the server "
            "exits at start (status 0, so restart: on-failure never retries)",
            where,
        )
    if pw.start_error is not None:
        return failed(
            f"no password in {ctx.eff.environment}: the server refuses to start "
            f'("{pw.start_error}") and exits with status 0',
            where,
        )
    if pw.skip:
        return failed("no password: FAKTORY_SKIP_PASSWORD lets the server run without one", where)
    return failed(
        "no password: the server accepts every connection and the dashboard has no login",
        where,
    )


@server_rule(
    "FKS002",
    "password-secret",
    "error",
    "FAKTORY_SKIP_PASSWORD is not set",
    "Remove FAKTORY_SKIP_PASSWORD and give the server a password.",
)
def skip_password(ctx: ServerCtx) -> Result:
    """`FAKTORY_SKIP_PASSWORD` in the server's environment (it counts only as `1`, `true` or `yes`,
    as in Faktory).

    It turns the password off even in production."""
    var = ctx.server.env.get("FAKTORY_SKIP_PASSWORD")
    if var is None:
        return passed("FAKTORY_SKIP_PASSWORD is not set")
    where = var.location or ctx.server.loc("environment")
    if var.value is None:
        return skipped(unknown_reason(var), where)
    if not ctx.eff.password.skip:
        return passed(
            f"FAKTORY_SKIP_PASSWORD={var.value} does not count (only 1, true or yes do)", where
        )
    if ctx.eff.password.present:
        return failed(
            f"FAKTORY_SKIP_PASSWORD={var.value} is set: harmless while a password is "
            "configured, but it removes the guard that stops production starting without one",
            where,
        )
    return failed(f"FAKTORY_SKIP_PASSWORD={var.value} lets the server run with no password", where)


@server_rule(
    "FKS003",
    "password-secret",
    "error",
    "FAKTORY_PASSWORD is not set to an empty value",
    "Remove the empty FAKTORY_PASSWORD or point it at the password file.",
)
def empty_password_var(ctx: ServerCtx) -> Result:
    """An empty `FAKTORY_PASSWORD`, including a bare `FAKTORY_PASSWORD:` or an unset
    `${FAKTORY_PASSWORD}` that compose turns into an empty value. `${FAKTORY_PASSWORD:?}` makes
    compose refuse to start without it, and passes.

    An empty value still wins over a `[faktory] password` in conf.d: the server ends up with no
    password (development) or refuses to start (production)."""
    var = ctx.server.env.get("FAKTORY_PASSWORD")
    if var is None:
        return passed("FAKTORY_PASSWORD is not set")
    where = var.location or ctx.server.loc("environment")
    if var.value is None and var.required:
        return passed(
            f"FAKTORY_PASSWORD comes from {var.detail}, which compose requires: it refuses to "
            "start without it",
            where,
        )
    if var.value is None:
        return skipped(unknown_reason(var), where)
    if var.value != "":
        return passed("FAKTORY_PASSWORD is not empty", where)
    pw = ctx.eff.password
    if pw.source == "/etc/faktory/password" and pw.present:
        then = "the server falls back to /etc/faktory/password"
    else:
        then = "any [faktory] password in conf.d is ignored and the server has no password"
    return failed(f"FAKTORY_PASSWORD is set but empty ({origin_text(var)}): {then}", where)


def _origin_outcome(
    ctx: ServerCtx, bad: set[Origin], what: str, worse: set[Origin] | None = None
) -> Outcome:
    pw = ctx.eff.password
    if pw.present is False:
        return skipped("the server has no password (FKS001)")
    if pw.value is None and pw.source == "conf.d":
        return skipped(_confd_unknown(ctx))
    origin = password_origin(ctx)
    if origin is None:
        return skipped("the password's origin is not known here")
    if worse and origin.kind in worse:
        return skipped(f"the password is written in clear (FKS004): {origin.text}", origin.location)
    if origin.kind in bad:
        return failed(f"{origin.text}: {what}", origin.location)
    return passed(f"the password comes from {origin.text}", origin.location)


@server_rule(
    "FKS004",
    "password-secret",
    "error",
    "The password is not written in the compose file, the spec or an env file",
    "Keep the password in a file secret (FAKTORY_PASSWORD=/run/secrets/faktory_password), "
    "git-ignored and 0600; rotate any password that was committed.",
)
def password_not_literal(ctx: ServerCtx) -> Result:
    """Where the password's value comes from: written in the compose file, the spec, a manifest's
    `value:` or committed Secret data, a swarm service's environment or an env file fails.

    Whoever can read that file, the repository or `docker service inspect` holds the admin
    password."""
    return _origin_outcome(
        ctx, {"literal", "env-file"}, "whoever reads that file holds the admin password"
    )


@server_rule(
    "FKS005",
    "password-secret",
    "warning",
    "The password comes from a file secret, not an environment variable",
    "Mount the password as a compose secret and set FAKTORY_PASSWORD to its path; a value in "
    "the environment shows in `docker inspect` and process listings.",
)
def password_from_file(ctx: ServerCtx) -> Result:
    """Whether the server gets its password as a path to a file
    (`FAKTORY_PASSWORD=/run/secrets/...`) rather than the value itself in an environment variable.

    A value in the environment shows in `docker inspect`, process listings and crash reports."""
    shows = {
        "kubernetes": "the password sits in the process environment (`kubectl exec … env`, "
        "/proc/<pid>/environ, crash reports)",
        "ecs": "the password sits in the container's environment (`docker inspect` on the "
        "instance, /proc/<pid>/environ, crash reports)",
        "render": "the password sits in the process environment (/proc/<pid>/environ, "
        "crash reports, the Render shell)",
        "fly": "the password sits in the process environment (`fly ssh console` `env`, "
        "/proc/<pid>/environ, crash reports)",
    }.get(ctx.facts.kind, "the password shows in `docker inspect` and the process environment")
    return _origin_outcome(
        ctx,
        {"interpolated", "host-env", "engine", "dotenv", "reference"},
        shows,
        worse={"literal", "env-file"},
    )


def _weakness(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"it has {len(password)} characters, fewer than {MIN_LENGTH}"
    lowered = password.lower()
    if len(password) < STRONG_LENGTH and any(word in lowered for word in COMMON_WORDS):
        return "it is built on a common word"
    if len(set(password)) < 6:
        return "it repeats too few distinct characters"
    kinds = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 2 and len(password) < STRONG_LENGTH:
        return "it uses a single kind of character"
    return None


@server_rule(
    "FKS006",
    "password-secret",
    "error",
    "The password is strong",
    "Generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'.",
    needs="host",
)
def password_strength(ctx: ServerCtx) -> Result:
    """The password's value, when it is available: fewer than 16 characters fails, and so does a
    password under 24 characters built on a common word or of a single kind of character, or one
    with fewer than 6 distinct characters.

    The password guards every job; a short or guessable one falls to a dictionary."""
    pw = ctx.eff.password
    if pw.value is None:
        return skipped("the password's value is not available here")
    if not pw.value:
        return skipped("the server has no password (FKS001)")
    origin = password_origin(ctx)
    where = origin.location if origin else ctx.server.loc("environment")
    problem = _weakness(pw.value)
    if problem:
        return failed(f"the password is weak: {problem}", where)
    return passed(f"the password has {len(pw.value)} characters and is not a common word", where)


def _url_var(ctx: WorkerCtx) -> str:
    return ctx.worker.url.name if ctx.worker.url is not None else "FAKTORY_URL"


@worker_rule(
    "FKS007",
    "password-secret",
    "error",
    "The worker's FAKTORY_URL carries the server password",
    "Set FAKTORY_URL=tcp://:PASSWORD@faktory:7419 from a git-ignored .env or env_file.",
)
def worker_url_password(ctx: WorkerCtx) -> Result:
    """Every worker's `FAKTORY_URL` (or the variable `FAKTORY_PROVIDER` names): it must carry the
    server's password.

    A worker without the password cannot connect to a server that requires one: the jobs pile up."""
    worker = ctx.worker
    where = worker.url.location if worker.url and worker.url.location else worker.location
    if worker.url is None:
        if worker.provider:
            return failed(f"FAKTORY_PROVIDER names {worker.provider}, which is not set", where)
        return failed("FAKTORY_URL is not set: the worker connects to localhost:7419", where)
    if worker.url.value is None:
        return skipped(unknown_reason(worker.url), where)
    name = _url_var(ctx)
    shown = redact_url(worker.url.value)
    if url_password(worker.url.value):
        return passed(f"{name} carries a password ({shown})", where)
    needs = [s for s in ctx.servers if s.eff.password.present or s.eff.password.required]
    if not ctx.servers:
        return skipped("no Faktory server in this input to compare with", where)
    if not needs:
        return passed(f"{name} has no password and the server requires none (FKS001)", where)
    return failed(
        f"{name} ({shown}) has no password but the server requires one: the worker cannot connect",
        where,
    )


@worker_rule(
    "FKS008",
    "password-secret",
    "error",
    "The worker's password is not written in the compose file",
    "Move FAKTORY_URL to a git-ignored .env (FAKTORY_URL: ${FAKTORY_URL}) or an env_file.",
    inputs=STATIC,
)
def worker_url_not_literal(ctx: WorkerCtx) -> Result:
    """Whether a worker's `FAKTORY_URL` with the password is written in the compose file or a
    manifest rather than coming from a git-ignored `.env` or env file.

    The URL holds the server password: written in the file, it ends up in the repository."""
    url = ctx.worker.url
    where = url.location if url and url.location else ctx.worker.location
    if url is None or url.value is None or not url_password(url.value):
        return skipped("the worker's URL carries no password", where)
    if url.origin == "literal":
        return failed(
            f"{url.name} ({redact_url(url.value)}) has the password written in clear", where
        )
    return passed(f"{origin_text(url)}", where)


@audit_rule(
    "FKS009",
    "password-secret",
    "warning",
    "Files holding secrets are readable by their owner only",
    "chmod 600 the file (and 700 its folder).",
    inputs=STATIC,
    needs="host",
)
def secret_file_mode(facts: AuditFacts) -> Result:
    """The mode of every file on this host that holds a secret (password files, `.env`, env files, a
    generated Secret's files): readable by the owner only.

    A world-readable password file gives the admin password to every user of the host."""
    if not facts.secret_files:
        return skipped("no file on this host holds a secret")
    outcomes = []
    for item in facts.secret_files:
        if item.mode is None:
            outcomes.append(skipped(f"{item.path} ({item.what}): {item.error}", item.location))
        elif item.mode & 0o077:
            outcomes.append(
                failed(
                    f"{item.path} ({item.what}) has mode {item.mode:04o}: others on this host "
                    "can read it",
                    item.location,
                )
            )
        else:
            outcomes.append(
                passed(f"{item.path} ({item.what}) has mode {item.mode:04o}", item.location)
            )
    return outcomes


@audit_rule(
    "FKS010",
    "password-secret",
    "error",
    "Files holding secrets are git-ignored and not tracked",
    "Add the file to .gitignore; if it was committed, `git rm --cached` it and rotate the "
    "password.",
    inputs=STATIC,
)
def secret_file_git(facts: AuditFacts) -> Result:
    """Whether every secret file inside a git work tree is git-ignored and not tracked.

    A committed password is in every clone and in the history for good; it must be rotated."""
    if not facts.secret_files:
        return skipped("no file on this host holds a secret")
    outcomes = []
    for item in facts.secret_files:
        label = f"{item.path} ({item.what})"
        if item.git is None:
            outcomes.append(skipped(f"{label}: {item.git_skip or item.error}", item.location))
        elif item.git == "tracked":
            outcomes.append(
                failed(f"{label} is tracked by git: the secret is in the history", item.location)
            )
        elif item.git == "not-ignored":
            outcomes.append(
                failed(f"{label} is not git-ignored: one `git add` from a leak", item.location)
            )
        else:
            outcomes.append(passed(f"{label} is git-ignored and not tracked", item.location))
    return outcomes


@audit_rule(
    "FKS011",
    "password-secret",
    "error",
    "The secret files the spec names exist on this host",
    "Run `faktctl secrets provision` on this host (it generates the missing files, or takes a "
    "value from stdin, an environment variable or a file).",
    inputs=frozenset({"spec"}),
    needs="host",
)
def secret_files_present(facts: AuditFacts) -> Result:
    """The password files the spec names (`server.password_file`, `server.dashboard_password_file`)
    on the host that runs the audit. They are git-ignored, so a checkout never has them: the check
    runs on the deploy host (`--scope host`), not in CI.

    Without the password file `faktctl up` stops, and a compose file rendered from the spec mounts
    a secret that does not exist."""
    outcomes = []
    for item in facts.secret_files:
        label = f"{item.path} ({item.what})"
        if item.error == "does not exist":
            outcomes.append(
                failed(f"{label} does not exist on this host: `faktctl up` stops", item.location)
            )
        elif item.mode is None:
            outcomes.append(skipped(f"{label}: {item.error}", item.location))
        else:
            outcomes.append(passed(f"{label} exists", item.location))
    return outcomes or skipped("the spec names no secret file")
