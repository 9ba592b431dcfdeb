"""The platform corpus: ECS task definitions (JSON, CloudFormation, Terraform), Render blueprints
and fly.toml, audited the way `faktctl audit --compose FILE` reads them. Each case folder
holds the deployment file (and the Dockerfile it builds) and a CASE file naming its public
source and licence and the status of the checks it is about:

    file: render.yaml
    source: URL            licence: ...            note: what the case is about
    expect SERVICE: fail ID ...; pass ID ...; skip ID ...
    servers: SERVICE ...   exactly these are audited as servers
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.audit_corpus import (
    PlatformCase,
    judged_misses,
    platform_cases,
    run_platform_case,
)

CASES = platform_cases()


def test_every_platform_has_cases_with_a_source_and_a_licence() -> None:
    kinds = {c.file.rsplit(".", 1)[-1] for c in CASES}
    assert {"json", "yaml", "tf", "toml"} <= kinds
    for case in CASES:
        assert case.source.startswith("https://") and case.licence, case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_platform_case(case: PlatformCase, tmp_path: Path) -> None:
    assert case.expected and case.servers, f"{case.name} states no expectation"
    report = run_platform_case(case, tmp_path)
    _, wrong = judged_misses(case.expected, {}, case.servers, report)
    assert not wrong, (
        "\n".join(wrong)
        + "\n"
        + "\n".join(
            f"  {f.service} {f.id} {f.status}: {f.message}" for f in report.findings if f.service
        )
    )
