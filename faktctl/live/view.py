"""The Faktory view of a running server: what an operator looks at beside the containers.

The server's version and uptime, queue sizes, the scheduled / retries / dead / working set
sizes, processed and failed totals, connected workers, and how old the last snapshot
(`faktory.rdb`) is. Used by `faktctl status`; any other command that has a server container
and its password can call `gather`.

- `from_info` and `last_save_from` are pure (unit-tested with real INFO documents);
- `gather` does the I/O: one authenticated INFO over the protocol port and one exec into the
  server container (`redis-cli INFO` on Faktory's Redis socket, plus the file's mtime);
  `status` asks for the INFO alone (`ask_info`) and, unless --verbose, the snapshot's age from
  the engine's stat of the file (`read_save_file`, no process started in the container).

The view never raises for a server that cannot be reached: it says why in `unreachable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from faktctl.adapters import probe
from faktctl.adapters.docker.api import ObjectNotFound
from faktctl.desired import Desired, Publish
from faktctl.errors import FaktctlError
from faktctl.faktory.server import DB_DIR
from faktctl.live import reach
from faktctl.secretvalue import SecretStr

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import ReadEngine


class ServerContainer(Protocol):
    """What the view needs to know of the server's container (a platform's observation of it,
    e.g. faktctl.platforms.engine.observe.ServerContainer)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def exit_code(self) -> int | None: ...

    @property
    def ports(self) -> Sequence[Publish]: ...

    @property
    def ip_addresses(self) -> Mapping[str, str]: ...


class Deployment(Protocol):
    """A project's observed containers by service."""

    def of_service(self, service: str) -> Sequence[ServerContainer]: ...


INFO_TIMEOUT_S = 3.0
SET_NAMES = ("scheduled", "retries", "dead", "working")
# Production keeps Redis under the data volume; development under the image user's home.
DATA_DIRS = (DB_DIR, "/root/.faktory/db")
RDB_NAME = "faktory.rdb"
_SAVE_SCRIPT = (
    'for d in {dirs}; do if [ -S "$d/redis.sock" ]; then echo "DIR $d"; '
    'echo "FILE $(stat -c %Y "$d/faktory.rdb" 2>/dev/null)"; '
    'exec redis-cli -s "$d/redis.sock" INFO; fi; done; echo NOSOCKET'
)


@dataclass(frozen=True)
class LastSave:
    """How old the snapshot on disk is. `age_s` is None when it could not be told (`error`)."""

    age_s: float | None = None
    status: str | None = None  # Redis rdb_last_bgsave_status: ok | err
    saves_since_start: int | None = None  # Redis rdb_saves (Redis 7+)
    changes_since: int | None = None  # writes not in the snapshot yet
    in_progress: bool = False
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "age_s": None if self.age_s is None else round(self.age_s),
            "status": self.status,
            "saves_since_start": self.saves_since_start,
            "changes_since": self.changes_since,
            "in_progress": self.in_progress,
            "error": self.error,
        }


@dataclass(frozen=True)
class FaktoryView:
    """What the server says about itself; `unreachable` says why nothing else is known."""

    address: str | None = None
    unreachable: str | None = None
    version: str | None = None
    description: str | None = None
    uptime_s: int | None = None
    queues: Mapping[str, int] = field(default_factory=dict)
    sets: Mapping[str, int] = field(default_factory=dict)
    processed: int | None = None  # Faktory counts failures among the processed jobs
    failed: int | None = None
    workers: int | None = None  # worker processes with a live heartbeat
    connections: int | None = None
    memory_mb: int | None = None
    last_save: LastSave | None = None
    tls: TlsView | None = None  # the server speaks TLS: what its certificate says
    commands: int | None = None  # commands the server ran since it started

    @property
    def reachable(self) -> bool:
        return self.unreachable is None

    @property
    def enqueued(self) -> int:
        return sum(self.queues.values())

    def as_json(self) -> dict[str, Any]:
        if not self.reachable:
            return {"reachable": False, "address": self.address, "error": self.unreachable}
        return {
            "reachable": True,
            "address": self.address,
            "version": self.version,
            "description": self.description,
            "uptime_s": self.uptime_s,
            "queues": dict(self.queues),
            "enqueued": self.enqueued,
            "sets": dict(self.sets),
            "processed": self.processed,
            "failed": self.failed,
            "workers": self.workers,
            "connections": self.connections,
            "memory_mb": self.memory_mb,
            "last_save": None if self.last_save is None else self.last_save.as_json(),
            "tls": None if self.tls is None else self.tls.as_json(),
        }


@dataclass(frozen=True)
class TlsView:
    """The TLS session faktctl had with the server and the certificate it was shown."""

    protocol: str
    subject: str
    names: tuple[str, ...]
    expires: datetime
    days_left: int

    def as_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "subject": self.subject,
            "names": list(self.names),
            "expires": self.expires.isoformat(),
            "days_left": self.days_left,
        }

    def text(self) -> str:
        return (
            f"{self.protocol}, {self.subject}, expires {self.expires:%Y-%m-%d} "
            f"({self.days_left} days)"
        )


def tls_view(address: reach.Endpoint, timeout: float) -> TlsView | None:
    """The certificate the server at `address` shows (None when TLS is off or it fails)."""
    if address.tls is None:
        return None
    from faktctl.adapters import openssl

    try:
        seen = probe.tls_handshake(address.host, address.port, address.tls, timeout=timeout)
        cert = openssl.read_cert(seen.certificate, der=True)
    except (probe.ProbeError, FaktctlError):
        return None
    now = datetime.now(tz=cert.not_after.tzinfo)
    return TlsView(seen.version, cert.subject, cert.names, cert.not_after, int(cert.days_left(now)))


def unreachable(reason: str, address: str | None = None) -> FaktoryView:
    return FaktoryView(address=address, unreachable=reason)


# --- pure parsing -----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _set_sizes(faktory: Mapping[str, Any]) -> dict[str, int]:
    """`faktory.sets` where the server reports it, else the task runner's sizes."""
    sets = _mapping(faktory.get("sets"))
    tasks = _mapping(faktory.get("tasks"))
    from_tasks = {"scheduled": "Scheduled", "retries": "Retries", "dead": "Dead", "working": "Busy"}
    sizes: dict[str, int] = {}
    for name in SET_NAMES:
        size = _int(sets.get(name))
        if size is None:
            size = _int(_mapping(tasks.get(from_tasks[name])).get("size"))
        if size is not None:
            sizes[name] = size
    return sizes


def from_info(info: Mapping[str, Any], address: str | None = None) -> FaktoryView:
    """The view from Faktory's INFO document (the last save is added by `gather`)."""
    faktory = _mapping(info.get("faktory"))
    server = _mapping(info.get("server"))
    queues = {
        str(k): size
        for k, v in _mapping(faktory.get("queues")).items()
        if (size := _int(v)) is not None
    }
    workers = _int(_mapping(_mapping(faktory.get("tasks")).get("Workers")).get("size"))
    return FaktoryView(
        address=address,
        version=str(server["faktory_version"]) if "faktory_version" in server else None,
        description=str(server["description"]) if "description" in server else None,
        uptime_s=_int(server.get("uptime")),
        queues=dict(sorted(queues.items())),
        sets=_set_sizes(faktory),
        processed=_int(faktory.get("total_processed")),
        failed=_int(faktory.get("total_failures")),
        workers=workers,
        connections=_int(server.get("connections")),
        memory_mb=_int(server.get("used_memory_mb")),
        commands=_int(server.get("command_count")),
    )


def parse_redis_info(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and not key.startswith("#"):
            fields[key] = value
    return fields


def last_save_from(output: str, fallback_now: float) -> LastSave:
    """The age of the snapshot from the exec's output (`DIR`, `FILE <mtime>`, Redis INFO).

    Redis's own clock (`server_time_usec`) measures the age when it reports it, so a skewed
    host clock does not. Without a save since the server started, Redis's LASTSAVE is only the
    start time: the file's modification time (the snapshot loaded at start) is used instead.
    """
    lines = output.splitlines()
    if any(line.strip() == "NOSOCKET" for line in lines):
        where = " or ".join(f"{d}/redis.sock" for d in DATA_DIRS)
        return LastSave(error=f"no Redis socket at {where}")
    fields = parse_redis_info(output)
    file_line = next((line[5:].strip() for line in lines if line.startswith("FILE ")), "")
    file_mtime = _int(file_line)
    server_usec = _int(fields.get("server_time_usec"))
    now = server_usec / 1e6 if server_usec is not None else fallback_now
    saves = _int(fields.get("rdb_saves"))
    last = _int(fields.get("rdb_last_save_time"))
    if "rdb_last_save_time" not in fields:
        return LastSave(error="Redis did not report its persistence state")
    # No save since start: the file on disk is the one loaded at start.
    moment = file_mtime if saves == 0 or last is None else last
    return LastSave(
        age_s=None if moment is None else max(0.0, now - moment),
        status=fields.get("rdb_last_bgsave_status"),
        saves_since_start=saves,
        changes_since=_int(fields.get("rdb_changes_since_last_save")),
        in_progress=fields.get("rdb_bgsave_in_progress") == "1",
        error=None if moment is not None else "no save since the server started and no faktory.rdb",
    )


# --- I/O --------------------------------------------------------------------------------------


def _why_not_running(container: ServerContainer) -> str:
    if container.state == "exited":
        return f"the server container {container.name} has exited (code {container.exit_code})"
    return f"the server container {container.name} is {container.state}"


def read_last_save(engine: ReadEngine, container_id: str, fallback_now: float) -> LastSave:
    script = _SAVE_SCRIPT.format(dirs=" ".join(DATA_DIRS))
    try:
        _, output = engine.exec(container_id, ["sh", "-c", script])
    except FaktctlError as err:
        return LastSave(error=err.one_line())
    return last_save_from(output.decode(errors="replace"), fallback_now)


def read_save_file(engine: ReadEngine, container_id: str, now: float) -> LastSave:
    """How old `faktory.rdb` is, from the engine's stat of the file: one request and no
    process in the container, so `status` shows it by default. Redis writes a snapshot to a
    temp file and renames it, so the file's time is the last save's (or, with no save since
    the server started, that of the file it loaded). Redis's own persistence state (a failed
    background save, writes not saved yet) needs `read_last_save`'s exec."""
    for folder in DATA_DIRS:
        try:
            found = engine.stat_path(container_id, f"{folder}/{RDB_NAME}")
        except ObjectNotFound:
            continue
        except FaktctlError as err:
            return LastSave(error=err.one_line())
        saved = engine_time(found.get("mtime"))
        if saved is None:
            return LastSave(error=f"the engine gave no modification time for {RDB_NAME}")
        return LastSave(age_s=max(0.0, now - saved))
    return LastSave(error=f"no {RDB_NAME} yet (no save since the server started)")


def engine_time(text: Any) -> float | None:
    """Seconds since the epoch of an engine timestamp (RFC 3339, up to nanoseconds)."""
    if not isinstance(text, str) or not text:
        return None
    stamp = text.strip().replace("Z", "+00:00")
    main, dot, rest = stamp.partition(".")
    if dot:  # Python reads at most 6 fractional digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        stamp = f"{main}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def gather(
    engine: ReadEngine,
    container: ServerContainer | None,
    password: SecretStr,
    network: str | None = None,
    *,
    fallback_now: float,
    timeout: float = INFO_TIMEOUT_S,
    tls: probe.Tls | None = None,
) -> FaktoryView:
    """Ask the running server (container `container`) for its view; never raises."""
    view = ask_info(engine, container, password, network, timeout=timeout, tls=tls)
    if not view.reachable or container is None:
        return view
    return replace(view, last_save=read_last_save(engine, container.id, fallback_now))


def ask_info(
    engine: ReadEngine,
    container: ServerContainer | None,
    password: SecretStr,
    network: str | None = None,
    *,
    timeout: float = INFO_TIMEOUT_S,
    tls: probe.Tls | None = None,
) -> FaktoryView:
    """The view from the server's INFO alone (no last save): `gather` without the exec, for a
    caller that reads the last save at the same time."""
    if container is None:
        return unreachable("no server container exists (run `faktctl up`)")
    if container.state != "running":
        return unreachable(_why_not_running(container))
    network_ip = container.ip_addresses.get(network) if network else None
    address = reach.protocol_address(container.ports, engine, network_ip, tls=tls)
    if address is None:
        return unreachable(
            "port 7419 is not published and the engine is remote: set server.ports.protocol"
        )
    try:
        info = reach.read_info(address, password, timeout)
    except probe.ProbeError as err:
        return unreachable(str(err), str(address))
    return replace(from_info(info, str(address)), tls=tls_view(address, timeout))


def for_deployment(
    engine: ReadEngine, desired: Desired, observed: Deployment, password: SecretStr, *, now: float
) -> FaktoryView:
    """The view of a project's server: its running container (else the first one found)."""
    containers = observed.of_service(desired.server.name)
    running = [c for c in containers if c.state == "running"]
    chosen = (running or list(containers))[:1]
    server = chosen[0] if chosen else None
    tls = reach.tls_client(desired.tls)
    return gather(engine, server, password, desired.network, fallback_now=now, tls=tls)


# --- text -------------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """An elapsed time for people, in its two largest units (`3d4h`, `2h05m`, `7m09s`, `42s`);
    `-` when unknown. Status tables and the server line both show uptimes this way."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if days:
        return f"{days}d{hours % 24}h"
    if hours:
        return f"{hours}h{minutes % 60:02d}m"
    if minutes:
        return f"{minutes}m{whole % 60:02d}s"
    return f"{whole}s"


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def last_save_text(save: LastSave | None) -> str:
    if save is None:
        return "unknown"
    if save.age_s is None:
        return f"unknown: {save.error}"
    notes = []
    if save.saves_since_start == 0:
        notes.append("the file loaded at start; no save since")
    if save.status not in (None, "ok"):
        notes.append(f"the last background save FAILED ({save.status})")
    if save.changes_since:
        notes.append(f"{save.changes_since} change(s) not saved yet")
    if save.in_progress:
        notes.append("a save is in progress")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    return f"{duration(save.age_s)} ago{suffix}"


def text_lines(view: FaktoryView) -> list[str]:
    """The view as the lines `faktctl status` prints under its container table."""
    if not view.reachable:
        return [f"Faktory: not reachable: {view.unreachable}"]
    name = view.description or "Faktory"
    queues = ", ".join(f"{q} {n}" for q, n in view.queues.items()) or "none"
    sets = ", ".join(f"{s} {n}" for s, n in view.sets.items()) or "?"
    return [
        f"{name} {view.version or '?'} at {view.address}, up {duration(view.uptime_s)}",
        f"  queues     {queues} ({view.enqueued} enqueued)",
        f"  sets       {sets}",
        f"  totals     processed {_count(view.processed)}, failed {_count(view.failed)}",
        f"  workers    {_count(view.workers)} connected "
        f"({_count(view.connections)} open connections)",
        f"  last save  {last_save_text(view.last_save)}",
        *([f"  tls        {view.tls.text()}"] if view.tls is not None else []),
    ]
