"""The guarded install: the pinned release files fetched once, the locks checked, then synced.

`make install` (requirements.txt) and `make test` (with requirements-dev.txt) run this. First the
release files requirements.txt pins are fetched into build/release-files (in a fresh clone from
the URLs the lock records, with no API request). Then, before pip reads a lock, it must pass
every offline check (checks.py): so a hand edit (an ``--extra-index-url`` and an sdist pin, say)
is refused before anything is built or installed. Then the environment is made to match the
locks exactly, every hash required, with no GitHub token in pip's environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import backend, checks, listing
from .assets import read_manifest
from .cache import ReleaseFiles
from .errors import UserError
from .files import read_sha256sums
from .requirements import release_urls
from .settings import LOCK, MANIFEST, SHA256SUMS, WHEELS, Settings


def fetch_pinned(settings: Settings) -> None:
    """Fetch the release files requirements.txt pins, once per machine."""
    if not MANIFEST.is_file() and release_urls(LOCK):
        ReleaseFiles(settings).fetch_recorded(LOCK)  # a fresh clone: no API request
    else:  # an older lock records no URLs: the listing says where its files are
        ReleaseFiles(settings, listing.listed(settings)).ensure_pinned(LOCK)


def refused(locks: Sequence[Path]) -> list[str]:
    """Every problem the offline checks find in ``locks``."""
    assets = read_manifest(MANIFEST) if MANIFEST.is_file() else []
    sums = read_sha256sums(SHA256SUMS)
    return [problem for lock in locks for problem in checks.lock_problems(lock, assets, sums)]


def install(settings: Settings, python: Path, locks: Sequence[Path]) -> None:
    """Make the environment of ``python`` match ``locks`` exactly, after the checks."""
    if LOCK in locks:
        fetch_pinned(settings)
    problems = refused(locks)
    if problems:
        raise UserError(
            "\n".join(
                [*problems, "nothing was installed: fix the above, then run the same command"]
            )
        )
    WHEELS.mkdir(parents=True, exist_ok=True)
    backend.sync(settings, python, locks)
