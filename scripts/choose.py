"""Which release file each release package is compiled with, round by round.

A compile of requirements.txt takes rounds (lock.py): each round's ``Plan`` says which release
packages take part, which pins are kept, which versions were tried and failed, and which
packages are re-resolved afresh. ``releases`` picks the files of a plan; ``matched`` and
``after`` return the next round's plan (before a compile: a chosen model needs another release
of a library; after one: the resolver found a conflict), so no round changes another's plan.
``compile_inputs`` is what the resolver reads of the choice. Nothing here runs a tool.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .assets import Asset, Index, installable_files
from .explain import CompileFailed
from .settings import CONSTRAINTS, RELEASE_INPUT

Tried = Mapping[str, frozenset[Version]]


@dataclass(frozen=True)
class Plan:
    """One round of a compile: what it may choose and what it re-resolves."""

    names: frozenset[str]  # the release packages taking part
    specs: Mapping[str, SpecifierSet]  # their ranges in the .in files
    keep: Mapping[str, str] = field(default_factory=dict)  # pins kept while the ranges allow
    tried: Tried = field(default_factory=dict)  # versions a conflict ruled out
    packages: tuple[str, ...] = ()  # re-resolved afresh (--upgrade-package)
    retry_conflict: bool = False  # may re-resolve a conflict's other packages, once
    pre: bool = False

    def allowed(self, name: str, versions: Mapping[Version, object]) -> list[Version]:
        """The versions of ``name`` its ranges allow, not yet tried."""
        allowed = self.specs.get(name, SpecifierSet()).filter(versions, self.pre or None)
        return [version for version in allowed if version not in self.tried.get(name, ())]

    def ruling_out(self, name: str, version: str) -> Plan:
        """This plan with ``version`` of ``name`` tried, and its pin no longer kept."""
        tried = {**self.tried, name: self.tried.get(name, frozenset()) | {Version(version)}}
        return replace(self, tried=tried, keep={n: v for n, v in self.keep.items() if n != name})


def kept(pins: Mapping[str, str], upgrade: bool, packages: Sequence[str]) -> dict[str, str]:
    """The ``pins`` of requirements.txt a compile keeps while the ranges allow: all but those an
    upgrade re-pins (``packages``; none: every one)."""
    if upgrade and not packages:
        return {}
    moving = {canonicalize_name(name) for name in packages}
    return {name: version for name, version in pins.items() if name not in moving}


def releases(plan: Plan, index: Index, names: frozenset[str] | None = None) -> dict[str, Asset]:
    """The release file to compile with for each release package of the plan (or of
    ``names``): of the versions its ranges allow (any, for one that came in as a dependency)
    and not yet tried, the one the plan keeps, else the newest. A package with none left is
    left out, so that the resolver's own message says why."""
    chosen = {}
    for name in sorted(plan.names if names is None else names):
        allowed = plan.allowed(name, index[name])
        kept = Version(plan.keep[name]) if name in plan.keep else None
        version = kept if kept in allowed else max(allowed, default=None)
        files = installable_files(index[name][version]) if version is not None else []
        if files:
            chosen[name] = wheel_first(files)
    return chosen


def wheel_first(files: Sequence[Asset]) -> Asset:
    """The file of a release to compile with: its wheel, if it has one."""
    return sorted(files, key=lambda asset: not asset.filename.endswith(".whl"))[0]


def with_wheels(index: Index) -> list[str]:
    """The release packages with a wheel in some release: binary-only, so no sdist of theirs is
    built from anywhere."""
    return [
        name
        for name, versions in index.items()
        if any(a.filename.endswith(".whl") for files in versions.values() for a in files)
    ]


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """What ``wheel`` requires (its METADATA's Requires-Dist) on this Python, extras aside; none
    for a file that is no readable wheel (the compile then says what is wrong with it)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            text = archive.read(name).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, StopIteration):
        return []
    found = []
    for line in HeaderParser().parsestr(text).get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found.append(requirement)
    return found


def requirements_of(
    chosen: Mapping[str, Asset], where: Callable[[str], Path]
) -> dict[str, list[Requirement]]:
    """What each chosen wheel requires, read where ``where`` says (cache.ReleaseFiles.path)."""
    return {
        name: wheel_requirements(where(asset.filename))
        for name, asset in chosen.items()
        if asset.filename.endswith(".whl")
    }


def widened(plan: Plan, requires: Mapping[str, list[Requirement]], index: Index) -> Plan | None:
    """The next plan when a chosen file requires a release package not yet taking part."""
    reached = {canonicalize_name(r.name) for rs in requires.values() for r in rs} & index.keys()
    return replace(plan, names=plan.names | reached) if reached - plan.names else None


def matched(
    plan: Plan, requires: Mapping[str, list[Requirement]], chosen: Mapping[str, Asset], index: Index
) -> Plan | None:
    """Before a compile: where the file chosen for one release package (``requires``: what each
    chosen wheel requires) requires another release package outside the release chosen for it
    (model 3.8.0 needs corelib>=3.8 while corelib's range asks <3.8), the next plan: the
    required package kept at its newest release in its ranges that every chosen file requiring
    it allows, else the requiring package at another release in its ranges. None when every
    requirement fits, or when nothing else is left (the compile then says why)."""
    needed: dict[str, SpecifierSet] = {}
    for name, requirements in requires.items():
        for requirement in requirements:
            other = canonicalize_name(requirement.name)
            if other in chosen and other != name:
                needed[other] = needed.get(other, SpecifierSet()) & requirement.specifier
    for name, requirements in sorted(requires.items()):
        for requirement in requirements:
            other = canonicalize_name(requirement.name)
            if other not in needed or requirement.specifier.contains(chosen[other].version, True):
                continue
            fits = [v for v in plan.allowed(other, index[other]) if needed[other].contains(v, True)]
            if fits:
                return replace(plan, keep={**plan.keep, other: str(max(fits))})
            lower = plan.ruling_out(name, chosen[name].version)
            return lower if name in releases(lower, index, frozenset({name})) else None
    return None


def after(
    plan: Plan, failure: CompileFailed, chosen: Mapping[str, Asset], index: Index
) -> Plan | None:
    """After a compile that failed: the next plan, or None when none is left (the failure then
    stands). A release package that came in as a dependency takes part; a chosen release in the
    conflict gives way to a lower one of each, if its range allows one; failing that, the
    conflict's other packages are re-resolved afresh, once."""
    unreached = ({failure.missing} | failure.conflict) & (index.keys() - plan.names)
    if unreached:
        return replace(plan, names=plan.names | unreached)
    moving = failure.conflict & chosen.keys()
    lower = plan
    for name in sorted(moving):
        lower = lower.ruling_out(name, chosen[name].version)
    if moving and releases(lower, index, frozenset(moving)).keys() == moving:
        return lower
    others = failure.conflict - chosen.keys()
    if not (plan.retry_conflict and others):
        return None
    packages = tuple(sorted(set(plan.packages) | others))
    return replace(lower, packages=packages, tried={}, retry_conflict=False)


def compile_inputs(
    index: Index, chosen: Mapping[str, Asset], where: Callable[[str], Path]
) -> dict[Path, str]:
    """The two files the resolver reads besides the user's, with their texts. Each chosen
    release package is required, and constrained, as a direct reference to its file in build/:
    pip and uv then take that file for every requirement of the name, whichever comes first,
    and read no other (a look-alike on an index or in find-links, another version, a local
    version, a wheel with other tags, an sdist, is never downloaded, let alone built). Every
    other release package is constrained to no version at all (``<0``): a compile that comes to
    need one (a dependency the inputs did not name) fails naming it, with nothing of that name
    read, and the next round takes its release file."""
    references = {
        name: f"{name} @ {where(asset.filename).resolve().as_uri()}\n"
        for name, asset in sorted(chosen.items())
    }
    limits = [references.get(name, f"{name}<0\n") for name in sorted(index)]
    made = "# Made by `python -m scripts compile`: "
    return {
        CONSTRAINTS: f"{made}release packages are their release files, or nothing.\n"
        + "".join(limits),
        RELEASE_INPUT: f"{made}each release package is its release file.\n"
        + "".join(references.values()),
    }
