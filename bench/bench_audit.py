"""Median wall time of the static audit, against `docker compose config -q` (compose v2) in
the same run.

    python bench/bench_audit.py [--runs 21] [--services 200]

Measured (each command once per round, rounds interleaved so machine load hits all alike):
  * `faktctl audit` on examples/polyglot (spec, password file, rendered files, render drift,
    backups) in a temporary copy, in the default table format and as JSON;
  * `faktctl audit --compose FILE` on a generated file of N services (one Faktory server,
    workers with anchors, env lists, ports, deploy limits), and `docker compose -f FILE
    config -q` (v2.40.3, built by tests/support/provision.py) on the same file; the old
    Python docker-compose v1, when installed, is timed too, as a footnote only.
Targets: the static spec audit median <= 0.35 s, and the compose audit faster than
docker compose config -q. Output goes to stdout only; the exit code is 0 unless a command
could not run at all.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bytecode import ensure_bytecode
from peers import COMPOSE_V2_NAME, compose_v1, compose_v2_command, faktctl_command

REPO = Path(__file__).resolve().parent.parent
SPEC_TARGET_S = 0.35


def compose_file(services: int) -> str:
    """One Faktory server and `services - 1` workers, in the syntax people write."""
    lines = [
        "x-worker: &worker",
        "  restart: unless-stopped",
        "  deploy:",
        "    resources:",
        "      limits:",
        "        memory: 256m",
        "services:",
        "  faktory:",
        "    image: contribsys/faktory:1.9.4",
        '    command: ["/faktory", "-e", "production", "-b", ":7419", "-w", ":7420"]',
        "    environment:",
        "      FAKTORY_ENV: production",
        "      FAKTORY_PASSWORD: /run/secrets/faktory_password",
        "    secrets: [faktory_password]",
        '    volumes: ["faktory-data:/var/lib/faktory"]',
        '    ports: ["127.0.0.1:7419:7419", "127.0.0.1:7420:7420"]',
        "    restart: unless-stopped",
        "    stop_grace_period: 60s",
        "    mem_limit: 2g",
        "    healthcheck:",
        '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:7420/health"]',
    ]
    for index in range(1, services):
        lines += [
            f"  worker-{index:03d}:",
            "    <<: *worker",
            f"    image: registry.example.com/acme/worker-{index:03d}:1.{index}.0",
            "    environment:",
            "      - FAKTORY_URL=${FAKTORY_URL:?set in .env}",
            f"      - FAKTORY_QUEUES=queue-{index % 7},default",
            f"      - WORKER_CONCURRENCY={5 + index % 10}",
            f"    command: ./worker --name w{index} --verbose",
        ]
    lines += [
        "volumes:",
        "  faktory-data: {}",
        "secrets:",
        "  faktory_password:",
        "    file: ./faktory_password",
    ]
    return "\n".join(lines) + "\n"


def prepare(folder: Path, services: int) -> tuple[Path, Path]:
    """A rendered copy of examples/polyglot (or minimal) and a generated compose folder."""
    name = "polyglot" if (REPO / "examples" / "polyglot" / "faktory.yaml").is_file() else "minimal"
    shutil.copytree(REPO / "examples", folder / "examples")
    spec_dir = folder / "examples" / name
    secrets = spec_dir / "secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    password = secrets / "faktory_password"
    password.write_text("bench-password-" + "x" * 32 + "\n")
    password.chmod(0o600)
    subprocess.run([*faktctl_command(), "render"], cwd=spec_dir, capture_output=True, check=True)

    compose_dir = folder / "compose"
    compose_dir.mkdir()
    (compose_dir / "compose.yaml").write_text(compose_file(services))
    (compose_dir / "faktory_password").write_text("bench-password-" + "y" * 32 + "\n")
    (compose_dir / "faktory_password").chmod(0o600)
    (compose_dir / ".env").write_text("FAKTORY_URL=tcp://:secret@faktory:7419\n")
    (compose_dir / ".env").chmod(0o600)
    return spec_dir, compose_dir


def run_once(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, check=False, timeout=120)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr!r}")
    return elapsed


def main() -> None:
    ensure_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--services", type=int, default=200)
    args = parser.parse_args()
    faktctl = faktctl_command()
    with tempfile.TemporaryDirectory(prefix="faktctl-bench-audit-") as tmp:
        spec_dir, compose_dir = prepare(Path(tmp), args.services)
        commands: dict[str, tuple[list[str], Path]] = {
            f"faktctl audit ({spec_dir.name} spec)": ([*faktctl, "audit"], spec_dir),
            f"faktctl audit --format json ({spec_dir.name})": (
                [*faktctl, "audit", "--format", "json"],
                spec_dir,
            ),
            f"faktctl audit --compose ({args.services} services)": (
                [*faktctl, "audit", "--compose", "compose.yaml"],
                compose_dir,
            ),
        }
        commands[peer_name(args.services)] = (
            [*compose_v2_command(), "config", "-q"],
            compose_dir,
        )
        v1 = compose_v1()
        if v1:
            commands[f"docker-compose v1 config -q ({args.services} services)"] = (
                [v1, "-f", "compose.yaml", "config", "-q"],
                compose_dir,
            )
        commands["python -c pass (floor)"] = ([sys.executable, "-c", "pass"], compose_dir)
        for command, cwd in commands.values():
            run_once(command, cwd)  # warm the page cache
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, cwd) in commands.items():
                samples[name].append(run_once(command, cwd))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    report(medians, args.runs, args.services, spec_dir.name)


def report(medians: dict[str, float], runs: int, services: int, spec: str) -> None:
    print(f"{runs} interleaved rounds, median wall time")
    print(f"{'command':48} {'median s':>9}")
    for name, seconds in medians.items():
        print(f"{name:48} {seconds:9.3f}")
    spec_s = medians[f"faktctl audit ({spec} spec)"]
    verdict = "meets" if spec_s <= SPEC_TARGET_S else "MISSES"
    print(f"static spec audit {spec_s:.3f} s {verdict} the {SPEC_TARGET_S} s target")
    ours = medians[f"faktctl audit --compose ({services} services)"]
    ratio = ours / medians[peer_name(services)]
    faster = "faster than" if ratio < 1 else "NOT faster than"
    print(f"compose audit / {COMPOSE_V2_NAME} config -q = {ratio:.2f} ({faster} the peer)")
    v1 = f"docker-compose v1 config -q ({services} services)"
    if v1 in medians:
        print(f"(footnote: against docker-compose v1 config -q = {ours / medians[v1]:.2f})")


def peer_name(services: int) -> str:
    return f"{COMPOSE_V2_NAME} config -q ({services} services)"


if __name__ == "__main__":
    main()
