"""The engine's archive format: one file as a tar stream, read and written without a copy.

The engine's archive endpoints (GET and PUT /containers/{id}/archive) speak tar; faktctl only
ever moves one file at a time, so reading means "skip the headers, pass the bytes through" and
writing means "one header, the bytes, padding". Pure apart from the iterators it is handed.
"""

from __future__ import annotations

import contextlib
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from faktctl.errors import OperationFailed

BLOCK = 512


class StreamError(OperationFailed):
    """A byte stream did not have the shape it should (bad tar, truncated gzip, wrong size)."""


# --- reading one file out of a tar stream -----------------------------------------------------


class _Chunks:
    """An iterator of byte chunks read exactly, without copying the large parts."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._source = iter(chunks)
        self._view = memoryview(b"")

    def _refill(self) -> bool:
        for chunk in self._source:
            if chunk:
                self._view = memoryview(chunk)
                return True
        return False

    def take(self, size: int) -> bytes:
        """Exactly `size` bytes (for headers); StreamError if the stream ends first."""
        parts = b"".join(bytes(part) for part in self.pieces(size))
        if len(parts) != size:
            raise StreamError("the archive from the engine ended early")
        return parts

    def pieces(self, size: int) -> Iterator[memoryview]:
        """Up to `size` bytes as views into the received chunks."""
        left = size
        while left > 0:
            if not self._view and not self._refill():
                return
            piece = self._view[:left]
            self._view = self._view[len(piece) :]
            left -= len(piece)
            yield piece

    def skip(self, size: int) -> None:
        for _ in self.pieces(size):
            pass


@dataclass(frozen=True)
class TarMember:
    name: str
    size: int
    mode: int


def _padding(size: int) -> int:
    return -size % BLOCK


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        length_text, _, _ = data[position:].partition(b" ")
        try:
            length = int(length_text)
        except ValueError:
            raise StreamError("the archive from the engine has a bad pax header") from None
        record = data[position + len(length_text) + 1 : position + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        position += length
    return records


def read_single_file(chunks: Iterable[bytes]) -> tuple[TarMember, Iterator[memoryview]]:
    """The first regular file of a tar stream: its header and an iterator over its bytes.

    Handles pax and GNU long-name headers; refuses directories, links and devices.
    """
    stream = _Chunks(chunks)
    overrides: dict[str, str] = {}
    while True:
        header = stream.take(BLOCK)
        if header == bytes(BLOCK):
            raise StreamError("the archive from the engine holds no file")
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        except tarfile.HeaderError as err:
            raise StreamError(f"the archive from the engine is not a tar stream ({err})") from None
        if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE):
            records = stream.take(info.size + _padding(info.size))[: info.size]
            overrides.update(_pax_records(records))
            continue
        if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
            name = stream.take(info.size + _padding(info.size))[: info.size]
            overrides["path"] = name.rstrip(b"\0").decode("utf-8", "replace")
            continue
        if info.type not in tarfile.REGULAR_TYPES:
            raise StreamError(f"{info.name} is not a regular file in the container")
        size = int(overrides.get("size", info.size))
        member = TarMember(overrides.get("path", info.name), size, info.mode)
        return member, _exactly(stream, size, member.name)


def _exactly(stream: _Chunks, size: int, name: str) -> Iterator[memoryview]:
    received = 0
    for piece in stream.pieces(size):
        received += len(piece)
        yield piece
    if received != size:
        raise StreamError(f"{name} arrived truncated ({received} of {size} bytes)")


# --- writing one file as a tar stream ---------------------------------------------------------


def _header(name: str, size: int, mode: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.type = kind
    info.mtime = int(time.time())
    info.uname = info.gname = "root"
    return info.tobuf(format=tarfile.GNU_FORMAT, encoding="utf-8", errors="strict")


def tar_single_file(
    name: str,
    size: int,
    content: Iterable[bytes],
    mode: int = 0o644,
    folders: Iterable[str] = (),
) -> Iterator[bytes]:
    """A tar stream holding `folders` (as directory entries) and one file of exactly `size` bytes.

    Raises StreamError, before the archive is complete, if `content` has another length, so
    the receiver sees a broken archive rather than a plausible short file.
    """
    for folder in folders:
        yield _header(folder.rstrip("/") + "/", 0, 0o755, tarfile.DIRTYPE)
    yield _header(name, size, mode)
    sent = 0
    for piece in content:
        sent += len(piece)
        if sent > size:
            raise StreamError(f"{name} is longer than the {size} bytes announced")
        yield piece
    if sent != size:
        raise StreamError(f"{name} is shorter ({sent} bytes) than the {size} bytes announced")
    yield bytes(_padding(size) + 2 * BLOCK)


@contextlib.contextmanager
def closing_iter(iterator: Iterator[bytes]) -> Iterator[Iterator[bytes]]:
    """Close a generator (and the connection behind it) even when the consumer stops early."""
    try:
        yield iterator
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
