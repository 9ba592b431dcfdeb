"""Option names that both the typer app (faktctl.cli) and the start-up fast path
(faktctl.entry) read: one definition, so the two cannot disagree on what a flag is called."""

from __future__ import annotations

FILE = ("--file", "-f")
JSON = ("--json",)
VERBOSE = ("--verbose", "-v")
VOLUMES = ("--volumes",)
YES = ("--yes", "-y")
DEBUG = "--debug"
