"""The wire probe against the real Faktory 1.10.0 server in a container."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from faktctl.adapters import probe

if TYPE_CHECKING:
    from tests.support.e2e_fixtures import FaktoryServer

from tests.support.producer import make_job

PASSWORD = "e2e-Secret-42"


@pytest.fixture
def protected(faktory_server: Callable[..., FaktoryServer]) -> FaktoryServer:
    """A production-mode server with FAKTORY_PASSWORD set."""
    return faktory_server(password=PASSWORD, production=True)


def test_password_is_enforced_and_greeting_carries_salt(protected: FaktoryServer) -> None:
    result = probe.handshake(protected.host, protected.port, PASSWORD)
    assert result.password_required is True
    assert isinstance(result.greeting.get("s"), str) and result.greeting["s"]
    assert result.iterations is not None and 4000 <= result.iterations <= 8095
    assert result.accepted is True
    assert result.error is None


def test_wrong_password_is_refused(protected: FaktoryServer) -> None:
    result = probe.handshake(protected.host, protected.port, "not-the-password")
    assert result.accepted is False
    assert result.error == "Invalid password"


def test_missing_password_is_refused(protected: FaktoryServer) -> None:
    result = probe.handshake(protected.host, protected.port, None)
    assert result.accepted is False
    assert result.error == "Invalid password"


def test_pushed_job_shows_in_info(protected: FaktoryServer) -> None:
    with protected.connect() as conn:
        conn.push(make_job("demo.echo", ["hello"], queue="e2e"))
        info = conn.info()
        sizes = conn.queue_sizes()
    assert sizes.get("e2e") == 1
    assert info["faktory"]["total_enqueued"] >= 1
    assert info["server"]["faktory_version"] == "1.10.0"


def test_health_answers_without_auth(protected: FaktoryServer) -> None:
    health = probe.http_health(protected.host, protected.web_port)
    assert health["server"]["faktory_version"] == "1.10.0"
    assert health["server"]["description"] == "Faktory"


def test_dashboard_requires_basic_auth(protected: FaktoryServer) -> None:
    assert probe.http_status(protected.host, protected.web_port, "/") == 401
    assert probe.http_status(protected.host, protected.web_port, "/", password="wrong") == 401
    assert probe.http_status(protected.host, protected.web_port, "/", password=PASSWORD) == 200


def test_development_default_has_no_password(faktory_server: Callable[..., FaktoryServer]) -> None:
    server = faktory_server()
    result = probe.handshake(server.host, server.port, None)
    assert result.greeting == {"v": 2}
    assert result.password_required is False
    assert result.accepted is True
    assert probe.http_status(server.host, server.web_port, "/") == 200
