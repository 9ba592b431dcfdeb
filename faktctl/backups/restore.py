"""Restore a backup into the project's server.

Everything that can be checked is checked before anything is stopped: the backup exists and
matches its sha256, the server runs and its Redis socket answers, the data volume has room for
the new file beside the old one, the snapshot's RDB format is not newer than what the server's
Redis writes, the destination can take the safety snapshot. Then, after confirmation:

1. a safety snapshot of the current data (a normal backup tagged `pre-restore`);
2. stop the workers, then the server with its grace period (Redis saves on the way out; the
   file must be replaced in a stopped server or that final save would overwrite it); on a
   swarm the worker services and then the server service are scaled to 0, since a stopped
   task would be replaced at once (faktctl.backups.deployment.Pause);
3. a throwaway helper container on the same data mount receives the snapshot as
   `faktory.rdb.faktctl-restore`, checks its size, renames it over faktory.rdb (atomic on the
   same file system) and syncs; a failed copy leaves the old file untouched;
4. start the server, wait until it is healthy and answers INFO, compare sizes with the manifest;
5. start the workers again.
If step 3 fails the server is started again on its previous data and the error is reported.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from faktctl.adapters.docker import archive
from faktctl.backups import deployment, savepoint, stream, take
from faktctl.backups.manifest import PRE_RESTORE_TAG, Backup, require_checksum
from faktctl.backups.report import Reporter
from faktctl.backups.verify import snapshot_tar
from faktctl.desired import DATA_DIR, Mount
from faktctl.errors import OperationFailed, UsageError
from faktctl.faktory.versions import DataFormat, crosses_boundary, format_of, parse_version

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.journal import Journal

INCOMING = "faktory.rdb.faktctl-restore"
HELPER_SCRIPT = """set -e
cd {db}
size=$(stat -c %s {incoming} 2>/dev/null || echo none)
if [ "$size" != "{size}" ]; then
  rm -f {incoming}
  echo "the copied snapshot is incomplete ($size of {size} bytes)"
  exit 3
fi
mv -f {incoming} faktory.rdb
sync
echo "faktory.rdb replaced"
"""


class RestoreFailed(OperationFailed):
    """The restore could not be completed."""


class Cancelled(OperationFailed):
    """The person declined the confirmation."""


@dataclass(frozen=True)
class RestoreResult:
    backup: Backup
    safety: Backup
    before: deployment.Counts
    after: deployment.Counts
    changes: tuple[str, ...]
    differences: tuple[str, ...]
    moved_only: bool
    worker_problems: tuple[str, ...]
    workers_started: int

    @property
    def matches(self) -> bool:
        return not self.differences or self.moved_only

    def to_json(self) -> dict[str, Any]:
        return {
            "backup": self.backup.name,
            "safety_snapshot": self.safety.name,
            "before": _counts_json(self.before),
            "after": _counts_json(self.after),
            "changes": list(self.changes),
            "matches_manifest": self.matches,
            "differences": list(self.differences),
            "moved_only": self.moved_only,
            "workers_started": self.workers_started,
            "worker_problems": list(self.worker_problems),
        }


def _counts_json(counts: deployment.Counts) -> dict[str, Any]:
    return {"queues": dict(counts.queues), "sets": dict(counts.sets), "jobs": counts.jobs}


def check_checksum(backup: Backup, reporter: Reporter) -> None:
    """Refuse (exit 4, nothing touched) a backup whose snapshot does not match its sha256."""
    reporter.step(f"checking the sha256 of {backup.snapshot_path.name}")
    with reporter.transfer("checksum", backup.manifest.size) as update:
        require_checksum(backup, update)


def plan_steps(
    backup: Backup,
    server: str,
    workers: Sequence[str],
    destination: str,
    data: str,
    key_move: str | None = None,
    worker_kind: str = "worker container(s)",
) -> list[str]:
    """What restore is about to do, in order, for the confirmation prompt."""
    manifest = backup.manifest
    steps = [f"save the current data as a `{PRE_RESTORE_TAG}` backup in {destination}"]
    if workers:
        steps.append(f"stop {len(workers)} {worker_kind}: {', '.join(workers)}")
    steps += [
        f"stop the server {server} gracefully",
        f"replace faktory.rdb in {data} with backup {backup.name} "
        f"({manifest.jobs} jobs, taken {manifest.to_json()['created_at']})",
    ]
    if key_move is not None:
        steps.append(key_move)
    steps.append("start the server, wait until it is healthy, compare sizes with the backup")
    if workers:
        steps.append("start the workers again")
    return steps


def check_volume_space(engine: Engine, server_id: str, needed: int) -> None:
    """The data folder must hold the new file beside the old one (df inside the server)."""
    with contextlib.suppress(OperationFailed):
        code, output = engine.exec(server_id, ["df", "-Pk", savepoint.DB_DIR])
        lines = output.decode("utf-8", "replace").strip().splitlines()
        if code != 0 or len(lines) < 2:
            return
        fields = lines[-1].split()
        with contextlib.suppress(ValueError, IndexError):
            free = int(fields[3]) * 1024
            if free < needed + take.SPACE_MARGIN:
                raise RestoreFailed(
                    f"not enough free space for the restore in the server's data folder: "
                    f"{take.human_bytes(free)} free, {take.human_bytes(needed)} needed",
                    "free space on the volume's disk first; nothing was changed",
                )


def rdb_version(header: bytes) -> int | None:
    """The format version in an RDB header (`REDIS0011` -> 11)."""
    if len(header) >= 9 and header.startswith(stream.RDB_MAGIC) and header[5:9].isdigit():
        return int(header[5:9])
    return None


def backup_rdb_version(backup: Backup) -> int | None:
    if backup.read_rdb is not None:
        with backup.read_rdb() as chunks, contextlib.suppress(OperationFailed):
            return rdb_version(next(iter(chunks), b"")[:9])
        return None
    with backup.snapshot_path.open("rb") as handle:
        head = b""
        with contextlib.suppress(archive.StreamError):
            for piece in stream.gunzip(stream.read_blocks(handle, 64 << 10)):
                head += piece
                if len(head) >= 9:
                    break
    return rdb_version(head[:9])


def check_rdb_version(engine: Engine, server_id: str, backup: Backup) -> None:
    """Refuse a snapshot written by a newer Redis than the server's: it would not load, and the
    server would not come back. The server's own faktory.rdb tells its format version."""
    server_version = None
    with contextlib.suppress(OperationFailed):
        code, output = engine.exec(server_id, ["head", "-c", "9", savepoint.RDB_PATH])
        server_version = rdb_version(output) if code == 0 else None
    ours = backup_rdb_version(backup)
    if server_version is not None and ours is not None and ours > server_version:
        raise RestoreFailed(
            f"backup {backup.name} holds RDB format {ours}, newer than the {server_version} "
            "the server's Redis writes; it would not load",
            "restore it into a server image at least as new as the one that made it "
            f"(Faktory {backup.manifest.faktory_version or 'unknown'}); nothing was changed",
        )


def _helper_image(server: Mapping[str, Any]) -> str:
    return str(server.get("Image") or deployment.image_of(server))


def write_rdb(
    engine: Engine,
    server: Mapping[str, Any],
    backup: Backup,
    timeout: float,
    reporter: Reporter,
) -> None:
    """Put the snapshot in place as faktory.rdb on the stopped server's data mount."""
    from faktctl.adapters.docker.engine import ContainerConfig

    mount = deployment.data_mount(server)
    project = backup.manifest.project
    size = backup.manifest.rdb_size
    script = HELPER_SCRIPT.format(db=savepoint.DB_DIR, incoming=INCOMING, size=size)
    helper = engine.create_container(
        ContainerConfig(
            name=f"faktctl-restore-{project}-{secrets.token_hex(4)}",
            image=_helper_image(server),
            command=("sh", "-c", script),
            env=(),
            labels=deployment.job_labels("restore", project),
            mounts=(Mount(mount.kind, mount.source, DATA_DIR),),
        )
    )
    copy_error: OperationFailed | None = None
    try:
        with reporter.transfer("faktory.rdb", size) as update:
            try:
                tar = snapshot_tar(backup, INCOMING, on_progress=update)
                engine.archive_in(helper, savepoint.DB_DIR, tar)
            except OperationFailed as err:
                copy_error = err
        engine.start(helper)
        code = engine.wait(helper, timeout)
        output = engine.logs(helper).decode("utf-8", "replace").strip()
    finally:
        with contextlib.suppress(OperationFailed):
            engine.remove(helper, force=True)
    if copy_error is not None:
        raise RestoreFailed(f"could not copy the snapshot into the data volume: {copy_error}")
    if code != 0:
        raise RestoreFailed(f"could not put the snapshot in place: {output or f'exit {code}'}")


@dataclass(frozen=True)
class _Checked:
    """What the checks before confirmation found."""

    server: Mapping[str, Any]
    pause: deployment.Pause
    before: deployment.Counts
    steps: list[str]
    key_move: tuple[DataFormat, DataFormat] | None = None


def _check_before_touching(engine: Engine, target: take.Target, backup: Backup) -> _Checked:
    server = deployment.running_server(engine, target.project)
    server_id = str(server["Id"])
    savepoint.Redis(lambda cmd: engine.exec(server_id, cmd)).call("PING")
    mount = deployment.data_mount(server)
    with deployment.reaching(engine, server) as endpoint:
        before = deployment.read_counts(endpoint, target.password)
    check_volume_space(engine, server_id, backup.manifest.rdb_size)
    check_rdb_version(engine, server_id, backup)
    take.check_destination(target.destination)
    pause = deployment.pause_for(engine, target.project, server, target.password)
    move = key_move(backup.manifest.faktory_version, before.version)
    steps = plan_steps(
        backup,
        deployment.name_of(server),
        pause.worker_names,
        str(target.destination),
        f"{mount.kind} {mount.source}",
        describe_key_move(backup, move),
        pause.worker_kind,
    )
    return _Checked(server, pause, before, steps, move)


def key_move(backup_version: str, server_version: str) -> tuple[DataFormat, DataFormat] | None:
    """The queue-key formats to move between when the backup was made by a server version that
    keeps queues under other keys than the running one (faktctl.faktory.versions)."""
    made_by, running = parse_version(backup_version), parse_version(server_version)
    if made_by is None or running is None or not crosses_boundary(made_by, running):
        return None
    return format_of(made_by), format_of(running)


def describe_key_move(backup: Backup, move: tuple[DataFormat, DataFormat] | None) -> str | None:
    if move is None:
        return None
    return (
        f"move its queues from `{move[0].queue_prefix}<name>` to `{move[1].queue_prefix}<name>` "
        f"(made by Faktory {backup.manifest.faktory_version}), with no network, before the "
        "server starts"
    )


def restore_backup(
    engine: Engine,
    target: take.Target,
    backup: Backup,
    *,
    confirm: Callable[[list[str]], bool],
    reporter: Reporter,
    timeout: float = 120.0,
    checksum_checked: bool = False,
    journal: Journal | None = None,
) -> RestoreResult:
    if backup.manifest.project != target.project:
        raise UsageError(
            f"backup {backup.name} is of project `{backup.manifest.project}`, "
            f"not `{target.project}`"
        )
    if not checksum_checked:
        check_checksum(backup, reporter)
    checked = _check_before_touching(engine, target, backup)
    if not confirm(checked.steps):
        raise Cancelled("restore cancelled; nothing was changed")

    safety_options = take.Options(
        tag=PRE_RESTORE_TAG, timeout=max(timeout, 300.0), protect=frozenset({backup.name})
    )
    safety = take.take_backup(engine, target, safety_options, reporter).backup
    reporter.step(f"safety snapshot saved as {safety.name}")
    record = journal or _NO_JOURNAL
    record.step("stopping", **pause_facts(checked, backup, safety))
    checked.pause.stop(reporter.step)
    after, failure = _replace_and_restart(
        engine, checked, backup, safety, target, timeout, reporter, record
    )
    worker_problems = checked.pause.start_workers(reporter.step)
    record.done()
    if isinstance(failure, OperationFailed):
        raise RestoreFailed(
            f"{failure.message}; the server was started again with its previous data",
            "nothing was restored",
        ) from failure
    if failure is not None:
        raise failure
    manifest = backup.manifest
    diffs = deployment.differences(manifest.queues, manifest.sets, after)
    return RestoreResult(
        backup=backup,
        safety=safety,
        before=checked.before,
        after=after,
        changes=tuple(deployment.differences(checked.before.queues, checked.before.sets, after)),
        differences=tuple(diffs),
        moved_only=bool(diffs) and deployment.only_moved(manifest.queues, manifest.sets, after),
        worker_problems=tuple(worker_problems),
        workers_started=len(checked.pause.worker_names) - len(worker_problems),
    )


def _replace_and_restart(
    engine: Engine,
    checked: _Checked,
    backup: Backup,
    safety: Backup,
    target: take.Target,
    timeout: float,
    reporter: Reporter,
    record: _Steps,
) -> tuple[deployment.Counts, BaseException | None]:
    """Write the snapshot and start the server again, even when writing failed.

    Returns the server's first INFO and the write failure, if any (the server then runs on its
    previous data). Raises RestoreFailed when the server does not come back.
    """
    server = checked.server
    failure: BaseException | None = None
    record.step("writing")
    reporter.step(f"writing {backup.name} into the data volume")
    try:
        write_rdb(engine, server, backup, timeout, reporter)
        if checked.key_move is not None:
            _move_keys(engine, server, backup, checked.key_move, reporter)
    except BaseException as exc:  # the server must come back up whatever happened
        failure = exc
    record.step("starting")
    try:
        server_id = checked.pause.start_server(reporter.step, timeout)
        after = deployment.wait_ready(engine, server_id, target.password, timeout)
    except deployment.NotReady as err:
        raise RestoreFailed(
            f"the server did not come back after the restore: {err.message}",
            f"the previous data is in backup {safety.name}",
        ) from failure
    return after, failure


def _move_keys(
    engine: Engine,
    server: Mapping[str, Any],
    backup: Backup,
    move: tuple[DataFormat, DataFormat],
    reporter: Reporter,
) -> None:
    """Move the restored queues to the running version's keys, on the stopped volume."""
    from faktctl.live import queue_keys

    reporter.step(describe_key_move(backup, move) or "moving queue keys")
    mount = deployment.data_mount(server)
    report = queue_keys.offline(
        engine,
        _helper_image(server),
        (mount.kind, mount.source),
        "move",
        move[0],
        move[1],
        deployment.job_labels("restore", backup.manifest.project),
    )
    reporter.step(f"moved {report.moved} job(s) to the new queue keys")


# --- an interrupted restore -------------------------------------------------------------------


class _Steps(Protocol):
    def step(self, name: str, **facts: Any) -> None: ...

    def done(self) -> None: ...


class _NoJournal:
    def step(self, name: str, **facts: Any) -> None:
        pass

    def done(self) -> None:
        pass


_NO_JOURNAL = _NoJournal()


def pause_facts(checked: _Checked, backup: Backup, safety: Backup) -> dict[str, Any]:
    """What `restore --resume` needs to start the deployment again (faktctl.journal)."""
    pause = checked.pause
    facts: dict[str, Any] = {
        "what": f"the restore of backup {backup.name}",
        "backup": backup.name,
        "safety": safety.name,
        "queues": dict(backup.manifest.queues),
        "sets": dict(backup.manifest.sets),
    }
    if isinstance(pause, deployment.SwarmPause):
        services = [pause.server_service, *pause.workers]
        facts["swarm"] = [[s.id, s.name, s.replicas, s.grace_s] for s in services]
    else:
        assert isinstance(pause, deployment.ContainerPause)
        facts["containers"] = [
            [str(c["Id"]), deployment.name_of(c)] for c in [pause.server, *pause.workers]
        ]
    return facts


def pause_of_record(engine: Engine, facts: Mapping[str, Any]) -> deployment.Pause:
    """The pause an interrupted restore made, from its record."""
    if "swarm" in facts:
        services = [
            deployment.ScaledService(str(i), str(n), int(r), float(g))
            for i, n, r, g in facts["swarm"]
        ]
        return deployment.SwarmPause(engine, {"Id": ""}, services[0], services[1:])
    found = [{"Id": str(i), "Name": "/" + str(n)} for i, n in facts["containers"]]
    running = [c for c in found[1:] if not _runs(engine, str(c["Id"]))]
    return deployment.ContainerPause(engine, found[0], running)


def _runs(engine: Engine, container_id: str) -> bool:
    try:
        return deployment.is_running(engine.inspect(container_id))
    except OperationFailed:
        return False


@dataclass(frozen=True)
class Resumed:
    backup: str
    after: deployment.Counts
    restored: bool  # the server holds the backup's data (else its previous data)
    worker_problems: tuple[str, ...]


def resume_restore(
    engine: Engine,
    target: take.Target,
    journal: Journal,
    reporter: Reporter,
    timeout: float,
) -> Resumed:
    """Finish an interrupted restore: leftover helpers go, the server starts again (scaled back
    on a swarm) and must answer INFO, then the workers. faktory.rdb was replaced by one atomic
    rename, so the server holds either the backup (the restore is finished) or its previous
    data (nothing was restored): which one is told by comparing with the backup's sizes."""
    from faktctl.live import helpers

    facts = journal.facts
    helpers.remove_leftovers(engine, target.project, reporter.step)
    pause = pause_of_record(engine, facts)
    if isinstance(pause, deployment.ContainerPause) and _runs(engine, str(pause.server["Id"])):
        server_id = str(pause.server["Id"])
    else:
        server_id = pause.start_server(reporter.step, timeout)
    try:
        after = deployment.wait_ready(engine, server_id, target.password, timeout)
    except deployment.NotReady as err:
        raise RestoreFailed(
            f"the server did not come back: {err.message}",
            f"the data from before the restore is in backup {facts.get('safety')}",
        ) from None
    worker_problems = pause.start_workers(reporter.step)
    journal.done()
    expected = {str(k): int(v) for k, v in (facts.get("queues") or {}).items()}
    sets = {str(k): int(v) for k, v in (facts.get("sets") or {}).items()}
    restored = not deployment.differences(expected, sets, after) or deployment.only_moved(
        expected, sets, after
    )
    return Resumed(str(facts.get("backup", "")), after, restored, tuple(worker_problems))
