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

from pydantic import SecretStr

REDACTED = "<redacted>"

_URL_PASSWORD = re.compile(r"(tcp(?:\+tls)?://[^:@/\s]*:)([^@\s]+)(@)")


def fingerprint(secret: SecretStr, length: int = 64) -> str:
    """The first `length` hex digits of the value's SHA-256."""
    return hashlib.sha256(secret.get_secret_value().encode()).hexdigest()[:length]


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


def matches(text: str | None, wanted: str | SecretStr) -> bool:
    """True when `text` (e.g. a file's current content) is exactly `wanted`."""
    if isinstance(wanted, SecretStr):
        return text == wanted.get_secret_value()
    return text == wanted


def shown(text: str | SecretStr, secrets: Iterable[SecretStr]) -> str:
    """`text` (which may be secret, like the .env text) with `secrets` redacted in it."""
    plain = text.get_secret_value() if isinstance(text, SecretStr) else text
    return redact(plain, secrets)
