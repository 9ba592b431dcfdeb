"""A project folder made by `faktctl init` for the end-to-end tests: its spec and password.

The one base of the single-engine `upkit.Deployment` and the swarm `swarmkit.SwarmDeployment`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class SpecFolder:
    folder: Path

    @property
    def spec_path(self) -> Path:
        return self.folder / "faktory.yaml"

    @property
    def password(self) -> str:
        return (self.folder / "secrets" / "faktory_password").read_text().strip()

    def spec(self) -> dict[str, Any]:
        loaded = yaml.safe_load(self.spec_path.read_text())
        assert isinstance(loaded, dict)
        return loaded

    def write_spec(self, spec: dict[str, Any]) -> None:
        self.spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        spec = self.spec()
        change(spec)
        self.write_spec(spec)
