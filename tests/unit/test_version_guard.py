"""The version guard `up` applies on both platforms (faktctl.upgrade.guard.refuse_crossing)."""

from __future__ import annotations

from typing import Any

import pytest

from faktctl.upgrade import guard


def test_a_change_across_the_key_format_with_jobs_is_refused_with_the_command() -> None:
    with pytest.raises(guard.VersionChangeRefused) as caught:
        guard.refuse_crossing((1, 9, 4), (1, 10, 0), lambda: 12)
    line = caught.value.one_line()
    assert "from Faktory 1.9.4 to 1.10.0" in line and "12 queued job(s)" in line
    assert "faktctl upgrade" in line and "nothing was changed" in line


def test_an_unknown_count_is_refused_and_an_empty_server_is_not() -> None:
    with pytest.raises(guard.VersionChangeRefused, match="its queued jobs"):
        guard.refuse_crossing((1, 9, 4), (1, 10, 0), lambda: None)
    guard.refuse_crossing((1, 9, 4), (1, 10, 0), lambda: 0)


def test_no_crossing_or_an_unknown_version_does_not_count_at_all() -> None:
    def never() -> int:
        raise AssertionError("counted")

    guard.refuse_crossing((1, 10, 0), (1, 10, 1), never)
    guard.refuse_crossing(None, (1, 10, 0), never)
    guard.refuse_crossing((1, 9, 4), None, never)


class _Images:
    def __init__(self, tags: list[str]) -> None:
        self.tags = tags

    def image(self, reference: str) -> dict[str, Any] | None:
        return {"RepoTags": self.tags}


def test_a_pinned_swarm_image_is_versioned_by_its_tags() -> None:
    engine: Any = _Images(["faktctl-test/faktory:1.9.4"])
    assert guard._tagged_version(engine, "sha256:0123abcd") == (1, 9, 4)
    assert guard._tagged_version(engine, "contribsys/faktory:1.10.0") == (1, 10, 0)
    assert guard._tagged_version(_Images(["x:latest"]), "sha256:0123abcd") is None  # type: ignore[arg-type]
