"""The TLS files a deployment serves with: made, renewed and checked before `up` starts it.

`generate` keeps a private CA and a server certificate under secrets/tls/ (a 0700 folder,
never a link; keys 0600). The CA lives CA_DAYS and is never replaced on its own: a missing
half, or a CA close to its end, stops `up` with the command that replaces it on purpose
(`faktctl tls rotate --new-ca`), because every worker on another host must then get the new
CA. The server certificate lives SERVER_DAYS and is issued again when it is missing, expires
within RENEW_DAYS, does not cover the names workers use, or was not signed by the current CA.
`files` mounts the operator's files after the same checks a secret file gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from faktctl.adapters import openssl
from faktctl.desired import TlsSetup, tls_setup
from faktctl.errors import UsageError
from faktctl.fsutil import ensure_private_dir
from faktctl.secretfiles import read_pem
from faktctl.spec.load import LoadedSpec
from faktctl.spec.tls import is_ip

CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_DAYS = 30  # also the audit's "expires soon" threshold


@dataclass(frozen=True)
class Prepared:
    setup: TlsSetup
    done: tuple[str, ...]  # what was made or renewed, for the user


def prepare(loaded: LoadedSpec, *, renew: bool = False, new_ca: bool = False) -> Prepared | None:
    """Make sure the TLS files exist and are fit to serve; None when TLS is off.

    `renew` issues a new server certificate whatever the old one's state; `new_ca` replaces
    the CA (and so the server certificate): the only way faktctl ever replaces a CA.
    """
    setup = tls_setup(loaded)
    if setup is None:
        return None
    if setup.mode == "files":
        check_files(loaded, setup)
        return Prepared(setup, ())
    return Prepared(setup, _generate(loaded, setup, renew=renew, new_ca=new_ca))


def check_files(loaded: LoadedSpec, setup: TlsSetup) -> None:
    """The operator's files: readable under the secret-file rules, the key 0600 and matching
    the certificate, the certificate chained to the CA when one is given."""
    field = "server.tls"
    read_pem(Path(setup.cert), "TLS certificate", f"{field}.cert_file", inside=loaded.base_dir,
             private=False)  # fmt: skip
    read_pem(Path(setup.key), "TLS key", f"{field}.key_file", inside=loaded.base_dir,
             private=True)  # fmt: skip
    if openssl.public_key(Path(setup.key), of_key=True) != openssl.public_key(
        Path(setup.cert), of_key=False
    ):
        raise UsageError(
            f"TLS key file {setup.key} does not belong to the certificate {setup.cert}",
            "give the key the certificate was issued for",
        )
    if setup.ca is not None:
        read_pem(Path(setup.ca), "TLS CA", f"{field}.ca_file", inside=loaded.base_dir,
                 private=False)  # fmt: skip
        problem = openssl.signed_by(Path(setup.cert), Path(setup.ca))
        if problem is not None:
            raise UsageError(
                f"TLS certificate {setup.cert} does not chain to the CA {setup.ca}: {problem}",
                "give the CA that issued it, or its chain",
            )


def _generate(loaded: LoadedSpec, setup: TlsSetup, *, renew: bool, new_ca: bool) -> tuple[str, ...]:
    assert setup.ca is not None and setup.ca_key is not None
    folder = Path(setup.cert).parent
    ensure_private_dir(folder)  # a real folder of this user, 0700 (never a link)
    ca, ca_key = Path(setup.ca), Path(setup.ca_key)
    cert, key = Path(setup.cert), Path(setup.key)
    done: list[str] = []
    now = datetime.now(UTC)
    if new_ca or not (ca.exists() or ca_key.exists()):
        openssl.make_ca(ca, ca_key, f"faktctl CA {loaded.spec.project}", CA_DAYS)
        done.append(f"made a private CA in {ca} (valid {CA_DAYS} days)")
        reason: str | None = "a new CA"
    else:
        _check_ca(loaded, ca, ca_key, now)
        reason = "renewed on request" if renew else _renewal_reason(loaded, setup, now)
    if reason is not None:
        names = [n for n in setup.names if not is_ip(n)]
        ips = [n for n in setup.names if is_ip(n)]
        openssl.make_server_cert(cert, key, ca, ca_key, setup.server_name, names, ips, SERVER_DAYS)
        done.append(
            f"issued the server certificate {cert} ({reason}; valid {SERVER_DAYS} days, "
            f"renewed by `up` {RENEW_DAYS} days before it expires)"
        )
    return tuple(done)


def _check_ca(loaded: LoadedSpec, ca: Path, ca_key: Path, now: datetime) -> None:
    rotate = "`faktctl tls rotate --new-ca` makes a new one (workers elsewhere need it too)"
    for path in (ca, ca_key):
        if not path.exists():
            raise UsageError(f"the CA is incomplete: {path} is missing", rotate)
    read_pem(ca_key, "TLS CA key", "server.tls", inside=loaded.base_dir, private=True)
    info = openssl.read_cert(read_pem(ca, "TLS CA", "server.tls", inside=loaded.base_dir,
                                      private=False))  # fmt: skip
    if info.days_left(now) < RENEW_DAYS:
        raise UsageError(
            f"the project CA {ca} expires on {info.not_after:%Y-%m-%d}; faktctl never "
            "replaces a CA on its own",
            rotate,
        )


def _renewal_reason(loaded: LoadedSpec, setup: TlsSetup, now: datetime) -> str | None:
    cert, key = Path(setup.cert), Path(setup.key)
    if not cert.exists() or not key.exists():
        return "none yet"
    try:
        pem = read_pem(cert, "TLS certificate", "server.tls", inside=loaded.base_dir,
                       private=False)  # fmt: skip
        read_pem(key, "TLS key", "server.tls", inside=loaded.base_dir, private=True)
    except UsageError as err:
        return f"the old one is unusable: {err.message}"
    info = openssl.read_cert(pem)
    if info.days_left(now) < RENEW_DAYS:
        return f"the old one expires on {info.not_after:%Y-%m-%d}"
    missing = [n for n in setup.names if not covers(info, n)]
    if missing:
        return f"the old one does not cover {', '.join(missing)}"
    assert setup.ca is not None
    if openssl.signed_by(cert, Path(setup.ca)) is not None:
        return "the old one was not signed by the current CA"
    if openssl.public_key(key, of_key=True) != openssl.public_key(cert, of_key=False):
        return "the old key does not match it"
    return None


def covers(info: openssl.CertInfo, name: str) -> bool:
    """Does the certificate's subjectAltName cover `name` (an IP, or a DNS name, wildcards
    one label deep)?"""
    if is_ip(name):
        return name in info.ip_names
    lowered = name.lower()
    for dns in info.dns_names:
        pattern = dns.lower()
        if pattern == lowered:
            return True
        wildcard = pattern.startswith("*.") and "." in lowered
        if wildcard and lowered.split(".", 1)[1] == pattern[2:]:
            return True
    return False
