"""The Kubernetes corpus: each case states, in its header, the status of the checks it is about
(and where some findings point), and this one parametrized test holds `audit --k8s` to it.

Header lines of `k8s_corpus/NN-name.yaml`:

    # expect WORKLOAD: fail ID ...; pass ID ...; skip ID ...     (`-` = deployment-wide)
    # at ID FILE:LINE:COLUMN                                      where that finding points
    # servers: WORKLOAD ...      exactly these are audited as servers (a sidecar is not)

The same files go through a real kube-apiserver's strict dry-run in
tests/e2e/test_kubernetes_api.py, so every case is a valid set of objects. What the real
`faktctl audit --k8s` says on stdin, a raw chart and broken files:
tests/cli/test_audit_k8s_inputs.py.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faktctl.audit.runner import audit
from faktctl.audit.sources.kubernetes.gather import gather_kubernetes
from faktctl.errors import UsageError
from tests.support.audit_corpus import k8s_expectations, k8s_misses

CORPUS = Path(__file__).parent / "k8s_corpus"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
CASES = sorted(CORPUS.glob("*.yaml"))


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_case(case: Path) -> None:
    assert k8s_expectations(case)[0], f"{case.name} states no expectation"
    report = audit(gather_kubernetes(str(case), NOW))
    _, wrong = k8s_misses(case, report)
    assert not wrong, "\n".join(wrong)


def test_every_kubernetes_check_fails_somewhere_in_the_corpus() -> None:
    failing = set()
    for case in CASES:
        failing |= {
            f.id for f in audit(gather_kubernetes(str(case), NOW)).findings if f.status == "fail"
        }
    kube_ids = {"FKP020", "FKP021", "FKD020", "FKD021", "FKD022", "FKS030", "FKH030", "FKH031"}
    shared = {"FKP001", "FKP002", "FKP003", "FKP004", "FKM001", "FKS001", "FKS002", "FKS004"}
    shared |= {"FKS005", "FKS006", "FKS008", "FKD001", "FKD002", "FKH001", "FKH003", "FKH006"}
    assert kube_ids | shared <= failing, sorted((kube_ids | shared) - failing)


def test_text_without_a_faktory_server_or_worker_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n"
    )
    with pytest.raises(UsageError, match="no Faktory server or worker"):
        gather_kubernetes(str(tmp_path / "web.yaml"), NOW)


def test_a_folder_is_read_recursively(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "01-statefulset-safe.yaml", tmp_path / "server.yaml")
    (tmp_path / "apps").mkdir()
    shutil.copy(CORPUS / "04-hpa.yaml", tmp_path / "apps" / "other.yml")
    (tmp_path / "README.md").write_text("not a manifest")
    report = audit(gather_kubernetes(str(tmp_path), NOW))
    failing = {(f.service, f.id) for f in report.findings if f.status == "fail"}
    assert ("faktory", "FKP021") in failing  # both files define StatefulSet faktory
