"""Talk to a running Faktory server: the 7419 wire protocol and the 7420 HTTP endpoints.

The protocol side uses only the standard library (and pydantic's SecretStr for the password,
unwrapped here only, where it is hashed for HELLO or sent as HTTP Basic auth). Every socket
operation runs under a deadline, so no call can block for longer than the timeout it was
given. This is the only faktctl module that imports httpx; it does so inside the HTTP helpers
so that importing the probe stays cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import ssl
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from faktctl.secretvalue import SecretStr

if TYPE_CHECKING:
    import httpx

# the server password as faktctl passes it around (SecretStr), or as a test or a container's
# environment gives it; it becomes plain text only for the HELLO hash and HTTP Basic auth
Password = str | SecretStr

DEFAULT_PORT = 7419
DEFAULT_WEB_PORT = 7420
PROTOCOL_VERSION = 2

_MAX_LINE = 64 * 1024
_MAX_BULK = 64 * 1024 * 1024
_CRLF = b"\r\n"


@dataclass(frozen=True)
class Tls:
    """How to speak TLS to a server (spec: server.tls): trust `ca_file` (None: the system's
    roots) and verify the certificate for `server_name`, whatever address is dialled (the
    service name is always in a faktctl certificate; a container's network address is not)."""

    ca_file: str | None
    server_name: str
    verify: bool = True  # False: read what the server shows without trusting it (the audit)

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True)
class TlsSeen:
    """What a TLS handshake showed: the protocol version and the server's certificate."""

    version: str
    certificate: bytes  # DER


class ProbeError(Exception):
    """The server could not be reached or answered something the probe cannot accept."""


class ServerError(ProbeError):
    """The server answered a command with a RESP error line (``-ERR ...``)."""

    def __init__(self, endpoint: str, text: str) -> None:
        super().__init__(f"{endpoint}: server error: {text}")
        self.text = text


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def pwdhash(password: str, salt: str, iterations: int) -> str:
    """Hash the password the way Faktory expects in HELLO: iterated SHA-256 over raw digests."""
    digest = hashlib.sha256((password + salt).encode("utf-8")).digest()
    for _ in range(max(iterations, 1) - 1):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


@dataclass(frozen=True)
class HandshakeResult:
    """What the HI/HELLO exchange revealed about a server."""

    host: str
    port: int
    greeting: dict[str, Any]
    password_required: bool
    iterations: int | None
    accepted: bool
    error: str | None = None


class _Wire:
    """A socket with a read buffer; every read is bounded by a deadline."""

    def __init__(self, sock: socket.socket, endpoint: str, timeout: float) -> None:
        self._sock = sock
        self._buffer = b""
        self.endpoint = endpoint
        self.timeout = timeout

    def send_line(self, line: str) -> None:
        self.send_lines([line])

    def send_lines(self, lines: list[str]) -> None:
        """Several command lines in one write (their replies come back in order)."""
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(b"".join(line.encode("utf-8") + _CRLF for line in lines))
        except OSError as exc:
            raise ProbeError(f"{self.endpoint}: send failed: {_describe(exc)}") from exc

    def read_line(self, deadline: float) -> bytes:
        while _CRLF not in self._buffer:
            if len(self._buffer) > _MAX_LINE:
                raise ProbeError(f"{self.endpoint}: reply line longer than {_MAX_LINE} bytes")
            self._fill(deadline)
        line, self._buffer = self._buffer.split(_CRLF, 1)
        return line

    def read_exact(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeError(f"{self.endpoint}: timed out waiting for a reply")
        try:
            self._sock.settimeout(remaining)
            chunk = self._sock.recv(65536)
        except TimeoutError as exc:
            raise ProbeError(f"{self.endpoint}: timed out waiting for a reply") from exc
        except OSError as exc:
            raise ProbeError(f"{self.endpoint}: read failed: {_describe(exc)}") from exc
        if not chunk:
            raise ProbeError(f"{self.endpoint}: connection closed by the server")
        self._buffer += chunk

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _connect(host: str, port: int, timeout: float, tls: Tls | None = None) -> _Wire:
    """A connection, over TLS when `tls` is given (the certificate verified against its CA
    for its server name; a failed verification is a ProbeError naming the reason)."""
    endpoint = _endpoint(host, port)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as exc:
        raise ProbeError(f"{endpoint}: connection timed out after {timeout:g}s") from exc
    except OSError as exc:
        raise ProbeError(f"{endpoint}: cannot connect: {_describe(exc)}") from exc
    if tls is not None:
        sock = _wrap(sock, endpoint, tls)
    return _Wire(sock, endpoint, timeout)


def _wrap(sock: socket.socket, endpoint: str, tls: Tls) -> socket.socket:
    try:
        return tls.context().wrap_socket(sock, server_hostname=tls.server_name)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise ProbeError(f"{endpoint}: TLS: {exc.verify_message or exc}") from exc
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        if isinstance(exc, TimeoutError):
            raise ProbeError(f"{endpoint}: TLS handshake timed out (is TLS on?)") from exc
        raise ProbeError(f"{endpoint}: TLS handshake failed: {_describe(exc)}") from exc


def tls_handshake(host: str, port: int, tls: Tls, timeout: float = 5.0) -> TlsSeen:
    """Handshake only: the negotiated version and the server's certificate (verified)."""
    wire = _connect(host, port, timeout, tls)
    try:
        sock = wire._sock
        assert isinstance(sock, ssl.SSLSocket)
        der = sock.getpeercert(binary_form=True)
        return TlsSeen(version=sock.version() or "", certificate=der or b"")
    finally:
        wire.close()


def _read_reply(wire: _Wire) -> str | None:
    """Read one RESP reply: simple string, integer or bulk string (``None`` for nil)."""
    deadline = time.monotonic() + wire.timeout
    line = wire.read_line(deadline)
    kind, body = line[:1], line[1:].decode("utf-8", errors="replace")
    if kind in (b"+", b":"):
        return body
    if kind == b"-":
        raise ServerError(wire.endpoint, body)
    if kind == b"$":
        return _read_bulk(wire, body, deadline)
    raise ProbeError(f"{wire.endpoint}: unexpected reply {line[:80]!r}")


def _read_bulk(wire: _Wire, header: str, deadline: float) -> str | None:
    try:
        size = int(header)
    except ValueError as exc:
        raise ProbeError(f"{wire.endpoint}: bad bulk length {header!r}") from exc
    if size < 0:
        return None
    if size > _MAX_BULK:
        raise ProbeError(f"{wire.endpoint}: bulk reply of {size} bytes is too large")
    data = wire.read_exact(size + 2, deadline)
    if not data.endswith(_CRLF):
        raise ProbeError(f"{wire.endpoint}: bulk reply not terminated by CRLF")
    return data[:-2].decode("utf-8", errors="replace")


def _read_greeting(wire: _Wire) -> dict[str, Any]:
    reply = _read_reply(wire)
    if reply is None or not reply.startswith("HI "):
        raise ProbeError(f"{wire.endpoint}: expected a +HI greeting, got {reply!r}")
    try:
        greeting = json.loads(reply[3:])
    except json.JSONDecodeError as exc:
        raise ProbeError(f"{wire.endpoint}: greeting is not JSON: {reply!r}") from exc
    if not isinstance(greeting, dict):
        raise ProbeError(f"{wire.endpoint}: greeting is not a JSON object: {reply!r}")
    return greeting


def _plain(password: Password) -> str:
    return password.get_secret_value() if isinstance(password, SecretStr) else password


def _hello_payload(
    greeting: dict[str, Any], password: Password | None, worker: dict[str, Any] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"v": PROTOCOL_VERSION, **(worker or {})}
    salt = greeting.get("s")
    if salt is not None and password is not None:
        iterations = int(greeting.get("i", 1))
        payload["pwdhash"] = pwdhash(_plain(password), str(salt), iterations)
    return payload


def _iterations(greeting: dict[str, Any]) -> int | None:
    value = greeting.get("i")
    return int(value) if value is not None else None


def _exchange_hello(
    wire: _Wire,
    host: str,
    port: int,
    password: Password | None,
    worker: dict[str, Any] | None = None,
) -> HandshakeResult:
    greeting = _read_greeting(wire)
    wire.send_line("HELLO " + json.dumps(_hello_payload(greeting, password, worker)))
    accepted, error = True, None
    try:
        reply = _read_reply(wire)
    except ServerError as exc:
        accepted, error = False, exc.text.removeprefix("ERR ").strip()
    else:
        if reply != "OK":
            accepted, error = False, f"unexpected HELLO reply {reply!r}"
    return HandshakeResult(
        host=host,
        port=port,
        greeting=greeting,
        password_required="s" in greeting,
        iterations=_iterations(greeting),
        accepted=accepted,
        error=error,
    )


def handshake(
    host: str,
    port: int = DEFAULT_PORT,
    password: Password | None = None,
    timeout: float = 5.0,
    tls: Tls | None = None,
) -> HandshakeResult:
    """Connect, read +HI, send HELLO as a producer (no ``wid``) and report the outcome.

    A refused password is a result (``accepted=False``), not an exception; an unreachable or
    misbehaving server raises :class:`ProbeError`.
    """
    wire = _connect(host, port, timeout, tls)
    try:
        result = _exchange_hello(wire, host, port, password)
        if result.accepted:
            _send_end(wire)
        return result
    finally:
        wire.close()


def _send_end(wire: _Wire) -> None:
    with contextlib.suppress(ProbeError):
        wire.send_line("END")


class FaktoryConnection:
    """A producer connection to Faktory, authenticated on construction.

    Use it as a context manager; leaving the block sends ``END`` and closes the socket.
    ``worker`` (wid, hostname, pid, labels) makes it a worker process the server lists.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        password: Password | None = None,
        timeout: float = 5.0,
        tls: Tls | None = None,
        worker: dict[str, Any] | None = None,
    ) -> None:
        self._wire: _Wire | None = _connect(host, port, timeout, tls)
        try:
            self.handshake = _exchange_hello(self._wire, host, port, password, worker)
        except BaseException:
            self._wire.close()
            raise
        if not self.handshake.accepted:
            self._wire.close()
            raise ProbeError(f"{_endpoint(host, port)}: HELLO refused: {self.handshake.error}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _require_wire(self) -> _Wire:
        if self._wire is None:
            raise ProbeError("connection is closed")
        return self._wire

    def command(self, verb: str, payload: str | None = None) -> str | None:
        """Send one command line and return its reply; ``-ERR`` raises :class:`ServerError`."""
        wire = self._require_wire()
        wire.send_line(verb if payload is None else f"{verb} {payload}")
        return _read_reply(wire)

    def info(self) -> dict[str, Any]:
        """The server's INFO document (queues, sets, totals, server version)."""
        reply = self.command("INFO")
        return _json_object(reply, self._require_wire().endpoint, "INFO")

    def queue_latency(self, queues: list[str]) -> dict[str, float]:
        """``QUEUE LATENCY q1 q2 ...`` (Faktory 1.9.2+): seconds since the oldest job of each
        queue was enqueued (0 for an empty queue). An older server answers ``-ERR``
        (:class:`ServerError`)."""
        if not queues:
            return {}
        wire = self._require_wire()
        return _latencies(
            _json_object(
                self.command("QUEUE", "LATENCY " + " ".join(queues)), wire.endpoint, "QUEUE LATENCY"
            )
        )

    def info_and_queue_latency(self, queues: list[str]) -> tuple[dict[str, Any], dict[str, float]]:
        """INFO and ``QUEUE LATENCY q1 q2 ...`` written together: one round trip. Both replies
        are read before an ``-ERR`` of the second raises (:class:`ServerError`), so the
        connection stays usable."""
        if not queues:
            return self.info(), {}
        wire = self._require_wire()
        wire.send_lines(["INFO", "QUEUE LATENCY " + " ".join(queues)])
        info = _json_object(_read_reply(wire), wire.endpoint, "INFO")
        latency = _json_object(_read_reply(wire), wire.endpoint, "QUEUE LATENCY")
        return info, _latencies(latency)

    def close(self) -> None:
        """Send END (best effort) and close the socket; safe to call twice."""
        if self._wire is None:
            return
        _send_end(self._wire)
        self._wire.close()
        self._wire = None


def _latencies(document: dict[str, Any]) -> dict[str, float]:
    latencies: dict[str, float] = {}
    for name, value in document.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            latencies[str(name)] = float(value)
    return latencies


def _json_object(reply: str | None, endpoint: str, verb: str) -> dict[str, Any]:
    if reply is None:
        raise ProbeError(f"{endpoint}: {verb} returned nil")
    try:
        value = json.loads(reply)
    except json.JSONDecodeError as exc:
        raise ProbeError(f"{endpoint}: {verb} reply is not JSON") from exc
    if not isinstance(value, dict):
        raise ProbeError(f"{endpoint}: {verb} reply is not a JSON object")
    return value


def _url(host: str, port: int, path: str, tls: Tls | None = None) -> str:
    netloc = _endpoint(host, port)
    return f"{'https' if tls else 'http'}://{netloc}/{path.lstrip('/')}"


def http_status(
    host: str,
    port: int = DEFAULT_WEB_PORT,
    path: str = "/",
    timeout: float = 5.0,
    password: Password | None = None,
    tls: Tls | None = None,
) -> int:
    """Status code of a GET on the Web UI; with ``password``, sends HTTP Basic auth."""
    import httpx

    auth = httpx.BasicAuth("faktctl", _plain(password)) if password is not None else None
    url = _url(host, port, path, tls)
    try:
        response = _get(url, timeout, tls, auth)
    except httpx.HTTPError as exc:
        raise ProbeError(f"{_endpoint(host, port)}: GET {path} failed: {exc}") from exc
    return response.status_code


def _get(url: str, timeout: float, tls: Tls | None, auth: Any = None) -> httpx.Response:
    """httpx GET; over TLS verified against the CA for the server name (SNI), whatever
    address the URL dials."""
    import httpx

    if tls is None:
        return httpx.get(url, timeout=timeout, auth=auth, follow_redirects=False)
    with httpx.Client(verify=tls.context(), timeout=timeout) as client:
        return client.get(
            url, auth=auth, follow_redirects=False, extensions={"sni_hostname": tls.server_name}
        )


def health_code(
    host: str, port: int = DEFAULT_WEB_PORT, timeout: float = 2.0, tls: Tls | None = None
) -> int:
    """The HTTP status of an unauthenticated ``GET /health``, read from the status line.

    Plain socket, no httpx: `faktctl up` asks it many times a second while the server starts,
    and importing httpx would cost more than the whole wait.
    """
    wire = _connect(host, port, timeout, tls)
    try:
        request = f"GET /health HTTP/1.0\r\nHost: {_endpoint(host, port)}\r\nConnection: close\r\n"
        wire.send_line(request)
        status_line = wire.read_line(time.monotonic() + timeout).decode("latin-1")
    finally:
        wire.close()
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProbeError(f"{wire.endpoint}: GET /health: not an HTTP answer: {status_line[:80]!r}")
    return int(parts[1])


def http_health(
    host: str, port: int = DEFAULT_WEB_PORT, timeout: float = 5.0, tls: Tls | None = None
) -> dict[str, Any]:
    """The unauthenticated ``GET /health`` JSON document (``now`` and ``server`` keys)."""
    import httpx

    endpoint = _endpoint(host, port)
    try:
        response = _get(_url(host, port, "/health", tls), timeout, tls)
    except httpx.HTTPError as exc:
        raise ProbeError(f"{endpoint}: GET /health failed: {exc}") from exc
    if response.status_code != 200:
        raise ProbeError(f"{endpoint}: GET /health answered HTTP {response.status_code}")
    return _json_object(response.text, endpoint, "GET /health")


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float = 10.0,
    attempts: int = 3,
    pause: float = 1.0,
) -> int:
    """POST a JSON document (webhooks); retried on connection errors and 5xx answers.

    Returns the final status code; raises ProbeError when no attempt got an answer. Redirects
    are not followed (a webhook that redirects is misconfigured). Errors name the URL's host
    only, since webhook URLs often hold a token in their path.
    """
    import httpx

    try:
        parsed = httpx.URL(url)  # the parser that sends it: a URL it refuses is a failed alert
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise ProbeError(f"webhook URL cannot be sent to: {type(exc).__name__}") from None
    host = parsed.host or "?"
    last = "no attempt"
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            response = httpx.post(parsed, json=payload, timeout=timeout, follow_redirects=False)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            last = f"{type(exc).__name__}"
        else:
            if response.status_code < 500:
                return response.status_code
            last = f"HTTP {response.status_code}"
        if attempt < attempts:
            time.sleep(pause * attempt)
    raise ProbeError(f"webhook at {host}: {last} after {attempts} attempts")


def http_get_text(
    host: str,
    port: int = DEFAULT_WEB_PORT,
    path: str = "/",
    timeout: float = 5.0,
    password: Password | None = None,
    tls: Tls | None = None,
) -> tuple[int, str]:
    """Status code and body of a GET on the Web UI; with ``password``, sends HTTP Basic auth
    (over TLS when ``tls`` is given: the password never crosses unencrypted)."""
    import httpx

    auth = httpx.BasicAuth("faktctl", _plain(password)) if password is not None else None
    try:
        response = _get(_url(host, port, path, tls), timeout, tls, auth)
    except httpx.HTTPError as exc:
        raise ProbeError(f"{_endpoint(host, port)}: GET {path} failed: {exc}") from exc
    return response.status_code, response.text
