"""The project's environment is what requirements.txt promises.

`make test` runs this file with your own tests, in .venv: every package pinned in
requirements.txt is installed at its pinned version, and every spaCy model pinned there (a
package whose metadata requires spacy) loads and processes a sentence. Keep it, and add your
pipeline's tests beside it.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

LOCK = Path(__file__).resolve().parent.parent / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;([^\\]*))?")


def pins() -> list[tuple[str, str]]:
    """(name, version) of each ``name==version`` line of requirements.txt for this Python."""
    found = []
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match and (match[3] is None or Marker(match[3].strip()).evaluate()):
            found.append((canonicalize_name(match[1]), match[2]))
    return found


def spacy_models() -> list[str]:
    """The pinned packages whose metadata requires spacy: spaCy's models."""
    return [
        name
        for name, _ in pins()
        if any(
            canonicalize_name(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0]) == "spacy"
            for req in importlib.metadata.requires(name) or []
        )
    ]


@pytest.mark.parametrize(("name", "version"), pins())
def test_pinned_package_is_installed_at_its_pin(name: str, version: str) -> None:
    assert Version(importlib.metadata.version(name)) == Version(version)


@pytest.mark.parametrize("model", spacy_models())
def test_spacy_model_loads_and_processes_a_sentence(model: str) -> None:
    spacy = pytest.importorskip("spacy")

    nlp = spacy.load(model.replace("-", "_"))
    doc = nlp("The pipeline reads this sentence.")

    assert len(doc) > 0
