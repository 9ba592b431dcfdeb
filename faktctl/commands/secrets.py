"""faktctl secrets provision: make the password files of an existing spec exist on this host.

A fresh clone has the spec but not its secrets (they are git-ignored). This generates the
missing ones, or takes a value that exists elsewhere (the CI's secret store, another host) from
stdin, an environment variable or a file. Files are written 0600 in a 0700 folder, values are
never printed, existing files are left alone unless --force.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from faktctl import ui
from faktctl.errors import UsageError
from faktctl.project import load
from faktctl.secretfiles import provision_secret, secret_from_bytes, spec_secret_files
from faktctl.secretvalue import SecretStr

WHICH = ("server", "dashboard")


def _given(from_stdin: bool, from_env: str | None, from_file: Path | None) -> SecretStr | None:
    sources = sum((from_stdin, from_env is not None, from_file is not None))
    if sources > 1:
        raise UsageError("give one of --from-stdin, --from-env and --from-file")
    if from_stdin:
        if sys.stdin.isatty():
            raise UsageError(
                "--from-stdin reads a pipe, not a terminal",
                "printf '%s' \"$SECRET\" | faktctl secrets provision --from-stdin",
            )
        return secret_from_bytes(sys.stdin.buffer.read(4097), "the value on stdin")
    if from_env is not None:
        raw = os.environ.get(from_env)
        if raw is None or raw == "":
            raise UsageError(f"the environment variable {from_env} is not set or empty")
        return secret_from_bytes(raw.encode("utf-8", "surrogateescape"), f"${from_env}")
    if from_file is not None:
        from faktctl.secretfiles import secret_from_file

        return secret_from_file(from_file)
    return None


def run(
    file: Path | None,
    *,
    which: str,
    from_stdin: bool,
    from_env: str | None,
    from_file: Path | None,
    force: bool,
) -> None:
    if which not in WHICH:
        raise UsageError(f"unknown secret `{which}`", f"use one of {', '.join(WHICH)}")
    loaded = load(file)
    files = spec_secret_files(loaded)
    if which not in {name for name, _, _ in files}:
        raise UsageError(
            f"the spec names no {which} password file",
            "set server.dashboard_password_file in the spec first",
        )
    value = _given(from_stdin, from_env, from_file)
    for name, path, field in files:
        what = "password" if name == "server" else "dashboard password"
        given = value if name == which else None
        state = provision_secret(loaded, path, what, field, given, force and name == which)
        shown = _shown(path, loaded.base_dir)
        ui.info(f"{shown}: {_SAY[state]}")


_SAY = {
    "generated": "generated (0600; not shown)",
    "written": "written from the given value (0600; not shown)",
    "unchanged": "already holds the given value",
    "kept": "exists, left as it is (--force replaces it)",
}


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
