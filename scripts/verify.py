"""`make verify`: every check of the locks, offline first, then the installs and the freshness.

1. Offline: each lock's pins, hashes, sources, secrets and release files (checks.py), after
   fetching the pinned release files that are missing; the inputs' sources and secrets.
2. Every platform of PLATFORMS: a real install of both locks into an empty folder (platforms.py).
3. pylock.toml, when written: the same pins as requirements.txt on every platform (pylock.py).
4. Freshness: the locks are what their .in files compile to now (lock.check_fresh).

Each stage prints one line when it passes; the first that fails ends the run with its problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import checks, install, listing, lock, platforms, pylock
from .cache import ReleaseFiles
from .errors import UserError
from .settings import INPUTS, LOCK, Settings


def run(settings: Settings, locks: Sequence[Path]) -> int:
    """Check ``locks`` every way; exit status 0 when all pass, else raise UserError."""
    assets = listing.listed(settings)
    files = ReleaseFiles(settings, assets, quiet=True)
    problems = []
    for path in locks:
        if path.is_file():
            files.ensure_pinned(path)
        problems += checks.lock_problems(path, assets, files.sums, rehash=True)  # every file
    problems += checks.input_problems(INPUTS)
    if problems:
        raise UserError("\n".join(problems))
    print(f"verify: {' and '.join(map(str, locks))} pinned, hashed and free of sources and secrets")
    if settings.platforms:
        exact = [install.exact(path) for path in locks]
        if problems := platforms.install_problems(settings, exact, locks):
            raise UserError("\n".join(problems))
        print(f"verify: they install on {', '.join(settings.platforms)} (every hash checked)")
    if problems := pylock.problems(settings):
        raise UserError("\n".join(problems))
    if pylock.PYLOCK.is_file():
        print(f"verify: {pylock.PYLOCK} says what {LOCK} says on every platform")
    return lock.check_fresh(settings)
