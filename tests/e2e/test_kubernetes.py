"""Kubernetes without a cluster, proven with Kubernetes' own code and the real Faktory server.

- The rendered kustomize directory, built by the real kustomize, and every file of the
  Kubernetes audit corpus go through a real kube-apiserver's strict server-side dry-run.
- `helm template` (the real Helm) of a small chart fixture is dry-run and audited from stdin.
- The rendered StatefulSet's server container runs under Docker with the same image, command,
  arguments, environment, Secret file, data volume and securityContext (user, groups,
  read-only root, dropped capabilities): it starts in production, requires the password, and
  its RDB lands in the volume.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from docker.models.containers import Container

from faktctl.adapters import probe
from faktctl.audit.images import parse_image
from tests.support.cli import run_faktctl
from tests.support.images import ensure_faktory_image
from tests.support.kube import (
    KubeAPI,
    documents,
    gateway_api_crds,
    helm_template,
    kustomize_build,
    running_apiserver,
)

UNIT = Path(__file__).resolve().parents[1] / "unit"
CORPUS = sorted((UNIT / "k8s_corpus").glob("*.yaml"))
CHART = UNIT / "k8s_charts" / "faktory"
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
    _assert_accepted(kube_api, objects, "kustomize build k8s")
    assert password not in (rendered / "k8s" / "server.yaml").read_text()


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
    _assert_accepted(kube_api, documents(case.read_text()), case.name)


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


# --- the rendered server container under Docker ---------------------------------------------


def _statefulset(rendered: Path) -> dict[str, Any]:
    docs = yaml.safe_load_all((rendered / "k8s" / "server.yaml").read_text())
    return next(d for d in docs if d and d["kind"] == "StatefulSet")


def _secret_dir(rendered: Path, pod: dict[str, Any], gid: int) -> Path:
    """The Secret volume as the kubelet lays it out: root-owned files, group fsGroup,
    defaultMode permissions."""
    volume = next(v for v in pod["volumes"] if "secret" in v)["secret"]
    folder = Path(tempfile.mkdtemp(prefix="faktctl-k8s-secret-"))
    for item in volume["items"]:
        target = folder / item["path"]
        target.write_text((rendered / "k8s" / "secrets" / item["key"]).read_text())
        os.chown(target, 0, gid)
        target.chmod(volume["defaultMode"])
    folder.chmod(0o755)
    return folder


def _file_in(container: Container, path: str) -> bytes | None:
    try:
        stream, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        member = archive.extractfile(archive.getmembers()[0])
        return member.read() if member else None


def test_the_rendered_server_container_runs_under_docker(
    rendered: Path,
    docker_client: docker.DockerClient,
    run_container: Callable[..., Container],
    test_labels: dict[str, str],
) -> None:
    pod = _statefulset(rendered)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security, pod_security = container["securityContext"], pod["securityContext"]
    version = parse_image(container["image"]).tag
    assert version is not None
    image = ensure_faktory_image(docker_client, version=version)
    password = (rendered / "secrets" / "faktory_password").read_text().strip()
    uid, gid, fs_group = security["runAsUser"], security["runAsGroup"], pod_security["fsGroup"]
    volume = docker_client.volumes.create(f"faktctl-k8s-{uuid.uuid4().hex[:8]}", labels=test_labels)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    data_path, secret_path = mounts["data"], mounts["secrets"]
    # what the kubelet does for fsGroup: the claim's files get group fsGroup, group-writable
    fs_group_setup = (
        f"chgrp -R {fs_group} {data_path} && chmod -R g+rwX {data_path} && chmod g+s {data_path}"
    )
    prepare = docker_client.containers.run(
        image,
        ["sh", "-c", fs_group_setup],
        volumes={volume.name: {"bind": data_path, "mode": "rw"}},
        labels=test_labels,
        remove=True,
    )
    assert prepare is not None
    secrets = _secret_dir(rendered, pod, fs_group)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert not any("valueFrom" in e for e in container["env"])
    tmp_mount = next(m for m in container["volumeMounts"] if m["name"] == "tmp")["mountPath"]
    server = run_container(
        image,
        entrypoint=container["command"],
        command=container["args"],
        environment=env,
        user=f"{uid}:{gid}",
        group_add=[str(fs_group)],
        read_only=security["readOnlyRootFilesystem"],
        cap_drop=security["capabilities"]["drop"],
        security_opt=["no-new-privileges"],
        tmpfs={tmp_mount: "size=64m"},
        volumes={
            volume.name: {"bind": data_path, "mode": "rw"},
            str(secrets): {"bind": secret_path, "mode": "ro"},
        },
        ports={"7419/tcp": ("127.0.0.1", None), "7420/tcp": ("127.0.0.1", None)},
        name=f"faktctl-k8s-{uuid.uuid4().hex[:8]}",
    )
    port = _wait_for_port(server)
    try:
        refused = probe.handshake("127.0.0.1", port, None, timeout=5.0)
        assert not refused.accepted, "the server accepted a client without the password"
        wrong = probe.handshake("127.0.0.1", port, "not-the-password", timeout=5.0)
        assert not wrong.accepted
        with probe.FaktoryConnection("127.0.0.1", port, password, timeout=10.0) as conn:
            conn.push(probe.make_job("K8sProof", [1]))
            assert conn.queue_sizes().get("default") == 1
        logs = bytes(server.logs()).decode(errors="replace")
        assert "production" in logs.lower(), logs
        grace = pod["terminationGracePeriodSeconds"]
        server.stop(timeout=grace)
        server.reload()
        assert server.attrs["State"]["ExitCode"] == 0, bytes(server.logs()).decode()
        rdb = _file_in(server, f"{data_path}/db/faktory.rdb")
        assert rdb is not None and rdb.startswith(b"REDIS"), "no RDB in the claim's volume"
    finally:
        with_logs = bytes(server.logs()).decode(errors="replace")
        print(with_logs)


def _wait_for_port(server: Container, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        server.reload()
        if server.status not in ("created", "running"):
            pytest.fail(f"the server exited: {bytes(server.logs()).decode(errors='replace')}")
        ports = server.attrs["NetworkSettings"].get("Ports") or {}
        bound = [b for b in ports.get("7419/tcp") or [] if b.get("HostIp") == "127.0.0.1"]
        if bound:
            try:
                probe.handshake("127.0.0.1", int(bound[0]["HostPort"]), None, timeout=1.0)
                return int(bound[0]["HostPort"])
            except probe.ProbeError as exc:
                last = str(exc)
        time.sleep(0.3)
    pytest.fail(f"the server never answered ({last}): {bytes(server.logs()).decode()}")
