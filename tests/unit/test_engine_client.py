"""The engine operations (faktctl.adapters.docker.client) over both transports, against a fake
engine: a small HTTP server on a unix socket in a temporary folder that answers the way the
Docker engine does. Both transports must send the same requests and read the same answers into
the same results and the same one-line errors (the real engine: tests/e2e/
test_engine_reader_real.py)."""

from __future__ import annotations

import base64
import json
import shutil
import socketserver
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import docker
import pytest

from faktctl.adapters.docker.api import EngineError, NameConflict, ObjectNotFound, PortInUse
from faktctl.adapters.docker.client import EngineClient
from faktctl.adapters.docker.engine import SessionTransport
from faktctl.adapters.docker.transport import SocketTransport
from faktctl.errors import EngineUnavailable

SERVER_ID = "c0ffee" * 10 + "abcd"
GONE_ID = "dead" * 16
RDB_STAT = {"name": "faktory.rdb", "size": 4096, "mode": 420, "mtime": "2026-01-02T03:04:05Z"}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def as_json(status: int, document: Any) -> Answer:
    return Answer(status, json.dumps(document).encode(), {"Content-Type": "application/json"})


def refused(status: int, message: str) -> Answer:
    return as_json(status, {"message": message})


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(data)) + data


@dataclass
class FakeEngine:
    """Answers a few engine endpoints the way the Docker engine does; records each request
    (method, path without the version prefix, query, JSON body)."""

    socket_path: Path
    seen: list[tuple[str, str, dict[str, list[str]], Any]] = field(default_factory=list)
    attached: dict[str, Any] = field(default_factory=dict)
    silent: bool = False

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        self.seen.append((method, path, query, body))
        if self.silent:
            time.sleep(2)
        routes: dict[tuple[str, str], Callable[[], Answer]] = {
            ("GET", "/containers/json"): lambda: as_json(
                200, [{"Id": SERVER_ID, "Names": ["/shop-faktory-1"]}, {"Id": GONE_ID}]
            ),
            ("GET", f"/containers/{SERVER_ID}/json"): lambda: as_json(
                200, {"Id": SERVER_ID, "Name": "/shop-faktory-1", "Config": {"Labels": {}}}
            ),
            ("GET", "/networks"): lambda: as_json(
                200, [{"Name": "shop_default_2", "Id": "n2"}, {"Name": "shop_default", "Id": "n1"}]
            ),
            ("GET", "/images/contribsys/faktory:1.9.3/json"): lambda: as_json(
                200, {"Id": "sha256:f00"}
            ),
            ("HEAD", f"/containers/{SERVER_ID}/archive"): self._stat,
            ("POST", f"/containers/{SERVER_ID}/exec"): lambda: as_json(201, {"Id": "e1"}),
            ("POST", "/exec/e1/start"): lambda: Answer(
                200,
                frame(1, b"rdb_changes") + frame(2, b" warning\n") + frame(1, b"_since:0\n"),
                {"Content-Type": "application/vnd.docker.raw-stream"},
            ),
            ("GET", "/exec/e1/json"): lambda: as_json(200, {"ExitCode": 3}),
            ("POST", f"/containers/{SERVER_ID}/stop"): lambda: Answer(304),
            ("DELETE", f"/containers/{SERVER_ID}"): lambda: Answer(204),
            ("DELETE", "/networks/shop_default"): lambda: refused(
                403, "error while removing network: network shop_default has active endpoints"
            ),
            ("GET", "/networks/shop_default"): lambda: as_json(
                200, {"Name": "shop_default", "Containers": self.attached}
            ),
            ("DELETE", "/volumes/taken"): lambda: refused(409, "remove taken: volume is in use"),
            ("POST", "/containers/create"): lambda: refused(
                409, 'Conflict. The container name "/shop-faktory-1" is already in use'
            ),
            ("POST", "/containers/busy/start"): lambda: refused(
                500,
                "driver failed programming external connectivity: Bind for 0.0.0.0:7419 "
                "failed: port is already allocated",
            ),
        }
        route = routes.get((method, path))
        if route is not None:
            return route()
        return refused(404, f"No such object: {path.rsplit('/', 2)[-2 if '/json' in path else -1]}")

    def _stat(self) -> Answer:
        return Answer(
            200,
            headers={
                "X-Docker-Container-Path-Stat": base64.b64encode(
                    json.dumps(RDB_STAT).encode()
                ).decode()
            },
        )


def _handler(engine: FakeEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)  # as the engine routes it
            if path.startswith("/v1."):
                path = "/" + path.split("/", 2)[2]
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            answer = engine.answer(self.command, path, parse_qs(parts.query), body)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.headers.get("Content-Type") != "application/vnd.docker.raw-stream":
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        do_GET = do_POST = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    folder = Path(tempfile.mkdtemp(prefix="fk-", dir="/tmp"))  # a unix socket path is short
    engine = FakeEngine(folder / "docker.sock")
    server = socketserver.ThreadingUnixStreamServer(str(engine.socket_path), _handler(engine))
    server.daemon_threads = True
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield engine
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(folder, ignore_errors=True)


def client_over(transport: str, address: str, timeout: float = 10) -> EngineClient:
    if transport == "socket":
        return EngineClient(SocketTransport(address, timeout=timeout))
    api = docker.APIClient(base_url=address, version="1.43", timeout=timeout)  # type: ignore[arg-type]
    return EngineClient(SessionTransport(api, address))


TRANSPORTS = ["socket", "sdk"]


@pytest.fixture(params=TRANSPORTS)
def engine_and_client(
    request: pytest.FixtureRequest, fake_engine: FakeEngine
) -> tuple[FakeEngine, EngineClient]:
    return fake_engine, client_over(request.param, f"unix://{fake_engine.socket_path}")


def test_reads_list_then_inspect_and_missing_objects_are_none(
    engine_and_client: tuple[FakeEngine, EngineClient],
) -> None:
    engine, client = engine_and_client
    assert client.is_local
    found = client.containers({"io.faktctl.project": "shop"})
    assert [c["Id"] for c in found] == [SERVER_ID]  # the other was removed before its inspect
    method, path, query, _ = engine.seen[0]
    assert (method, path, query["all"]) == ("GET", "/containers/json", ["1"])
    assert json.loads(query["filters"][0]) == {"label": ["io.faktctl.project=shop"]}
    assert [s["Id"] for s in client.summaries()] == [SERVER_ID, GONE_ID]
    assert client.network("shop_default") == {"Name": "shop_default", "Id": "n1"}
    assert client.network("other") is None
    assert client.image("contribsys/faktory:1.9.3") == {"Id": "sha256:f00"}
    assert client.image("contribsys/faktory:0.0.0") is None
    assert client.volume("shop_data") is None
    with pytest.raises(ObjectNotFound, match=r"^inspecting container nope: No such object"):
        client.inspect("nope")


def test_stat_and_exec(engine_and_client: tuple[FakeEngine, EngineClient]) -> None:
    engine, client = engine_and_client
    assert client.stat_path(SERVER_ID, "/var/lib/faktory/db/faktory.rdb") == RDB_STAT
    _, _, query, _ = engine.seen[-1]
    assert query == {"path": ["/var/lib/faktory/db/faktory.rdb"]}
    with pytest.raises(ObjectNotFound, match=r"^looking at /nothing in nope: Not Found$"):
        client.stat_path("nope", "/nothing")
    code, output = client.exec(SERVER_ID, ["redis-cli", "INFO"])
    assert (code, output) == (3, b"rdb_changes warning\n_since:0\n")
    created = next(s for s in engine.seen if s[1].endswith("/exec"))
    assert created[3] == {"AttachStdout": True, "AttachStderr": True, "Cmd": ["redis-cli", "INFO"]}


def test_what_down_does_and_the_errors_it_meets(
    engine_and_client: tuple[FakeEngine, EngineClient],
) -> None:
    engine, client = engine_and_client
    client.stop(SERVER_ID, timeout=7)  # already stopped (304): no error
    assert engine.seen[-1][2] == {"t": ["7"]}
    client.remove(SERVER_ID)
    client.remove("already-gone")  # 404: no error
    engine.attached = {SERVER_ID: {"Name": "intruder"}}
    with pytest.raises(EngineError) as attached:
        client.remove_network("shop_default")
    assert attached.value.message == "removing network shop_default: still attached: intruder"
    engine.attached = {}
    with pytest.raises(EngineError) as lost:
        client.remove_network("shop_default")
    assert "no container is attached" in lost.value.one_line()
    assert "restart the Docker engine" in lost.value.one_line()
    with pytest.raises(EngineError) as in_use:
        client.remove_volume("taken")
    # the error names the containers that hold the volume (asked for with a volume filter)
    assert in_use.value.message.startswith("removing volume taken: it is in use by container(s)")
    assert "shop-faktory-1 (unknown)" in in_use.value.message
    assert json.loads(engine.seen[-1][2]["filters"][0]) == {"volume": ["taken"]}
    with pytest.raises(ObjectNotFound, match=r"^stopping container nope-nope: No such"):
        client.stop("nope-nope", timeout=1)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_refusals_become_the_same_errors(fake_engine: FakeEngine, transport: str) -> None:
    client = client_over(transport, f"unix://{fake_engine.socket_path}")
    with pytest.raises(NameConflict, match="is already in use"):
        client._call("POST", "/containers/create", "creating container shop-faktory-1", {})
    with pytest.raises(PortInUse) as port:
        client._call("POST", "/containers/busy/start", "starting shop-faktory-1")
    assert port.value.message == "starting shop-faktory-1: host port 0.0.0.0:7419 is already in use"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_both_transports_send_the_same_requests(fake_engine: FakeEngine, transport: str) -> None:
    client = client_over(transport, f"unix://{fake_engine.socket_path}")
    client.containers({"io.faktctl.project": "shop"}, all=False)
    client.exec(SERVER_ID, ["true"])
    client.stop(SERVER_ID, timeout=3)
    expected = [
        (
            "GET",
            "/containers/json",
            {"all": ["0"], "filters": ['{"label": ["io.faktctl.project=shop"]}']},
            None,
        ),
        ("GET", f"/containers/{SERVER_ID}/json", {}, None),
        ("GET", f"/containers/{GONE_ID}/json", {}, None),
        (
            "POST",
            f"/containers/{SERVER_ID}/exec",
            {},
            {"AttachStdout": True, "AttachStderr": True, "Cmd": ["true"]},
        ),
        ("POST", "/exec/e1/start", {}, {"Detach": False}),
        ("GET", "/exec/e1/json", {}, None),
        ("POST", f"/containers/{SERVER_ID}/stop", {"t": ["3"]}, None),
    ]
    assert sorted(fake_engine.seen, key=repr) == sorted(expected, key=repr)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_engine_that_is_not_there_or_does_not_answer(
    fake_engine: FakeEngine, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"unix://{fake_engine.socket_path.parent}/nothing.sock"
    monkeypatch.setenv("DOCKER_HOST", nowhere)
    with pytest.raises(EngineUnavailable) as down:
        client_over(transport, nowhere).summaries()
    assert down.value.one_line() == (
        f"cannot reach the Docker engine at {nowhere} (DOCKER_HOST) while listing containers: "
        "no engine socket there (start the Docker engine, or set DOCKER_HOST)"
    )
    fake_engine.silent = True
    slow = client_over(transport, f"unix://{fake_engine.socket_path}", timeout=0.3)
    with pytest.raises(EngineError, match=r"^looking up volume x: the Docker engine did not"):
        slow.volume("x")
