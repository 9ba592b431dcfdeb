"""Swarm: what only a swarm decides about a server (a stack file's `deploy:`, a live service).

Each check speaks only about a server the input shows running on a swarm (`ServerFacts.swarm`,
or a port with a swarm publish mode) and says nothing otherwise. The rest of a swarm service
(replicas, restart policy, memory, the password's origin, published ports) is read into the
ordinary facts and judged by the ordinary checks (FKP004, FKH002/FKH003, FKS004, FKD002...).
"""

from __future__ import annotations

from faktctl.audit.model import InputKind
from faktctl.audit.registry import Result, ServerCtx, failed, passed, server_rule
from faktctl.audit.rules._support import DATA_KINDS, PROTOCOL_PORT, WEB_PORT

SWARM_INPUTS: frozenset[InputKind] = frozenset({"compose", "live"})
NODE_KEYS = ("node.hostname", "node.id", "node.labels.")


def _pins_a_node(constraint: str) -> bool:
    text = constraint.replace(" ", "")
    return "==" in text and text.startswith(NODE_KEYS)


@server_rule(
    "FKP030",
    "persistence",
    "error",
    "A swarm server is pinned to the node that holds its data",
    "Add a placement constraint naming one node (deploy.placement.constraints: "
    "[node.hostname==node-1] or [node.labels.faktory.server==true]; spec: swarm.server_node): "
    "a local volume exists on one node only.",
    inputs=SWARM_INPUTS,
)
def swarm_server_pinned(ctx: ServerCtx) -> Result:
    """A swarm server's placement constraints, when it mounts a volume or folder: one of
    `node.hostname==`, `node.id==` or `node.labels.X==` must pin it. Stack files and live swarm
    services only.

    A local volume exists on one node only; unpinned, the swarm may start the server on another node
    with a different, empty volume."""
    server, swarm = ctx.server, ctx.server.swarm
    if swarm is None:
        return []
    where = server.loc("placement")
    pins = [c for c in swarm.constraints if _pins_a_node(c)]
    if pins:
        node = f" (its task runs on {swarm.node})" if swarm.node else ""
        return passed(f"placement constraint {pins[0]}{node}", where)
    data = [m for m in server.mounts if m.kind in DATA_KINDS - {"tmpfs"}]
    if not data:
        return passed("no volume or bind mount to keep with a node", where)
    return failed(
        f"no placement constraint names a node: the swarm may start the server on any node, "
        f"where {data[0].kind} {data[0].source or data[0].target} is a different, empty one",
        where,
    )


@server_rule(
    "FKP031",
    "persistence",
    "error",
    "A swarm server's update stops the old task before starting the new one",
    "Set deploy.update_config.order: stop-first (the default): two servers must never run on "
    "one data directory.",
    inputs=SWARM_INPUTS,
)
def swarm_update_stop_first(ctx: ServerCtx) -> Result:
    """A swarm server's `update_config.order`. Stack files and live swarm services only.

    `start-first` runs the new server beside the old one on one data directory during every
    update."""
    swarm = ctx.server.swarm
    if swarm is None:
        return []
    where = ctx.server.loc("update_config")
    if swarm.update_order == "start-first":
        return failed(
            "update_config.order: start-first runs the new server beside the old one on the "
            "same data directory during every update",
            where,
        )
    return passed(f"update_config.order: {swarm.update_order or 'stop-first'}", where)


@server_rule(
    "FKD030",
    "dashboard-exposure",
    "error",
    "No Faktory port is published in swarm ingress mode",
    "Do not publish 7420 at all (faktctl dashboard tunnels to it); publish 7419 only in host "
    "mode on the server's node, behind a firewall, or keep producers on the overlay network.",
    inputs=SWARM_INPUTS,
)
def swarm_no_ingress(ctx: ServerCtx) -> Result:
    """Ports 7419 and 7420 published in swarm ingress mode, in a stack file's long port syntax or on
    a live swarm service. Stack files (a compose file whose `deploy:` has swarm keys) and live swarm
    services only.

    The routing mesh opens an ingress port on every node of the swarm and ignores `host_ip`, so no
    address binding can keep it private."""
    server = ctx.server
    ports = [p for p in server.ports if p.swarm_mode is not None]
    if server.swarm is None and not ports:
        return []
    where = server.loc("ports")
    faktory = {PROTOCOL_PORT, WEB_PORT}
    ingress = [p for p in ports if p.swarm_mode == "ingress" and p.container_port in faktory]
    if ingress:
        shown = ", ".join(p.raw or f"{p.host_port}:{p.container_port}" for p in ingress)
        return failed(
            f"{shown}: the routing mesh opens {'it' if len(ingress) == 1 else 'each'} "
            "on every interface of every node of the swarm",
            ingress[0].location or where,
        )
    host = [p for p in ports if p.container_port in faktory]
    if host:
        return passed(
            "published in host mode only (every interface of the server's node): "
            + ", ".join(p.raw or p.host_port for p in host),
            host[0].location or where,
        )
    return passed("no Faktory port is published on the swarm", where)
