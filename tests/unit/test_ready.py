"""The readiness gate's decision (faktctl.live.ready), over scripted rounds.

The I/O each command does behind `Server` is proven against a real engine and server in
tests/e2e (test_up_deploy, test_backup, test_upgrade, test_swarm); here only the order of
the questions and what ends the wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faktctl.live import ready


@dataclass
class Scripted:
    """A server whose answers come from lists, one entry per round (the last one repeats)."""

    seen: list[ready.Seen]
    answers: list[ready.Answer[str]] = field(default_factory=lambda: [ready.Answer("+OK")])
    health: list[str | None] = field(default_factory=lambda: [None])
    asked: int = 0
    rounds: int = 0

    def look(self) -> ready.Seen:
        self.rounds += 1
        return self.seen[min(self.rounds, len(self.seen)) - 1]

    def ask(self) -> ready.Answer[str]:
        self.asked += 1
        return self.answers[min(self.asked, len(self.answers)) - 1]

    def unhealthy(self) -> str | None:
        return self.health[min(self.asked, len(self.health)) - 1]


FAST = ready.Pace(0.0)


def test_ready_once_the_password_is_accepted_and_health_holds() -> None:
    server = Scripted(
        seen=[ready.Seen(running=False, waiting="container is created"), ready.Seen()],
        answers=[ready.Answer(unanswered="connection refused"), ready.Answer("+OK")],
        health=[None, "the engine reports it starting", None],
    )
    assert ready.wait(server, 5.0, FAST) == ready.Ready("+OK")
    assert server.rounds == 4 and server.asked == 3


def test_a_stopped_container_fails_at_once_without_asking_faktory() -> None:
    server = Scripted(seen=[ready.Seen(failed="faktory-1 exited (status 1)")])
    assert ready.wait(server, 5.0, FAST) == ready.Failed("faktory-1 exited (status 1)")
    assert server.asked == 0


def test_a_refused_password_fails_at_once() -> None:
    server = Scripted(seen=[ready.Seen()], answers=[ready.Answer(refused="invalid password")])
    assert ready.wait(server, 5.0, FAST) == ready.Refused("invalid password")
    assert server.rounds == 1


def test_a_timeout_reports_what_the_last_round_saw() -> None:
    silent = Scripted(seen=[ready.Seen()], answers=[ready.Answer(unanswered="timed out")])
    assert ready.wait(silent, 0.0, FAST) == ready.TimedOut("timed out")
    unhealthy = Scripted(seen=[ready.Seen()], health=["the engine reports it unhealthy"])
    assert ready.wait(unhealthy, 0.0, FAST) == ready.TimedOut("the engine reports it unhealthy")
    assert ready.wait(Scripted(seen=[ready.Seen(running=False)]), 0.0, FAST) == ready.TimedOut(
        "not started"
    )


def test_pauses_grow_to_their_ceiling() -> None:
    pace = ready.Pace(0.1, growth=1.5, most_s=1.0)
    pauses = [0.1]
    for _ in range(8):
        pauses.append(pace.after(pauses[-1]))
    assert pauses[1] == 0.15000000000000002 and pauses[-1] == 1.0
    assert ready.Pace(0.02).after(0.02) == 0.02
