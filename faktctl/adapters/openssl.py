"""Certificates through the `openssl` command: make a private CA and a server certificate,
read a certificate's subject, names and expiry, check a chain and a key.

Why the command and not a library: the wheelhouse has no X.509 library (`cryptography` is not
in it) and Python's `ssl` cannot make or parse certificates; `openssl` is on every Linux host
and in Debian's base packages. Every call is an argv list (never a shell), every input is a
path or a value passed as one argv word, and every call has a timeout. Keys are written by
openssl into a private (0700) temporary folder beside their destination and moved in place
through fsutil's atomic writer with mode 0600, so no key is ever readable by others.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from faktctl.errors import OperationFailed
from faktctl.fsutil import atomic_write

OPENSSL_TIMEOUT = 30.0
CURVE = "prime256v1"  # the CA's key: ECDSA P-256, verified by every client library
RSA_BITS = 2048  # the server's key: RSA, the widest client support


@dataclass(frozen=True)
class CertInfo:
    """What a certificate says about itself."""

    subject: str
    issuer: str
    not_after: datetime  # UTC
    dns_names: tuple[str, ...]
    ip_names: tuple[str, ...]
    is_ca: bool
    sha256: str  # fingerprint, hex, no colons

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.dns_names, *self.ip_names)

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


def _openssl(args: Sequence[str], feed: bytes | None = None) -> bytes:
    binary = shutil.which("openssl")
    if binary is None:
        raise OperationFailed(
            "the `openssl` command is not installed",
            "install it (Debian/Ubuntu: apt-get install openssl) or use server.tls.mode: files",
        )
    try:
        done = subprocess.run(
            [binary, *args],
            input=feed,
            capture_output=True,
            timeout=OPENSSL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OperationFailed(f"openssl {args[0]} did not finish in {OPENSSL_TIMEOUT:g}s") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise OperationFailed(f"openssl {args[0]} failed: {detail[-1] if detail else 'no output'}")
    return done.stdout


def _private_temp(near: Path) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=".faktctl-tls-", dir=near)  # mkdtemp: 0700


def _serial() -> str:
    return "0x" + secrets.token_hex(16)


def _move_in(made: Path, target: Path, mode: int) -> None:
    atomic_write(target, made.read_bytes(), mode=mode)


def make_ca(cert_path: Path, key_path: Path, common_name: str, days: int) -> None:
    """A new self-signed CA (EC P-256) that may sign server certificates only."""
    with _private_temp(key_path.parent) as temp:
        key, cert = Path(temp) / "key", Path(temp) / "cert"
        _openssl(["ecparam", "-name", CURVE, "-genkey", "-noout", "-out", str(key)])
        _openssl(
            [
                "req", "-x509", "-new", "-key", str(key), "-out", str(cert),
                "-days", str(days), "-subj", "/CN=" + _subject_value(common_name),
                "-set_serial", _serial(), "-sha256",
                "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ]
        )  # fmt: skip
        _move_in(key, key_path, 0o600)
        _move_in(cert, cert_path, 0o644)


def make_server_cert(
    cert_path: Path,
    key_path: Path,
    ca_cert: Path,
    ca_key: Path,
    common_name: str,
    names: Sequence[str],
    ips: Sequence[str],
    days: int,
) -> None:
    """A new server key (RSA) and a certificate for `names`/`ips`, signed by the CA."""
    alt = ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{i}" for i in ips)])
    with _private_temp(key_path.parent) as temp:
        key, csr, cert, ext = (Path(temp) / n for n in ("key", "csr", "cert", "ext"))
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            f"subjectAltName={alt}\n"
        )
        _openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{RSA_BITS}",
                  "-out", str(key)])  # fmt: skip
        _openssl(
            ["req", "-new", "-key", str(key), "-out", str(csr),
             "-subj", "/CN=" + _subject_value(common_name)]
        )  # fmt: skip
        _openssl(
            [
                "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                "-set_serial", _serial(), "-days", str(days), "-sha256",
                "-extfile", str(ext), "-out", str(cert),
            ]
        )  # fmt: skip
        _move_in(key, key_path, 0o600)
        _move_in(cert, cert_path, 0o644)


def _subject_value(value: str) -> str:
    # a name in -subj: `/`, `+` and `=` would start another attribute
    return "".join(c if c.isalnum() or c in "-._ " else "-" for c in value)[:64] or "faktctl"


def read_cert(pem_or_der: bytes, *, der: bool = False) -> CertInfo:
    """The certificate's subject, issuer, expiry, names and fingerprint (the first one of a
    PEM chain)."""
    out = _openssl(
        [
            "x509", "-noout", "-inform", "DER" if der else "PEM",
            "-subject", "-issuer", "-enddate", "-fingerprint", "-sha256",
            "-nameopt", "RFC2253", "-ext", "subjectAltName,basicConstraints",
        ],
        feed=pem_or_der,
    ).decode("utf-8", errors="replace")  # fmt: skip
    return _parse(out)


def _parse(text: str) -> CertInfo:
    fields: dict[str, str] = {}
    dns: list[str] = []
    ips: list[str] = []
    is_ca = False
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith(("subject=", "issuer=", "notAfter=")) or "Fingerprint=" in raw:
            key, _, value = raw.partition("=")
            fields["fingerprint" if "Fingerprint" in key else key] = value.strip()
        elif line.startswith("X509v3 Subject Alternative Name"):
            section = "san"
        elif line.startswith("X509v3 Basic Constraints"):
            section = "bc"
        elif section == "san" and line:
            for item in line.split(","):
                kind, _, value = item.strip().partition(":")
                (dns if kind == "DNS" else ips if kind == "IP Address" else []).append(value)
            section = ""
        elif section == "bc" and line:
            is_ca = "CA:TRUE" in line
            section = ""
    not_after = datetime.strptime(fields["notAfter"], "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
    return CertInfo(
        subject=fields.get("subject", ""),
        issuer=fields.get("issuer", ""),
        not_after=not_after,
        dns_names=tuple(dns),
        ip_names=tuple(ips),
        is_ca=is_ca,
        sha256=fields.get("fingerprint", "").replace(":", "").lower(),
    )


def signed_by(cert: Path, ca_cert: Path) -> str | None:
    """None when `cert` chains to `ca_cert` (and is valid now), else openssl's reason."""
    try:
        _openssl(["verify", "-CAfile", str(ca_cert), str(cert)])
    except OperationFailed as err:
        return str(err).removeprefix("openssl verify failed: ")
    return None


def public_key(path: Path, *, of_key: bool) -> bytes:
    """The public key (PEM) of a private key file or of a certificate."""
    if of_key:
        return _openssl(["pkey", "-in", str(path), "-pubout"])
    return _openssl(["x509", "-in", str(path), "-noout", "-pubkey"])
