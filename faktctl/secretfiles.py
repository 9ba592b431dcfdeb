"""The password files: generate, read and check them. Values stay SecretStr outside this module."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl.errors import UsageError
from faktctl.fsutil import atomic_write, ensure_private_dir, write_if_changed
from faktctl.secretvalue import SecretStr, as_line, derived

if TYPE_CHECKING:
    from faktctl.spec.load import LoadedSpec

PASSWORD_BYTES = 32  # token_urlsafe(32) gives 43 characters
MIN_PASSWORD_LENGTH = 16
MAX_SECRET_BYTES = 4096  # a password file is one line; anything bigger is the wrong file


def generate_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(PASSWORD_BYTES))


def write_secret(path: Path, value: SecretStr) -> None:
    """Write a secret 0600 inside a 0700 folder."""
    ensure_private_dir(path.parent)
    atomic_write(path, as_line(value), mode=0o600)


def read_secret(path: Path, what: str, spec_field: str, *, inside: Path | None = None) -> SecretStr:
    """Read a secret file under the rules every secret file faktctl reads follows.

    - a regular file: a folder, FIFO (which could block forever), device (`/dev/zero`) or
      socket is refused without reading from it;
    - symbolic links: a file named inside `inside` (the project folder) must still be inside
      it once links are followed. faktctl copies the value into .env and hands it to the
      server, so a link leaving the project (`secrets/faktory_password -> /etc/shadow`) would
      publish whatever it points at; links within the folder (a mounted Kubernetes secret's
      `..data/` links) work. A file named outside `inside` (or any file when `inside` is
      None) must not itself be a link;
    - at most MAX_SECRET_BYTES, UTF-8, one line (a trailing newline allowed), printable
      characters only; surrounding spaces are trimmed, as Faktory trims them.
    Anything else is a one-line UsageError (exit 2) naming the file.
    """
    shown = f"{what} file {path}"
    data = read_secret_bytes(path, shown, spec_field, inside=inside)
    return SecretStr(_one_line(data, shown))


def read_secret_bytes(
    path: Path, shown: str, spec_field: str = "", *, inside: Path | None = None
) -> bytes:
    """The bytes of a secret file under the file rules of `read_secret` (a regular file, at
    most MAX_SECRET_BYTES, a link only within `inside`), without the one-line rules: for the
    files other tools read as secrets (a kustomize secretGenerator's `files`)."""
    target = _followed(path, shown, inside)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise UsageError(
            f"{shown} does not exist",
            f"`faktctl secrets provision` creates it, or point {spec_field} at it"
            if spec_field
            else "",
        ) from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UsageError(
                f"{shown} is a symbolic link",
                "outside the project folder faktctl reads secret files only when they are "
                "plain files, not links",
            ) from None
        raise UsageError(f"cannot read {shown}: {err.strerror or err}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(
                f"{shown} is {_kind(info.st_mode)}, not a regular file",
                "a password file must be a plain file holding one line",
            )
        if info.st_size > MAX_SECRET_BYTES:
            raise UsageError(
                f"{shown} is {info.st_size} bytes; a password file holds at most "
                f"{MAX_SECRET_BYTES}",
                "is this the right file?",
            )
        data = os.read(fd, MAX_SECRET_BYTES + 1)
    except OSError as err:
        raise UsageError(f"cannot read {shown}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    return data


def _followed(path: Path, shown: str, inside: Path | None) -> Path:
    """The file to open for `path`: itself, or where its links lead when that is allowed.

    A path named inside the `inside` folder must really be inside it once every link is
    followed; any other path must not itself be a link (the open uses O_NOFOLLOW).
    """
    named = Path(os.path.normpath(path.absolute()))
    if inside is None:
        return named
    folder = Path(os.path.normpath(inside.absolute()))
    if not named.is_relative_to(folder):
        return named
    try:
        resolved = named.resolve(strict=True)
    except FileNotFoundError:
        return named  # the open reports it
    except (OSError, RuntimeError) as err:  # a loop of links
        raise UsageError(f"cannot read {shown}: {err}") from None
    real_folder = folder.resolve()
    if not resolved.is_relative_to(real_folder):
        raise UsageError(
            f"{shown} is a symbolic link to {resolved}, outside the project folder {real_folder}",
            "a link may point only inside the project folder; copy the secret there instead",
        )
    return resolved


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _one_line(data: bytes, shown: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{shown} is not UTF-8 text", "a password is one line of text") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if "\n" in text or "\r" in text:
        raise UsageError(
            f"{shown} holds more than one line", "a password file holds the password alone"
        )
    value = text.strip(" \t")
    if not value:
        raise UsageError(f"{shown} is empty", "put a strong password in it")
    if not value.isprintable():
        raise UsageError(
            f"{shown} holds control or other unprintable characters",
            "use printable characters only",
        )
    if value.startswith("/"):
        raise UsageError(
            f"{shown} holds a value that starts with `/`",
            "Faktory would read such a value as a file path; choose another password",
        )
    return value


def password_path(loaded: LoadedSpec) -> Path:
    return loaded.resolve(loaded.spec.server.password_file)


def dashboard_password_path(loaded: LoadedSpec) -> Path | None:
    field = loaded.spec.server.dashboard_password_file
    return None if field is None else loaded.resolve(field)


def read_server_password(loaded: LoadedSpec) -> SecretStr:
    return read_secret(
        password_path(loaded),
        "password",
        "server.password_file",
        inside=loaded.base_dir,
    )


def web_conf_text(password: SecretStr) -> SecretStr:
    """The conf.d TOML file that sets the dashboard password."""
    return derived(password, _web_conf)


def _web_conf(password: str) -> str:
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'# Generated by faktctl: the dashboard password.\n[web]\npassword = "{escaped}"\n'


def read_dashboard_password(loaded: LoadedSpec) -> SecretStr | None:
    """The separate dashboard password, or None when the spec names no file for it."""
    path = dashboard_password_path(loaded)
    if path is None:
        return None
    return read_secret(
        path,
        "dashboard password",
        "server.dashboard_password_file",
        inside=loaded.base_dir,
    )


def write_web_conf(loaded: LoadedSpec, target: Path) -> SecretStr | None:
    """Materialise the separate dashboard password as a conf.d TOML file (Faktory reads
    `[web] password` literally, not from a file path). Returns the password, or None."""
    password = read_dashboard_password(loaded)
    if password is None:
        return None
    ensure_private_dir(target.parent)
    write_if_changed(target, web_conf_text(password), mode=0o600)
    return password


def secret_from_bytes(data: bytes, shown: str) -> SecretStr:
    """A secret given on stdin, in a variable or a file, under the rules of a password file
    (one printable line, no leading `/`), and long enough to pass the audit's strength floor."""
    if len(data) > MAX_SECRET_BYTES:
        raise UsageError(f"{shown} is longer than {MAX_SECRET_BYTES} bytes", "is it the password?")
    value = _one_line(data, shown)
    if len(value) < MIN_PASSWORD_LENGTH:
        raise UsageError(
            f"{shown} has {len(value)} characters; a password needs at least {MIN_PASSWORD_LENGTH}",
            "generate one: leave the value out and faktctl generates a strong one",
        )
    return SecretStr(value)


def spec_secret_files(loaded: LoadedSpec) -> list[tuple[str, Path, str]]:
    """(name, path, spec field) of every password file the spec names."""
    files = [("server", password_path(loaded), "server.password_file")]
    dashboard = dashboard_password_path(loaded)
    if dashboard is not None:
        files.append(("dashboard", dashboard, "server.dashboard_password_file"))
    return files


def provision_secret(
    loaded: LoadedSpec, path: Path, what: str, field: str, value: SecretStr | None, force: bool
) -> str:
    """Make one password file the spec names exist: `value`, or a generated password when None.
    An existing valid file is left alone (a given value that differs needs `force`). Returns
    what happened: written, generated, unchanged or kept. Never prints the value."""
    exists = path.exists() or path.is_symlink()
    current: SecretStr | None = None
    if exists:
        try:
            current = read_secret(path, what, field, inside=loaded.base_dir)
        except UsageError:
            if not force:
                raise
    if current is not None and value is None and not force:
        return "kept"
    if current is not None and value is not None:
        if current == value:
            return "unchanged"
        if not force:
            raise UsageError(
                f"{what} file {path} already holds another password",
                "pass --force to replace it, then restart the server and update the workers",
            )
    write_secret(path, value if value is not None else generate_password())
    return "written" if value is not None else "generated"


def secret_from_file(path: Path) -> SecretStr:
    """A secret copied from another file, read under the password-file rules."""
    value = read_secret(path, "given", "--from-file")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise UsageError(
            f"--from-file {path} holds {len(value)} characters; a password needs at least "
            f"{MIN_PASSWORD_LENGTH}",
            "generate one: leave the value out and faktctl generates a strong one",
        )
    return value


# --- TLS files (spec: server.tls) ------------------------------------------------------------

MAX_PEM_BYTES = 64 * 1024  # a certificate chain or a key; anything bigger is the wrong file


def read_pem(path: Path, what: str, spec_field: str, *, inside: Path, private: bool) -> bytes:
    """Read a PEM file under the secret-file rules (a regular file, no link out of the project,
    small); a private key must also be closed to group and others (0600 or stricter)."""
    shown = f"{what} file {path}"
    target = _followed(path, shown, inside)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise UsageError(f"{shown} does not exist", f"create it, or fix {spec_field}") from None
    except OSError as err:
        raise UsageError(f"cannot read {shown}: {err.strerror or err}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{shown} is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > MAX_PEM_BYTES:
            raise UsageError(f"{shown} is {info.st_size} bytes; is this the right file?")
        if private and info.st_mode & 0o077:
            raise UsageError(
                f"{shown} is readable by others (mode {stat.S_IMODE(info.st_mode):04o})",
                f"chmod 600 {path}",
            )
        data = os.read(fd, MAX_PEM_BYTES + 1)
    except OSError as err:
        raise UsageError(f"cannot read {shown}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    if b"-----BEGIN " not in data:
        raise UsageError(f"{shown} is not PEM", "give a PEM file (-----BEGIN ...)")
    return data


def tls_file_digests(loaded: LoadedSpec) -> tuple[str, str]:
    """sha256 of the server's certificate and key, and of the workers' CA, as on disk now
    ("" for what cannot be read: `up` reads the files again and says what is wrong)."""
    import hashlib

    from faktctl.desired import tls_setup

    setup = tls_setup(loaded)
    if setup is None:
        return "", ""

    base = loaded.base_dir

    def digest(*files: tuple[str | None, bool]) -> str:
        hashed = hashlib.sha256()
        for name, private in files:
            if name is None:
                continue
            try:
                data = read_pem(Path(name), "TLS", "server.tls", inside=base, private=private)
            except UsageError:
                return ""
            hashed.update(data)
        return hashed.hexdigest()

    return digest((setup.cert, False), (setup.key, True)), digest((setup.ca, False))


def tls_file_contents(loaded: LoadedSpec) -> dict[str, SecretStr]:
    """The TLS files a deployment hands to its containers, by absolute host path: the server's
    certificate and key and the workers' CA (never the CA key), read under the same rules as
    `up` checks them. The platforms that cannot bind-mount a host file (a swarm's secrets, a
    Kubernetes Secret) carry these contents instead; empty when TLS is off."""
    from faktctl.desired import tls_setup

    setup = tls_setup(loaded)
    if setup is None:
        return {}
    files = [("TLS certificate", setup.cert, False), ("TLS key", setup.key, True)]
    if setup.ca is not None:
        files.append(("TLS CA", setup.ca, False))
    return {
        path: SecretStr(
            read_pem(
                Path(path), what, "server.tls", inside=loaded.base_dir, private=private
            ).decode("ascii", errors="replace")
        )
        for what, path, private in files
    }
