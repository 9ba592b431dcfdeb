"""server.tls in the spec and in the desired state: mounts, URLs, names (issue 26)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faktctl.adapters.openssl import CertInfo, _parse
from faktctl.desired import Secrets, build_desired
from faktctl.errors import SpecError
from faktctl.live.tls import covers
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import parse_spec

BASE = """\
project: shop
server:
  ports: {protocol: "10.0.0.5:7419"}
  tls: %s
workers:
  - name: emails
    image: emails:1
"""


def _desired(tls: str, digest: str = ""):  # type: ignore[no-untyped-def]
    loaded = parse_spec(BASE % tls, Path("/srv/shop/faktory.yaml"))
    return build_desired(loaded, Secrets(SecretStr("pw-one-two-three"), None, digest, digest))


def test_off_is_the_default_and_changes_nothing() -> None:
    off = _desired("{mode: 'off'}")
    assert off.tls is None
    assert (
        dict(off.service("emails").env)["FAKTORY_URL"].value.get_secret_value().startswith("tcp://")
    )
    assert all(not m.target.endswith(".pem") for m in off.server.mounts)


def test_generate_mounts_the_pair_into_the_config_folder_and_gives_workers_the_ca() -> None:
    desired = _desired("{mode: generate, names: [jobs.example.com, 192.168.7.7]}")
    assert desired.tls is not None
    mounts = {m.target: m for m in desired.server.mounts}
    cert = mounts["/etc/faktory/public.cert.pem"]
    key = mounts["/etc/faktory/private.key.pem"]
    assert cert.source == "/srv/shop/secrets/tls/server.cert.pem" and cert.read_only
    assert key.source == "/srv/shop/secrets/tls/server.key.pem" and key.read_only
    assert not any("ca.key" in m.source for s in desired.services for m in s.mounts)
    worker = desired.service("emails")
    url = dict(worker.env)["FAKTORY_URL"].value.get_secret_value()
    assert url.startswith("tcp+tls://:") and url.endswith("@faktory:7419")
    assert dict(worker.env)["SSL_CERT_FILE"] == "/etc/faktctl/ca.cert.pem"
    assert [m.source for m in worker.mounts] == ["/srv/shop/secrets/tls/ca.cert.pem"]
    assert desired.tls.names == (
        "faktory", "localhost", "127.0.0.1", "10.0.0.5", "jobs.example.com", "192.168.7.7"
    )  # fmt: skip
    assert desired.server.healthcheck is not None
    assert desired.server.healthcheck.test == ("CMD", "nc", "-w", "3", "127.0.0.1", "7419")


def test_new_files_change_the_config_hash() -> None:
    before = _desired("{mode: generate}", "aaaa")
    after = _desired("{mode: generate}", "bbbb")
    assert before.server.config_hash() != after.server.config_hash()
    assert before.service("emails").config_hash() != after.service("emails").config_hash()


def test_files_mode_uses_the_operators_files() -> None:
    desired = _desired("{mode: files, cert_file: tls/c.pem, key_file: tls/k.pem}")
    assert desired.tls is not None and desired.tls.ca is None
    assert "SSL_CERT_FILE" not in dict(desired.service("emails").env)


@pytest.mark.parametrize(
    ("tls", "says"),
    [
        ("{mode: files, cert_file: c.pem}", "mode files needs key_file"),
        ("{mode: generate, cert_file: c.pem}", "cert_file is only read with mode: files"),
        ("{mode: generate, names: ['bad name']}", "neither a DNS name nor an IP"),
        ("{mode: tls}", "mode"),
    ],
)
def test_the_spec_refuses_inconsistent_tls(tls: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        _desired(tls)
    assert says in str(caught.value.problems)


OPENSSL_TEXT = """\
subject=CN=faktory
issuer=CN=faktctl CA shop
notAfter=Dec  6 20:30:21 2027 GMT
sha256 Fingerprint=C3:46:79
X509v3 Subject Alternative Name: \n    DNS:faktory, DNS:*.example.com, IP Address:127.0.0.1
X509v3 Basic Constraints: critical
    CA:FALSE
"""


def test_openssl_output_is_read_into_names_and_expiry() -> None:
    info = _parse(OPENSSL_TEXT)
    assert info.subject == "CN=faktory" and info.issuer == "CN=faktctl CA shop"
    assert info.not_after == datetime(2027, 12, 6, 20, 30, 21, tzinfo=UTC)
    assert info.dns_names == ("faktory", "*.example.com") and info.ip_names == ("127.0.0.1",)
    assert not info.is_ca and info.sha256 == "c34679"


def test_names_are_covered_exactly_or_by_a_one_label_wildcard() -> None:
    info = _parse(OPENSSL_TEXT)
    assert covers(info, "faktory") and covers(info, "jobs.example.com")
    assert not covers(info, "a.b.example.com") and not covers(info, "example.com")
    assert covers(info, "127.0.0.1") and not covers(info, "10.0.0.5")
    assert isinstance(replace(info, ip_names=()), CertInfo)
