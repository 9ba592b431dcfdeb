"""Issue 24: `audit --k8s` on hostile and odd input: secretGenerator files under the rules of
the spec's secret files, odd types without a traceback, and "an unrendered Helm template"
decided from the document's structure, not from text anywhere in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.cli import run_faktctl

SERVER = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: faktory}
spec:
  replicas: 1
  selector: {matchLabels: {app: faktory}}
  template:
    metadata: {labels: {app: faktory}}
    spec:
      containers:
        - name: faktory
          image: contribsys/faktory:1.10.0
          command: ["/faktory"]
          env: [{name: FAKTORY_PASSWORD, value: /run/secrets/faktory/password}]
          ports: PORTS
      volumes: VOLUMES
"""


def _server(ports: str = "[{containerPort: 7419}]", volumes: str = "[]") -> str:
    return SERVER.replace("PORTS", ports).replace("VOLUMES", volumes)


def _audit(folder: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faktctl", "audit", "--k8s", str(folder), *more],
        capture_output=True,
        text=True,
        timeout=60,  # a FIFO read would hang, /dev/zero would run out of memory
        check=False,
    )


@pytest.mark.parametrize("name", ["/dev/zero", "fifo", "/etc/shadow", "../outside", "link"])
def test_secret_generator_files_follow_the_secret_file_rules(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "k"
    folder.mkdir()
    (tmp_path / "outside").write_text("password\n")
    os.mkfifo(folder / "fifo")
    (folder / "link").symlink_to(tmp_path / "outside")
    (folder / "server.yaml").write_text(_server())
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [server.yaml]\nsecretGenerator:\n  - name: pw\n    files: [pw={name}]\n"
    )
    result = _audit(folder, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    assert "password\\n" not in result.stdout and "root:" not in result.stdout


ODD = {
    "service-spec-a-string": _server() + "---\napiVersion: v1\nkind: Service\n"
    "metadata: {name: s}\nspec: x\n",
    "service-ports-a-string": _server() + "---\napiVersion: v1\nkind: Service\n"
    "metadata: {name: s}\nspec: {selector: {app: faktory}, ports: x}\n",
    "secret-volume-a-string": _server(volumes="[{name: password, secret: x}]"),
    "configmap-volume-a-list": _server(volumes="[{name: c, configMap: [1]}]"),
    "pvc-volume-a-number": _server(volumes="[{name: d, persistentVolumeClaim: 3}]"),
    "container-port-a-string": _server("[{containerPort: x, hostPort: 7419}]"),
    "container-port-a-list": _server("[{containerPort: [], hostPort: 7419}]"),
    "host-port-a-mapping": _server("[{containerPort: 7419, hostPort: {a: 1}}]"),
    "ports-a-string": _server("x"),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_types_are_findings_or_one_line_never_a_traceback(tmp_path: Path, case: str) -> None:
    (tmp_path / "m.yaml").write_text(ODD[case])
    result = _audit(tmp_path / "m.yaml")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1, 2), result.stderr
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_non_utf8_stdin_is_the_same_clean_line_as_a_file(tmp_path: Path) -> None:
    data = _server().encode() + b"# caf\xe9\n"
    proc = subprocess.run(
        [sys.executable, "-m", "faktctl", "audit", "--k8s", "-"],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "not UTF-8" in err and len(err.strip().splitlines()) == 1


def test_go_template_text_inside_config_data_is_not_an_unrendered_chart(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        _server() + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: alerts\n"
        "  annotations: {note: 'see {{ .x }}'}\ndata:\n"
        '  default.tmpl: |\n    {{ define "slack.title" }}{{ .CommonLabels.alertname }}'
        "{{ end }}\n"
    )
    result = _audit(tmp_path / "m.yaml")
    assert "Helm" not in result.stderr and result.returncode in (0, 1), result.stderr


def test_faktctls_own_render_with_a_templated_ignore_reason_is_audited(tmp_path: Path) -> None:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    spec = yaml.safe_load((tmp_path / "faktory.yaml").read_text())
    spec["audit"] = {
        "ignore": [{"id": "FKH008", "reason": "kept as {{ .x }} for now", "expires": "2099-01-01"}]
    }
    (tmp_path / "faktory.yaml").write_text(yaml.safe_dump(spec))
    assert run_faktctl("render", "--target", "kubernetes", cwd=tmp_path).code == 0
    result = _audit(tmp_path / "k8s")
    assert "Helm" not in result.stderr and result.returncode in (0, 1), result.stderr


def test_a_real_unrendered_chart_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
        "spec:\n  replicas: {{ .Values.replicas }}\n"
    )
    result = _audit(tmp_path / "t.yaml")
    assert result.returncode == 2 and "raw Helm template" in result.stderr, result.stderr
    (tmp_path / "t.yaml").write_text(
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: "{{ include \\"x.fullname\\" . }}"\n'
        "spec: {ports: [{port: 1}]}\n"
    )
    quoted = _audit(tmp_path / "t.yaml")
    assert quoted.returncode == 2 and "raw Helm template" in quoted.stderr, quoted.stderr
