"""The rollout's decisions (faktctl.platforms.engine.rollout) with a fake server and engine:
rounds, quiet before stop, drain bounded by the grace period, stragglers named with their
jids. The real thing runs in tests/e2e/test_worker_rollout.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from faktctl.faktory.reservations import Process
from faktctl.platforms.engine import rollout
from faktctl.platforms.engine.plan import ContainerRef
from tests.support.planning import desired_from


@dataclass
class FakeServer:
    busy: dict[str, list[int]]  # wid -> busy counts, one per look (the last one repeats)
    hosts: dict[str, str]  # wid -> hostname
    reachable: bool = True
    why_not: str = ""
    quieted: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def processes(self) -> tuple[Process, ...]:
        found = []
        for wid, counts in self.busy.items():
            count = counts.pop(0) if len(counts) > 1 else counts[0]
            found.append(Process(wid, self.hosts[wid], 1, count, wid in self.quieted))
        return tuple(found)

    def reserved_jids(self, wids: set[str]) -> tuple[str, ...]:
        return tuple(sorted(f"jid-of-{wid}" for wid in wids))

    def quiet(self, wid: str) -> None:
        self.quieted.append(wid)
        self.events.append(f"quiet {wid}")


@dataclass
class FakeEngine:
    events: list[str]

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self.events.append(f"stop {container_id} {timeout}")

    def remove(self, container_id: str, force: bool = False) -> None:
        self.events.append(f"remove {container_id}")

    def kill(self, container_id: str, signal: str) -> None:
        self.events.append(f"kill {container_id} {signal}")


class Quiet:
    def update(self, target: str, message: str) -> None:
        pass

    def finish(self, target: str, message: str, ok: bool = True) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _ref(n: int, grace: int = 30) -> ContainerRef:
    return ContainerRef(f"{n:012d}aaaa", f"shop-emails-{n}", n, grace)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("faktctl.platforms.engine.rollout.time.sleep", lambda _s: None)


@pytest.mark.parametrize(
    ("replicas", "size"), [(1, 1), (2, 1), (4, 1), (5, 2), (40, 10), (100, 10)]
)
def test_a_quarter_of_the_replicas_roll_at_a_time(replicas: int, size: int) -> None:
    assert rollout.roll_size(replicas) == size


def test_a_drained_worker_is_quieted_then_stopped() -> None:
    server = FakeServer({"w1": [3, 1, 0]}, {"w1": _ref(1).id[:12]})
    engine = FakeEngine(server.events)
    work = [rollout.Retiring("emails", _ref(1), "server")]
    report = rollout.retire(engine, server, Quiet(), work, clock=Clock())  # type: ignore[arg-type]
    assert report.problems == []
    assert server.events == ["quiet w1", f"stop {_ref(1).id} 30", f"remove {_ref(1).id}"]


def test_jobs_past_the_grace_period_are_named_with_their_jids() -> None:
    server = FakeServer({"w1": [2]}, {"w1": _ref(1).id[:12]})
    engine = FakeEngine(server.events)
    work = [rollout.Retiring("emails", _ref(1, grace=5), "server")]
    report = rollout.retire(engine, server, Quiet(), work, clock=Clock())  # type: ignore[arg-type]
    [(target, message)] = report.problems
    assert target == "emails"
    assert "shop-emails-1" in message and "5s stop grace period" in message
    assert "jid-of-w1" in message
    assert server.events[-2:] == [f"stop {_ref(1).id} 5", f"remove {_ref(1).id}"]


def test_quiet_signal_sends_sigtstp_and_none_stops_at_once() -> None:
    server = FakeServer({"w1": [0], "w2": [4]}, {"w1": _ref(1).id[:12], "w2": _ref(2).id[:12]})
    engine = FakeEngine(server.events)
    work = [
        rollout.Retiring("emails", _ref(1), "signal"),
        rollout.Retiring("emails", _ref(2), "none"),
    ]
    report = rollout.retire(engine, server, Quiet(), work, clock=Clock())  # type: ignore[arg-type]
    assert report.problems == []
    assert server.events[0] == f"kill {_ref(1).id} SIGTSTP"
    assert server.quieted == []


def test_without_the_dashboard_workers_still_get_their_grace_period() -> None:
    server = FakeServer({}, {}, reachable=False, why_not="port 7420 is not published")
    engine = FakeEngine(server.events)
    work = [rollout.Retiring("emails", _ref(1), "server")]
    report = rollout.retire(engine, server, Quiet(), work, clock=Clock())  # type: ignore[arg-type]
    assert "port 7420 is not published" in report.notes[0]
    assert server.events == [f"stop {_ref(1).id} 30", f"remove {_ref(1).id}"]


def test_dry_run_steps_name_rounds_quiet_and_grace() -> None:
    service = desired_from().service("emails")
    lines = rollout.steps(service, 2)
    assert lines[0].startswith("2 round(s) of up to 1 replica(s): start the new ones")
    assert "quiet the old processes through the server" in lines[1]
    assert "(up to 30s)" in lines[1]


def test_up_dry_run_shows_the_rollout_under_each_replaced_or_shrunk_worker() -> None:
    from faktctl.platforms.engine.lifecycle import rollout_lines
    from faktctl.platforms.engine.plan import plan
    from tests.support.planning import SPEC, everything, observed_with

    before = desired_from()
    after = desired_from(
        SPEC.replace("replicas: 2\n", "replicas: 1\n").replace("reports:7", "reports:8")
    )
    lines = rollout_lines(after, plan(after, observed_with(after, everything(before))))
    shrink = lines.index("scale down emails: 2 → 1 (remove shop-emails-2)")
    assert lines[shrink + 1].startswith("  then: quiet the old processes through the server")
    replace = next(i for i, line in enumerate(lines) if line.startswith("recreate reports:"))
    assert lines[replace + 1] == (
        "  then: 1 round(s) of up to 1 replica(s): start the new ones, wait until the server "
        "lists them"
    )
    assert "wait until they hold no job (up to 30s)" in lines[replace + 2]
