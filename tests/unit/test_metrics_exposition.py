"""`faktctl metrics` (issue 25), the pure parts: the series table, the exposition in both
formats, the samples of a reading, the shared time-bounded read, `--listen`'s address rule,
the alert rules and the systemd units."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from faktctl.commands.metrics import parse_listen
from faktctl.errors import UsageError
from faktctl.live.view import LastSave, from_info, unreachable
from faktctl.monitoring import exposition, rules, units
from faktctl.monitoring.exposition import Sample, negotiate, render
from faktctl.monitoring.reading import BackupState, ErrorCounts, Reading, samples
from faktctl.monitoring.series import FAMILIES
from faktctl.monitoring.serve import SharedRead
from faktctl.spec.model import Spec
from faktctl.spec.monitoring import Monitoring

INFO: dict[str, Any] = {
    "faktory": {
        "queues": {"mail": 2, "default": 7},
        "sets": {"dead": 1, "retries": 3, "scheduled": 4, "working": 2},
        "tasks": {"Workers": {"size": 5}},
        "total_failures": 6,
        "total_processed": 40,
    },
    "server": {
        "description": "Faktory",
        "faktory_version": "1.10.0",
        "uptime": 3725,
        "connections": 12,
        "command_count": 99,
        "used_memory_mb": 7,
    },
}


def _values(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def _up_reading(**more: Any) -> Reading:
    view = from_info(INFO, "127.0.0.1:7419")
    save = LastSave(age_s=42.0, status="ok", changes_since=3, in_progress=False)
    from dataclasses import replace

    return Reading(
        "demo",
        "ok",
        replace(view, last_save=save),
        latencies={"default": 1.5, "mail": 0.0},
        workers={"go": 2},
        processes={"go": (2, 3), "": (1, 0)},
        orphans=(4, 90.0),
        backups=(
            BackupState("backups", True, 120.0, 4096, True, True),
            BackupState("/mnt/off", False),
        ),
        backup_max_age_s=86400.0,
        duration_s=0.012,
        **more,
    )


def test_the_series_table_names_every_family_once_with_help_and_base_units() -> None:
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    for family in FAMILIES:
        assert re.fullmatch(r"faktory_[a-z_]+", family.name)
        assert family.help and family.labels[0] == "project"
        assert not family.name.endswith(("_ms", "_mb", "_minutes"))
        if family.kind == "counter":
            assert family.name.endswith("_total")
        if family.kind == "info":
            assert family.name.endswith("_info")


def test_a_server_that_is_up_gives_every_value_of_info_and_latency() -> None:
    text = render(samples(_up_reading(), ErrorCounts().counts))
    got = _values(text)
    assert got['faktory_up{project="demo"}'] == 1
    assert got['faktory_up_reason_info{project="demo",reason="ok"}'] == 1
    assert got['faktory_server_info{project="demo",version="1.10.0",description="Faktory"}'] == 1
    assert got['faktory_queue_jobs{project="demo",queue="default"}'] == 7
    assert got['faktory_queue_latency_seconds{project="demo",queue="default"}'] == 1.5
    assert got['faktory_set_jobs{project="demo",set="working"}'] == 2
    assert got['faktory_jobs_processed_total{project="demo"}'] == 40
    assert got['faktory_jobs_failed_total{project="demo"}'] == 6
    assert got['faktory_server_connections_limit{project="demo"}'] == 2000
    assert got['faktory_server_commands_total{project="demo"}'] == 99
    assert got['faktory_server_memory_bytes{project="demo"}'] == 7 * 2**20
    assert got['faktory_workers_connected{project="demo"}'] == 5
    assert got['faktory_worker_containers_running{project="demo",worker="go"}'] == 2
    assert got['faktory_worker_processes{project="demo",worker="go"}'] == 2
    assert got['faktory_worker_busy_jobs{project="demo",worker="go"}'] == 3
    assert got['faktory_worker_processes{project="demo",worker=""}'] == 1
    assert got['faktory_reservations_orphaned{project="demo"}'] == 4
    assert got['faktory_reservations_orphaned_oldest_seconds{project="demo"}'] == 90
    assert got['faktory_data_last_save_age_seconds{project="demo"}'] == 42
    assert got['faktory_data_last_bgsave_ok{project="demo"}'] == 1
    assert got['faktory_backup_newest_age_seconds{project="demo",destination="backups"}'] == 120
    assert got['faktory_backup_destination_readable{project="demo",destination="/mnt/off"}'] == 0
    assert 'faktory_backup_newest_age_seconds{project="demo",destination="/mnt/off"}' not in got
    for family in FAMILIES:  # every family is declared, even without a sample
        assert f"# HELP {family.name} " in text and f"# TYPE {family.name} " in text


def test_an_old_server_has_no_latency_series_and_says_so() -> None:
    from dataclasses import replace

    text = render(samples(replace(_up_reading(), latencies=None), {}))
    assert "faktory_queue_latency_seconds{" not in text
    assert 'faktory_queue_latency_available{project="demo"} 0' in text


def test_a_server_that_cannot_be_read_is_up_0_with_its_reason_and_nothing_invented() -> None:
    reading = Reading("demo", "refused", unreachable("HELLO refused"), failed_parts=("server",))
    text = render(samples(reading, ErrorCounts().add(reading)))
    got = _values(text)
    assert got['faktory_up{project="demo"}'] == 0
    assert got['faktory_up_reason_info{project="demo",reason="refused"}'] == 1
    assert got['faktory_scrape_errors_total{project="demo",part="server"}'] == 1
    assert not any(k.startswith(("faktory_queue_jobs", "faktory_set_jobs")) for k in got)


def test_openmetrics_names_families_without_suffixes_and_ends_with_eof() -> None:
    text = render(samples(_up_reading(), {}), openmetrics=True)
    assert "# TYPE faktory_jobs_processed counter" in text
    assert 'faktory_jobs_processed_total{project="demo"} 40' in text
    assert "# TYPE faktory_server info" in text
    assert text.endswith("# EOF\n")
    assert "# EOF" not in render(samples(_up_reading(), {}))


def test_label_values_and_help_are_escaped() -> None:
    text = render([Sample("faktory_queue_jobs", {"project": "p", "queue": 'a"b\\c\nd'}, 1)])
    assert 'faktory_queue_jobs{project="p",queue="a\\"b\\\\c\\nd"} 1' in text
    with pytest.raises(ValueError, match="not a family"):
        render([Sample("faktory_nope", {}, 1)])


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        (None, False),
        ("text/plain", False),
        ("*/*", False),
        (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            True,
        ),
        ("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5", False),
    ],
)
def test_the_scraper_picks_the_format_by_accept(accept: str | None, openmetrics: bool) -> None:
    assert negotiate(accept) is openmetrics
    assert exposition.content_type(openmetrics).startswith(
        "application/openmetrics-text" if openmetrics else "text/plain; version=0.0.4"
    )


def test_concurrent_scrapes_share_one_read() -> None:
    calls = []
    gate = threading.Event()

    def read() -> Reading:
        calls.append(1)
        gate.wait(5)
        return _up_reading()

    shared = SharedRead(read, "demo", timeout=5)
    bodies: list[str] = []
    threads = [
        threading.Thread(target=lambda: bodies.append(shared.exposition(None)[1])) for _ in range(5)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(bodies) == 5
    assert all('faktory_up{project="demo"} 1' in b for b in bodies)


def test_a_read_past_the_timeout_answers_up_0_in_time() -> None:
    release = threading.Event()

    def read() -> Reading:
        release.wait(5)
        return _up_reading()

    shared = SharedRead(read, "demo", timeout=0.3)
    started = time.monotonic()
    _, body = shared.exposition(None)
    assert time.monotonic() - started < 1.5
    assert 'faktory_up_reason_info{project="demo",reason="timeout"} 1' in body
    assert 'faktory_scrape_errors_total{project="demo",part="server"} 1' in body
    release.set()


@pytest.mark.parametrize("address", ["127.0.0.1:9386", "localhost:1", "[::1]:9386"])
def test_listen_takes_loopback(address: str) -> None:
    assert parse_listen(address, allow_remote=False)[1] > 0


@pytest.mark.parametrize("address", ["0.0.0.0:9386", "10.1.2.3:9386", "[::]:9386"])
def test_listen_refuses_other_addresses_unless_asked(address: str) -> None:
    with pytest.raises(UsageError, match="not a loopback address"):
        parse_listen(address, allow_remote=False)
    assert parse_listen(address, allow_remote=True)[1] == 9386


@pytest.mark.parametrize("address", ["9386", "host:", ":80", "h:99999", "h:x"])
def test_listen_needs_host_and_port(address: str) -> None:
    with pytest.raises(UsageError, match="HOST:PORT"):
        parse_listen(address, allow_remote=True)


def test_every_monitoring_field_is_documented_and_has_a_default() -> None:
    for name, field in Monitoring.model_fields.items():
        assert field.description, name
        assert not field.is_required(), name


def test_rules_use_the_spec_thresholds_and_name_the_fix() -> None:
    spec = Spec.model_validate(
        {
            "project": "demo",
            "backup": {"max_age": "6h"},
            "monitoring": {"queue_latency": "10m", "connections_ratio": 0.9},
        }
    )
    found = {a.name: a for a in rules.alerts(spec)}
    assert set(found) >= {
        "FaktoryDown",
        "FaktoryQueueLatencyHigh",
        "FaktoryDeadGrowing",
        "FaktoryRetriesGrowing",
        "FaktorySnapshotFailing",
        "FaktorySnapshotStale",
        "FaktoryBackupStale",
        "FaktoryConnectionsNearLimit",
        "FaktoryOrphanedReservations",
    }
    assert found["FaktoryQueueLatencyHigh"].expr.endswith("> 600")
    assert found["FaktoryBackupStale"].expr.endswith("> 21600")
    assert found["FaktoryConnectionsNearLimit"].expr.endswith("> 0.9")
    for alert in found.values():
        assert alert.severity in ("critical", "warning")
        assert "`faktctl " in alert.description, alert.name
    no_backup = {a.name for a in rules.alerts(Spec(project="demo"))}
    assert "FaktoryBackupStale" not in no_backup


def test_the_listen_unit_restarts_and_the_textfile_unit_has_a_timer() -> None:
    spec = Path("/srv/my faktory/faktory.yaml")
    argv = ("/usr/bin/python3", "-m", "faktctl", "metrics", "-f", str(spec), "--listen", "x:1")
    listen = units.MetricsJob("demo", spec, argv, textfile=False)
    files = units.unit_files(listen)
    assert list(files) == ["faktctl-metrics-demo.service"]
    service = files["faktctl-metrics-demo.service"]
    assert 'ExecStart=/usr/bin/python3 -m faktctl metrics -f "/srv/my faktory/faktory.yaml"' in (
        service
    )
    assert "Restart=always" in service and "WantedBy=multi-user.target" in service
    textfile = units.MetricsJob("demo", spec, argv, textfile=True)
    files = units.unit_files(textfile)
    assert "Type=oneshot" in files["faktctl-metrics-demo.service"]
    assert "OnCalendar=minutely" in files["faktctl-metrics-demo.timer"]
    assert "systemctl enable --now faktctl-metrics-demo.timer" in units.enable_commands(textfile)


def test_parts_read_in_the_background_age_on_and_say_how_old_they_are() -> None:
    from faktctl.monitoring.collect import Around

    save = LastSave(age_s=42.0, status="ok", changes_since=3)
    around = Around("c1", 100.0, {"go": 2}, {"go": (2, 0)}, (1, 30.0), save, ())
    since, aged, orphans = around.at(107.5)
    assert since == 7.5
    assert aged.age_s == 49.5 and aged.status == "ok"
    assert orphans == (1, 37.5)
    assert around.at(99.0)[0] == 0.0  # never negative
    assert around.at(110.0)[2] == (1, 40.0)
    assert Around("c1", 100.0, None, None, (0, 0.0), LastSave(error="no"), ()).at(110.0)[1:] == (
        LastSave(error="no"),
        (0, 0.0),
    )
    text = render(samples(_up_reading(part_ages={"data": 7.5, "workers": 7.5}), {}))
    got = _values(text)
    assert got['faktory_scrape_part_age_seconds{project="demo",part="data"}'] == 7.5
    assert got['faktory_scrape_part_age_seconds{project="demo",part="workers"}'] == 7.5
    assert "faktory_scrape_part_age_seconds{" not in render(samples(_up_reading(), {}))
