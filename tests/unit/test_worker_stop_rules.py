"""Issue 23 section 3: the worker-at-stop audit checks' pure parts (the corpus case
67-worker-stop runs them on a compose file) and the orphaned-reservations check (FKH022)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from faktctl.audit.model import AuditFacts, LiveState, OrphanFacts, ServerFacts
from faktctl.audit.registry import Outcome, ServerCtx
from faktctl.audit.rules.workers import _shell_script, live_orphaned_reservations
from faktctl.audit.runner import behaviour_of
from faktctl.faktory.workers import library_of


@pytest.mark.parametrize(
    ("image", "argv", "name"),
    [
        ("ghcr.io/acme/faktory-worker-go-app:1", None, "faktory_worker_go"),
        (
            "acme/jobs:2",
            ["bundle", "exec", "faktory-worker", "-r", "./app.rb"],
            "faktory_worker_ruby",
        ),
        ("acme/jobs:2", ["npx", "faktory-work"], "faktory-worker (node)"),
        ("acme/pyfaktory-jobs:1", None, "pyfaktory"),
        ("acme/jobs:2", ["/app/worker"], None),
        (None, None, None),
    ],
)
def test_library_of(image: str | None, argv: list[str] | None, name: str | None) -> None:
    found = library_of(image, argv)
    assert (found.name if found else None) == name


@pytest.mark.parametrize(
    ("argv", "script"),
    [
        (("sh", "-c", "a && b"), "a && b"),
        (("/bin/bash", "-ec", "x; y"), "x; y"),
        (("bash", "-e", "-c", "x"), "x"),
        (("python", "-c", "x"), None),
        (("sh", "script.sh"), None),
        (("sh", "-c"), None),
    ],
)
def test_shell_script(argv: tuple[str, ...], script: str | None) -> None:
    assert _shell_script(argv) == script


def _ctx(found: OrphanFacts | None) -> ServerCtx:
    live = LiveState("faktory-1", "running", "healthy", 0, reservations=found)
    server = ServerFacts("faktory", "contribsys/faktory:1.10.0", None, live=live)
    facts = AuditFacts(
        kind="live", file=None, now=datetime(2026, 12, 6, tzinfo=UTC), servers=(server,)
    )
    return ServerCtx(facts, server, behaviour_of(server))


def _check(found: OrphanFacts | None) -> Outcome:
    outcome = live_orphaned_reservations(_ctx(found))
    assert isinstance(outcome, Outcome)
    return outcome


def test_orphaned_reservations_older_than_five_minutes_warn() -> None:
    young = OrphanFacts((("j1", "default", 30.0),))
    old = OrphanFacts((("j1", "default", 30.0), ("j2", "critical", 900.0)))
    assert _check(young).status == "pass"
    outcome = _check(old)
    assert outcome.status == "fail" and "critical" in outcome.message
    assert _check(None).status == "skip"
    unread = OrphanFacts(error="the dashboard (port 7420) is not reachable from here")
    assert _check(unread).status == "skip"
