"""Byte plumbing for snapshots: the RDB check, and gzip in parallel blocks.

Pure apart from the file objects it is handed (the tar streams the engine's archive API speaks
are faktctl.adapters.docker.archive). Blocks are encoded in worker threads (zlib releases the GIL),
one gzip member per block, deflated or stored as the compression policy decides; the result is
an ordinary .gz file that `gunzip`, Python's gzip module and `faktctl restore` read alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import queue
import stat
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Literal

from faktctl.adapters.docker.archive import StreamError
from faktctl.ui import ByteProgress

BLOCK_SIZE = 4 << 20
# 16 KiB predicts a block's level-1 ratio within ~0.01 of 64 KiB on faktory.rdb, at a quarter of
# the cost: with 64 KiB, sampling was a tenth of the CPU of copying an incompressible snapshot.
SAMPLE_SIZE = 16 << 10
READ_SIZE = 1 << 20
# auto: a block is deflated only when a sample shrinks to this fraction or less. faktory.rdb is
# already LZF-compressed by Redis, so most blocks gain little and are stored as they are.
AUTO_WORTH_IT = 0.6
LEVELS = {"none": 0, "fast": 1, "best": 6}

Compression = Literal["auto", "fast", "best", "none"]
COMPRESSIONS: tuple[Compression, ...] = ("auto", "fast", "best", "none")

RDB_MAGIC = b"REDIS"
RDB_EOF = 0xFF  # the opcode before the 8-byte checksum that ends every RDB file


def checked_rdb(pieces: Iterable[memoryview]) -> Iterator[memoryview]:
    """Pass an RDB through, checking that it starts like one and ends with its EOF opcode.

    A snapshot cut short or not written by Redis fails here, before anything is kept.
    """
    head = b""
    tail = b""
    for piece in pieces:
        if len(head) < len(RDB_MAGIC):
            head += bytes(piece[: len(RDB_MAGIC) - len(head)])
        tail = (tail + bytes(piece[-9:]))[-9:]
        yield piece
    if head != RDB_MAGIC:
        raise StreamError("faktory.rdb from the server is not a Redis RDB file")
    if len(tail) < 9 or tail[0] != RDB_EOF:
        raise StreamError("faktory.rdb from the server is incomplete (no end-of-file marker)")


# --- gzip, written in parallel blocks ---------------------------------------------------------


@dataclass(frozen=True)
class Written:
    sha256: str
    size: int  # bytes written (compressed)
    raw_size: int  # bytes read (uncompressed)
    deflated_blocks: int
    stored_blocks: int


Views = list[memoryview]
# a gzip member as the pieces to write in order, deflated?, input bytes
Member = tuple[Sequence[bytes | memoryview], bool, int]

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # deflate, no name, no mtime, unix
_STORED_MAX = 0xFFFF


def _sample(views: Views) -> bytes:
    taken, size = [], 0
    for view in views:
        taken.append(view[: SAMPLE_SIZE - size])
        size += len(taken[-1])
        if size >= SAMPLE_SIZE:
            break
    return b"".join(taken)


def _level_for(views: Views, compression: Compression) -> int:
    if compression != "auto":
        return LEVELS[compression]
    sample = _sample(views)
    if sample and len(zlib.compress(sample, 1)) <= AUTO_WORTH_IT * len(sample):
        return LEVELS["fast"]
    return LEVELS["none"]


def _stored_member(views: Views) -> list[bytes | memoryview]:
    """A gzip member of stored deflate blocks (the bytes as they are, framed and CRC'd)."""
    raw = sum(len(v) for v in views)
    slices = [v[i : i + _STORED_MAX] for v in views for i in range(0, len(v), _STORED_MAX)]
    slices = [piece for piece in slices if piece] or [memoryview(b"")]
    parts: list[bytes | memoryview] = [_GZIP_HEADER]
    crc = 0
    for index, piece in enumerate(slices):
        length = len(piece)
        final = 1 if index == len(slices) - 1 else 0
        parts.append(struct.pack("<BHH", final, length, length ^ 0xFFFF))
        parts.append(piece)
        crc = zlib.crc32(piece, crc)
    parts.append(struct.pack("<II", crc, raw & 0xFFFFFFFF))
    # The pieces are views of the engine's chunks: written and hashed as they are, never copied.
    return parts


def _deflated_member(views: Views, level: int) -> list[bytes | memoryview]:
    encoder = zlib.compressobj(level, zlib.DEFLATED, 31)
    parts: list[bytes | memoryview] = [encoder.compress(view) for view in views]
    parts.append(encoder.flush())
    return parts


def encode_member(views: Views, compression: Compression) -> Member:
    """One block of input as one gzip member (runs in a worker thread)."""
    level = _level_for(views, compression)
    raw = sum(len(v) for v in views)
    if level == 0:
        return _stored_member(views), False, raw
    return _deflated_member(views, level), True, raw


def _group(pieces: Iterable[bytes | memoryview], block_size: int) -> Iterator[Views]:
    """Input views gathered into blocks of about `block_size` bytes (no copying)."""
    block: Views = []
    size = 0
    for piece in pieces:
        view = memoryview(piece).cast("B")
        while view:
            part = view[: block_size - size]
            view = view[len(part) :]
            block.append(part)
            size += len(part)
            if size >= block_size:
                yield block
                block, size = [], 0
    if block:
        yield block


class _Writer:
    """Writes members in input order; a second thread hashes each member while it is written,
    and a third asks the kernel to start writing it to disk (see `_start_writeback`)."""

    def __init__(self, out: BinaryIO, on_progress: ByteProgress | None) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = self.raw = self.deflated = self.stored = 0
        self.on_progress = on_progress
        self.fd = _writeback_fd(out)

    def write(
        self,
        member: Member,
        hasher: ThreadPoolExecutor | None = None,
        writeback: ThreadPoolExecutor | None = None,
    ) -> None:
        parts, deflated, raw = member
        hashed = hasher.submit(self._hash, parts) if hasher is not None else None
        for part in parts:
            self.out.write(part)
        if hashed is None:
            self._hash(parts)
        else:
            hashed.result()
        length = sum(len(part) for part in parts)
        if writeback is not None and self.fd is not None:
            self.out.flush()
            writeback.submit(_start_writeback, self.fd, self.size, length)
        self.size += length
        self.raw += raw
        self.deflated += deflated
        self.stored += not deflated
        if self.on_progress is not None:
            self.on_progress(self.raw)

    def _hash(self, parts: Sequence[bytes | memoryview]) -> None:
        for part in parts:
            self.digest.update(part)

    def drain(self, futures: queue.Queue[Future[Member] | None]) -> None:
        with (
            ThreadPoolExecutor(1, thread_name_prefix="faktctl-hash") as hasher,
            ThreadPoolExecutor(1, thread_name_prefix="faktctl-writeback") as writeback,
        ):
            while (future := futures.get()) is not None:
                self.write(future.result(), hasher, writeback)


def _writeback_fd(out: BinaryIO) -> int | None:
    """The file descriptor of a regular file at offset 0, which writeback hints apply to."""
    if not hasattr(os, "posix_fadvise"):
        return None
    try:
        fd = out.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        return fd if regular and out.tell() == 0 else None
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a just-written range to disk without waiting for it.

    Without this the whole snapshot sits dirty in the page cache until the final fsync, which
    then writes it all after the copy. On Linux, DONTNEED starts writeback of the dirty pages
    (and leaves them cached). It runs on its own thread: starting writeback costs the caller
    the time to submit the I/O, which the copy should not wait for. Only a hint: errors that
    matter surface in the fsync.
    """
    with contextlib.suppress(OSError):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _put(
    futures: queue.Queue[Future[Member] | None], item: Future[Member] | None, writer: Future[None]
) -> None:
    """Queue work for the writer; stop early (with its error) if the writer has failed."""
    while True:
        if writer.done():
            writer.result()
            raise StreamError("the snapshot writer stopped early")
        try:
            futures.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def gzip_to(
    pieces: Iterable[bytes | memoryview],
    out: BinaryIO,
    *,
    compression: Compression = "auto",
    on_progress: ByteProgress | None = None,
    block_size: int = BLOCK_SIZE,
    threads: int = 2,
) -> Written:
    """Compress a byte stream into `out` as gzip members of `block_size` input bytes each.

    Three stages overlap: this thread reads and groups the input, `threads` workers encode
    members, one writer thread writes and hashes them in order. At most about
    `threads + 3` blocks are held in memory. The sha256 is of the bytes written.
    """
    writer = _Writer(out, on_progress)
    futures: queue.Queue[Future[Member] | None] = queue.Queue(maxsize=threads + 1)
    with (
        ThreadPoolExecutor(threads, thread_name_prefix="faktctl-gzip") as encoders,
        ThreadPoolExecutor(1, thread_name_prefix="faktctl-write") as writing,
    ):
        drained = writing.submit(writer.drain, futures)
        try:
            for block in _group(pieces, block_size):
                _put(futures, encoders.submit(encode_member, block, compression), drained)
        except BaseException:
            with contextlib.suppress(Exception):
                _put(futures, None, drained)  # let the writer finish; the first error wins
            raise
        _put(futures, None, drained)
        drained.result()
    if writer.raw == 0:
        writer.write(encode_member([], "none"))
    return Written(
        writer.digest.hexdigest(), writer.size, writer.raw, writer.deflated, writer.stored
    )


# --- reading gzip back ------------------------------------------------------------------------


def gunzip(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress a gzip stream of one or more members; StreamError if it is cut short."""
    decoder = zlib.decompressobj(wbits=31)
    in_member = False
    for piece in pieces:
        data = piece
        while data:
            in_member = True
            try:
                out = decoder.decompress(data)
            except zlib.error as err:
                raise StreamError(f"the snapshot is not valid gzip data ({err})") from None
            if out:
                yield out
            if not decoder.eof:
                break
            data = decoder.unused_data
            decoder = zlib.decompressobj(wbits=31)
            in_member = False
    if in_member:
        raise StreamError("the snapshot's gzip data is truncated")


def read_blocks(handle: BinaryIO, size: int = READ_SIZE) -> Iterator[bytes]:
    while block := handle.read(size):
        yield block


def counted(pieces: Iterable[bytes], on_progress: ByteProgress | None) -> Iterator[bytes]:
    """Pass bytes through, reporting the running total."""
    total = 0
    for piece in pieces:
        total += len(piece)
        if on_progress is not None:
            on_progress(total)
        yield piece
