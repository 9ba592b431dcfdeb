"""After a successful `faktctl up`: drop the old content tags of built worker images.

Every `build:` worker image is tagged `<repository>:build-<digest>` by its context's content,
so each change of a worker's code leaves one more image behind. For each such repository the
tag in use and the newest one before it (a quick rollback) are kept; older `build-*` tags of
images built for this project are removed. An image a container still uses is left alone.

`tags_to_prune` is pure; `prune_build_tags` talks to the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faktctl.desired import Desired
from faktctl.errors import FaktctlError
from faktctl.platforms.engine.plan import BUILD_TAG_PREFIX

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine

KEEP_PREVIOUS = 1


@dataclass(frozen=True)
class BuildTag:
    reference: str  # repository:build-<digest>
    created: int  # the image's creation time (unix seconds)


def _split(reference: str) -> tuple[str, str]:
    repository, _, tag = reference.rpartition(":")
    if "/" in tag:  # a registry port, no tag
        return reference, ""
    return repository, tag


def build_tags(images: Iterable[Mapping[str, Any]]) -> list[BuildTag]:
    """Every `build-*` tag of the listed images (engine image summaries)."""
    found = []
    for image in images:
        for reference in image.get("RepoTags") or ():
            _, tag = _split(str(reference))
            if tag.startswith(BUILD_TAG_PREFIX):
                found.append(BuildTag(str(reference), int(image.get("Created") or 0)))
    return found


def tags_to_prune(current: Iterable[str], found: Iterable[BuildTag]) -> list[str]:
    """The build tags to remove: per repository of a current tag, all but the current tag(s)
    and the KEEP_PREVIOUS newest others. Repositories not in use now are left alone."""
    in_use = set(current)
    repositories = {_split(reference)[0] for reference in in_use}
    doomed: list[str] = []
    for repository in sorted(repositories):
        others = sorted(
            (
                t
                for t in found
                if _split(t.reference)[0] == repository and t.reference not in in_use
            ),
            key=lambda t: (t.created, t.reference),
            reverse=True,
        )
        doomed += [t.reference for t in others[KEEP_PREVIOUS:]]
    return doomed


def prune_build_tags(engine: Engine, desired: Desired) -> tuple[list[str], list[str]]:
    """(removed, kept because in use) after a successful `up` of `desired` (build tags resolved).

    Best effort: a failure to list or remove never fails the `up` that already succeeded."""
    current = [s.image for s in desired.services if s.build is not None]
    if not current:
        return [], []
    try:
        found = build_tags(engine.images(desired.object_labels()))
    except FaktctlError:
        return [], []
    removed: list[str] = []
    busy: list[str] = []
    for reference in tags_to_prune(current, found):
        try:
            (removed if engine.untag(reference) else busy).append(reference)
        except FaktctlError:
            busy.append(reference)
    return removed, busy
