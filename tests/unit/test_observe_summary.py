"""Reading the engine's container list (one query) instead of one inspect per container: what
`status`, `down` and `logs` get from a summary, and how `status` shows it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from faktctl import labels
from faktctl.desired import Publish
from faktctl.platforms.engine.observe import health_from_status, parse_summary, stop_grace_known
from faktctl.platforms.engine.plan import plan
from faktctl.platforms.engine.status import render_table, status_document
from tests.support.planning import desired_from, everything, observed_with

SUMMARY = {
    "Id": "c0ffee" * 10,
    "Names": ["/shop-faktory-1"],
    "Image": "contribsys/faktory:1.9.4",
    "ImageID": "sha256:aaa111",
    "Labels": {
        labels.SERVICE: "faktory",
        labels.REPLICA: "1",
        labels.CONFIG_HASH: "abc",
        labels.CONFIG_PARTS: json.dumps({"image": "contribsys/faktory:1.9.4", "stop_grace": 60}),
    },
    "State": "running",
    "Status": "Up 7 minutes (healthy)",
    "Ports": [
        {"IP": "127.0.0.1", "PrivatePort": 7420, "PublicPort": 7420, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 7419, "PublicPort": 7419, "Type": "tcp"},
        {"PrivatePort": 7421, "Type": "tcp"},
    ],
    "NetworkSettings": {"Networks": {"shop_default": {"IPAddress": "172.18.0.2"}}},
}


def test_a_summary_gives_what_the_plan_and_status_need() -> None:
    container = parse_summary(SUMMARY)
    assert container.name == "shop-faktory-1" and container.service == "faktory"
    assert (container.replica, container.config_hash, container.image_id) == (
        1,
        "abc",
        "sha256:aaa111",
    )
    assert container.state == "running" and container.health == "healthy"
    assert container.ports == (Publish(7419, "127.0.0.1", 7419), Publish(7420, "127.0.0.1", 7420))
    assert container.ip_addresses == {"shop_default": "172.18.0.2"}
    assert container.stop_timeout_s == 60 and stop_grace_known(container)
    assert not container.detailed and container.started_at is None
    assert container.status_text == "Up 7 minutes (healthy)"


def test_health_and_exit_code_come_from_the_status_text() -> None:
    assert health_from_status("Up 3 seconds (health: starting)") == "starting"
    assert health_from_status("Up 2 hours (unhealthy)") == "unhealthy"
    assert health_from_status("Up 2 hours") is None
    exited = parse_summary({**SUMMARY, "State": "exited", "Status": "Exited (137) 5 seconds ago"})
    assert exited.exit_code == 137 and exited.health is None and not exited.is_running


def test_a_worker_without_a_grace_period_label_is_known_and_a_foreign_one_is_not() -> None:
    parts = json.dumps({"image": "w:1", "stop_grace": None})
    worker = parse_summary({**SUMMARY, "Labels": {labels.CONFIG_PARTS: parts}})
    assert worker.stop_timeout_s is None and stop_grace_known(worker)
    foreign = parse_summary({**SUMMARY, "Labels": {}, "Names": []})
    assert foreign.name == "" and not stop_grace_known(foreign)


def test_status_from_summaries_shows_the_engine_s_uptime_and_no_restart_column() -> None:
    desired = desired_from(
        "project: shop\nworkers:\n  - {name: emails, image: 'emails:1', replicas: 2}\n"
    )
    observed = observed_with(desired, everything(desired))
    summarised = replace(
        observed,
        containers=tuple(
            replace(c, detailed=False, restart_count=0, started_at=None, status_text="Up 2 hours")
            for c in observed.containers
        ),
    )
    document = status_document(desired, summarised, plan(desired, summarised), datetime.now(UTC))
    assert document["verbose"] is False
    first = document["services"][0]["containers"][0]
    assert first["restart_count"] is None and first["uptime_s"] is None
    assert first["status"] == "Up 2 hours"
    table = render_table(document)
    assert table.splitlines()[0].split() == [
        "SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS", "IMAGE", "UPTIME"
    ]  # fmt: skip
    assert table.splitlines()[1].endswith("2 hours")

    verbose = status_document(desired, observed, plan(desired, observed), datetime.now(UTC))
    assert verbose["verbose"] is True
    assert "RESTARTS" in render_table(verbose).splitlines()[0]


def test_up_inspects_only_containers_a_summary_cannot_vouch_for() -> None:
    from faktctl.platforms.engine.observe import needs_inspect

    settled = parse_summary({**SUMMARY, "Status": "Up 7 minutes"})
    assert not needs_inspect(settled)
    assert needs_inspect(parse_summary({**SUMMARY, "Status": "Up 4 seconds"}))
    assert needs_inspect(parse_summary({**SUMMARY, "Status": "Up Less than a second"}))
    assert needs_inspect(parse_summary({**SUMMARY, "State": "exited", "Status": "Exited (1)"}))
    assert needs_inspect(parse_summary({**SUMMARY, "Labels": {}}))
