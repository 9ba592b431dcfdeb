"""What every platform is: the Platform protocol the commands call, and what it answers with.

faktctl.platforms chooses the platform of a deployment; the platforms import this module, never
that one (which imports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.platforms.engine.plan import PullPolicy
    from faktctl.secretvalue import SecretStr

# Each file a rendering platform writes: the content it should have (a secret for .env and the
# secret files) and its mode.
Targets = dict[Path, tuple["str | SecretStr", int]]


@dataclass(frozen=True)
class StatusReport:
    """What `status` prints: the `result` of `status --json`, the table, and whether the
    deployment drifts from the spec (exit 1)."""

    document: dict[str, Any]
    text: str
    drifts: bool


class Platform(Protocol):
    """A deployment platform, bound to one deployment (the spec the command found)."""

    def connect(self) -> Engine:
        """The engine `up` works through (on a swarm: a manager), once the project is known."""

    def dry_run(self, engine: Engine, pull: PullPolicy) -> int:
        """`up --dry-run`: print the plan on stdout and change nothing."""

    def apply(
        self,
        engine: Engine,
        pull: PullPolicy,
        timeout_s: float,
        started: float,
        *,
        adopt_volume: bool = False,
    ) -> int:
        """`up`, under the project's lock: apply the plan and wait until it is ready; a data
        volume faktctl did not create is used only when `adopt_volume`."""

    def down(self, *, volumes: bool, assume_yes: bool) -> int:
        """Remove the deployment; its data volume too when `volumes`."""

    def status(self, *, verbose: bool) -> StatusReport:
        """What runs, how it drifts from the spec, and what the Faktory server says."""

    def logs(
        self, secrets: tuple[SecretStr, ...], *, service: str | None, follow: bool, tail: int | None
    ) -> int:
        """The logs of the deployment's containers (or tasks), `secrets` redacted."""
