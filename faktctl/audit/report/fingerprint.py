"""One fingerprint per finding, stable across runs: what code scanning (SARIF
partialFingerprints) and GitLab Code Quality match alerts by. It is built from what identifies
the finding (check, service, file, and its position among the same check's findings there),
never from the message, which may carry an age or a count that changes on every run."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from faktctl.audit.model import Finding


def fingerprints(findings: Sequence[Finding]) -> list[str]:
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for finding in findings:
        file = finding.location.file if finding.location else ""
        key = (finding.id, finding.service or "", file)
        ordinal = seen.get(key, 0)
        seen[key] = ordinal + 1
        text = "|".join((*key, str(ordinal)))
        out.append(hashlib.sha256(text.encode()).hexdigest()[:32])
    return out
