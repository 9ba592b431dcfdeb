"""The server's TLS certificate as an audit fact: read from its file (spec input; the host file
a compose file or a Kubernetes secretGenerator mounts into the server) or from what a running
server shows (live input), through the openssl adapter."""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from faktctl.adapters import openssl, probe
from faktctl.audit.effective import TLS_FILES
from faktctl.audit.model import CertFacts, Location, MountFact, ServerFacts
from faktctl.audit.sources.secretfacts import display
from faktctl.errors import FaktctlError, UsageError

PENDING = "does not exist yet: `faktctl up` makes it"
ABSENT = "is not on this host (a git-ignored file is absent from a fresh checkout)"


def _info(facts: CertFacts, info: openssl.CertInfo) -> CertFacts:
    return replace(facts, subject=info.subject, names=info.names, not_after=info.not_after)


def from_files(
    shown: str,
    cert: Path,
    key: Path | None,
    ca: Path | None,
    wanted: tuple[str, ...],
    location: Location | None,
    *,
    inside: Path,
    absent: str = PENDING,
) -> CertFacts:
    """A certificate file, its key's mode and its chain to `ca` (when given). The certificate
    is read under the secret-file rules (faktctl.secretfiles.read_pem: a regular, small file,
    no link out of `inside`, the project folder); a missing one is not judged (`absent` says
    why: a spec's `generate` makes it, a checkout may lack a git-ignored file)."""
    from faktctl.secretfiles import read_pem

    facts = CertFacts(origin=shown, wanted=wanted, location=location)
    if key is not None:
        facts = replace(facts, key_path=str(key))
        with contextlib.suppress(OSError):
            facts = replace(facts, key_mode=stat.S_IMODE(os.stat(key).st_mode))
    if not cert.exists():
        return replace(facts, unknown=absent, pending=absent == PENDING)
    what = "TLS certificate"
    try:
        pem = read_pem(cert, what, "", inside=inside, private=False)
    except UsageError as err:
        text = err.one_line().removeprefix(f"{what} file {cert} ").removeprefix("cannot read ")
        return replace(facts, error=text)
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


def tls_names(urls: Iterable[str | None]) -> tuple[str, ...]:
    """The host names workers dial over tcp+tls:// (what the certificate must cover)."""
    names = []
    for value in urls:
        parts = urlsplit(value) if value else None
        if parts is not None and parts.scheme == "tcp+tls" and parts.hostname:
            names.append(parts.hostname)
    return tuple(dict.fromkeys(names))


def _host_file(mounts: Iterable[MountFact], path: str) -> tuple[MountFact, Path | None] | None:
    """The mount that provides container `path` (the deepest covering it) and the host file
    behind it (None when the mount is no host file or folder: a volume, an external secret)."""
    covering = [m for m in mounts if m.kind != "tmpfs" and m.covers(path)]
    mount = max(covering, key=lambda m: len(m.target), default=None)
    if mount is None:
        return None
    if mount.host_path is None:
        return mount, None
    if mount.target.rstrip("/") == path:
        return mount, Path(mount.host_path)
    return mount, Path(mount.host_path) / posixpath.relpath(path, mount.target)


def from_mounts(
    server: ServerFacts,
    folder: str | None,
    wanted: tuple[str, ...],
    inside: Path,
    source_label: str = "secret",
) -> CertFacts | None:
    """The certificate a server reads from its config `folder`, from the host file a mount
    provides there (a bind mount of the file or of its folder, a secret's `file:`, a
    secretGenerator's file), with the key beside it in the container and the CA beside the
    certificate on the host (`ca.cert.pem`, as faktctl and its renders lay them out). None
    when no mount provides the certificate."""
    if folder is None:
        return None
    found = _host_file(server.mounts, posixpath.join(folder, TLS_FILES[0]))
    if found is None:
        return None
    mount, cert = found
    if cert is None:
        source = f"{mount.kind} {mount.source}" if mount.source else f"a {mount.kind}"
        return CertFacts(
            origin=posixpath.join(folder, TLS_FILES[0]),
            wanted=wanted,
            unknown=f"comes from {source}, whose content is not on this host",
            location=mount.location,
        )
    key = _host_file(server.mounts, posixpath.join(folder, TLS_FILES[1]))
    ca = cert.parent / "ca.cert.pem"
    shown = display(cert)
    if mount.kind == "secret" and mount.source and mount.content_origin is None:
        shown = f"{source_label} {mount.source} ({shown})"
    return from_files(
        shown,
        cert,
        key[1] if key is not None else None,
        ca if ca.is_file() else None,
        wanted,
        mount.location,
        inside=inside,
        absent=ABSENT,
    )
