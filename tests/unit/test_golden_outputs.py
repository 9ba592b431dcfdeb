"""Golden outputs: `render` (compose, kubernetes, and stack refused off swarm), `schema` and
`audit --format json` over every corpus case and example spec, compared byte for byte with
tests/golden/ (recorded by `python -m tests.support.golden --record`).

faktctl runs through its entry point only (tests.support.golden), so the same files hold a
reorganised tree to the same outputs. The engine cases are in tests/e2e/test_golden_dry_run.py.
"""

from __future__ import annotations

import pytest

from tests.support import golden


@pytest.mark.parametrize("case", golden.UNIT_CASES, ids=[c.id for c in golden.UNIT_CASES])
def test_output_matches_the_golden_file(case: golden.Case) -> None:
    problem = golden.mismatch(case, golden.produce(case))
    assert problem is None, problem


def test_every_golden_file_belongs_to_a_case() -> None:
    recorded = {
        path
        for path in golden.GOLDEN.rglob("*.txt")
        if golden.GOLDEN / "inputs" not in path.parents
    }
    stale = sorted(
        str(p.relative_to(golden.GOLDEN)) for p in recorded - {c.path for c in golden.CASES}
    )
    assert not stale, f"golden files no case produces (remove them): {stale}"


def test_every_input_has_a_case() -> None:
    ids = {c.id for c in golden.CASES}
    for example in golden.EXAMPLE_NAMES:
        for target in ("compose", "kubernetes", "stack"):
            assert f"render/{example}-{target}" in ids
        assert {f"audit/spec-{example}", f"dry-run/{example}"} <= ids
    assert {"render/swarm-stack", "schema/schema"} <= ids
    names = {c.name for c in golden.CASES if c.kind == "audit"}
    assert {f"compose-{c.name}" for c in golden.corpus_cases()} <= names
    assert {f"k8s-{p.stem}" for p in golden.K8S_CORPUS.glob("*.yaml")} <= names
    assert {f"inputs-{p.name}" for p in golden.AUDIT_INPUTS.iterdir()} <= names
    assert len(golden.corpus_cases()) >= 30 and {"minimal", "polyglot"} <= set(golden.EXAMPLE_NAMES)
