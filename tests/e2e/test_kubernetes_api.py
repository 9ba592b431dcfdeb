"""Kubernetes without a cluster, proven with Kubernetes' own code and the real Faktory server.

- The rendered kustomize directory, built by the real kustomize, and every file of the
  Kubernetes audit corpus go through a real kube-apiserver's strict server-side dry-run.
- `helm template` (the real Helm) of a small chart fixture is dry-run and audited from stdin.
(The rendered server container itself runs under Docker in test_kubernetes_docker.py.)
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_faktctl
from tests.support.kube import (
    BUILD_TIMEOUT_S,
    KubeAPI,
    documents,
    gateway_api_crds,
    helm_template,
    kustomize_build,
    running_apiserver,
)

# The session fixture builds kube-apiserver, etcd, kustomize and Helm from the Go proxy on a
# machine without the cache: over 30 min on a loaded 2-core machine, inside the first test's
# setup. The suite-wide 900 s per-test limit would fail every test of the module there.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S)

UNIT = Path(__file__).resolve().parents[1] / "unit"
CORPUS = sorted((UNIT / "k8s_corpus").glob("*.yaml"))
CHART = UNIT / "k8s_charts" / "faktory"
REMOVED_APIS = {"extensions/v1beta1", "networking.k8s.io/v1beta1"}
SPEC = """\
project: shop
kubernetes:
  namespace: jobs
  storage_size: 2g
workers:
  - name: emails
    image: registry.local/emails:1.2
    replicas: 2
    resources: {memory: 256m}
    stop_grace_period: 2m
    quiet: signal
"""


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubeAPI]:
    with running_apiserver() as api:
        for crd in gateway_api_crds():
            api.create(crd)
            api.wait_established(crd["metadata"]["name"])
        yield api


def _assert_accepted(api: KubeAPI, objects: list[dict[str, Any]], what: str) -> None:
    assert objects, f"{what}: no objects"
    rejected = api.dry_run(objects)
    assert not rejected, f"{what}: " + "; ".join(
        f"{r.ref}: {r.status} {r.message}" for r in rejected
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("k8s-project")
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=folder).code == 0
    (folder / "faktory.yaml").write_text(SPEC)
    result = run_faktctl("render", "--target", "kubernetes", cwd=folder)
    assert result.code == 0, result.output
    return folder


def test_the_rendered_kustomization_is_accepted_by_the_api_server(
    kube_api: KubeAPI, rendered: Path
) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jobs"}})
    objects = documents(kustomize_build(rendered / "k8s"))
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == [
        "Deployment", "NetworkPolicy", "Secret", "Secret", "Service", "Service", "StatefulSet",
    ]  # fmt: skip
    password = (rendered / "secrets" / "faktory_password").read_text().strip()
    secrets = {o["metadata"]["name"].rsplit("-", 1)[0]: o for o in objects if o["kind"] == "Secret"}
    assert set(secrets) == {"faktory-password", "faktory-url"}  # names carry a content hash
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets")
    assert volume["secret"]["secretName"] == secrets["faktory-password"]["metadata"]["name"]
    assert all(o["metadata"].get("namespace") == "jobs" for o in objects)
    worker = next(o for o in objects if o["kind"] == "Deployment")  # issue 23: the grace period
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    (container,) = worker["spec"]["template"]["spec"]["containers"]  # quiet: signal
    assert container["lifecycle"]["preStop"]["exec"]["command"][-1] == "kill -TSTP 1; sleep 93"
    assert sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60
    _assert_accepted(kube_api, objects, "kustomize build k8s")
    assert password not in (rendered / "k8s" / "server.yaml").read_text()


def test_a_tls_render_is_accepted_and_carries_the_files_through_one_secret(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    """server.tls (issue 26): the real kustomize makes the `faktory-tls` Secret from the files,
    the server mounts only the pair at /etc/faktory, the workers the CA, and the API server
    accepts it all (the HTTPS probes included) under the strict dry-run."""
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(SPEC + "server:\n  tls: {mode: generate}\n")
    result = run_faktctl("render", "--target", "kubernetes", cwd=tmp_path)
    assert result.code == 0, result.output
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jobs"}})
    objects = documents(kustomize_build(tmp_path / "k8s"))
    secrets = {o["metadata"]["name"].rsplit("-", 1)[0]: o for o in objects if o["kind"] == "Secret"}
    assert set(secrets) == {"faktory-password", "faktory-url", "faktory-tls"}
    tls = secrets["faktory-tls"]
    assert set(tls["data"]) == {"public.cert.pem", "private.key.pem", "ca.cert.pem"}
    tls_name = tls["metadata"]["name"]
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    assert volume["secret"]["secretName"] == tls_name
    (server,) = pod["containers"]
    mounted = sorted(m["mountPath"] for m in server["volumeMounts"] if m["name"] == "tls")
    assert mounted == ["/etc/faktory/private.key.pem", "/etc/faktory/public.cert.pem"]
    assert server["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    worker = next(o for o in objects if o["kind"] == "Deployment")
    (ca_volume,) = worker["spec"]["template"]["spec"]["volumes"]
    assert ca_volume["secret"]["secretName"] == tls_name
    assert ca_volume["secret"]["items"] == [{"key": "ca.cert.pem", "path": "ca.cert.pem"}]
    decoded = {k: base64.b64decode(v).decode() for k, v in tls["data"].items()}
    folder = tmp_path / "secrets" / "tls"
    assert decoded["public.cert.pem"] == (folder / "server.cert.pem").read_text()
    assert decoded["private.key.pem"] == (folder / "server.key.pem").read_text()
    ca_key = (folder / "ca.key.pem").read_text()
    assert all(ca_key not in value for value in decoded.values())
    _assert_accepted(kube_api, objects, "kustomize build k8s (tls)")


def test_kustomize_build_of_our_render_is_no_committed_password(rendered: Path) -> None:
    """The generated Secrets of `kustomize build` output carry the generated-from annotation, so
    FKS004 does not call faktctl's own output a committed password (issue 24)."""
    built = rendered / "built.yaml"
    built.write_text(kustomize_build(rendered / "k8s"))
    result = run_faktctl("audit", "--k8s", "built.yaml", "--format", "json", cwd=rendered)
    assert result.code in (0, 1), result.output
    findings = json.loads(result.stdout)["result"]["findings"]
    fks004 = [f for f in findings if f["id"] == "FKS004"]
    assert fks004 and all(f["status"] != "fail" for f in fks004), fks004


def test_a_bogus_field_is_rejected_so_the_dry_run_is_strict(kube_api: KubeAPI) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "x", "image": "x:1"}], "bogusField": 1},
    }
    (rejection,) = kube_api.dry_run([pod])
    assert "bogusField" in rejection.message


@pytest.mark.parametrize("case", CORPUS, ids=[c.stem for c in CORPUS])
def test_every_corpus_file_is_a_valid_set_of_objects(kube_api: KubeAPI, case: Path) -> None:
    # Objects of API versions Kubernetes 1.22 removed (old charts still render them) are checked
    # by the audit only; everything else in the file must be accepted.
    objects = [d for d in documents(case.read_text()) if d.get("apiVersion") not in REMOVED_APIS]
    _assert_accepted(kube_api, objects, case.name)


def test_helm_template_output_is_valid_and_audited_from_stdin(kube_api: KubeAPI) -> None:
    rendered = helm_template("shop", CHART)
    _assert_accepted(kube_api, documents(rendered), "helm template")
    audit = subprocess.run(
        [sys.executable, "-m", "faktctl", "audit", "--k8s", "-", "--format", "json"],
        input=rendered,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert audit.returncode == 1, audit.stderr
    findings = json.loads(audit.stdout)["result"]["findings"]
    status = {(f["id"]): f for f in findings if f["service"] == "shop-faktory"}
    for check in ("FKP001", "FKP020", "FKS004", "FKD020", "FKH006", "FKD022", "FKH030"):
        assert status[check]["status"] == "fail", (check, status[check]["message"])
    assert status["FKD020"]["location"]["file"] == "<stdin>"
    assert "targetPort ui (= containerPort 7420)" in status["FKD020"]["message"]
    # the chart's made-up password is different on every render (so on every helm upgrade)
    assert helm_template("shop", CHART) != rendered
