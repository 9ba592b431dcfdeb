"""The readiness gate: when a Faktory server that faktctl just started counts as ready.

`up` (single engine and Swarm), restore and upgrade all wait here. Each round asks, in order:

1. the engine, about the container (`Server.look`): one that stopped for good fails the gate at
   once; one that does not run yet is waited for;
2. Faktory itself, with the configured password (`Server.ask`: a HELLO, or the INFO that follows
   one when the caller wants the counts): a refused password fails the gate at once (waiting does
   not change a password), no answer yet is waited for;
3. the caller's health condition (`Server.unhealthy`: the engine's health status, or /health):
   ready once it holds.

The gate decides; the `Server` does the I/O through the adapters, and the caller words the
outcome (the messages differ per command and are part of what users see).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from faktctl.adapters import probe
from faktctl.live.reach import Endpoint
from faktctl.secretvalue import SecretStr

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Seen:
    """The engine's view of the server's container in one round."""

    failed: str | None = None  # it stopped for good: why
    running: bool = True  # False: not (yet) running, `waiting` says how it is
    waiting: str = ""


@dataclass(frozen=True)
class Answer(Generic[T_co]):
    """Faktory's answer to the password question: exactly one field is set."""

    accepted: T_co | None = None  # what the question returned (HELLO's note, INFO's counts)
    refused: str | None = None  # the password was refused: the server's reason
    unanswered: str | None = None  # no answer (yet): what happened


class Server(Protocol[T_co]):
    """What the gate asks about one server, once per round."""

    def look(self) -> Seen: ...

    def ask(self) -> Answer[T_co]: ...

    def unhealthy(self) -> str | None:
        """None when the caller's health condition holds, else what was seen."""
        ...


@dataclass(frozen=True)
class Pace:
    """How long to pause between rounds: `first_s`, growing by `growth` up to `most_s`."""

    first_s: float
    growth: float = 1.0
    most_s: float = 0.0

    def after(self, pause: float) -> float:
        return min(pause * self.growth, max(self.most_s, self.first_s))


@dataclass(frozen=True)
class Ready(Generic[T_co]):
    value: T_co


@dataclass(frozen=True)
class Failed:
    reason: str  # from Seen.failed


@dataclass(frozen=True)
class Refused:
    reason: str  # from Answer.refused


@dataclass(frozen=True)
class TimedOut:
    last: str  # what the last round saw


def wait(
    server: Server[T], timeout_s: float, pace: Pace, last: str = "not started"
) -> Ready[T] | Failed | Refused | TimedOut:
    """Round after round until the server is ready, fails, refuses the password, or the time
    (`timeout_s`, counted from now) runs out. `last` is what a timeout reports when no round
    saw anything."""
    deadline = time.monotonic() + timeout_s
    pause = pace.first_s
    while True:
        outcome = _round(server)
        if not isinstance(outcome, str):
            return outcome
        last = outcome or last
        if time.monotonic() >= deadline:
            return TimedOut(last)
        time.sleep(pause)
        pause = pace.after(pause)


def _round(server: Server[T]) -> Ready[T] | Failed | Refused | str:
    """The outcome, or what was seen while waiting ("" when nothing new)."""
    seen = server.look()
    if seen.failed is not None:
        return Failed(seen.failed)
    if not seen.running:
        return seen.waiting
    answer = server.ask()
    if answer.refused is not None:
        return Refused(answer.refused)
    if answer.accepted is None:
        return answer.unanswered or ""
    unhealthy = server.unhealthy()
    if unhealthy is not None:
        return unhealthy
    return Ready(answer.accepted)


def hello(endpoint: Endpoint, password: SecretStr, timeout: float) -> Answer[str]:
    """The password question as a HELLO: "+OK", refused with the server's reason, or the
    probe's error."""
    try:
        result = probe.handshake(
            endpoint.host, endpoint.port, password=password, timeout=timeout, tls=endpoint.tls
        )
    except probe.ProbeError as err:
        return Answer(unanswered=str(err))
    if result.accepted:
        return Answer(accepted="+OK")
    return Answer(refused=result.error or "")


class Answering:
    """A server known to run (the engine's health already checked, e.g. a swarm task), asked
    only the password question, with a HELLO at `endpoint`."""

    def __init__(self, endpoint: Endpoint, password: SecretStr, timeout: float = 5.0) -> None:
        self._endpoint = endpoint
        self._password = password
        self._timeout = timeout

    def look(self) -> Seen:
        return Seen()

    def ask(self) -> Answer[str]:
        return hello(self._endpoint, self._password, self._timeout)

    def unhealthy(self) -> str | None:
        return None
