"""faktctl schema: the spec's JSON Schema on stdout."""

from __future__ import annotations

import json

from faktctl import ui
from faktctl.spec.model import spec_json_schema


def schema_text() -> str:
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"


def run() -> None:
    ui.data(schema_text())
