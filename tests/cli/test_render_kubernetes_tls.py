"""`render --target kubernetes` with server.tls (issue 26): the certificate, key and CA reach the
pods through one generated Secret, the probes still work, and `audit --k8s` sees the TLS files
(a job port reached beyond the cluster without them fails under --strict)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import run_faktctl

SPEC = """\
project: shop
server:
  tls: {mode: generate, names: [faktory.jobs.svc]}
kubernetes:
  namespace: jobs
workers:
  - name: emails
    image: registry.local/emails:1.2
audit:
  ignore:
    - {id: FKB001, reason: backups are the cluster's job in this test}
"""


def _render(folder: Path, spec: str = SPEC) -> None:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=folder).code == 0
    (folder / "faktory.yaml").write_text(spec)
    result = run_faktctl("render", "--target", "kubernetes", cwd=folder)
    assert result.code == 0, result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    _render(tmp_path)
    return tmp_path


def _objects(folder: Path, name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((folder / "k8s" / name).read_text()) if d]


def _pod(folder: Path, name: str, kind: str) -> dict[str, Any]:
    (found,) = [o for o in _objects(folder, name) if o["kind"] == kind]
    spec: dict[str, Any] = found["spec"]["template"]["spec"]
    return spec


def test_the_files_are_secret_generator_files_never_inline_and_never_the_ca_key(
    project: Path,
) -> None:
    kustomization = yaml.safe_load((project / "k8s" / "kustomization.yaml").read_text())
    (tls,) = [g for g in kustomization["secretGenerator"] if g["name"] == "faktory-tls"]
    assert tls["files"] == [
        "ca.cert.pem=secrets/ca.cert.pem",
        "private.key.pem=secrets/private.key.pem",
        "public.cert.pem=secrets/public.cert.pem",
    ]
    source = project / "secrets" / "tls"
    pairs = {"ca.cert.pem": "ca.cert.pem", "public.cert.pem": "server.cert.pem",
             "private.key.pem": "server.key.pem"}  # fmt: skip
    for key, name in pairs.items():
        copied = project / "k8s" / "secrets" / key
        assert copied.read_bytes() == (source / name).read_bytes()
        assert copied.stat().st_mode & 0o777 == 0o600
    ca_key = (source / "ca.key.pem").read_text()
    key = (source / "server.key.pem").read_text()
    for path in (project / "k8s").rglob("*"):
        if path.is_file():
            assert ca_key not in path.read_text(), path
    for manifest in ("server.yaml", "workers.yaml", "kustomization.yaml"):
        assert "PRIVATE KEY" not in (project / "k8s" / manifest).read_text()
    assert key == (project / "k8s" / "secrets" / "private.key.pem").read_text()


def test_the_server_gets_only_the_pair_in_its_config_folder_and_probes_over_https(
    project: Path,
) -> None:
    pod = _pod(project, "server.yaml", "StatefulSet")
    (container,) = pod["containers"]
    tls_mounts = {m["mountPath"]: m for m in container["volumeMounts"] if m["name"] == "tls"}
    assert set(tls_mounts) == {"/etc/faktory/public.cert.pem", "/etc/faktory/private.key.pem"}
    assert all(m["readOnly"] and m["subPath"] == p.rsplit("/", 1)[1]
               for p, m in tls_mounts.items())  # fmt: skip
    (volume,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    assert volume["secret"]["secretName"] == "faktory-tls"
    assert {i["key"] for i in volume["secret"]["items"]} == {"public.cert.pem", "private.key.pem"}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get == {"path": "/health", "port": "dashboard", "scheme": "HTTPS"}, probe


def test_workers_dial_tls_and_trust_the_ca_from_the_same_secret(project: Path) -> None:
    pod = _pod(project, "workers.yaml", "Deployment")
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SSL_CERT_FILE"]["value"] == "/etc/faktctl/ca.cert.pem"
    assert env["FAKTORY_URL"]["valueFrom"]["secretKeyRef"]["name"] == "faktory-url"
    url = (project / "k8s" / "secrets" / "faktory_url").read_text()
    assert url.startswith("tcp+tls://:") and url.endswith("@faktory:7419")
    (mount,) = container["volumeMounts"]
    assert mount == {"name": "tls", "mountPath": "/etc/faktctl/ca.cert.pem",
                     "subPath": "ca.cert.pem", "readOnly": True}  # fmt: skip
    (volume,) = pod["volumes"]
    assert volume["secret"]["secretName"] == "faktory-tls"
    assert volume["secret"]["items"] == [{"key": "ca.cert.pem", "path": "ca.cert.pem"}]


def test_render_check_matches_and_a_renewed_certificate_is_drift(project: Path) -> None:
    check = run_faktctl("render", "--target", "kubernetes", "--check", cwd=project)
    assert check.code == 0, check.output
    assert run_faktctl("tls", "rotate", "--help", cwd=project).code == 0
    key_before = (project / "k8s" / "secrets" / "private.key.pem").read_text()
    (project / "secrets" / "tls" / "server.cert.pem").unlink()
    again = run_faktctl("render", "--target", "kubernetes", cwd=project)
    assert again.code == 0 and "issued the server certificate" in again.stderr, again.output
    key_after = (project / "k8s" / "secrets" / "private.key.pem").read_text()
    assert key_after != key_before
    assert "public.cert.pem: written" in again.stderr


def _audit(folder: Path, *extra: str) -> tuple[int, dict[str, dict[str, Any]]]:
    os.chmod(folder / "k8s" / "secrets", 0o700)
    result = run_faktctl("audit", "--k8s", "k8s", "--format", "json", *extra, cwd=folder)
    findings = json.loads(result.stdout)["result"]["findings"]
    return result.code, {f["id"]: f for f in findings if f["service"] in ("faktory", "emails")}


def _load_balancer(folder: Path) -> None:
    path = folder / "k8s" / "server.yaml"
    path.write_text(path.read_text().replace("type: ClusterIP", "type: LoadBalancer", 1))


def test_the_audit_of_the_rendered_directory_sees_the_tls_files(project: Path) -> None:
    _, found = _audit(project)
    assert found["FKD040"]["status"] == "pass"
    assert found["FKH040"]["status"] == "pass", found["FKH040"]["message"]
    assert found["FKD042"]["status"] == "pass"
    assert "tcp+tls://" in found["FKD042"]["message"]
    _load_balancer(project)
    code, exposed = _audit(project, "--strict")
    assert exposed["FKD040"]["status"] == "pass", exposed["FKD040"]["message"]
    assert "LoadBalancer" in exposed["FKD040"]["message"]
    assert "serves TLS" in exposed["FKD040"]["message"]
    failing = {i: f["message"] for i, f in exposed.items() if f["status"] == "fail"}
    assert set(failing) == {"FKD021"}, failing  # a route beyond the cluster is said anyway
    assert code == 1


def test_the_certificate_in_the_generator_files_is_judged_for_the_workers_names(
    project: Path,
) -> None:
    _, found = _audit(project)
    assert found["FKD041"]["status"] == "pass", found["FKD041"]["message"]
    assert "secretGenerator faktory-tls" in found["FKD041"]["message"]
    assert "chains to the CA" in found["FKD041"]["message"]
    url = project / "k8s" / "secrets" / "faktory_url"
    url.write_text(url.read_text().replace("@faktory:", "@faktory.elsewhere.example:"))
    _, moved = _audit(project)
    assert moved["FKD041"]["status"] == "fail"
    assert "does not cover faktory.elsewhere.example" in moved["FKD041"]["message"]


def test_a_load_balancer_without_tls_fails_strict(tmp_path: Path) -> None:
    _render(tmp_path, SPEC.replace("{mode: generate, names: [faktory.jobs.svc]}", "{mode: 'off'}"))
    _load_balancer(tmp_path)
    code, found = _audit(tmp_path, "--strict")
    assert found["FKD040"]["status"] == "fail"
    assert found["FKD040"]["severity"] == "warning"  # so --strict fails on it
    assert "LoadBalancer" in found["FKD040"]["message"]
    assert "without TLS" in found["FKD040"]["message"]
    assert code == 1
    assert found["FKD042"]["status"] == "pass"  # tcp:// to a plain server
