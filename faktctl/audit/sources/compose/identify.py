"""Which compose services are Faktory servers, including the ones real repositories hide.

Found and confirmed: an image named `faktory`/`faktory-ent` (any registry, tag or digest); a
command that runs the faktory binary; a `build:` whose Dockerfile's final stage is `FROM` such
an image. Found but not confirmed (audited as servers, and reported by FKH013 with the reason):
an image whose last path component merely starts with `faktory` (`someone/faktory-tls`), and a
service named `faktory…` built from a Dockerfile that is absent or does not show Faktory.
Services with FAKTORY_URL/FAKTORY_PROVIDER and no confirmed server are workers.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from faktctl.audit.effective import faktory_args
from faktctl.faktory.images import parse_image

Role = Literal["server", "candidate", "other"]
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE)
_CMD = re.compile(r"^\s*(CMD|ENTRYPOINT)\s+(.+)$", re.IGNORECASE)
MAX_DOCKERFILE = 256 * 1024


@dataclass(frozen=True)
class Dockerfile:
    base: str | None  # the final stage's base image, stages followed; None when unknown
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    problem: str | None = None  # why the file tells nothing
    # the final stage's ENV (stages followed): (name, value, 1-based line)
    env: tuple[tuple[str, str, int], ...] = ()
    shown: str = "Dockerfile"  # the file, as shown to the user

    @property
    def argv(self) -> tuple[str, ...] | None:
        if self.entrypoint is not None:
            return self.entrypoint + (self.cmd or ())
        return self.cmd


@dataclass(frozen=True)
class Identity:
    role: Role
    image: str | None  # the image to reason about: the service's, or the Dockerfile's base
    argv: tuple[str, ...] | None = None  # from the Dockerfile, when it sets one
    unconfirmed: str | None = None  # why a candidate could not be confirmed
    found_by: str = ""  # how a server that is not a plain Faktory image was recognised


def _instruction_words(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except json.JSONDecodeError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return tuple(words)
    return ("/bin/sh", "-c", text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line where it starts, text) of each instruction, continuations joined."""
    lines: list[tuple[int, str]] = []
    current, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.lstrip().startswith("#"):
            continue
        if not current:
            start = number
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append((start, current + raw))
        current = ""
    if current:
        lines.append((start, current))
    return lines


def parse_dockerfile(text: str, shown: str = "Dockerfile") -> Dockerfile:
    stages: dict[str, Dockerfile] = {}
    stage = Dockerfile(None, problem="no FROM line", shown=shown)
    for number, line in _logical_lines(text):
        found = _FROM.match(line)
        if found:
            image, alias = found.group(1), found.group(2)
            inherited = stages.get(image.lower())
            if inherited is not None:
                stage = inherited
            elif "$" in image:
                stage = Dockerfile(None, problem=f"FROM {image} uses a build argument", shown=shown)
            else:
                stage = Dockerfile(image, shown=shown)
            if alias:
                stages[alias.lower()] = stage
            continue
        command = _CMD.match(line)
        if command:
            words = _instruction_words(command.group(2))
            if command.group(1).upper() == "CMD":
                stage = replace(stage, cmd=words)
            else:  # a new ENTRYPOINT resets CMD, as the builder does
                stage = replace(stage, entrypoint=words, cmd=None)
            continue
        env = _env_pairs(line)
        if env:
            kept = [e for e in stage.env if e[0] not in {name for name, _ in env}]
            stage = replace(stage, env=(*kept, *((n, v, number) for n, v in env)))
    return stage


_ENV = re.compile(r"^\s*ENV\s+(.+)$", re.IGNORECASE)


def _env_pairs(line: str) -> list[tuple[str, str]]:
    """`ENV A=b C="d e"` and the legacy `ENV A b c` -> [(name, value)]."""
    found = _ENV.match(line)
    if not found:
        return []
    try:
        words = shlex.split(found.group(1).strip())
    except ValueError:
        return []
    if words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    return [(n, v) for n, sep, v in (w.partition("=") for w in words) if sep and n]


def read_dockerfile(
    context: Path, dockerfile: str, shown: Callable[[Path], str] = str
) -> Dockerfile:
    path = Path(dockerfile) if Path(dockerfile).is_absolute() else context / dockerfile
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCKERFILE + 1)
    except OSError as err:
        why = err.strerror or type(err).__name__
        return Dockerfile(None, problem=f"its Dockerfile {shown(path)} cannot be read ({why})")
    if len(data) > MAX_DOCKERFILE:
        return Dockerfile(None, problem=f"its Dockerfile {shown(path)} is larger than 256 KiB")
    return parse_dockerfile(data.decode("utf-8", errors="replace"), shown(path))


def _looks_like(image: str | None) -> bool:
    return image is not None and parse_image(image).name.startswith("faktory")


def identify(
    name: str,
    image: str | None,
    argv: tuple[str, ...] | None,
    built: Dockerfile | None,
    has_command: bool,
) -> Identity:
    """The role of one service. `argv` is the service's own entrypoint + command (None when it
    sets none); `built` is its Dockerfile when it has `build:`."""
    if image is not None and parse_image(image).is_faktory:
        return Identity("server", image)
    if built is not None and built.base is not None and parse_image(built.base).is_faktory:
        found = f"built FROM {built.base}"
        return Identity("server", built.base, None if has_command else built.argv, None, found)
    if argv is not None and faktory_args(argv) is not None:
        return Identity("server", image)
    if built is not None and built.argv is not None and faktory_args(built.argv) is not None:
        found = "its Dockerfile runs the faktory binary"
        return Identity("server", image, None if has_command else built.argv, None, found)
    if _looks_like(image):
        return Identity(
            "candidate",
            image,
            unconfirmed=f"its image {image} is named like Faktory, but neither its name nor "
            "its command shows the faktory binary",
        )
    if built is not None and (name.lower().startswith("faktory") or _looks_like(built.base)):
        why = built.problem or f"its Dockerfile builds FROM {built.base}, not a Faktory image"
        return Identity("candidate", built.base, unconfirmed=f"it is built here and {why}")
    return Identity("other", image)
