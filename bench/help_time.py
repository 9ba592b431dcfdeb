"""Median wall time of `faktctl --help`, against bare `python -c pass` and `docker compose --help`
(compose v2, bench/peers.py) measured in the same run; docker-compose v1, when installed, as a
footnote. Target: faktctl --help median <= 0.25 s.

    python bench/help_time.py [--runs 21]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from bytecode import ensure_bytecode
from peers import COMPOSE_V2_NAME, compose_v1, compose_v2_command


def median_seconds(command: list[str], runs: int) -> float:
    subprocess.run(command, capture_output=True, check=False, timeout=60)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False, timeout=60)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    ensure_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    faktctl = shutil.which("faktctl") or ""
    commands = {
        "faktctl --help": [faktctl, "--help"]
        if faktctl
        else [sys.executable, "-m", "faktctl", "--help"],
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
    }
    commands[f"{COMPOSE_V2_NAME} --help (peer)"] = [compose_v2_command()[0], "--help"]
    v1 = compose_v1()
    if v1:
        commands["docker-compose v1 --help (footnote)"] = [v1, "--help"]
    results = {name: median_seconds(cmd, args.runs) for name, cmd in commands.items()}
    ours = results["faktctl --help"]
    print(f"{'command':40} {'median s':>9} {'faktctl / this':>15}")
    for name, seconds in results.items():
        print(f"{name:40} {seconds:9.3f} {ours / seconds:15.2f}x")
    verdict = "meets" if ours <= 0.25 else "MISSES"
    print(f"faktctl --help median {ours:.3f} s {verdict} the 0.25 s target")


if __name__ == "__main__":
    main()
