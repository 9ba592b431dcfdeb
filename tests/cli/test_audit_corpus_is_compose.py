"""Every case of the compose-file corpus (tests/unit/test_audit_corpus.py) is a compose file
docker compose v2 itself accepts, built from the Go module proxy; a case marked `# compose-v1:`
(the docker-compose 1.x layout, which the audit reads) is one v2 refuses."""

from __future__ import annotations

import pytest

from tests.support.audit_corpus import Case, all_cases
from tests.support.compose import config_problems

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_is_valid_compose(case: Case) -> None:
    """Every case is a compose file docker compose v2 itself accepts (`config -q`)."""
    compose = case.source / "compose.yaml" if case.source.is_dir() else case.source
    problems = config_problems(compose.parent, compose.name, resolve=False)
    if "# compose-v1:" in compose.read_text():  # the 1.x layout: v2 refuses it, the audit reads it
        assert problems != ""
        return
    assert problems == ""
