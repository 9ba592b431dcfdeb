"""The report formats and the exit policy: JSON contract, SARIF for GitHub, JUnit, tables."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import pytest

from faktctl.audit.model import AuditReport, Finding, Location, RuleMeta, Suppression
from faktctl.audit.registry import all_rules
from faktctl.audit.report.jsonreport import render_json, report_dict
from faktctl.audit.report.junit import render_junit
from faktctl.audit.report.policy import exit_code, summarize
from faktctl.audit.report.sarif import sarif_dict
from faktctl.audit.report.table import render_plain, render_table
from faktctl.audit.runner import audit
from faktctl.audit.sources.compose.gather import gather_compose
from faktctl.errors import ExitCode

CORPUS = Path(__file__).parent / "audit_corpus"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

# The JSON contract (envelope version 1). Changing it breaks users: bump "faktctl" instead.
LOCATION = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["file", "line"],
    "properties": {
        "file": {"type": "string"},
        "line": {"type": ["integer", "null"]},
        "column": {"type": "integer"},  # only where the input knows it (Kubernetes)
    },
}
FINDING = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id", "name", "title", "category", "severity", "status", "service", "message",
        "remediation", "location", "suppressed",
    ],
    "properties": {
        "id": {"type": "string", "pattern": "^FK[PMSDBH][0-9]{3}$"},
        "name": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "category": {"enum": ["persistence", "production-mode", "password-secret",
                              "dashboard-exposure", "backup", "hygiene"]},
        "severity": {"enum": ["error", "warning", "info"]},
        "status": {"enum": ["pass", "fail", "skip"]},
        "service": {"type": ["string", "null"]},
        "message": {"type": "string", "minLength": 1},
        "remediation": {"type": "string", "minLength": 1},
        "location": LOCATION,
        "suppressed": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["reason", "expires"],
            "properties": {"reason": {"type": "string"}, "expires": {"type": ["string", "null"]}},
        },
    },
}  # fmt: skip
COUNT = {"type": "integer", "minimum": 0}
ENVELOPE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["faktctl", "command", "result"],
    "properties": {
        "faktctl": {"const": 1},
        "command": {"const": "audit"},
        "result": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "input", "scope", "not_evaluated", "strict", "exit_code", "summary", "findings",
                "notes",
            ],
            "properties": {
                "input": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {"enum": ["spec", "compose", "live", "kubernetes"]},
                        "file": {"type": ["string", "null"]},
                    },
                },
                "scope": {"enum": ["repo", "host", "live"]},
                "not_evaluated": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["id", "needs", "title"],
                        "properties": {
                            "id": {"type": "string"},
                            "needs": {"enum": ["host", "live"]},
                            "title": {"type": "string"},
                        },
                    },
                },
                "strict": {"type": "boolean"},
                "exit_code": {"enum": [0, 1]},
                "summary": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["total", "pass", "fail", "skip", "errors", "warnings", "info",
                                 "suppressed"],
                    "properties": {k: COUNT for k in ("total", "pass", "fail", "skip", "errors",
                                                      "warnings", "info", "suppressed")},
                },
                "findings": {"type": "array", "items": FINDING},
                "notes": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}  # fmt: skip


def corpus_report(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditReport:
    monkeypatch.chdir(CORPUS)
    return audit(gather_compose(CORPUS / name, {}, NOW))


RULE = RuleMeta(
    "FKH004", "healthcheck", "hygiene", "warning", "A healthcheck is defined", "Add one."
)


def small_report() -> AuditReport:
    findings = (
        Finding(RULE, "fail", "faktory", "no healthcheck", Location("compose.yaml", 3)),
        Finding(
            RuleMeta(
                "FKB001", "backup-policy", "backup", "error", "A backup policy exists", "Add."
            ),
            "skip",
            None,
            "suppressed (later): no backup policy",
            None,
            suppressed_by=Suppression("FKB001", "later", date(2027, 1, 1), None),
        ),
    )
    return AuditReport("compose", "compose.yaml", findings)


def test_json_envelope_is_pinned_exactly() -> None:
    assert report_dict(small_report(), strict=True) == {
        "faktctl": 1,
        "command": "audit",
        "result": {
            "input": {"kind": "compose", "file": "compose.yaml"},
            "scope": "host",
            "not_evaluated": [],
            "strict": True,
            "exit_code": 1,
            "summary": {
                "total": 2,
                "pass": 0,
                "fail": 1,
                "skip": 1,
                "errors": 0,
                "warnings": 1,
                "info": 0,
                "suppressed": 1,
            },
            "findings": [
                {
                    "id": "FKH004",
                    "name": "healthcheck",
                    "title": "A healthcheck is defined",
                    "category": "hygiene",
                    "severity": "warning",
                    "status": "fail",
                    "service": "faktory",
                    "message": "no healthcheck",
                    "remediation": "Add one.",
                    "location": {"file": "compose.yaml", "line": 3},
                    "suppressed": None,
                },
                {
                    "id": "FKB001",
                    "name": "backup-policy",
                    "title": "A backup policy exists",
                    "category": "backup",
                    "severity": "error",
                    "status": "skip",
                    "service": None,
                    "message": "suppressed (later): no backup policy",
                    "remediation": "Add.",
                    "location": None,
                    "suppressed": {"reason": "later", "expires": "2027-01-01"},
                },
            ],
            "notes": [],
        },
    }
    assert report_dict(small_report(), strict=False)["result"]["exit_code"] == 0


@pytest.mark.parametrize("case", ["01-textbook-unsafe.yaml", "38-suppressions.yaml"])
def test_json_of_real_reports_follows_the_contract(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = json.loads(render_json(corpus_report(case, tmp_path, monkeypatch), strict=False))
    jsonschema.validate(document, ENVELOPE)
    summary = document["result"]["summary"]
    assert summary["total"] == len(document["result"]["findings"])
    assert summary["pass"] + summary["fail"] + summary["skip"] == summary["total"]


def test_sarif_for_github_code_scanning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = corpus_report("01-textbook-unsafe.yaml", tmp_path, monkeypatch)
    rules = [rule.meta for rule in all_rules()]
    sarif = json.loads(json.dumps(sarif_dict(report, rules)))
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "faktctl" and driver["version"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == sorted(set(ids)) and set(ids) == {r.id for r in rules}  # each rule once
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
        assert float(rule["properties"]["security-severity"]) > 0
    failures = [f for f in report.findings if f.status == "fail"]
    assert len(run["results"]) == len(failures) > 0
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "01-textbook-unsafe.yaml"
        assert physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["FKD001"] == "error" and levels["FKH004"] == "warning"


def test_sarif_marks_suppressed_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = corpus_report("38-suppressions.yaml", tmp_path, monkeypatch)
    results = sarif_dict(report, [r.meta for r in all_rules()])["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["FKH006"]
    assert suppressed[0]["suppressions"][0]["justification"] == "the host runs only Faktory"


def test_junit_xml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = corpus_report("27-worker-urls.yaml", tmp_path, monkeypatch)
    root = ET.fromstring(render_junit(report))
    assert root.tag == "testsuites"
    assert int(root.get("tests", "0")) == len(report.findings)
    assert int(root.get("failures", "0")) == summarize(report.findings).failed
    suites = {suite.get("name", "").split(": ")[-1]: suite for suite in root}
    assert set(suites) == {"faktory", "literal", "nopassword", "provider", "deployment"}
    failed = suites["nopassword"].find("testcase/failure")
    assert failed is not None and failed.get("type") == "error"
    assert failed.get("message", "").startswith("FAKTORY_URL (tcp://faktory:7419) has no password")


def finding(severity: str, status: str) -> Finding:
    meta = RuleMeta("FKH004", "x", "hygiene", severity, "t", "r")  # type: ignore[arg-type]
    return Finding(meta, status, "s", "m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("findings", "default", "strict"),
    [
        ([], ExitCode.OK, ExitCode.OK),
        ([finding("error", "pass"), finding("error", "skip")], ExitCode.OK, ExitCode.OK),
        ([finding("info", "fail")], ExitCode.OK, ExitCode.FINDINGS),
        ([finding("warning", "fail")], ExitCode.OK, ExitCode.FINDINGS),
        ([finding("error", "fail")], ExitCode.FINDINGS, ExitCode.FINDINGS),
    ],
)
def test_exit_policy(findings: list[Finding], default: ExitCode, strict: ExitCode) -> None:
    assert exit_code(findings, strict=False) == default
    assert exit_code(findings, strict=True) == strict


def test_tables_group_by_service_and_end_with_a_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = corpus_report("27-worker-urls.yaml", tmp_path, monkeypatch)
    for text in (render_plain(report, strict=True), render_table(report, strict=True)):
        lines = text.rstrip().splitlines()
        assert lines[-1].startswith("FAIL 27-worker-urls.yaml [strict, scope host]: ")
        for service in ("faktory", "literal", "nopassword", "provider", "deployment"):
            assert any(line.strip() == service for line in lines), service
        assert "\x1b[" not in text
    plain = render_plain(report, strict=False, width=100)
    assert all(len(line) <= 100 for line in plain.splitlines()[:-1])
    assert "SKIP    error     FKS008  the worker's URL carries no password" in plain
