"""Every bad input gets one located line, exit code 2, no traceback, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_faktctl, tree

CASES = {
    "invalid-yaml": (
        "project: demo\nworkers: [\n",
        "faktory.yaml:3:1: invalid YAML: expected the node content, but found '<stream end>'",
    ),
    "unknown-key": (
        "project: demo\nworkers:\n  - name: go\n    image: go:1\n    replics: 2\n",
        "faktory.yaml:5:5: workers[0].replics: unknown key (did you mean `replicas`?)",
    ),
    "wrong-type": (
        "project: demo\nworkers:\n  - name: go\n    image: go:1\n    replicas: two\n",
        "faktory.yaml:5:5: workers[0].replicas: expected a whole number (got `two`)",
    ),
    "bad-port": (
        'project: demo\nserver:\n  ports:\n    dashboard: "127.0.0.1:99999"\n',
        "faktory.yaml:4:5: server.ports.dashboard: "
        "`99999` is not a port number between 1 and 65535",
    ),
    "bad-ip": (
        'project: demo\nserver:\n  ports:\n    protocol: "localhost:7419"\n',
        "faktory.yaml:4:5: server.ports.protocol: `localhost` is not an IP address "
        "(e.g. 127.0.0.1:7420)",
    ),
    "duplicate-worker": (
        "project: demo\nworkers:\n  - name: go\n    image: go:1\n  - name: go\n    image: go:2\n",
        "faktory.yaml:5:5: workers[1].name: duplicate worker name `go` "
        "(already used by workers[0])",
    ),
    "no-image-or-build": (
        "project: demo\nworkers:\n  - name: go\n    replicas: 1\n",
        "faktory.yaml:3:5: workers[0]: worker `go` has neither image nor build "
        "(add `image: NAME:TAG` or `build: {context: PATH}`)",
    ),
    "negative-replicas": (
        "project: demo\nworkers:\n  - name: go\n    image: go:1\n    replicas: -1\n",
        "faktory.yaml:5:5: workers[0].replicas: must be 0 or more (got `-1`)",
    ),
    "bad-environment": (
        "project: demo\nserver:\n  environment: prod\n",
        "faktory.yaml:3:3: server.environment: `prod` is not allowed "
        "(use one of 'production', 'staging' or 'development')",
    ),
    "short-grace-period": (
        "project: demo\nserver:\n  stop_grace_period: 5s\n",
        "faktory.yaml:3:3: server.stop_grace_period: stop_grace_period is shorter than 30s "
        "(Faktory needs time for its final save; use 30s or more)",
    ),
    "skip-password": (
        "project: demo\nserver:\n  env:\n    FAKTORY_SKIP_PASSWORD: 'true'\n",
        "faktory.yaml:4:5: server.env.FAKTORY_SKIP_PASSWORD: FAKTORY_SKIP_PASSWORD is managed by "
        "faktctl (faktctl always requires a password)",
    ),
    "duplicate-key": (
        "project: demo\nproject: other\n",
        "faktory.yaml:2:1: project: duplicate key (each key may appear once)",
    ),
    "misspelt-top-level": (
        "projekt: demo\n",
        "faktory.yaml:1:1: project: required key is missing\n"
        "faktory.yaml:1:1: projekt: unknown key (did you mean `project`?)",
    ),
    "negative-storage-size": (
        "project: demo\nkubernetes: {storage_size: -1}\n",
        "faktory.yaml:2:14: kubernetes.storage_size: must be more than 0 bytes (got `-1`) "
        "(e.g. 512m or 10g)",
    ),
    "zero-storage-size": (
        "project: demo\nkubernetes: {storage_size: 0}\n",
        "faktory.yaml:2:14: kubernetes.storage_size: must be more than 0 bytes (got `0`) "
        "(e.g. 512m or 10g)",
    ),
    "notify-url-not-http": (
        "project: demo\nbackup:\n  notify: {urls: [ftp://hooks.example/x]}\n",
        "faktory.yaml:3:19: backup.notify.urls[0]: `ftp://hooks.example/x` is not an http(s) "
        "URL (e.g. https://hooks.example.com/backup)",
    ),
    "notify-url-unparseable": (
        "project: demo\nbackup:\n  notify: {urls: ['https://[::1']}\n",
        "faktory.yaml:3:19: backup.notify.urls[0]: `https://[::1` is not an http(s) "
        "URL (e.g. https://hooks.example.com/backup)",
    ),
}


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "faktory_password").write_text("x" * 40 + "\n")
    return tmp_path


@pytest.mark.parametrize("command", ["render", "render --check"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_is_one_located_line_exit_2_and_writes_nothing(
    project_dir: Path, case: str, command: str
) -> None:
    text, expected = CASES[case]
    (project_dir / "faktory.yaml").write_text(text)
    before = tree(project_dir)

    result = run_faktctl(*command.split(), cwd=project_dir)

    assert result.code == 2
    assert result.stderr.rstrip("\n") == expected
    assert "Traceback" not in result.output
    assert tree(project_dir) == before


def test_missing_spec_file(tmp_path: Path) -> None:
    result = run_faktctl("render", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == (
        f"faktory.yaml: spec file not found at {tmp_path / 'faktory.yaml'} "
        "(run `faktctl init` to create one, or pass -f FILE)"
    )
    assert tree(tmp_path) == {}


def test_missing_password_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "faktory.yaml").write_text("project: demo\n")
    result = run_faktctl("render", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == (
        f"faktctl: error: password file {tmp_path / 'secrets/faktory_password'} does not exist "
        "(`faktctl secrets provision` creates it, or point server.password_file at it)"
    )
    assert sorted(tree(tmp_path)) == ["faktory.yaml"]


def test_debug_flag_shows_the_traceback(project_dir: Path) -> None:
    (project_dir / "faktory.yaml").write_text("project: demo\nbogus: 1\n")
    result = run_faktctl("--debug", "render", cwd=project_dir)
    assert result.code == 2
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().endswith(
        "faktory.yaml:2:1: bogus: unknown key (allowed keys: "
        "audit, backup, kubernetes, monitoring, platform, project, server, swarm, version, workers)"
    )
