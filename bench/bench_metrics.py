"""Scrape latency and CPU of `faktctl metrics --listen` at 1, 30 and 300 queues, against a
plain INFO round trip over the wire (a new authenticated connection and INFO: the floor of
any exporter; lukasmalkmus/faktory_exporter is not served by the Go module proxy, so it cannot
be built here), in the same run on the same server.

    python bench/bench_metrics.py [--image faktctl-test/faktory:1.10.0] [--scrapes 41]

It makes a throwaway project (faktctl init + up, labelled io.faktctl.test=bench-<id>, removed
at the end), pushes one job to each queue, starts `faktctl metrics --listen` (warm: the first
scrape is not counted) and times GET /metrics from this process. CPU per scrape is the
faktctl process's user+system time (/proc/PID/stat) over the scrapes, divided by their count;
for the floor, this process's CPU time. Under --listen a scrape is INFO and QUEUE LATENCY
over a connection kept open; the exec-based parts (data, workers) are read in the background
every 10 s, so their cost lands in a scrape's CPU only when a refresh falls in the run.
Goal (issue 25): a scrape <= 2x the INFO floor and under 50 ms at 300 queues. Output: a
Markdown table on stdout, with the machine's load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from faktctl.adapters import probe  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def faktctl(folder: Path, env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "faktctl", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"faktctl {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")


@contextlib.contextmanager
def project(image: str) -> Iterator[tuple[Path, dict[str, str], int]]:
    label = f"bench-{uuid.uuid4().hex[:8]}"
    name = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="faktctl-bench-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "NO_COLOR": "1", "FAKTCTL_EXTRA_LABELS": f"io.faktctl.test={label}"}
        port = free_port()
        faktctl(folder, env, "init", "--yes", "--project", name)
        spec_path = folder / "faktory.yaml"
        spec = yaml.safe_load(spec_path.read_text())
        spec["server"]["image"] = image
        spec["server"]["ports"] = {"protocol": f"127.0.0.1:{port}", "dashboard": None}
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        try:
            faktctl(folder, env, "up")
            yield folder, env, port
        finally:
            subprocess.run(
                [sys.executable, "-m", "faktctl", "down", "--volumes", "--yes"],
                cwd=folder, env=env, capture_output=True, timeout=300, check=False,
            )  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def timed(action: Callable[[], object], runs: int) -> list[float]:
    action()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="faktctl-test/faktory:1.10.0")
    parser.add_argument("--scrapes", type=int, default=41)
    args = parser.parse_args()
    rows = []
    with project(args.image) as (folder, env, port):
        password = (folder / "secrets" / "faktory_password").read_text().strip()
        listen_port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "faktctl", "metrics", "--listen", f"127.0.0.1:{listen_port}"],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{listen_port}/metrics"
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(url, timeout=10).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            pushed = 0
            for queues in (1, 30, 300):
                with probe.FaktoryConnection("127.0.0.1", port, password) as conn:
                    for n in range(pushed, queues):
                        job = {
                            "jid": uuid.uuid4().hex,
                            "jobtype": "B",
                            "args": [],
                            "queue": f"q{n}",
                        }
                        conn.command("PUSH", json.dumps(job))
                pushed = queues

                last = f'queue="q{queues - 1}"'.encode()

                def scrape(last: bytes = last) -> None:
                    with urllib.request.urlopen(url, timeout=10) as answer:
                        body = answer.read()
                    assert last in body

                before = cpu_seconds(server.pid)
                scrape_times = timed(scrape, args.scrapes)
                scrape_cpu = (cpu_seconds(server.pid) - before) / (args.scrapes + 1)

                def info() -> None:
                    with probe.FaktoryConnection("127.0.0.1", port, password) as conn:
                        conn.info()

                before_floor = time.process_time()
                floor_times = timed(info, args.scrapes)
                floor_cpu = (time.process_time() - before_floor) / (args.scrapes + 1)
                rows.append((queues, scrape_times, scrape_cpu, floor_times, floor_cpu))
        finally:
            server.terminate()
            server.wait(15)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"`faktctl metrics --listen` vs an INFO round trip, {args.scrapes} scrapes each, "
        f"{args.image}, load average {load} (1/5/15 min) at the end"
    )
    print()
    print(
        "| queues | scrape median ms | scrape p99 ms | scrape CPU ms "
        "| INFO median ms | INFO p99 ms | INFO CPU ms | median ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for queues, st, sc, ft, fc in rows:
        ratio = statistics.median(st) / statistics.median(ft)
        print(
            f"| {queues} | {ms(statistics.median(st))} | {ms(p99(st))} | {ms(sc)} | "
            f"{ms(statistics.median(ft))} | {ms(p99(ft))} | {ms(fc)} | {ratio:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
