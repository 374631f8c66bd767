"""Download the wheels a copy's `make test` needs (pytest and its requirements) for the tests.

The self-tests never reach a package index: a copy's requirements-dev.in asks for pytest, so
their local index serves pytest's wheels, at the versions the template's own tools lock pins
and checked against its hashes. `make selftest` runs this once, before the tests:

    python selftests/wheelhouse.py requirements-tools.txt build/selftest-wheels
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

# colorama too: pytest needs it on Windows, which the copies' locks hold on (PLATFORMS).
NAMES = ("pytest", "iniconfig", "packaging", "pluggy", "pygments", "colorama")


def blocks(lock: Path) -> dict[str, str]:
    """{name: its requirement block with hashes} of a pip-compile lock, comments dropped."""
    found: dict[str, str] = {}
    name = ""
    for line in lock.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name = line.split("==")[0].lower()
            found[name] = ""
        if name and not line.lstrip().startswith("#"):
            found[name] += line + "\n"
    return found


def main(argv: list[str]) -> int:
    lock, dest = Path(argv[0]), Path(argv[1])
    wanted = blocks(lock)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
        requirements.write("".join(wanted[name] for name in NAMES if name in wanted))
        requirements.flush()
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--require-hashes",
                "--only-binary=:all:",
                "--dest",
                str(dest),
                "-r",
                requirements.name,
            ],
            check=False,
        ).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
