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


# --- agreement: how many judged points the audit gets right ------------------------------------

K8S_CORPUS = CORPUS.parent / "k8s_corpus"


def k8s_expectations(path: Path) -> tuple[dict[tuple[str, str], str], dict[str, str], set[str]]:
    """A Kubernetes case's header: (expected statuses, where findings point, the servers)."""
    expected: dict[tuple[str, str], str] = {}
    where: dict[str, str] = {}
    servers: set[str] = set()
    for line in path.read_text().splitlines():
        if not line.startswith("# "):
            continue
        words = line[2:].strip()
        if words.startswith("expect "):
            service, _, rest = words[7:].partition(":")
            for group in rest.split(";"):
                status, *ids = group.split()
                for check in ids:
                    key = (service.strip(), check)
                    assert key not in expected, f"{path.name}: {key} listed twice"
                    expected[key] = status
        elif words.startswith("at "):
            check, place = words[3:].split()
            where[check] = place
        elif words.startswith("servers:"):
            servers = set(words[8:].split())
    return expected, where, servers


def k8s_misses(path: Path, report: AuditReport) -> tuple[int, list[str]]:
    """(points judged, what the audit got wrong) for one Kubernetes case."""
    return judged_misses(*k8s_expectations(path), report)


def judged_misses(
    expected: dict[tuple[str, str], str],
    where: dict[str, str],
    servers: set[str],
    report: AuditReport,
) -> tuple[int, list[str]]:
    """(points judged, what the audit got wrong): every stated status, every `at` place and,
    when the case lists its servers, every service audited or not audited as one."""
    found = {(f.service or "-", f.id): f for f in report.findings}
    wrong = []
    for key, status in expected.items():
        finding = found.get(key)
        if finding is None:
            wrong.append(f"{key}: no such finding")
        elif finding.status != status:
            wrong.append(f"{key}: {finding.status}, expected {status}: {finding.message}")
    for check, place in where.items():
        hits = [f for f in report.findings if f.id == check and f.status == "fail"]
        shown = [Path(str(f.location)).name for f in hits if f.location]
        if place not in shown:
            wrong.append(f"{check} at {shown}, expected {place}")
    points = len(expected) + len(where)
    if servers:
        audited = {f.service for f in report.findings if f.service and f.id == "FKM001"}
        points += len(servers | audited)
        wrong += [f"{s}: audited as a server" for s in sorted(audited - servers)]
        wrong += [f"{s}: not audited" for s in sorted(servers - audited)]
    return points, wrong


# --- the platform corpus: ECS, Render, Fly.io ------------------------------------------------

PLATFORM_CORPUS = CORPUS.parent / "platform_corpus"


@dataclass
class PlatformCase:
    name: str
    folder: Path
    file: str
    source: str
    licence: str
    expected: dict[tuple[str, str], str]
    servers: set[str]


def platform_cases() -> list[PlatformCase]:
    """Every case folder: the deployment file, what it needs, and a CASE file (file:,
    source:, licence:, note:, `expect SERVICE: fail ...; pass ...; skip ...`, servers:)."""
    cases = []
    for folder in sorted(p for p in PLATFORM_CORPUS.iterdir() if (p / "CASE").is_file()):
        fields: dict[str, str] = {}
        expected: dict[tuple[str, str], str] = {}
        servers: set[str] = set()
        for line in (folder / "CASE").read_text().splitlines():
            if line.startswith("expect "):
                service, _, rest = line[7:].partition(":")
                for group in rest.split(";"):
                    status, *ids = group.split()
                    assert status in STATUSES, f"{folder.name}: bad status {status}"
                    for check in ids:
                        assert (service.strip(), check) not in expected, f"{folder.name}: twice"
                        expected[(service.strip(), check)] = status
            elif line.startswith("servers:"):
                servers = set(line[8:].split())
            else:
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        cases.append(
            PlatformCase(
                folder.name,
                folder,
                fields["file"],
                fields.get("source", ""),
                fields.get("licence", ""),
                expected,
                servers,
            )
        )
    return cases


def run_platform_case(case: PlatformCase, workdir: Path) -> AuditReport:
    """The case audited the way `faktctl audit --compose FILE` does, in a copy of its folder."""
    from faktctl.commands.audit import gather

    target = workdir / case.name
    shutil.copytree(case.folder, target)
    previous = Path.cwd()
    os.chdir(target)
    try:
        return audit(gather(None, Path(case.file), False, {}))
    finally:
        os.chdir(previous)


def agreement(workdir: Path) -> tuple[int, int, list[str]]:
    """(points that agree, points judged, the misses) over the three corpora, counted the way
    their tests compare: compose, every (service, check) status either side states; platforms
    and Kubernetes, every stated status, `at` line and audited server. A case the audit
    refuses misses all its points."""
    from faktctl.audit.sources.kubernetes.gather import gather_kubernetes
    from faktctl.errors import FaktctlError

    agreed = total = 0
    misses: list[str] = []
    for number, case in enumerate(all_cases()):
        scratch = workdir / str(number)
        scratch.mkdir()
        try:
            actual = statuses(run_case(case, scratch))
        except FaktctlError as err:
            total += len(case.expected)
            misses.append(f"{case.name}: refused ({err})")
            continue
        for key in case.expected.keys() | actual.keys():
            total += 1
            if case.expected.get(key) == actual.get(key):
                agreed += 1
            else:
                misses.append(
                    f"{case.name} {key}: {actual.get(key)}, judged {case.expected.get(key)}"
                )
    for platform in platform_cases():
        scratch = workdir / f"platform-{platform.name}"
        scratch.mkdir()
        try:
            report = run_platform_case(platform, scratch)
        except FaktctlError as err:
            total += len(platform.expected) + len(platform.servers)
            misses.append(f"{platform.name}: refused ({err})")
            continue
        points, wrong = judged_misses(platform.expected, {}, platform.servers, report)
        total += points
        agreed += points - len(wrong)
        misses += [f"{platform.name} {w}" for w in wrong]
    for path in sorted(K8S_CORPUS.glob("*.yaml")):
        try:
            report = audit(gather_kubernetes(str(path), NOW))
        except FaktctlError as err:
            points = len(k8s_expectations(path)[0])
            total += points
            misses.append(f"{path.stem}: refused ({err})")
            continue
        points, wrong = k8s_misses(path, report)
        total += points
        agreed += points - len(wrong)
        misses += [f"{path.stem} {w}" for w in wrong]
    return agreed, total, misses


if __name__ == "__main__":  # python -m tests.support.audit_corpus: print the agreement
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "x").mkdir()
        ok, judged, missed = agreement(Path(scratch) / "x")
    for miss in missed:
        print(miss[:200])
    print(f"agreement: {ok} of {judged} points ({100 * ok / max(judged, 1):.1f}%)")
    sys.exit(0)
