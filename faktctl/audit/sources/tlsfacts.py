"""The server's TLS certificate as an audit fact: read from its file (spec input) or from
what a running server shows (live input), through the openssl adapter."""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import replace
from pathlib import Path

from faktctl.adapters import openssl, probe
from faktctl.audit.model import CertFacts, Location
from faktctl.errors import FaktctlError


def _info(facts: CertFacts, info: openssl.CertInfo) -> CertFacts:
    return replace(facts, subject=info.subject, names=info.names, not_after=info.not_after)


def from_files(
    shown: str,
    cert: Path,
    key: Path | None,
    ca: Path | None,
    wanted: tuple[str, ...],
    location: Location | None,
) -> CertFacts:
    """A certificate file, its key's mode and its chain to `ca` (when given)."""
    facts = CertFacts(origin=shown, wanted=wanted, location=location)
    if key is not None:
        facts = replace(facts, key_path=str(key))
        with contextlib.suppress(OSError):
            facts = replace(facts, key_mode=stat.S_IMODE(os.stat(key).st_mode))
    try:
        pem = cert.read_bytes()[: 64 * 1024]
    except FileNotFoundError:
        return replace(facts, error="does not exist yet", pending=True)
    except OSError as err:
        return replace(facts, error=f"cannot be read: {err.strerror or err}")
    try:
        facts = _info(facts, openssl.read_cert(pem))
        if ca is not None and ca.exists():
            facts = replace(facts, chain=openssl.signed_by(cert, ca), chain_checked=True)
        else:
            facts = replace(facts, chain="not checked: no CA file")
    except FaktctlError as err:
        return replace(facts, error=err.one_line())
    return facts


def from_server(
    host: str, port: int, tls: probe.Tls, shown: str, wanted: tuple[str, ...]
) -> tuple[CertFacts | None, str | None]:
    """(the certificate the server shows, the TLS version) — verified against `tls`'s CA
    when it names one; a failed verification is the fact, read again without trust."""
    facts = CertFacts(origin=shown, wanted=wanted)
    checked = tls.ca_file is not None
    try:
        seen = probe.tls_handshake(host, port, tls if checked else replace(tls, verify=False))
        chain = None if checked else "not checked: no CA known for this server"
    except probe.ProbeError as err:
        if not checked:
            return None, None
        try:
            seen = probe.tls_handshake(host, port, replace(tls, verify=False))
        except probe.ProbeError:
            return None, None
        chain = str(err).split("TLS: ", 1)[-1]
    try:
        info = openssl.read_cert(seen.certificate, der=True)
    except FaktctlError as err:
        return replace(facts, error=err.one_line()), seen.version
    facts = replace(_info(facts, info), chain=chain, chain_checked=checked)
    return facts, seen.version
