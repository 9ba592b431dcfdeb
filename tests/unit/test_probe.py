"""Unit tests for the Faktory wire probe, against small fake servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from faktctl.adapters import probe
from tests.support.producer import Producer, make_job

SALT = "55104dc76695721d"
ITERATIONS = 1545


def reference_pwdhash(password: str, salt: str, iterations: int) -> str:
    """Faktory's password hash written out independently of faktctl's: sha256 of password and
    salt, then sha256 of the raw digest, `iterations` times in all, as hex."""
    digest = hashlib.sha256(f"{password}{salt}".encode()).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


def test_pwdhash_matches_the_faktory_test_vector() -> None:
    expected = "6d877f8e5544b1f2598768f817413ab8a357afffa924dedae99eb91472d4ec30"
    assert probe.pwdhash("foobar", SALT, ITERATIONS) == expected
    assert reference_pwdhash("foobar", SALT, ITERATIONS) == expected  # the fake server's check


def test_pwdhash_chains_raw_digests_not_hex() -> None:
    once = hashlib.sha256(b"pw" + b"salt").digest()
    twice = hashlib.sha256(once).hexdigest()
    assert probe.pwdhash("pw", "salt", 2) == twice
    assert probe.pwdhash("pw", "salt", 1) == once.hex()


# --- a fake Faktory server ------------------------------------------------------------------


@dataclass
class FakeState:
    password: str | None = None
    greeting: bytes | None = None  # raw greeting override (without CRLF); b"" sends nothing
    hellos: list[dict[str, Any]] = field(default_factory=list)
    queues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)


def _bulk(text: str) -> bytes:
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


class FakeFaktoryHandler(socketserver.StreamRequestHandler):
    """Speaks just enough of the Faktory protocol: HI/HELLO, INFO, PUSH, PUSHB, FETCH, END."""

    server: FakeFaktoryServer
    timeout = 5.0

    def handle(self) -> None:
        state = self.server.state
        if not self._greet(state):
            return
        if not self._accept_hello(state):
            return
        for _ in range(100):
            line = self.rfile.readline()
            if not line:
                return
            verb, _, payload = line.decode().rstrip("\r\n").partition(" ")
            state.commands.append(verb)
            if verb == "END":
                return
            self.wfile.write(self._answer(state, verb, payload))

    def _greet(self, state: FakeState) -> bool:
        if state.greeting is not None:
            if state.greeting:
                self.wfile.write(state.greeting + b"\r\n")
            return bool(state.greeting)
        hello: dict[str, Any] = {"v": 2}
        if state.password is not None:
            hello.update(i=ITERATIONS, s=SALT)
        self.wfile.write(b"+HI " + json.dumps(hello).encode() + b"\r\n")
        return True

    def _accept_hello(self, state: FakeState) -> bool:
        line = self.rfile.readline().decode()
        if not line.startswith("HELLO {"):
            return False
        hello = json.loads(line[6:])
        state.hellos.append(hello)
        if state.password is not None:
            wanted = reference_pwdhash(state.password, SALT, ITERATIONS)  # not the code under test
            if hello.get("pwdhash") != wanted:
                self.wfile.write(b"-ERR Invalid password\r\n")
                return False
        self.wfile.write(b"+OK\r\n")
        return True

    def _answer(self, state: FakeState, verb: str, payload: str) -> bytes:
        if verb == "INFO":
            sizes = {name: len(jobs) for name, jobs in state.queues.items()}
            info = {"faktory": {"queues": sizes}, "server": {"faktory_version": "9.9.9"}}
            return _bulk(json.dumps(info))
        if verb == "PUSH":
            self._enqueue(state, json.loads(payload))
            return b"+OK\r\n"
        if verb == "PUSHB":
            for job in json.loads(payload):
                self._enqueue(state, job)
            return _bulk("{}")
        if verb == "FETCH":
            return b"$-1\r\n"
        return b"-ERR unknown command " + verb.encode() + b"\r\n"

    @staticmethod
    def _enqueue(state: FakeState, job: dict[str, Any]) -> None:
        state.queues.setdefault(job.get("queue", "default"), []).append(job)


class FakeFaktoryServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: FakeState) -> None:
        super().__init__(("127.0.0.1", 0), FakeFaktoryHandler)
        self.state = state

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def fake_faktory() -> Iterator[Callable[..., FakeFaktoryServer]]:
    servers: list[FakeFaktoryServer] = []

    def start(**kwargs: Any) -> FakeFaktoryServer:
        server = FakeFaktoryServer(FakeState(**kwargs))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- handshake ------------------------------------------------------------------------------


def test_handshake_without_password(fake_faktory: Callable[..., FakeFaktoryServer]) -> None:
    server = fake_faktory()
    result = probe.handshake("127.0.0.1", server.port, None, timeout=2)
    assert result.greeting == {"v": 2}
    assert result.password_required is False
    assert result.iterations is None
    assert result.accepted is True
    assert result.error is None
    assert server.state.hellos == [{"v": 2}]  # no pwdhash, no wid: a producer


def test_handshake_with_right_password(fake_faktory: Callable[..., FakeFaktoryServer]) -> None:
    server = fake_faktory(password="foobar")
    result = probe.handshake("127.0.0.1", server.port, "foobar", timeout=2)
    assert result.password_required is True
    assert result.iterations == ITERATIONS
    assert result.accepted is True
    hello = server.state.hellos[0]
    assert hello["pwdhash"] == "6d877f8e5544b1f2598768f817413ab8a357afffa924dedae99eb91472d4ec30"
    assert "wid" not in hello
    assert hello["v"] == 2


def test_handshake_with_wrong_password(fake_faktory: Callable[..., FakeFaktoryServer]) -> None:
    server = fake_faktory(password="foobar")
    result = probe.handshake("127.0.0.1", server.port, "nope", timeout=2)
    assert result.password_required is True
    assert result.accepted is False
    assert result.error == "Invalid password"


def test_handshake_without_password_against_protected_server(
    fake_faktory: Callable[..., FakeFaktoryServer],
) -> None:
    server = fake_faktory(password="foobar")
    result = probe.handshake("127.0.0.1", server.port, None, timeout=2)
    assert result.accepted is False
    assert result.error == "Invalid password"
    assert "pwdhash" not in server.state.hellos[0]


def test_connection_refused_names_the_endpoint() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    with pytest.raises(probe.ProbeError, match=rf"127\.0\.0\.1:{port}"):
        probe.handshake("127.0.0.1", port, None, timeout=1)


def test_server_that_closes_without_greeting(
    fake_faktory: Callable[..., FakeFaktoryServer],
) -> None:
    server = fake_faktory(greeting=b"")
    with pytest.raises(probe.ProbeError, match="closed"):
        probe.handshake("127.0.0.1", server.port, None, timeout=2)


def test_garbled_greeting_is_a_probe_error(
    fake_faktory: Callable[..., FakeFaktoryServer],
) -> None:
    server = fake_faktory(greeting=b"+HELLO there")
    with pytest.raises(probe.ProbeError, match="expected a \\+HI greeting"):
        probe.handshake("127.0.0.1", server.port, None, timeout=2)


def test_silent_server_times_out_within_the_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(probe.ProbeError, match="timed out"):
            probe.handshake("127.0.0.1", port, None, timeout=0.5)
        assert time.monotonic() - started < 3


# --- connection commands --------------------------------------------------------------------


def test_push_then_info_shows_the_job(fake_faktory: Callable[..., FakeFaktoryServer]) -> None:
    server = fake_faktory(password="foobar")
    with Producer("127.0.0.1", server.port, "foobar", timeout=2) as conn:
        jid = conn.push({"jobtype": "demo.echo", "queue": "critical"})
        assert conn.queue_sizes() == {"critical": 1}
        info = conn.info()
    assert info["server"]["faktory_version"] == "9.9.9"
    job = server.state.queues["critical"][0]
    assert job["jid"] == jid
    assert len(jid) >= 8
    assert job["args"] == []


def test_push_many_uses_pushb(fake_faktory: Callable[..., FakeFaktoryServer]) -> None:
    server = fake_faktory()
    jobs = [make_job("demo.echo", [n]) for n in range(3)]
    with Producer("127.0.0.1", server.port, timeout=2) as conn:
        assert conn.push_many(jobs) == {}
        assert conn.queue_sizes() == {"default": 3}
    assert "PUSHB" in server.state.commands


def test_nil_reply_and_server_error(fake_faktory: Callable[..., FakeFaktoryServer]) -> None:
    server = fake_faktory()
    with Producer("127.0.0.1", server.port, timeout=2) as conn:
        assert conn.command("FETCH", "default") is None
        with pytest.raises(probe.ServerError, match="unknown command BOGUS") as caught:
            conn.command("BOGUS")
    assert caught.value.text == "ERR unknown command BOGUS"


def test_close_sends_end_once(fake_faktory: Callable[..., FakeFaktoryServer]) -> None:
    server = fake_faktory()
    conn = Producer("127.0.0.1", server.port, timeout=2)
    conn.close()
    conn.close()
    for _ in range(100):
        if server.state.commands:
            break
        time.sleep(0.01)
    assert server.state.commands == ["END"]
    with pytest.raises(probe.ProbeError, match="closed"):
        conn.info()


def test_refused_password_raises_on_connect(
    fake_faktory: Callable[..., FakeFaktoryServer],
) -> None:
    server = fake_faktory(password="foobar")
    with pytest.raises(probe.ProbeError, match="Invalid password"):
        Producer("127.0.0.1", server.port, "wrong", timeout=2)


# --- HTTP -----------------------------------------------------------------------------------


class FakeWebHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, b'{"now": "x", "server": {"faktory_version": "9.9.9"}}')
        elif self.headers.get("Authorization"):
            self._send(200, b"dashboard")
        else:
            self._send(401, b"Authorization required")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def fake_web() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWebHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_http_health_returns_json(fake_web: int) -> None:
    health = probe.http_health("127.0.0.1", fake_web, timeout=2)
    assert health["server"]["faktory_version"] == "9.9.9"


def test_http_status_with_and_without_credentials(fake_web: int) -> None:
    assert probe.http_status("127.0.0.1", fake_web, "/", timeout=2) == 401
    assert probe.http_status("127.0.0.1", fake_web, "/", timeout=2, password="pw") == 200


def test_http_connection_refused_is_a_probe_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    with pytest.raises(probe.ProbeError, match=rf"127\.0\.0\.1:{port}"):
        probe.http_health("127.0.0.1", port, timeout=1)


def test_health_code_reads_the_status_line_without_httpx(fake_web: int) -> None:
    assert probe.health_code("127.0.0.1", fake_web, timeout=2) == 200


def test_health_code_of_something_that_is_not_http() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"+HI {}\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(probe.ProbeError, match="not an HTTP answer"):
            probe.health_code("127.0.0.1", port, timeout=2)
        thread.join(timeout=5)
