"""Compose variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}` and `$$` for a literal `$`.

Values come from the shell environment first, then the `.env` beside the compose file. A
variable that is not set here and has no default makes the value unknown (None) instead of
the empty string compose would use: the deployment may well set it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

VarSource = Literal["environment", "dotenv", "default", "unset"]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    pass


@dataclass(frozen=True)
class VarUse:
    name: str
    source: VarSource


@dataclass(frozen=True)
class Resolved:
    value: str | None
    uses: tuple[VarUse, ...] = ()

    @property
    def interpolated(self) -> bool:
        return bool(self.uses)


class Interpolator:
    """`unset_as_empty` gives compose's own result (an unset variable is ""), for values
    where "unknown" is no answer, such as a port binding."""

    def __init__(
        self, environ: Mapping[str, str], dotenv: Mapping[str, str], unset_as_empty: bool = False
    ) -> None:
        self.environ = environ
        self.dotenv = dotenv
        self.unset_as_empty = unset_as_empty

    def lookup(self, name: str) -> tuple[str | None, VarSource]:
        if name in self.environ:
            return self.environ[name], "environment"
        if name in self.dotenv:
            return self.dotenv[name], "dotenv"
        return ("" if self.unset_as_empty else None), "unset"

    def resolve(self, text: str) -> Resolved:
        if "$" not in text:
            return Resolved(text)
        parts: list[str | None] = []
        uses: list[VarUse] = []
        index = 0
        while index < len(text):
            char = text[index]
            if char != "$":
                parts.append(char)
                index += 1
                continue
            following = text[index + 1 : index + 2]
            if following == "$":
                parts.append("$")
                index += 2
            elif following == "{":
                end = _closing_brace(text, index + 2)
                value, used = self._braced(text[index + 2 : end])
                parts.append(value)
                uses.extend(used)
                index = end + 1
            else:
                match = _NAME.match(text, index + 1)
                if match is None:
                    parts.append("$")
                    index += 1
                    continue
                value, source = self.lookup(match.group())
                parts.append(value)
                uses.append(VarUse(match.group(), source))
                index = match.end()
        if any(part is None for part in parts):
            return Resolved(None, tuple(uses))
        return Resolved("".join(p for p in parts if p is not None), tuple(uses))

    def _braced(self, body: str) -> tuple[str | None, list[VarUse]]:
        match = _NAME.match(body)
        if match is None:
            raise InterpolationError(f"invalid interpolation format: ${{{body}}}")
        name, rest = match.group(), body[match.end() :]
        value, source = self.lookup(name)
        if not rest:
            return value, [VarUse(name, source)]
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise InterpolationError(f"invalid interpolation format: ${{{body}}}")
        argument = rest[len(operator) :]
        is_set = value is not None
        usable = bool(value) if operator.startswith(":") else is_set
        if operator in {":-", "-"}:
            if usable:
                return value, [VarUse(name, source)]
            inner = self.resolve(argument)
            return inner.value, [VarUse(name, "default"), *inner.uses]
        if operator in {":?", "?"}:
            missing = "" if self.unset_as_empty else None
            return (value if usable else missing), [VarUse(name, source)]
        inner = self.resolve(argument)  # :+ and +
        return (inner.value if usable else ""), [VarUse(name, source), *inner.uses]


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    index = start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise InterpolationError(f"invalid interpolation format: unclosed ${{ in {text!r}")


def parse_env_file(text: str) -> dict[str, str | None]:
    """`KEY=value` lines (docker's env-file format, plus quotes and `export`); a bare `KEY`
    means "take it from the environment" (None)."""
    values: dict[str, str | None] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, has_value, value = line.partition("=")
        key = key.strip()
        if not _NAME.fullmatch(key):
            continue
        values[key] = _unquote(value.strip()) if has_value else None
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in {"'", '"'}:
        inner = value[1:-1]
        return inner.replace("\\n", "\n") if value[0] == '"' else inner
    comment = value.find(" #")
    return value[:comment].rstrip() if comment >= 0 else value
