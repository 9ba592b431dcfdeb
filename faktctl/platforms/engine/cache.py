"""The desired state derived from a spec, remembered between runs (`up` and `status` write it).

`status` is what people and scripts run most. Loading a spec means importing pydantic and
building the spec model (about 0.12 s of CPU, most of what `status` costs); when nothing the
desired state is derived from has changed, `status` and `down` take it from here instead.

An entry is keyed by all of that:
- the spec file: its absolute path and the SHA-256 of the exact text that was validated;
- the secret values the desired state carries: they are never written here, each is stored as
  its fingerprint (salted, a salt per entry) and found again, on a hit, among the values read
  from the secret files anew (the server password, and the dashboard password when the spec
  names one); a value it cannot find (the password changed) makes the entry a miss;
- the code that derived it: the path, size and modification time of every faktctl module
  loaded when it was written, and of the installed pydantic and PyYAML packages.
Anything else (another version of the format, an entry that is not a regular file of this
user's, too large, or unreadable JSON) is a miss, and the caller loads the spec as always.

Entries live in `$FAKTCTL_CACHE_DIR/desired/` (set but empty turns the cache off), else
`$XDG_CACHE_HOME/faktctl/desired/`, else `~/.cache/faktctl/desired/`, one per spec path,
in a 0700 folder, written 0600 through a temp file and a rename. Writing one never fails a
command: the cache only saves time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faktctl import desired as desired_module
from faktctl.desired import Desired, faktory_url
from faktctl.errors import FaktctlError
from faktctl.secretvalue import SecretStr, salted_fingerprint

if TYPE_CHECKING:
    from faktctl.project import Project

FORMAT = 1
MAX_ENTRY_BYTES = 8 * 1024 * 1024
MAX_ENTRIES = 64  # the least recently written go first; an entry whose spec is gone goes too
# packages whose code shapes a validated spec besides faktctl's own modules
_LIBRARIES = ("pydantic", "pydantic_core", "yaml")
# every class a desired state is made of; anything else in an entry makes it a miss
_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        desired_module.Mount,
        desired_module.Publish,
        desired_module.Healthcheck,
        desired_module.SecretEnv,
        desired_module.BuildRequest,
        desired_module.ServiceRequest,
        desired_module.VolumeRequest,
        desired_module.SecretFile,
        desired_module.SwarmWorkerSettings,
        desired_module.SwarmSettings,
        desired_module.KubernetesSettings,
        desired_module.AuditIgnore,
        desired_module.TlsSetup,
        Desired,
    )
}


class Miss(Exception):
    """The entry cannot stand in for loading the spec."""


@dataclass(frozen=True)
class Remembered:
    desired: Desired
    password: SecretStr


# --- where entries live ----------------------------------------------------------------------


CACHE_DIR_VAR = "FAKTCTL_CACHE_DIR"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """$FAKTCTL_CACHE_DIR (set but empty: no cache), else $XDG_CACHE_HOME/faktctl, else
    ~/.cache/faktctl; `desired/` inside it. None when there is no such absolute folder."""
    env = os.environ if environ is None else environ
    if CACHE_DIR_VAR in env:
        chosen = env[CACHE_DIR_VAR]
        return Path(chosen) / "desired" if os.path.isabs(chosen) else None
    base = env.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):
        home = env.get("HOME") or ""
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "faktctl" / "desired"


def entry_path(spec_path: Path) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    # the path's own bytes (os.fsencode): a folder name need not be UTF-8
    return folder / (hashlib.sha256(os.fsencode(spec_path.absolute())).hexdigest()[:32] + ".json")


# --- the key: code stamps --------------------------------------------------------------------


def _stamp(path: str) -> list[Any]:
    info = os.stat(path)
    return [path, info.st_size, info.st_mtime_ns]


def code_stamps() -> list[list[Any]]:
    """The files of the code loaded now that a desired state depends on."""
    files: set[str] = set()
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        origin = getattr(module, "__file__", None)
        if not origin:
            continue
        if top == "faktctl" or (top in _LIBRARIES and name == top):
            files.add(origin)
    return [_stamp(path) for path in sorted(files)]


def _stamps_hold(stamps: Any) -> bool:
    if not isinstance(stamps, list) or not stamps:
        return False
    try:
        return all(_stamp(str(entry[0])) == entry for entry in stamps)
    except (OSError, IndexError, TypeError):
        return False


# --- desired state <-> JSON, secrets as fingerprints --------------------------------------------


def encode(value: Any, salt: str) -> Any:
    if isinstance(value, SecretStr):
        return {"$secret": salted_fingerprint(value, salt)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), salt) for f in dataclasses.fields(value)}
        return {"$class": type(value).__name__, "fields": fields}
    if isinstance(value, (tuple, list)):
        return [encode(item, salt) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot remember a {type(value).__name__}")


def decode(value: Any, secrets: dict[str, SecretStr]) -> Any:
    if isinstance(value, list):
        return tuple(decode(item, secrets) for item in value)
    if not isinstance(value, dict):
        return value
    if "$secret" in value:
        found = secrets.get(str(value["$secret"]))
        if found is None:
            raise Miss("a secret value changed")
        return found
    cls = _CLASSES.get(str(value.get("$class")))
    fields = value.get("fields")
    if cls is None or not isinstance(fields, dict):
        raise Miss("an unknown shape")
    try:
        return cls(**{name: decode(item, secrets) for name, item in fields.items()})
    except TypeError as err:  # a field added or removed since the entry was written
        raise Miss(str(err)) from None


def candidate_secrets(
    project: str, password: SecretStr, dashboard: SecretStr | None, salt: str
) -> dict[str, SecretStr]:
    """Every secret value a desired state of `project` can hold, by salted fingerprint."""
    values = [password, faktory_url(password), faktory_url(password, tls=True), SecretStr(project)]
    if dashboard is not None:
        values.append(dashboard)
    return {salted_fingerprint(value, salt): value for value in values}


# --- reading and writing entries -------------------------------------------------------------


def _read_entry(path: Path) -> dict[str, Any]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as err:
        raise Miss(str(err)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise Miss("not a regular file of this user's")
        if info.st_mode & 0o022 or info.st_size > MAX_ENTRY_BYTES:
            raise Miss("writable by others, or too large")
        data = os.read(fd, MAX_ENTRY_BYTES + 1)
    finally:
        os.close(fd)
    try:
        entry = json.loads(data)
    except ValueError:
        raise Miss("not JSON") from None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        raise Miss("another format")
    return entry


def lookup(spec_path: Path) -> Remembered | None:
    """The remembered desired state of the spec at `spec_path` and the server password read
    anew, or None (load the spec)."""
    from faktctl.safeyaml import read_text
    from faktctl.secretfiles import read_secret

    path = entry_path(spec_path)
    if path is None:
        return None
    try:
        entry = _read_entry(path)
        if entry.get("spec") != str(spec_path.absolute()):
            return None
        text = read_text(spec_path, spec_path.name, what="spec file")
        if entry.get("spec_sha256") != hashlib.sha256(text.encode()).hexdigest():
            return None
        if not _stamps_hold(entry.get("code")):
            return None
        base = spec_path.absolute().parent
        password = read_secret(
            Path(entry["password_file"]), "password", "server.password_file", inside=base
        )
        dashboard_file = entry.get("dashboard_password_file")
        dashboard = (
            read_secret(
                Path(dashboard_file),
                "dashboard password",
                "server.dashboard_password_file",
                inside=base,
            )
            if dashboard_file
            else None
        )
        salt = str(entry["salt"])
        secrets = candidate_secrets(str(entry["project"]), password, dashboard, salt)
        desired = decode(entry["desired"], secrets)
    except (Miss, FaktctlError, OSError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(desired, Desired):
        return None
    return Remembered(desired, password)


def remember(project: Project) -> None:
    """Write the entry for a project of the engine platform just loaded from its spec (only
    that platform calls it, so an entry always means that platform); silent when it cannot."""
    import secrets

    from faktctl.fsutil import atomic_write, ensure_private_dir
    from faktctl.secretfiles import dashboard_password_path, password_path

    loaded = project.loaded
    path = entry_path(loaded.path)
    if path is None or not loaded.source_sha256:
        return
    dashboard_file = dashboard_password_path(loaded)
    salt = secrets.token_hex(16)
    entry = {
        "format": FORMAT,
        "spec": str(loaded.path.absolute()),
        "spec_sha256": loaded.source_sha256,
        "project": project.desired.project,
        "password_file": str(password_path(loaded).absolute()),
        "dashboard_password_file": str(dashboard_file.absolute()) if dashboard_file else None,
        "code": code_stamps(),
        "salt": salt,
        "desired": encode(project.desired, salt),
    }
    try:
        ensure_private_dir(path.parent)
        atomic_write(path, json.dumps(entry, separators=(",", ":")), mode=0o600)
        prune(path.parent, keep=path)
    except (FaktctlError, OSError):
        pass


def prune(folder: Path, keep: Path) -> list[str]:
    """Remove the entries whose spec file is gone, then the least recently written beyond
    MAX_ENTRIES; `keep` (just written) stays. Only regular files of this user named like an
    entry are touched: a link or anything else in the folder is neither followed nor removed.
    The names removed."""
    entries: list[tuple[float, str]] = []
    with os.scandir(folder) as found:
        for item in found:
            if not item.name.endswith(".json") or item.name == keep.name:
                continue
            info = item.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                entries.append((info.st_mtime, item.name))
    removed = []
    entries.sort()
    for position, (_, name) in enumerate(entries):
        beyond = len(entries) - position >= MAX_ENTRIES  # `keep` counts as one
        if beyond or _spec_gone(folder / name):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)  # unlink never follows a link
                removed.append(name)
    return removed


def _spec_gone(path: Path) -> bool:
    try:
        spec = _read_entry(path).get("spec")
    except Miss:
        return False  # not ours to judge: left alone, the bound removes it in time
    return isinstance(spec, str) and not os.path.lexists(spec)
