"""The gate on a fresh clone (issue 22, section 0) and the deploy host's one secret step (0b).

Exactly as a team does it: `faktctl init --yes` in a git repository, commit what git keeps,
`git clone`, then `faktctl audit --strict` in the clone, the way every CI job starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.support import gitrepo
from tests.support.cli import CliResult, run_faktctl

NOT_CI = {"CI": ""}
HOST_CHECKS = ("FKB002", "FKB003", "FKD041", "FKS006", "FKS009", "FKS011")


def initialised(tmp_path: Path, change: Any = None) -> Path:
    """A repository made by `faktctl init --yes` (spec changed by `change`), committed."""

    def edit(origin: Path) -> None:
        spec = yaml.safe_load((origin / "faktory.yaml").read_text())
        change(spec, origin)
        (origin / "faktory.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    return gitrepo.initialised(tmp_path / "origin", change=None if change is None else edit)


def cloned(origin: Path, tmp_path: Path) -> Path:
    return gitrepo.cloned(origin, tmp_path / "clone")


def audit(clone: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_faktctl("audit", "--strict", *args, cwd=clone, env={**NOT_CI, **(env or {})})


def test_a_right_spec_passes_the_strict_gate_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = cloned(initialised(tmp_path), tmp_path)
    assert not (clone / "secrets").exists()  # git kept the spec, not the password

    for env in (NOT_CI, {"CI": "true"}):
        result = audit(clone, env=env)
        assert result.code == 0, result.output
        assert "FAIL " not in result.stdout.replace("FAIL faktory", "")
        lines = result.stdout.splitlines()
        assert lines[-1].startswith("PASS faktory.yaml [strict, scope repo]: ")
        (said,) = [line for line in lines if line.startswith("not evaluated here:")]
        assert said.startswith("not evaluated here: 6 host checks (")
        assert "run `faktctl audit --scope host` on the deploy host" in said
        assert all(check in said for check in HOST_CHECKS)
        # host checks are named once, never as a row of SKIPs
        rows = {line.split()[2] for line in lines if line.startswith("  ") and " FK" in line}
        assert rows and not rows & set(HOST_CHECKS)
        assert "SKIP    error     FKS" not in result.stdout


def test_the_scope_shows_in_every_format(tmp_path: Path) -> None:
    clone = cloned(initialised(tmp_path), tmp_path)

    document = json.loads(audit(clone, "--format", "json").stdout)["result"]
    assert document["scope"] == "repo"
    assert {item["id"] for item in document["not_evaluated"]} == set(HOST_CHECKS)
    sarif = json.loads(audit(clone, "--format", "sarif").stdout)
    assert sarif["runs"][0]["properties"]["scope"] == "repo"
    assert '<property name="scope" value="repo" />' in audit(clone, "--format", "junit").stdout
    assert "::notice title=faktctl audit scope repo::not evaluated here: 6 host checks" in (
        audit(clone, "--format", "github").stdout
    )
    assert "scope **repo**" in audit(clone, "--format", "markdown").stdout
    gitlab = audit(clone, "--format", "gitlab")
    assert json.loads(gitlab.stdout) == [] and "faktctl audit scope: repo" in gitlab.stderr


def _mistakes(spec: dict[str, Any], origin: Path) -> None:
    """The dashboard on every interface, the password committed in the repository, no backup."""
    spec["server"]["ports"]["dashboard"] = "0.0.0.0:7420"
    spec["server"]["password_file"] = "faktory_password.txt"
    (origin / "faktory_password.txt").write_text("committed-password-0123456789\n")
    del spec["backup"]


def test_a_wrong_spec_still_fails_the_gate_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = cloned(initialised(tmp_path, _mistakes), tmp_path)
    # with CI set the scope is repo; without it, the committed password file is here, so the
    # clone is not "secrets absent and ignored" and the default is host: both fail
    for env, scope in ((NOT_CI, "host"), ({"CI": "true"}, "repo"), (NOT_CI, "repo")):
        extra = ("--scope", "repo") if env is NOT_CI and scope == "repo" else ()
        result = audit(clone, *extra, env=env)
        assert result.code == 1, result.output
        failing = {line.split()[2] for line in result.stdout.splitlines() if " FAIL " in line}
        assert {"FKD001", "FKS010", "FKB001"} <= failing, result.stdout
        last = result.stdout.splitlines()[-1]
        assert last.startswith(f"FAIL faktory.yaml [strict, scope {scope}]")


def test_a_literal_password_in_the_spec_stops_the_gate(tmp_path: Path) -> None:
    def literal(spec: dict[str, Any], origin: Path) -> None:
        spec["server"]["env"] = {"FAKTORY_PASSWORD": "hunter2hunter2hunter2"}

    result = audit(cloned(initialised(tmp_path, literal), tmp_path))
    assert result.code == 2
    assert "FAKTORY_PASSWORD is managed by faktctl" in result.stderr
    assert "hunter2" not in result.output


def test_a_literal_password_in_a_compose_file_fails_in_a_fresh_clone(tmp_path: Path) -> None:
    def compose(spec: dict[str, Any], origin: Path) -> None:
        (origin / "compose.yaml").write_text(
            "services:\n  faktory:\n    image: contribsys/faktory:1.10.0\n"
            "    command: /faktory -b :7419 -w :7420 -e production\n"
            "    environment:\n      FAKTORY_PASSWORD: committed-password-0123456789\n"
            "    ports: ['127.0.0.1:7420:7420']\n"
        )

    clone = cloned(initialised(tmp_path, compose), tmp_path)
    result = audit(clone, "--compose", "compose.yaml", env={"CI": "true"})
    assert result.code == 1
    assert any(" FAIL " in line and "FKS004" in line for line in result.stdout.splitlines())
    assert "committed-password" not in result.output


def test_on_the_deploy_host_the_host_checks_run_and_one_command_provisions(
    tmp_path: Path,
) -> None:
    clone = cloned(initialised(tmp_path), tmp_path)
    before = audit(clone, "--scope", "host", "--format", "json")
    assert before.code == 1
    found = {f["id"]: f for f in json.loads(before.stdout)["result"]["findings"]}
    assert found["FKS011"]["status"] == "fail"
    assert "faktctl secrets provision" in found["FKS011"]["remediation"]

    up = run_faktctl("up", cwd=clone, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert up.code == 2
    assert "`faktctl secrets provision` creates it" in up.stderr

    made = run_faktctl("secrets", "provision", cwd=clone)
    assert made.code == 0, made.output
    password = clone / "secrets" / "faktory_password"
    assert password.stat().st_mode & 0o777 == 0o600
    assert (clone / "secrets").stat().st_mode & 0o777 == 0o700
    assert password.read_text().strip() not in made.output
    again = run_faktctl("secrets", "provision", cwd=clone)
    assert again.code == 0 and "left as it is" in again.stderr
    after = json.loads(audit(clone, "--scope", "host", "--format", "json").stdout)
    found = {f["id"]: f for f in after["result"]["findings"]}
    assert found["FKS011"]["status"] == "pass"
    assert found["FKS009"]["status"] == "pass" and found["FKS006"]["status"] == "pass"


def test_provision_takes_the_value_from_the_ci_store(tmp_path: Path) -> None:
    clone = cloned(initialised(tmp_path), tmp_path)
    value = "from-the-ci-secret-store-0123456789"
    password = clone / "secrets" / "faktory_password"

    made = run_faktctl(
        "secrets", "provision", "--from-env", "FAKTORY_PASSWORD_CI", cwd=clone,
        env={"FAKTORY_PASSWORD_CI": value},
    )  # fmt: skip
    assert made.code == 0, made.output
    assert password.read_text().strip() == value and value not in made.output
    assert password.stat().st_mode & 0o777 == 0o600

    other = tmp_path / "given.txt"
    other.write_text("another-password-0123456789abc\n")
    refused = run_faktctl("secrets", "provision", "--from-file", str(other), cwd=clone)
    assert refused.code == 2 and "already holds another password" in refused.stderr
    assert password.read_text().strip() == value  # untouched without --force
    same = run_faktctl("secrets", "provision", "--from-env", "V", cwd=clone, env={"V": value})
    assert same.code == 0 and "already holds the given value" in same.stderr
    replaced = run_faktctl("secrets", "provision", "--from-file", str(other), "--force", cwd=clone)
    assert replaced.code == 0
    assert password.read_text().strip() == "another-password-0123456789abc"


def test_provision_validates_the_value_like_a_password_file(tmp_path: Path) -> None:
    clone = cloned(initialised(tmp_path), tmp_path)
    for value, said in (
        ("short", "needs at least 16"),
        ("two\nlines-0123456789abcdef", "more than one line"),
        ("/etc/faktory-looks-like-a-path", "starts with `/`"),
    ):
        result = run_faktctl("secrets", "provision", "--from-env", "V", cwd=clone, env={"V": value})
        assert result.code == 2 and said in result.stderr, result.output
        assert value not in result.output
        assert not (clone / "secrets" / "faktory_password").exists()
    unset = run_faktctl("secrets", "provision", "--from-env", "NOPE_NOT_SET", cwd=clone)
    assert unset.code == 2 and "NOPE_NOT_SET is not set" in unset.stderr


def test_scope_and_live_must_agree(tmp_path: Path) -> None:
    clone = cloned(initialised(tmp_path), tmp_path)
    clash = run_faktctl("audit", "--live", "--scope", "repo", cwd=clone)
    assert clash.code == 2
    assert "--live audits the running deployment" in clash.stderr
    assert "Traceback" not in clash.output
