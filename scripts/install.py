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

from . import backend, checks, listing, platforms
from .assets import read_manifest, url_filename
from .cache import ReleaseFiles
from .errors import UserError
from .files import atomic_write_text
from .requirements import direct_references, release_file_urls, release_urls
from .settings import BUILD, LOCK, MANIFEST, RELEASE_FILES, WHEELS, Settings


def fetch_pinned(settings: Settings) -> ReleaseFiles:
    """Fetch the release files requirements.txt pins, once per machine; return the cache."""
    if not MANIFEST.is_file() and release_urls(LOCK):
        files = ReleaseFiles(settings)
        files.fetch_recorded(LOCK)  # a fresh clone: no API request
    else:  # an older lock records no URLs: the listing says where its files are
        files = ReleaseFiles(settings, listing.listed(settings))
        files.ensure_pinned(LOCK)
    return files


def install(settings: Settings, python: Path, locks: Sequence[Path]) -> None:
    """Make the environment of ``python`` match ``locks`` exactly, after the checks."""
    if refused := platforms.refusal(LOCK, platforms.this_machine()):
        raise UserError(f"{refused}; nothing was installed")
    if LOCK in locks:
        files = fetch_pinned(settings)
    else:
        files = ReleaseFiles(settings, read_manifest(MANIFEST, missing_ok=True))
    problems = [p for lock in locks for p in checks.lock_problems(lock, files.assets, files.sums)]
    if problems:
        raise UserError(
            "\n".join(
                [*problems, "nothing was installed: fix the above, then run the same command"]
            )
        )
    WHEELS.mkdir(parents=True, exist_ok=True)
    if settings.resolver == "uv":
        locks = [exact(lock) for lock in locks]
    backend.install(settings, python, locks)


def exact(lock: Path) -> Path:
    """A copy of ``lock`` in build/ whose release packages are direct references to their
    fetched files, for uv: it would take a local version (``3.8.0+local``) found elsewhere for
    ``==3.8.0``, where pip prefers the file whose hash the links page gives."""
    files = {
        name: (RELEASE_FILES / url_filename(url)).resolve().as_uri()
        for name, url in release_file_urls(lock).items()
    }
    copy = BUILD / f"{lock.stem}.install.txt"
    atomic_write_text(copy, direct_references(lock.read_text(), files))
    return copy
