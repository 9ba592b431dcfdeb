"""Writing files: atomic and change-only for the files faktctl owns, in place for the paths a
person names, and every failure one line naming the path and the operation.

- `atomic_write` / `write_if_changed`: for files faktctl owns (spec, compose.yaml, .env,
  secrets, manifests). A temp file beside the target, fsync, rename: a crash never leaves a
  half-written file, and a reader sees the old or the new content.
- `write_output`: for a path the user names (`audit -o PATH`), written the way any tool writes
  there: `-` (and /dev/stdout, /dev/stderr) is the stream the process already has
  (`standard_stream`); a regular file (or a new one) is replaced atomically as above;
  anything else (a symbolic link, a device such as /dev/full, a FIFO) is opened and written
  in place, so the link, device or FIFO stays what it is. A missing parent folder is an
  error, never created.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from faktctl.errors import ExitCode, OperationFailed
from faktctl.secretvalue import SecretStr, matches

# what a file faktctl writes may hold: text, bytes, or a secret (.env, a password file, a
# Kubernetes secret), which becomes plain bytes only here, on its way to the disk
Content = str | bytes | SecretStr

# the path is the wrong kind of thing, or names a folder that is not there: the input is wrong
_BAD_INPUT = frozenset({errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.ENAMETOOLONG, errno.ELOOP})


class FileOperationFailed(OperationFailed):
    """A file could not be read, written or created. Exit 2 when the path itself is wrong (a
    folder where a file belongs, a missing folder), else 4 (permissions, a full disk)."""


def file_error(operation: str, path: Path | str, err: OSError) -> FileOperationFailed:
    """`cannot OPERATION PATH: reason` as an error with the right exit code."""
    reason = err.strerror or str(err)
    failure = FileOperationFailed(f"cannot {operation} {path}: {reason}")
    if err.errno in _BAD_INPUT:
        failure.exit_code = ExitCode.USAGE
    return failure


def _bytes(content: Content) -> bytes:
    if isinstance(content, SecretStr):
        return content.get_secret_value().encode()
    # a text may carry a path's bytes (a folder whose name is not UTF-8, decoded by Python
    # with surrogateescape): written back as those bytes, never an encoding error
    return content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content


def _mkstemp(prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
    import tempfile  # only when writing: reading commands (`status`) skip its imports

    return tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)


def atomic_write(path: Path, content: Content, mode: int = 0o644) -> None:
    """Write `content` to a temp file beside `path`, fsync it, then rename it over `path`."""
    data = _bytes(content)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise file_error("create the folder", path.parent, err) from None
    try:
        _replace(path, data, mode)
    except OSError as err:
        raise file_error("write", path, err) from None


def _write_temp(path: Path, data: bytes, mode: int) -> str:
    """A temp file beside `path` holding `data` with `mode`, on the disk (fsync): its name.
    On any failure it is removed again."""
    fd, tmp_name = _mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return tmp_name


def _replace(path: Path, data: bytes, mode: int) -> None:
    tmp_name = _write_temp(path, data, mode)
    try:
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_if_changed(path: Path, content: str | SecretStr, mode: int = 0o644) -> bool:
    """Write only when the content differs (or the mode is wrong). Returns True when written."""
    try:
        current: str | None = path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        current = None
    except OSError as err:
        raise file_error("read", path, err) from None
    if matches(current, content):
        if (path.stat().st_mode & 0o777) != mode:
            try:
                path.chmod(mode)
            except OSError as err:
                raise file_error("change the mode of", path, err) from None
        return False
    atomic_write(path, content, mode)
    return True


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) as a private folder: see `make_private`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    except OSError as err:
        raise file_error("create the folder", path, err) from None
    make_private(path)


def make_private(path: Path) -> None:
    """The one rule for a private folder faktctl writes into (secrets/, k8s/secrets/, the
    desired-state cache): a real folder, never a symbolic link (not followed, not chmodded),
    owned by this user; then made 0700. Checked on the opened folder, so a link swapped in
    meanwhile is refused too."""
    try:
        info = os.lstat(path)
    except OSError as err:
        raise file_error("use the folder", path, err) from None
    if stat.S_ISLNK(info.st_mode):
        raise FileOperationFailed(
            f"{path} is a symbolic link: faktctl keeps secrets only in a real folder of its "
            "own and never follows a link there (remove the link; faktctl creates the folder)"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as err:
        raise file_error("use the folder", path, err) from None
    try:
        opened = os.fstat(fd)
        if opened.st_uid != os.geteuid():
            raise FileOperationFailed(
                f"{path} belongs to another user (uid {opened.st_uid}): faktctl keeps secrets "
                "only in a folder it owns (remove it, or run as its owner)"
            )
        if stat.S_IMODE(opened.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    except OSError as err:
        raise file_error("change the mode of", path, err) from None
    finally:
        os.close(fd)


GITIGNORE = ".gitignore"


def _ignore_forms(entry: str) -> set[str]:
    """The lines of a .gitignore that already ignore `entry` (`/secrets/` is covered by
    `secrets/`, `secrets`, `/secrets`)."""
    bare = entry.strip().strip("/")
    return {entry.strip(), bare, f"/{bare}", f"{bare}/", f"/{bare}/"}


def gitignore_update(current: str | None, entries: tuple[str, ...]) -> tuple[str, list[str]]:
    """The one rule for a .gitignore faktctl wants lines in: never replace it, add the
    missing lines at its end. Returns the new text and the lines added (none: unchanged)."""
    text = current or ""
    present = {line.strip() for line in text.splitlines()}
    missing = [entry for entry in entries if not (_ignore_forms(entry) & present)]
    if not missing:
        return text, []
    prefix = text if not text or text.endswith("\n") else text + "\n"
    return prefix + "".join(f"{entry}\n" for entry in missing), missing


def read_gitignore(folder: Path) -> str | None:
    """The .gitignore in `folder` as text; None when there is none. Not UTF-8: an error, since
    faktctl would not know how to extend it."""
    path = folder / GITIGNORE
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise FileOperationFailed(
            f"cannot extend {path}: it is not UTF-8 text (add the lines yourself)"
        ) from None
    except OSError as err:
        raise file_error("read", path, err) from None


def add_to_gitignore(folder: Path, entries: tuple[str, ...]) -> list[str]:
    """Add the missing `entries` to `folder`/.gitignore (made when absent); the lines added."""
    text, added = gitignore_update(read_gitignore(folder), entries)
    if added:
        atomic_write(folder / GITIGNORE, text, _mode_of(_stat_or_none(folder / GITIGNORE)))
    return added


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


STANDARD_STREAMS = {
    "-": 1,
    "/dev/stdout": 1,
    "/dev/fd/1": 1,
    "/proc/self/fd/1": 1,
    "/dev/stderr": 2,
    "/dev/fd/2": 2,
    "/proc/self/fd/2": 2,
}


def standard_stream(path: Path | str) -> int | None:
    """1 or 2 when `path` names standard output or error (`-`, /dev/stdout, …): the caller
    writes to the stream it already has instead of reopening (and truncating) what it
    points at."""
    return STANDARD_STREAMS.get(str(path))


def write_output(path: Path, content: str | bytes) -> None:
    """Write to a path the user named (see the module's docstring); not for `-`."""
    data = content.encode() if isinstance(content, str) else content
    linked = path.is_symlink()
    try:
        info: os.stat_result | None = path.stat()  # through a link
    except FileNotFoundError:
        info = None  # missing, or a link to a file not there yet (written through the link)
    except OSError as err:
        raise file_error("write", path, err) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise file_error("write", path, IsADirectoryError(errno.EISDIR, "Is a folder"))
    if linked or (info is not None and not stat.S_ISREG(info.st_mode)):
        _write_in_place(path, data, truncate=info is None or stat.S_ISREG(info.st_mode))
        return
    if not path.parent.is_dir():
        missing = FileNotFoundError(errno.ENOENT, f"the folder {path.parent} does not exist")
        raise file_error("write", path, missing)
    try:
        _replace(path, data, _mode_of(info))
    except OSError as err:
        raise file_error("write", path, err) from None


def _mode_of(info: os.stat_result | None) -> int:
    if info is not None:
        return stat.S_IMODE(info.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_in_place(path: Path, data: bytes, *, truncate: bool) -> None:
    """Open and write through a link, or into a device or FIFO, as it is (no temp, no
    rename): the link, device or FIFO stays what it was."""
    flags = os.O_WRONLY | os.O_NOCTTY | (os.O_CREAT | os.O_TRUNC if truncate else 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as err:
        raise file_error("open", path, err) from None
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as err:
        raise file_error("write", path, err) from None
    finally:
        os.close(fd)


class StagedWrites:
    """Files written all or nothing: every content goes to a temp file beside its target
    first; only when all are written are they renamed into place, in the order added. A
    failure before that removes the temp files and the folders it created."""

    def __init__(self) -> None:
        self._staged: list[tuple[str, Path]] = []
        self._made: list[Path] = []

    def add(self, path: Path, content: str | bytes, mode: int = 0o644) -> None:
        self._folder(path.parent, private=False)
        self._stage(path, _bytes(content), mode)

    def add_private(self, path: Path, content: Content) -> None:
        """A secret: 0600 in a 0700 folder."""
        self._folder(path.parent, private=True)
        self._stage(path, _bytes(content), 0o600)

    def _folder(self, folder: Path, *, private: bool) -> None:
        missing = []
        for parent in (folder, *folder.parents):
            if parent.is_dir():
                break
            missing.append(parent)
        for parent in reversed(missing):
            try:
                parent.mkdir()
            except OSError as err:
                raise file_error("create the folder", parent, err) from None
            self._made.append(parent)
        if private:
            make_private(folder)

    def _stage(self, path: Path, data: bytes, mode: int) -> None:
        if path.is_dir():
            raise file_error("write", path, IsADirectoryError(errno.EISDIR, "Is a folder"))
        try:
            self._staged.append((_write_temp(path, data, mode), path))
        except OSError as err:
            raise file_error("write", path, err) from None

    def commit(self) -> None:
        for tmp_name, path in self._staged:
            try:
                os.replace(tmp_name, path)
            except OSError as err:
                raise file_error("write", path, err) from None
        self._staged.clear()
        self._made.clear()

    def rollback(self) -> None:
        for tmp_name, _ in self._staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        for folder in reversed(self._made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._staged.clear()
        self._made.clear()


@contextlib.contextmanager
def all_or_nothing() -> Iterator[StagedWrites]:
    """Stage writes in the block; they land together when it ends without an error."""
    staged = StagedWrites()
    try:
        yield staged
        staged.commit()
    except BaseException:
        staged.rollback()
        raise
