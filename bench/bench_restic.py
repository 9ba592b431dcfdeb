"""Backup into a restic repository: `faktctl backup` (BGSAVE, then faktory.rdb streamed from the
engine straight into `restic backup --stdin`) against the hand-made way (BGSAVE, `docker cp` of
faktory.rdb to local disk, `restic backup` of that file, remove it), measured in the same run on
the same ~200 MB RDB, each into its own local repository. Target: >= 1.0x.

    python bench/bench_restic.py [--image faktctl-test/faktory:1.9.4] [--mb 200] [--runs 5]
                                 [--payload random|text] [--restic PATH]

The project is made and filled as in bench_backup.py (labelled, removed at the end). restic is
the one on PATH, --restic, or Debian's package unpacked by the test suite's provisioning. Both
sides use the same restic, password (from the environment) and repository format; the file
backup gets `--force` so restic reads the file every time (as --stdin always does) instead of
trusting its metadata from the previous run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from bench_backup import RDB, bgsave_and_wait, fill, flush, project
from bytecode import ensure_bytecode

ROOT = Path(__file__).resolve().parent.parent


def find_restic(given: str | None) -> str:
    if given:
        return given
    on_path = shutil.which("restic")
    if on_path:
        return on_path
    sys.path.insert(0, str(ROOT))
    from tests.support.provision import deb_tool

    return str(deb_tool("restic", "restic").path)


def restic(binary: str, repository: Path, password: str, *args: str) -> None:
    env = {**os.environ, "RESTIC_REPOSITORY": str(repository), "RESTIC_PASSWORD": password}
    subprocess.run([binary, *args], env=env, check=True, capture_output=True, timeout=1800)


def by_hand(made: object, binary: str, repository: Path, password: str, scratch: Path) -> float:
    """BGSAVE + docker cp + restic backup of the copy + remove it; returns the seconds."""
    server = made.server  # type: ignore[attr-defined]
    started = time.perf_counter()
    bgsave_and_wait(made)  # type: ignore[arg-type]
    target = scratch / "faktory.rdb"
    subprocess.run(["docker", "cp", f"{server}:{RDB}", str(target)], check=True)
    restic(binary, repository, password, "backup", "--force", "--tag", "bench", str(target))
    target.unlink()
    return time.perf_counter() - started


def main() -> None:
    ensure_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", default="faktctl-test/faktory:1.9.4")
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--payload", choices=("random", "text"), default="random")
    parser.add_argument("--restic", default=None)
    args = parser.parse_args()
    binary = find_restic(args.restic)
    password = secrets.token_urlsafe(24)
    with project(args.image) as made:
        theirs = made.folder / "repo-by-hand"
        scratch = made.folder / "scratch"
        scratch.mkdir()
        (made.folder / "secrets" / "restic_password").write_text(password + "\n")
        (made.folder / "secrets" / "restic_password").chmod(0o600)
        restic(binary, theirs, password, "init", "--repository-version", "2")
        spec_path = made.folder / "faktory.yaml"
        spec = yaml.safe_load(spec_path.read_text())
        spec["backup"] = {
            "destination": "restic:repo-faktctl",
            "password_file": "secrets/restic_password",
            "restic": binary,
            "keep": 100,
            "max_age": "1h",
        }
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        flush(made)
        started = time.perf_counter()
        size = fill(made, args.mb, args.payload)
        print(f"filled with {args.payload} payloads in {time.perf_counter() - started:.0f}s")
        made.faktctl("backup")  # creates the repository, as the first by_hand run's init did
        by_hand(made, binary, theirs, password, scratch)
        samples: dict[str, list[float]] = {"faktctl backup": [], "bgsave+cp+restic": []}
        for _ in range(args.runs):
            started = time.perf_counter()
            result = json.loads(made.faktctl("backup", "--json").stdout)["result"]
            samples["faktctl backup"].append(time.perf_counter() - started)
            assert result["ok"], result
            samples["bgsave+cp+restic"].append(by_hand(made, binary, theirs, password, scratch))
    print(f"\nfaktory.rdb {size / 1e6:.1f} MB, {args.runs} runs each, alternating")
    print(f"{'':18} {'median s':>9} {'MB/s':>8} {'min s':>7} {'max s':>7}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, seconds in medians.items():
        low, high = min(samples[name]), max(samples[name])
        print(f"{name:18} {seconds:9.3f} {size / 1e6 / seconds:8.1f} {low:7.3f} {high:7.3f}")
    ratio = medians["bgsave+cp+restic"] / medians["faktctl backup"]
    verdict = "met" if ratio >= 1.0 else "MISSED"
    print(f"faktctl backup vs BGSAVE + docker cp + restic backup: {ratio:.2f}x")
    print(f"target >= 1.0x: {verdict}")
    sys.exit(0 if ratio >= 1.0 else 1)


if __name__ == "__main__":
    main()
