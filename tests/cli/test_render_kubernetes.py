"""faktctl render --target kubernetes: a kustomize directory that translates the desired state.

The manifests are validated by a real kube-apiserver in tests/e2e/test_kubernetes_api.py; here the
translation itself is held to the desired state and the safety rules.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from faktctl.audit.runner import audit
from faktctl.audit.sources.kubernetes.gather import gather_kubernetes
from faktctl.project import open_project
from tests.support.cli import run_faktctl, tree

SPEC = """\
project: shop
server:
  resources: {memory: 3g, cpus: 1.5}
  stop_grace_period: 90s
kubernetes:
  namespace: jobs
  storage_size: 20g
  storage_class: fast-ssd
workers:
  - name: emails
    image: registry.local/emails:1.2
    replicas: 3
    command: ["bundle", "exec", "faktory-worker"]
    env: {FAKTORY_QUEUES: "mail,default"}
    resources: {memory: 256m, cpus: 0.5}
    stop_grace_period: 60s
    quiet: signal
  - name: pdf_reports
    image: registry.local/reports:2.0
audit:
  ignore:
    - {id: FKH008, reason: upgrade planned, expires: "2099-01-01"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(SPEC)
    result = run_faktctl("render", "--target", "kubernetes", cwd=tmp_path)
    assert result.code == 0, result.output
    return tmp_path


def _objects(folder: Path, name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((folder / "k8s" / name).read_text()) if d]


def _one(folder: Path, name: str, kind: str, object_name: str | None = None) -> dict[str, Any]:
    found = [
        o
        for o in _objects(folder, name)
        if o["kind"] == kind and (object_name is None or o["metadata"]["name"] == object_name)
    ]
    assert len(found) == 1, (kind, object_name, found)
    return found[0]


def _password(folder: Path) -> str:
    return (folder / "secrets" / "faktory_password").read_text().strip()


def test_the_password_is_in_no_manifest_only_in_0600_secret_files(project: Path) -> None:
    password = _password(project)
    k8s = project / "k8s"
    for path in k8s.rglob("*"):
        if path.is_file() and path.parent.name != "secrets":
            assert password not in path.read_text(), path
    for name in ("faktory_password", "faktory_url"):
        secret = k8s / "secrets" / name
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert password in secret.read_text()
    assert stat.S_IMODE((k8s / "secrets").stat().st_mode) == 0o700
    assert "/secrets/" in (k8s / ".gitignore").read_text()


def test_kustomization_generates_the_secrets_from_the_files(project: Path) -> None:
    kustomization = yaml.safe_load((project / "k8s" / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == "jobs"
    assert kustomization["resources"] == ["server.yaml", "network.yaml", "workers.yaml"]
    generators = {g["name"]: g["files"] for g in kustomization["secretGenerator"]}
    assert generators == {
        "faktory-password": ["faktory_password=secrets/faktory_password"],
        "faktory-url": ["FAKTORY_URL=secrets/faktory_url"],
    }
    assert "disableNameSuffixHash" not in str(kustomization)  # a new password rolls the pods


def test_server_statefulset_is_the_desired_server(project: Path) -> None:
    desired = open_project(project / "faktory.yaml").desired.server
    sts = _one(project, "server.yaml", "StatefulSet")
    spec = sts["spec"]
    assert spec["replicas"] == 1
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert desired.command is not None
    assert [*container["command"], *container["args"]] == list(desired.command)
    assert container["args"][:2] == ["-e", "production"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {name: value for name, value in desired.env}
    assert env["FAKTORY_PASSWORD"] == "/run/secrets/faktory_password"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/lib/faktory"]["name"] == "data"
    assert mounts["/run/secrets"]["readOnly"] is True
    assert pod["terminationGracePeriodSeconds"] == 90 == desired.stop_grace_s
    assert container["resources"]["requests"] == container["resources"]["limits"]
    assert container["resources"]["limits"] == {"memory": "3Gi", "cpu": "1500m"}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "dashboard"}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"


def test_the_server_runs_unprivileged_with_a_read_only_root(project: Path) -> None:
    pod = _one(project, "server.yaml", "StatefulSet")["spec"]["template"]["spec"]
    security = pod["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["fsGroup"] == security["runAsGroup"]
    assert pod["automountServiceAccountToken"] is False
    secret_volume = next(v for v in pod["volumes"] if v["name"] == "secrets")["secret"]
    assert secret_volume["defaultMode"] == 0o440  # root-owned, readable through fsGroup


def test_services_are_cluster_ip_and_the_policy_admits_only_workers(project: Path) -> None:
    services = [o for o in _objects(project, "server.yaml") if o["kind"] == "Service"]
    assert {s["metadata"]["name"] for s in services} == {"faktory", "faktory-web"}
    for service in services:
        assert service["spec"]["type"] == "ClusterIP"
        assert "externalIPs" not in service["spec"]
    policy = _one(project, "network.yaml", "NetworkPolicy")
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 7419}]
    assert rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"


def test_workers_get_faktory_url_from_the_generated_secret(project: Path) -> None:
    emails = _one(project, "workers.yaml", "Deployment", "emails")
    assert emails["spec"]["replicas"] == 3
    container = emails["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["bundle", "exec", "faktory-worker"]
    url = next(e for e in container["env"] if e["name"] == "FAKTORY_URL")
    assert url == {
        "name": "FAKTORY_URL",
        "valueFrom": {"secretKeyRef": {"name": "faktory-url", "key": "FAKTORY_URL"}},
    }
    labels = emails["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "worker"
    assert labels["app.kubernetes.io/part-of"] == "shop"
    _one(project, "workers.yaml", "Deployment", "pdf-reports")  # underscores become dashes


def test_a_worker_quieted_by_signal_gets_a_pre_stop_hook_within_its_grace(project: Path) -> None:
    emails = _one(project, "workers.yaml", "Deployment", "emails")["spec"]["template"]["spec"]
    assert emails["terminationGracePeriodSeconds"] == 60
    (container,) = emails["containers"]
    # faktory_worker_ruby (the command names it) quiets on TSTP and waits 25 s after TERM:
    # the hook lingers 60 - 25 - 2 s, so the library's own wait still fits in the grace period
    hook = container["lifecycle"]["preStop"]["exec"]["command"]
    assert hook == ["/bin/sh", "-c", "kill -TSTP 1; sleep 33"]
    reports = _one(project, "workers.yaml", "Deployment", "pdf-reports")["spec"]["template"]
    assert "lifecycle" not in reports["spec"]["containers"][0]  # quiet: server, the default


def test_render_check_reports_drift_and_is_idempotent(project: Path) -> None:
    before = tree(project / "k8s")
    again = run_faktctl("render", "--target", "kubernetes", cwd=project)
    assert again.code == 0 and "written" not in again.stderr.replace("unchanged", "")
    assert tree(project / "k8s") == before
    assert run_faktctl("render", "--target", "kubernetes", "--check", cwd=project).code == 0
    spec = (project / "faktory.yaml").read_text().replace("replicas: 3", "replicas: 4")
    (project / "faktory.yaml").write_text(spec)
    check = run_faktctl("render", "--target", "kubernetes", "--check", cwd=project)
    assert check.code == 1
    assert "replicas: 4" in check.stdout and "render --target kubernetes" in check.stderr
    assert tree(project / "k8s") == before  # --check writes nothing


def test_render_check_hides_a_changed_password(project: Path) -> None:
    (project / "secrets" / "faktory_password").write_text("Another-Strong-Password-1234567\n")
    check = run_faktctl("render", "--target", "kubernetes", "--check", cwd=project)
    assert check.code == 1
    assert "Another-Strong-Password" not in check.output


def test_out_writes_elsewhere_and_is_refused_for_compose(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    assert run_faktctl("render", "--target", "kubernetes", "--out", str(out), cwd=project).code == 0
    assert (out / "kustomization.yaml").is_file()
    refused = run_faktctl("render", "--out", str(out), cwd=project)
    assert refused.code == 2 and "--target kubernetes" in refused.stderr


def test_audit_of_the_rendered_directory_passes_strict_except_backup(project: Path) -> None:
    os.chmod(project / "k8s" / "secrets", 0o700)
    report = audit(gather_kubernetes(str(project / "k8s"), datetime.now(UTC)))
    failing = {f.id for f in report.findings if f.status == "fail"}
    assert failing <= {"FKB001"}, [f.message for f in report.findings if f.status == "fail"]
    passing = {f.id for f in report.findings if f.status == "pass"}
    # the password is read from the secretGenerator's file, so its strength is checked too
    assert {"FKS001", "FKS006", "FKS007", "FKS009", "FKP020", "FKD022", "FKH030"} <= passing


def test_render_check_never_shows_the_old_password_after_a_rotation(project: Path) -> None:
    """The files on disk hold the old password (and the old dashboard password) after a
    rotation: the diff of a secret-bearing file goes through one redaction, old values too."""
    old = _password(project)
    old_files = {p: p.read_text() for p in (project / "k8s" / "secrets").iterdir()}
    (project / "secrets" / "faktory_password").write_text("Another-Strong-Password-1234567\n")
    check = run_faktctl("render", "--target", "kubernetes", "--check", cwd=project)
    assert check.code == 1
    assert old not in check.output
    for text in old_files.values():
        for line in text.splitlines():
            assert line.strip() not in check.stdout or "<redacted>" in line or not line.strip()
    assert "differs only in secret values" in check.stderr


def test_render_out_adds_to_an_existing_gitignore_never_replaces_it(tmp_path: Path) -> None:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(SPEC)
    before = (tmp_path / ".gitignore").read_text()
    assert ".env" in before
    result = run_faktctl("render", "--target", "kubernetes", "--out", ".", cwd=tmp_path)
    assert result.code == 0, result.output
    assert (tmp_path / ".gitignore").read_text() == before  # `secrets/` already covers it
    (tmp_path / ".gitignore").write_text("node_modules\n.env\nbackups/")  # no final newline
    result = run_faktctl("render", "--target", "kubernetes", "--out", ".", cwd=tmp_path)
    assert result.code == 0 and "added /secrets/ to .gitignore" in result.stderr
    after = (tmp_path / ".gitignore").read_text()
    assert after == "node_modules\n.env\nbackups/\n/secrets/\n"
    again = run_faktctl("render", "--target", "kubernetes", "--out", ".", cwd=tmp_path)
    assert again.code == 0 and (tmp_path / ".gitignore").read_text() == after
    assert (
        run_faktctl("render", "--target", "kubernetes", "--check", "--out", ".", cwd=tmp_path).code
        == 0
    )
