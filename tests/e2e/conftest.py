"""The end-to-end fixtures (real containers on the local Docker engine, every object labelled
and removed when the session ends) live in tests/support/e2e_fixtures.py; importing them here
registers them for tests/e2e only."""

from tests.support.e2e_fixtures import (  # noqa: F401 (pytest finds fixtures by name)
    docker_client,
    faktory_image,
    faktory_old_image,
    faktory_server,
    go_worker_image,
    run_container,
    test_labels,
    test_network,
    test_session_id,
    wait_until,
)
