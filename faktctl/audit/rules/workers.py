"""Workers at stop: the time their library needs to finish running jobs, the signal reaching
the worker process, and the jobs a crashed worker left reserved (live)."""

from __future__ import annotations

import posixpath

from faktctl.audit.registry import (
    LIVE,
    Result,
    ServerCtx,
    WorkerCtx,
    failed,
    passed,
    server_rule,
    skipped,
    worker_rule,
)
from faktctl.faktory.workers import COMMON_SHUTDOWN_S, library_of

# after its wait a library still FAILs its jobs and disconnects (node exits 3 s later)
EXIT_MARGIN_S = 3.0
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
SEPARATORS = (";", "&&", "||", "|", "&", "\n")
ORPHAN_AGE_S = 300.0  # a restarting worker may still come back; past this nothing will


@worker_rule(
    "FKH014",
    "hygiene",
    "warning",
    "The worker's stop grace period outlasts its library's shutdown wait",
    "Set the worker's stop_grace_period (spec, compose) or terminationGracePeriodSeconds "
    "(Kubernetes) above the library's wait: 30s for faktory_worker_go, faktory_worker_ruby "
    "and pyfaktory (25 s), 20s for the Python faktory package (15 s).",
    inputs=frozenset({"spec", "compose", "kubernetes", "live"}),
)
def worker_stop_grace(ctx: WorkerCtx) -> Result:
    """The worker's grace period between its stop signal and SIGKILL (Docker's default 10 s when
    compose sets none; Kubernetes' 30 s), against how long its library waits for running jobs
    (named when the image or the command shows the library; otherwise the common 25 s).

    Killed inside that wait, a job is neither finished nor handed back: it stays reserved for
    30 minutes, and then Faktory counts it as failed."""
    worker = ctx.worker
    grace = worker.stop_grace_s
    where = worker.grace_location or worker.location
    if grace is None:
        return skipped("the worker's stop grace period is not known", where)
    library = library_of(worker.image, worker.argv)
    wait = library.shutdown_s if library else COMMON_SHUTDOWN_S
    who = f"{library.name} waits {wait:g}s" if library else f"the common libraries wait {wait:g}s"
    needed = wait + EXIT_MARGIN_S
    if grace < needed:
        return failed(
            f"stop grace period {grace:g}s, but {who} for running jobs: a job still running "
            f"is killed and stays reserved (give it {needed:g}s or more)",
            where,
        )
    return passed(f"stop grace period {grace:g}s; {who}", where)


def _shell_script(argv: tuple[str, ...]) -> str | None:
    """The script of a `sh -c SCRIPT` command line (any shell, flags before -c), else None."""
    if not argv or posixpath.basename(argv[0]) not in SHELLS:
        return None
    for index, word in enumerate(argv[1:], start=1):
        if word.startswith("-") and "c" in word[1:] and not word.startswith("--"):
            return argv[index + 1] if index + 1 < len(argv) else None
        if not word.startswith("-"):
            return None
    return None


@worker_rule(
    "FKH015",
    "hygiene",
    "warning",
    "The worker process itself receives the stop signal",
    'Start the worker directly (exec form: command: ["bundle", "exec", "faktory-worker"]) '
    "or end the shell script with `exec <worker>`, so SIGTERM reaches it.",
    inputs=frozenset({"spec", "compose", "kubernetes", "live"}),
)
def worker_gets_the_signal(ctx: WorkerCtx) -> Result:
    """Whether the worker's command is a shell running a script (`sh -c "a && worker"`): the
    shell is then the container's first process, takes the stop signal and does not pass it
    on, so the worker never starts its graceful stop and is killed when the grace period ends.

    A script whose last step is `exec worker` (or a single command, which the shell replaces
    itself with) is fine."""
    worker = ctx.worker
    if worker.argv is None:
        return skipped("the worker runs its image's own command", worker.location)
    script = _shell_script(worker.argv)
    if script is None:
        return passed(f"the worker runs `{worker.argv[0]}` directly", worker.location)
    text = script.strip()
    if text.startswith("exec ") or not any(sep in text for sep in SEPARATORS):
        return passed("the shell hands over to the worker (exec)", worker.location)
    last = text.replace("&&", ";").replace("||", ";").replace("\n", ";").split(";")[-1].strip()
    if last.startswith("exec "):
        return passed(
            "the script ends with `exec`: the worker takes the shell's place", worker.location
        )
    return failed(
        f"the worker runs under `{posixpath.basename(worker.argv[0])} -c`: the shell takes "
        "SIGTERM and does not pass it on, so running jobs are killed at the end of the grace "
        "period",
        worker.location,
    )


@server_rule(
    "FKH022",
    "hygiene",
    "warning",
    "No job is held by a worker process that is gone",
    "Run `faktctl rescue` to hand the jobs back to their queues; find why the worker died "
    "(out of memory, a SIGKILL at the end of a too short stop grace period).",
    inputs=LIVE,
)
def live_orphaned_reservations(ctx: ServerCtx) -> Result:
    """Live: the reservations in the server's `working` set whose worker process the server no
    longer lists (its dashboard's process page), reserved more than 5 minutes ago.

    Such a job waits out its reservation (30 minutes by default) and is then counted as
    failed, although nothing ran it to the end."""
    live = ctx.server.live
    found = live.reservations if live else None
    if found is None:
        return skipped("the reservations of a running server could not be read")
    if found.error:
        return skipped(f"reservations not read: {found.error}")
    old = [o for o in found.orphans if o[2] is None or o[2] >= ORPHAN_AGE_S]
    if not old:
        young = len(found.orphans)
        return passed(
            f"no orphaned reservation older than {ORPHAN_AGE_S / 60:g} minutes"
            + (f" ({young} younger)" if young else "")
        )
    queues = sorted({queue for _, queue, _ in old})
    oldest = max((age or 0.0) for _, _, age in old)
    return failed(
        f"{len(old)} job(s) reserved by worker processes that are gone (queues "
        f"{', '.join(queues)}; oldest {oldest / 60:.0f} minutes)"
    )
