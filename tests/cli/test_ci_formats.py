"""The report formats CI systems read natively (issue 22, section 1): GitHub workflow commands,
a Markdown step summary, GitLab Code Quality, and SARIF validated against the OASIS SARIF 2.1.0
schema (tests/fixtures/sarif, source and licence in its README). Every format: the same
findings, the same exit code, paths relative to the repository's top folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from faktctl.audit.model import AuditReport, Finding, Location, RuleMeta
from faktctl.audit.report.github import annotation, escape_data, escape_property
from faktctl.audit.report.markdown import cell
from tests.paths import REPO
from tests.support.cli import run_faktctl

SCHEMA = REPO / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
FORMATS = ("table", "json", "sarif", "junit", "github", "markdown", "gitlab")
GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=cwd, capture_output=True, timeout=60, check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    )  # fmt: skip


def wrong_project(tmp_path: Path) -> Path:
    """A repository whose spec lives in deploy/faktory/ and fails several checks."""
    top = tmp_path / "repo"
    folder = top / "deploy" / "faktory"
    folder.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=top)
    assert run_faktctl("init", "--yes", "--project", "shop", cwd=folder).code == 0
    spec = yaml.safe_load((folder / "faktory.yaml").read_text())
    spec["server"]["ports"]["dashboard"] = "0.0.0.0:7420"
    spec["server"]["image"] = "contribsys/faktory:latest"
    del spec["backup"]
    (folder / "faktory.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    git("add", "-A", cwd=top)
    git("commit", "-q", "-m", "faktory", cwd=top)
    return folder


def audit(folder: Path, fmt: str, *extra: str) -> tuple[int, str, str]:
    result = run_faktctl("audit", "--scope", "repo", "--format", fmt, *extra, cwd=folder)
    return result.code, result.stdout, result.stderr


def _failing_ids(document: dict[str, Any]) -> list[str]:
    return sorted(f["id"] for f in document["result"]["findings"] if f["status"] == "fail")


def test_every_format_reports_the_same_failures_and_exit_code(tmp_path: Path) -> None:
    folder = wrong_project(tmp_path)
    runs = {fmt: audit(folder, fmt) for fmt in FORMATS}
    strict = {fmt: audit(folder, fmt, "--strict")[0] for fmt in FORMATS}
    assert {code for code, _, _ in runs.values()} == {1}
    assert set(strict.values()) == {1}

    expected = _failing_ids(json.loads(runs["json"][1]))
    assert {"FKD001", "FKB001"} <= set(expected)
    sarif = json.loads(runs["sarif"][1])
    assert sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == expected
    gitlab = json.loads(runs["gitlab"][1])
    assert sorted(issue["check_name"] for issue in gitlab) == expected
    github = [
        line
        for line in runs["github"][1].splitlines()
        if re.match(r"::(error|warning|notice) .*title=FK", line)
    ]
    assert sorted(re.findall(r"title=(FK\w+) ", "\n".join(github))) == expected
    markdown = runs["markdown"][1]
    failing_section = markdown.split("### Failing checks", 1)[1].split("<details>", 1)[0]
    assert sorted(re.findall(r"^\| FAIL \| \w+ \| (FK\w+) \|", failing_section, re.M)) == expected
    assert "## faktctl audit: FAIL" in markdown


def test_paths_are_relative_to_the_repository_root(tmp_path: Path) -> None:
    folder = wrong_project(tmp_path)
    _, out, _ = audit(folder, "github")
    assert "file=deploy/faktory/faktory.yaml,line=" in out
    _, out, _ = audit(folder, "gitlab")
    assert {issue["location"]["path"] for issue in json.loads(out)} == {
        "deploy/faktory/faktory.yaml"
    }
    _, out, _ = audit(folder, "sarif")
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in json.loads(out)["runs"][0]["results"]
        for loc in result["locations"]
    }
    assert uris == {"deploy/faktory/faktory.yaml"}
    _, out, _ = audit(folder, "json")
    assert json.loads(out)["result"]["input"]["file"] == "deploy/faktory/faktory.yaml"


def test_sarif_is_valid_sarif_2_1_0_with_stable_fingerprints(tmp_path: Path) -> None:
    folder = wrong_project(tmp_path)
    schema = json.loads(SCHEMA.read_text())
    first = json.loads(audit(folder, "sarif")[1])
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(first)

    (run,) = first["runs"]
    rules = run["tool"]["driver"]["rules"]
    for rule in rules:
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["helpUri"] == f"docs/audit-checks.md#{rule['id'].lower()}"
        anchor = f"### {rule['id']}"
        assert anchor in (REPO / "docs" / "audit-checks.md").read_text()
    prints = [r["partialFingerprints"]["faktctlFinding/v2"] for r in run["results"]]
    assert len(set(prints)) == len(prints) > 0

    # another run, at another time, in another clone: the same fingerprints
    second = json.loads(audit(folder, "sarif")[1])
    again = [r["partialFingerprints"]["faktctlFinding/v2"] for r in second["runs"][0]["results"]]
    assert again == prints
    gitlab_prints = [i["fingerprint"] for i in json.loads(audit(folder, "gitlab")[1])]
    assert gitlab_prints == [i["fingerprint"] for i in json.loads(audit(folder, "gitlab")[1])]
    assert len(set(gitlab_prints)) == len(gitlab_prints)


def test_sarif_schema_rejects_what_is_not_sarif() -> None:
    """The validator is real: a result without its message fails."""
    schema = json.loads(SCHEMA.read_text())
    broken = {
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "FKD001"}]}],
    }
    try:
        jsonschema.Draft4Validator(schema).validate(broken)
    except jsonschema.ValidationError as err:
        assert "message" in err.message
    else:
        raise AssertionError("a result without a message passed the SARIF schema")


def test_gitlab_code_quality_fields(tmp_path: Path) -> None:
    folder = wrong_project(tmp_path)
    issues = json.loads(audit(folder, "gitlab", "--strict")[1])
    assert issues
    for issue in issues:
        assert set(issue) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in GITLAB_SEVERITIES
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
        assert re.fullmatch(r"[0-9a-f]{32}", issue["fingerprint"])
    by_id = {issue["check_name"]: issue for issue in issues}
    assert by_id["FKD001"]["severity"] == "critical"


META = RuleMeta(
    "FKD001", "dashboard", "dashboard-exposure", "error", "A: title, with comma", "Fix."
)


def test_github_escaping_follows_the_toolkit() -> None:
    assert escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    finding = Finding(
        META, "fail", "web", "line one\nline two: 50%, done", Location("dir,x/f:1.yaml", 3, 5)
    )
    line = annotation(finding, None)
    assert line.startswith(
        "::error file=dir%2Cx/f%3A1.yaml,line=3,col=5,title=FKD001 A%3A title%2C with comma::"
    )
    assert "\n" not in line
    assert line.endswith("::[web] line one%0Aline two: 50%25, done%0AFix: Fix.")


def test_markdown_cells_cannot_break_the_table() -> None:
    assert cell("a|b\nc <script>") == "a\\|b c &lt;script&gt;"
    report = AuditReport(
        "spec", "faktory.yaml", (Finding(META, "fail", None, "x | y", Location("f", 1)),)
    )
    from faktctl.audit.report.markdown import render_markdown

    text = render_markdown(report, strict=False)
    rows = [line for line in text.splitlines() if line.startswith("| FAIL")]
    assert rows and all(row.count(" | ") == 5 for row in rows)
