"""Backup throughput: `faktctl backup` of a ~200 MB faktory.rdb against `docker cp` of the same
file, measured in the same run on the same server. Target: >= 0.8x docker cp.

    python bench/bench_backup.py [--image faktctl-test/faktory:1.9.4] [--mb 200] [--runs 9]
                                 [--payload random|text|both]

It makes a throwaway project (faktctl init + up, labelled io.faktctl.test=bench-<id>), fills the
server with large jobs on a queue no worker reads until the RDB is about --mb megabytes, then
alternates, --runs times each:
  docker cp       `docker cp <server>:/var/lib/faktory/db/faktory.rdb <tmp>` (the file as is)
  bgsave + cp     `docker exec <server> redis-cli BGSAVE`, poll until saved, then docker cp: the
                  hand-made equivalent of a fresh backup
  faktctl backup  the whole command in a subprocess (fresh snapshot, stream, compress, hash,
                  read back, manifest), and its copy phase alone (from --json)
Payloads: `random` (base64 of random bytes: Redis's LZF cannot shrink it) and `text` (words
and numbers, the shape of typical job arguments). Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from bytecode import ensure_bytecode

from faktctl.adapters import probe

JOB_BYTES = 100_000
BATCH = 10
QUEUE = "bench-parked"
RDB = "/var/lib/faktory/db/faktory.rdb"
SOCKET = "/var/lib/faktory/db/redis.sock"
WORDS = [
    "order",
    "invoice",
    "customer",
    "shipment",
    "pending",
    "paid",
    "refund",
    "address",
    "street",
    "city",
    "country",
    "email",
    "amount",
    "currency",
    "total",
    "discount",
    "product",
    "sku",
    "warehouse",
    "carrier",
    "tracking",
    "status",
    "created",
    "updated",
    "account",
    "user",
    "session",
    "token",
    "retry",
    "region",
    "priority",
    "notes",
    "description",
    "quantity",
]


@dataclass
class Project:
    folder: Path
    name: str
    port: int
    env: dict[str, str]

    @property
    def password(self) -> str:
        return (self.folder / "secrets" / "faktory_password").read_text().strip()

    @property
    def server(self) -> str:
        return f"{self.name}-faktory-1"

    def faktctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "faktctl", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if check and proc.returncode != 0:
            raise SystemExit(f"faktctl {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def project(image: str) -> Iterator[Project]:
    label = f"bench-{uuid.uuid4().hex[:8]}"
    name = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="faktctl-bench-") as tmp:
        env = {**os.environ, "NO_COLOR": "1", "FAKTCTL_EXTRA_LABELS": f"io.faktctl.test={label}"}
        made = Project(Path(tmp), name, free_port(), env)
        made.faktctl("init", "--yes", "--project", name)
        spec_path = made.folder / "faktory.yaml"
        spec = yaml.safe_load(spec_path.read_text())
        spec["server"]["image"] = image
        spec["server"]["ports"] = {"protocol": f"127.0.0.1:{made.port}", "dashboard": None}
        spec["backup"] = {"destination": "backups", "keep": 2, "max_age": "1h"}
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        try:
            made.faktctl("up")
            yield made
        finally:
            made.faktctl("down", "--volumes", "--yes", check=False)
            _remove_labelled(label)


def _remove_labelled(label: str) -> None:
    selector = f"label=io.faktctl.test={label}"
    for kind, listing in (("container", ["ps", "-aq"]), ("volume", ["volume", "ls", "-q"])):
        ids = subprocess.run(
            ["docker", *listing, "--filter", selector], capture_output=True, text=True, check=False
        ).stdout.split()
        if ids:
            remove = ["rm", "-f"] if kind == "container" else ["volume", "rm", "-f"]
            subprocess.run(["docker", *remove, *ids], capture_output=True, check=False)


# --- filling the server -----------------------------------------------------------------------


def payloads(kind: str, seed: int) -> Callable[[], str]:
    rng = random.Random(seed)
    if kind == "random":
        return lambda: base64.b64encode(os.urandom(JOB_BYTES * 3 // 4)).decode()
    pool = " ".join(f"{rng.choice(WORDS)}={rng.randint(0, 999_999)}" for _ in range(400_000))

    def text() -> str:
        start = rng.randrange(0, len(pool) - JOB_BYTES)
        return pool[start : start + JOB_BYTES]

    return text


def push(made: Project, total_bytes: int, make: Callable[[], str]) -> int:
    pushed = 0
    with probe.FaktoryConnection("127.0.0.1", made.port, made.password, timeout=60) as conn:
        while pushed < total_bytes:
            jobs = [probe.make_job("bench.big", [make()], queue=QUEUE) for _ in range(BATCH)]
            refused = conn.push_many(jobs)
            if refused:
                raise SystemExit(f"the server refused jobs: {list(refused.values())[:1]}")
            pushed += BATCH * JOB_BYTES
    return pushed


def docker_exec(made: Project, *cmd: str) -> str:
    return subprocess.run(
        ["docker", "exec", made.server, *cmd], capture_output=True, text=True, check=True
    ).stdout.strip()


def bgsave_and_wait(made: Project) -> None:
    before = docker_exec(made, "redis-cli", "-s", SOCKET, "LASTSAVE")
    while int(time.time()) <= int(before):
        time.sleep(0.05)
    docker_exec(made, "redis-cli", "-s", SOCKET, "BGSAVE")
    while True:
        info = docker_exec(made, "redis-cli", "-s", SOCKET, "INFO", "persistence")
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        if fields["rdb_bgsave_in_progress"] == "0" and fields["rdb_last_save_time"] != before:
            return
        time.sleep(0.05)


def rdb_size(made: Project) -> int:
    bgsave_and_wait(made)
    return int(docker_exec(made, "stat", "-c", "%s", RDB))


def fill(made: Project, target_mb: int, kind: str) -> int:
    make = payloads(kind, 42)
    raw = push(made, 20_000_000, make)
    ratio = rdb_size(made) / raw
    push(made, max(int(target_mb * 1_000_000 / ratio) - raw, 0), make)
    return rdb_size(made)


def flush(made: Project) -> None:
    with probe.FaktoryConnection("127.0.0.1", made.port, made.password, timeout=60) as conn:
        conn.command("FLUSH")


# --- measuring --------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def docker_cp(made: Project, target: Path) -> None:
    subprocess.run(["docker", "cp", f"{made.server}:{RDB}", str(target)], check=True)
    target.unlink()


def fresh_cp(made: Project, target: Path) -> float:
    """BGSAVE, then docker cp; returns the seconds of the copy alone. Right after a snapshot the
    kernel is still writing the new file back, which slows any copy: faktctl's copy phase always
    runs in that state, so this copy is its like-for-like peer."""
    bgsave_and_wait(made)
    return timed(lambda: docker_cp(made, target))


def measure(made: Project, runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"docker cp": [], "bgsave + cp": [], "faktctl backup": []}
    samples["faktctl copy phase"] = []
    samples["cp after bgsave"] = []
    out = made.folder / "cp.rdb"
    docker_cp(made, out)  # warm the page cache for everyone
    for _ in range(runs):
        samples["docker cp"].append(timed(lambda: docker_cp(made, out)))
        started = time.perf_counter()
        samples["cp after bgsave"].append(fresh_cp(made, out))
        samples["bgsave + cp"].append(time.perf_counter() - started)
        started = time.perf_counter()
        result = json.loads(made.faktctl("backup", "--json").stdout)["result"]
        samples["faktctl backup"].append(time.perf_counter() - started)
        samples["faktctl copy phase"].append(result["seconds"]["copy"])
        samples.setdefault("stored size ratio", []).append(result["size"] / result["rdb_size"])
    return samples


def report(kind: str, size: int, samples: dict[str, list[float]]) -> bool:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratio_size = medians.pop("stored size ratio")
    print(f"\npayload {kind}: faktory.rdb {size / 1e6:.1f} MB, stored at {ratio_size:.0%}")
    print(f"{'':22} {'median s':>9} {'MB/s':>8} {'min s':>7} {'max s':>7}")
    for name, seconds in medians.items():
        low, high = min(samples[name]), max(samples[name])
        print(f"{name:22} {seconds:9.3f} {size / 1e6 / seconds:8.1f} {low:7.3f} {high:7.3f}")
    whole = medians["bgsave + cp"] / medians["faktctl backup"]
    fresh = medians["cp after bgsave"] / medians["faktctl copy phase"]
    settled = medians["docker cp"] / medians["faktctl copy phase"]
    print(f"faktctl backup vs bgsave + docker cp (both take a fresh snapshot): {whole:.2f}x")
    print(f"faktctl copy phase vs docker cp right after a snapshot:           {fresh:.2f}x")
    print(f"faktctl copy phase vs docker cp of a settled file (for reference): {settled:.2f}x")
    met = min(whole, fresh) >= 0.8
    verdict = "met" if met else "MISSED"
    print(f"target >= 0.8x docker cp (like for like, the first two lines): {verdict}")
    return met


def main() -> None:
    ensure_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", default="faktctl-test/faktory:1.9.4")
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--payload", choices=("random", "text", "both"), default="both")
    args = parser.parse_args()
    kinds = ("random", "text") if args.payload == "both" else (args.payload,)
    results = []
    with project(args.image) as made:
        for kind in kinds:
            flush(made)
            started = time.perf_counter()
            size = fill(made, args.mb, kind)
            print(f"filled with {kind} payloads in {time.perf_counter() - started:.0f}s")
            results.append(report(kind, size, measure(made, args.runs)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
