"""A real Kubernetes API server with no nodes, to validate manifests the way a cluster does.

`kube-apiserver` v1.37.2 and etcd are built from the Go module proxy once (cached by
tests.support.provision.go_binary), started on free loopback ports with a temporary data dir,
and every object is POSTed with ``?dryRun=All&fieldValidation=Strict``: schema, unknown fields,
defaulting and admission run exactly as on a cluster, and nothing is stored. kustomize and helm
come from the same cache, so tests render with the real tools.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.local import free_port
from tests.support.provision import go_binary

KUBERNETES_VERSION = "v1.37.2"
STAGING_VERSION = "v0.37.2"
ETCD_VERSION = "v3.6.16"
KUSTOMIZE_VERSION = "v5.8.1"
HELM_VERSION = "v3.22.0"
GATEWAY_API_VERSION = "v1.6.3"
# k8s.io/kubernetes requires its staging modules at v0.0.0: each is replaced by its release.
STAGING_MODULES = (
    "api", "apiextensions-apiserver", "apimachinery", "apiserver", "cli-runtime", "client-go",
    "cloud-provider", "cluster-bootstrap", "code-generator", "component-base",
    "component-helpers", "controller-manager", "cri-api", "cri-client", "csi-translation-lib",
    "dynamic-resource-allocation", "endpointslice", "externaljwt", "kms", "kube-aggregator",
    "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubectl", "kubelet", "metrics",
    "mount-utils", "pod-security-admission", "sample-apiserver", "sample-cli-plugin",
    "sample-controller",
)  # fmt: skip
BUILD_TIMEOUT_S = 4500.0  # whole cold build of the four binaries, with margin
READY_TIMEOUT = 300.0  # a loaded 2-core machine starts the API server slowly
STOP_TIMEOUT = 20.0


def etcd_binary() -> Path:
    return go_binary("etcd", "go.etcd.io/etcd/server/v3", ETCD_VERSION)


def apiserver_binary() -> Path:
    replace = {f"k8s.io/{name}": f"k8s.io/{name}@{STAGING_VERSION}" for name in STAGING_MODULES}
    return go_binary(
        "kube-apiserver",
        "k8s.io/kubernetes",
        KUBERNETES_VERSION,
        "k8s.io/kubernetes/cmd/kube-apiserver",
        replace=replace,
        timeout=3600.0,  # the biggest build here: ~15 min quiet, over 30 min on a loaded machine
    )


def kustomize_binary() -> Path:
    return go_binary("kustomize", "sigs.k8s.io/kustomize/kustomize/v5", KUSTOMIZE_VERSION)


def helm_binary() -> Path:
    return go_binary("helm", "helm.sh/helm/v3", HELM_VERSION, "helm.sh/helm/v3/cmd/helm")


def kustomize_build(directory: Path) -> str:
    result = subprocess.run(
        [str(kustomize_binary()), "build", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize build {directory} failed: {result.stderr.strip()}")
    return result.stdout


def helm_template(release: str, chart: Path, *args: str) -> str:
    home = tempfile.mkdtemp(prefix="helm-home-")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": f"{home}/cache",
        "HELM_CONFIG_HOME": f"{home}/config",
        "HELM_DATA_HOME": f"{home}/data",
    }
    try:
        result = subprocess.run(
            [str(helm_binary()), "template", release, str(chart), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if result.returncode != 0:
        raise AssertionError(f"helm template {chart} failed: {result.stderr.strip()}")
    return result.stdout


def gateway_api_crds() -> list[dict[str, Any]]:
    """The Gateway API's standard CRDs (HTTPRoute...), from its Go module's source files."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOWORK": "off"}
    result = subprocess.run(
        [go, "mod", "download", "-json", f"sigs.k8s.io/gateway-api@{GATEWAY_API_VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    if result.returncode != 0:
        raise AssertionError(f"go mod download gateway-api failed: {result.stderr.strip()}")
    folder = Path(json.loads(result.stdout)["Dir"]) / "config" / "crd" / "standard"
    names = ("httproutes", "gateways", "gatewayclasses")
    crds = []
    for name in names:
        crds += [
            doc
            for doc in yaml.safe_load_all(
                (folder / f"gateway.networking.k8s.io_{name}.yaml").read_text()
            )
            if doc
        ]
    return crds


@dataclass(frozen=True)
class Rejection:
    ref: str
    status: int
    message: str


@dataclass
class KubeAPI:
    """A running API server: POST objects in dry-run, strict field validation."""

    url: str
    token: str
    _resources: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=False,  # the API server's self-signed certificate, on 127.0.0.1
            timeout=60.0,
        )

    def _discover(self, client: httpx.Client, api_version: str) -> None:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        answer = client.get(path)
        answer.raise_for_status()
        for resource in answer.json().get("resources", []):
            if "/" in resource["name"]:
                continue
            key = (api_version, resource["kind"])
            self._resources[key] = (resource["name"], bool(resource["namespaced"]))

    def collection(self, client: httpx.Client, obj: dict[str, Any]) -> str:
        api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        if (api_version, kind) not in self._resources:
            self._discover(client, api_version)
        if (api_version, kind) not in self._resources:
            raise AssertionError(f"the API server does not serve {api_version} {kind}")
        plural, namespaced = self._resources[(api_version, kind)]
        root = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced:
            namespace = (obj.get("metadata") or {}).get("namespace") or "default"
            return f"{root}/namespaces/{namespace}/{plural}"
        return f"{root}/{plural}"

    def dry_run(self, objects: list[dict[str, Any]]) -> list[Rejection]:
        """POST each object in dry-run; the rejections (empty when all are valid)."""
        rejected = []
        with self.client() as client:
            for obj in objects:
                ref = f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"
                answer = client.post(
                    self.collection(client, obj),
                    params={"dryRun": "All", "fieldValidation": "Strict"},
                    json=obj,
                )
                if answer.status_code >= 300:
                    try:
                        message = answer.json().get("message", answer.text)
                    except ValueError:
                        message = answer.text
                    rejected.append(Rejection(ref, answer.status_code, message))
        return rejected

    def create(self, obj: dict[str, Any]) -> None:
        """Really create an object (CRDs the dry-runs need)."""
        with self.client() as client:
            answer = client.post(self.collection(client, obj), json=obj)
            if answer.status_code not in (201, 409):
                raise AssertionError(f"creating {obj.get('kind')}: {answer.text}")

    def wait_established(self, crd_name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd_name}"
        with self.client() as client:
            while time.monotonic() < deadline:
                status = client.get(path).json().get("status", {})
                if any(
                    c.get("type") == "Established" and c.get("status") == "True"
                    for c in status.get("conditions") or []
                ):
                    time.sleep(1.0)  # discovery catches up a moment later
                    return
                time.sleep(0.5)
        raise AssertionError(f"CRD {crd_name} not established after {timeout:g}s")


def documents(text: str) -> list[dict[str, Any]]:
    """The objects of a multi-document stream, `List` objects flattened."""
    found: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            found += [item for item in doc["items"] if isinstance(item, dict)]
        elif doc.get("kind"):
            found.append(doc)
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-15:])
    except OSError:
        return ""


def _wait_ready(api: KubeAPI, processes: list[tuple[str, subprocess.Popen[bytes], Path]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = ""
    with api.client() as client:
        while time.monotonic() < deadline:
            for name, process, log in processes:
                if process.poll() is not None:
                    raise AssertionError(f"{name} exited ({process.returncode}):\n{_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                answer = client.get("/readyz")
                if answer.status_code == 200:
                    return
                last = answer.text[-500:]
            time.sleep(1.0)
    raise AssertionError(f"kube-apiserver not ready after {READY_TIMEOUT:g}s: {last}")


def _start(name: str, argv: list[str], work: Path) -> tuple[str, subprocess.Popen[bytes], Path]:
    log = work / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    return name, process, log


@contextlib.contextmanager
def running_apiserver() -> Iterator[KubeAPI]:
    """etcd + kube-apiserver on free loopback ports, a temp data dir, both stopped at the end."""
    etcd, apiserver = etcd_binary(), apiserver_binary()
    openssl = shutil.which("openssl")
    if openssl is None:
        raise AssertionError("openssl is needed to make the service-account key")
    work = Path(tempfile.mkdtemp(prefix="faktctl-kube-"))
    processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        client_port, peer_port, secure_port = free_port(), free_port(), free_port()
        subprocess.run(
            [openssl, "genrsa", "-out", str(work / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [openssl, "rsa", "-in", str(work / "sa.key"), "-pubout", "-out", str(work / "sa.pub")],
            check=True,
            capture_output=True,
        )
        token = secrets.token_urlsafe(24)
        (work / "tokens.csv").write_text(f"{token},admin,admin,system:masters\n")
        etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd_args = [
            "--data-dir", str(work / "etcd"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"default={peer_url}",
            "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}",
        ]  # fmt: skip
        processes.append(_start("etcd", [str(etcd), *etcd_args], work))
        api_args = [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            f"--secure-port={secure_port}",
            f"--cert-dir={work / 'certs'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={work / 'sa.pub'}",
            f"--service-account-signing-key-file={work / 'sa.key'}",
            f"--token-auth-file={work / 'tokens.csv'}",
            "--authorization-mode=AlwaysAllow",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--disable-admission-plugins=ServiceAccount",
        ]
        processes.append(_start("kube-apiserver", [str(apiserver), *api_args], work))
        api = KubeAPI(f"https://127.0.0.1:{secure_port}", token)
        _wait_ready(api, processes)
        yield api
    finally:
        for _, process, _ in reversed(processes):
            _stop(process)
        shutil.rmtree(work, ignore_errors=True)
