"""The input-reader properties of tests/unit/test_input_properties.py over the deep profile:
the quick loop tries 100 documents per property, the full suite 400 more, in a pytest of its
own (the example count is read when the module is imported)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.paths import REPO

PROPERTIES = REPO / "tests" / "unit" / "test_input_properties.py"
DEEP_EXAMPLES = "400"


def test_the_input_properties_hold_over_the_deep_profile() -> None:
    # PYTEST_ADDOPTS may name the outer run's JUnit file: the inner run must not overwrite it.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["FAKTCTL_PROPERTY_EXAMPLES"] = DEEP_EXAMPLES
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PROPERTIES)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-20_000:] + proc.stderr[-5_000:]
