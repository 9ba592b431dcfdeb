"""Dashboard exposure: 7420 (and 7419) are not reachable from beyond this host, and never
without a password."""

from __future__ import annotations

from faktctl.audit.model import Location
from faktctl.audit.registry import Result, ServerCtx, failed, passed, server_rule, skipped
from faktctl.audit.rules._support import (
    PROTOCOL_PORT,
    WEB_PORT,
    Reachable,
    beyond_loopback,
    published_anyway,
    reach_text,
    reachable,
)


def _nothing_reached(ctx: ServerCtx, port: int, where: Location | None) -> Result:
    """No binding of the server's own port is published: say so truthfully. A port published
    where the command is unknown is undecided, not safe."""
    anyway = published_anyway(ctx, port)
    if anyway is None:
        return passed(f"port {port} is not published", where)
    text, found = anyway
    if ctx.eff.args_known or not beyond_loopback(found):
        return passed(text, found[0].location or where)
    return skipped(text, found[0].location or where)


@server_rule(
    "FKD001",
    "dashboard-exposure",
    "error",
    "The dashboard (7420) is published on loopback only",
    "Publish 127.0.0.1:7420:7420 and reach it through an SSH tunnel, or bind a private IP "
    "behind a reverse proxy (spec: dashboard_exposure: proxy).",
)
def dashboard_exposure(ctx: ServerCtx) -> Result:
    where = ctx.server.loc("ports", "network_mode")
    if not ctx.eff.web_enabled:
        return passed("the dashboard is disabled (-w :0)", where)
    found = reachable(ctx, WEB_PORT)
    if not found:
        return _nothing_reached(ctx, WEB_PORT, where)
    intent = ctx.server.exposure_intent
    bad: list[Reachable]
    if intent == "proxy":
        bad = [item for item in found if item.reach in {"all", "public"}]
        if bad:
            return failed(
                f"the proxy intent needs a private IP bind, but 7420 is on {reach_text(bad)}",
                bad[0].location or where,
            )
        return passed(f"7420 is on {reach_text(found)} for the reverse proxy", where)
    bad = beyond_loopback(found)
    if not bad:
        return passed(f"7420 is on {reach_text(found)}", found[0].location or where)
    if intent == "public":
        return failed(
            f"the dashboard is public by intent: 7420 is on {reach_text(bad)}; suppress this "
            "check with a reason if that is deliberate",
            bad[0].location or where,
        )
    return failed(
        f"the dashboard is reachable beyond this host: 7420 is on {reach_text(bad)}",
        bad[0].location or where,
    )


@server_rule(
    "FKD002",
    "dashboard-exposure",
    "warning",
    "The job port (7419) is not published on every interface",
    "Publish 127.0.0.1:7419:7419, or a private IP when workers run on other hosts; never 0.0.0.0.",
)
def protocol_exposure(ctx: ServerCtx) -> Result:
    where = ctx.server.loc("ports", "network_mode")
    found = reachable(ctx, PROTOCOL_PORT)
    if not found:
        return _nothing_reached(ctx, PROTOCOL_PORT, where)
    bad = [item for item in found if item.reach in {"all", "public"}]
    if bad:
        return failed(f"7419 is on {reach_text(bad)}", bad[0].location or where)
    return passed(f"7419 is on {reach_text(found)}", found[0].location or where)


@server_rule(
    "FKD003",
    "dashboard-exposure",
    "error",
    "No open admin port: a password guards whatever is reachable",
    "Set a password before publishing 7419/7420 anywhere but loopback: without one, anyone "
    "who reaches them can delete every job.",
)
def open_admin(ctx: ServerCtx) -> Result:
    where = ctx.server.loc("ports", "network_mode")
    web = beyond_loopback(reachable(ctx, WEB_PORT))
    protocol = beyond_loopback(reachable(ctx, PROTOCOL_PORT))
    pw = ctx.eff.password
    if not web and not protocol:
        return passed("nothing is reachable beyond loopback", where)
    if pw.present is None:
        return skipped("whether the server has a password is not known here", where)
    open_web = web if ctx.eff.ui_password is False else []
    open_protocol = protocol if not pw.present else []
    exposed = open_web + open_protocol
    if exposed:
        return failed(
            f"no password, and {reach_text(exposed)} can be reached beyond this host: anyone "
            "there can FLUSH every job",
            exposed[0].location or where,
        )
    return passed("a password guards the published ports", where)
