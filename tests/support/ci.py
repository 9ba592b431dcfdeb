"""The CI rule for tests that cannot run here: in CI (CI set) that is a failure, not a skip."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def impossible_here(reason: str) -> NoReturn:
    """Skip a test whose mechanism this machine lacks; in CI fail it instead (a unit test
    must not quietly stop testing anything where the suite is meant to prove it)."""
    if in_ci():
        pytest.fail(f"cannot run in CI (CI is set): {reason}", pytrace=False)
    pytest.skip(reason)
