"""`faktctl up` from cold to healthy against `docker-compose up -d` + waiting for healthy on the
rendered compose.yaml of the same spec, in the same run, with the same local images; plus the
no-change `faktctl up`. Prints medians and ratios. Target: faktctl cold <= 1.0x compose.

    python bench/bench_up.py [--rounds 5]

The spec is examples/polyglot/faktory.yaml (server + 2 workers x 2 replicas) pointed at local
images: the test Faktory image and the Go worker image for both workers (there is no registry
on the machine, and the Python worker would need a Python base image). Ports are free loopback
ports. Rounds alternate which tool goes first; everything is removed after each measurement
(`down --volumes`), so every run starts cold. Requires docker-compose and the test toolchain
(tests/support/images.py builds the images once and caches them).
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
        self.compose = ["docker-compose", "-p", project, "-f", "compose.yaml"]

    def faktctl_cold(self) -> float:
        elapsed = run([*self.faktctl, "up"], self.folder, self.env)
        return elapsed

    def faktctl_no_change(self) -> float:
        return run([*self.faktctl, "up"], self.folder, self.env)

    def faktctl_down(self) -> None:
        run([*self.faktctl, "down", "--volumes", "--yes"], self.folder, self.env)

    def compose_cold(self) -> float:
        started = time.perf_counter()
        run([*self.compose, "up", "-d"], self.folder)
        self.wait_compose_healthy()
        return time.perf_counter() - started

    def compose_down(self) -> None:
        run([*self.compose, "down", "-v"], self.folder)

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


def main() -> None:
    ensure_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("docker-compose") is None:
        sys.exit("docker-compose is not installed")

    client = docker.from_env()
    faktory_image = ensure_faktory_image(client)
    worker_image = ensure_go_worker_image(client)
    project = f"benchup{uuid.uuid4().hex[:6]}"
    results: dict[str, list[float]] = {"faktctl": [], "compose": [], "no-change": []}
    with tempfile.TemporaryDirectory(prefix="faktctl-bench-") as tmp:
        folder = Path(tmp)
        bench = Bench(folder, project, client)
        run([*bench.faktctl, "init", "--yes", "--project", project], folder, bench.env)
        spec = bench_spec(project, faktory_image, worker_image)
        (folder / "faktory.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        run([*bench.faktctl, "render"], folder, bench.env)
        try:
            for round_number in range(args.rounds):
                order = ["faktctl", "compose"] if round_number % 2 == 0 else ["compose", "faktctl"]
                for tool in order:
                    if tool == "faktctl":
                        results["faktctl"].append(bench.faktctl_cold())
                        results["no-change"].append(bench.faktctl_no_change())
                        bench.faktctl_down()
                    else:
                        results["compose"].append(bench.compose_cold())
                        bench.compose_down()
                print(
                    f"round {round_number + 1}: faktctl {results['faktctl'][-1]:.2f}s, "
                    f"compose {results['compose'][-1]:.2f}s, "
                    f"no-change {results['no-change'][-1]:.2f}s",
                    flush=True,
                )
        finally:
            subprocess.run([*bench.compose, "down", "-v"], cwd=folder, capture_output=True)
            subprocess.run(
                [*bench.faktctl, "down", "--volumes", "--yes"],
                cwd=folder,
                env=bench.env,
                capture_output=True,
            )
    faktctl, compose = statistics.median(results["faktctl"]), statistics.median(results["compose"])
    print()
    print("server + 2 workers x 2 replicas, cold -> healthy (same images, same run)")
    print(summary("faktctl up", results["faktctl"]))
    print(summary("docker-compose up -d + healthy", results["compose"]))
    print(summary("faktctl up (no change)", results["no-change"]))
    print(f"ratio faktctl / compose (cold): {faktctl / compose:.2f}x  (target <= 1.00x)")
    no_change = statistics.median(results["no-change"])
    print(f"ratio no-change / compose (cold): {no_change / compose:.3f}x")


if __name__ == "__main__":
    main()
