"""Production mode: the server runs in production, and its flags and variables agree."""

from __future__ import annotations

import posixpath

from faktctl.audit.effective import DEFAULT_CONFIG_DIR, ENVIRONMENTS, ETC_PASSWORD
from faktctl.audit.registry import Result, ServerCtx, failed, passed, server_rule, skipped
from faktctl.audit.rules._support import env_unknown_reason, environment_reason

_ENV_REMEDIATION = (
    "Run `/faktory -e production` (spec: server.environment: production) and set "
    "FAKTORY_ENV=production too."
)


@server_rule(
    "FKM001",
    "production-mode",
    "error",
    "The server does not run in development",
    _ENV_REMEDIATION,
)
def not_development(ctx: ServerCtx) -> Result:
    """The environment the server really runs in, decided the way Faktory decides it: `-e` wins over
    `FAKTORY_ENV`, and without `command:` the image version's own default command counts (0.9.0 to
    1.4.1 images pass `-e development` themselves).

    In development Faktory needs no password and writes its data to `/root/.faktory/db`, so a volume
    on `/var/lib/faktory` stays empty and every job is lost when the container is recreated."""
    eff = ctx.eff
    where = ctx.server.loc("command", "environment")
    if eff.environment is None or not eff.env_valid:
        return skipped(env_unknown_reason(ctx), where)
    why = environment_reason(eff)
    if eff.development:
        guessed = "" if eff.args_known else f"; {eff.argv_note}, assuming no -e flag"
        return failed(
            f"runs in development ({why}{guessed}): no password is required and data goes "
            f"to {eff.data_dir}",
            where,
        )
    return passed(f"runs in {eff.environment} ({why})", where)


@server_rule(
    "FKM002",
    "production-mode",
    "warning",
    "The server runs in production rather than staging",
    _ENV_REMEDIATION,
)
def not_staging(ctx: ServerCtx) -> Result:
    """Whether the server's environment is staging rather than production.

    Open-source Faktory treats staging like production, but Faktory Enterprise caps a staging server
    at 100 connections."""
    eff = ctx.eff
    where = ctx.server.loc("command", "environment")
    if eff.environment is None or not eff.env_valid:
        return skipped(env_unknown_reason(ctx), where)
    if eff.environment == "staging":
        return failed(
            f"runs in staging ({environment_reason(eff)}): OSS treats it like production, "
            "but Enterprise caps staging at 100 connections",
            where,
        )
    if eff.development:
        return skipped("the server runs in development (FKM001)", where)
    return passed(f"runs in {eff.environment}", where)


@server_rule(
    "FKM003",
    "production-mode",
    "error",
    "The server accepts its environment and flags",
    "Use -e development|staging|production (or FAKTORY_ENV) and only the flags -b -w -e -l -d -c.",
)
def valid_environment(ctx: ServerCtx) -> Result:
    """The environment name and the command-line flags the server is given.

    Faktory refuses to start with an unknown environment or flag, and exits 0 while doing so."""
    eff = ctx.eff
    where = ctx.server.loc("command", "environment")
    if eff.cannot_start is not None:
        return failed(eff.cannot_start, where)
    if eff.environment is None:
        return skipped(env_unknown_reason(ctx), where)
    if not eff.env_valid:
        legal = ", ".join(ENVIRONMENTS)
        return failed(
            f"`{eff.environment}` ({environment_reason(eff)}) is not an environment: the "
            f"server prints its help and exits 1 (legal: {legal})",
            where,
        )
    return passed(f"environment `{eff.environment}` and the flags are valid", where)


@server_rule(
    "FKM004",
    "production-mode",
    "warning",
    "The -e flag and FAKTORY_ENV agree",
    "Give the same environment to -e and FAKTORY_ENV, or drop one of them.",
)
def env_flag_agreement(ctx: ServerCtx) -> Result:
    """Whether `-e` and `FAKTORY_ENV` name the same environment when both are set.

    `-e` wins; a `FAKTORY_ENV` that says otherwise misleads whoever reads the configuration."""
    eff = ctx.eff
    where = ctx.server.loc("command", "environment")
    if eff.flag_env is None:
        return passed("no -e flag: FAKTORY_ENV or the default decides", where)
    if not eff.var_env_known:
        return passed(f"the -e {eff.flag_env} flag decides", where)
    if eff.var_env and eff.var_env != eff.flag_env:
        return failed(
            f"-e {eff.flag_env} and FAKTORY_ENV={eff.var_env} disagree: the -e flag wins, the "
            f"server runs in {eff.flag_env}",
            where,
        )
    return passed(f"-e {eff.flag_env} decides and nothing contradicts it", where)


@server_rule(
    "FKM005",
    "production-mode",
    "error",
    "Configuration is mounted where the server reads it",
    "In production mount conf.d and TLS files under /etc/faktory; development reads "
    "$HOME/.faktory instead and ignores /etc/faktory.",
)
def config_dir_used(ctx: ServerCtx) -> Result:
    """Configuration and TLS files mounted for the server, against the folder the server reads in
    its environment (`/etc/faktory` in production and staging, `$HOME/.faktory` in development).

    A conf.d file in the folder the server does not read is ignored without a word: a dashboard
    password or TLS setting that never applies."""
    eff = ctx.eff
    if eff.config_dir is None:
        return skipped(env_unknown_reason(ctx))
    home_config = posixpath.join(eff.home, ".faktory")
    ignored = []
    for mount in ctx.server.mounts:
        target = mount.target.rstrip("/")
        if mount.kind == "tmpfs":
            continue
        under_etc = target == DEFAULT_CONFIG_DIR or target.startswith(DEFAULT_CONFIG_DIR + "/")
        under_home_conf = target.startswith(home_config + "/conf.d") or (
            posixpath.dirname(target) == home_config and target.endswith(".pem")
        )
        if target == ETC_PASSWORD and not eff.development:
            continue  # read in staging/production whatever -c says
        etc_ignored = under_etc and eff.config_dir != DEFAULT_CONFIG_DIR
        home_ignored = under_home_conf and eff.config_dir != home_config
        if etc_ignored or home_ignored:
            ignored.append(mount)
    if not ignored:
        return passed(f"nothing is mounted where {eff.environment} ignores it")
    targets = ", ".join(m.target for m in ignored)
    first = ignored[0].location or ctx.server.loc("volumes")
    return failed(
        f"{targets} is ignored: in {eff.environment} the server reads {eff.config_dir} "
        "(a conf.d password or TLS certificate there has no effect)",
        first,
    )
