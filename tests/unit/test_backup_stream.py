"""Snapshot byte plumbing: tar in and out, parallel gzip, gunzip, RDB sanity checks."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator

import pytest

from faktctl.adapters.docker import archive as tar_format
from faktctl.backups import stream
from tests.support.tarballs import chunked, tar_of

RDB = b"REDIS0010" + os.urandom(300_000) + b"\xff" + os.urandom(8)


# --- reading a file out of a tar stream -------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 7, 512, 513, 65536, 10_000_000])
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_read_single_file_passes_the_bytes_through(chunk: int, fmt: int) -> None:
    data = os.urandom(70_000)
    member, pieces = tar_format.read_single_file(chunked(tar_of("faktory.rdb", data, fmt), chunk))
    assert member.name == "faktory.rdb"
    assert member.size == len(data)
    assert b"".join(bytes(p) for p in pieces) == data


def test_read_single_file_follows_long_names() -> None:
    name = "a" * 150 + "/faktory.rdb"
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        member, pieces = tar_format.read_single_file([tar_of(name, b"abc", fmt)])
        assert member.name == name
        assert b"".join(bytes(p) for p in pieces) == b"abc"


def test_read_single_file_refuses_a_folder() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("db")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    with pytest.raises(tar_format.StreamError, match="db is not a regular file"):
        tar_format.read_single_file([out.getvalue()])


def test_a_truncated_archive_is_an_error() -> None:
    whole = tar_of("faktory.rdb", os.urandom(10_000))
    _, pieces = tar_format.read_single_file([whole[:5000]])
    with pytest.raises(tar_format.StreamError, match="arrived truncated"):
        b"".join(bytes(p) for p in pieces)
    with pytest.raises(tar_format.StreamError, match="ended early"):
        tar_format.read_single_file([whole[:100]])


def test_garbage_is_not_a_tar_stream() -> None:
    with pytest.raises(tar_format.StreamError, match="not a tar stream"):
        tar_format.read_single_file([os.urandom(1024)])
    with pytest.raises(tar_format.StreamError, match="holds no file"):
        tar_format.read_single_file([bytes(1024)])


# --- writing a file as a tar stream -----------------------------------------------------------


def test_tar_single_file_is_readable_by_tarfile() -> None:
    data = os.urandom(12_345)
    archive = b"".join(
        tar_format.tar_single_file("db/faktory.rdb", len(data), chunked(data, 1000), folders=["db"])
    )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
        extracted = tar.extractfile("db/faktory.rdb")
        assert extracted is not None
        assert extracted.read() == data
        assert tar.getmember("db").isdir()
    assert names == ["db", "db/faktory.rdb"]
    assert len(archive) % 512 == 0


@pytest.mark.parametrize("actual", [99, 101])
def test_tar_single_file_refuses_a_wrong_length(actual: int) -> None:
    with pytest.raises(tar_format.StreamError, match="announced"):
        b"".join(tar_format.tar_single_file("f", 100, [b"x" * actual]))


def test_tar_round_trip_through_both_directions() -> None:
    data = os.urandom(100_000)
    archive = b"".join(tar_format.tar_single_file("faktory.rdb", len(data), [data]))
    member, pieces = tar_format.read_single_file(chunked(archive, 4096))
    assert member.size == len(data)
    assert b"".join(bytes(p) for p in pieces) == data


# --- gzip -------------------------------------------------------------------------------------

SAMPLES = {
    "empty": b"",
    "one byte": b"x",
    "stored-block edge": os.urandom(65535),
    "stored-block edge + 1": os.urandom(65536),
    "random": os.urandom(3_000_000),
    "repetitive": b"order=42 status=pending " * 120_000,
}


@pytest.mark.parametrize("compression", stream.COMPRESSIONS)
@pytest.mark.parametrize("sample", list(SAMPLES))
@pytest.mark.parametrize("to_file", [False, True])
def test_gzip_to_writes_standard_gzip_and_hashes_it(
    compression: stream.Compression, sample: str, to_file: bool
) -> None:
    data = SAMPLES[sample]
    with tempfile.TemporaryFile() if to_file else io.BytesIO() as out:
        written = stream.gzip_to(
            chunked(data, 333_333), out, compression=compression, block_size=1 << 20
        )
        out.seek(0)
        stored = out.read()
    assert gzip.decompress(stored) == data
    assert b"".join(stream.gunzip(chunked(stored, 10_000))) == data
    assert written.sha256 == hashlib.sha256(stored).hexdigest()
    assert (written.size, written.raw_size) == (len(stored), len(data))


def test_disk_writeback_is_started_for_every_byte_of_a_real_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ranges: list[tuple[int, int]] = []
    monkeypatch.setattr(
        stream, "_start_writeback", lambda fd, start, size: ranges.append((start, size))
    )
    data = SAMPLES["random"] + SAMPLES["repetitive"]
    with tempfile.TemporaryFile() as out:
        written = stream.gzip_to(chunked(data, 100_000), out, block_size=1 << 20)
    covered = 0
    for start, size in ranges:
        assert start == covered
        covered += size
    assert (
        covered == written.size and len(ranges) == written.stored_blocks + written.deflated_blocks
    )


def test_no_writeback_hint_for_something_that_is_not_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ranges: list[tuple[int, int]] = []
    monkeypatch.setattr(
        stream, "_start_writeback", lambda fd, start, size: ranges.append((start, size))
    )
    stream.gzip_to([SAMPLES["random"]], io.BytesIO(), block_size=1 << 20)
    assert ranges == []


def test_auto_stores_incompressible_blocks_and_deflates_redundant_ones() -> None:
    random_out, text_out = io.BytesIO(), io.BytesIO()
    random = stream.gzip_to([SAMPLES["random"]], random_out, block_size=1 << 20)
    text = stream.gzip_to([SAMPLES["repetitive"]], text_out, block_size=1 << 20)
    assert (random.deflated_blocks, random.stored_blocks) == (0, 3)
    assert random.size < random.raw_size * 1.001 + 100
    assert text.stored_blocks == 0 and text.deflated_blocks == 3
    assert text.size < text.raw_size / 10


def test_gzip_to_reports_progress_in_input_bytes() -> None:
    seen: list[int] = []
    stream.gzip_to([b"a" * 3_000_000], io.BytesIO(), on_progress=seen.append, block_size=1 << 20)
    assert seen == [1 << 20, 2 << 20, 3_000_000]


class _FullDisk(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")


def test_a_write_error_stops_the_pipeline_with_that_error() -> None:
    endless = (os.urandom(1 << 20) for _ in range(1000))
    with pytest.raises(OSError, match="No space left"):
        stream.gzip_to(endless, _FullDisk(), block_size=1 << 20)  # type: ignore[arg-type]


def test_a_read_error_stops_the_pipeline_with_that_error() -> None:
    def failing() -> Iterator[bytes]:
        yield os.urandom(5 << 20)
        raise ConnectionResetError("engine went away")

    with pytest.raises(ConnectionResetError):
        stream.gzip_to(failing(), io.BytesIO(), block_size=1 << 20)


def test_gunzip_detects_truncation_and_garbage() -> None:
    stored = gzip.compress(os.urandom(100_000))
    with pytest.raises(tar_format.StreamError, match="truncated"):
        list(stream.gunzip([stored[:-20]]))
    with pytest.raises(tar_format.StreamError, match="not valid gzip"):
        list(stream.gunzip([b"not gzip at all"]))


# --- RDB sanity -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 4, 9, 4096, 1_000_000])
def test_checked_rdb_accepts_a_whole_rdb_in_any_chunking(size: int) -> None:
    views = [memoryview(c) for c in chunked(RDB, size)]
    assert b"".join(bytes(p) for p in stream.checked_rdb(views)) == RDB


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"NOTREDIS" + RDB[8:], "not a Redis RDB"),
        (RDB[:-1000], "incomplete"),
        (b"RED", "not a Redis RDB"),
    ],
)
def test_checked_rdb_refuses_what_is_not_a_whole_rdb(data: bytes, message: str) -> None:
    with pytest.raises(tar_format.StreamError, match=message):
        list(stream.checked_rdb([memoryview(data)]))
