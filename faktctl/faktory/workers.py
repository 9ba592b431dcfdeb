"""What each Faktory worker library does when it is stopped (pure facts).

Read in the libraries' sources (2026-12-06) unless a row says otherwise:

- faktory_worker_go (manager.go, runner_unix.go): SIGTSTP quiets; SIGTERM/SIGINT stop fetching,
  then wait `ShutdownTimeout` (25 s) before cancelling the jobs' contexts; it still waits for
  every job function to return, so a job that ignores its context runs on until SIGKILL and
  stays reserved. A job that returns the context's error is FAILed (retried).
  `RunWithContext` has no TSTP handler and no cut-off of its own.
- faktory_worker_ruby (launcher.rb, processor.rb, cli.rb): TSTP quiets; TERM waits `timeout`
  (25 s, `-t`), then raises Faktory::Shutdown in busy threads, whose jobs are FAILed.
- Python `faktory` (faktory_worker_python, worker.py): SIGTERM handler; no TSTP handler (TSTP
  stops a process that is not PID 1); waits `disconnect_wait` (15 s), then fails every running
  job and exits.
- faktory-worker for node (src/worker.ts): SIGTSTP quiets; SIGTERM/SIGINT wait `timeout`
  (8 s), then abort running jobs and FAIL them, and exit 3 s later.
- pyfaktory: waits 25 s, then exits without FAIL (its jobs stay reserved). Not confirmed here:
  its repository was not available; from the team's notes (FAKTORY.md section 13).

A job a library neither finished nor FAILed (SIGKILL before the wait ends, a job that ignores
cancellation) stays in Faktory's `working` set until its reservation expires (30 minutes by
default); then the server files it as a failure (faktctl.faktory.reservations). `faktctl rescue`
hands such jobs back as soon as the process is gone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Docker's stop timeout when nothing sets one; Kubernetes' is 30 s
DOCKER_DEFAULT_GRACE_S = 10.0
# what "the common libraries" wait; the grace a worker of an unknown library should have
COMMON_SHUTDOWN_S = 25.0
PYTHON_FAKTORY = "Python faktory"


@dataclass(frozen=True)
class Library:
    name: str
    quiet_signal: str | None  # None: no signal quiets it (use the dashboard's quiet)
    shutdown_s: float  # how long it waits for running jobs after its stop signal
    past_the_wait: str  # what happens to a job still running then
    confirmed: bool  # read in the library's source here
    # how an image or a command shows it (lower case, matched as substrings)
    image_tokens: tuple[str, ...] = ()
    command_tokens: tuple[str, ...] = ()
    read_in: str = ""  # the source files the row was read in

    @property
    def quiets_on(self) -> str:
        """What quiets it, in words (every library honours the server's quiet on its next
        heartbeat)."""
        if self.quiet_signal is None:
            return "the server's quiet only"
        return f"{self.quiet_signal}, or the server's quiet"


LIBRARIES: tuple[Library, ...] = (
    Library(
        "faktory_worker_go",
        "SIGTSTP",
        25,
        "job contexts are cancelled; a job that returns is FAILed (retried), one that "
        "ignores its context keeps running until SIGKILL and stays reserved",
        True,
        ("faktory_worker_go", "faktory-worker-go"),
        read_in="manager.go, runner_unix.go (`Run()`; `RunWithContext` has no TSTP handler)",
    ),
    Library(
        "faktory_worker_ruby",
        "SIGTSTP",
        25,
        "Faktory::Shutdown is raised in the busy threads and their jobs are FAILed (retried)",
        True,
        ("faktory_worker_ruby", "faktory-worker-ruby"),
        ("faktory-worker",),
        read_in="launcher.rb, processor.rb, cli.rb",
    ),
    Library(
        PYTHON_FAKTORY,
        None,
        15,
        "every running job is FAILed and the process exits",
        True,
        ("faktory_worker_python", "faktory-worker-python"),
        read_in="worker.py (1.0; SIGTSTP stops a process that is not PID 1)",
    ),
    Library(
        "pyfaktory",
        None,
        25,
        "the process exits without FAIL: its jobs stay reserved until they expire",
        False,
        ("pyfaktory",),
        read_in="not read here: from the team's notes (FAKTORY.md section 13)",
    ),
    Library(
        "faktory-worker (node)",
        "SIGTSTP",
        8,
        "running jobs are aborted and FAILed; the process exits 3 s later",
        True,
        ("faktory_worker_node", "faktory-worker-node"),
        ("faktory-work",),
        read_in="src/worker.ts",
    ),
)


def library_of(image: str | None, argv: Sequence[str] | None = ()) -> Library | None:
    """The library an image reference or a command names, if either does."""
    text = (image or "").lower()
    words = [word.lower().rsplit("/", 1)[-1] for word in argv or ()]
    for library in LIBRARIES:
        if any(token in text for token in library.image_tokens):
            return library
    for library in LIBRARIES:
        if any(word == token for token in library.command_tokens for word in words):
            return library
    return None


# --- TLS in the Python `faktory` package ---------------------------------------------------------

# `faktory` 1.0 (faktory/_proto.py) opens tcp+tls:// with `ssl.wrap_socket(sock)`: no context,
# so no verification, and the function is gone from Python 3.12 (AttributeError at connect).
PYTHON_WITHOUT_WRAP_SOCKET = (3, 12)


def python_version(image: str | None) -> tuple[int, int | None] | None:
    """The Python an image reference runs, when its name says: (major, minor), the minor None
    when the tag names none (`python`, `python:3-alpine`, `python:slim`: the newest 3.x).
    `python:3.12-slim` and `…:python3.13-bookworm` name theirs."""
    if not image:
        return None
    from faktctl.faktory.images import parse_image

    ref = parse_image(image)
    tag = (ref.tag or "latest").lower()
    named = re.search(r"python(\d)\.(\d+)", tag)
    if named:
        return int(named[1]), int(named[2])
    if ref.name != "python":
        return None
    version = re.match(r"(\d+)(?:\.(\d+))?", tag)
    if version is None:
        return 3, None
    return int(version[1]), int(version[2]) if version[2] is not None else None


def lacks_wrap_socket(version: tuple[int, int | None]) -> bool:
    """Python 3.12 and newer (a bare `3` is the newest 3.x, past 3.12 since 2023)."""
    major, minor = version
    if minor is None:
        return major >= PYTHON_WITHOUT_WRAP_SOCKET[0]
    return (major, minor) >= PYTHON_WITHOUT_WRAP_SOCKET
