"""Issue 25: the file `faktctl metrics --textfile` writes is read by a real node_exporter
(built from the Go module proxy) through its textfile collector, and its series show up in
node_exporter's own /metrics. No engine: the series are those of an engine faktctl cannot
reach (faktory_up 0 with its reason)."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

from tests.support.cli import run_faktctl
from tests.support.local import free_port
from tests.support.prometheus import node_exporter

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "DOCKER_CONTEXT": ""}


def test_node_exporter_serves_the_textfile(tmp_path: Path) -> None:
    binary = node_exporter()
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=tmp_path).code == 0
    folder = tmp_path / "textfile"
    folder.mkdir()
    run = run_faktctl(
        "metrics", "--textfile", str(folder / "faktory.prom"), cwd=tmp_path, env=NO_ENGINE
    )
    assert run.code == 0, run.output
    port = free_port()
    args = [str(binary), "--collector.disable-defaults", "--collector.textfile"]
    args += [f"--collector.textfile.directory={folder}", f"--web.listen-address=127.0.0.1:{port}"]
    log = (tmp_path / "node_exporter.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert 'faktory_up{project="shop"} 0' in body, (tmp_path / "node_exporter.log").read_text()
        assert 'faktory_up_reason_info{project="shop",reason="engine"} 1' in body
        # node_exporter says it read the file without error
        assert "node_textfile_scrape_error 0" in body
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
