"""audit --compose: FKD041 judges the certificate a compose or stack file mounts into
/etc/faktory (a bind mount, a swarm secret's `file:`) against the hosts its workers dial over
tcp+tls://, read under the secret-file rules; a file not readable here is skipped (issue 26)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from faktctl.adapters import openssl
from tests.support.cli import run_faktctl

SERVER = """\
services:
  faktory:
    image: contribsys/faktory:1.9.4
    environment:
      FAKTORY_ENV: production
      FAKTORY_PASSWORD: /run/secrets/faktory_password
    secrets: [faktory_password]
    volumes:
      - ./secrets/tls/server.cert.pem:/etc/faktory/public.cert.pem:ro
      - ./secrets/tls/server.key.pem:/etc/faktory/private.key.pem:ro
  worker:
    image: acme/worker:1.0
    environment:
      FAKTORY_URL: tcp+tls://:pw@faktory.example.com:7419
secrets:
  faktory_password:
    file: ./secrets/faktory_password
"""

STACK = """\
services:
  faktory:
    image: contribsys/faktory:1.9.4
    environment:
      FAKTORY_ENV: production
      FAKTORY_PASSWORD: /run/secrets/faktory_password
    secrets:
      - faktory_password
      - {source: faktory_cert, target: /etc/faktory/public.cert.pem}
      - {source: faktory_key, target: /etc/faktory/private.key.pem, mode: 0400}
  worker:
    image: acme/worker:1.0
    environment:
      FAKTORY_URL: tcp+tls://:pw@faktory:7419
secrets:
  faktory_password:
    file: ./secrets/faktory_password
  faktory_cert:
    file: ./secrets/tls/server.cert.pem
  faktory_key:
    file: ./secrets/tls/server.key.pem
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    tls = tmp_path / "secrets" / "tls"
    tls.mkdir(parents=True, mode=0o700)
    (tmp_path / "secrets").chmod(0o700)
    openssl.make_ca(tls / "ca.cert.pem", tls / "ca.key.pem", "test CA", 3650)
    openssl.make_server_cert(
        tls / "server.cert.pem", tls / "server.key.pem", tls / "ca.cert.pem",
        tls / "ca.key.pem", "faktory", ["faktory", "faktory.example.com"], [], 825,
    )  # fmt: skip
    password = tmp_path / "secrets" / "faktory_password"
    password.write_text("x" * 32 + "\n")
    password.chmod(0o600)
    return tmp_path


def _fkd041(folder: Path, text: str) -> dict[str, Any]:
    (folder / "compose.yaml").write_text(text)
    result = run_faktctl("audit", "--compose", "compose.yaml", "--format", "json", cwd=folder)
    findings = json.loads(result.stdout)["result"]["findings"]
    found: dict[str, Any] = next(f for f in findings if f["id"] == "FKD041")
    return found


def test_a_valid_mounted_certificate_passes(project: Path) -> None:
    found = _fkd041(project, SERVER)
    assert found["status"] == "pass", found["message"]
    assert "secrets/tls/server.cert.pem: CN=faktory" in found["message"]
    assert "chains to the CA" in found["message"]
    assert found["location"] == {"file": "compose.yaml", "line": 9}


def test_a_certificate_not_covering_the_name_workers_dial_fails_with_the_fix(
    project: Path,
) -> None:
    found = _fkd041(project, SERVER.replace("faktory.example.com", "faktory.elsewhere.example"))
    assert found["status"] == "fail"
    assert "does not cover faktory.elsewhere.example" in found["message"]
    assert found["remediation"].startswith("Renew it")


def test_a_certificate_absent_here_is_skipped_not_failed(project: Path) -> None:
    (project / "secrets" / "tls" / "server.cert.pem").unlink()
    found = _fkd041(project, SERVER)
    assert found["status"] == "skip"
    assert "secrets/tls/server.cert.pem is not on this host" in found["message"]


def test_a_link_out_of_the_project_fails_under_the_secret_file_rules(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "cert.pem"
    cert = project / "secrets" / "tls" / "server.cert.pem"
    elsewhere.write_bytes(cert.read_bytes())
    cert.unlink()
    os.symlink(elsewhere, cert)
    found = _fkd041(project, SERVER)
    assert found["status"] == "fail"
    assert "outside the project folder" in found["message"]


def test_a_stack_files_secret_is_read_from_its_file_and_an_external_one_skipped(
    project: Path,
) -> None:
    found = _fkd041(project, STACK)
    assert found["status"] == "pass", found["message"]
    assert "secret faktory_cert (secrets/tls/server.cert.pem)" in found["message"]
    external = STACK.replace("file: ./secrets/tls/server.cert.pem", "external: true")
    skipped = _fkd041(project, external)
    assert skipped["status"] == "skip"
    wanted = "comes from secret faktory_cert, whose content is not on this host"
    assert wanted in skipped["message"]
