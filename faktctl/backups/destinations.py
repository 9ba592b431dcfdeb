"""Where backups go: folders beside the spec, and restic repositories.

A destination in the spec is a folder (relative to the spec) or `restic:<repository>`, where
the repository is any string restic accepts (`/srv/restic`, `sftp:host:/path`,
`rest:https://host:8000/faktory`, `s3:...`). A repository that is a plain path is resolved
against the spec's folder like a backup folder. Pure: no restic or engine calls here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from faktctl.errors import UsageError
from faktctl.secretvalue import hide_url_userinfo
from faktctl.spec.model import RESTIC_PREFIX, BackupPolicy

# restic's backends written as `<backend>:<rest>`; anything else is a local path
RESTIC_BACKENDS = ("local", "sftp", "rest", "s3", "b2", "azure", "gs", "swift", "rclone")
redact = hide_url_userinfo  # rest:https://user:pass@host/... -> rest:https://***@host/...


@dataclass(frozen=True)
class Folder:
    path: Path
    spec_text: str

    @property
    def label(self) -> str:
        return str(self.path)

    @property
    def kind(self) -> str:
        return "folder"


@dataclass(frozen=True)
class Repository:
    repository: str  # what restic gets in RESTIC_REPOSITORY (may hold credentials)
    spec_text: str

    @property
    def label(self) -> str:
        return "restic:" + redact(self.repository)

    @property
    def kind(self) -> str:
        return "restic"


Destination = Folder | Repository


def _repository(text: str, base: Path) -> str:
    backend, sep, _ = text.partition(":")
    if sep and backend in RESTIC_BACKENDS:
        return text
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else (base / path).absolute())


def parse(text: str, base: Path) -> Destination:
    if text.startswith(RESTIC_PREFIX):
        return Repository(_repository(text[len(RESTIC_PREFIX) :], base), text)
    path = Path(text).expanduser()
    return Folder((path if path.is_absolute() else base / path).absolute(), text)


def of_policy(policy: BackupPolicy, base: Path) -> list[Destination]:
    return [parse(text, base) for text in policy.all_destinations]


def first_folder(destinations: list[Destination], base: Path) -> Path:
    """Where local snapshots (restore's safety snapshot) go: the first folder destination,
    else `backups/` beside the spec."""
    for destination in destinations:
        if isinstance(destination, Folder):
            return destination.path
    return (base / "backups").absolute()


def choose(destinations: list[Destination], wanted: str | None) -> Destination:
    """The destination a user named with --from: its text in the spec, its label, or its
    1-based position; the first one when nothing is named."""
    if wanted is None:
        return destinations[0]
    for destination in destinations:
        if wanted in (destination.spec_text, destination.label):
            return destination
    if wanted.isdigit() and 1 <= int(wanted) <= len(destinations):
        return destinations[int(wanted) - 1]
    known = ", ".join(f"{i}: {d.label}" for i, d in enumerate(destinations, 1))
    raise UsageError(
        f"`{redact(wanted)}` is not one of the spec's backup destinations",
        f"pass its position or its text from the spec ({known})",
    )
