"""Engine.stat_path against the real engine: the size the backup checks free space with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from faktctl.adapters.docker.api import ObjectNotFound
from faktctl.adapters.docker.connect import connect
from faktctl.adapters.docker.engine import Engine
from faktctl.backups import savepoint

if TYPE_CHECKING:
    from tests.support.e2e_fixtures import FaktoryServer


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = connect()
    yield made
    made.close()


def test_stat_path_reports_what_stat_in_the_container_says(
    faktory_server: Callable[..., FaktoryServer], engine: Engine
) -> None:
    server = faktory_server(password="stat-Secret-1", production=True)
    code, output = server.container.exec_run(["redis-cli", "-s", savepoint.SOCKET, "SAVE"])
    assert code == 0, output
    code, output = server.container.exec_run(["stat", "-c", "%s %a", savepoint.RDB_PATH])
    assert isinstance(output, bytes) and server.container.id is not None
    size, mode = output.decode().split()

    found = engine.stat_path(server.container.id, savepoint.RDB_PATH)

    assert found["name"] == "faktory.rdb"
    assert found["size"] == int(size) > 0
    assert found["mode"] & 0o777 == int(mode, 8)


def test_stat_path_of_a_missing_file_says_not_found(
    faktory_server: Callable[..., FaktoryServer], engine: Engine
) -> None:
    server = faktory_server(password="stat-Secret-1", production=True)
    assert server.container.id is not None
    with pytest.raises(ObjectNotFound, match="/var/lib/faktory/db/nothing-here"):
        engine.stat_path(server.container.id, "/var/lib/faktory/db/nothing-here")
