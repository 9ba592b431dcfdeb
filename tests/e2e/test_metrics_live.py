"""Issue 25 on a live deployment: `faktctl metrics` equals what the server says over the wire
(INFO and QUEUE LATENCY) on Faktory 1.9.4 and 1.10.0 and passes `promtool check metrics`; a
real Prometheus scrapes `faktctl metrics --listen` and evaluates the rendered rules: stopping
the server turns faktory_up to 0 within one scrape and fires FaktoryDown, and a stale backup
fires FaktoryBackupStale (read from Prometheus's /api/v1/alerts)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from faktctl.monitoring.series import REFRESH_S
from tests.support.e2e_fixtures import FAKTORY_OLD_VERSION, FAKTORY_VERSION
from tests.support.local import free_port, wait_until
from tests.support.producer import make_job
from tests.support.prometheus import prometheus_server, promtool
from tests.support.upkit import Deployment, go_worker, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

PUSHED = {"metrics-a": 3, "metrics-b": 1, "metrics-c": 5}


def _values(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def _deploy(make: Callable[..., Deployment], image: str | None, **backup: Any) -> Deployment:
    deployment = make()

    def settings(spec: dict[str, Any]) -> None:
        if image is not None:
            spec["server"]["image"] = image
        spec["backup"] = {"destination": "backups", **backup}
        spec["monitoring"] = {"server_down_for": "1s", "alert_for": "1s"}

    deployment.edit(settings)
    deployment.up()
    with deployment.connect() as conn:
        for queue, count in PUSHED.items():
            for n in range(count):
                conn.push(make_job("MetricsJob", [n], queue=queue))
    return deployment


@pytest.mark.parametrize("version", [FAKTORY_VERSION, FAKTORY_OLD_VERSION])
def test_metrics_equal_info_and_queue_latency_over_the_wire(
    make_deployment: Callable[..., Deployment], faktory_old_image: str, version: str
) -> None:
    image = faktory_old_image if version == FAKTORY_OLD_VERSION else None
    deployment = _deploy(make_deployment, image)
    run = deployment.faktctl("metrics")
    assert run.code == 0, run.output
    with deployment.connect() as conn:
        info = conn.info()
        latency = conn.queue_latency(sorted(PUSHED))
    got = _values(run.stdout)
    p = f'project="{deployment.project}"'
    assert got[f"faktory_up{{{p}}}"] == 1
    assert got[f'faktory_server_info{{{p},version="{version}",description="Faktory"}}'] == 1
    for queue, count in PUSHED.items():
        assert got[f'faktory_queue_jobs{{{p},queue="{queue}"}}'] == count
        assert info["faktory"]["queues"][queue] == count
        scraped = got[f'faktory_queue_latency_seconds{{{p},queue="{queue}"}}']
        assert 0 < scraped <= latency[queue]  # read a moment before, from the same server
        assert latency[queue] - scraped < 30
    for name in ("scheduled", "retries", "dead", "working"):
        assert got[f'faktory_set_jobs{{{p},set="{name}"}}'] == info["faktory"]["sets"][name]
    assert got[f"faktory_jobs_processed_total{{{p}}}"] == info["faktory"]["total_processed"]
    assert got[f"faktory_jobs_failed_total{{{p}}}"] == info["faktory"]["total_failures"]
    assert got[f"faktory_server_connections_limit{{{p}}}"] == 2000
    assert got[f"faktory_data_last_bgsave_ok{{{p}}}"] == 1
    assert got[f"faktory_data_save_in_progress{{{p}}}"] == 0
    assert deployment.password not in run.output
    check = subprocess.run(
        [str(promtool()), "check", "metrics"],
        input=run.stdout,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@contextlib.contextmanager
def _process(args: list[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    found = _get(f"{prom}/api/v1/query?query={urllib.parse.quote(expr)}")
    assert found["status"] == "success", found
    result = found["data"]["result"]
    assert isinstance(result, list)
    return result


def _firing(prom: str, name: str) -> list[dict[str, Any]]:
    alerts = _get(f"{prom}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_listen_serves_openmetrics_and_says_up_0_once_the_server_stops(
    make_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = _deploy(make_deployment, None)
    port = free_port()
    listen = [sys.executable, "-m", "faktctl", "metrics", "--timeout", "3"]
    listen += ["--listen", f"127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}/metrics"
    p = f'project="{deployment.project}"'

    def scrape(accept: str | None = None) -> tuple[str, str]:
        request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.headers["Content-Type"], answer.read().decode()

    with _process(listen, deployment.folder, tmp_path / "faktctl.log"):
        wait_until(lambda: _answers(url), 30, "faktctl metrics --listen to answer")
        kind, body = scrape("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
        assert kind.startswith("application/openmetrics-text; version=1.0.0")
        assert body.endswith("# EOF\n")
        assert f"faktory_up{{{p}}} 1" in body
        for queue, count in PUSHED.items():
            assert f'faktory_queue_jobs{{{p},queue="{queue}"}} {count}' in body
        kind, body = scrape()
        assert kind.startswith("text/plain; version=0.0.4")
        _follows_the_server(deployment, scrape)
        server = next(iter(deployment.containers("faktory")))
        deployment.client.api.stop(server, timeout=30)
        started = time.monotonic()
        kind, body = scrape()  # the very next scrape
        assert time.monotonic() - started < 5
        assert f"faktory_up{{{p}}} 0" in body
        assert f'faktory_up_reason_info{{{p},reason="not_running"}} 1' in body
        assert "# TYPE faktory_queue_jobs gauge" in body  # the families are still declared
    assert deployment.password not in (tmp_path / "faktctl.log").read_text()


def _follows_the_server(deployment: Deployment, scrape: Callable[[], tuple[str, str]]) -> None:
    """Scrapes over the connection `--listen` keeps equal INFO read over the wire, also after
    jobs arrive in a new queue; the data part, read in the background every REFRESH_S, ages
    with the clock in between and is read again once that old, and says what the server
    says."""
    p = f'project="{deployment.project}"'
    with deployment.connect() as conn:
        conn.push(make_job("MetricsJob", [], queue="metrics-late"))
        info = conn.info()
    got = _values(scrape()[1])
    for queue in (*PUSHED, "metrics-late"):
        assert got[f'faktory_queue_jobs{{{p},queue="{queue}"}}'] == info["faktory"]["queues"][queue]
        assert got[f'faktory_queue_latency_seconds{{{p},queue="{queue}"}}'] > 0
    for name in ("scheduled", "retries", "dead", "working"):
        assert got[f'faktory_set_jobs{{{p},set="{name}"}}'] == info["faktory"]["sets"][name]
    assert got[f"faktory_data_last_bgsave_ok{{{p}}}"] == 1
    age = f"faktory_data_last_save_age_seconds{{{p}}}"
    part = f'faktory_scrape_part_age_seconds{{{p},part="data"}}'
    assert 0 <= got[part] < REFRESH_S + 5
    time.sleep(2)
    later = _values(scrape()[1])
    if later[part] > got[part] and age in got:  # the same read of the data: its age went on
        assert later[age] - got[age] == pytest.approx(later[part] - got[part], abs=0.2)
    wait_until(lambda: _values(scrape()[1])[part] < 2, REFRESH_S + 15, "the data read again")
    once = _values(deployment.faktctl("metrics").stdout)
    assert once[part] == 0
    now = _values(scrape()[1])
    assert now[f"faktory_data_last_bgsave_ok{{{p}}}"] == once[f"faktory_data_last_bgsave_ok{{{p}}}"]
    if age in now and age in once:  # absent before the first save; a save since the
        # background read makes it older by up to REFRESH_S
        assert -3 < now[age] - once[age] < REFRESH_S + 5


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_prometheus_scrapes_listen_and_fires_the_rules(
    make_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    server_binary = prometheus_server()
    deployment = _deploy(make_deployment, None, max_age="20s")
    assert deployment.faktctl("render", "--target", "prometheus").code == 0
    assert deployment.faktctl("backup").code == 0  # fresh now, stale 20 s later
    metrics_port, prom_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    rules = deployment.folder / "prometheus" / "faktory-rules.yaml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "2s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "scrape_configs": [
                    {
                        "job_name": "faktory",
                        "scrape_timeout": "2s",
                        "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
                    }
                ],
            }
        )
    )
    listen = [sys.executable, "-m", "faktctl", "metrics", "--timeout", "1.5"]
    listen += ["--listen", f"127.0.0.1:{metrics_port}"]
    prom_args = [str(server_binary), f"--config.file={config}"]
    prom_args += [f"--storage.tsdb.path={tmp_path / 'tsdb'}"]
    prom_args += [f"--web.listen-address=127.0.0.1:{prom_port}"]
    prom = f"http://127.0.0.1:{prom_port}"
    p = f'project="{deployment.project}"'
    with (
        _process(listen, deployment.folder, tmp_path / "faktctl.log"),
        _process(prom_args, tmp_path, tmp_path / "prometheus.log"),
    ):

        def scraped() -> bool:
            try:
                return bool(_query(prom, f"faktory_up{{{p}}} == 1"))
            except OSError:
                return False

        wait_until(scraped, 90, "Prometheus to scrape faktory_up 1")
        with deployment.connect() as conn:
            info = conn.info()
        for queue, count in PUSHED.items():
            found = _query(prom, f'faktory_queue_jobs{{{p},queue="{queue}"}}')
            assert float(found[0]["value"][1]) == count == info["faktory"]["queues"][queue]
            age = _query(prom, f'faktory_queue_latency_seconds{{{p},queue="{queue}"}}')
            assert float(age[0]["value"][1]) > 0
        wait_until(
            lambda: bool(_firing(prom, "FaktoryBackupStale")), 90, "FaktoryBackupStale to fire"
        )
        server = next(iter(deployment.containers("faktory")))
        deployment.client.api.stop(server, timeout=30)
        stopped = time.monotonic()
        wait_until(
            lambda: bool(_query(prom, f"faktory_up{{{p}}} == 0")), 30, "faktory_up to turn 0"
        )
        assert time.monotonic() - stopped < 2 * 2 + 3  # within one scrape (2 s) and the query
        reason = _query(prom, f"faktory_up_reason_info{{{p}}}")
        assert reason[0]["metric"]["reason"] == "not_running"
        wait_until(lambda: bool(_firing(prom, "FaktoryDown")), 60, "FaktoryDown to fire")
        down = _firing(prom, "FaktoryDown")[0]
        assert down["labels"]["severity"] == "critical"
        assert "`faktctl up`" in down["annotations"]["description"]


def test_worker_processes_per_service_and_no_orphans(
    make_deployment: Callable[..., Deployment], go_worker_image: str
) -> None:
    deployment = make_deployment(workers=[go_worker("go", go_worker_image, queues="idle")])
    deployment.up()
    p = f'project="{deployment.project}"'

    def listed() -> bool:
        got = _values(deployment.faktctl("metrics").stdout)
        return got.get(f'faktory_worker_processes{{{p},worker="go"}}') == 1

    wait_until(listed, 90, "the Go worker's process in faktory_worker_processes")
    got = _values(deployment.faktctl("metrics").stdout)
    assert got[f'faktory_worker_containers_running{{{p},worker="go"}}'] == 1
    assert got[f'faktory_worker_busy_jobs{{{p},worker="go"}}'] == 0
    assert got[f"faktory_reservations_orphaned{{{p}}}"] == 0
    assert got[f"faktory_workers_connected{{{p}}}"] == 1
    assert got[f'faktory_scrape_errors_total{{{p},part="workers"}}'] == 0
