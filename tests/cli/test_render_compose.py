"""faktctl render: compose.yaml and .env that embody Faktory's production facts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import run_faktctl

SPEC_WITH_WORKERS = """\
project: shop
workers:
  - name: emails
    image: registry.local/emails:1.2
    replicas: 3
    env: {FAKTORY_QUEUES: "mail,default", PRICE: "5$"}
    resources: {memory: 256m, cpus: 0.5}
  - name: reports
    build: {context: ./reports}
backup: {destination: backups}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(SPEC_WITH_WORKERS)
    return tmp_path


def _password(folder: Path) -> str:
    return (folder / "secrets" / "faktory_password").read_text().strip()


def _compose(folder: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((folder / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_server_service_embodies_the_production_facts(project: Path) -> None:
    result = run_faktctl("render", cwd=project)
    assert result.code == 0, result.output
    server = _compose(project)["services"]["faktory"]

    assert server["image"] == "contribsys/faktory:1.10.0"
    command = server["command"]
    assert command[0] == "/faktory"
    assert command[command.index("-e") + 1] == "production"
    assert command[command.index("-b") + 1] == "0.0.0.0:7419"
    assert command[command.index("-w") + 1] == "0.0.0.0:7420"
    assert server["environment"]["FAKTORY_ENV"] == "production"
    assert server["environment"]["FAKTORY_PASSWORD"] == "/run/secrets/faktory_password"
    assert server["secrets"] == [{"source": "faktory_password", "target": "faktory_password"}]
    assert server["volumes"] == [{"type": "volume", "source": "data", "target": "/var/lib/faktory"}]
    assert server["ports"] == ["127.0.0.1:7419:7419", "127.0.0.1:7420:7420"]
    assert server["healthcheck"]["test"] == [
        "CMD",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "http://127.0.0.1:7420/health",
    ]
    assert server["restart"] == "unless-stopped"
    assert server["stop_grace_period"] == "60s"
    compose = _compose(project)
    assert compose["secrets"] == {"faktory_password": {"file": "./secrets/faktory_password"}}
    assert compose["volumes"] == {"data": {"name": "shop_data"}}


def test_workers_get_faktory_url_through_env_interpolation(project: Path) -> None:
    assert run_faktctl("render", cwd=project).code == 0
    compose = _compose(project)
    emails = compose["services"]["emails"]
    assert emails["environment"]["FAKTORY_URL"].startswith("${FAKTORY_URL:?")
    assert emails["environment"]["PRICE"] == "5$$"  # a literal `$` is escaped for compose
    assert emails["depends_on"] == {"faktory": {"condition": "service_healthy"}}
    assert emails["scale"] == 3
    assert emails["mem_limit"] == "256m" and emails["cpus"] == 0.5
    assert compose["services"]["reports"]["build"] == {
        "context": "./reports",
        "dockerfile": "Dockerfile",
    }

    env_file = project / ".env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    lines = env_file.read_text().splitlines()
    assert f"FAKTORY_URL=tcp://:{_password(project)}@faktory:7419" in lines
    assert "COMPOSE_PROJECT_NAME=shop" in lines


def test_password_never_appears_in_compose_yaml(project: Path) -> None:
    assert run_faktctl("render", cwd=project).code == 0
    assert _password(project) not in (project / "compose.yaml").read_text()


def test_dashboard_none_and_host_path_storage(tmp_path: Path) -> None:
    assert run_faktctl("init", "--yes", "--project", "p", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(
        "project: p\nserver:\n  ports: {dashboard: none, protocol: '10.1.2.3:17419'}\n"
        "  storage: {host_path: ./data}\n"
    )
    assert run_faktctl("render", cwd=tmp_path).code == 0
    compose = _compose(tmp_path)
    server = compose["services"]["faktory"]
    assert server["ports"] == ["10.1.2.3:17419:7419"]
    assert server["volumes"] == [{"type": "bind", "source": "./data", "target": "/var/lib/faktory"}]
    assert "volumes" not in compose


def test_render_rewrites_only_changed_files(project: Path) -> None:
    assert run_faktctl("render", cwd=project).code == 0
    compose, env = project / "compose.yaml", project / ".env"
    stamps = (compose.stat().st_mtime_ns, env.stat().st_mtime_ns)

    again = run_faktctl("render", cwd=project)
    assert again.code == 0
    assert "compose.yaml: unchanged" in again.stderr and ".env: unchanged" in again.stderr
    assert (compose.stat().st_mtime_ns, env.stat().st_mtime_ns) == stamps

    (project / "faktory.yaml").write_text(SPEC_WITH_WORKERS.replace("replicas: 3", "replicas: 2"))
    third = run_faktctl("render", cwd=project)
    assert "compose.yaml: written" in third.stderr and ".env: unchanged" in third.stderr


def test_render_check_reports_drift_with_a_redacted_diff(project: Path) -> None:
    missing = run_faktctl("render", "--check", cwd=project)
    assert missing.code == 1
    assert "compose.yaml: missing" in missing.stderr

    assert run_faktctl("render", cwd=project).code == 0
    assert run_faktctl("render", "--check", cwd=project).code == 0

    password = _password(project)
    env = project / ".env"
    env.write_text(env.read_text().replace("COMPOSE_PROJECT_NAME=shop", "COMPOSE_PROJECT_NAME=x"))
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace("unless-stopped", "on-failure", 1))
    before = (compose.read_text(), env.read_text())

    drift = run_faktctl("render", "--check", cwd=project)
    assert drift.code == 1
    assert '-    restart: "on-failure"' in drift.stdout
    assert '+    restart: "unless-stopped"' in drift.stdout
    assert "-COMPOSE_PROJECT_NAME=x" in drift.stdout
    # the unchanged FAKTORY_URL line is diff context, shown with its password redacted
    assert " FAKTORY_URL=tcp://:<redacted>@faktory:7419" in drift.stdout.splitlines()
    assert password not in drift.output
    assert (compose.read_text(), env.read_text()) == before


def test_check_diff_of_a_changed_password_is_redacted(project: Path) -> None:
    assert run_faktctl("render", cwd=project).code == 0
    old = _password(project)
    (project / "secrets" / "faktory_password").write_text("a-brand-new-password-of-enough-length\n")
    drift = run_faktctl("render", "--check", cwd=project)
    assert drift.code == 1
    assert old not in drift.output
    assert "a-brand-new-password-of-enough-length" not in drift.output
    assert ".env: differs only in secret values (shown as <redacted>)" in drift.stderr


def test_docker_compose_accepts_the_rendered_files(project: Path) -> None:
    from tests.support.compose import config_problems

    assert run_faktctl("render", cwd=project).code == 0
    (project / "reports").mkdir()
    assert config_problems(project) == ""


def test_schema_command_prints_a_json_schema_that_accepts_the_init_spec(tmp_path: Path) -> None:
    import jsonschema

    result = run_faktctl("schema", cwd=tmp_path)
    assert result.code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "faktctl spec (faktory.yaml)"
    assert run_faktctl("init", "--yes", cwd=tmp_path).code == 0
    jsonschema.validate(yaml.safe_load((tmp_path / "faktory.yaml").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"project": "x", "workers": [{"name": "a", "replics": 1}]}, schema)


def test_separate_dashboard_password_becomes_a_private_conf_d_file(tmp_path: Path) -> None:
    assert run_faktctl("init", "--yes", "--project", "p", cwd=tmp_path).code == 0
    (tmp_path / "secrets" / "dashboard_password").write_text("people-password-0123456789\n")
    (tmp_path / "faktory.yaml").write_text(
        "project: p\nserver:\n  dashboard_password_file: secrets/dashboard_password\n"
    )
    result = run_faktctl("render", cwd=tmp_path)
    assert result.code == 0, result.output
    conf = tmp_path / "secrets" / "faktory_web.toml"
    assert conf.stat().st_mode & 0o777 == 0o600
    assert conf.read_text().endswith('[web]\npassword = "people-password-0123456789"\n')
    server = _compose(tmp_path)["services"]["faktory"]
    assert {
        "type": "bind",
        "source": "./secrets/faktory_web.toml",
        "target": "/etc/faktory/conf.d/faktctl-web.toml",
        "read_only": True,
    } in server["volumes"]
    assert "people-password" not in (tmp_path / "compose.yaml").read_text()
    assert "people-password" not in result.output
