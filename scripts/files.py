"""Writing files whole or not at all, and the sha256 records of downloaded files.

Everything the package writes goes through ``atomic_writer``: a temporary file beside the target,
renamed over it only when complete, so an interruption or a full disk never leaves half a file.

A file hashed once need not be read again while it is provably the file that was hashed: its
``Stamp`` (device, inode, size, modification and change times, in nanoseconds) is the same. The
change time (ctime) is the proof: the kernel sets it to the current time at every write, rename,
``chmod`` or ``os.utime`` of the file, and no call sets it to a chosen value, so a byte changed
in place with the size and modification time put back (``os.utime``) changes it; a copy (a CI
cache restored, ``cp -p``) is another inode. As git's index does, a stamp is taken only once
the file's ctime is older than the file system's clock, so a change in the same clock tick as
the one stamped cannot pass for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple

UMASK = os.umask(0)
os.umask(UMASK)


@contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    On any exception the temporary file is removed and ``path`` keeps its old content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600: give it the mode a new file gets
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see ``atomic_writer``)."""
    with atomic_writer(path) as handle:
        handle.write(text)


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sha256sums(path: Path) -> dict[str, str]:
    """Read a ``sha256sum``-style file (``<hex>  <file name>`` lines) into {file name: hex}."""
    if not path.is_file():
        return {}
    sums: dict[str, str] = {}
    for line in path.read_text().splitlines():
        hexdigest, _, name = line.partition("  ")
        if name and re.fullmatch(r"[0-9a-f]{64}", hexdigest):
            sums[name] = hexdigest
    return sums


def write_sha256sums(path: Path, sums: dict[str, str]) -> None:
    """Write {file name: hex} as a sorted ``sha256sum``-style file, atomically."""
    atomic_write_text(path, "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)))


class Stamp(NamedTuple):
    """What tells one version of a file from any other without reading it (see the docstring
    at the top)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path) -> Stamp:
        """The stamp of the file at ``path`` as it is now."""
        st = path.stat()
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


SETTLE_SECONDS = 2.5  # how long to wait for a file system clock tick (FAT's is 2 s)


def settled_stamp(path: Path) -> Stamp | None:
    """The stamp of ``path`` once its ctime is older than the file system's clock (a file made
    in the folder now shows that clock); None if the clock never passes it (a ctime in the
    future: that file is simply hashed again next time)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with tempfile.TemporaryFile(dir=path.parent) as probe:
            now = os.fstat(probe.fileno()).st_ctime_ns
        stamp = Stamp.of(path)
        if stamp.ctime_ns < now:
            return stamp
        if time.monotonic() > deadline:
            return None
        time.sleep(0.001)  # a tick is 1 to 10 ms on Linux's file systems


def read_stamps(path: Path) -> dict[str, tuple[str, Stamp]]:
    """{file name: (sha256, stamp)} as ``write_stamps`` wrote them; a missing or garbled record
    holds nothing (every file is then hashed again)."""
    try:
        data = json.loads(path.read_text())
        return {
            str(name): (str(sha256), Stamp(*map(int, stamp)))
            for name, (sha256, stamp) in data.items()
            if re.fullmatch(r"[0-9a-f]{64}", str(sha256))
        }
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def write_stamps(path: Path, stamps: Mapping[str, tuple[str, Stamp]]) -> None:
    """Write {file name: (sha256, stamp)} atomically."""
    data = {name: [sha256, list(stamp)] for name, (sha256, stamp) in sorted(stamps.items())}
    atomic_write_text(path, json.dumps(data, indent=0) + "\n")
