"""Atomic, change-only file writes: a crash never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    """Write `content` to a temp file beside `path`, fsync it, then rename it over `path`."""
    data = content.encode() if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_if_changed(path: Path, content: str, mode: int = 0o644) -> bool:
    """Write only when the content differs (or the mode is wrong). Returns True when written."""
    try:
        current = path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        current = None
    if current == content:
        if (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
        return False
    atomic_write(path, content, mode)
    return True


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make the leaf 0700."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
