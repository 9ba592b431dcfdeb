"""`faktctl audit --compose` on files that are not compose files, broken or missing: one line
naming what the file is and what faktctl audits (exit 2), and with `--format json` still an
envelope with an `error` object. ECS task definitions (JSON, CloudFormation, Terraform), Render
blueprints and fly.toml given to the same option are audited (tests/unit/platform_corpus)."""

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
    "Dockerfile": ("is a Dockerfile", "ECS task definitions"),
    "storage.tf": ("is a Terraform configuration with no aws_ecs_task_definition", "fly.toml"),
    "settings.toml": ("is a TOML file", "Render blueprints"),
    "nomad-job.hcl": ("is a Nomad job specification", "Kubernetes manifests (--k8s)"),
    "github-workflow.yml": ("is a GitHub Actions workflow", "ECS task definitions"),
    "gitlab-ci.yml": ("is a GitLab CI configuration", "fly.toml"),
    "helm-values.yaml": ("looks like a Helm chart's values file", "faktctl audit --k8s"),
    "package.json": ("no `services:` mapping, so not a compose file", "Render blueprints"),
}
# Formats audited like compose files: the same option, the same report, their own input kind.
AUDITED = {"cloudformation.yaml": "ecs", "ecs-task.json": "ecs"}


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


@pytest.mark.parametrize("name", sorted(AUDITED))
def test_platform_files_are_audited_through_the_same_option(name: str, tmp_path: Path) -> None:
    shutil.copy(INPUTS / name, tmp_path / name)
    run = run_faktctl("audit", "--compose", name, "--format", "json", cwd=tmp_path)
    assert run.code == 1, run.output  # both servers have real failures
    document = json.loads(run.stdout)
    assert document["result"]["input"]["kind"] == AUDITED[name], document["result"]["input"]
    assert {f["service"] for f in document["result"]["findings"] if f["id"] == "FKM001"} == {
        "faktory"
    }


def test_render_and_fly_files_are_audited_in_the_table(tmp_path: Path) -> None:
    corpus = INPUTS.parent / "platform_corpus"
    shutil.copytree(corpus / "01-render-faktory-render", tmp_path / "render")
    run = run_faktctl("audit", "--compose", "render.yaml", cwd=tmp_path / "render")
    assert run.code == 1 and "FKS004" in run.stdout and "Traceback" not in run.output
    shutil.copytree(corpus / "06-fly-public-dashboard", tmp_path / "fly")
    run = run_faktctl("audit", "--compose", "fly.toml", cwd=tmp_path / "fly")
    assert run.code == 1 and "FKD001" in run.stdout and "fly scale count" in run.output
