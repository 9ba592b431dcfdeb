"""Where the repository's pieces and ../shared live, for tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SHARED = REPO.parent / "shared"
COMPOSE_SPEC_SCHEMA = SHARED / "compose-spec.json"
