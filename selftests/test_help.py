"""`make help` prints every target's and every variable's description whole, as the Makefiles
write them (a variable's is the comment block right above it, however many lines it has)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAKEFILES = [ROOT / "Makefile", ROOT / "settings.mk", ROOT / "selftests/selftests.mk"]


def described() -> tuple[dict[str, str], dict[str, str]]:
    """The targets' descriptions (``.PHONY: NAME  ## ...``) and the variables' (the comment
    lines right above ``NAME ?=``, joined), read from the Makefiles."""
    targets, variables = {}, {}
    for makefile in MAKEFILES:
        block: list[str] = []
        for line in makefile.read_text().splitlines():
            if found := re.match(r"\.PHONY: ([a-z-]+) +## (.*)", line):
                targets[found[1]] = found[2]
            if line.startswith("# "):
                block.append(line[2:])
                continue
            if found := re.match(r"([A-Z_]+) \?=", line):
                variables[found[1]] = " ".join(block)
            block = []
    return targets, variables


def shown(help_text: str) -> dict[str, str]:
    """Each entry of `make help` (a name, then its description, wrapped onto lines indented
    past the names) as one line."""
    entries: dict[str, str] = {}
    name = ""
    for line in help_text.splitlines():
        if found := re.match(r"  (\S+) +(.*)", line):
            name = found[1]
            entries[name] = found[2]
        elif line.startswith(" " * 4) and name:
            entries[name] += " " + line.strip()
    return entries


def test_help_prints_every_description_whole() -> None:
    targets, variables = described()
    assert "INDEX_PACKAGES" in variables and "demo" in targets  # the files were read

    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    listed_targets, listed_variables = result.stdout.split("\nVariables")
    assert shown(listed_targets) == targets
    assert shown(listed_variables) == variables
    assert max(map(len, result.stdout.splitlines())) <= 100  # wrapped to fit
