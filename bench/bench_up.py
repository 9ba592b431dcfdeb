"""`faktctl up` from cold to ready against `docker compose up -d --wait` (compose v2, which
returns once the server's health check passes) on the rendered compose.yaml of the same spec,
in the same run, with the same local images; plus the no-change `faktctl up`. Prints medians
and ratios. Target: faktctl cold <= 0.3x compose v2; no-change < 0.5 s.

    python bench/bench_up.py [--rounds 5] [--v1]

`--v1` adds the old peer as a footnote: `docker-compose` v1 `up -d` plus polling until the
engine says healthy.

The spec is examples/polyglot/faktory.yaml (server + 2 workers x 2 replicas) pointed at local
images: the test Faktory image and the Go worker image for both workers (there is no registry
on the machine, and the Python worker would need a Python base image). Ports are free loopback
ports. Rounds alternate which tool goes first; everything is removed after each measurement
(`down --volumes`), so every run starts cold. Compose v2 is built once from the Go module proxy
(tests/support/provision.py); the images once by tests/support/images.py (both cached).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bytecode import ensure_bytecode  # noqa: E402  (bench/ is on sys.path)

from tests.support.images import ensure_faktory_image, ensure_go_worker_image  # noqa: E402
from tests.support.provision import compose_v2  # noqa: E402

POLYGLOT = REPO / "examples" / "polyglot" / "faktory.yaml"
HEALTH_TIMEOUT_S = 180.0
BENCH_LABEL = "io.faktctl.test=bench-up"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run a command; fail loudly if it fails; return its wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def bench_spec(project: str, faktory_image: str, worker_image: str) -> dict[str, Any]:
    spec = yaml.safe_load(POLYGLOT.read_text())
    spec = {key: value for key, value in spec.items() if not key.startswith("x-")}
    spec["project"] = project
    spec["server"]["image"] = faktory_image
    spec["server"]["ports"] = {
        "protocol": f"127.0.0.1:{free_port()}",
        "dashboard": f"127.0.0.1:{free_port()}",
    }
    for worker in spec["workers"]:
        worker.pop("build", None)
        worker["image"] = worker_image
        worker["replicas"] = 2
    return spec


class Bench:
    def __init__(self, folder: Path, project: str, client: docker.DockerClient) -> None:
        self.folder = folder
        self.project = project
        self.client = client
        self.env = {**os.environ, "FAKTCTL_EXTRA_LABELS": BENCH_LABEL, "NO_COLOR": "1"}
        self.faktctl = [sys.executable, "-m", "faktctl"]
        self.compose = [str(compose_v2()), "-p", project, "-f", "compose.yaml"]
        self.compose_v1 = ["docker-compose", "-p", project, "-f", "compose.yaml"]

    def faktctl_cold(self) -> float:
        return run([*self.faktctl, "up"], self.folder, self.env)

    def faktctl_no_change(self) -> float:
        return run([*self.faktctl, "up"], self.folder, self.env)

    def faktctl_down(self) -> None:
        run([*self.faktctl, "down", "--volumes", "--yes"], self.folder, self.env)

    def compose_cold(self) -> float:
        return run([*self.compose, "up", "-d", "--wait"], self.folder)

    def compose_down(self) -> None:
        run([*self.compose, "down", "-v"], self.folder)

    def compose_v1_cold(self) -> float:
        started = time.perf_counter()
        run([*self.compose_v1, "up", "-d"], self.folder)
        self.wait_compose_healthy()
        return time.perf_counter() - started

    def compose_v1_down(self) -> None:
        run([*self.compose_v1, "down", "-v"], self.folder)

    def wait_compose_healthy(self) -> None:
        selector = {
            "label": [
                f"com.docker.compose.project={self.project}",
                "com.docker.compose.service=faktory",
            ]
        }
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            found = self.client.api.containers(all=True, filters=selector)
            if found:
                state = self.client.api.inspect_container(found[0]["Id"])["State"]
                if state.get("Health", {}).get("Status") == "healthy":
                    return
            time.sleep(0.05)
        sys.exit("compose: the server was not healthy in time")


def summary(name: str, samples: list[float]) -> str:
    spread = f"min {min(samples):.2f}s max {max(samples):.2f}s"
    return f"{name:<32} median {statistics.median(samples):6.2f}s  ({spread}, n={len(samples)})"


def one_round(bench: Bench, round_number: int, v1: bool, results: dict[str, list[float]]) -> None:
    tools = ["faktctl", "compose"] + (["v1"] if v1 else [])
    shift = round_number % len(tools)
    for tool in tools[shift:] + tools[:shift]:  # who goes first rotates
        if tool == "faktctl":
            results["faktctl"].append(bench.faktctl_cold())
            results["no-change"].append(bench.faktctl_no_change())
            bench.faktctl_down()
        elif tool == "compose":
            results["compose"].append(bench.compose_cold())
            bench.compose_down()
        else:
            results["v1"].append(bench.compose_v1_cold())
            bench.compose_v1_down()
    line = ", ".join(f"{name} {samples[-1]:.2f}s" for name, samples in results.items() if samples)
    print(f"round {round_number + 1}: {line}", flush=True)


def main() -> None:
    ensure_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--v1", action="store_true", help="also time docker-compose v1 + wait")
    args = parser.parse_args()
    if args.v1 and shutil.which("docker-compose") is None:
        sys.exit("docker-compose (v1) is not installed")

    client = docker.from_env()
    faktory_image = ensure_faktory_image(client)
    worker_image = ensure_go_worker_image(client)
    project = f"benchup{uuid.uuid4().hex[:6]}"
    results: dict[str, list[float]] = {"faktctl": [], "no-change": [], "compose": [], "v1": []}
    with tempfile.TemporaryDirectory(prefix="faktctl-bench-") as tmp:
        folder = Path(tmp)
        bench = Bench(folder, project, client)
        run([*bench.faktctl, "init", "--yes", "--project", project], folder, bench.env)
        spec = bench_spec(project, faktory_image, worker_image)
        (folder / "faktory.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        run([*bench.faktctl, "render"], folder, bench.env)
        try:
            for round_number in range(args.rounds):
                one_round(bench, round_number, args.v1, results)
        finally:
            for down in (
                [*bench.compose, "down", "-v"],
                [*bench.faktctl, "down", "--volumes", "--yes"],
            ):
                subprocess.run(down, cwd=folder, env=bench.env, capture_output=True, check=False)
            if args.v1:
                subprocess.run([*bench.compose_v1, "down", "-v"], cwd=folder, capture_output=True)
    report(results)


def report(results: dict[str, list[float]]) -> None:
    faktctl, compose = statistics.median(results["faktctl"]), statistics.median(results["compose"])
    no_change = statistics.median(results["no-change"])
    print()
    print("server + 2 workers x 2 replicas, cold -> ready (same images, same run)")
    print(summary("faktctl up", results["faktctl"]))
    print(summary("docker compose up -d --wait (v2)", results["compose"]))
    print(summary("faktctl up (no change)", results["no-change"]))
    print(f"ratio faktctl / compose v2 (cold): {faktctl / compose:.2f}x  (target <= 0.30x)")
    print(f"no-change faktctl up: {no_change:.2f}s  (target < 0.50s)")
    if results["v1"]:
        v1 = statistics.median(results["v1"])
        print(f"footnote: {summary('docker-compose v1 up -d + healthy', results['v1'])}")
        print(f"footnote: ratio faktctl / compose v1 (cold): {faktctl / v1:.2f}x")


if __name__ == "__main__":
    main()
