"""Where the spec file is: found without parsing it (no YAML, no pydantic), so a command can
look for it, or at it, before it decides to load it."""

from __future__ import annotations

from pathlib import Path

from faktctl.errors import SpecError

SPEC_FILENAME = "faktory.yaml"


def find_spec(explicit: Path | None) -> Path:
    path = explicit if explicit is not None else Path.cwd() / SPEC_FILENAME
    if not path.exists():
        raise SpecError(
            [
                f"{path.name}: spec file not found at {path} "
                "(run `faktctl init` to create one, or pass -f FILE)"
            ]
        )
    if path.is_dir():
        raise SpecError([f"{path}: is a folder, not a spec file (pass -f FILE)"])
    return path
