"""The rendered StatefulSet's server container, run under Docker with the real Faktory image.

Same image, command, arguments and environment as the manifest; the Secret file mounted at the
same path with the ownership and mode the kubelet gives it (root, group fsGroup, defaultMode);
the data volume at the same path, prepared as fsGroup prepares a claim; and the securityContext
translated to `docker run` flags (user and group, fsGroup as a supplementary group, read-only
root, dropped capabilities, no new privileges, /tmp as the emptyDir). It must start in
production, require the password, and save its RDB into the volume when stopped within the
pod's grace period.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from docker.models.containers import Container

from faktctl.adapters import probe
from faktctl.faktory.images import parse_image
from tests.support.cli import run_faktctl
from tests.support.images import ensure_faktory_image
from tests.support.producer import Producer, make_job

SPEC = """\
project: shop
workers:
  - name: emails
    image: registry.local/emails:1.2
"""


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(SPEC)
    result = run_faktctl("render", "--target", "kubernetes", cwd=tmp_path)
    assert result.code == 0, result.output
    return tmp_path


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


def _fs_group_setup(data_path: str, fs_group: int) -> str:
    """What the kubelet does for fsGroup: the claim's files get group fsGroup, group-writable."""
    return f"chgrp -R {fs_group} {data_path} && chmod -R g+rwX {data_path} && chmod g+s {data_path}"


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
    prepare = docker_client.containers.run(
        image,
        ["sh", "-c", _fs_group_setup(data_path, fs_group)],
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
        with Producer("127.0.0.1", port, password, timeout=10.0) as conn:
            conn.push(make_job("K8sProof", [1]))
            assert conn.queue_sizes().get("default") == 1
        logs = bytes(server.logs()).decode(errors="replace")
        # production: the data goes to /var/lib/faktory/db (development would use
        # $HOME/.faktory/db) and a password is required (development requires none)
        assert f"redis storage at {data_path}/db," in logs, logs
        grace = pod["terminationGracePeriodSeconds"]
        server.stop(timeout=grace)
        server.reload()
        assert server.attrs["State"]["ExitCode"] == 0, bytes(server.logs()).decode()
        rdb = _file_in(server, f"{data_path}/db/faktory.rdb")
        assert rdb is not None and rdb.startswith(b"REDIS"), "no RDB in the claim's volume"
    finally:
        with_logs = bytes(server.logs()).decode(errors="replace")
        print(with_logs)


def test_the_rendered_server_serves_tls_from_the_generated_secret(
    tmp_path: Path,
    docker_client: docker.DockerClient,
    run_container: Callable[..., Container],
    test_labels: dict[str, str],
) -> None:
    """server.tls (issue 26): the `faktory-tls` Secret's pair laid out as the kubelet does
    (root, group fsGroup, the volume's defaultMode) at the subPath mount paths; the non-root
    server reads its key through the group and serves TLS on both ports, the probes' HTTPS
    /health answers, and a plain client gets no +HI."""
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(SPEC + "server:\n  tls: {mode: generate}\n")
    result = run_faktctl("render", "--target", "kubernetes", cwd=tmp_path)
    assert result.code == 0, result.output
    pod = _statefulset(tmp_path)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security, fs_group = container["securityContext"], pod["securityContext"]["fsGroup"]
    version = parse_image(container["image"]).tag
    assert version is not None
    image = ensure_faktory_image(docker_client, version=version)
    password = (tmp_path / "secrets" / "faktory_password").read_text().strip()
    (tls_volume,) = [v["secret"] for v in pod["volumes"] if v["name"] == "tls"]
    folder = Path(tempfile.mkdtemp(prefix="faktctl-k8s-tls-"))
    folder.chmod(0o755)
    binds: dict[str, dict[str, str]] = {}
    for mount in (m for m in container["volumeMounts"] if m["name"] == "tls"):
        (item,) = [i for i in tls_volume["items"] if i["path"] == mount["subPath"]]
        file = folder / item["path"]
        file.write_text((tmp_path / "k8s" / "secrets" / item["key"]).read_text())
        os.chown(file, 0, fs_group)
        file.chmod(tls_volume["defaultMode"])
        binds[str(file)] = {"bind": mount["mountPath"], "mode": "ro"}
    assert sorted(b["bind"] for b in binds.values()) == [
        "/etc/faktory/private.key.pem", "/etc/faktory/public.cert.pem"
    ]  # fmt: skip
    secrets = _secret_dir(tmp_path, pod, fs_group)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    volume = docker_client.volumes.create(f"faktctl-k8s-{uuid.uuid4().hex[:8]}", labels=test_labels)
    docker_client.containers.run(
        image,
        ["sh", "-c", _fs_group_setup(mounts["data"], fs_group)],
        volumes={volume.name: {"bind": mounts["data"], "mode": "rw"}},
        labels=test_labels,
        remove=True,
    )
    server = run_container(
        image,
        entrypoint=container["command"],
        command=container["args"],
        environment=env,
        user=f"{security['runAsUser']}:{security['runAsGroup']}",
        group_add=[str(fs_group)],
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        tmpfs={"/tmp": "size=64m"},
        volumes={
            volume.name: {"bind": mounts["data"], "mode": "rw"},
            str(secrets): {"bind": mounts["secrets"], "mode": "ro"},
            **binds,
        },
        ports={"7419/tcp": ("127.0.0.1", None), "7420/tcp": ("127.0.0.1", None)},
        name=f"faktctl-k8s-tls-{uuid.uuid4().hex[:8]}",
        labels=test_labels,
    )
    tls = probe.Tls(
        ca_file=str(tmp_path / "k8s" / "secrets" / "ca.cert.pem"), server_name="faktory"
    )
    port = _wait_for_port(server, tls=tls)
    server.reload()
    web = int(server.attrs["NetworkSettings"]["Ports"]["7420/tcp"][0]["HostPort"])
    probe_get = container["readinessProbe"]["httpGet"]
    assert probe_get["scheme"] == "HTTPS" and probe_get["path"] == "/health"
    health = probe.http_health("127.0.0.1", web, tls=tls)
    assert "server" in health, health
    with Producer("127.0.0.1", port, password, timeout=10.0, tls=tls) as conn:
        conn.push(make_job("K8sTlsProof", [1]))
        assert conn.queue_sizes().get("default") == 1
    try:
        plain = probe.handshake("127.0.0.1", port, password, timeout=3.0)
        assert not plain.accepted
    except probe.ProbeError:
        pass  # no +HI for a plain client: it times out or the server closes


def _wait_for_port(server: Container, timeout: float = 60.0, tls: probe.Tls | None = None) -> int:
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
                probe.handshake("127.0.0.1", int(bound[0]["HostPort"]), None, timeout=1.0, tls=tls)
                return int(bound[0]["HostPort"])
            except probe.ProbeError as exc:
                last = str(exc)
        time.sleep(0.3)
    pytest.fail(f"the server never answered ({last}): {bytes(server.logs()).decode()}")
