"""faktctl audit --k8s PATH|-: gather the same facts as a compose file, from Kubernetes manifests.

A Faktory server is a container whose image is faktory/faktory-ent or whose command runs
/faktory, inside a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob. Its
command, environment (env, envFrom, ConfigMap and Secret references resolved when the object is
in the input), volumes, probes and resources become ServerFacts, so the existing checks apply;
what only a cluster has (Services, Ingresses, HTTPRoutes, NetworkPolicies, autoscalers, update
strategies) becomes KubeServerFacts for the Kubernetes checks.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from faktctl.audit.effective import TLS_FILES, faktory_args, image_default, reads_faktory_env
from faktctl.audit.model import (
    AuditFacts,
    BackupFacts,
    CertFacts,
    EnvVar,
    HealthcheckFact,
    KubeRoute,
    KubeServerFacts,
    Location,
    MountFact,
    MountKind,
    Origin,
    PortFact,
    SecretFileFact,
    ServerFacts,
    Suppression,
    WorkerFacts,
)
from faktctl.audit.sources import yamlsrc
from faktctl.audit.sources.compose.gather import suppressions_from
from faktctl.audit.sources.kubernetes.objects import (
    GeneratedFile,
    KubeObject,
    PodTemplate,
    at,
    configmap_values,
    generated_from_files,
    generated_secrets,
    load_objects,
    mapping,
    mappings,
    parse_quantity,
    pod_template,
    port_number,
    same_namespace,
    secret_values,
    selector_matches,
    service_selects,
)
from faktctl.audit.sources.secretfacts import inspect_secret_files
from faktctl.audit.sources.yamlsrc import LineDict
from faktctl.errors import UsageError
from faktctl.faktory.images import parse_image

IGNORE_ANNOTATION = "faktctl.io/audit-ignore"
EXPOSURE_ANNOTATION = "faktctl.io/exposure"
DEFAULT_GRACE_S = 30  # what Kubernetes gives a pod when terminationGracePeriodSeconds is unset
WORKER_VARS = ("FAKTORY_URL", "FAKTORY_PROVIDER")
FAKTORY_PORTS = (7419, 7420)
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@dataclass
class Index:
    """Every object of the input, looked up by kind and name."""

    objects: list[KubeObject]
    by_kind: dict[str, list[KubeObject]] = field(default_factory=dict)
    # (Secret name, key) -> the host file a kustomize secretGenerator makes it from
    generated: dict[tuple[str, str], Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in self.objects:
            self.by_kind.setdefault(obj.kind, []).append(obj)

    def find(self, kind: str, name: str, near: KubeObject) -> KubeObject | None:
        for obj in self.by_kind.get(kind, []):
            if obj.name == name and same_namespace(obj, near):
                return obj
        return None

    def of_kind(self, *kinds: str) -> list[KubeObject]:
        return [obj for kind in kinds for obj in self.by_kind.get(kind, [])]


# --- environment -----------------------------------------------------------------------------


def _ref_value(
    index: Index, owner: KubeObject, kind: str, ref: Any, loc: Location
) -> tuple[str | None, str, str]:
    """(value, origin, detail) of a secretKeyRef/configMapKeyRef."""
    name = str(ref.get("name", "")) if isinstance(ref, dict) else ""
    key = str(ref.get("key", "")) if isinstance(ref, dict) else ""
    obj = index.find(kind, name, owner)
    if obj is None:
        return None, "reference", f"{kind} {name} key {key}"
    if kind == "Secret" and generated_from_files(obj):
        values, _ = secret_values(obj)
        detail = f"Secret {name} key {key}, generated from a file by {obj.where()}"
        return values.get(key), "reference", detail
    if kind == "Secret":
        values, fields = secret_values(obj)
        detail = f"Secret {name} key {key}, written with {fields or 'data'} at {obj.where()}"
    else:
        values = configmap_values(obj)
        detail = f"ConfigMap {name} key {key} at {obj.where()}"
    return values.get(key), "literal", detail


def _env_from(
    index: Index, owner: KubeObject, container: LineDict, display: str
) -> dict[str, EnvVar]:
    found: dict[str, EnvVar] = {}
    items = container.get("envFrom")
    for position, source in enumerate(items if isinstance(items, list) else []):
        if not isinstance(source, LineDict):
            continue
        prefix = str(source.get("prefix") or "")
        where = at(items, position, display)
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(key)
            if not isinstance(ref, dict):
                continue
            obj = index.find(kind, str(ref.get("name", "")), owner)
            if obj is None:
                continue  # its variables cannot be known here (a note says so)
            if kind == "Secret":
                values, fields = secret_values(obj)
                what = f"Secret {obj.name} (envFrom), written with {fields or 'data'}"
            else:
                values = configmap_values(obj)
                what = f"ConfigMap {obj.name} (envFrom)"
            for name, value in values.items():
                found[prefix + name] = EnvVar(prefix + name, value, "literal", what, where)
    return found


def _environment(
    index: Index, owner: KubeObject, container: LineDict, display: str
) -> dict[str, EnvVar]:
    env = _env_from(index, owner, container, display)
    items = container.get("env")
    for position, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, LineDict) or "name" not in item:
            continue
        name = str(item["name"])
        where = at(items, position, display)
        source = item.get("valueFrom")
        if isinstance(source, LineDict):
            where = at(item, "valueFrom", display)
            if "secretKeyRef" in source:
                value, origin, detail = _ref_value(
                    index, owner, "Secret", source["secretKeyRef"], where
                )
            elif "configMapKeyRef" in source:
                value, origin, detail = _ref_value(
                    index, owner, "ConfigMap", source["configMapKeyRef"], where
                )
            else:
                value, origin, detail = None, "reference", "a field of the pod"
            env[name] = EnvVar(name, value, origin, detail, where)  # type: ignore[arg-type]
            continue
        raw = item.get("value", "")
        value = _expand(str(raw) if raw is not None else "", env)
        env[name] = EnvVar(name, value, "literal", "", at(item, "value", display))
    return env


def _expand(text: str, env: Mapping[str, EnvVar]) -> str:
    """Kubernetes' $(VAR) expansion of earlier variables; unknown ones stay as written."""

    def swap(match: re.Match[str]) -> str:
        var = env.get(match.group(1))
        return var.value if var is not None and var.value is not None else match.group(0)

    return _VAR_REF.sub(swap, text.replace("$$", "\0")).replace("\0", "$")


# --- command ---------------------------------------------------------------------------------


def _argv(
    container: LineDict, image: str | None, env: Mapping[str, EnvVar]
) -> tuple[tuple[str, ...] | None, str]:
    command = container.get("command")
    args = container.get("args")

    def words(node: list[Any]) -> list[str]:
        return [_expand(str(w), env) for w in node]

    is_faktory = image is not None and parse_image(image).is_faktory
    if isinstance(command, list):
        return tuple(words(command) + (words(args) if isinstance(args, list) else [])), ""
    if isinstance(args, list):
        if is_faktory:  # the image has no ENTRYPOINT: args replace its CMD, binary included
            return tuple(words(args)), ""
        return None, "args given to an image whose entrypoint is not known"
    default = image_default(image)
    return default.argv, default.note


# --- volumes ---------------------------------------------------------------------------------


def _volume_source(
    volume: LineDict, claims: dict[str, LineDict]
) -> tuple[MountKind, str | None, str | None]:
    """(mount kind, source text, object kind that holds file content or None)."""
    name = str(volume.get("name", ""))
    if "persistentVolumeClaim" in volume:
        claim = mapping(volume["persistentVolumeClaim"])
        return "volume", f"PersistentVolumeClaim {claim.get('claimName', '')}", None
    if "emptyDir" in volume:
        medium = str(mapping(volume["emptyDir"]).get("medium", ""))
        return ("tmpfs" if medium == "Memory" else "anonymous"), f"emptyDir {name}", None
    if "hostPath" in volume:
        host = mapping(volume["hostPath"])
        return "bind", str(host.get("path", "")), None
    if "secret" in volume:
        return "secret", str(mapping(volume["secret"]).get("secretName", "")), "Secret"
    if "configMap" in volume:
        return "config", str(mapping(volume["configMap"]).get("name", "")), "ConfigMap"
    if "ephemeral" in volume:
        return "anonymous", f"ephemeral volume {name}", None
    if name in claims:
        return "volume", f"volumeClaimTemplate {name}", None
    kinds = [k for k in volume if k != "name"]
    return "volume", f"{kinds[0] if kinds else 'volume'} {name}", None


def _file_entries(
    index: Index, owner: KubeObject, kind: str, name: str, items: Any
) -> dict[str, str] | None:
    """Relative path -> content of a Secret/ConfigMap volume when the object is in the input."""
    obj = index.find(kind, name, owner)
    if obj is None:
        return None
    values = secret_values(obj)[0] if kind == "Secret" else configmap_values(obj)
    listed = mappings(items)
    if not listed:
        return dict(values)
    return {
        str(item.get("path", item.get("key"))): values[str(item.get("key"))]
        for item in listed
        if str(item.get("key")) in values
    }


def _mounts(
    index: Index,
    pod: PodTemplate,
    container: LineDict,
    display: str,
    env: Mapping[str, EnvVar],
) -> tuple[MountFact, ...]:
    claims = _claim_templates(pod.owner)
    volumes = {str(v.get("name")): v for v in mappings(pod.spec.get("volumes"))}
    for name in claims:
        volumes.setdefault(name, LineDict({"name": name}))
    found: list[MountFact] = []
    items = container.get("volumeMounts")
    password = env.get("FAKTORY_PASSWORD")
    wanted = password.value if password is not None and password.value else ""
    for position, mount in enumerate(items if isinstance(items, list) else []):
        if not isinstance(mount, LineDict):
            continue
        volume = volumes.get(str(mount.get("name")))
        if volume is None:
            continue
        target = posixpath.normpath(str(mount.get("mountPath", "/")))
        where = at(items, position, display)
        kind, source, holder = _volume_source(volume, claims)
        read_only = bool(mount.get("readOnly", False))
        sub = str(mount.get("subPath") or "")
        if holder is None:
            found.append(MountFact(kind, target, source, read_only, location=where))
            continue
        inner = mapping(volume.get("secret") or volume.get("configMap"))
        entries = _file_entries(index, pod.owner, holder, source or "", inner.get("items"))
        generated = holder == "Secret" and _generated(index, pod.owner, source or "")
        origin: Origin | None = "literal" if entries is not None and not generated else None
        if sub:
            content = entries.get(sub) if entries is not None else None
            host = index.generated.get((source or "", _item_key(inner.get("items"), sub)))
            host_path = str(host) if generated and host is not None else None
            found.append(
                MountFact(
                    kind, target, source, read_only, content, False, None, host_path, origin, where
                )
            )
            continue
        found.append(
            MountFact(kind, target, source, read_only, None, True, entries, None, origin, where)
        )
        if entries is None and wanted.startswith(target.rstrip("/") + "/"):
            # keys unknown here: assume the file the server is told to read is there
            found.append(MountFact(kind, wanted, source, read_only, None, False, location=where))
    return tuple(found)


def _item_key(items: Any, path: str) -> str:
    """The key of a Secret volume's item mounted at `path` (the key itself without items)."""
    for item in mappings(items):
        if str(item.get("path", item.get("key"))) == path:
            return str(item.get("key"))
    return path


def _tls_cert(server: ServerFacts, wanted: tuple[str, ...], base: Path) -> CertFacts | None:
    """The certificate a server mounts from a secretGenerator's file (the key beside it, the
    CA the same generator carries)."""
    from faktctl.audit.runner import behaviour_of
    from faktctl.audit.sources.tlsfacts import from_mounts

    label = f"key {TLS_FILES[0]} of secretGenerator"
    return from_mounts(server, behaviour_of(server).config_dir, wanted, base, label)


def _generated(index: Index, owner: KubeObject, name: str) -> bool:
    obj = index.find("Secret", name, owner)
    return obj is not None and generated_from_files(obj)


def _claim_templates(owner: KubeObject) -> dict[str, LineDict]:
    spec = owner.doc.get("spec")
    templates = spec.get("volumeClaimTemplates") if isinstance(spec, LineDict) else None
    found = {}
    for claim in mappings(templates):
        meta = claim.get("metadata")
        if isinstance(meta, dict) and meta.get("name"):
            found[str(meta["name"])] = claim
    return found


# --- ports, probes, resources ----------------------------------------------------------------


def _container_ports(container: LineDict) -> dict[str, int]:
    """Named container ports -> numbers (how Services and Ingresses resolve names)."""
    named = {}
    for port in mappings(container.get("ports")):
        if port.get("name") and isinstance(port.get("containerPort"), int):
            named[str(port["name"])] = int(port["containerPort"])
    return named


def _host_ports(container: LineDict, display: str) -> tuple[PortFact, ...]:
    items = container.get("ports")
    found = []
    for position, port in enumerate(items if isinstance(items, list) else []):
        if not isinstance(port, LineDict) or not port.get("hostPort"):
            continue
        found.append(
            PortFact(
                port_number(port.get("containerPort")) or 0,
                str(port.get("hostIP", "")),
                str(port["hostPort"]),
                str(port.get("protocol", "TCP")).lower(),
                f"hostPort {port['hostPort']} -> containerPort {port.get('containerPort')}",
                at(items, position, display),
            )
        )
    return tuple(found)


def _probe_test(probe: LineDict, named: dict[str, int]) -> tuple[str, ...]:
    get = probe.get("httpGet")
    if isinstance(get, dict):
        port = get.get("port")
        number = named.get(str(port), port) if isinstance(port, str) else port
        host = get.get("host", "127.0.0.1")
        scheme = str(get.get("scheme", "HTTP")).lower()
        return ("HTTP", "GET", f"{scheme}://{host}:{number}{get.get('path', '/')}")
    run = probe.get("exec")
    if isinstance(run, dict) and isinstance(run.get("command"), list):
        return ("CMD", *(str(w) for w in run["command"]))
    tcp = probe.get("tcpSocket") or probe.get("grpc")
    if isinstance(tcp, dict):
        return ("TCP", str(tcp.get("port")))
    return ()


def _healthcheck(container: LineDict, named: dict[str, int]) -> tuple[HealthcheckFact | None, str]:
    for key in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(key)
        if isinstance(probe, LineDict):
            return HealthcheckFact(_probe_test(probe, named)), key
    return None, "readinessProbe"


def _memory(container: LineDict, kind: str) -> int | None:
    resources = container.get("resources")
    amounts = resources.get(kind) if isinstance(resources, dict) else None
    value = amounts.get("memory") if isinstance(amounts, dict) else None
    return parse_quantity(value) if value is not None else None


# --- what reaches the server -----------------------------------------------------------------


def _service_ports(service: KubeObject, named: dict[str, int]) -> list[tuple[LineDict, int, int]]:
    """(service port node, service port number, Faktory port reached) for each Faktory port."""
    spec = service.doc.get("spec")
    found = []
    for port in mappings(spec.get("ports") if isinstance(spec, dict) else None):
        number = port.get("port")
        target = port.get("targetPort", number)
        reached = named.get(target) if isinstance(target, str) else target
        if isinstance(reached, int) and reached in FAKTORY_PORTS and isinstance(number, int):
            found.append((port, number, reached))
    return found


def _describe_target(port: LineDict, reached: int) -> str:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, str):
        return f"targetPort {target} (= containerPort {reached})"
    return f"targetPort {target}"


def _services(index: Index, pod: PodTemplate, named: dict[str, int]) -> list[KubeObject]:
    return [
        svc
        for svc in index.of_kind("Service")
        if same_namespace(svc, pod.owner)
        and service_selects(mapping(svc.doc.get("spec")).get("selector"), pod.labels)
    ]


def _routes(index: Index, pod: PodTemplate, named: dict[str, int]) -> tuple[KubeRoute, ...]:
    routes: list[KubeRoute] = []
    by_name: dict[str, list[tuple[LineDict, int, int]]] = {}
    for svc in _services(index, pod, named):
        spec = mapping(svc.doc.get("spec"))
        kind = str(spec.get("type") or "ClusterIP")
        ports = _service_ports(svc, named)
        by_name[svc.name] = ports
        external = spec.get("externalIPs")
        for port, number, reached in ports:
            where = at(port, "targetPort" if "targetPort" in port else "port", svc.display)
            how = f"Service {svc.name} ({kind}) port {number} -> {_describe_target(port, reached)}"
            if kind in {"LoadBalancer", "NodePort"}:
                node = f", nodePort {port['nodePort']}" if port.get("nodePort") else ""
                routes.append(KubeRoute(reached, how + node, True, where))
            if isinstance(external, list) and external:
                text = f"{how} with externalIPs {', '.join(str(e) for e in external)}"
                routes.append(KubeRoute(reached, text, True, at(spec, "externalIPs", svc.display)))
    routes += _ingress_routes(index, pod, by_name)
    routes += _http_routes(index, pod, by_name)
    return tuple(routes)


def _backend_port(
    ports: list[tuple[LineDict, int, int]], wanted: Any
) -> tuple[LineDict, int, int] | None:
    for entry in ports:
        port, number, _ = entry
        if wanted == number or (isinstance(wanted, str) and wanted == port.get("name")):
            return entry
    return None


def _ingress_backends(spec: LineDict) -> list[LineDict]:
    found = []
    for key in ("defaultBackend", "backend"):  # `backend`: extensions / networking v1beta1
        if isinstance(spec.get(key), LineDict):
            found.append(spec[key])
    for rule in mappings(spec.get("rules")):
        http = rule.get("http")
        for path in mappings(http.get("paths") if isinstance(http, dict) else None):
            if isinstance(path.get("backend"), LineDict):
                found.append(path["backend"])
    return found


def _ingress_routes(
    index: Index, pod: PodTemplate, by_name: dict[str, list[tuple[LineDict, int, int]]]
) -> list[KubeRoute]:
    routes = []
    for ingress in index.of_kind("Ingress"):
        spec = ingress.doc.get("spec")
        if not isinstance(spec, LineDict) or not same_namespace(ingress, pod.owner):
            continue
        for backend in _ingress_backends(spec):
            found = _ingress_service(backend)
            if found is None or found[0] not in by_name:
                continue
            name, wanted, key = found
            entry = _backend_port(by_name[name], wanted)
            if entry is None:
                continue
            svc_port, number, reached = entry
            how = (
                f"Ingress {ingress.name} -> Service {name} port {number} -> "
                f"{_describe_target(svc_port, reached)}"
            )
            routes.append(KubeRoute(reached, how, True, at(backend, key, ingress.display)))
    return routes


def _ingress_service(backend: LineDict) -> tuple[str, Any, str] | None:
    """(Service name, the port it asks for (number or name), the key to point at) of one
    Ingress backend: `service: {name, port: {number|name}}` (networking.k8s.io/v1), or
    `serviceName` + `servicePort` (extensions/v1beta1 and networking.k8s.io/v1beta1)."""
    service = backend.get("service")
    if isinstance(service, LineDict) and service.get("name") is not None:
        port = service.get("port") or {}
        wanted = port.get("number", port.get("name")) if isinstance(port, dict) else None
        return str(service["name"]), wanted, "service"
    if backend.get("serviceName") is not None:
        return str(backend["serviceName"]), backend.get("servicePort"), "serviceName"
    return None


def _http_routes(
    index: Index, pod: PodTemplate, by_name: dict[str, list[tuple[LineDict, int, int]]]
) -> list[KubeRoute]:
    routes = []
    for route in index.of_kind("HTTPRoute", "GRPCRoute", "TCPRoute"):
        spec = route.doc.get("spec")
        if not isinstance(spec, LineDict) or not same_namespace(route, pod.owner):
            continue
        for rule in mappings(spec.get("rules")):
            refs = rule.get("backendRefs")
            for position, ref in enumerate(refs if isinstance(refs, list) else []):
                if not isinstance(ref, LineDict) or str(ref.get("kind", "Service")) != "Service":
                    continue
                name = str(ref.get("name"))
                entry = _backend_port(by_name.get(name, []), ref.get("port"))
                if entry is None:
                    continue
                svc_port, number, reached = entry
                how = (
                    f"{route.kind} {route.name} -> Service {name} port {number} -> "
                    f"{_describe_target(svc_port, reached)}"
                )
                routes.append(KubeRoute(reached, how, True, at(refs, position, route.display)))
    return routes


def _policies(index: Index, pod: PodTemplate) -> tuple[str, ...]:
    found = []
    for policy in index.of_kind("NetworkPolicy"):
        spec = policy.doc.get("spec")
        if not isinstance(spec, dict) or not same_namespace(policy, pod.owner):
            continue
        types = spec.get("policyTypes")
        ingress = "Ingress" in types if isinstance(types, list) else True
        if ingress and selector_matches(spec.get("podSelector"), pod.labels):
            found.append(policy.name)
    return tuple(found)


def _autoscalers(index: Index, owner: KubeObject) -> tuple[tuple[str, Location | None], ...]:
    found = []
    for hpa in index.of_kind("HorizontalPodAutoscaler"):
        spec = hpa.doc.get("spec")
        target = spec.get("scaleTargetRef") if isinstance(spec, LineDict) else None
        if not isinstance(target, dict) or not same_namespace(hpa, owner):
            continue
        if str(target.get("kind")) == owner.kind and str(target.get("name")) == owner.name:
            found.append((hpa.name, at(spec, "scaleTargetRef", hpa.display)))
    return tuple(found)


def _strategy(owner: KubeObject) -> tuple[str | None, Location | None]:
    spec = owner.doc.get("spec")
    if not isinstance(spec, LineDict):
        return None, None
    key = {"Deployment": "strategy", "StatefulSet": "updateStrategy"}.get(owner.kind)
    if key is None:
        return None, None
    node = spec.get(key)
    if isinstance(node, LineDict):
        return str(node.get("type") or "RollingUpdate"), at(node, "type", owner.display)
    return "RollingUpdate", at(spec, key, owner.display)  # the default for both kinds


# --- assembling --------------------------------------------------------------------------------


def _replicas(owner: KubeObject) -> tuple[int, Location]:
    spec = owner.doc.get("spec")
    if owner.kind in {"Deployment", "StatefulSet", "ReplicaSet"} and isinstance(spec, LineDict):
        value = spec.get("replicas", 1)
        return (value if isinstance(value, int) else 1), at(spec, "replicas", owner.display)
    if owner.kind == "Job" and isinstance(spec, LineDict):
        value = spec.get("parallelism", 1)
        return (value if isinstance(value, int) else 1), at(spec, "parallelism", owner.display)
    return 1, owner.where()


def _restart(pod: PodTemplate) -> str:
    policy = str(pod.spec.get("restartPolicy") or "Always")
    return {"Always": "always", "OnFailure": "on-failure", "Never": "no"}.get(policy, policy)


def _service_name(pod: PodTemplate, container: LineDict, servers_in_pod: int) -> str:
    name = pod.owner.name
    return f"{name}/{container.get('name')}" if servers_in_pod > 1 else name


def _exposure(owner: KubeObject) -> str:
    value, where = owner.annotation(EXPOSURE_ANNOTATION)
    if value is None:
        return "internal"
    if value not in {"internal", "proxy", "public"}:
        raise UsageError(f"{where}: {EXPOSURE_ANNOTATION} must be internal, proxy or public")
    return value


def _suppressions(owner: KubeObject, service: str) -> tuple[Suppression, ...]:
    value, where = owner.annotation(IGNORE_ANNOTATION)
    if value is None:
        return ()
    items = yamlsrc.load(value, str(where))
    plain = list(items) if isinstance(items, list) else items  # lines inside the annotation
    return suppressions_from(plain, service, where.file, where.line or 0)


def _server(
    index: Index,
    pod: PodTemplate,
    container: LineDict,
    service: str,
    image: str | None,
    env: dict[str, EnvVar],
) -> ServerFacts:
    display = pod.owner.display
    argv, note = _argv(container, image, env)
    named = _container_ports(container)
    check, probe_key = _healthcheck(container, named)
    grace = pod.spec.get("terminationGracePeriodSeconds")
    replicas, replicas_at = _replicas(pod.owner)
    strategy, strategy_at = _strategy(pod.owner)
    here = Location(display, container.line, container.col)
    resources = container.get("resources")
    limits = resources.get("limits") if isinstance(resources, LineDict) else None
    locations = {
        "image": at(container, "image", display),
        "command": at(container, "command" if "command" in container else "args", display),
        "environment": at(container, "env", display),
        "volumes": at(container, "volumeMounts", display),
        "ports": at(container, "ports", display),
        "network_mode": at(pod.spec, "hostNetwork", display),
        "stop_grace_period": at(pod.spec, "terminationGracePeriodSeconds", display),
        "replicas": replicas_at,
        "restart": at(pod.spec, "restartPolicy", display),
        "healthcheck": at(container, probe_key, display),
        "memory": (
            at(limits, "memory", display)
            if isinstance(limits, LineDict)
            else at(container, "resources", display)
        ),
    }
    if not isinstance(grace, int):
        locations["stop_grace_period"] = Location(display, pod.spec.line, pod.spec.col)
    probes = tuple(
        name
        for name, key in (
            ("startup", "startupProbe"),
            ("readiness", "readinessProbe"),
            ("liveness", "livenessProbe"),
        )
        if isinstance(container.get(key), dict)
    )
    security = container.get("securityContext")
    pod_security = pod.spec.get("securityContext")
    user = None
    for node in (security, pod_security):
        if isinstance(node, dict) and node.get("runAsUser") is not None:
            user = str(node["runAsUser"])
            break
    return ServerFacts(
        service=service,
        image=image,
        argv=argv,
        argv_note=note,
        user=user,
        env=env,
        mounts=_mounts(index, pod, container, display, env),
        ports=_host_ports(container, display),
        network_mode="host" if pod.spec.get("hostNetwork") is True else None,
        restart=_restart(pod),
        healthcheck=check,
        stop_grace_s=float(grace) if isinstance(grace, int) else float(DEFAULT_GRACE_S),
        memory_bytes=_memory(container, "limits"),
        replicas=replicas,
        exposure_intent=_exposure(pod.owner),  # type: ignore[arg-type]
        reads_faktory_env=reads_faktory_env(image),
        location=here,
        locations=locations,
        kube=KubeServerFacts(
            kind=pod.owner.kind,
            name=pod.owner.name,
            strategy=strategy,
            strategy_location=strategy_at,
            autoscalers=_autoscalers(index, pod.owner),
            network_policies=_policies(index, pod),
            routes=_routes(index, pod, named),
            probes=probes,
            memory_request=_memory(container, "requests"),
        ),
    )


def _is_server(image: str | None, container: LineDict, env: dict[str, EnvVar]) -> bool:
    if image is not None and parse_image(image).is_faktory:
        return True
    argv, _ = _argv(container, image, env)
    return argv is not None and faktory_args(argv) is not None


def _worker(
    service: str,
    env: dict[str, EnvVar],
    where: Location,
    pod: PodTemplate | None = None,
    container: LineDict | None = None,
) -> WorkerFacts:
    provider = env.get("FAKTORY_PROVIDER")
    name = provider.value if provider is not None and provider.value else None
    url = env.get(name) if name else env.get("FAKTORY_URL")
    image = argv = grace = None
    if pod is not None and container is not None:
        image = str(container["image"]) if container.get("image") else None
        command, args = container.get("command"), container.get("args")
        if isinstance(command, list):
            argv = tuple(str(w) for w in command) + tuple(
                str(w) for w in (args if isinstance(args, list) else [])
            )
        seconds = pod.spec.get("terminationGracePeriodSeconds")
        grace = float(seconds) if isinstance(seconds, int) else float(DEFAULT_GRACE_S)
    return WorkerFacts(
        service, url, name, where, image=image, argv=argv, stop_grace_s=grace, grace_location=where
    )


def _missing_env_sources(index: Index, pod: PodTemplate, container: LineDict) -> list[str]:
    notes = []
    for source in mappings(container.get("envFrom")):
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(key)
            if isinstance(ref, dict) and index.find(kind, str(ref.get("name")), pod.owner) is None:
                notes.append(
                    f"{pod.owner.ref}: envFrom {kind} {ref.get('name')} is not in the input; "
                    "its variables are unknown here"
                )
    return notes


def _with_generated(objects: list[KubeObject]) -> tuple[list[KubeObject], list[GeneratedFile]]:
    extra: list[KubeObject] = []
    files: list[GeneratedFile] = []
    for obj in objects:
        secrets, generated = generated_secrets(obj)
        extra += secrets
        files += generated
    return objects + extra, files


def _secret_files(files: list[GeneratedFile]) -> tuple[SecretFileFact, ...]:
    return inspect_secret_files(
        [(f.path, f"key {f.key} of secretGenerator {f.secret}", f.location) for f in files]
    )


def gather_kubernetes(target: str, now: datetime) -> AuditFacts:
    objects, generated = _with_generated(load_objects(target))
    index = Index(objects, generated={(f.secret, f.key): f.path for f in generated})
    servers: list[ServerFacts] = []
    workers: list[WorkerFacts] = []
    suppressions: list[Suppression] = []
    notes: list[str] = []
    for obj in index.objects:
        pod = pod_template(obj)
        if pod is None:
            continue
        containers = mappings(pod.spec.get("containers"))
        found = []
        for container in containers:
            image = str(container["image"]) if container.get("image") else None
            env = _environment(index, obj, container, obj.display)
            notes += _missing_env_sources(index, pod, container)
            found.append((container, image, env))
        server_count = sum(1 for c, i, e in found if _is_server(i, c, e))
        for container, image, env in found:
            service = _service_name(pod, container, server_count)
            where = Location(obj.display, container.line, container.col)
            if _is_server(image, container, env):
                servers.append(_server(index, pod, container, service, image, env))
            elif any(var in env for var in WORKER_VARS):
                workers.append(_worker(service, env, where, pod, container))
            else:
                continue
            suppressions += _suppressions(obj, service)
    if not servers and not workers:
        raise UsageError(
            f"{target}: no Faktory server or worker found (looked for images named "
            "faktory/faktory-ent, a /faktory command, FAKTORY_URL or FAKTORY_PROVIDER)"
        )
    from faktctl.audit.sources.tlsfacts import tls_names

    wanted = tls_names(w.url.value if w.url is not None else None for w in workers)
    base = Path(target) if Path(target).is_dir() else Path(target).parent
    servers = [replace(s, tls_cert=_tls_cert(s, wanted, base)) for s in servers]
    display = "<stdin>" if target == "-" else target
    return AuditFacts(
        kind="kubernetes",
        file=display,
        now=now,
        servers=tuple(servers),
        workers=tuple(workers),
        suppressions=tuple(dict.fromkeys(suppressions)),
        backup=BackupFacts(False),
        secret_files=_secret_files(generated),
        notes=tuple(dict.fromkeys(notes)),
    )
