"""uv's cache filled while a compile waits for its release files anyway.

A compile that fetches a big release file (a 500 MB model) has its pins long before the file
is in: its resolver reads a stub meanwhile (fetch.Early). In that wait, ``warming`` has uv
download the index's files of this machine's pins, each checked against its hash in the new
lock, into uv's own cache, where the `uv pip sync` of `make install` finds them instead of
fetching them after the compile. They are installed into a throwaway folder under build/
(links into the cache: uv has no download-only command), nothing is built (binary only), no
release package is among them (their files come from build/release-files), and the user's
configured sources are the ones the sync reads. It is only a head start: when the compile ends
it is stopped wherever it is, so the compile never waits for it (it shares the network with the
model's download meanwhile: bytes the install fetches next anyway, spent early; `make lock`,
which no install follows, runs `compile --no-warm`). Whatever it did not fetch, the sync
fetches as before, checked the same way. With pip-tools it does nothing (pip keeps no cache the
install would read a download from).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

from . import backend
from .files import atomic_write_text
from .requirements import pinned, read_lines_of
from .settings import BUILD, Settings

WARM_PINS = BUILD / "warm-requirements.txt"
WARM_TARGET = BUILD / "warm-target"


@contextmanager
def warming(settings: Settings) -> Iterator[Callable[[str, Collection[str]], None]]:
    """A block in which ``start(text, release)`` begins filling uv's cache with the files of
    the pins of lock ``text`` (``release``: the release packages' names, left out); the filling
    is stopped when the block ends."""
    started: list[subprocess.Popen[bytes]] = []

    def start(text: str, release: Collection[str]) -> None:
        if settings.resolver != "uv" or started:
            return
        lines = [
            " ".join([line.text, *(f"--hash=sha256:{h}" for h in line.hashes)])
            for line, name, _ in pinned(read_lines_of(text))
            if name not in release and line.hashes
        ]
        if not lines:
            return
        atomic_write_text(WARM_PINS, "\n".join(lines) + "\n")
        shutil.rmtree(WARM_TARGET, ignore_errors=True)
        command = [str(backend.UV), "pip", "install", "--quiet", "--no-config", "--no-deps"]
        command += ["--require-hashes", "--only-binary", ":all:", "--link-mode", "symlink"]
        command += ["--python", sys.executable, "--target", str(WARM_TARGET), "-r", str(WARM_PINS)]
        started.append(
            subprocess.Popen(
                command,
                env=backend.environment(settings),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    try:
        yield start
    finally:
        for process in started:  # at most one; nothing to tidy when none started
            process.terminate()
            process.wait()
            shutil.rmtree(WARM_TARGET, ignore_errors=True)
            WARM_PINS.unlink(missing_ok=True)
