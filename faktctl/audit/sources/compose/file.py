"""A compose file as the audit reads it: YAML with line numbers, the `.env` beside it, compose
interpolation, and one service's command line and environment (map and list forms, env_file).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from faktctl import safeyaml
from faktctl.audit.effective import image_default
from faktctl.audit.model import EnvVar, Location
from faktctl.audit.sources import yamlsrc
from faktctl.audit.sources.compose import foreign
from faktctl.audit.sources.compose.interpolate import (
    InterpolationError,
    Interpolator,
    Resolved,
    parse_env_file,
)
from faktctl.audit.sources.secretfacts import display
from faktctl.audit.sources.yamlsrc import LineDict, LineList
from faktctl.errors import UsageError

# What an env_file that cannot be read might set: the audit must not assume them absent.
HIDDEN_VARS = ("FAKTORY_ENV", "FAKTORY_PASSWORD", "FAKTORY_SKIP_PASSWORD")
_REQUIRED = re.compile(r"\$\{\w+:?\?")  # ${VAR:?message} / ${VAR?message}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$", re.IGNORECASE)
_SIZE_FACTOR = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text or _DURATION.sub("", text):
        return None
    return sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(text))


def parse_size(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    match = _SIZE.match(str(value).strip())
    if match is None:
        return None
    return int(float(match.group(1)) * _SIZE_FACTOR[match.group(2).lower()])


_V1_SERVICE_KEYS = frozenset(
    {"image", "build", "command", "entrypoint", "environment", "ports", "links", "volumes"}
)
V1_LAYOUT_NOTE = (
    "read as the docker-compose 1.x layout (services at the top level, no `services:` key); "
    "docker compose v2 refuses it: move the services under `services:`"
)


def _is_v1_layout(doc: LineDict) -> bool:
    """True when every top-level entry (but `x-` extensions) is a mapping that looks like a
    service, as in docker-compose 1.x files."""
    if "version" in doc:
        return False
    entries = [v for k, v in doc.items() if not str(k).startswith("x-")]
    return bool(entries) and all(
        isinstance(v, LineDict) and _V1_SERVICE_KEYS & set(map(str, v)) for v in entries
    )


class ComposeFile:
    """One parsed compose file and the context its values are resolved in."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.display = display(path)
        self.base = path.parent
        self.environ = environ
        text = safeyaml.read_text(path, self.display, what="compose file")
        try:
            self.doc = yamlsrc.load(text, self.display)
        except UsageError:
            named = foreign.describe(text, self.display)
            if named is None:
                raise
            raise UsageError(named) from None
        if not isinstance(self.doc, LineDict):
            raise UsageError(
                foreign.describe(text, self.display, self.doc)
                or foreign.unknown(self.display, "not a compose file (no mapping at the top)")
            )
        services = self.doc.get("services")
        # docker-compose 1.x ("version 1"): the services sit at the top level
        self.layout_v1 = "services" not in self.doc and _is_v1_layout(self.doc)
        if self.layout_v1:
            services = self.doc
        if not isinstance(services, LineDict) or not services:
            raise UsageError(
                foreign.describe(text, self.display, self.doc)
                or foreign.unknown(self.display, "no `services:` mapping, so not a compose file")
            )
        self.services: LineDict = services
        self.dotenv_path = self.base / ".env"
        self.dotenv = self._dotenv()
        self.interp = Interpolator(environ, self.dotenv)
        self.as_compose = Interpolator(environ, self.dotenv, unset_as_empty=True)

    def _dotenv(self) -> dict[str, str]:
        try:
            text = self.dotenv_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return {}
        parsed = parse_env_file(text)
        return {k: v for k, v in parsed.items() if v is not None}

    def loc(self, line: int | None) -> Location:
        return Location(self.display, line)

    def resolve(self, value: Any, line: int) -> Resolved:
        if value is None:
            return Resolved("")
        if isinstance(value, bool):
            return Resolved("true" if value else "false")
        if not isinstance(value, str):
            return Resolved(str(value))
        try:
            return self.interp.resolve(value)
        except InterpolationError as err:
            raise UsageError(f"{self.display}:{line}: {err}") from None

    def text(self, value: Any, line: int) -> str | None:
        return self.resolve(value, line).value

    def compose_text(self, value: Any, line: int) -> str:
        """The text compose itself would use: unset variables become empty."""
        if not isinstance(value, str):
            return self.resolve(value, line).value or ""
        try:
            return self.as_compose.resolve(value).value or ""
        except InterpolationError as err:
            raise UsageError(f"{self.display}:{line}: {err}") from None

    def host_path(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else (self.base / path)

    def shown(self, path: Path) -> str:
        return display(path)


# --- a service -------------------------------------------------------------------------------


class Service:
    def __init__(self, compose: ComposeFile, name: str, data: LineDict) -> None:
        self.c = compose
        self.name = name
        self.data = data
        self.where = compose.loc(compose.services.line_of(name))

    def line(self, key: str) -> int:
        return self.data.line_of(key)

    def loc(self, key: str) -> Location:
        return self.c.loc(self.line(key))

    def text(self, key: str) -> str | None:
        if key not in self.data:
            return None
        return self.c.text(self.data[key], self.line(key))

    def locations(self) -> dict[str, Location]:
        keys = {
            "image": "image",
            "command": "command",
            "entrypoint": "entrypoint",
            "environment": "environment",
            "ports": "ports",
            "volumes": "volumes",
            "network_mode": "network_mode",
            "restart": "restart",
            "healthcheck": "healthcheck",
            "stop_grace_period": "stop_grace_period",
            "memory": "mem_limit",
            "replicas": "scale",
        }
        found = {field: self.loc(key) for field, key in keys.items() if key in self.data}
        deploy = self.data.get("deploy")
        if isinstance(deploy, LineDict):
            for field, key in (("restart", "restart_policy"), ("replicas", "replicas")):
                if key in deploy and field not in found:
                    found[field] = self.c.loc(deploy.line_of(key))
            if "resources" in deploy and "memory" not in found:
                found["memory"] = self.c.loc(deploy.line_of("resources"))
            for key in ("placement", "update_config"):
                if key in deploy:
                    found[key] = self.c.loc(deploy.line_of(key))
        if "environment" not in found and "env_file" in self.data:
            found["environment"] = self.loc("env_file")
        if "volumes" not in found and "tmpfs" in self.data:
            found["volumes"] = self.loc("tmpfs")
        return found

    # command line ---------------------------------------------------------------------------

    def command(self, key: str) -> tuple[tuple[str, ...] | None, str]:
        """(argv part or None when absent, why it is unknown)."""
        if key not in self.data or self.data[key] is None:
            return None, ""
        raw = self.data[key]
        line = self.line(key)
        if isinstance(raw, list):
            parts = [self.c.resolve(item, line) for item in raw]
            if any(p.value is None for p in parts):
                return None, _unset_note(parts, key)
            return tuple(p.value or "" for p in parts), ""
        resolved = self.c.resolve(raw, line)
        if resolved.value is None:
            return None, _unset_note([resolved], key)
        try:
            return tuple(shlex.split(resolved.value)), ""
        except ValueError:
            return None, f"{key} cannot be split into words"

    def argv(self, image: str | None) -> tuple[tuple[str, ...] | None, str]:
        entry, entry_note = self.command("entrypoint")
        cmd, cmd_note = self.command("command")
        if entry_note or cmd_note:
            return None, entry_note or cmd_note
        if entry is not None:
            return entry + (cmd or ()), ""
        if cmd is not None:
            return cmd, ""
        default = image_default(image)
        return default.argv, default.note

    # environment ----------------------------------------------------------------------------

    def environment(self) -> tuple[dict[str, EnvVar], tuple[str, ...]]:
        env: dict[str, EnvVar] = {}
        unreadable = self._env_files(env)
        raw = self.data.get("environment")
        if isinstance(raw, LineDict):
            for key, value in raw.items():
                self._set(env, str(key), value, raw.line_of(key), has_value=value is not None)
        elif isinstance(raw, LineList):
            for index, item in enumerate(raw):
                key, has_value, value = str(item).partition("=")
                self._set(env, key.strip(), value, raw.line_of(index), has_value=bool(has_value))
        return env, unreadable

    def _set(
        self, env: dict[str, EnvVar], key: str, value: Any, line: int, has_value: bool
    ) -> None:
        where = self.c.loc(line)
        if not has_value:
            shell = self.c.environ.get(key)
            env[key] = EnvVar(key, shell, "host-env", f"${key} from the shell", where)
            return
        resolved = self.c.resolve(value, line)
        var = _env_var(self.c, key, resolved, where)
        if isinstance(value, str) and _REQUIRED.search(value):
            var = replace(var, required=True)
        env[key] = var

    def _env_files(self, env: dict[str, EnvVar]) -> tuple[str, ...]:
        raw = self.data.get("env_file")
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        unreadable: list[str] = []
        for index, item in enumerate(items):
            line = items.line_of(index) if isinstance(items, LineList) else self.line("env_file")
            required = True
            if isinstance(item, dict):
                required = item.get("required", True) is not False
                item = item.get("path", "")
            text = self.c.text(item, line)
            if text is None:
                unreadable.append(f"an env_file named by an unset variable (line {line})")
                continue
            path = self.c.host_path(text)
            try:
                values = parse_env_file(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                if required:
                    unreadable.append(self.c.shown(path))
                continue
            shown = self.c.shown(path)
            for key, value in values.items():
                if value is None:
                    if key in self.c.environ:
                        env[key] = EnvVar(key, self.c.environ[key], "host-env", f"${key}")
                    continue
                detail = f"env_file {shown}"
                env[key] = EnvVar(key, value, "env-file", detail, self.c.loc(line), str(path))
        for name in HIDDEN_VARS if unreadable else ():
            detail = f"an unreadable env_file ({unreadable[0]})"
            env.setdefault(name, EnvVar(name, None, "env-file", detail, self.loc("env_file")))
        return tuple(unreadable)


def _unset_note(parts: list[Resolved], key: str) -> str:
    names = sorted({use.name for p in parts for use in p.uses if use.source == "unset"})
    shown = ", ".join(f"${{{n}}}" for n in names) or "a variable"
    return f"{key} uses {shown}, which is not set here"


def _env_var(compose: ComposeFile, key: str, resolved: Resolved, where: Location) -> EnvVar:
    if not resolved.interpolated:
        return EnvVar(key, resolved.value, "literal", "", where)
    names = ", ".join(f"${{{u.name}}}" for u in resolved.uses)
    sources = {u.source for u in resolved.uses}
    if sources == {"default"}:
        return EnvVar(key, resolved.value, "literal", f"the default of {names}", where)
    if "dotenv" not in sources:
        return EnvVar(key, resolved.value, "interpolated", names, where)
    detail = f"{names} in {compose.shown(compose.dotenv_path)}"
    source_file = str(compose.dotenv_path)
    return EnvVar(key, resolved.value, "interpolated", detail, where, source_file)
