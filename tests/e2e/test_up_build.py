"""Issue 4: a worker with `build:` is built through the SDK, tagged by the content of its
context, rebuilt (and only that worker recreated) when the context changes, never otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker

from faktctl import labels
from tests.support.upkit import Deployment, go_worker, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest


def _context(folder: Path, base_image: str, note: str) -> Path:
    """A build context on top of the local Go worker image (nothing is pulled)."""
    context = folder / "worker"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(f"FROM {base_image}\nCOPY note.txt /note.txt\n")
    (context / "note.txt").write_text(note)
    return context


def test_built_worker_is_tagged_by_content_and_rebuilt_only_on_change(
    make_deployment: Callable[..., Deployment],
    go_worker_image: str,
    docker_client: docker.DockerClient,
) -> None:
    deployment = make_deployment([go_worker("plain", go_worker_image)])
    context = _context(deployment.folder, go_worker_image, "first")

    def add_built_worker(spec: dict[str, object]) -> None:
        workers = spec["workers"]
        assert isinstance(workers, list)
        workers.append({"name": "built", "build": {"context": "worker"}})

    deployment.edit(add_built_worker)
    first = deployment.up()
    assert "✓ built: built " in first.stderr
    name = f"{deployment.project}-built-1"
    image = deployment.inspect(name)["Config"]["Image"]
    assert image.startswith(f"{deployment.project}-built:build-")
    built = docker_client.images.get(image)
    assert f"{deployment.project}-built:local" in built.tags, "the spec's name is tagged too"
    assert built.labels[labels.PROJECT] == deployment.project

    again = deployment.up()
    assert "up to date" in again.stderr and "build" not in again.stderr

    before = deployment.containers()
    (context / "note.txt").write_text("second")
    changed = deployment.up()
    assert "✓ built: built " in changed.stderr
    after = deployment.containers()
    assert after[name] != before[name]
    assert {n: c for n, c in after.items() if n != name} == {
        n: c for n, c in before.items() if n != name
    }
    assert deployment.inspect(name)["Config"]["Image"] != image


def test_old_build_tags_are_pruned_keeping_the_current_and_the_previous(
    make_deployment: Callable[..., Deployment],
    go_worker_image: str,
    docker_client: docker.DockerClient,
) -> None:
    deployment = make_deployment([{"name": "built", "build": {"context": "worker"}}])
    context = _context(deployment.folder, go_worker_image, "v1")
    name = f"{deployment.project}-built-1"
    tags = []
    for version in ("v1", "v2", "v3"):
        (context / "note.txt").write_text(version)
        run = deployment.up()
        tags.append(deployment.inspect(name)["Config"]["Image"])
    assert len(set(tags)) == 3
    assert f"pruned 1 old worker image tag(s): {tags[0]}" in run.stderr
    present = {
        tag
        for image in docker_client.images.list(name=f"{deployment.project}-built")
        for tag in image.tags
    }
    assert tags[0] not in present
    assert {tags[1], tags[2]} <= present  # the current one and the one before it
    again = deployment.up()
    assert "up to date" in again.stderr and "pruned" not in again.stderr
