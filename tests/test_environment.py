"""The project's environment is what requirements.txt promises.

`make test` runs this file with your own tests, in .venv: every package pinned in
requirements.txt is installed at its pinned version, and every spaCy model installed there loads
and processes a sentence. A model is what declares itself one, as every spaCy model package does:
a ``spacy_models`` entry point (``en_core_web_sm = en_core_web_sm``). A spaCy plugin (scispacy,
spacy-llm, spacy-transformers) requires spacy too but is no model: it is only checked at its pin.
Keep this file, and add your pipeline's tests beside it.
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


def spacy_models() -> list[object]:
    """The installed spaCy models, by their ``spacy_models`` entry points; when there are none,
    one skipped case that says so."""
    found = sorted({ep.name for ep in importlib.metadata.entry_points(group="spacy_models")})
    none = "no spaCy model is installed (no package has a spacy_models entry point)"
    return found or [pytest.param(None, marks=pytest.mark.skip(reason=none), id="no-model")]


@pytest.mark.parametrize(("name", "version"), pins())
def test_pinned_package_is_installed_at_its_pin(name: str, version: str) -> None:
    assert Version(importlib.metadata.version(name)) == Version(version)


@pytest.mark.parametrize("model", spacy_models())
def test_spacy_model_loads_and_processes_a_sentence(model: str) -> None:
    spacy = pytest.importorskip("spacy")

    nlp = spacy.load(model)
    doc = nlp("The pipeline reads this sentence.")

    assert len(doc) > 0
