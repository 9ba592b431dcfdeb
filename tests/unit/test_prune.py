"""Which old `build-*` worker image tags `up` removes (pure)."""

from __future__ import annotations

from typing import Any

from faktctl.platforms.engine.prune import BuildTag, build_tags, tags_to_prune


def test_keeps_the_current_and_the_newest_previous_per_repository() -> None:
    found = [
        BuildTag("shop-emails:build-aaa", 100),
        BuildTag("shop-emails:build-bbb", 200),
        BuildTag("shop-emails:build-ccc", 300),
        BuildTag("shop-emails:build-ddd", 400),
        BuildTag("shop-reports:build-xxx", 50),
        BuildTag("shop-reports:build-yyy", 60),
        BuildTag("retired-worker:build-zzz", 10),
    ]
    current = ["shop-emails:build-ccc", "shop-reports:build-yyy"]
    # ddd, the newest other (rolled back from, say), is the one kept for a quick switch back
    assert tags_to_prune(current, found) == ["shop-emails:build-bbb", "shop-emails:build-aaa"]


def test_nothing_to_prune_with_one_previous() -> None:
    found = [BuildTag("r:build-1", 1), BuildTag("r:build-2", 2)]
    assert tags_to_prune(["r:build-2"], found) == []


def test_only_build_tags_of_the_listed_images_count() -> None:
    images: list[dict[str, Any]] = [
        {"RepoTags": ["reg.example:5000/shop-emails:build-aaa", "shop-emails:local"], "Created": 5},
        {"RepoTags": None, "Created": 6},
        {"RepoTags": ["reg.example:5000/shop"], "Created": 7},
    ]
    assert build_tags(images) == [BuildTag("reg.example:5000/shop-emails:build-aaa", 5)]
