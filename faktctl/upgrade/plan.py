"""What `faktctl upgrade` will do, decided from what the preflight saw. Pure: no engine.

`--dry-run` prints `UpgradePlan.lines()`; the executor follows the same plan step by step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from faktctl.errors import UsageError
from faktctl.faktory.images import parse_image
from faktctl.faktory.versions import (
    DEFAULT_VERSION,
    DataFormat,
    Version,
    crosses_boundary,
    format_of,
    parse_version,
    text_of,
)

SAFETY_TAG = "pre-upgrade"
Kind = Literal["upgrade", "downgrade", "change", "repair", "nothing"]


class UpgradeRefused(UsageError):
    """The requested upgrade is not allowed as asked (nothing was touched)."""


@dataclass(frozen=True)
class Preflight:
    """The running deployment as the preflight found it."""

    project: str
    server: str  # container name
    image: str  # the image reference the server runs
    version: Version  # as the server reports it (INFO)
    queues: Mapping[str, int]
    sets: Mapping[str, int]
    hidden: Mapping[str, int]  # jobs under the other format's queue keys (unseen by it)
    workers: tuple[str, ...] = ()
    grace_s: int = 60
    spec_image: str = ""
    spec_file: str = "faktory.yaml"
    destination: str = "backups"

    @property
    def data_format(self) -> DataFormat:
        return format_of(self.version)


@dataclass(frozen=True)
class Target:
    image: str
    version: Version


@dataclass(frozen=True)
class UpgradePlan:
    kind: Kind
    preflight: Preflight
    target: Target
    move: tuple[DataFormat, DataFormat] | None  # key format from -> to, when keys move
    pull: str = "missing"
    steps: tuple[str, ...] = field(default=())

    @property
    def changes_image(self) -> bool:
        return self.kind in ("upgrade", "downgrade", "change")

    def headline(self) -> str:
        before = text_of(self.preflight.version)
        if self.kind == "nothing":
            return f"nothing to do: {self.preflight.server} already runs Faktory {before}"
        if self.kind == "repair":
            hidden = sum(self.preflight.hidden.values())
            return f"repair Faktory {before}: make {hidden} hidden job(s) visible again"
        return (
            f"{self.kind} Faktory {before} → {text_of(self.target.version)} "
            f"({self.preflight.image} → {self.target.image})"
        )

    def lines(self) -> list[str]:
        counts = describe_counts(self.preflight.queues, self.preflight.sets)
        lines = [self.headline(), f"before: {counts}"]
        if self.preflight.hidden:
            lines.append(
                f"hidden (under the other version's keys): {_sizes(self.preflight.hidden)}"
            )
        lines += [f"{n}. {step}" for n, step in enumerate(self.steps, 1)]
        return lines


def _sizes(sizes: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {size}" for name, size in sorted(sizes.items())) or "none"


def describe_counts(queues: Mapping[str, int], sets: Mapping[str, int]) -> str:
    queue_text = ", ".join(f"{n} {s}" for n, s in sorted(queues.items())) or "no queues"
    set_text = ", ".join(f"{n} {s}" for n, s in sets.items())
    return f"queues: {queue_text}; {set_text}"


def resolve_target(requested: str | None, spec_image: str, running: Version) -> Target:
    """`--to` as a version (on the spec's image repository) or a full image reference.

    Without `--to`: the spec's image when it names another version than the running one
    (the spec was edited first), else faktctl's default version.
    """
    spec_ref = parse_image(spec_image)
    if requested is None:
        spec_version = spec_ref.version
        if spec_version is not None and spec_version != running:
            return Target(spec_image, spec_version)
        requested = DEFAULT_VERSION
    if ":" in requested or "/" in requested or "@" in requested:
        version = parse_image(requested).version
        if version is None:
            raise UpgradeRefused(
                f"cannot tell the Faktory version of {requested} from its tag",
                "use an image tagged with its version, e.g. contribsys/faktory:1.10.0",
            )
        return Target(requested, version)
    version = parse_version(requested)
    if version is None:
        raise UpgradeRefused(
            f"`{requested}` is not a version", "give one like --to 1.10.0, or an image reference"
        )
    return Target(f"{spec_ref.repository}:{requested.removeprefix('v')}", version)


def decide(
    preflight: Preflight,
    target: Target,
    *,
    force: bool = False,
    repair: bool = False,
    pull: str = "missing",
) -> UpgradePlan:
    """The plan, or UpgradeRefused with the reason (nothing touched)."""
    if repair:
        return _repair_plan(preflight, target, pull)
    if target.version == preflight.version and target.image == preflight.image:
        return UpgradePlan("nothing", preflight, target, None, pull)
    crossing = crosses_boundary(preflight.version, target.version)
    if target.version < preflight.version:
        kind: Kind = "downgrade"
        if crossing and not force:
            raise UpgradeRefused(
                f"downgrading {text_of(preflight.version)} → {text_of(target.version)} crosses "
                f"the queue-key change of {text_of(format_of(preflight.version).since)}: "
                "the older server cannot read the newer keys",
                "pass --force to move the queues back to the old keys as part of the downgrade",
            )
    else:
        kind = "upgrade" if target.version > preflight.version else "change"
    move = (preflight.data_format, format_of(target.version)) if crossing else None
    steps = _steps(preflight, target, move, pull)
    return UpgradePlan(kind, preflight, target, move, pull, tuple(steps))


def _repair_plan(preflight: Preflight, target: Target, pull: str) -> UpgradePlan:
    fmt = preflight.data_format
    if not preflight.hidden:
        return UpgradePlan("nothing", preflight, target, None, pull)
    other = next(f for f in _formats_other_than(fmt))
    names = ", ".join(sorted(preflight.hidden))
    steps = (
        f"save a safety backup (tag {SAFETY_TAG}) in {preflight.destination}",
        f"move queue(s) {names} from {_key(other)} to {_key(fmt)} inside the running "
        "server's Redis, in one atomic script (jobs pushed meanwhile are kept)",
        "read INFO again: every hidden job must now be counted in its queue",
    )
    return UpgradePlan("repair", preflight, preflight_target(preflight), (other, fmt), pull, steps)


def preflight_target(preflight: Preflight) -> Target:
    return Target(preflight.image, preflight.version)


def _formats_other_than(fmt: DataFormat) -> list[DataFormat]:
    from faktctl.faktory.versions import FORMATS

    return [f for f in FORMATS if f != fmt]


def _key(fmt: DataFormat) -> str:
    return f"{fmt.queue_prefix}<name>"


def _steps(
    preflight: Preflight,
    target: Target,
    move: tuple[DataFormat, DataFormat] | None,
    pull: str,
) -> list[str]:
    presence = {
        "missing": "present (pulled when missing)",
        "always": "pulled",
        "never": "present locally (--pull never)",
    }[pull]
    steps = [
        f"check that the image {target.image} is {presence}",
        f"save a safety backup (tag {SAFETY_TAG}) in {preflight.destination}",
    ]
    if preflight.workers:
        steps.append(
            f"stop {len(preflight.workers)} worker container(s): {', '.join(preflight.workers)}"
        )
    steps.append(
        f"stop the server {preflight.server} gracefully (up to {preflight.grace_s}s, so Redis "
        "saves)"
    )
    if move is not None:
        steps.append(
            f"move every queue from {_key(move[0])} to {_key(move[1])} on the data volume, in a "
            "throwaway container running only redis-server with no network (no client can "
            "connect)"
        )
    else:
        steps.append(
            "count every queue and set on the data volume (same queue keys: nothing to move)"
        )
    steps += [
        f"replace {preflight.server} with {target.image}, wait until it is healthy",
        "compare every queue and set size with the counts taken at rest; on any loss roll "
        f"back: restore the safety backup, start {preflight.image} again, exit 4",
    ]
    if preflight.workers:
        steps.append("start the workers again")
    if target.image != preflight.spec_image:
        steps.append(f"set server.image to {target.image} in {preflight.spec_file}")
    return steps
