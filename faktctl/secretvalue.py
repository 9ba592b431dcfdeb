"""What faktctl does with a secret between reading it and handing it to an edge, without
holding it as a plain `str`.

A password is a `SecretStr` from the moment `secretfiles` reads it. Only the edges where it
must become plain text unwrap it (tests/unit/test_secret_edges.py holds the list): the .env
writer, the files faktctl owns (fsutil), the engine and swarm adapters, the Faktory protocol,
restic, and the audit, which judges the value itself. Everything else works through this
module, whose results are a fingerprint, a redacted text, or another `SecretStr`:

- `fingerprint`: a digest that changes when the secret does (config hashes, swarm secret
  names); never the value;
- `derived`: a new secret made from the value (the server URL, the conf.d TOML, a file's line);
- `redact`: a text with every known secret and any password in a Faktory URL hidden;
- `matches`: whether a text equals a value that may be secret (drift checks).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Final

REDACTED = "<redacted>"


class SecretStr:
    """A text that never shows itself: repr and str are masked, and only `get_secret_value`
    gives the value. faktctl's own class rather than pydantic's, so that the commands that run
    most often (`status`) need not import pydantic at all; it behaves like pydantic's (equal
    when the values are equal, hashable, has a length)."""

    __slots__ = ("_value",)
    MASK: Final = "**********"

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret holds a str, not {type(value).__name__}")
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretStr('{self.MASK if self._value else ''}')"

    def __str__(self) -> str:
        return self.MASK if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __copy__(self) -> SecretStr:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> SecretStr:
        return self

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a secret is not pickled")


# a URL's authority runs from `//` to the first `/`, `?`, `#` (or a blank); its userinfo ends
# at the LAST `@` in it, as URL parsers (Go's, restic's) read it: a password may hold `@`
_URL_AUTHORITY = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<authority>[^/?#\s]*)", re.I)


def _authority_hidden(match: re.Match[str]) -> str:
    _, at, host = match["authority"].rpartition("@")
    return match["scheme"] + (f"***@{host}" if at else host)


def hide_url_userinfo(text: str) -> str:
    """`text` with the `user:password@` of every URL in it shown as `***@` (a restic
    repository, a proxy's upstream, a webhook); the one rule for credentials written into a
    URL, read as a URL parser reads them (the last `@` of the authority)."""
    return _URL_AUTHORITY.sub(_authority_hidden, text)


_URL_PASSWORD = re.compile(r"(tcp(?:\+tls)?://[^:@/\s]*:)([^/?#\s]*)(@)")


def fingerprint(secret: SecretStr, length: int = 64) -> str:
    """The first `length` hex digits of the value's SHA-256."""
    return hashlib.sha256(secret.get_secret_value().encode()).hexdigest()[:length]


def salted_fingerprint(secret: SecretStr, salt: str) -> str:
    """SHA-256 of `salt` and the value: a fingerprint kept on disk
    (faktctl.platforms.engine.cache), where
    a salt of its own per file spares it from tables of precomputed hashes."""
    return hashlib.sha256(f"{salt}\0{secret.get_secret_value()}".encode()).hexdigest()


def derived(secret: SecretStr, make: Callable[[str], str]) -> SecretStr:
    """`make(value)`, kept secret: for text that carries the value (a URL, a config file)."""
    return SecretStr(make(secret.get_secret_value()))


def as_line(secret: SecretStr) -> SecretStr:
    """The value followed by a newline: the content of a one-line secret file."""
    return derived(secret, lambda value: value + "\n")


def redact(text: str, secrets: Iterable[SecretStr]) -> str:
    """Hide known secrets and any password inside a Faktory URL (e.g. an old one on disk)."""
    for secret in secrets:
        value = secret.get_secret_value()
        if value:
            text = text.replace(value, REDACTED)
    return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<3>", text)


_KEYED_LINE = re.compile(r"^(\s*[A-Za-z_][\w.-]*\s*[=:]\s*)")


def _value_hidden(line: str) -> str:
    """A line of a secret-bearing file with its value hidden: `KEY=` / `key:` / `key =`
    kept, the rest redacted; a line with no key (a password file's one line) wholly."""
    keyed = _KEYED_LINE.match(line)
    return (keyed[1] if keyed else "") + REDACTED


def secret_file_pair(
    current: str, wanted: str | SecretStr, secrets: Iterable[SecretStr]
) -> tuple[str, str]:
    """The two versions of a secret-bearing file (.env, a password file, a Kubernetes secret
    file, conf.d TOML) as they may be shown side by side (a drift diff): the one redaction
    for such files. The file on disk may hold values faktctl no longer knows (the password
    before a rotation), so a line that is not the same in both versions shows its value only
    when it belongs to a key (`KEY=`, `key:`) whose rendered value holds no secret; any other
    such line shows its key alone, a line without a key (a password file's) nothing of it.
    Lines both versions share are shown with the known secrets and URL passwords redacted."""
    plain = wanted.get_secret_value() if isinstance(wanted, SecretStr) else wanted
    secrets = tuple(secrets)
    old_lines, new_lines = current.splitlines(keepends=True), plain.splitlines(keepends=True)
    shared = set(old_lines) & set(new_lines)
    public_keys = set()
    for line in new_lines:
        keyed = _KEYED_LINE.match(line)
        if keyed and redact(line, secrets) == line:
            public_keys.add(keyed[1].strip())

    def shown_lines(lines: list[str]) -> str:
        out = []
        for line in lines:
            ending = line[len(line.rstrip("\r\n")) :]
            body = line[: len(line) - len(ending)]
            keyed = _KEYED_LINE.match(body)
            public = keyed is not None and keyed[1].strip() in public_keys
            out.append((body if line in shared or public else _value_hidden(body)) + ending)
        return redact("".join(out), secrets)

    return shown_lines(old_lines), shown_lines(new_lines)


def matches(text: str | None, wanted: str | SecretStr) -> bool:
    """True when `text` (e.g. a file's current content) is exactly `wanted`."""
    if isinstance(wanted, SecretStr):
        return text == wanted.get_secret_value()
    return text == wanted


def shown(text: str | SecretStr, secrets: Iterable[SecretStr]) -> str:
    """`text` (which may be secret, like the .env text) with `secrets` redacted in it."""
    plain = text.get_secret_value() if isinstance(text, SecretStr) else text
    return redact(plain, secrets)
