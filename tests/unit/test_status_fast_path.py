"""The start-up path of `status`: which engines the standard-library transport speaks to, how it
reads the engine's answers, and which command lines skip typer (the real engine: tests/e2e)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from faktctl.adapters.docker.api import EngineError
from faktctl.adapters.docker.client import demultiplex
from faktctl.adapters.docker.connect import plain_address
from faktctl.adapters.docker.transport import parse_response
from faktctl.entry import fast_arguments


def test_plain_sockets_are_read_directly_and_anything_else_goes_to_the_sdk(
    tmp_path: Path,
) -> None:
    home = {"HOME": str(tmp_path)}
    assert plain_address(home) == "unix:///var/run/docker.sock"
    assert plain_address({**home, "DOCKER_HOST": "unix:///run/user/1000/docker.sock"}) == (
        "unix:///run/user/1000/docker.sock"
    )
    assert plain_address({**home, "DOCKER_HOST": "tcp://10.0.0.5:2375"}) == "tcp://10.0.0.5:2375"
    for other in ("ssh://me@host", "npipe:////./pipe/docker_engine", "tcp://host"):
        assert plain_address({**home, "DOCKER_HOST": other}) is None, other
    tls = {**home, "DOCKER_HOST": "tcp://host:2376", "DOCKER_TLS_VERIFY": "1"}
    assert plain_address(tls) is None
    assert plain_address({**home, "DOCKER_CONTEXT": "remote"}) is None
    config = tmp_path / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"currentContext": "default"}))
    assert plain_address(home) == "unix:///var/run/docker.sock"
    config.write_text(json.dumps({"currentContext": "colima"}))
    assert plain_address(home) is None
    config.write_text("{not json")
    assert plain_address(home) is None  # the SDK reads it and explains


def test_responses_plain_chunked_and_cut_short() -> None:
    plain = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n[]"
    reply = parse_response(plain, "listing")
    assert (reply.status, reply.reason, reply.body) == (200, "OK", b"[]")
    assert reply.headers["content-type"] == "application/json"
    chunked = (
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"mes\r\n17\r\nsage": "No such thing"}\r\n0\r\n\r\n'
    )
    missing = parse_response(chunked, "inspecting")
    assert missing.status == 404 and missing.message() == "No such thing"
    with pytest.raises(EngineError, match="inspecting x: the Docker engine's answer was cut"):
        parse_response(b"HTTP/1.0 20", "inspecting x")


def test_exec_output_is_stdout_and_stderr_in_order() -> None:
    def frame(stream: int, data: bytes) -> bytes:
        return struct.pack(">BxxxI", stream, len(data)) + data

    stream = frame(1, b"rdb_changes") + frame(2, b" warning\n") + frame(1, b"_since:0\n")
    assert demultiplex(stream) == b"rdb_changes warning\n_since:0\n"
    assert demultiplex(b"") == b""


def test_only_plain_status_and_down_lines_skip_typer(tmp_path: Path) -> None:
    plain = {"file": None, "as_json": False, "verbose": False}
    assert fast_arguments(["status"]) == ("status", plain)
    assert fast_arguments(["status", "--json", "-v", "-f", "x.yaml"]) == (
        "status",
        {"file": Path("x.yaml"), "as_json": True, "verbose": True},
    )
    assert fast_arguments(["status", "--file=a.yaml", "--verbose"]) == (
        "status",
        {"file": Path("a.yaml"), "as_json": False, "verbose": True},
    )
    assert fast_arguments(["down"]) == (
        "down",
        {"file": None, "volumes": False, "assume_yes": False},
    )
    assert fast_arguments(["down", "--volumes", "-y", "--file", "b.yaml"]) == (
        "down",
        {"file": Path("b.yaml"), "volumes": True, "assume_yes": True},
    )
    for typer_says in (
        [],
        ["up"],
        ["--debug", "status"],
        ["status", "--help"],
        ["status", "--jsn"],
        ["status", "-vf", "x.yaml"],
        ["status", "--file"],
        ["status", "--file", "--json"],
        ["status", "--file="],
        ["status", "--file", str(tmp_path)],  # a folder: typer's own message
        ["status", "extra"],
        ["status", "--volumes"],  # another command's flag
        ["down", "--json"],
        ["down", "--help"],
        ["down", "-yv"],
    ):
        assert fast_arguments(typer_says) is None, typer_says
