"""`faktctl audit --compose` on files that are not compose files, broken or missing: one line
naming what the file is and what to do (exit 2), and with `--format json` still an envelope with
an `error` object."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import run_faktctl

INPUTS = Path(__file__).resolve().parents[1] / "unit" / "audit_inputs"  # golden.py reads them too
EXPECTED = {
    "k8s-multi.yaml": (
        "is a Kubernetes manifest (kind: Service, StatefulSet)",
        "faktctl audit --k8s k8s-multi.yaml",
    ),
    "helm-deployment.yaml": ("is a Helm chart template", "helm template"),
    "cloudformation.yaml": ("is an AWS CloudFormation template", "faktory.yaml"),
    "ecs-task.json": ("is an Amazon ECS task definition", "faktory.yaml"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_non_compose_input_is_named_in_one_line(name: str, tmp_path: Path) -> None:
    shutil.copy(INPUTS / name, tmp_path / name)
    run = run_faktctl("audit", "--compose", name, cwd=tmp_path)
    assert run.code == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    what, todo = EXPECTED[name]
    assert what in lines[0] and todo in lines[0], lines[0]
    assert "invalid YAML" not in lines[0] and run.stdout == ""


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_json_format_writes_an_error_envelope_on_exit_2(name: str, tmp_path: Path) -> None:
    shutil.copy(INPUTS / name, tmp_path / name)
    run = run_faktctl("audit", "--compose", name, "--format", "json", cwd=tmp_path)
    assert run.code == 2, run.output
    document = json.loads(run.stdout)
    assert document["faktctl"] == 1 and document["command"] == "audit"
    assert document["result"] is None
    assert document["error"]["exit_code"] == 2
    assert EXPECTED[name][0] in document["error"]["message"]


def test_error_envelope_for_a_missing_file_and_a_report_file(tmp_path: Path) -> None:
    run = run_faktctl("audit", "--compose", "nope.yaml", "--format", "json", cwd=tmp_path)
    assert run.code == 2, run.output
    assert json.loads(run.stdout)["error"]["message"]
    out = tmp_path / "report.json"
    run = run_faktctl(
        "audit", "--compose", "nope.yaml", "--format", "json", "-o", str(out), cwd=tmp_path
    )
    assert run.code == 2 and run.stdout == ""
    assert json.loads(out.read_text())["result"] is None


def test_a_compose_file_with_go_templates_in_strings_is_still_compose(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  faktory:\n"
        "    image: contribsys/faktory:1.9.4\n"
        "    labels:\n"
        "      note: \"docker inspect --format '{{ .State.Status }}'\"\n"
    )
    run = run_faktctl("audit", "--compose", "compose.yaml", cwd=tmp_path)
    assert run.code in (0, 1), run.output


def test_invalid_input_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services: [oops\n")
    result = run_faktctl("audit", "--compose", "compose.yaml", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.startswith("faktctl: error: compose.yaml:")
    assert "Traceback" not in result.output
    missing = run_faktctl("audit", "--compose", "nope.yaml", cwd=tmp_path)
    assert missing.code == 2 and "cannot read the compose file" in missing.stderr
    both = run_faktctl("audit", "--compose", "compose.yaml", "--live", cwd=tmp_path)
    assert both.code == 2 and "cannot be combined" in both.stderr
