"""A worker deploy with long jobs in flight: `faktctl up` against `docker compose up -d --wait`
(compose v2) on the rendered compose.yaml of the same spec (issue 23).

    python bench/bench_rollout.py [--rounds 1]

The scenario, the same for both tools: a server and 2 replicas of examples/go-worker (the
library's own Run() lifecycle, concurrency 10), 10 jobs of 15 s in flight and a steady producer
pushing a short job every 0.2 s; then one environment change is deployed. Completions are read
from the workers' own logs (every container, old and new, followed from its first line). Printed
per tool:

  * stranded: long jobs not completed 45 s after the deploy returned (still reserved, or lost);
  * twice: jobs completed more than once;
  * longest gap: the longest time without a completed job, from the deploy's start to 2 s after
    it returned;
  * deploy: the wall time of the deploy command.

Images are the suite's local ones (tests/support/images.py), compose v2 is built once from the
Go module proxy (tests/support/provision.py). Everything is labelled and removed after each run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import rollkit  # noqa: E402
from tests.support.images import (  # noqa: E402
    GO_WORKER_REPO,
    ensure_faktory_image,
    ensure_go_worker_image,
    go_worker_recipe_hash,
)
from tests.support.local import free_port  # noqa: E402
from tests.support.producer import Producer  # noqa: E402
from tests.support.provision import compose_v2  # noqa: E402

BENCH_LABEL = "io.faktctl.test=bench-rollout"
RESERVED_AFTER_S = 45.0
SERVICE = "sleeper"


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


class Project:
    def __init__(self, root: Path, tool: str, server_image: str, worker_image: str) -> None:
        self.tool = tool
        self.name = f"b{uuid.uuid4().hex[:10]}"
        self.folder = root / self.name
        self.folder.mkdir()
        self.env = {**os.environ, "FAKTCTL_EXTRA_LABELS": BENCH_LABEL, "NO_COLOR": "1"}
        self.faktctl = [sys.executable, "-m", "faktctl"]
        self.compose = [str(compose_v2()), "-p", self.name, "-f", "compose.yaml"]
        self.port = free_port()
        _run([*self.faktctl, "init", "--yes", "--project", self.name], self.folder, self.env)
        spec_path = self.folder / "faktory.yaml"
        spec = yaml.safe_load(spec_path.read_text())
        spec["server"]["image"] = server_image
        spec["server"]["ports"] = {
            "protocol": f"127.0.0.1:{self.port}",
            "dashboard": f"127.0.0.1:{free_port()}",
        }
        spec["workers"] = [
            {
                "name": SERVICE,
                "image": worker_image,
                "replicas": 2,
                "env": {"WORKER_CONCURRENCY": 10},
            }
        ]
        spec_path.write_text(yaml.safe_dump(spec))
        self.password = (self.folder / "secrets" / "faktory_password").read_text().strip()

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        spec_path = self.folder / "faktory.yaml"
        spec = yaml.safe_load(spec_path.read_text())
        change(spec)
        spec_path.write_text(yaml.safe_dump(spec))

    def deploy(self) -> None:
        if self.tool == "faktctl":
            _run([*self.faktctl, "up"], self.folder, self.env)
        else:
            _run([*self.faktctl, "render"], self.folder, self.env)
            _run([*self.compose, "up", "-d", "--wait"], self.folder, self.env)

    def remove(self) -> None:
        if self.tool == "faktctl":
            _run([*self.faktctl, "down", "--volumes", "--yes"], self.folder, self.env)
        else:
            _run([*self.compose, "down", "-v", "-t", "1"], self.folder, self.env)

    def selector(self) -> list[str]:
        if self.tool == "faktctl":
            return rollkit.selector(self.name, SERVICE)
        return [f"com.docker.compose.project={self.name}", f"com.docker.compose.service={SERVICE}"]

    def connect(self) -> Producer:
        return Producer("127.0.0.1", self.port, self.password)


def measure(project: Project, client: docker.DockerClient) -> rollkit.Result:
    project.deploy()
    with (
        project.connect() as producer,
        rollkit.LogFollower(client, project.selector()) as logs,
        rollkit.SteadyProducer(project.connect),
    ):
        long_jids = rollkit.push_long(producer)
        rollkit.wait_reserved(producer, rollkit.LONG_JOBS)
        project.edit(lambda spec: spec["workers"][0]["env"].update(DEPLOY_MARK="2"))
        began_wall, began = time.time(), time.monotonic()
        project.deploy()
        deploy_s = time.monotonic() - began
        ended_wall = time.time()
        time.sleep(3)
    with project.connect() as producer:
        deadline = time.monotonic() + RESERVED_AFTER_S - 3
        left = rollkit.wait_no_reservation(producer, max(deadline - time.monotonic(), 0))
        failed = rollkit.failures(producer)
    time.sleep(1)
    return rollkit.Result(
        long_jids, logs.completions(), left, failed, deploy_s, (began_wall, ended_wall + 2)
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _ratios(rows: list[tuple[str, rollkit.Result]]) -> str:
    """faktctl against the peer (compose v2), medians over the rounds of this run."""

    def median_of(tool: str, value: Callable[[rollkit.Result], float]) -> float:
        return _median([value(result) for name, result in rows if name == tool])

    parts = []
    for label, value in (
        ("longest gap", lambda r: r.longest_gap()),
        ("deploy time", lambda r: r.deploy_s),
    ):
        ours, peer = median_of("faktctl", value), median_of("compose", value)
        parts.append(f"{label} {ours:.1f}s vs {peer:.1f}s ({ours / max(peer, 1e-9):.2f}x)")
    return "faktctl / compose v2 (medians): " + "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}", flush=True)
    client = docker.from_env()
    server_image = ensure_faktory_image(client, "1.10.0")
    ensure_go_worker_image(client)
    worker_image = f"{GO_WORKER_REPO}:r{go_worker_recipe_hash()}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        for round_no in range(args.rounds):
            tools = ["faktctl", "compose"] if round_no % 2 == 0 else ["compose", "faktctl"]
            for tool in tools:
                project = Project(Path(tmp), tool, server_image, worker_image)
                try:
                    result = measure(project, client)
                finally:
                    project.remove()
                rows.append((tool, result))
    name = {"faktctl": "faktctl up", "compose": "docker compose up -d --wait"}
    print(f"{'tool':<30} {'stranded':>8} {'twice':>6} {'failed':>6} {'gap':>7} {'deploy':>8}")
    for tool, result in rows:
        print(
            f"{name[tool]:<30} {result.stranded:>8} {result.run_twice:>6} {result.failed:>6} "
            f"{result.longest_gap():>6.1f}s {result.deploy_s:>7.1f}s"
        )
    for tool, result in rows:
        print(f"{name[tool]}: longest gap {result.where_gap()}")
    print(_ratios(rows))
    print(
        f"(10 jobs of {rollkit.LONG_S}s in flight on 2 replicas; stranded = not completed "
        f"{RESERVED_AFTER_S:g}s after the deploy returned)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
