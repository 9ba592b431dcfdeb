"""Dashboard exposure: 7420 (and 7419) are not reachable from beyond this host, and never
without a password."""

from __future__ import annotations

from faktctl.audit.model import Location
from faktctl.audit.registry import COMPOSE, Result, ServerCtx, failed, passed, server_rule, skipped
from faktctl.audit.rules._support import (
    PROTOCOL_PORT,
    WEB_PORT,
    Reachable,
    beyond_loopback,
    listen_port,
    proxied,
    published_anyway,
    reach_text,
    reachable,
)

PROXY_FIX = (
    "Publish the proxy on 127.0.0.1 only (reach it through an SSH tunnel), put authentication "
    "in front of that route and give Faktory a password, or drop the route and use "
    "`faktctl dashboard` instead."
)


def _kube_routes(ctx: ServerCtx, port: int) -> list[Reachable]:
    """Kubernetes Services, Ingresses and HTTPRoutes that reach `port` from beyond the cluster."""
    kube = ctx.server.kube
    routes = kube.routes if kube is not None else ()
    return [
        Reachable(port, "cluster-external", r.how, r.location)
        for r in routes
        if r.port == port and r.beyond_cluster
    ]


def _nothing_reached(ctx: ServerCtx, port: int, where: Location | None) -> Result:
    """No binding of the server's own port is published: say so truthfully. A port published
    where the command is unknown is undecided, not safe."""
    anyway = published_anyway(ctx, port)
    if anyway is None:
        binding = ctx.eff.web_binding if port == WEB_PORT else ctx.eff.protocol_binding
        inside = listen_port(binding, port)
        if inside != port and ctx.eff.args_known:
            flag = "-w" if port == WEB_PORT else "-b"
            return passed(
                f"the server listens on {flag} {binding} and no port of the file maps container "
                f"port {inside}",
                where,
            )
        other = [p for p in ctx.server.ports if p.container_port == inside and p.protocol != "tcp"]
        if other:
            shown = ", ".join(f"`{p.raw or p.container_port}`" for p in other)
            return passed(
                f"port {inside} is published only as {other[0].protocol} ({shown})", where
            )
        if ctx.server.kube is not None:
            routes = "FKD020" if port == WEB_PORT else "FKD021"
            return passed(
                f"no hostPort or hostNetwork publishes {port} on a node (Services, Ingresses "
                f"and routes: {routes})",
                where,
            )
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
    """Every published binding of the server's dashboard port (7420), including `network_mode:
    host`, read against the stated intent (`server.dashboard_exposure` or `x-faktctl-exposure`:
    internal, proxy or public). A port published while the server's listen flags are unknown is
    undecided (skipped), never called safe.

    The dashboard can delete, retry and kill every job; on a public interface it is one weak
    password away from losing all the work."""
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
    """Every published binding of the job port (7419): loopback and private addresses pass, every
    interface (`0.0.0.0`, `::`) or a public address fails.

    Whoever reaches 7419 can push, fetch and delete jobs, and with no password nothing stops
    them."""
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
    """Both Faktory ports reachable beyond loopback (published ports and proxies in front of the
    dashboard), together with whether the server (and the dashboard) asks for a password.

    An open port without a password is an open admin console: anyone who reaches it can flush every
    queue."""
    where = ctx.server.loc("ports", "network_mode")
    web = beyond_loopback(reachable(ctx, WEB_PORT)) + proxied(ctx).exposed
    web += _kube_routes(ctx, WEB_PORT)
    protocol = beyond_loopback(reachable(ctx, PROTOCOL_PORT)) + _kube_routes(ctx, PROTOCOL_PORT)
    pw = ctx.eff.password
    if not web and not protocol:
        undecided = [
            text
            for port in (WEB_PORT, PROTOCOL_PORT)
            if (anyway := published_anyway(ctx, port)) is not None
            and not ctx.eff.args_known
            and beyond_loopback(anyway[1])
            for text in [anyway[0]]
        ]
        if undecided:
            return skipped(undecided[0], where)
        if ctx.server.kube is not None:
            return passed("no port is published on a node or routed from beyond the cluster", where)
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


@server_rule(
    "FKD004",
    "dashboard-exposure",
    "error",
    "No proxy service publishes the dashboard (7420) beyond this host",
    PROXY_FIX,
    inputs=COMPOSE,
)
def proxied_dashboard(ctx: ServerCtx) -> Result:
    """Reverse proxies in the same compose file: nginx and openresty (mounted configuration), nginx-
    proxy (`VIRTUAL_HOST` with `VIRTUAL_PORT=7420`), Traefik labels, Caddy (Caddyfile or caddy-
    docker-proxy labels) and HAProxy, Envoy or httpd configuration naming `host:7420`. A proxy that
    publishes a port beyond loopback and forwards to 7420 fails, unless the server's web UI listens
    only on its own loopback or the service says `x-faktctl-exposure: proxy`. A proxy whose
    configuration cannot be read makes the check skip with the reason, never pass. Compose files
    only.

    A proxy moves the dashboard past every port binding the other checks look at: 7420 can be on
    loopback and still be on the internet through the proxy."""
    where = ctx.server.loc("ports", "network_mode")
    found = proxied(ctx)
    if found.exposed:
        first = found.exposed[0]
        routes = {item.how for item in found.exposed}
        if ctx.server.exposure_intent == "proxy":
            return passed(
                f"the dashboard is behind a reverse proxy by intent (x-faktctl-exposure: proxy): "
                f"{first.how}",
                first.location or where,
            )
        return failed(
            f"the dashboard is reachable beyond this host through a proxy: {first.how}"
            + (f" (and {len(routes) - 1} more)" if len(routes) > 1 else ""),
            first.location or where,
            remediation=PROXY_FIX,
        )
    if found.undecided:
        return skipped(
            "could not be decided whether a proxy publishes the dashboard: "
            + "; ".join(found.undecided),
            where,
        )
    if found.safe:
        return passed("; ".join(found.safe), where)
    seen = ctx.facts.proxies_seen
    if seen:
        return passed(f"no proxy service forwards to its 7420 (looked at {', '.join(seen)})", where)
    return passed("no proxy service in the file", where)
