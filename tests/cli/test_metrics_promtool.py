"""Issue 25, checked by Prometheus's own tool (promtool, built from the Go module proxy):
the exposition `faktctl metrics` prints is valid (`promtool check metrics`), the rules
`render --target prometheus` writes are valid (`check rules`), and they fire on the series
they are meant for and stay quiet otherwise (`promtool test rules`: input series in,
expected alerts out). No engine: the exposition here is that of an engine faktctl cannot
reach (faktory_up 0, reason engine); tests/e2e/test_metrics_live.py checks a live server's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from faktctl.monitoring import rules
from faktctl.spec.model import Spec
from tests.support.cli import run_faktctl
from tests.support.prometheus import promtool

SPEC = """\
project: shop
backup: {destination: backups, max_age: 6h}
monitoring: {queue_latency: 5m, dead_growth: 0, retries_growth: 10, growth_window: 10m}
"""
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "DOCKER_CONTEXT": ""}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    (tmp_path / "faktory.yaml").write_text(SPEC)
    return tmp_path


def _promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(promtool()), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_exposition_passes_promtool_check_metrics(project: Path) -> None:
    run = run_faktctl("metrics", cwd=project, env=NO_ENGINE)
    assert run.code == 0, run.output
    assert 'faktory_up{project="shop"} 0' in run.stdout
    assert 'faktory_up_reason_info{project="shop",reason="engine"} 1' in run.stdout
    assert 'faktory_backup_destination_readable{project="shop",destination="backups"} 1' in (
        run.stdout
    )
    _promtool("check", "metrics", stdin=run.stdout)


def test_the_textfile_is_written_whole_and_readable(project: Path) -> None:
    target = project / "textfile" / "faktory.prom"
    target.parent.mkdir()
    run = run_faktctl("metrics", "--textfile", str(target), cwd=project, env=NO_ENGINE)
    assert run.code == 0 and run.stdout == "", run.output
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["faktory.prom"]  # no temp left
    _promtool("check", "metrics", stdin=target.read_text())


def test_a_non_loopback_listen_is_refused_in_one_line(project: Path) -> None:
    run = run_faktctl("metrics", "--listen", "0.0.0.0:9386", cwd=project, env=NO_ENGINE)
    assert run.code == 2 and "not a loopback address" in run.output
    assert "Traceback" not in run.output


def test_the_rendered_rules_pass_promtool_check_rules_and_render_check(project: Path) -> None:
    run = run_faktctl("render", "--target", "prometheus", cwd=project)
    assert run.code == 0, run.output
    path = project / "prometheus" / "faktory-rules.yaml"
    out = _promtool("check", "rules", str(path))
    assert "SUCCESS" in out
    assert run_faktctl("render", "--target", "prometheus", "--check", cwd=project).code == 0
    (project / "faktory.yaml").write_text(SPEC.replace("queue_latency: 5m", "queue_latency: 9m"))
    stale = run_faktctl("render", "--target", "prometheus", "--check", cwd=project)
    assert stale.code == 1 and "> 540" in stale.output


def _alert(spec: Spec, name: str, labels: dict[str, str], **annotations: str) -> dict[str, Any]:
    found = next(a for a in rules.alerts(spec) if a.name == name)
    return {
        "exp_labels": {"severity": found.severity, **labels},
        "exp_annotations": {"description": found.description, **annotations},
    }


def test_the_rules_fire_on_their_series_and_only_then(project: Path) -> None:
    assert run_faktctl("render", "--target", "prometheus", cwd=project).code == 0
    spec = Spec.model_validate(yaml.safe_load(SPEC))
    p = {"project": "shop"}
    series = [
        # the server answers for 5 minutes, then not
        {"series": 'faktory_up{project="shop"}', "values": "1x5 0x10"},
        # queue a waits longer and longer, queue b never waits
        {"series": 'faktory_queue_latency_seconds{project="shop",queue="a"}', "values": "0+60x20"},
        {"series": 'faktory_queue_latency_seconds{project="shop",queue="b"}', "values": "0x20"},
        # the dead set grows at minute 3; retries stay
        {"series": 'faktory_set_jobs{project="shop",set="dead"}', "values": "0x2 4x17"},
        {"series": 'faktory_set_jobs{project="shop",set="retries"}', "values": "5x20"},
        {"series": 'faktory_data_last_bgsave_ok{project="shop"}', "values": "1x20"},
        {"series": 'faktory_data_last_save_age_seconds{project="shop"}', "values": "60x20"},
        {"series": 'faktory_server_connections{project="shop"}', "values": "1900x20"},
        {"series": 'faktory_server_connections_limit{project="shop"}', "values": "2000x20"},
        # the newest backup is 5h old and ages
        {
            "series": 'faktory_backup_newest_age_seconds{project="shop",destination="backups"}',
            "values": "18000+60x20",
        },
        {
            "series": 'faktory_backup_last_ok{project="shop",destination="backups"}',
            "values": "1x20",
        },
    ]
    tests = {
        "rule_files": ["prometheus/faktory-rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "4m", "alertname": "FaktoryDown", "exp_alerts": []},
                    {
                        "eval_time": "8m",
                        "alertname": "FaktoryDown",
                        "exp_alerts": [
                            _alert(
                                spec,
                                "FaktoryDown",
                                p,
                                summary="The Faktory server of shop is down",
                            )
                        ],
                    },
                    # a waits 300 s at minute 5: over 5m from minute 6, for 5m -> minute 11
                    {"eval_time": "10m", "alertname": "FaktoryQueueLatencyHigh", "exp_alerts": []},
                    {
                        "eval_time": "12m",
                        "alertname": "FaktoryQueueLatencyHigh",
                        "exp_alerts": [
                            _alert(
                                spec,
                                "FaktoryQueueLatencyHigh",
                                {**p, "queue": "a"},
                                summary="Queue a of shop: the oldest job has waited 12m 0s",
                            )
                        ],
                    },
                    {"eval_time": "2m", "alertname": "FaktoryDeadGrowing", "exp_alerts": []},
                    {
                        "eval_time": "5m",
                        "alertname": "FaktoryDeadGrowing",
                        "exp_alerts": [
                            _alert(
                                spec,
                                "FaktoryDeadGrowing",
                                {**p, "set": "dead"},
                                summary="The dead set of shop grew by more than 0 jobs in 10m",
                            )
                        ],
                    },
                    {"eval_time": "15m", "alertname": "FaktoryRetriesGrowing", "exp_alerts": []},
                    {"eval_time": "15m", "alertname": "FaktorySnapshotFailing", "exp_alerts": []},
                    {"eval_time": "15m", "alertname": "FaktorySnapshotStale", "exp_alerts": []},
                    {"eval_time": "15m", "alertname": "FaktoryBackupFailing", "exp_alerts": []},
                    # 5 h + 60 min = 6 h at minute 60: still quiet at minute 19
                    {"eval_time": "19m", "alertname": "FaktoryBackupStale", "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": "FaktoryConnectionsNearLimit",
                        "exp_alerts": [
                            _alert(
                                spec,
                                "FaktoryConnectionsNearLimit",
                                p,
                                summary="shop uses 95% of the server's connections",
                            )
                        ],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'faktory_backup_newest_age_seconds{project="shop",'
                        'destination="backups"}',
                        "values": "21300+60x10",
                    },
                    {"series": 'faktory_data_last_bgsave_ok{project="shop"}', "values": "0x10"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "7m",
                        "alertname": "FaktoryBackupStale",
                        "exp_alerts": [
                            _alert(
                                spec,
                                "FaktoryBackupStale",
                                {**p, "destination": "backups"},
                                summary="The newest backup of shop in backups is 6h 2m 0s old",
                            )
                        ],
                    },
                    {
                        "eval_time": "6m",
                        "alertname": "FaktorySnapshotFailing",
                        "exp_alerts": [
                            _alert(
                                spec,
                                "FaktorySnapshotFailing",
                                p,
                                summary="The Faktory server of shop cannot save its data",
                            )
                        ],
                    },
                    {"eval_time": "3m", "alertname": "FaktorySnapshotFailing", "exp_alerts": []},
                ],
            },
        ],
    }
    (project / "rules-test.yaml").write_text(json.dumps(tests, indent=1))
    out = _promtool("test", "rules", "rules-test.yaml", cwd=project)
    assert "SUCCESS" in out


def test_install_writes_the_units_it_names(project: Path) -> None:
    out = project / "units"
    run = run_faktctl(
        "metrics", "--textfile", "/var/lib/node_exporter/faktory.prom", "--install",
        "--out", str(out), cwd=project, env=NO_ENGINE,
    )  # fmt: skip
    assert run.code == 0, run.output
    service = (out / "faktctl-metrics-shop.service").read_text()
    timer = (out / "faktctl-metrics-shop.timer").read_text()
    assert f"-m faktctl metrics -f {project / 'faktory.yaml'}" in service
    assert "--textfile /var/lib/node_exporter/faktory.prom" in service
    assert "OnCalendar=minutely" in timer
    assert "systemctl enable --now faktctl-metrics-shop.timer" in run.output
    listen = run_faktctl(
        "metrics", "--listen", "127.0.0.1:9386", "--install", "--out", str(out),
        cwd=project, env=NO_ENGINE,
    )  # fmt: skip
    assert listen.code == 0, listen.output
    assert "Restart=always" in (out / "faktctl-metrics-shop.service").read_text()
    alone = run_faktctl("metrics", "--install", "--out", str(out), cwd=project, env=NO_ENGINE)
    assert alone.code == 2 and "--listen HOST:PORT or --textfile PATH" in alone.output
