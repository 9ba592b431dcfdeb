"""Tar archives as the engine sends them, for tests of the code that reads them."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator


def tar_of(name: str, data: bytes, fmt: int = tarfile.PAX_FORMAT, folder: bool = False) -> bytes:
    """A tar holding `name` with `data`; with `folder`, a `db` folder entry comes first."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        if folder:
            info = tarfile.TarInfo("db")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
