"""What differs between Faktory versions, in one table keyed by version.

Upgrade, audit, restore and `up`'s version guard all ask this module; none of them compares
version numbers on its own. Facts measured on the real 1.9.4 and 1.10.0 servers:

- 1.10.0 keeps each queue's list under `q:<name>` (1.9.x: `<name>`) and does not move the old
  lists when it boots (its migration code exists but nothing calls it): a server started on
  1.9.x data reports every queue empty while the jobs sit in Redis under the old keys.
- The `queues` set (queue names), `scheduled`, `retries`, `dead` and `working` keep their names.
- 1.10.0's migration bookkeeping is the Redis key `v` (data version; 1 once queues are moved).
- 1.10.0 writes Redis's config to `<storage>/redis.conf` (0600) instead of `/tmp/redis.conf`.
- 1.10.0 carries the security fixes for malformed commands and queue names that collide with
  internal keys.

What the official image runs when a deployment gives no command (read from the history of the
project's Dockerfile; the image has no ENTRYPOINT, so this CMD is the whole command line):

- 0.9.0 to 1.4.1: `/faktory -w 0.0.0.0:7420 -b 0.0.0.0:7419 -e development`, and the server does
  not read FAKTORY_ENV at all: whatever the environment says, that image runs in development.
- 1.4.2 on (#325, "Allow FAKTORY_ENV to switch environment without flags"): the same without
  `-e`, and FAKTORY_ENV is the default of `-e`.
- Before 0.9.0 (the RocksDB era) the image's command is not established here.
Both ports listen on every interface of the container in every release since 0.9.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, int, int]

DEFAULT_VERSION = "1.10.0"
DEFAULT_IMAGE = f"contribsys/faktory:{DEFAULT_VERSION}"
SECURITY_FIXES: Version = (1, 10, 0)
# `QUEUE LATENCY q1 q2 ...` (seconds since each queue's oldest job was enqueued) exists from
# 1.9.2 on (Changes.md 1.9.2); older servers answer -ERR, so the latency series is absent there.
QUEUE_LATENCY_SINCE: Version = (1, 9, 2)
DATA_VERSION_KEY = "v"
QUEUES_SET = "queues"
SORTED_SETS = ("scheduled", "retries", "dead", "working")

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class DataFormat:
    """How one range of Faktory versions lays out its data in Redis."""

    name: str
    since: Version
    queue_prefix: str  # the Redis key of queue `x` is queue_prefix + "x"
    data_version: int  # the value of the Redis key `v` this format implies
    redis_conf: str  # where the server writes Redis's config ({storage} = the data folder)


_FORMAT_1_9 = DataFormat("1.9", (0, 0, 0), "", 0, "/tmp/redis.conf")
_FORMAT_1_10 = DataFormat("1.10", (1, 10, 0), "q:", 1, "{storage}/redis.conf")
_IMAGE_CMD = ("/faktory", "-w", "0.0.0.0:7420", "-b", "0.0.0.0:7419")


@dataclass(frozen=True)
class Release:
    """One range of Faktory versions, from `since` up to the next row's `since`."""

    since: Version
    data: DataFormat  # how it lays out its data in Redis
    image_cmd: tuple[str, ...] | None  # the official image's CMD; None: not established
    reads_faktory_env: bool  # FAKTORY_ENV is the default of -e


# THE per-version table, oldest first. A new row starts where any fact above changes.
RELEASES: tuple[Release, ...] = (
    Release((0, 0, 0), _FORMAT_1_9, None, False),
    Release((0, 9, 0), _FORMAT_1_9, (*_IMAGE_CMD, "-e", "development"), False),
    Release((1, 4, 2), _FORMAT_1_9, _IMAGE_CMD, True),
    Release((1, 10, 0), _FORMAT_1_10, _IMAGE_CMD, True),
)
# The data formats, oldest first (each row's `data`, once).
FORMATS: tuple[DataFormat, ...] = tuple(dict.fromkeys(r.data for r in RELEASES))


# The server's command-line flags (Go `flag` package, one dash or two, `-x v` or `-x=v`). Read
# from cli/cli.go of v1.9.4 and v1.10.0 (identical) and checked on both built servers: an
# undefined flag (`-no-tls`) prints the usage and exits 2; `-h`/`-help` print it and exit 0.
# No release has removed or added a flag since 1.0; older ones are not established here.
SERVER_STRING_FLAGS = frozenset({"b", "w", "e", "l", "d", "c"})
SERVER_BOOL_FLAGS = frozenset({"v", "h", "help"})


# The first release whose image command and flags are established here. Older images differ:
# 0.5.x and 0.6.x had `ENTRYPOINT ["/faktory"]` (so a command of flags only did run) and
# defined `-no-tls` (removed in 0.6.0's TLS removal), per the project's Dockerfile and
# cli/cli.go history.
COMMAND_FACTS_SINCE: Version = (0, 9, 0)


def command_facts_known(version: Version | None) -> bool:
    """Whether the image's entrypoint and the server's flag set are established for `version`
    (None: a version not named, judged as the current release)."""
    return version is None or version >= COMMAND_FACTS_SINCE


def server_flags(version: Version | None) -> tuple[frozenset[str], frozenset[str]]:
    """(flags that take a value, boolean flags) the server of `version` defines (None: current)."""
    del version  # one flag set for every release checked (1.9.4, 1.10.0)
    return SERVER_STRING_FLAGS, SERVER_BOOL_FLAGS


def parse_version(text: str) -> Version | None:
    """`1.10.0`, `v1.9`, `1.9.4-1` -> a version tuple; None for anything else."""
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def text_of(version: Version) -> str:
    return ".".join(str(part) for part in version)


def release_of(version: Version) -> Release:
    """The row of the table that holds this version."""
    chosen = RELEASES[0]
    for release in RELEASES:
        if version >= release.since:
            chosen = release
    return chosen


def current_release() -> Release:
    return RELEASES[-1]


def format_of(version: Version) -> DataFormat:
    """The data format a server of this version reads and writes."""
    return release_of(version).data


def crosses_boundary(old: Version, new: Version) -> bool:
    """True when the two versions keep queues under different Redis keys."""
    return format_of(old) != format_of(new)


def has_security_fixes(version: Version) -> bool:
    return version >= SECURITY_FIXES


def has_queue_latency(version: Version) -> bool:
    return version >= QUEUE_LATENCY_SINCE


def upgrade_command(version: str = DEFAULT_VERSION) -> str:
    return f"faktctl upgrade --to {version}"


# Stopping workers (issue 23), read in the 1.9.4 and 1.10.0 sources and measured on both:
# - a process that says HELLO with a wid is on the dashboard's /busy page at once (not only after
#   its first BEAT); the page lists wid, hostname (the container id unless set), pid and the
#   number of reservations it holds;
# - `POST /busy` with `wid=<wid>|all` and `signal=quiet|terminate` sets the process's state; the
#   server refuses it new jobs at once (its FETCH waits 2 s and gets nothing) and tells the
#   library on its next BEAT. Both versions guard the dashboard with Go's cross-origin protection
#   only (a request without browser Origin/Sec-Fetch headers passes), so no CSRF token is needed;
#   1.9.0-1.9.3 want the form's token (#517).
BUSY_SIGNAL_WITHOUT_TOKEN: Version = (1, 9, 4)


def busy_signal_needs_token(version: Version) -> bool:
    """True when the dashboard's quiet/terminate form wants a CSRF token (before 1.9.4)."""
    return version < BUSY_SIGNAL_WITHOUT_TOKEN


# Reservations (issue 23, faktctl.faktory.reservations), read in the 1.9.4 and 1.10.0 sources and
# checked on both servers (tests/e2e/test_live_processes.py): the same in both releases:
# - the `working` sorted set: member = the reservation's JSON (job, reserved_at, expires_at, wid),
#   score = its expiry; reservation time clamped to 60 s..1 day, 1800 s by default;
# - the reaper (every 15 s) treats an expired reservation as a failure (`ReservationExpired`):
#   retry set with back-off, dead set when the retries are used up, dropped with `retry: 0`;
# - the /busy process table's markup.
# Only where a job goes back differs: the queue's key, `queue_prefix` of DataFormat above.
