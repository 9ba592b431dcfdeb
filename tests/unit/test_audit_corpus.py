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

from pathlib import Path

import pytest

from tests.support.audit_corpus import Case, all_cases, header_for, run_case, statuses

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


# Covered elsewhere: git status needs a repository (test_audit_spec.py builds one); a
# certificate that passes needs a real one, which would expire in a committed case
# (tests/cli/test_audit_compose_tls.py generates them).
COVERED_ELSEWHERE = {"FKS010": ("fail", "pass"), "FKD041": ("fail", "pass")}


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
