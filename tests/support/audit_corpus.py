"""The compose-file audit corpus (tests/unit/audit_corpus): reading a case's header and
auditing the case in a temporary folder, for the tests that hold the audit to it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from faktctl.audit.model import AuditReport
from faktctl.audit.runner import audit
from faktctl.audit.sources.compose.gather import gather_compose

CORPUS = Path(__file__).resolve().parents[1] / "unit" / "audit_corpus"
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


def copy_case(case: Case, workdir: Path) -> Path:
    """The case as a folder `workdir/NAME` holding its compose file, modes applied."""
    target = workdir / case.name
    if case.source.is_dir():
        shutil.copytree(case.source, target)
    else:
        target.mkdir()
        shutil.copy(case.source, target / case.compose_name)
    for relative, mode in case.chmod:
        (target / relative).chmod(mode)
    return target


def run_case(case: Case, workdir: Path) -> AuditReport:
    target = copy_case(case, workdir)
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
