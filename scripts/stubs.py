"""A release wheel's metadata before its download ends, so the compile resolves while the file
arrives (cache.py starts the download in the background).

A wheel is a zip: its directory is at the end of the file, and its ``.dist-info`` is written last
(PEP 427's recommended archiver features), so two or three HTTP range requests read its METADATA
and WHEEL from GitHub's storage host, as pip's and uv's lazy wheels do. A stub wheel of the same
name holding only those two files stands in for the release file in the resolver's inputs, in
build/release-stubs/: the resolver reads the metadata alone, and its hash of the stub is never
used (the lock gets the release file's own, lock.py). Once the whole file is fetched and
checked, its metadata must be the stub's byte for byte (``same``), or the compile stops.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import NotFound, UserError
from .files import atomic_writer

if TYPE_CHECKING:
    from .net import Download, Downloader

TAIL = 1 << 16  # bytes read from the end at first: a wheel's directory and .dist-info
MOST = 8 << 20  # the most read from one file: a .dist-info further from the end is not looked for
KEPT = ("METADATA", "WHEEL")  # what the resolvers read of a wheel (pip checks WHEEL's version)

Read = Callable[[int, int], "bytes | None"]  # bytes start..end (inclusive) of the file, or None


class NoRange(Exception):
    """The server did not answer a range as asked."""


class _Remote(io.RawIOBase):
    """A file of ``size`` bytes on a server, seekable, of which only the end is ever read: the
    bytes from ``start`` on are held, and a read before them fetches back to it (up to MOST)."""

    def __init__(self, read: Read, size: int) -> None:
        super().__init__()
        self.fetch, self.size, self.position = read, size, 0
        self.start, self.data = size, b""
        self._reach(max(0, size - TAIL))

    def _reach(self, start: int) -> None:
        if start >= self.start:
            return
        if self.size - start > MOST:
            raise NoRange(f"more than {MOST} bytes from the end")
        got = self.fetch(start, self.start - 1)
        if got is None or len(got) != self.start - start:
            raise NoRange("the server did not answer the range")
        self.start, self.data = start, got + self.data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.position < self.start:
            self._reach(max(0, min(self.position, self.start - TAIL)))
        chunk = self.data[self.position - self.start :][: len(buffer)]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def dist_info(archive: zipfile.ZipFile) -> dict[str, bytes]:
    """{path in the wheel: bytes} of the METADATA and WHEEL of its ``.dist-info`` (the first
    METADATA, as choose.wheel_requirements reads); KeyError when it has none."""
    metadata = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
    if metadata is None:
        raise KeyError("METADATA")
    folder = metadata.rsplit("/", 1)[0]
    return {f"{folder}/{name}": archive.read(f"{folder}/{name}") for name in KEPT}


def same(stub: Path, wheel: Path) -> bool:
    """Whether the fetched ``wheel`` has the metadata its ``stub`` gave the resolver."""
    try:
        with zipfile.ZipFile(stub) as made, zipfile.ZipFile(wheel) as fetched:
            return dist_info(made) == dist_info(fetched)
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def make(fetch: Downloader, downloads: Sequence[Download], size: int, stub: Path) -> bool:
    """Write ``stub`` from the first of ``downloads`` (the same file: public, then private) whose
    server answers ranges; False, writing nothing, where none does or the file is no wheel."""
    for download in downloads:
        try:
            with zipfile.ZipFile(_Remote(_reader(fetch, download), size)) as archive:
                found = dist_info(archive)
        except NotFound:
            continue
        except (NoRange, UserError, KeyError, EOFError, zipfile.BadZipFile):
            return False
        write(stub, found)
        return True
    return False


def write(stub: Path, found: dict[str, bytes]) -> None:
    """The stub wheel of ``found`` (``dist_info``), with the RECORD of its own files (a wheel
    has one; uv reads it when it unpacks a wheel for its cache)."""
    folder = next(iter(found)).rsplit("/", 1)[0]
    lines = [f"{name},sha256={_urlsafe(data)},{len(data)}\n" for name, data in found.items()]
    record = "".join(lines) + f"{folder}/RECORD,,\n"
    with atomic_writer(stub, "wb") as out, zipfile.ZipFile(out, "w") as made:
        for name, data in found.items():
            made.writestr(name, data)
        made.writestr(f"{folder}/RECORD", record)


def _urlsafe(data: bytes) -> str:
    """A RECORD file's hash: sha256, urlsafe base64 without padding (the wheel spec)."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _reader(fetch: Downloader, download: Download) -> Read:
    """``download``'s bytes start..end, by range requests."""
    return lambda start, end: fetch.read_range(download, start, end)
