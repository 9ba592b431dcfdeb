"""Issue 4 acceptance: `faktctl up` deploys the real server and the real Go worker through the
Docker SDK, runs jobs, is idempotent, scales one worker without touching the rest, and creates
exactly what the rendered compose.yaml describes.

One deployment is shared by the tests of this module (each `up` waits ~10 s for the engine's
first health check); every test leaves it as it found it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import faktory
import pytest
import yaml

from faktctl.adapters import probe
from faktctl.platforms.engine.cache import CACHE_DIR_VAR
from tests.support.cli import CliResult
from tests.support.local import wait_until
from tests.support.upkit import (
    Deployment,
    assert_password_never_printed,
    go_worker,
    new_deployment,
    tear_down,
)

JOBS = 200


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    test_session_id: str,
    docker_client: docker.DockerClient,
    faktory_image: str,
    go_worker_image: str,
) -> Iterator[Deployment]:
    workers = [
        go_worker("go", go_worker_image, replicas=1, queues="default"),
        go_worker("spare", go_worker_image, replicas=1, queues="spare-only"),
    ]
    made = new_deployment(
        tmp_path_factory.mktemp("deploy"), test_session_id, docker_client, faktory_image, workers
    )
    made.up()
    try:
        yield made
    finally:
        tear_down(made)


def _set_replicas(deployment: Deployment, worker: str, replicas: int) -> None:
    def change(spec: dict[str, Any]) -> None:
        next(w for w in spec["workers"] if w["name"] == worker)["replicas"] = replicas

    deployment.edit(change)


def test_up_runs_jobs_pushed_by_a_real_client(deployment: Deployment) -> None:
    with faktory.connection(deployment.url()) as client:
        for number in range(JOBS):
            assert client.queue("demo.echo", args=(number,), queue="default")

    def processed() -> bool:
        with deployment.connect() as conn:
            stats = conn.info()["faktory"]
        return int(stats["total_processed"]) >= JOBS

    wait_until(processed, 60, f"the Go worker to process {JOBS} jobs")
    with deployment.connect() as conn:
        stats = conn.info()["faktory"]
    assert stats["total_failures"] == 0
    assert stats["queues"].get("default", 0) == 0


def test_server_is_healthy_with_password_and_loopback_ports(deployment: Deployment) -> None:
    name = f"{deployment.project}-faktory-1"

    def engine_says_healthy() -> bool:  # `up` went by Faktory's own readiness; the engine's
        # check (kept for restarts and `status`) passes at its first interval
        return bool(deployment.inspect(name)["State"]["Health"]["Status"] == "healthy")

    wait_until(engine_says_healthy, 60, "the engine's health check to pass")
    server = deployment.inspect(name)
    for port in ("7419/tcp", "7420/tcp"):
        assert {b["HostIp"] for b in server["NetworkSettings"]["Ports"][port]} == {"127.0.0.1"}
    env = dict(item.split("=", 1) for item in server["Config"]["Env"])
    assert env["FAKTORY_PASSWORD"] == "/run/secrets/faktory_password"
    secret = next(
        m for m in server["Mounts"] if m["Destination"] == "/run/secrets/faktory_password"
    )
    assert secret["Type"] == "bind" and secret["RW"] is False
    assert server["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert server["Config"]["StopTimeout"] == 30
    refused = probe.handshake("127.0.0.1", deployment.protocol_port, "not-the-password")
    assert refused.password_required and not refused.accepted


def test_no_change_up_touches_nothing_and_is_fast(deployment: Deployment) -> None:
    before = deployment.containers()
    run = deployment.up()
    reported = re.search(r"up to date: .* \((\d+\.\d)s\)", run.stderr)
    assert reported is not None, run.output
    # the command's own time, without interpreter start-up; generous for a loaded machine,
    # yet far below any recreate or health wait (those take 10 s and more)
    assert float(reported.group(1)) < 5.0, f"a no-change up took {reported.group(1)}s"
    assert deployment.containers() == before


def test_dry_run_prints_the_plan_and_changes_nothing(deployment: Deployment) -> None:
    before = deployment.containers()
    _set_replicas(deployment, "go", 2)
    try:
        run = deployment.faktctl("up", "--dry-run")
        assert run.code == 0, run.output
        assert f"scale up go: 1 → 2 (create {deployment.project}-go-2)" in run.stdout.splitlines()
        assert "noop spare: 1 running, up to date" in run.stdout.splitlines()
        assert deployment.containers() == before
    finally:
        _set_replicas(deployment, "go", 1)


def test_scaling_one_worker_touches_only_its_containers(deployment: Deployment) -> None:
    project = deployment.project
    before = deployment.containers()
    others = {name: cid for name, cid in before.items() if "-go-" not in name}

    _set_replicas(deployment, "go", 3)
    deployment.up()
    scaled = deployment.containers()
    assert {n: c for n, c in scaled.items() if "-go-" not in n} == others
    assert scaled[f"{project}-go-1"] == before[f"{project}-go-1"]
    assert sorted(n for n in scaled if "-go-" in n) == [f"{project}-go-{i}" for i in (1, 2, 3)]

    _set_replicas(deployment, "go", 1)
    deployment.up()
    assert deployment.containers() == before


def test_status_reports_every_service(deployment: Deployment) -> None:
    run = deployment.faktctl("status", "--json")
    assert run.code == 0, run.output
    document = json.loads(run.stdout)
    assert document["faktctl"] == 1 and document["command"] == "status"
    result = document["result"]
    assert result["up_to_date"] is True and result["drift"] == []
    services = {s["name"]: s for s in result["services"]}
    assert set(services) == {"faktory", "go", "spare"}
    server = services["faktory"]["containers"][0]
    assert server["state"] == "running" and server["health"] == "healthy"
    assert f"127.0.0.1:{deployment.protocol_port}->7419/tcp" in server["ports"]
    assert services["go"]["replicas"] == {"desired": 1, "running": 1}

    table = deployment.faktctl("status")
    assert table.code == 0 and "up to date with the spec" in table.stdout

    _set_replicas(deployment, "spare", 0)
    try:
        drift = deployment.faktctl("status", "--json")
        assert drift.code == 1
        assert json.loads(drift.stdout)["result"]["drift"] == [
            f"scale down spare: 1 → 0 (remove {deployment.project}-spare-1)"
        ]
    finally:
        _set_replicas(deployment, "spare", 1)


def test_status_reads_the_spec_and_password_anew_when_they_change(
    deployment: Deployment,
) -> None:
    """Issue 16: a repeated `status` takes the desired state from faktctl's cache (no pydantic
    imported, the spec not parsed), and a changed password file is seen at once: drift on the
    server, and the server refusing the new password."""
    first = deployment.faktctl("status", "--json")
    assert first.code == 0, first.output
    timed = deployment.faktctl("status", "--json", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert timed.code == 0, timed.output
    imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines()}
    assert "faktctl.desired" in imported
    assert "pydantic" not in imported and "faktctl.spec.model" not in imported
    heavy = {"docker", "requests", "urllib3", "typer"}  # the engine is on a plain socket here
    assert not {name.split(".")[0] for name in imported} & heavy
    uncached = deployment.faktctl("status", "--json", env={CACHE_DIR_VAR: ""})
    assert uncached.code == 0, uncached.output

    def comparable(run: CliResult) -> dict[str, Any]:
        result = json.loads(run.stdout)["result"]
        faktory = result.pop("faktory")
        for service in result["services"]:
            for container in service["containers"]:
                container.pop("status")
        return {**result, "faktory_version": faktory["version"]}

    assert comparable(timed) == comparable(uncached)

    password_file = deployment.folder / "secrets" / "faktory_password"
    kept, old_password = password_file.read_bytes(), deployment.password
    password_file.write_text("a-new-password-nobody-has-set-yet\n")
    try:
        changed = deployment.faktctl("status", "--json")
        assert changed.code == 1, changed.output
        result = json.loads(changed.stdout)["result"]
        assert any(
            line.startswith("recreate faktory: password or password file changed")
            for line in result["drift"]
        ), result["drift"]
        assert result["faktory"]["reachable"] is False
        assert "a-new-password" not in changed.output and old_password not in changed.output
    finally:
        password_file.write_bytes(kept)
    again = deployment.faktctl("status", "--json")
    assert again.code == 0 and json.loads(again.stdout)["result"]["faktory"]["reachable"] is True


def test_logs_show_each_container_with_the_password_redacted(deployment: Deployment) -> None:
    run = deployment.faktctl("logs", "--tail", "5")
    assert run.code == 0, run.output
    prefixes = {line.split(" | ", 1)[0].strip() for line in run.stdout.splitlines()}
    assert f"{deployment.project}-faktory-1" in prefixes
    assert f"{deployment.project}-go-1" in prefixes
    server_only = deployment.faktctl("logs", "faktory")
    assert "listening at 0.0.0.0:7419" in server_only.stdout
    assert all(
        line.startswith(f"{deployment.project}-faktory-1")
        for line in server_only.stdout.splitlines()
    )
    assert_password_never_printed(deployment)


# --- the engine's view equals the rendered compose.yaml -----------------------------------------


def _compose_mounts(
    service: dict[str, Any], compose: dict[str, Any], folder: Path
) -> set[tuple[str, str, str, bool]]:
    found = set()
    for volume in service.get("volumes", []):
        if volume["type"] == "volume":
            source = compose["volumes"][volume["source"]]["name"]
        else:
            source = str((folder / volume["source"]).resolve())
        found.add((volume["type"], source, volume["target"], bool(volume.get("read_only"))))
    for secret in service.get("secrets", []):
        path = str((folder / compose["secrets"][secret["source"]]["file"]).resolve())
        found.add(("bind", path, f"/run/secrets/{secret['target']}", True))
    return found


def _engine_mounts(attrs: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
    return {
        (
            m["Type"],
            m["Name"] if m["Type"] == "volume" else m["Source"],
            m["Destination"],
            not m["RW"],
        )
        for m in attrs["Mounts"]
    }


def _compose_ports(service: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = set()
    for text in service.get("ports", []):
        host_ip, host_port, container_port = text.rsplit(":", 2)
        found.add((host_ip, host_port, f"{container_port}/tcp"))
    return found


def _engine_ports(attrs: dict[str, Any]) -> set[tuple[str, str, str]]:
    bindings = attrs["HostConfig"]["PortBindings"] or {}
    return {(b["HostIp"], b["HostPort"], port) for port, items in bindings.items() for b in items}


def _bytes(text: str | None) -> int:
    if text is None:
        return 0
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def _seconds(text: str) -> int:
    return int(text.removesuffix("s"))


def _env_names(attrs: dict[str, Any], image_env: list[str]) -> set[str]:
    image_names = {item.split("=", 1)[0] for item in image_env}
    names = {item.split("=", 1)[0] for item in attrs["Config"]["Env"]}
    return names - image_names


def test_engine_view_matches_the_rendered_compose_file(
    deployment: Deployment, docker_client: docker.DockerClient
) -> None:
    rendered = deployment.faktctl("render")
    assert rendered.code == 0, rendered.output
    compose = yaml.safe_load((deployment.folder / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        attrs = deployment.inspect(f"{deployment.project}-{name}-1")
        image = docker_client.api.inspect_image(service["image"])  # type: ignore[no-untyped-call]
        image_env = image["Config"].get("Env") or []
        assert attrs["Config"]["Image"] == service["image"], name
        if "command" in service:
            assert attrs["Config"]["Cmd"] == service["command"], name
        assert _env_names(attrs, image_env) == set(service.get("environment", {})), name
        assert _engine_mounts(attrs) == _compose_mounts(service, compose, deployment.folder), name
        assert _engine_ports(attrs) == _compose_ports(service), name
        assert attrs["HostConfig"]["RestartPolicy"]["Name"] == service["restart"], name
        network = compose["networks"]["default"]["name"]
        assert name in attrs["NetworkSettings"]["Networks"][network]["Aliases"], name
        assert attrs["HostConfig"]["Memory"] == _bytes(service.get("mem_limit")), name
        check = service.get("healthcheck")
        engine_check = attrs["Config"].get("Healthcheck")
        if check is None:
            assert engine_check is None, name
            continue
        assert engine_check["Test"] == check["test"], name
        assert engine_check["Interval"] == _seconds(check["interval"]) * 10**9
        assert engine_check["Timeout"] == _seconds(check["timeout"]) * 10**9
        assert engine_check["Retries"] == check["retries"]
        assert engine_check["StartPeriod"] == _seconds(check["start_period"]) * 10**9
