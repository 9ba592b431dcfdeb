"""Terraform's `jsonencode({...})` literal, and JSON with `${...}` interpolations, turned into
JSON text the same length in lines (so a parse of it points at the .tf file's own lines).

Only what container definitions are written with is read: objects (`key = value` or
`key: value`, one per line or comma-separated), lists, strings, numbers, true/false/null.
Any other expression (`var.port`, `local.env`, `tostring(x)`, `aws_x.y.arn`) becomes null and
is listed, because its value is decided by Terraform, not written in the file.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\$\{[^}]*\}|[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<punct>[{}\[\],:=])
  | (?P<word>[A-Za-z_][\w-]*)
    """,
    re.VERBOSE | re.DOTALL,
)
_VALUE_END = {"string", "number", "literal", "close", "expr"}


class HclError(ValueError):
    """The text uses a construct this reader does not follow."""


def _expression(text: str, start: int) -> int:
    """The end of a Terraform expression starting at `start` (a reference or a call)."""
    return unmatched_close(text, start, also_stop_at=",\n")


def unmatched_close(text: str, start: int, also_stop_at: str = "") -> int:
    """The index of the first closing bracket after `start` whose opener came before it (or of
    a character of `also_stop_at` outside brackets); quoted strings are skipped whole."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == '"':
            match = _STRING.match(text, index)
            index = match.end() if match else index + 1
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                return index
            depth -= 1
        elif char in also_stop_at and depth == 0:
            return index
        index += 1
    return index


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def to_json(text: str) -> tuple[str, list[str]]:
    """(JSON text with the same line breaks, the expressions replaced by null)."""
    out: list[str] = []
    unknown: list[str] = []
    previous = ""  # the kind of the last value-ish token
    index = 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None:
            end = _expression(text, index)
            if end == index:
                raise HclError(f"unexpected `{text[index]}`")
            unknown.append(text[index:end].strip())
            out.append(_comma(previous) + "null")
            previous = "expr"
            index = end
            continue
        kind = match.lastgroup or ""
        token = match.group()
        index = match.end()
        if kind == "space":
            out.append(token)
        elif kind == "comment":
            out.append("\n" * token.count("\n"))
        elif kind == "string":
            body = token[1:-1]
            after = re.compile(r"\s*[=:]").match(text, index)
            out.append(_comma(previous) + _json_string(body))
            previous = "key" if after else "string"
        elif kind == "number":
            out.append(_comma(previous) + token)
            previous = "number"
        elif kind == "word":
            after = re.compile(r"\s*[=:](?!=)").match(text, index)
            if after:
                out.append(_comma(previous) + _json_string(token))
                previous = "key"
            elif token in {"true", "false", "null"}:
                out.append(_comma(previous) + token)
                previous = "literal"
            else:
                end = _expression(text, match.start())
                unknown.append(text[match.start() : end].strip())
                out.append(_comma(previous) + "null")
                previous = "expr"
                index = end
        elif token in "=:":
            out.append(": ")
            previous = "colon"
        elif token == ",":
            out.append(",")
            previous = "comma"
        elif token in "{[":
            out.append(_comma(previous) + token)
            previous = "open"
        else:  # } ]
            if out and out[-1] == ",":
                out.pop()
            _drop_trailing_comma(out)
            out.append(token)
            previous = "close"
    return "".join(out), unknown


def _comma(previous: str) -> str:
    """A comma where HCL separates items by a line break alone."""
    return ", " if previous in _VALUE_END else ""


def _drop_trailing_comma(out: list[str]) -> None:
    for position in range(len(out) - 1, -1, -1):
        if out[position].strip() == "":
            continue
        if out[position].rstrip().endswith(","):
            out[position] = out[position].rstrip()[:-1]
        return


_INTERPOLATION = re.compile(r"\$\{[^}]*\}")


def _quoted_inside(text: str) -> str:
    """Quotes inside `${...}` escaped, so the string stays one JSON string."""
    return _INTERPOLATION.sub(lambda m: m.group().replace('"', '\\"'), text)


def _json_string(body: str) -> str:
    """An HCL string body as a JSON string (`${...}` kept as text)."""
    return '"' + _quoted_inside(body).replace("\t", "\\t") + '"'


_BARE_INTERPOLATION = re.compile(r'("(?:\$\{[^}]*\}|[^"\\]|\\.)*")|\$\{[^}]*\}')


def json_with_interpolations(text: str) -> str:
    """JSON from a heredoc or template, where `${...}` outside strings becomes null."""
    return _BARE_INTERPOLATION.sub(
        lambda m: _quoted_inside(m.group(1)) if m.group(1) else "null", text
    )
