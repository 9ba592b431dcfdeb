"""The upgrade executor: follows an UpgradePlan through the engine, and rolls back on any loss.

Order (see faktctl.upgrade.plan for the text):
1. safety backup through the normal backup code (manifest, sha256), tag `pre-upgrade`;
2. stop the workers, then the server with its grace period (Redis saves on the way out);
3. on the stopped data volume, a throwaway container with no network runs only redis-server:
   it counts every queue and set at rest and, when the versions store queues under different
   keys, moves them (one atomic script), then saves;
4. the server container is replaced by one from the target image (same spec otherwise), and
   must become healthy and answer INFO;
5. every queue and set size must match the counts taken at rest (jobs may move from the
   scheduled/retry sets into their queues, and producers may add jobs; none may go missing),
   and the server must report a version of the target's key format. Otherwise: roll back —
   the new container goes, the safety backup is written back into the volume, the old image
   starts again, and the upgrade fails (exit 4) listing the differences;
6. the workers start again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faktctl import labels
from faktctl.backups import deployment, take
from faktctl.backups.manifest import Backup
from faktctl.backups.report import Reporter
from faktctl.errors import FaktctlError, OperationFailed
from faktctl.faktory import keys
from faktctl.faktory.versions import FORMATS, format_of, parse_version, text_of
from faktctl.journal import Journal
from faktctl.live import queue_keys
from faktctl.secretvalue import SecretStr
from faktctl.upgrade.plan import SAFETY_TAG, Preflight, UpgradePlan, UpgradeRefused

if TYPE_CHECKING:
    from faktctl.adapters.docker.api import RawDict
    from faktctl.adapters.docker.engine import Engine
    from faktctl.desired import Desired
    from faktctl.live.containers import ProjectContainers


class UpgradeFailed(OperationFailed):
    """The upgrade did not complete; the message says what state the deployment is in."""


@dataclass(frozen=True)
class Found:
    """The preflight's facts plus the raw containers the executor acts on."""

    preflight: Preflight
    server: RawDict
    workers: list[RawDict]


def read_preflight(
    engine: Engine,
    project: str,
    password: SecretStr,
    *,
    spec_image: str,
    spec_file: str,
    destination: str,
) -> Found:
    """The running version, every queue and set size, the jobs under the other key format."""
    server = deployment.running_server(engine, project)
    counts = deployment.read_counts(deployment.protocol_endpoint(server, engine), password)
    version = parse_version(counts.version)
    if version is None:
        raise UpgradeFailed(
            f"the server did not report a Faktory version (INFO says `{counts.version}`)"
        )
    report = queue_keys.in_server(engine, str(server["Id"]), "count", FORMATS[0], FORMATS[-1])
    workers = deployment.running_workers(engine, project)
    preflight = Preflight(
        project=project,
        server=deployment.name_of(server),
        image=deployment.image_of(server),
        version=version,
        queues=dict(counts.queues),
        sets=dict(counts.sets),
        hidden=report.hidden(format_of(version)),
        workers=tuple(deployment.name_of(w) for w in workers),
        grace_s=deployment.stop_timeout(server, deployment.DEFAULT_SERVER_STOP_S),
        spec_image=spec_image,
        spec_file=spec_file,
        destination=destination,
    )
    return Found(preflight, server, workers)


def require_managed(found: Found) -> None:
    """Replacing the server is only done for containers `faktctl up` created."""
    if labels.PROJECT in (found.server.get("Config", {}).get("Labels") or {}):
        return
    raise UpgradeRefused(
        f"the server container {found.preflight.server} was not started by `faktctl up`",
        "upgrade replaces the server the way `up` creates it: deploy with `faktctl up` first; "
        "for compose, change the tag by hand and then run `faktctl upgrade --repair`",
    )


def ensure_image(engine: Engine, image: str, pull: str, say: Reporter) -> None:
    """The target image is present before anything stops (pulled per --pull)."""
    from faktctl.adapters.docker.api import ImageUnavailable

    present = engine.image(image) is not None
    if pull == "always" or (pull == "missing" and not present):
        say.step(f"pulling {image}")
        engine.pull(image)
    elif not present:
        raise ImageUnavailable(
            f"the image {image} is not on this engine (--pull never)",
            "pull or build it first; nothing was changed",
        )


@dataclass(frozen=True)
class Outcome:
    plan: UpgradePlan
    safety: Backup
    at_rest: deployment.Counts
    after: deployment.Counts
    moved: int
    workers_started: int
    worker_problems: tuple[str, ...]

    def per_queue(self) -> list[tuple[str, int, int]]:
        """(name, before, after) for every queue and set, before = the preflight's INFO."""
        before = self.plan.preflight
        names = sorted(set(before.queues) | set(self.after.queues))
        rows = [(f"queue {n}", before.queues.get(n, 0), self.after.queues.get(n, 0)) for n in names]
        rows += [(n, before.sets.get(n, 0), self.after.sets.get(n, 0)) for n in before.sets]
        return rows

    def to_json(self) -> dict[str, Any]:
        preflight = self.plan.preflight
        return {
            "kind": self.plan.kind,
            "from": {"version": text_of(preflight.version), "image": preflight.image},
            "to": {"version": self.after.version, "image": self.plan.target.image},
            "safety_backup": self.safety.name,
            "moved_jobs": self.moved,
            "counts": [
                {"name": name, "before": before, "after": after}
                for name, before, after in self.per_queue()
            ],
            "at_rest": {"queues": dict(self.at_rest.queues), "sets": dict(self.at_rest.sets)},
            "workers_started": self.workers_started,
            "worker_problems": list(self.worker_problems),
        }


def missing_jobs(expected: deployment.Counts, actual: deployment.Counts) -> list[str]:
    """Lines for the sizes that show a loss; empty when every job is accounted for.

    Allowed: more jobs (producers pushed), and scheduled/retry jobs moving into their queues
    (the total stays the same or grows while no queue shrinks).
    """
    diffs = deployment.differences(expected.queues, expected.sets, actual)
    if not diffs:
        return []
    queue_shrank = any(actual.queues.get(n, 0) < size for n, size in expected.queues.items())
    if not queue_shrank and actual.jobs >= expected.jobs:
        return []
    return diffs


def _with_server_image(desired: Desired, image: str) -> Desired:
    services = tuple(
        dataclasses.replace(s, image=image) if s.role == "server" else s for s in desired.services
    )
    return dataclasses.replace(desired, services=services)


class Upgrader:
    def __init__(
        self,
        engine: Engine,
        desired: Desired,
        target: take.Target,
        reporter: Reporter,
        timeout: float,
        journal: Journal | None = None,
    ) -> None:
        self.engine = engine
        self.desired = desired
        self.target = target
        self.say = reporter
        self.timeout = timeout
        self.journal = journal

    def _step(self, name: str, **facts: Any) -> None:
        """Record the step before it starts (faktctl.journal): an interrupted run is resumed
        from the record by `faktctl upgrade --resume`."""
        if self.journal is not None:
            self.journal.step(name, **facts)

    def _done(self) -> None:
        if self.journal is not None:
            self.journal.done()

    # --- the server container ----------------------------------------------------------------

    def _start_server(self, image: str) -> str:
        from faktctl.platforms.engine.apply import container_config

        desired = _with_server_image(self.desired, image)
        config = container_config(desired, desired.server, 1)
        self.say.step(f"starting {config.name} from {image}")
        container_id = self.engine.create_container(config)
        self.engine.start(container_id, config.name)
        return container_id

    def _remove_server(self, container_id: str, grace: int) -> None:
        with contextlib.suppress(FaktctlError):
            self.engine.stop(container_id, timeout=grace)
        self.engine.remove(container_id, force=True)

    def _ready(self, container_id: str) -> deployment.Counts:
        self.say.step("waiting until the server is healthy and answers INFO")
        return deployment.wait_ready(self.engine, container_id, self.target.password, self.timeout)

    # --- the whole run -----------------------------------------------------------------------

    def run(self, plan: UpgradePlan, found: Found) -> Outcome:
        server, workers = found.server, found.workers
        safety = take.take_backup(
            self.engine,
            self.target,
            take.Options(tag=SAFETY_TAG, timeout=max(self.timeout, 300.0)),
            self.say,
        ).backup
        self.say.step(f"safety backup saved as {safety.name}")
        self._step("stopping", **_record_facts(plan, found, safety))
        deployment.stop_in_order(self.engine, workers, server, self.say.step, self.target.password)
        self._step("keys")
        report = self._keys_at_rest(plan, server, workers)
        return self._replace(plan, found, safety, report)

    def _replace(
        self, plan: UpgradePlan, found: Found, safety: Backup, report: keys.KeyReport
    ) -> Outcome:
        """From the counts at rest on: the new server, the comparison, the workers."""
        server, workers = found.server, found.workers
        grace = plan.preflight.grace_s
        target_format = format_of(plan.target.version)
        at_rest = deployment.Counts(report.visible(target_format), dict(report.sets))
        self._step("replacing", at_rest={"queues": at_rest.queues, "sets": at_rest.sets})
        self.engine.remove(str(server["Id"]), force=True)
        new_id: str | None = None
        after = deployment.Counts()
        try:
            new_id = self._start_server(plan.target.image)
            after = self._ready(new_id)
            problems = missing_jobs(at_rest, after) + _version_problem(plan, after)
        except FaktctlError as err:  # not ready, or could not even be created: roll back
            problems = [err.message]
        if problems:
            self._roll_back(plan, found, new_id, safety, grace, problems)
        worker_problems = deployment.start_workers(self.engine, workers, self.say.step)
        self._done()
        return Outcome(
            plan,
            safety,
            at_rest,
            after,
            report.moved,
            len(workers) - len(worker_problems),
            tuple(worker_problems),
        )

    def _keys_at_rest(
        self,
        plan: UpgradePlan,
        server: Mapping[str, Any],
        workers: list[RawDict],
        safety: Backup | None = None,
        found: Found | None = None,
    ) -> keys.KeyReport:
        """Count (and move, when the key format changes) with no server and no network.

        On failure the old server starts again on its unchanged data; when resuming (`safety`
        and `found` given: the old container is gone) the upgrade is rolled back instead."""
        mount = deployment.data_mount(server)
        source = plan.preflight.data_format
        destination = format_of(plan.target.version)
        mode: keys.Mode = "move" if plan.move is not None else "count"
        if plan.move is not None:
            self.say.step(
                f"moving queues from `{source.queue_prefix}<name>` to "
                f"`{destination.queue_prefix}<name>` on the stopped volume (no network)"
            )
        try:
            return queue_keys.offline(
                self.engine,
                str(server.get("Image") or plan.preflight.image),
                (mount.kind, mount.source),
                mode,
                source,
                destination,
                deployment.job_labels("upgrade", plan.preflight.project),
            )
        except FaktctlError as err:
            if safety is not None and found is not None:
                grace = plan.preflight.grace_s
                self._roll_back(plan, found, None, safety, grace, [err.one_line()])
            # Redis saved nothing: the volume still holds the old data. Bring the old server back.
            self.engine.start(str(server["Id"]), deployment.name_of(server))
            with contextlib.suppress(deployment.NotReady):
                deployment.wait_ready(
                    self.engine, str(server["Id"]), self.target.password, self.timeout
                )
            deployment.start_workers(self.engine, workers, self.say.step)
            self._done()
            raise UpgradeFailed(
                f"{err.one_line()}; the old server was started again on its unchanged data"
            ) from err

    def _roll_back(
        self,
        plan: UpgradePlan,
        found: Found,
        new_id: str | None,
        safety: Backup,
        grace: int,
        problems: list[str],
    ) -> None:
        from faktctl.backups.restore import write_rdb

        old_image = plan.preflight.image
        self._step("rolling-back", problems=problems)
        self.say.step(f"rolling back to {old_image}: " + "; ".join(problems))
        if new_id is not None:
            self._remove_server(new_id, grace)
        write_rdb(self.engine, found.server, safety, self.timeout, self.say)
        old_id = self._start_server(old_image)
        state = "the old server runs again on the safety backup"
        try:
            restored = self._ready(old_id)
            if not restored.same_as(
                deployment.Counts(safety.manifest.queues, safety.manifest.sets)
            ):
                state += " (its sizes differ from the backup's: check `faktctl status`)"
        except deployment.NotReady as err:
            state = f"the old server did not come back either: {err.message}"
        deployment.start_workers(self.engine, found.workers, self.say.step)
        self._done()
        raise UpgradeFailed(
            f"the upgrade to {plan.target.image} was rolled back: {'; '.join(problems)}; {state}",
            f"the data from before the upgrade is also in backup {safety.name}",
        )


def _version_problem(plan: UpgradePlan, after: deployment.Counts) -> list[str]:
    reported = parse_version(after.version)
    if reported is None:
        return [f"the new server reports no usable version (`{after.version}`)"]
    if format_of(reported) != format_of(plan.target.version):
        return [
            f"the new server reports Faktory {after.version}, whose queue keys differ from "
            f"{text_of(plan.target.version)}'s"
        ]
    return []


def repair(
    engine: Engine,
    plan: UpgradePlan,
    found: Found,
    target: take.Target,
    reporter: Reporter,
    timeout: float,
) -> Outcome:
    """Move hidden queues into the running server's key format, atomically, without a stop."""
    assert plan.move is not None
    safety = take.take_backup(
        engine, target, take.Options(tag=SAFETY_TAG, timeout=max(timeout, 300.0)), reporter
    ).backup
    reporter.step(f"safety backup saved as {safety.name}")
    server_id = str(found.server["Id"])
    source, destination = plan.move
    reporter.step(f"moving hidden queues into `{destination.queue_prefix}<name>` keys")
    report = queue_keys.in_server(engine, server_id, "move", source, destination)
    after = deployment.read_counts(
        deployment.protocol_endpoint(found.server, engine), target.password
    )
    expected = deployment.Counts(
        {n: s + plan.preflight.hidden.get(n, 0) for n, s in plan.preflight.queues.items()}
        | {n: s for n, s in plan.preflight.hidden.items() if n not in plan.preflight.queues},
        plan.preflight.sets,
    )
    problems = missing_jobs(expected, after)
    still_hidden = report.hidden(destination)
    if still_hidden:
        problems.append(f"still hidden: {still_hidden}")
    if problems:
        raise UpgradeFailed(
            "the repair did not make every job visible: " + "; ".join(problems),
            f"the data from before the repair is in backup {safety.name}",
        )
    return Outcome(plan, safety, expected, after, report.moved, 0, ())


# --- an interrupted upgrade -------------------------------------------------------------------


def _record_facts(plan: UpgradePlan, found: Found, safety: Backup) -> dict[str, Any]:
    """What `upgrade --resume` needs to finish the upgrade without the old container."""
    mount = deployment.data_mount(found.server)
    preflight = plan.preflight
    return {
        "what": f"the {plan.kind} of Faktory {text_of(preflight.version)} → "
        f"{text_of(plan.target.version)} ({preflight.image} → {plan.target.image})",
        "kind": plan.kind,
        "project": preflight.project,
        "from_image": preflight.image,
        "from_version": text_of(preflight.version),
        "to_image": plan.target.image,
        "to_version": text_of(plan.target.version),
        "server_id": str(found.server["Id"]),
        "server_name": preflight.server,
        "server_image_id": str(found.server.get("Image") or preflight.image),
        "mount": [mount.kind, mount.source],
        "workers": [[str(w["Id"]), deployment.name_of(w)] for w in found.workers],
        "grace_s": preflight.grace_s,
        "safety": safety.name,
        "destination": preflight.destination,
    }


def _from_record(facts: Mapping[str, Any]) -> tuple[UpgradePlan, Found]:
    """The plan and the containers of an interrupted upgrade, as its record has them."""
    from faktctl.desired import DATA_DIR
    from faktctl.upgrade.plan import Target

    old, new = parse_version(str(facts["from_version"])), parse_version(str(facts["to_version"]))
    if old is None or new is None:
        raise UpgradeFailed("the record of the interrupted upgrade names no versions")
    kind, source = facts["mount"]
    server: RawDict = {
        "Id": str(facts["server_id"]),
        "Name": "/" + str(facts["server_name"]),
        "Image": str(facts["server_image_id"]),
        "Config": {"Image": str(facts["from_image"])},
        "Mounts": [{"Destination": DATA_DIR, "Type": kind, "Name": source, "Source": source}],
    }
    workers: list[RawDict] = [{"Id": i, "Name": "/" + n} for i, n in facts.get("workers") or []]
    preflight = Preflight(
        project=str(facts["project"]),
        server=str(facts["server_name"]),
        image=str(facts["from_image"]),
        version=old,
        queues={},
        sets={},
        hidden={},
        workers=tuple(n for _, n in facts.get("workers") or []),
        grace_s=int(facts.get("grace_s") or deployment.DEFAULT_SERVER_STOP_S),
        destination=str(facts.get("destination") or "backups"),
    )
    crossing = format_of(old) != format_of(new)
    move = (format_of(old), format_of(new)) if crossing else None
    plan = UpgradePlan(
        str(facts.get("kind") or "upgrade"),  # type: ignore[arg-type]
        preflight,
        Target(str(facts["to_image"]), new),
        move,
    )
    return plan, Found(preflight, server, workers)


def resume(
    engine: Engine,
    desired: Desired,
    target: take.Target,
    reporter: Reporter,
    timeout: float,
    journal: Journal,
    step: str,
) -> Outcome:
    """Finish an interrupted upgrade from its record: leftover helpers go; whatever runs on the
    data volume stops (workers first, the server gracefully, so Redis saves); then the queues
    are counted (and moved) at rest again and the upgrade goes on as it would have: the target
    server, every count compared (a loss rolls back to the safety backup), the workers.
    Interrupted while rolling back, the roll-back is done again."""
    from pathlib import Path

    from faktctl.backups.manifest import find_backup
    from faktctl.live import containers, helpers

    facts = journal.facts
    plan, found = _from_record(facts)
    project = plan.preflight.project
    reporter.step(f"resuming {facts.get('what', 'the upgrade')}, interrupted at `{step}`")
    helpers.remove_leftovers(engine, project, reporter.step)
    running = containers.find(engine, project)
    _stop_what_runs(engine, running, reporter, target)
    for server in running.with_role("server"):
        engine.remove(str(server["Id"]), force=True)
    safety = find_backup(Path(plan.preflight.destination), project, str(facts["safety"]))
    upgrader = Upgrader(engine, desired, target, reporter, timeout, journal)
    if step == "rolling-back":
        problems = [str(p) for p in facts.get("problems") or []] or ["interrupted"]
        upgrader._roll_back(plan, found, None, safety, plan.preflight.grace_s, problems)
    # After the old server was replaced, the volume may hold what the new version saved.
    image = plan.target.image if step == "replacing" else str(facts["server_image_id"])
    at_rest_on = dict(found.server) | {"Image": image}
    upgrader._step("keys")
    report = upgrader._keys_at_rest(plan, at_rest_on, found.workers, safety, found)
    return upgrader._replace(plan, found, safety, report)


def _stop_what_runs(
    engine: Engine, running: ProjectContainers, reporter: Reporter, target: take.Target
) -> None:
    """Stop what an interrupted upgrade left running the way every stop does (the workers
    quieted and drained through a live server, a fresh snapshot, then the server)."""
    workers = [w for w in running.with_role("worker") if deployment.is_running(w)]
    servers = [s for s in running.with_role("server") if deployment.is_running(s)]
    if not servers:
        for worker in workers:
            reporter.step(f"stopping worker {deployment.name_of(worker)}")
            engine.stop(str(worker["Id"]), timeout=deployment.DEFAULT_WORKER_STOP_S)
        return
    first, *others = servers
    deployment.stop_in_order(engine, workers, first, reporter.step, target.password)
    for other in others:
        deployment.stop_in_order(engine, [], other, reporter.step)
