"""The one registry of checks: stable ids, complete metadata, every category used."""

from __future__ import annotations

from typing import Any

import pytest

from faktctl.audit import registry
from faktctl.audit.model import CATEGORIES
from faktctl.audit.registry import RETIRED, all_rules, server_rule
from faktctl.audit.sources.live import is_server, server_facts

# Ids are part of the interface (suppressions, SARIF, CI filters): this list only ever grows.
KNOWN_IDS = {
    "FKP001", "FKP002", "FKP003", "FKP004", "FKP010", "FKP011", "FKP012",
    "FKM001", "FKM002", "FKM003", "FKM004", "FKM005",
    "FKS001", "FKS002", "FKS003", "FKS004", "FKS005", "FKS006", "FKS007", "FKS008", "FKS009",
    "FKS010", "FKS020", "FKS021",
    "FKD001", "FKD002", "FKD003", "FKD004", "FKD010",
    "FKB001", "FKB002", "FKB003",
    "FKH001", "FKH002", "FKH003", "FKH004", "FKH005", "FKH006", "FKH007", "FKH008", "FKH009",
    "FKH010", "FKH011", "FKH012", "FKH013", "FKH020", "FKH021",
}  # fmt: skip
# Kubernetes input (faktctl/audit/rules/kubernetes.py)
KNOWN_IDS |= {"FKP020", "FKP021", "FKD020", "FKD021", "FKD022", "FKS030", "FKH030", "FKH031"}
KNOWN_IDS |= {"FKP030", "FKP031", "FKD030"}  # swarm (issue 14)
KNOWN_IDS |= {"FKD040", "FKD041", "FKD042", "FKD043", "FKH040"}  # TLS (issue 26)
KNOWN_IDS |= {"FKS011"}  # the secret files exist on the deploy host (issue 22)
KNOWN_IDS |= {"FKH014", "FKH015", "FKH022"}  # workers at stop, orphaned reservations (issue 23)


def test_ids_are_stable_and_never_reused() -> None:
    ids = {rule.meta.id for rule in all_rules()}
    assert ids == KNOWN_IDS
    assert not ids & RETIRED


def test_metadata_is_complete() -> None:
    names = set()
    for rule in all_rules():
        meta = rule.meta
        assert meta.category in CATEGORIES
        assert meta.severity in {"error", "warning", "info"}
        assert meta.title and meta.remediation.endswith((".", ")")), meta.id
        assert meta.name not in names
        names.add(meta.name)
        assert rule.inputs, meta.id
    assert {rule.meta.category for rule in all_rules()} == set(CATEGORIES)


def test_a_taken_or_mismatched_id_is_refused() -> None:
    with pytest.raises(ValueError, match="already taken"):
        server_rule("FKP001", "persistence", "error", "t", "r.")
    with pytest.raises(ValueError, match="does not match its category"):
        server_rule("FKP099", "hygiene", "error", "t", "r.")
    assert "FKP099" not in registry.REGISTRY


INSPECT: dict[str, Any] = {
    "Id": "c0ffee",
    "Name": "/shop-faktory-1",
    "Config": {
        "Image": "contribsys/faktory:1.9.4",
        "Cmd": ["/faktory", "-e", "production", "-b", ":7419", "-w", ":7420"],
        "Entrypoint": None,
        "Env": ["FAKTORY_PASSWORD=/run/secrets/faktory_password", "HOME=/root"],
        "Healthcheck": {"Test": ["CMD", "wget", "-q", "http://127.0.0.1:7420/health"]},
        "StopTimeout": 60,
        "User": "",
    },
    "HostConfig": {
        "PortBindings": {"7420/tcp": [{"HostIp": "127.0.0.1", "HostPort": "7420"}],
                         "7419/tcp": [{"HostIp": "", "HostPort": "7419"}]},
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
        "Memory": 2147483648,
        "NetworkMode": "shop_default",
        "Tmpfs": {"/tmp": ""},
    },
    "Mounts": [
        {"Type": "volume", "Name": "shop_data", "Destination": "/var/lib/faktory", "RW": True},
        {"Type": "volume", "Name": "a" * 64, "Destination": "/scratch", "RW": True},
        {"Type": "bind", "Source": "/srv/pw", "Destination": "/run/secrets/faktory_password",
         "RW": False},
    ],
    "State": {"Status": "running", "Health": {"Status": "healthy"}},
    "RestartCount": 2,
}  # fmt: skip


def test_live_facts_from_an_inspect_document() -> None:
    assert is_server(INSPECT)
    facts = server_facts(INSPECT, "proxy")
    assert facts.service == "shop-faktory-1"
    assert facts.argv == tuple(INSPECT["Config"]["Cmd"])
    assert facts.env["FAKTORY_PASSWORD"].origin == "engine"
    kinds = {m.target: m.kind for m in facts.mounts}
    assert kinds == {
        "/var/lib/faktory": "volume",
        "/scratch": "anonymous",
        "/run/secrets/faktory_password": "bind",
        "/tmp": "tmpfs",
    }
    ports = {(p.container_port, p.host_ip) for p in facts.ports}
    assert ports == {(7420, "127.0.0.1"), (7419, "")}
    assert facts.restart == "on-failure:3" and facts.stop_grace_s == 60
    assert facts.memory_bytes == 2 * 1024**3 and facts.exposure_intent == "proxy"
    assert facts.live is not None
    assert (facts.live.status, facts.live.health, facts.live.restart_count) == (
        "running",
        "healthy",
        2,
    )
