"""Suite-wide rules: in CI (CI set), an end-to-end test that skips is a failure."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

from faktctl.platforms.engine.cache import CACHE_DIR_VAR
from tests.support.ci import in_ci

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and in_ci() and item.get_closest_marker("e2e") is not None:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = (
            f"end-to-end test skipped in CI (CI is set), which counts as a failure: {reason}"
        )
    return report


@pytest.fixture(scope="session", autouse=True)
def private_faktctl_cache(tmp_path_factory: pytest.TempPathFactory) -> Generator[Path, None, None]:
    """Every faktctl the suite runs (in-process or as a subprocess) keeps its cache of desired
    states in a folder of the session's, not the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("faktctl-cache")
    before = os.environ.get(CACHE_DIR_VAR)
    os.environ[CACHE_DIR_VAR] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(CACHE_DIR_VAR, None)
    else:
        os.environ[CACHE_DIR_VAR] = before
