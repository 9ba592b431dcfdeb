"""The images a desired state runs: built images tagged by the digest of their build context,
and what must be pulled or built before the containers (or swarm services) can be planned."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faktctl.platforms.engine.plan import ImageAction, PullPolicy, plan_images, with_build_tags

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.desired import Desired


def build_digests(desired: Desired) -> dict[str, str]:
    """Service name -> digest of its build context, for every service with `build:`."""
    from faktctl.adapters.docker.engine import context_digest

    return {
        s.name: context_digest(s.build.context, s.build.dockerfile)
        for s in desired.services
        if s.build is not None
    }


def with_built_images(desired: Desired) -> Desired:
    """The desired state with every built image named by its content tag."""
    return with_build_tags(desired, build_digests(desired))


def resolve_images(
    engine: Engine, desired: Desired, pull: PullPolicy
) -> tuple[Desired, tuple[ImageAction, ...]]:
    """The desired state with built images content-tagged, and what to pull or build first."""
    digests = build_digests(desired)
    resolved = with_build_tags(desired, digests)
    present = {image: _image_id(engine, image) for image in {s.image for s in resolved.services}}
    return resolved, plan_images(desired, digests, present, pull)


def _image_id(engine: Engine, reference: str) -> str | None:
    found = engine.image(reference)
    return str(found["Id"]) if found is not None else None
