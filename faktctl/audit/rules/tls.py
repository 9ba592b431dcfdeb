"""TLS on 7419 and 7420: a job port reached beyond the host speaks TLS, and the certificate
served is current, covers the names workers use and chains to the CA they trust."""

from __future__ import annotations

import posixpath
import re
from datetime import timedelta
from urllib.parse import urlsplit

from faktctl.audit.model import CertFacts, InputKind, Location, MountFact
from faktctl.audit.registry import (
    Result,
    ServerCtx,
    WorkerCtx,
    failed,
    passed,
    server_rule,
    skipped,
    worker_rule,
)
from faktctl.audit.rules._support import (
    PROTOCOL_PORT,
    Reachable,
    beyond_loopback,
    reach_text,
    reachable,
    redact_url,
)
from faktctl.faktory.workers import (
    PYTHON_FAKTORY,
    lacks_wrap_socket,
    library_of,
    python_version,
)

EXPIRY_WARNING = timedelta(days=30)  # also when `up` renews a generated certificate
TLS_FIX = (
    "Set server.tls.mode: generate (faktctl makes a private CA and a server certificate, and "
    "gives workers tcp+tls:// and the CA), or mount public.cert.pem and private.key.pem into "
    "/etc/faktory (server.tls.mode: files); docs/workers-on-other-hosts.md."
)
# the inputs that read the certificate itself (its file, what the running server shows, the
# host file a compose or stack file mounts or a Kubernetes secretGenerator makes a Secret from)
CERT_INPUTS: frozenset[InputKind] = frozenset({"spec", "live", "kubernetes", "compose"})
_CA_KEY_NAME = re.compile(r"(^|[/._-])ca[._-]?(private[._-]?)?key", re.IGNORECASE)


def _beyond_host(ctx: ServerCtx) -> list[str]:
    """How the job port is reached from beyond this host: a published binding, a swarm's
    ingress/overlay publishing, a Kubernetes Service/Ingress beyond the cluster."""
    found: list[Reachable] = beyond_loopback(reachable(ctx, PROTOCOL_PORT))
    ways = [reach_text(found)] if found else []
    if ctx.server.kube is not None:
        ways += [
            r.how for r in ctx.server.kube.routes if r.port == PROTOCOL_PORT and r.beyond_cluster
        ]
    return ways


@server_rule(
    "FKD040",
    "dashboard-exposure",
    "warning",
    "The job port reached beyond this host speaks TLS",
    TLS_FIX,
)
def protocol_port_tls(ctx: ServerCtx) -> Result:
    """The job port (7419) published beyond loopback (a private or public address, every
    interface, a swarm port, a Kubernetes LoadBalancer/NodePort/Ingress), against whether the
    server has both TLS files in the folder it reads (`public.cert.pem` and `private.key.pem`
    in /etc/faktory in production; Faktory 1.9+ then serves TLS 1.2+ on 7419 and 7420).

    Without TLS every job payload and the password hash exchange cross the network in clear,
    and the dashboard's basic-auth password too. A warning, so `audit --strict` fails on it."""
    where = ctx.server.loc("ports", "tls", "volumes")
    ways = _beyond_host(ctx)
    if not ways:
        return passed("port 7419 is not reached from beyond this host", where)
    shown = "; ".join(ways)
    if ctx.eff.tls is True:
        return passed(f"7419 is reached as {shown} and the server serves TLS", where)
    if ctx.eff.tls is None:
        return skipped(f"7419 is reached as {shown}; whether TLS is on is not known here")
    return failed(
        f"7419 is reached as {shown} without TLS: jobs and passwords cross the network in clear",
        where,
    )


def _cert(ctx: ServerCtx) -> CertFacts | None:
    return ctx.server.tls_cert


@server_rule(
    "FKD041",
    "dashboard-exposure",
    "error",
    "The TLS certificate is current, covers the workers' names and chains to the CA",
    "Renew it (`faktctl tls rotate`, or `faktctl up`, which renews a generated certificate "
    "30 days before it expires); for server.tls.mode: files issue one for every name in "
    "server.tls.names and the published addresses, signed by ca_file.",
    inputs=CERT_INPUTS,
    needs="host",  # the certificate files are git-ignored: a checkout in CI has none
)
def certificate_fit(ctx: ServerCtx) -> Result:
    """The certificate the server serves (its file for a spec, what a running server showed
    for `--live`, the host file a compose or stack file mounts into the server's config folder
    (a bind mount, a secret's `file:`) or the secretGenerator's file for Kubernetes
    manifests): not expired, not expiring within 30 days, its subjectAltName covering every
    name and address workers use (the service name, published addresses, extra names; for
    compose files and manifests the hosts their workers dial over tcp+tls://), and chaining
    to the CA workers are given (`ca.cert.pem` beside the certificate). A file this input
    cannot read (absent from a checkout, an external secret) is skipped, not judged.

    An expired certificate or a name it does not cover makes every verifying worker refuse
    to connect; one expiring soon will do so on its own."""
    cert = _cert(ctx)
    if cert is None:
        return skipped("no TLS certificate is known for this input")
    where = cert.location or ctx.server.loc("tls")
    if cert.unknown is not None:
        return skipped(f"{cert.origin} {cert.unknown}", where)
    if cert.pending:
        return skipped(f"{cert.origin} does not exist yet: `faktctl up` makes it", where)
    if cert.error is not None:
        return failed(f"{cert.origin}: {cert.error}", where)
    problems = []
    if cert.not_after is not None:
        left = cert.not_after - ctx.facts.now
        if left <= timedelta(0):
            problems.append(f"expired on {cert.not_after:%Y-%m-%d}")
        elif left < EXPIRY_WARNING:
            problems.append(f"expires on {cert.not_after:%Y-%m-%d} ({left.days} days left)")
    missing = [n for n in cert.wanted if not _covers(cert.names, n)]
    if missing:
        problems.append(f"does not cover {', '.join(missing)}")
    if cert.chain_checked and cert.chain is not None:
        problems.append(f"does not chain to the CA: {cert.chain}")
    if problems:
        return failed(f"{cert.origin} {'; '.join(problems)}", where)
    until = f"valid until {cert.not_after:%Y-%m-%d}" if cert.not_after else "valid"
    chain = "chains to the CA" if cert.chain_checked else (cert.chain or "chain not checked")
    return passed(f"{cert.origin}: {cert.subject}, {until}, {chain}", where)


def _covers(names: tuple[str, ...], wanted: str) -> bool:
    lowered = wanted.lower()
    for name in names:
        pattern = name.lower()
        if pattern == lowered:
            return True
        tail = lowered.split(".", 1)[1] if "." in lowered else None
        if pattern.startswith("*.") and tail == pattern[2:]:
            return True
    return False


@server_rule(
    "FKH040",
    "hygiene",
    "error",
    "The TLS private key is closed to others, and no CA key reaches the server",
    "chmod 600 the key (and 700 its folder); mount only public.cert.pem and private.key.pem "
    "into the server: the CA key stays on the machine that signs certificates.",
)
def tls_keys(ctx: ServerCtx) -> Result:
    """The server's private key file (mode 0600 or stricter) and every file mounted into the
    server that looks like a CA's private key (a name such as `ca.key`/`ca-key.pem`).

    A key readable by others lets any local user impersonate the server; a CA key inside the
    server lets whoever controls the server mint certificates every worker trusts."""
    cert = _cert(ctx)
    problems: list[tuple[str, Location | None]] = []
    if cert is not None and cert.key_mode is not None and cert.key_mode & 0o077:
        problems.append((f"the key {cert.key_path} has mode {cert.key_mode:04o}", cert.location))
    for mount in ctx.server.mounts:
        if _ca_key(mount):
            problems.append(
                (f"a CA key is mounted into the server ({mount.source} at {mount.target})",
                 mount.location),
            )  # fmt: skip
    if problems:
        return [failed(text, where) for text, where in problems]
    if cert is None and not any(_tls_mount(m) for m in ctx.server.mounts):
        return skipped("no TLS files are mounted")
    return passed("the key is private and no CA key is mounted into the server")


def _ca_key(mount: MountFact) -> bool:
    names = [mount.target, mount.source or "", mount.host_path or ""]
    return any(_CA_KEY_NAME.search(posixpath.basename(n)) for n in names if n)


def _tls_mount(mount: MountFact) -> bool:
    return mount.target.endswith(".pem")


@worker_rule(
    "FKD042",
    "dashboard-exposure",
    "error",
    "The worker's URL scheme matches the server: tcp+tls:// to TLS, tcp:// to plain",
    "With TLS on give workers FAKTORY_URL=tcp+tls://...; without it, tcp://. faktctl sets it "
    "for the workers in its spec. Python's `faktory` 1.0 cannot verify TLS (and fails on "
    "Python 3.12+): docs/workers-on-other-hosts.md lists libraries that do.",
)
def worker_url_scheme(ctx: WorkerCtx) -> Result:
    """Each worker's `FAKTORY_URL` scheme (`tcp://` or `tcp+tls://`) against whether the
    server it talks to serves TLS (both files in its config folder).

    A `tcp://` worker cannot talk to a TLS server (the server waits for a TLS hello, the
    client for `+HI`: it hangs until its timeout), and a `tcp+tls://` worker cannot talk to a
    plain one: either way no job runs."""
    url = ctx.worker.url
    where = url.location if url and url.location else ctx.worker.location
    if url is None or url.value is None:
        return skipped("the worker's URL is not known here", where)
    scheme = urlsplit(url.value).scheme
    states = {s.eff.tls for s in ctx.servers}
    if not ctx.servers or None in states or len(states) != 1:
        return skipped("whether the server serves TLS is not known here", where)
    tls = states.pop()
    shown = redact_url(url.value)
    if tls and scheme != "tcp+tls":
        return failed(f"the server serves TLS but the worker dials {shown}", where)
    if not tls and scheme == "tcp+tls":
        return failed(f"the server serves plain TCP but the worker dials {shown}", where)
    return passed(f"{shown} matches the server ({'TLS' if tls else 'plain TCP'})", where)


@worker_rule(
    "FKD043",
    "dashboard-exposure",
    "warning",
    "A Python worker dialling tcp+tls:// runs where its client can speak TLS",
    "Python's `faktory` 1.0 cannot open tcp+tls:// on Python 3.12 or newer (and verifies "
    "nothing below it): use a Python client that supports TLS on your Python, or pin the "
    "worker's image below 3.12 knowing the server is not verified; "
    "docs/workers-on-other-hosts.md lists the libraries.",
)
def python_tls_runtime(ctx: WorkerCtx) -> Result:
    """A worker whose `FAKTORY_URL` is `tcp+tls://`, against the Python its image runs (the
    image's name and tag, `python:3.12-slim`, or the base of its `build:` Dockerfile) and the
    library its image or command names.

    Python's `faktory` 1.0 wraps its socket with `ssl.wrap_socket`, which Python 3.12 removed:
    on 3.12+ every connection fails with an AttributeError, so no job runs; below 3.12 it
    encrypts without checking the server's certificate. A warning: the image shows the
    Python, not always the library (another client may be in use), so `--strict` fails on it."""
    worker = ctx.worker
    url = worker.url
    where = url.location if url and url.location else worker.location
    if url is None or url.value is None:
        return skipped("the worker's URL is not known here", where)
    if urlsplit(url.value).scheme != "tcp+tls":
        return passed("the worker does not dial tcp+tls://", where)
    runtime = worker.build_base or worker.image
    version = python_version(worker.build_base) or python_version(worker.image)
    if version is None:
        return passed(f"{runtime or 'its image'} shows no Python runtime", where)
    library = library_of(worker.image, worker.argv)
    if library is not None and library.name != PYTHON_FAKTORY:
        return passed(f"it runs {library.name}, which is not Python's `faktory`", where)
    major, minor = version
    shown = f"{runtime} (Python {major}.{minor if minor is not None else 'x, the newest'})"
    if lacks_wrap_socket(version):
        return failed(
            f"it runs on {shown} and dials tcp+tls://: with Python's `faktory` 1.0 (which "
            "calls ssl.wrap_socket, removed in Python 3.12) it cannot connect at all",
            where,
        )
    return passed(
        f"it runs on {shown}, which still has ssl.wrap_socket (Python's `faktory` 1.0 then "
        "encrypts without verifying the server)",
        where,
    )
