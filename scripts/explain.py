"""A failed resolution, explained: pip-compile's or uv's output turned into one message that
names the file, the line or the package, and says what to write instead.

Every function here is pure over the resolver's output and the release index (``no_offer``
reads the .in files to name the line); nothing here runs a tool or writes a file. The compile
(lock.py) raises what ``explain`` returns, and reads ``conflict`` and ``missing`` off it to
choose its next round (choose.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from .assets import Index, offered
from .backend import one_line
from .errors import UserError, mask_url
from .requirements import read_lines


class CompileFailed(UserError):
    """The compile failed; ``conflict`` names the packages of a conflict, ``missing`` the
    package no source offered."""

    def __init__(self, message: str, conflict: set[str], missing: str = "") -> None:
        super().__init__(message)
        self.conflict = conflict
        self.missing = missing


def conflicts(output: str) -> list[tuple[str, str, str | None]]:
    """(name, specifier, parent file or None) for each requirement in pip's ResolutionImpossible."""
    found: list[tuple[str, str, str | None]] = []
    for match in re.finditer(
        r"SpecifierRequirement\('([A-Za-z0-9._-]+)([^']*)'\), parent=(?:None|\w+\('([^']*)')",
        output,
    ):
        parent = match.group(3)
        if parent:
            parent = parent.split("#")[0].split(" ")[0].rsplit("/", 1)[-1]
        found.append((canonicalize_name(match.group(1)), match.group(2), parent))
    return found


def conflict_names(found: list[tuple[str, str, str | None]]) -> set[str]:
    """The packages in a conflict: each requirement's name and each requiring file's project."""
    names = {name for name, _, _ in found}
    for _, _, parent in found:
        if not parent:
            continue
        parse = parse_wheel_filename if parent.endswith(".whl") else parse_sdist_filename
        try:
            names.add(canonicalize_name(parse(parent)[0]))
        except ValueError:  # not a file name: pip named the candidate some other way
            continue
    return names


def model_range(spacy_spec: str, name: str, versions: Sequence[Version]) -> str:
    """The range of model ``name`` built for the spaCy versions ``spacy_spec`` allows, or "".

    spaCy's models are built for one spaCy minor version: model 3.8.x needs spacy 3.8.x.
    """
    spec = SpecifierSet(spacy_spec)
    minors = sorted(
        (v.major, v.minor)
        for v in set(versions)
        if any(spec.contains(f"{v.major}.{v.minor}.{patch}", True) for patch in range(20))
    )
    if not minors:
        return ""
    (low_major, low_minor), (high_major, high_minor) = minors[0], minors[-1]
    return f"{name}>={low_major}.{low_minor}.0,<{high_major}.{high_minor + 1}.0"


def uv_cause(output: str) -> str:
    """uv's account of a failed resolution (its "Because ..." sentences) as one line with
    credentials masked, or "" when uv gave none."""
    if "No solution found when resolving dependencies" not in output:
        return ""
    text = re.split(r"No solution found when resolving dependencies:?", output, maxsplit=1)[1]
    text = re.split(r"(?m)^\s*(?:hint|help):", text, maxsplit=1)[0]
    return " ".join(mask_url(text).replace("╰─▶", " ").replace("cause:", " ").split())


def uv_reason(output: str) -> str:
    """Why uv failed, as one line: its account of the resolution, else its error."""
    return uv_cause(output)[:400].rstrip(".") or one_line(output) or "uv failed"


def explain(output: str, index: Index, sources: Sequence[Path]) -> CompileFailed:
    """The resolver's ``output`` as one message (no traceback), naming file, line or package."""
    found = conflicts(output)
    match = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)", output)
    missing = match.group(1) if match else None
    cause = uv_cause(output)
    named: set[str] = {
        canonicalize_name(n) for n in re.findall(r"([A-Za-z0-9][\w.-]*)(?= *(?:[=<>!~]|@ ))", cause)
    }
    if cause and len(named) == 1:
        missing = next(iter(named))  # uv: no version of the one package named fits its ranges
    # A release package whose range holds no release: pip says "no match", or, since the
    # release constraint takes part, reports a conflict.
    for name, spec, parent in found:
        releases = index.get(name, {}) if parent is None else {}
        if missing is None and releases and not list(SpecifierSet(spec).filter(releases, True)):
            missing = name
    if missing:
        return no_offer(canonicalize_name(missing), index, sources)
    if found or cause:
        return no_resolution(found, cause, named, index, sources)
    return CompileFailed("the compile failed: " + one_line(output), set())


def no_resolution(
    found: list[tuple[str, str, str | None]],
    cause: str,
    named: set[str],
    index: Index,
    sources: Sequence[Path],
) -> CompileFailed:
    """The failure for ranges that hold no resolution together (pip's ``found`` conflicts, or
    uv's ``cause`` naming the packages ``named``), with the ranges a model fits."""
    names = conflict_names(found) | named
    details = cause.rstrip(".") or "; ".join(
        f"{parent or sources[0]} requires {name}{spec}" for name, spec, parent in found
    )
    advice = [f"Loosen or change one of these ranges in {sources[0]}"]
    spacy = [spec for name, spec, parent in found if name == "spacy" and parent is None]
    spacy += re.findall(r"you require spacy((?:[<>=!~]=?[\w.*+!]+,?)+)", cause)
    spacy = [str(SpecifierSet(spec.rstrip(","))) for spec in spacy]
    for model in sorted(names & index.keys()):
        if spacy and (fits := model_range(spacy[0], model, sorted(index[model]))):
            built = f"a model is built for one spaCy version: with spacy{spacy[0]}"
            advice.append(f"{built}, ask for {fits}")
        advice.append(offered(model, index[model]))
    return CompileFailed(
        f"no versions satisfy {sources[0]} together: {details}. " + "; ".join(advice), names
    )


def no_offer(name: str, index: Index, sources: Sequence[Path]) -> CompileFailed:
    """The failure for a package no source offers in the range asked for, naming its line and
    the name as written there."""
    where, written = str(sources[0]), name
    for path in sources:
        for line in read_lines(path):
            if not line.is_option and name in line.text.lower().replace("_", "-").replace(".", "-"):
                where = f"{path}:{line.number}"
                written = re.split(r"[\s\[<>=!~;@]", line.text, maxsplit=1)[0]
    if name in index:
        return CompileFailed(
            f"{where}: no release of {name} is in the range asked for "
            f"({offered(name, index[name])}); write a range that holds one of them, or run "
            "`make links` if the release is new",
            set(),
            name,
        )
    return CompileFailed(
        f"{where}: no source offers {written} in the range asked for (looked on your package "
        "indexes, the release links page, build/wheels and FIND_LINKS); check the name and the "
        "range, and run `make links` if it was released since the links page was made",
        set(),
        name,
    )
