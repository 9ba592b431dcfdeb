"""The test folders have no __init__.py, so pytest imports each test module by its file name
alone: two test files with one name in tests/unit and tests/e2e stop the whole run at
collection. Helpers running a folder at a time never see that; this test does."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_name_is_unique_across_the_suite() -> None:
    places: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob("test_*.py")):
        places[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: where for name, where in places.items() if len(where) > 1}
    assert not clashes, f"test modules sharing a name: {clashes}"
