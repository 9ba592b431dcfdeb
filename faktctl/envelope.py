"""The JSON envelope every `--json` / `--format json` output and every webhook payload wears.

`{"faktctl": ENVELOPE_VERSION, "command": …, "result": …}`; the version changes only when a
reader of the envelope would have to change too (tests/unit pin it).
"""

from __future__ import annotations

import json
from typing import Any

ENVELOPE_VERSION = 1


def envelope(command: str, result: Any, **extra: Any) -> dict[str, Any]:
    """The envelope as a dict; `extra` keys (such as `error`) follow `result`."""
    return {"faktctl": ENVELOPE_VERSION, "command": command, "result": result, **extra}


def envelope_json(command: str, result: Any, **extra: Any) -> str:
    """The envelope as indented JSON text, without a trailing newline."""
    return json.dumps(envelope(command, result, **extra), indent=2)
