"""The pure parts around `up`: reading engine dicts, the container request, the status
document, the lock, and the adapter's translations of engine failures."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import docker.errors
import pytest
from requests import Response

from faktctl import labels
from faktctl.adapters.docker.api import NameConflict, PortInUse, unavailable
from faktctl.adapters.docker.engine import context_digest, extra_labels, split_reference, translate
from faktctl.desired import Publish
from faktctl.envelope import envelope
from faktctl.errors import EngineUnavailable, OperationFailed
from faktctl.lock import LockHeld, lock_path, project_lock
from faktctl.platforms.engine.apply import container_config
from faktctl.platforms.engine.logs import merge_by_time
from faktctl.platforms.engine.observe import parse_container, parse_time
from faktctl.platforms.engine.plan import plan
from faktctl.platforms.engine.status import render_table, status_document
from faktctl.secretvalue import SecretStr
from tests.support.planning import desired_from, everything, observed_with

RAW_SERVER = {
    "Id": "c0ffee" * 10,
    "Name": "/shop-faktory-1",
    "Image": "sha256:aaa111",
    "RestartCount": 2,
    "Config": {
        "Image": "contribsys/faktory:1.9.3",
        "StopTimeout": 60,
        "Labels": {
            labels.SERVICE: "faktory",
            labels.REPLICA: "1",
            labels.CONFIG_HASH: "abc",
            labels.CONFIG_PARTS: json.dumps({"image": "contribsys/faktory:1.9.3"}),
        },
    },
    "State": {
        "Status": "running",
        "ExitCode": 0,
        "StartedAt": "2026-11-28T00:09:34.603123456Z",
        "Health": {"Status": "healthy"},
    },
    "HostConfig": {"PortBindings": {"7419/tcp": [{"HostIp": "127.0.0.1", "HostPort": "7419"}]}},
    "NetworkSettings": {
        "Ports": {
            "7419/tcp": [{"HostIp": "127.0.0.1", "HostPort": "7419"}],
            "7420/tcp": None,
        },
        "Networks": {"shop_default": {"IPAddress": "172.18.0.2"}},
    },
}


def test_parse_container_reads_what_the_planner_and_status_need() -> None:
    container = parse_container(RAW_SERVER)
    assert container.name == "shop-faktory-1"
    assert (container.service, container.replica, container.config_hash) == ("faktory", 1, "abc")
    assert container.config_parts == {"image": "contribsys/faktory:1.9.3"}
    assert container.health == "healthy" and container.restart_count == 2
    assert container.ports == (Publish(7419, "127.0.0.1", 7419),)
    assert container.ip_addresses == {"shop_default": "172.18.0.2"}
    assert container.stop_timeout_s == 60
    assert container.started_at == datetime(2026, 11, 28, 0, 9, 34, 603123, tzinfo=UTC)
    assert container.uptime_s(datetime(2026, 11, 28, 0, 10, 34, 603123, tzinfo=UTC)) == 60


def test_parse_container_tolerates_foreign_or_broken_labels() -> None:
    raw = {**RAW_SERVER, "Config": {"Image": "x", "Labels": {labels.REPLICA: "zero"}}}
    container = parse_container(
        {**raw, "State": {"Status": "created", "StartedAt": "0001-01-01T00:00:00Z"}}
    )
    assert container.replica is None and container.config_parts == {}
    assert container.started_at is None and container.uptime_s(datetime.now(UTC)) is None
    assert parse_time("garbage") is None


def test_server_container_mounts_the_password_read_only_and_keeps_secrets_wrapped() -> None:
    desired = desired_from()
    server = container_config(desired, desired.server, 1)
    assert server.name == "shop-faktory-1"
    secret = next(m for m in server.mounts if m.target == "/run/secrets/faktory_password")
    assert secret.kind == "bind" and secret.read_only
    assert secret.source == "/srv/shop/secrets/faktory_password"
    assert dict(server.env)["FAKTORY_PASSWORD"] == "/run/secrets/faktory_password"
    assert server.labels[labels.REPLICA] == "1"
    assert json.loads(server.labels[labels.CONFIG_PARTS])["image"] == "contribsys/faktory:1.9.3"
    assert server.network == "shop_default" and server.aliases == ("faktory",)
    worker = container_config(desired, desired.service("emails"), 2)
    url = dict(worker.env)["FAKTORY_URL"]
    assert isinstance(url, SecretStr) and "pw-one" in url.get_secret_value()
    assert "pw-one" not in json.dumps(dict(worker.labels))


def test_status_document_and_table() -> None:
    desired = desired_from(
        "project: shop\nworkers:\n  - {name: emails, image: 'emails:1', replicas: 2}\n"
    )
    observed = observed_with(desired, everything(desired)[:2])
    document = status_document(desired, observed, plan(desired, observed), datetime.now(UTC))
    assert document["up_to_date"] is False
    assert document["drift"] == ["scale up emails: 1 → 2 (create shop-emails-2)"]
    emails = next(s for s in document["services"] if s["name"] == "emails")
    assert emails["replicas"] == {"desired": 2, "running": 1}
    assert emails["drift"] == document["drift"]
    assert envelope("status", document) == {"faktctl": 1, "command": "status", "result": document}
    table = render_table(document)
    assert table.splitlines()[0].split() == [
        "SERVICE", "CONTAINER", "STATE", "HEALTH", "RESTARTS", "PORTS", "IMAGE", "UPTIME"
    ]  # fmt: skip
    assert "127.0.0.1:7419->7419/tcp" in table
    assert "  scale up emails: 1 → 2 (create shop-emails-2)" in table


def test_logs_are_merged_in_time_order() -> None:
    merged = merge_by_time(
        [
            ("a", "2026-01-01T00:00:02.000000000Z second\n2026-01-01T00:00:04.000000000Z fourth"),
            ("b", "2026-01-01T00:00:01.000000000Z first\n2026-01-01T00:00:03.000000000Z third"),
        ]
    )
    assert merged == ["b | first", "a | second", "b | third", "a | fourth"]


# --- the lock ---------------------------------------------------------------------------------


def test_a_second_holder_is_refused_with_who_and_since(tmp_path: Path) -> None:
    with project_lock(tmp_path, "shop", "up") as stale:
        assert stale is None
        with pytest.raises(LockHeld) as refused, project_lock(tmp_path, "shop", "down"):
            pass
        message = refused.value.one_line()
        assert f"locked by `faktctl up` (pid {os.getpid()} on " in message
        assert "since 20" in message and str(lock_path(tmp_path, "shop")) in message
    assert not lock_path(tmp_path, "shop").exists()
    with project_lock(tmp_path, "shop", "up"):
        pass  # released: free again


def test_a_record_left_by_a_dead_holder_is_reported_and_taken_over(tmp_path: Path) -> None:
    record = {"pid": 999999, "host": "old-box", "command": "up", "since": "2026-01-01T00:00:00Z"}
    lock_path(tmp_path, "shop").write_text(json.dumps(record))
    with project_lock(tmp_path, "shop", "up") as stale:
        assert stale is not None and stale.describe() == (
            "`faktctl up` (pid 999999 on old-box, since 2026-01-01T00:00:00Z)"
        )


# --- the engine adapter's pure helpers --------------------------------------------------------


def _api_error(status: int, explanation: str) -> docker.errors.APIError:
    response = Response()
    response.status_code = status
    return docker.errors.APIError("engine said no", response=response, explanation=explanation)


def test_port_already_allocated_is_translated_with_the_address() -> None:
    error = translate(
        _api_error(
            500,
            "driver failed programming external connectivity on endpoint shop-faktory-1: Error "
            "starting userland proxy: listen tcp4 127.0.0.1:7419: bind: address already in use",
        ),
        "starting shop-faktory-1",
        "unix:///var/run/docker.sock",
    )
    assert isinstance(error, PortInUse)
    assert error.message == "starting shop-faktory-1: host port 127.0.0.1:7419 is already in use"
    allocated = translate(
        _api_error(500, "Bind for 0.0.0.0:7420 failed: port is already allocated"), "x", ""
    )
    assert isinstance(allocated, PortInUse) and "0.0.0.0:7420" in str(allocated)


def test_name_conflicts_and_unreachable_engines_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conflict = translate(
        _api_error(409, 'Conflict. The container name "/shop-faktory-1" is already in use'),
        "creating container shop-faktory-1",
        "",
    )
    assert isinstance(conflict, NameConflict)
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.9:2375")
    down = unavailable(
        "tcp://10.0.0.9:2375", ConnectionRefusedError("[Errno 111] Connection refused")
    )
    assert isinstance(down, EngineUnavailable) and down.exit_code == 3
    assert (
        down.message
        == "cannot reach the Docker engine at tcp://10.0.0.9:2375 (DOCKER_HOST): connection refused"
    )


def test_extra_labels_from_the_environment() -> None:
    assert extra_labels({"FAKTCTL_EXTRA_LABELS": "io.faktctl.test=s1, team=jobs"}) == {
        "io.faktctl.test": "s1",
        "team": "jobs",
    }
    assert extra_labels({}) == {}
    with pytest.raises(OperationFailed, match="is not key=value"):
        extra_labels({"FAKTCTL_EXTRA_LABELS": "oops"})


def test_split_reference() -> None:
    assert split_reference("contribsys/faktory:1.9.4") == ("contribsys/faktory", "1.9.4")
    assert split_reference("registry:5000/team/worker") == ("registry:5000/team/worker", "latest")
    assert split_reference("worker") == ("worker", "latest")


def test_context_digest_follows_content_and_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    (tmp_path / "app").write_text("v1")
    first = context_digest(str(tmp_path))
    assert context_digest(str(tmp_path)) == first
    (tmp_path / "notes.log").write_text("noise")
    (tmp_path / ".dockerignore").write_text("*.log\n")
    ignoring = context_digest(str(tmp_path))
    (tmp_path / "notes.log").write_text("more noise")
    assert context_digest(str(tmp_path)) == ignoring
    (tmp_path / "app").write_text("v2")
    assert context_digest(str(tmp_path)) not in (first, ignoring)
    with pytest.raises(OperationFailed, match="is not a folder"):
        context_digest(str(tmp_path / "missing"))
