"""Checks that only mean something on a cluster: how the server's workload is scaled and
updated, which Services, Ingresses and HTTPRoutes reach it, whether a NetworkPolicy guards it,
its probes and its memory request. Everything the compose checks already cover (environment,
data volume, password, image, grace period, memory limit) runs on Kubernetes facts unchanged."""

from __future__ import annotations

import posixpath

from faktctl.audit.model import KubeServerFacts, Location
from faktctl.audit.registry import (
    KUBERNETES,
    Result,
    ServerCtx,
    failed,
    passed,
    server_rule,
    skipped,
)
from faktctl.audit.rules._support import PROTOCOL_PORT, WEB_PORT


def _kube(ctx: ServerCtx) -> KubeServerFacts:
    kube = ctx.server.kube
    if kube is None:  # the rules run for Kubernetes input only, which always sets it
        raise ValueError("no Kubernetes facts for this server")
    return kube


@server_rule(
    "FKP020",
    "persistence",
    "error",
    "The server's workload never runs two servers at once",
    "Run the server as a StatefulSet with replicas: 1 (or a Deployment with strategy "
    "Recreate); never a DaemonSet or a rolling update: two servers would share one data "
    "volume or split the jobs.",
    inputs=KUBERNETES,
)
def workload_kind(ctx: ServerCtx) -> Result:
    """The kind of workload that runs the server and its update strategy. A StatefulSet, or a
    Deployment with strategy `Recreate`, passes; a DaemonSet, a bare ReplicaSet, a Job or CronJob,
    or a Deployment with rolling updates fails. Kubernetes manifests only.

    Those workloads start a second server beside the first: on one volume the new one cannot start
    or corrupts the data; on separate volumes the jobs are split."""
    kube = _kube(ctx)
    where = kube.strategy_location or ctx.server.location
    if kube.kind == "DaemonSet":
        return failed(
            "a DaemonSet runs one server per node, each with its own data: jobs split across them",
            ctx.server.location,
        )
    if kube.kind == "ReplicaSet":
        return failed("a bare ReplicaSet can run a replacement beside a terminating server", where)
    if kube.kind in {"Job", "CronJob"}:
        return failed(
            f"a {kube.kind} is for work that finishes: its pods are replaced without waiting for "
            "the old server to stop, and nothing keeps the server running",
            ctx.server.location,
        )
    if kube.kind == "Deployment" and kube.strategy != "Recreate":
        shared = any(m.kind == "volume" for m in ctx.server.mounts)
        what = (
            "both use one data volume (the new one cannot start, or a ReadWriteMany volume is "
            "corrupted)"
            if shared
            else "each keeps its own data (no volume is shared), so the jobs still on the old "
            "one are lost when it stops"
        )
        return failed(
            f"a Deployment with strategy {kube.strategy} starts the new server before the old "
            f"one stops: {what}",
            where,
        )
    if kube.kind == "Deployment":
        return passed("a Deployment with strategy Recreate stops the old server first", where)
    return passed(f"a {kube.kind} runs the server", where)


@server_rule(
    "FKP021",
    "persistence",
    "error",
    "No autoscaler scales the server",
    "Delete the HorizontalPodAutoscaler that targets the server: OSS Faktory cannot be "
    "scaled out; scale the workers instead.",
    inputs=KUBERNETES,
)
def no_autoscaler(ctx: ServerCtx) -> Result:
    """HorizontalPodAutoscalers whose target is the server's workload. Kubernetes manifests only.

    An autoscaler would start a second server on the same data; scale the workers instead."""
    kube = _kube(ctx)
    if not kube.autoscalers:
        return passed(f"no HorizontalPodAutoscaler targets {kube.kind} {kube.name}")
    name, where = kube.autoscalers[0]
    return failed(
        f"HorizontalPodAutoscaler {name} scales {kube.kind} {kube.name}: every extra replica "
        "is another server with its own (or a shared) data directory",
        where,
    )


def _routes_to(ctx: ServerCtx, port: int) -> list[tuple[str, Location | None]]:
    return [
        (route.how, route.location)
        for route in _kube(ctx).routes
        if route.port == port and route.beyond_cluster
    ]


@server_rule(
    "FKD020",
    "dashboard-exposure",
    "error",
    "No Service, Ingress or HTTPRoute puts the dashboard (7420) beyond the cluster",
    "Keep the dashboard on a ClusterIP Service and reach it with `kubectl port-forward "
    "svc/faktory-web 7420`; never a LoadBalancer, NodePort, externalIPs, Ingress or HTTPRoute.",
    inputs=KUBERNETES,
)
def dashboard_route(ctx: ServerCtx) -> Result:
    """Services (LoadBalancer, NodePort, `externalIPs`), `hostPort`, `hostNetwork`, Ingresses and
    Gateway API HTTPRoutes that reach the server's dashboard port, with named `targetPort`s resolved
    through the container's port names. Kubernetes manifests only.

    Anything beyond a ClusterIP Service puts the admin UI outside the cluster; `kubectl port-
    forward` reaches it without that."""
    if not ctx.eff.web_enabled:
        return passed("the dashboard is disabled (-w :0)")
    routes = _routes_to(ctx, WEB_PORT)
    if not routes:
        return passed("nothing routes to port 7420 from beyond the cluster")
    how, where = routes[0]
    others = f" (and {len(routes) - 1} more)" if len(routes) > 1 else ""
    if ctx.server.exposure_intent == "public":
        return failed(
            f"the dashboard is public by intent: {how}{others}; suppress this check with a "
            "reason if that is deliberate",
            where,
        )
    guard = "" if ctx.eff.ui_password is not False else ", and it has no password"
    return failed(
        f"the dashboard is reachable from beyond the cluster: {how}{others}{guard}", where
    )


@server_rule(
    "FKD021",
    "dashboard-exposure",
    "warning",
    "No Service, Ingress or HTTPRoute puts the job port (7419) beyond the cluster",
    "Workers on the cluster reach 7419 through a ClusterIP Service; expose it outside only "
    "through a private load balancer with TLS, and say so in a suppression.",
    inputs=KUBERNETES,
)
def protocol_route(ctx: ServerCtx) -> Result:
    """The same routes as FKD020, for the job port (7419). Kubernetes manifests only.

    Workers inside the cluster need no route from outside; one that exists widens who can push and
    delete jobs."""
    routes = _routes_to(ctx, PROTOCOL_PORT)
    if not routes:
        return passed("nothing routes to port 7419 from beyond the cluster")
    how, where = routes[0]
    return failed(f"the job port is reachable from beyond the cluster: {how}", where)


@server_rule(
    "FKD022",
    "dashboard-exposure",
    "warning",
    "A NetworkPolicy selects the server's pods",
    "Add a NetworkPolicy that admits only the workers' pods to 7419 and nothing to 7420 "
    "(`faktctl render --target kubernetes` writes one).",
    inputs=KUBERNETES,
)
def network_policy(ctx: ServerCtx) -> Result:
    """Whether a NetworkPolicy in the input selects the server's pods. Kubernetes manifests only.

    Without one, every pod in the cluster can reach both Faktory ports."""
    kube = _kube(ctx)
    if kube.network_policies:
        names = ", ".join(kube.network_policies)
        return passed(f"NetworkPolicy {names} selects the server's pods")
    return failed(
        "no NetworkPolicy in this input selects the server's pods: every pod in the cluster "
        "can reach 7419 and the dashboard on 7420",
        ctx.server.location,
    )


@server_rule(
    "FKS030",
    "password-secret",
    "error",
    "The password does not come from a ConfigMap",
    "Put the password in a Secret (generated at deploy time, e.g. kustomize secretGenerator "
    "or an external secret store) mounted as a file; ConfigMaps are readable by anyone who "
    "can read the namespace's configuration.",
    inputs=KUBERNETES,
)
def password_not_configmap(ctx: ServerCtx) -> Result:
    """Where the server's password comes from in Kubernetes manifests: a ConfigMap fails. Kubernetes
    manifests only.

    ConfigMaps are not secrets: anyone who can read the namespace's configuration reads the
    password."""
    pw = ctx.eff.password
    if pw.present is False:
        return skipped("the server has no password (FKS001)")
    var = ctx.server.env.get("FAKTORY_PASSWORD")
    if var is not None and var.detail.startswith("ConfigMap"):
        return failed(f"FAKTORY_PASSWORD comes from {var.detail}", var.location)
    paths = [pw.file_path] if pw.file_path else []
    if pw.source == "conf.d" and ctx.eff.config_dir:
        paths.append(posixpath.join(ctx.eff.config_dir, "conf.d"))
    for mount in ctx.server.mounts:
        for path in paths:
            inside = mount.covers(path) or mount.target.startswith(path.rstrip("/") + "/")
            if mount.kind == "config" and inside:
                return failed(
                    f"the password in {path} is mounted from ConfigMap {mount.source}",
                    mount.location,
                )
    if var is None and not paths:
        return skipped("the password's origin is not known here")
    return passed("the password does not come from a ConfigMap")


@server_rule(
    "FKH030",
    "hygiene",
    "warning",
    "Readiness and liveness probes are defined",
    "Add readinessProbe and livenessProbe (and a startupProbe for large data sets) with "
    "httpGet on /health, port 7420.",
    inputs=KUBERNETES,
)
def probes(ctx: ServerCtx) -> Result:
    """Whether the server's container has readiness and liveness probes. Kubernetes manifests only.

    Without them Kubernetes routes workers to a server that is not ready and never restarts one that
    hangs."""
    kube = _kube(ctx)
    where = ctx.server.loc("healthcheck")
    missing = [p for p in ("readiness", "liveness") if p not in kube.probes]
    if not missing:
        return passed(f"probes: {', '.join(kube.probes)}", where)
    what = {
        "readiness": "the Service sends workers to a server that is still loading its data",
        "liveness": "a hung server is never restarted",
    }
    reasons = "; ".join(f"no {p}Probe: {what[p]}" for p in missing)
    return failed(reasons, where)


@server_rule(
    "FKH031",
    "hygiene",
    "warning",
    "The memory request equals the memory limit",
    "Set resources.requests.memory to the same value as resources.limits.memory: the node "
    "then reserves it, and the server is not the first pod evicted or OOM-killed.",
    inputs=KUBERNETES,
)
def memory_request(ctx: ServerCtx) -> Result:
    """The server container's memory request against its memory limit. Kubernetes manifests only.

    A request below the limit lets the node overcommit: under pressure the server is among the first
    pods evicted or OOM-killed."""
    kube = _kube(ctx)
    limit = ctx.server.memory_bytes
    where = ctx.server.loc("memory")
    if limit is None:
        return skipped("no memory limit (FKH006)", where)
    request = kube.memory_request
    if request is None:
        return failed(
            f"no memory request (limit {limit // 1024**2} MiB): the scheduler may place the "
            "server on a node without that memory",
            where,
        )
    if request < limit:
        return failed(
            f"the memory request ({request // 1024**2} MiB) is below the limit "
            f"({limit // 1024**2} MiB): under memory pressure the server is evicted first",
            where,
        )
    return passed(f"memory request = limit = {limit // 1024**2} MiB", where)
