"""The live audit's reading of a swarm service (pure: a task container's inspect data and its
service's inspect data in, findings out; the engine side is in tests/e2e/test_swarm_backup.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faktctl.audit.model import AuditFacts
from faktctl.audit.runner import audit
from faktctl.audit.sources.live import server_facts, swarm_server_facts

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
TASK: dict[str, Any] = {
    "Id": "c" * 64,
    "Name": "/shop_faktory.1.abc",
    "Config": {
        "Image": "sha256:" + "f" * 64,
        "Entrypoint": ["/faktory"],
        "Cmd": ["-b", ":7419", "-w", ":7420", "-e", "production"],
        "Env": ["FAKTORY_PASSWORD=Zq7-vLx2-Rt9w-Hn4k-Pb6s-Yd3m", "PATH=/usr/bin"],
        "Labels": {"com.docker.swarm.service.id": "svc"},
    },
    "HostConfig": {"RestartPolicy": {"Name": "no"}},
    "Mounts": [{"Type": "volume", "Name": "shop_data", "Destination": "/var/lib/faktory"}],
    "State": {"Status": "running", "Running": True},
}


def _service(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Name": "shop_faktory",
        "Mode": {"Replicated": {"Replicas": 1}},
        "TaskTemplate": {
            "ContainerSpec": {
                "Env": ["FAKTORY_PASSWORD=Zq7-vLx2-Rt9w-Hn4k-Pb6s-Yd3m"],
                "StopGracePeriod": 30_000_000_000,
            },
            "RestartPolicy": {"Condition": "on-failure"},
            "Resources": {"Limits": {"MemoryBytes": 1 << 30}},
            "Placement": {},
        },
        "UpdateConfig": {"Order": "start-first"},
    }
    spec.update(changes)
    return {"Spec": spec, "Endpoint": {"Ports": [
        {"Protocol": "tcp", "TargetPort": 7419, "PublishedPort": 7419, "PublishMode": "ingress"}
    ]}}  # fmt: skip


def _statuses(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    facts = swarm_server_facts(server_facts(TASK), service, "node-1")
    report = audit(AuditFacts(kind="live", file=None, now=NOW, servers=(facts,)))
    return {f.id: (f.status, f.message) for f in report.findings}


def test_a_bad_swarm_service_is_judged_by_what_the_service_says() -> None:
    found = _statuses(_service())
    assert found["FKD030"][0] == "fail" and "ingress mode" in found["FKD030"][1]
    assert found["FKD002"][0] == "fail"
    assert found["FKS004"][0] == "fail" and "swarm service's environment" in found["FKS004"][1]
    assert found["FKH003"][0] == "fail"
    assert found["FKH003"][1].startswith("the service's restart_policy.condition: on-failure")
    assert found["FKP030"][0] == "fail" and found["FKP031"][0] == "fail"
    assert found["FKP003"][0] == "pass"  # the service's 30 s grace period


def test_a_pinned_service_with_nothing_published_passes_the_swarm_checks() -> None:
    service = _service(UpdateConfig={"Order": "stop-first"})
    service["Spec"]["TaskTemplate"]["Placement"] = {"Constraints": ["node.hostname==node-1"]}
    service["Spec"]["TaskTemplate"]["RestartPolicy"] = {"Condition": "any"}
    service["Endpoint"] = {}
    found = _statuses(service)
    for check in ("FKP030", "FKP031", "FKD030", "FKD002", "FKH003", "FKP004"):
        assert found[check][0] == "pass", (check, found[check])
    assert "node-1" in found["FKP030"][1]


def test_replicas_beyond_one_fail_the_single_writer_check() -> None:
    found = _statuses(_service(Mode={"Replicated": {"Replicas": 2}}))
    assert found["FKP004"][0] == "fail" and "2 replicas" in found["FKP004"][1]
