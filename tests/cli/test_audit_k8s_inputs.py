"""`faktctl audit --k8s` as a user runs it: locations on stdin, a raw Helm chart, and input
that is not a Faktory deployment or not YAML (the corpus itself: tests/unit/test_k8s_corpus.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.cli import run_faktctl

UNIT = Path(__file__).resolve().parents[1] / "unit"
CORPUS = UNIT / "k8s_corpus"
CHART = UNIT / "k8s_charts" / "faktory"


def test_stdin_locations_name_stdin_with_line_and_column() -> None:
    text = (CORPUS / "12-loadbalancer-named-port.yaml").read_text()
    proc = subprocess.run(
        [sys.executable, "-m", "faktctl", "audit", "--k8s", "-", "--format", "json"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["result"]["findings"]
    dashboard = next(f for f in findings if f["id"] == "FKD020")
    assert dashboard["status"] == "fail"
    assert dashboard["location"] == {"file": "<stdin>", "line": 48, "column": 7}
    assert "targetPort web (= containerPort 7420)" in dashboard["message"]


def test_a_raw_helm_template_is_refused_with_the_helm_template_hint(tmp_path: Path) -> None:
    result = run_faktctl("audit", "--k8s", str(CHART / "templates"), cwd=tmp_path)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "raw Helm template" in lines[0]
    assert "helm template RELEASE CHART | faktctl audit --k8s -" in lines[0]
    assert "Traceback" not in result.output


def test_text_without_a_faktory_server_or_worker_exits_2(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n"
    )
    result = run_faktctl("audit", "--k8s", "web.yaml", cwd=tmp_path)
    assert result.code == 2 and "Traceback" not in result.output


def test_invalid_yaml_points_at_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n")
    result = run_faktctl("audit", "--k8s", "bad.yaml", cwd=tmp_path)
    assert result.code == 2
    assert "bad.yaml:" in result.stderr and "invalid YAML" in result.stderr
