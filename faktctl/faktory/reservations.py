"""Faktory's reservations and live processes, as read from a running server (pure).

Read in the 1.9.4 and 1.10.0 sources (identical in both for everything here):

- A fetched job is reserved in the Redis sorted set `working`: the member is the JSON of the
  reservation, `{"job":{...},"reserved_at":"<RFC 3339>","expires_at":"<RFC 3339>","wid":"<wid>"}`
  (Go's field order), the score its expiry in unix seconds. `wid` is the process that fetched
  it ("" for a connection that gave none in HELLO).
- The dashboard's `/busy` page is the only listing of the processes the server knows: one row
  per wid that said HELLO with a wid, removed as soon as all of its connections close (a killed
  process's sockets close with it) or when it has not sent BEAT for a minute.
- The server's reaper (every 15 s) does NOT put an expired reservation back on its queue: it
  treats the expiry as a failure (`ReservationExpired`): the job goes to `retries` with a
  15-45 s back-off and a failure count, to `dead` once its retries are used up, and a job with
  `retry: 0` is dropped. `faktctl rescue` therefore does not copy the reaper: it puts the job as
  it was fetched back on its queue, at the end a FETCH pops next (queues are LPUSHed and
  RPOPed), with no failure recorded.
- A queue named `x` is the Redis list `x` (1.9.x) or `q:x` (1.10.0, faktctl.faktory.versions).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

WORKING = "working"
TOP_LEVEL_TAIL = ',"reserved_at":"'

# One atomic read: the server's clock, then every reservation with its score.
READ_SCRIPT = """
local t = redis.call('TIME')
local out = {t[1], t[2]}
local members = redis.call('ZRANGE', 'working', 0, -1, 'WITHSCORES')
for i = 1, #members do out[#out + 1] = members[i] end
return out
"""

# Hand reservations back: ARGV = queue prefix, then (member, queue, job JSON) triples. Each
# member is removed only if it is still there (not acknowledged, not reaped meanwhile: the
# reaper also pushes only what its own ZREM removed), then its job goes back on its queue at the
# end the next FETCH pops. Returns the 0-based positions of the triples it moved.
RESCUE_SCRIPT = """
local prefix = ARGV[1]
local moved = {}
for i = 2, #ARGV, 3 do
  if redis.call('ZREM', 'working', ARGV[i]) == 1 then
    redis.call('RPUSH', prefix .. ARGV[i + 1], ARGV[i + 2])
    redis.call('SADD', 'queues', ARGV[i + 1])
    moved[#moved + 1] = (i - 2) / 3
  end
end
return moved
"""
# at most this many bytes of members and jobs in one EVAL (docker exec passes them as argv)
BATCH_BYTES = 256 * 1024


class Unreadable(ValueError):
    """What the server returned is not what Faktory writes."""


@dataclass(frozen=True)
class Process:
    """One row of the dashboard's process table."""

    wid: str
    hostname: str  # the worker's hostname: the container id unless the container sets one
    pid: int | None
    busy: int | None
    quiet: bool


@dataclass(frozen=True)
class Reservation:
    member: str  # the exact member of `working` (needed to remove it)
    jid: str
    queue: str
    jobtype: str
    wid: str
    reserved_at: float | None  # unix seconds
    expires_at: float  # the score
    job: str  # the job's JSON exactly as the server stored it

    def age_s(self, now: float) -> float | None:
        return None if self.reserved_at is None else max(0.0, now - self.reserved_at)


@dataclass(frozen=True)
class Working:
    """The `working` set and the server's clock when it was read."""

    now: float
    reservations: tuple[Reservation, ...]


def timestamp(text: str) -> float | None:
    """Faktory's RFC 3339 timestamps (nanoseconds, `Z`) as unix seconds; None if unreadable."""
    stamp = text.strip().replace("Z", "+00:00")
    main, dot, rest = stamp.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        stamp = f"{main}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def job_text(member: str) -> str:
    """The job's JSON inside a reservation, byte for byte (never re-encoded: a decoder and
    encoder pair can change numbers and empty lists). The job is the first field, and the last
    `,"reserved_at":"` is the reservation's own (inside the job a quote is escaped)."""
    head = '{"job":'
    end = member.rfind(TOP_LEVEL_TAIL)
    if not member.startswith(head) or end < 0:
        raise Unreadable(f"not a Faktory reservation: {member[:80]!r}")
    return member[len(head) : end]


def parse_reservation(member: str, score: float) -> Reservation:
    try:
        data = json.loads(member)
        job = data["job"]
        return Reservation(
            member=member,
            jid=str(job["jid"]),
            queue=str(job.get("queue") or "default"),
            jobtype=str(job.get("jobtype") or ""),
            wid=str(data.get("wid") or ""),
            reserved_at=timestamp(str(data.get("reserved_at") or "")),
            expires_at=score,
            job=job_text(member),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise Unreadable(f"not a Faktory reservation: {member[:80]!r}") from err


def parse_working(lines: Sequence[str]) -> Working:
    """The output of READ_SCRIPT under `redis-cli --raw`: seconds, microseconds, then member and
    score lines (a member is JSON, so it holds no raw newline)."""
    if len(lines) < 2 or len(lines) % 2:
        raise Unreadable(f"unexpected reply to the read of `working`: {lines[:2]!r}")
    try:
        now = int(lines[0]) + int(lines[1]) / 1e6
        pairs = [(lines[i], float(lines[i + 1])) for i in range(2, len(lines), 2)]
    except ValueError as err:
        raise Unreadable(f"unexpected reply to the read of `working`: {lines[:2]!r}") from err
    return Working(now, tuple(parse_reservation(m, s) for m, s in pairs))


class _BusyPage(HTMLParser):
    """The `processes` table of /busy: per row, the text of each cell and its badges."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # >0 inside <table class="... processes ...">
        self.rows: list[list[str]] = []
        self.badges: list[list[str]] = []
        self.cell: list[str] | None = None
        self.in_badge = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table":
            if self.depth or "processes" in classes:
                self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
            self.badges.append([])
        elif self.depth and tag == "td" and self.rows:
            self.cell = []
        elif self.cell is not None and tag == "span" and "badge" in classes:
            self.in_badge = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "span":
            self.in_badge = False

    def handle_data(self, data: str) -> None:
        if self.in_badge and self.badges:
            self.badges[-1].append(data.strip())
        elif self.cell is not None:
            self.cell.append(data)


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def parse_busy(html: str) -> tuple[Process, ...]:
    """The processes listed on the dashboard's /busy page (same markup in 1.9.4 and 1.10.0):
    cells ID (wid), Name (`hostname:pid` then label and `quiet` badges), Started, Connections,
    RSS, Busy. Unreadable when the page has no process table (a login page, another app)."""
    page = _BusyPage()
    page.feed(html)
    page.close()
    if 'class="processes' not in html and "processes table" not in html:
        raise Unreadable("the dashboard's /busy page has no process table")
    found = []
    for cells, badges in zip(page.rows, page.badges, strict=True):
        if len(cells) < 6 or not cells[0]:
            continue  # the header row has <th> only
        name = cells[1]
        for badge in badges:  # badges follow `hostname:pid` in the same cell
            name = name.replace(badge, "")
        host, _, pid = name.strip().rpartition(":")
        found.append(Process(cells[0], host, _int(pid), _int(cells[5]), "quiet" in badges))
    return tuple(found)


def orphaned(
    reservations: Iterable[Reservation], processes: Iterable[Process]
) -> tuple[Reservation, ...]:
    """Reservations held by a wid the server no longer lists. A reservation with no wid (a
    connection that gave none) is never orphaned: nothing tells whether its process lives."""
    live = {p.wid for p in processes}
    return tuple(r for r in reservations if r.wid and r.wid not in live)


def older_than(
    reservations: Iterable[Reservation], now: float, seconds: float
) -> tuple[Reservation, ...]:
    """Those reserved at least `seconds` ago (an unreadable reservation time counts as old)."""
    return tuple(r for r in reservations if (r.age_s(now) or seconds) >= seconds)


def rescue_batches(
    reservations: Sequence[Reservation], queue_prefix: str, limit: int = BATCH_BYTES
) -> list[list[str]]:
    """RESCUE_SCRIPT's ARGV per EVAL, each under `limit` bytes (one oversized job alone)."""
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for r in reservations:
        triple = [r.member, r.queue, r.job]
        weight = sum(len(part.encode()) for part in triple)
        if current and size + weight > limit:
            batches.append([queue_prefix, *current])
            current, size = [], 0
        current += triple
        size += weight
    if current:
        batches.append([queue_prefix, *current])
    return batches
