"""Which deployment format a file given to `faktctl audit --compose` is, decided from its
text before any parser complains: the platforms audited like compose files (an ECS task
definition, also inside CloudFormation or Terraform; a Render blueprint; a Fly.io fly.toml),
or None for a compose file (or anything else, which the compose reader names in one line)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from faktctl import safeyaml
from faktctl.audit.sources.secretfacts import display
from faktctl.errors import FaktctlError

Platform = Literal["ecs", "render", "fly"]
_RENDER = re.compile(r"^services:\s*\n(?:\s*#.*\n|\s*\n)*\s*-\s*(?:type|name):", re.MULTILINE)
_RENDER_TYPE = re.compile(r"^\s*-?\s*type:\s*['\"]?(web|pserv|worker|cron)\b", re.MULTILINE)


def platform_of(path: Path) -> Platform | None:
    from faktctl.audit.sources.ecs import looks_like_ecs
    from faktctl.audit.sources.fly import looks_like_fly

    try:
        text = safeyaml.read_text(path, display(path), what="file")
    except FaktctlError:  # the compose reader reports the file's own problem
        return None
    if path.suffix == ".toml" and looks_like_fly(text):
        return "fly"
    if looks_like_ecs(text):
        return "ecs"
    if _RENDER.search(text) and _RENDER_TYPE.search(text):
        return "render"
    return None
