"""faktctl schema: the spec's JSON Schema on stdout."""

from __future__ import annotations

from faktctl import ui
from faktctl.spec.model import spec_json_schema_text


def run() -> None:
    ui.data(spec_json_schema_text())
