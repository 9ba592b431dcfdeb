"""`server.tls.mode: generate` with the real `openssl`: what `up` makes, renews and refuses
(issue 26), and `render` mounting the files into compose.yaml."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from faktctl.adapters import openssl
from faktctl.errors import FaktctlError, UsageError
from faktctl.live import tls
from faktctl.spec.load import load_spec
from tests.support.cli import run_faktctl

SPEC = """\
project: shop
server:
  ports: {protocol: "10.0.0.5:7419"}
  tls: {mode: generate, names: [jobs.example.com]}
workers:
  - name: emails
    image: emails:1
"""


def _project(folder: Path, spec: str = SPEC) -> Path:
    (folder / "secrets").mkdir(mode=0o700)
    password = folder / "secrets" / "faktory_password"
    password.write_text("a-strong-password-of-some-length\n")
    password.chmod(0o600)
    (folder / "faktory.yaml").write_text(spec)
    return folder / "faktory.yaml"


def test_generate_makes_a_private_ca_and_a_certificate_for_every_name(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    prepared = tls.prepare(load_spec(spec))
    assert prepared is not None and len(prepared.done) == 2
    folder = tmp_path / "secrets" / "tls"
    assert folder.stat().st_mode & 0o777 == 0o700
    for key in ("ca.key.pem", "server.key.pem"):
        assert (folder / key).stat().st_mode & 0o777 == 0o600
    cert = openssl.read_cert((folder / "server.cert.pem").read_bytes())
    assert set(cert.dns_names) == {"faktory", "localhost", "jobs.example.com"}
    assert set(cert.ip_names) == {"127.0.0.1", "10.0.0.5"}
    assert 364 <= cert.days_left(datetime.now(UTC)) <= 365
    assert openssl.signed_by(folder / "server.cert.pem", folder / "ca.cert.pem") is None
    again = tls.prepare(load_spec(spec))
    assert again is not None and again.done == ()  # nothing to do the second time


def test_a_new_name_renews_the_certificate_but_keeps_the_ca(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    tls.prepare(load_spec(spec))
    ca_before = (tmp_path / "secrets/tls/ca.cert.pem").read_bytes()
    spec.write_text(SPEC.replace("[jobs.example.com]", "[jobs.example.com, 10.0.0.9]"))
    prepared = tls.prepare(load_spec(spec))
    assert prepared is not None
    assert "does not cover 10.0.0.9" in prepared.done[0]
    assert (tmp_path / "secrets/tls/ca.cert.pem").read_bytes() == ca_before


def test_a_missing_ca_key_is_never_replaced_silently(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    tls.prepare(load_spec(spec))
    (tmp_path / "secrets/tls/ca.key.pem").unlink()
    with pytest.raises(UsageError) as caught:
        tls.prepare(load_spec(spec))
    assert "the CA is incomplete" in caught.value.message
    assert "--new-ca" in (caught.value.hint or "")
    replaced = tls.prepare(load_spec(spec), new_ca=True)
    assert replaced is not None and "made a private CA" in replaced.done[0]


def test_the_tls_folder_is_never_a_link(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "secrets" / "tls")
    with pytest.raises(FaktctlError, match="symbolic link"):
        tls.prepare(load_spec(spec))
    assert list(elsewhere.iterdir()) == []


def test_files_mode_refuses_an_open_key(tmp_path: Path) -> None:
    spec = _project(tmp_path)
    tls.prepare(load_spec(spec))
    files = SPEC.replace(
        "{mode: generate, names: [jobs.example.com]}",
        "{mode: files, cert_file: secrets/tls/server.cert.pem,"
        " key_file: secrets/tls/server.key.pem, ca_file: secrets/tls/ca.cert.pem}",
    )
    spec.write_text(files)
    assert tls.prepare(load_spec(spec)) is not None
    (tmp_path / "secrets/tls/server.key.pem").chmod(0o644)
    with pytest.raises(UsageError, match="readable by others"):
        tls.prepare(load_spec(spec))


def test_render_mounts_the_pair_read_only_and_gives_workers_the_ca(tmp_path: Path) -> None:
    _project(tmp_path)
    run = run_faktctl("render", cwd=tmp_path)
    assert run.code == 0, run.output
    assert "tls: made a private CA" in run.stderr
    compose = yaml.safe_load((tmp_path / "compose.yaml").read_text())
    server = compose["services"]["faktory"]
    targets = {v["target"] if isinstance(v, dict) else v.split(":")[1] for v in server["volumes"]}
    assert {"/etc/faktory/public.cert.pem", "/etc/faktory/private.key.pem"} <= targets
    worker = compose["services"]["emails"]
    assert "SSL_CERT_FILE" in str(worker["environment"])
    assert "tcp+tls://" in (tmp_path / ".env").read_text()
    assert "ca.key" not in (tmp_path / "compose.yaml").read_text()
