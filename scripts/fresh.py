"""Whether a lock is up to date with its inputs (the digest its header records), and the
scratch copy a compile starts from. A lock that is up to date is never compiled again, so file
times alone (a fresh clone, a touched file) never cost a compile, nor an API request."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .checks import seal_problems
from .requirements import inputs_digest, inputs_line, pin_lines, read_pins


@contextmanager
def scratch_copy(lock: Path) -> Iterator[Path]:
    """A temporary copy of ``lock`` (its pins guide the resolver, whose output file it is),
    removed afterwards. It lives in the system's temporary folder, not in build/: a run killed
    while it compiles (SIGKILL, which no cleanup survives) then leaves the project and build/
    as they were."""
    handle, name = tempfile.mkstemp(prefix=f"{lock.stem}.", suffix=".txt")
    os.close(handle)
    temp = Path(name)
    try:
        if lock.is_file() and not seal_problems(lock):
            shutil.copyfile(lock, temp)
        elif lock.is_file():  # changed by hand: keep its pins, and nothing else of it
            temp.write_text(pin_lines(read_pins(lock).items()))
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def up_to_date(
    lock: Path, sources: Sequence[Path], pre: bool | None, platforms: Sequence[str]
) -> bool:
    """True when ``lock`` records the digest of its inputs as they are now, and is sealed."""
    held = read_pins(lock)
    digest = inputs_digest(sources, pre, held, platforms)
    recorded = f"{inputs_line(sources)}{digest}\n"
    return lock.is_file() and recorded in lock.read_text() and not seal_problems(lock)


def still_up_to_date(
    lock: Path, sources: Sequence[Path], pre: bool | None, platforms: Sequence[str], quiet: bool
) -> bool:
    """``up_to_date``, and when it is, ``lock`` made newer than its inputs again, so that make
    is satisfied too."""
    if not up_to_date(lock, sources, pre, platforms):
        return False
    if any(p.is_file() and p.stat().st_mtime > lock.stat().st_mtime for p in sources):
        os.utime(lock)
    if not quiet:
        print(f"compile: {lock} is up to date with its inputs")
    return True
