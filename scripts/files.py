"""Writing files whole or not at all, and the sha256 records of downloaded files.

Everything the package writes goes through ``atomic_writer``: a temporary file beside the target,
renamed over it only when complete, so an interruption or a full disk never leaves half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

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
