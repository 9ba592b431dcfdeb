"""The compose-file corpus: every case states, in its header, the exact status of every check
for every service, and this one parametrized test holds the audit to it.

A case is `audit_corpus/NN-name.yaml`, or a folder `audit_corpus/NN-name/` with a
`compose.yaml` and the files it points to (.env, env files, secrets, conf.d, backups). Header
lines:

    # expect SERVICE: fail ID ID ...; pass ID ...; skip ID ...     (`-` = deployment-wide)
    # env: NAME=value            the shell environment compose would see
    # chmod: RELATIVE/PATH 600   applied after copying (git does not keep modes)

Cases are copied to a temporary folder first, outside any git work tree, so git status and
file modes do not depend on the checkout. That docker compose v2 itself accepts every case is
proven in tests/cli/test_audit_corpus_is_compose.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faktctl.audit.model import AuditReport
from faktctl.audit.runner import audit
from faktctl.audit.sources.compose.gather import gather_compose

CORPUS = Path(__file__).parent / "audit_corpus"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
STATUSES = ("fail", "pass", "skip")


@dataclass
class Case:
    name: str
    source: Path  # the .yaml file or the case folder
    env: dict[str, str] = field(default_factory=dict)
    chmod: list[tuple[str, int]] = field(default_factory=list)
    expected: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def compose_name(self) -> str:
        return "compose.yaml" if self.source.is_dir() else self.source.name


def _header_lines(text: str) -> Iterator[str]:
    for line in text.splitlines():
        if not line.startswith("#"):
            continue
        yield line[1:].strip()


def parse_case(source: Path) -> Case:
    compose = source / "compose.yaml" if source.is_dir() else source
    case = Case(source.name.removesuffix(".yaml"), source)
    for line in _header_lines(compose.read_text()):
        if line.startswith("env:"):
            name, _, value = line[4:].strip().partition("=")
            case.env[name] = value
        elif line.startswith("chmod:"):
            path, mode = line[6:].split()
            case.chmod.append((path, int(mode, 8)))
        elif line.startswith("expect "):
            service, _, rest = line[7:].partition(":")
            for group in rest.split(";"):
                words = group.split()
                if not words:
                    continue
                status, ids = words[0], words[1:]
                assert status in STATUSES, f"{case.name}: bad status {status}"
                for check in ids:
                    key = (service.strip(), check)
                    assert key not in case.expected, f"{case.name}: {key} listed twice"
                    case.expected[key] = status
    return case


def all_cases() -> list[Case]:
    sources = sorted(
        p for p in CORPUS.iterdir() if p.suffix == ".yaml" or (p / "compose.yaml").is_file()
    )
    return [parse_case(p) for p in sources]


def run_case(case: Case, workdir: Path) -> AuditReport:
    target = workdir / case.name
    if case.source.is_dir():
        shutil.copytree(case.source, target)
    else:
        target.mkdir()
        shutil.copy(case.source, target / case.compose_name)
    for relative, mode in case.chmod:
        (target / relative).chmod(mode)
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        return audit(gather_compose(target / case.compose_name, case.env, NOW))
    finally:
        os.chdir(previous)


def statuses(report: AuditReport) -> dict[tuple[str, str], str]:
    """One status per (service, check): fail if any finding fails, else pass if any passes."""
    found: dict[tuple[str, str], set[str]] = {}
    for finding in report.findings:
        found.setdefault((finding.service or "-", finding.id), set()).add(finding.status)
    return {key: next(s for s in STATUSES if s in seen) for key, seen in found.items()}


def header_for(report: AuditReport) -> str:
    """The expect lines that describe `report` (to write a new case)."""
    by_service: dict[str, dict[str, list[str]]] = {}
    for (service, check), status in statuses(report).items():
        by_service.setdefault(service, {s: [] for s in STATUSES})[status].append(check)
    lines = []
    for service, groups in by_service.items():
        parts = [f"{s} {' '.join(sorted(ids))}" for s, ids in groups.items() if ids]
        lines.append(f"# expect {service}: " + "; ".join(parts))
    return "\n".join(lines)


CASES = all_cases()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case: Case, tmp_path: Path) -> None:
    assert case.expected, f"{case.name} has no expect lines"
    report = run_case(case, tmp_path)
    actual = statuses(report)
    assert actual == case.expected, (
        f"{case.name}: findings differ from the header; actual:\n{header_for(report)}\n"
        + "\n".join(f"  {f.service or '-'} {f.id} {f.status}: {f.message}" for f in report.findings)
    )


# Covered elsewhere: git status needs a repository (test_audit_spec.py builds one).
COVERED_ELSEWHERE = {"FKS010": ("fail", "pass")}


def test_every_compose_check_both_passes_and_fails_somewhere() -> None:
    from faktctl.audit.registry import all_rules

    seen: dict[str, set[str]] = {}
    for case in CASES:
        for (_, check), status in case.expected.items():
            seen.setdefault(check, set()).add(status)
    missing = []
    for rule in all_rules():
        if "compose" not in rule.inputs:
            continue
        wanted = {"fail", "pass"} - set(COVERED_ELSEWHERE.get(rule.meta.id, ()))
        lacking = wanted - seen.get(rule.meta.id, set())
        if lacking:
            missing.append(f"{rule.meta.id} never {'/'.join(sorted(lacking))}")
    assert not missing, "; ".join(missing)
