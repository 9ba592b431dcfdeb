"""Engine.read_file streams one regular file out of the tar the engine sends, whatever its
chunking, and refuses a folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from faktctl.adapters.docker.api import ObjectNotFound
from faktctl.adapters.docker.engine import Engine
from tests.support.tarballs import tar_of


def engine_sending(data: bytes, chunk_sizes: list[int]) -> Engine:
    def chunks() -> Iterator[bytes]:
        offset, turn = 0, 0
        while offset < len(data):
            size = chunk_sizes[turn % len(chunk_sizes)]
            yield data[offset : offset + size]
            offset, turn = offset + size, turn + 1

    def get_archive(
        container_id: str, path: str, chunk_size: int = 0
    ) -> tuple[Iterator[bytes], dict[str, Any]]:
        return chunks(), {}

    client: Any = SimpleNamespace(api=SimpleNamespace(get_archive=get_archive))
    return Engine(client, "unix:///var/run/docker.sock")


@pytest.mark.parametrize(
    "chunk_sizes",
    [[2 << 20], [1], [0, 7, 0, 10_240, 3], [1 << 16, 511]],
    ids=["engine-sized", "one-byte", "ragged-with-empty", "mixed"],
)
def test_read_file_returns_the_file_exactly(chunk_sizes: list[int]) -> None:
    content = os.urandom(200_000 if chunk_sizes == [1] else 3 << 20)
    engine = engine_sending(tar_of("faktory.rdb", content), chunk_sizes)
    assert b"".join(engine.read_file("c0ffee", "/var/lib/faktory/db/faktory.rdb")) == content


def test_read_file_refuses_a_folder_instead_of_returning_a_file_inside_it() -> None:
    engine = engine_sending(tar_of("db/faktory.rdb", b"REDIS0011", folder=True), [100])
    with pytest.raises(ObjectNotFound, match="not a regular file"):
        b"".join(engine.read_file("c0ffee", "/var/lib/faktory/db"))
