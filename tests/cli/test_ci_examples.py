"""The pipeline definitions faktctl ships (issue 22, section 2), proven by the real tools:
actionlint on the GitHub workflows, `pre-commit try-repo` on the hooks, and every faktctl
command the examples hold run as written in a fresh clone, so a renamed flag breaks a test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.paths import REPO
from tests.support import gitrepo, provision
from tests.support.cli import run_faktctl

CI = REPO / "examples" / "ci"
GATE = CI / "github-actions.yml"
DEPLOY = CI / "github-deploy.yml"
GITLAB = CI / "gitlab-ci.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
SARIF_SCHEMA = REPO / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
BIN = Path(sys.executable).parent  # where this environment's `faktctl` script is
PACKAGE = "faktctl"


def project(tmp_path: Path, wrong: bool = False) -> Path:
    """A repository as `faktctl init --yes` and `faktctl render` leave it, committed, then
    cloned: the checkout a CI job starts from (no password file, no .env)."""

    def prepare(origin: Path) -> None:
        if wrong:
            spec = yaml.safe_load((origin / "faktory.yaml").read_text())
            spec["server"]["ports"]["dashboard"] = "0.0.0.0:7420"
            (origin / "faktory.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        assert run_faktctl("render", cwd=origin).code == 0

    origin = gitrepo.initialised(tmp_path / "origin", change=prepare)
    clone = gitrepo.cloned(origin, tmp_path / "clone")
    assert (clone / "compose.yaml").is_file() and not (clone / ".env").exists()
    return clone


def shell(command: str, cwd: Path, env: dict[str, str], feed: str | None = None) -> Any:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd, input=feed, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "NO_COLOR": "1", **env},
    )  # fmt: skip


def workflow(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def faktctl_steps(path: Path) -> list[str]:
    """The `run:` of every step that runs faktctl, as written."""
    steps = [s for job in workflow(path)["jobs"].values() for s in job["steps"]]
    return [s["run"] for s in steps if str(s.get("run", "")).startswith("faktctl ")]


# --- GitHub Actions ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [GATE, DEPLOY], ids=lambda p: p.name)
def test_actionlint_finds_nothing(path: Path) -> None:
    """actionlint, with shellcheck on its PATH so the `run:` scripts are checked too."""
    linter = provision.actionlint()
    shellcheck = provision.deb_tool("shellcheck", "shellcheck")
    env = {
        **os.environ,
        **shellcheck.env,
        "PATH": f"{shellcheck.path.parent}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        [str(linter), "-no-color", "-verbose", str(path)], capture_output=True, text=True,
        timeout=120, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
    assert 'Rule "shellcheck" was disabled' not in done.stderr  # it found shellcheck


def test_the_gate_workflow_triggers_on_the_deployment_files() -> None:
    flow = workflow(GATE)
    triggers: dict[str, Any] = yaml.safe_load(GATE.read_text())[True]  # YAML 1.1: `on` is true
    paths = triggers["pull_request"]["paths"]
    assert {"faktory.yaml", "compose.yaml", "k8s/**"} <= set(paths)
    (job,) = flow["jobs"].values()
    runs = [str(step.get("run", "")) for step in job["steps"]]
    assert f"python -m pip install {PACKAGE}" in runs
    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("github/codeql")]
    assert uploads and uploads[0]["with"]["sarif_file"] == "faktctl.sarif"
    assert job["permissions"]["security-events"] == "write"


def test_the_gate_workflow_commands_pass_a_right_clone(tmp_path: Path) -> None:
    clone = project(tmp_path)
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {"GITHUB_STEP_SUMMARY": str(summary), "CI": "true"}
    commands = faktctl_steps(GATE)
    assert [c.split()[1] for c in commands] == ["render", "audit", "audit", "audit"]
    for command in commands:
        done = shell(command, clone, env)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert summary.read_text().startswith("## faktctl audit: PASS")
    sarif = json.loads((clone / "faktctl.sarif").read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(sarif)


def test_the_gate_workflow_fails_a_wrong_clone_with_annotations(tmp_path: Path) -> None:
    clone = project(tmp_path, wrong=True)
    annotate = next(c for c in faktctl_steps(GATE) if "--format github" in c)
    done = shell(annotate, clone, {"CI": "true"})
    assert done.returncode == 1
    assert re.search(r"^::error file=faktory\.yaml,line=\d+,title=FKD001 ", done.stdout, re.M)


def test_the_deploy_workflow_provisions_the_password_from_the_secret_store(
    tmp_path: Path,
) -> None:
    (step,) = [
        s
        for job in workflow(DEPLOY)["jobs"].values()
        for s in job["steps"]
        if "faktctl" in str(s.get("run", ""))
    ]
    assert step["env"]["FAKTORY_PASSWORD"] == "${{ secrets.FAKTORY_PASSWORD }}"
    remote = re.search(r'"cd [^"]*"', step["run"])
    assert remote is not None and "printf '%s' \"$FAKTORY_PASSWORD\" | ssh" in step["run"]
    commands = re.findall(r"faktctl [^&\"]+?(?=\s*&&|\s*\"|$)", remote.group(0))
    assert [c.split()[1] for c in commands] == ["secrets", "up"]

    clone = project(tmp_path)
    value = "from-the-ci-secret-store-0123456789"
    for command in commands:  # every flag as written exists
        assert shell(f"{command} --help", clone, {}).returncode == 0, command
    provision_cmd = f"printf '%s' \"$FAKTORY_PASSWORD\" | {commands[0]}"
    done = shell(provision_cmd, clone, {"FAKTORY_PASSWORD": value})
    assert done.returncode == 0, done.stderr
    password = clone / "secrets" / "faktory_password"
    assert password.read_text().strip() == value
    assert password.stat().st_mode & 0o777 == 0o600
    assert value not in done.stdout + done.stderr
    again = shell(provision_cmd, clone, {"FAKTORY_PASSWORD": value})
    assert again.returncode == 0 and "already holds the given value" in again.stderr


# --- GitLab ------------------------------------------------------------------------------------


def test_the_gitlab_job_reports_code_quality(tmp_path: Path) -> None:
    job = yaml.safe_load(GITLAB.read_text())["faktory-audit"]
    assert job["before_script"] == [f"python -m pip install {PACKAGE}"]
    report = job["artifacts"]["reports"]["codequality"]
    assert job["artifacts"]["when"] == "always"
    assert any(report in line for line in job["script"])

    right = project(tmp_path / "right")
    for command in job["script"]:
        done = shell(command, right, {"CI": "true"})
        assert done.returncode == 0, (command, done.stderr)
    assert json.loads((right / report).read_text()) == []

    wrong = project(tmp_path / "wrong", wrong=True)
    codes = [shell(command, wrong, {"CI": "true"}).returncode for command in job["script"]]
    assert codes == [0, 1, 1]
    issues = json.loads((wrong / report).read_text())
    assert "FKD001" in {issue["check_name"] for issue in issues}


# --- pre-commit --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """faktctl's sources as a git repository (what `rev:` points at), and one pre-commit home
    for the module, so the hooks' environment is built once."""
    folder = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(REPO / name, folder / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "faktctl", folder / "faktctl", ignore=ignore)
    shutil.copytree(REPO / "templates", folder / "templates", ignore=ignore)
    gitrepo.commit_all(folder, "hooks")
    yield folder, tmp_path_factory.mktemp("pre-commit-home")


def try_repo(hooks: Path, home: Path, cwd: Path) -> Any:
    return pre_commit(home, cwd, "try-repo", str(hooks), "--all-files", "--color", "never")


def pre_commit(home: Path, cwd: Path, *args: str) -> Any:
    tool = provision.pre_commit()
    # the hook's environment installs faktctl and its dependencies from the wheelhouse the
    # suite itself was installed from (no package index)
    shared = REPO.parent / "shared" / "wheels"
    wheels = str(shared.resolve()) if shared.is_dir() else os.environ.get("PIP_FIND_LINKS", "")
    tool_env = tool.env()
    env = {
        **os.environ,
        **tool_env,
        "PRE_COMMIT_HOME": str(home),
        "VIRTUALENV_OVERRIDE_APP_DATA": str(home / "virtualenv-app-data"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": f"{tool_env['PIP_FIND_LINKS']} {wheels}".strip(),
        "NO_COLOR": "1",
        "CI": "",
    }
    return subprocess.run(
        tool.argv(*args),
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def test_the_hooks_are_declared_as_pre_commit_reads_them() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    assert set(hooks) == {"faktctl-audit", "faktctl-render-check"}
    pattern = re.compile(hooks["faktctl-audit"]["files"])
    for name in ("faktory.yaml", "deploy/compose.yaml", "docker-compose.prod.yml", "k8s/a.yaml"):
        assert pattern.search(name), name
    assert not pattern.search("README.md")
    for hook in hooks.values():
        assert hook["entry"].startswith("faktctl ")


def test_pre_commit_try_repo_runs_the_hooks(hook_repo: tuple[Path, Path], tmp_path: Path) -> None:
    hooks, home = hook_repo
    right = project(tmp_path / "right")
    done = try_repo(hooks, home, right)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^faktctl audit\.+Passed$", done.stdout, re.M), done.stdout
    assert re.search(r"^faktctl render --check\.+Passed$", done.stdout, re.M), done.stdout

    wrong = project(tmp_path / "wrong", wrong=True)
    failed = try_repo(hooks, home, wrong)
    assert failed.returncode == 1
    assert re.search(r"^faktctl audit\.+Failed$", failed.stdout, re.M), failed.stdout
    assert "FKD001" in failed.stdout


HAND_WRITTEN_COMPOSE = """\
services:
  faktory:
    image: contribsys/faktory:1.9.4
    ports: ["7419:7419", "7420:7420"]
"""


def test_the_audit_hook_with_args_audits_a_hand_written_compose_file(
    hook_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    hooks, home = hook_repo
    clone = project(tmp_path / "hand")
    (clone / "deploy").mkdir()
    (clone / "deploy" / "compose.yaml").write_text(HAND_WRITTEN_COMPOSE)
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=hooks, capture_output=True, text=True, check=True
    ).stdout.strip()
    config = {
        "repos": [
            {
                "repo": str(hooks),
                "rev": rev,
                "hooks": [{"id": "faktctl-audit", "args": ["--compose", "deploy/compose.yaml"]}],
            }
        ]
    }
    (clone / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    gitrepo.git("add", "-A", cwd=clone)
    done = pre_commit(home, clone, "run", "--all-files", "--color", "never")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^faktctl audit\.+Failed$", done.stdout, re.M), done.stdout
    assert "deploy/compose.yaml" in done.stdout and "FKD0" in done.stdout, done.stdout


# --- shell completion --------------------------------------------------------------------------


@pytest.mark.parametrize("shell_name", ["bash", "zsh", "fish"])
def test_completion_scripts_for_each_shell(shell_name: str, tmp_path: Path) -> None:
    env = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}  # name the shell explicitly
    result = run_faktctl("--show-completion", shell_name, cwd=tmp_path, env=env)
    assert result.code == 0, result.output
    assert "_FAKTCTL_COMPLETE" in result.stdout


def test_bash_completion_completes_commands_and_formats(tmp_path: Path) -> None:
    env = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = run_faktctl("--show-completion", "bash", cwd=tmp_path, env=env).stdout
    (tmp_path / "complete.bash").write_text(script)
    probe = (
        "source ./complete.bash\n"
        "COMP_WORDS=(faktctl aud); COMP_CWORD=1; _faktctl_completion faktctl; "
        'echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(faktctl audit --format ""); COMP_CWORD=3; _faktctl_completion faktctl; '
        'echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(faktctl secrets ""); COMP_CWORD=2; _faktctl_completion faktctl; '
        'echo "${COMPREPLY[*]}"\n'
    )
    done = shell(probe, tmp_path, {})
    assert done.returncode == 0, done.stderr
    commands, formats, secrets = done.stdout.splitlines()
    assert commands == "audit"
    assert {"github", "markdown", "gitlab", "sarif"} <= set(formats.split())
    assert "provision" in secrets.split()
