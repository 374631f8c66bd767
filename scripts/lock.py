"""The locks: requirements.txt from requirements.in and requirements-model.in, and
requirements-dev.txt from requirements-dev.in; pinned, hashed, sealed, safe.

pip-compile runs with every source the workflow uses but writes none of them into the file.
Release packages (those with an asset in the listing) are held to their releases: each chosen
one is required and constrained as a direct reference to its verified release file, every other
one constrained to no version, all binary-only, so a look-alike on an index is never downloaded,
let alone built; the lock gets exactly the release files' hashes and records their URLs. The
result passes the offline checks before it replaces the lock; on any failure the old file stays.

When an edit conflicts with a pin already in the lock (say ``spacy<3.8`` while a model built
for 3.8 is pinned), lower releases are tried, then the packages in the conflict re-resolved; a
release package that requires another (a model built on a library of the same releases) is
matched to it from the release files' metadata. When no resolution exists, the message names
the conflict and what to write instead.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from . import backend, checks, cooldown, listing, platforms
from .assets import (
    Asset,
    Index,
    by_project,
    installable_files,
    offered,
    read_manifest,
    release_hashes,
)
from .cache import ReleaseFiles
from .errors import UserError
from .files import atomic_write_text, read_sha256sums
from .requirements import (
    inputs_digest,
    inputs_line,
    pinned,
    read_lines,
    read_lines_of,
    read_pins,
    record_inputs,
    set_hashes,
    unreference,
    wanted,
)
from .settings import (
    CONSTRAINTS,
    DEV_LOCK,
    DEV_SOURCES,
    LOCK,
    MANIFEST,
    MODEL_RAW,
    RELEASE_FILES,
    RELEASE_INPUT,
    REQUIREMENTS_IN,
    RESOLVER_PAGE,
    SHA256SUMS,
    SOURCES,
    Settings,
)

TRIES = 20  # choices one lock may take before giving up (other releases, conflicts)


def lock_and_sources(dev: bool) -> tuple[Path, tuple[Path, ...]]:
    """requirements.txt and its inputs, or with ``dev`` requirements-dev.txt and its inputs."""
    return (DEV_LOCK, DEV_SOURCES) if dev else (LOCK, SOURCES)


class CompileFailed(UserError):
    """pip-compile failed; ``conflict`` names the packages of a ResolutionImpossible, ``missing``
    the package no source offered."""

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
    """uv's account of a failed resolution (its "Because ..." sentences) as one line, or ""."""
    if "No solution found when resolving dependencies" not in output:
        return ""
    text = re.split(r"No solution found when resolving dependencies:?", output, maxsplit=1)[1]
    text = re.split(r"(?m)^\s*(?:hint|help):", text, maxsplit=1)[0]
    return " ".join(text.replace("╰─▶", " ").replace("cause:", " ").split())


def explain(output: str, index: Index, sources: Sequence[Path]) -> CompileFailed:
    """Turn pip-compile's (or uv's) output into one message (no traceback), naming file, line or
    package."""
    found = conflicts(output)
    match = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)", output)
    missing = match.group(1) if match else None
    cause = uv_cause(output)
    named = {
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
                advice.append(f"a model is built for one spaCy version: with spacy{spacy[0]}, "
                              f"ask for {fits}")  # fmt: skip
            advice.append(offered(model, index[model]))
        return CompileFailed(
            f"no versions satisfy {sources[0]} together: {details}. " + "; ".join(advice),
            names,
        )
    return CompileFailed("the compile failed: " + backend.one_line(output), set())


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


def choose_releases(
    names: set[str],
    index: Index,
    specs: dict[str, SpecifierSet],
    keep: dict[str, str],
    tried: dict[str, set[Version]],
    pre: bool,
) -> dict[str, Asset]:
    """The release file to compile with for each release package in ``names``: of the versions
    its ranges in the .in files (``specs``) allow (any, for one that came in as a dependency)
    and not yet ``tried``, the one ``keep`` pins, else the newest. A package with none left is
    left out, so that pip's own message says why."""
    chosen = {}
    for name in sorted(names):
        allowed = [
            version
            for version in specs.get(name, SpecifierSet()).filter(index[name], pre or None)
            if version not in tried.get(name, set())
        ]
        kept = Version(keep[name]) if name in keep else None
        version = kept if kept in allowed else max(allowed, default=None)
        files = installable_files(index[name][version]) if version is not None else []
        if files:
            chosen[name] = wheel_first(files)
    return chosen


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


def choose_again(
    requires: Mapping[str, list[Requirement]],
    chosen: dict[str, Asset],
    index: Index,
    specs: dict[str, SpecifierSet],
    keep: dict[str, str],
    tried: dict[str, set[Version]],
    pre: bool,
) -> bool:
    """Before a compile: where the file chosen for one release package (``requires``: what each
    chosen wheel requires) requires another release package outside the release chosen for it
    (model 3.8.0 needs corelib>=3.8 while corelib's range asks <3.8), pick again: the required
    package at its newest release in its ranges that every chosen file requiring it allows,
    else the requiring package at another release in its ranges. True when one was picked
    again; False when every requirement fits, or when nothing else is left (the compile then
    says why)."""
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
            fits = [
                version
                for version in specs.get(other, SpecifierSet()).filter(index[other], pre or None)
                if version not in tried.get(other, set()) and needed[other].contains(version, True)
            ]
            if fits:
                keep[other] = str(max(fits))
                return True
            tried.setdefault(name, set()).add(Version(chosen[name].version))
            keep.pop(name, None)
            return name in choose_releases({name}, index, specs, keep, tried, pre)
    return False


def write_compile_inputs(index: Index, chosen: dict[str, Asset]) -> None:
    """The two files pip-compile reads besides the user's. Each chosen release package is
    required, and constrained, as a direct reference to its file in build/: pip and uv then
    take that file for every requirement of the name, whichever comes first, and read no other
    (a look-alike on an index or in find-links, another version, a local version, a wheel with
    other tags, an sdist, is never downloaded, let alone built). Every other release package is
    constrained to no version at all (``<0``): a compile that comes to need one (a dependency
    the inputs did not name) fails naming it, with nothing of that name read, and the next
    compile takes its release file."""
    references = {
        name: f"{name} @ {(RELEASE_FILES / asset.filename).resolve().as_uri()}\n"
        for name, asset in sorted(chosen.items())
    }
    limits = [references.get(name, f"{name}<0\n") for name in sorted(index)]
    made = "# Made by `python -m scripts compile`: "
    limits.insert(0, f"{made}release packages are their release files, or nothing.\n")
    atomic_write_text(CONSTRAINTS, "".join(limits))
    header = f"{made}each release package is its release file.\n"
    atomic_write_text(RELEASE_INPUT, header + "".join(references.values()))


@dataclass
class Compile:
    """One compile of requirements.txt or requirements-dev.txt into a scratch file."""

    settings: Settings
    output: Path  # the scratch file (a copy of the lock, whose pins guide pip-compile)
    dev: bool
    upgrade: bool
    packages: list[str] = field(default_factory=list)  # PACKAGES, with --upgrade
    cool: cooldown.Cooldown | None = None  # COOLDOWN's cutoff for this compile (cooldown.py)

    def __post_init__(self) -> None:
        self.packages = list(self.settings.packages) if self.upgrade else []

    @property
    def lock(self) -> Path:
        return lock_and_sources(self.dev)[0]

    @property
    def sources(self) -> tuple[Path, ...]:
        return lock_and_sources(self.dev)[1]

    def run(self) -> None:
        """Compile, guard and seal ``output``; raise UserError if it cannot be done."""
        problems = checks.input_problems(
            [*(p for p in self.sources if p.suffix == ".in"), MODEL_RAW]
        )
        if problems:
            raise UserError("\n".join(problems) + "\nnothing was compiled")
        # COOLDOWN (cooldown.py): the cutoff this compile holds to, sealed into the lock below.
        self.cool = cooldown.start(self.settings, self.lock, self.upgrade, RESOLVER_PAGE)
        if self.dev:
            if not LOCK.is_file():
                raise UserError(f"{LOCK} is missing: run `make requirements.txt` first")
            assets = read_manifest(MANIFEST, missing_ok=True)
            text = self.dev_lock(assets)
        else:
            assets = listing.listed(self.settings)
            text = self.release_lock(assets)
        pre = None if self.dev else self.settings.pre
        text = cooldown.with_header(text, self.cool.header())  # COOLDOWN: the cutoff, sealed
        atomic_write_text(
            self.output, record_inputs(text, self.sources, pre, self.settings.platforms)
        )
        problems = checks.lock_problems(self.output, assets, read_sha256sums(SHA256SUMS))
        if problems:
            raise UserError(
                "\n".join(p.replace(str(self.output), str(self.lock)) for p in problems)
                + f"\n{self.lock} was left as it was"
            )

    def pip_compile(
        self, inputs: list[Path], index: Index, only_binary: Sequence[str] = ()
    ) -> None:
        """Run the compile into ``output``, every pin hashed; raise CompileFailed with the
        resolver's reason explained. pip-compile's hashes come from what the sources say of
        their files (hashes.py); only where they say nothing does pip-compile make them."""
        ins = [path for path in inputs if path.is_file() and path.suffix == ".in"]
        ins += [] if self.dev else [RELEASE_INPUT]
        constraints = (CONSTRAINTS,)
        assert self.cool is not None
        for hashed in (False, True):

            def command(cool: list[str], hashed: bool = hashed) -> list[str]:
                return backend.compile_command(
                    self.settings,
                    self.output,
                    ins,
                    constraints=constraints,
                    only_binary=only_binary,
                    upgrade=self.upgrade,
                    packages=self.packages,
                    hashes=hashed,
                    cooldown=cool,
                )

            # COOLDOWN: run with the cutoff's options, exempting sources with no upload times.
            failed = self.cool.run(command, self.settings, RESOLVER_PAGE, f"make {self.lock}")
            if failed:
                raise self.cool.explain(failed, wanted(self.sources)) or explain(
                    failed, index, self.sources
                )
            if hashed or self.settings.resolver == "uv" or self.add_hashes():
                break
        uv = replace(self.settings, resolver="uv")
        # COOLDOWN: the same cutoff for the other platforms; the pins made here are exempt.
        made = [n for _, n, _ in pinned(read_lines_of(self.output.read_text()))]
        cool = self.cool

        def for_platform(output: Path) -> list[str]:
            """uv's compile of the same inputs (their pins held by platforms.cover)."""
            return backend.compile_command(
                uv,
                output,
                ins,
                constraints=constraints,
                only_binary=only_binary,
                cooldown=cool.args("uv", made),
            )

        text = platforms.cover(
            self.settings,
            self.output.read_text(),
            for_platform,
            RESOLVER_PAGE,
            f"make {self.lock}",
            cool.exempt_untimed,  # COOLDOWN: a package its index gives no upload time for
        )
        atomic_write_text(self.output, text)

    def add_hashes(self) -> bool:
        """Hash every pin of ``output`` that has no hash (not the release packages, whose
        hashes are set later): as the sealed locks already hash that very version, else from
        its sources. False when a pin is left unhashed."""
        text = self.output.read_text()
        pins = {name: version for line, name, version in pinned(read_lines_of(text))
                if not line.hashes}  # fmt: skip
        found = {
            name: set(line.hashes)
            for lock in (LOCK, DEV_LOCK)
            if lock.is_file() and not checks.seal_problems(lock)
            for line, name, version in pinned(read_lines(lock))
            if pins.get(name) == version and line.hashes
        }
        missing = {name: version for name, version in pins.items() if name not in found}
        if missing:
            from . import hashes  # the network modules, only when the sources are asked

            indexes, links = backend.sources(self.settings, RESOLVER_PAGE)
            found |= hashes.pinned_hashes(missing, indexes, links)
        atomic_write_text(self.output, set_hashes(text, found))
        return found.keys() >= pins.keys()

    def release_lock(self, assets: list[Asset]) -> str:
        """Compile requirements.txt with each release package its release file (see
        ``write_compile_inputs``): the version its pin keeps while the ranges allow, else the
        newest. Where a chosen file requires another release package outside the release
        chosen for it, one of the two is chosen again before the compile (``choose_again``).
        When pip finds a chosen version in conflict with another requirement, the next lower
        one is tried, then the non-release packages in the conflict are re-resolved once.
        Return the lock's text with the release hashes and URLs set."""
        listed = by_project(assets)
        assert self.cool is not None
        index = self.cool.releases(listed)  # COOLDOWN: only releases made before the cutoff
        files = ReleaseFiles(self.settings, assets)
        names = set(wanted([*SOURCES, LOCK])) & index.keys()
        keep = self.kept_pins()
        specs = wanted(SOURCES)
        tried: dict[str, set[Version]] = {}
        conflict_retry = not self.upgrade and LOCK.is_file()
        wheel_only = with_wheels(index)
        files.render()  # the pages as the manifest and the cache say, whatever became of them
        for _ in range(TRIES):
            chosen = choose_releases(names, index, specs, keep, tried, self.settings.pre)
            if held := self.cool.release_problem(names - chosen.keys(), listed, index, specs):
                raise UserError(held)  # COOLDOWN: only releases newer than the cutoff fit
            files.ensure(chosen.values())  # pip reads them from build/, once
            requires = {
                name: wheel_requirements(RELEASE_FILES / asset.filename)
                for name, asset in chosen.items()
                if asset.filename.endswith(".whl")
            }
            reached = {canonicalize_name(r.name) for rs in requires.values() for r in rs}
            if (reached & index.keys()) - names:  # a release package a chosen one requires
                names |= reached & index.keys()
                continue
            if choose_again(requires, chosen, index, specs, keep, tried, self.settings.pre):
                continue
            files.render_resolver(names)
            write_compile_inputs(index, chosen)
            try:
                self.pip_compile(list(SOURCES), index, wheel_only)
            except CompileFailed as failure:
                unreached = ({failure.missing} | failure.conflict) & (index.keys() - names)
                if unreached:  # a release package entered as a dependency: its file next time
                    names |= unreached
                    continue
                moving = failure.conflict & chosen.keys()
                for name in moving:  # a lower release of each, if its range allows one
                    tried.setdefault(name, set()).add(Version(chosen[name].version))
                    keep.pop(name, None)
                if (
                    moving
                    and choose_releases(moving, index, specs, keep, tried, self.settings.pre).keys()
                    == moving
                ):
                    continue
                if not (conflict_retry and failure.conflict - chosen.keys()):
                    raise
                conflict_retry = False  # once: re-resolve the other conflicting packages afresh
                self.packages = sorted(set(self.packages) | (failure.conflict - chosen.keys()))
                tried.clear()
                continue
            break
        else:
            raise UserError(
                f"pip-compile found no resolution in {TRIES} tries (release packages: "
                f"{', '.join(sorted(names))}): narrow the ranges in requirements.in. "
                f"{LOCK} was left as it was"
            )
        return self.with_release_hashes(files, index, chosen)

    def dev_lock(self, assets: list[Asset]) -> str:
        """Compile requirements-dev.txt with each release package requirements.txt pins as its
        pinned release file and every other one as nothing (see ``write_compile_inputs``): a
        test tool that needs a model gets the model requirements.txt pins, and no file of a
        release package's name comes from an index. Return the lock's text with the release
        hashes and URLs set."""
        index = by_project(assets)
        files = ReleaseFiles(self.settings, assets)
        chosen = {
            name: wheel_first(release)
            for name, version in read_pins(LOCK).items()
            if name in index
            and (release := installable_files(index[name].get(Version(version), [])))
        }
        files.ensure(chosen.values())
        write_compile_inputs(index, chosen)
        wheel_only = with_wheels(index)
        try:
            self.pip_compile(list(self.sources), index, wheel_only)
        except CompileFailed as failure:
            unpinned = sorted(({failure.missing} | failure.conflict) & (index.keys() - chosen))
            if unpinned:
                raise UserError(
                    f"{', '.join(unpinned)}: a release package that {LOCK} does not pin; "
                    f"{DEV_LOCK} takes release packages from {LOCK} only: ask for it in "
                    f"{REQUIREMENTS_IN}. {DEV_LOCK} was left as it was"
                ) from None
            raise
        return self.with_release_hashes(files, index, chosen)

    def with_release_hashes(
        self, files: ReleaseFiles, index: Index, chosen: dict[str, Asset]
    ) -> str:
        """The compiled text with each release package pinned by version, with exactly its
        release files' hashes and their URLs; a version the releases do not offer is refused."""
        text = unreference(self.output.read_text(), {n: a.version for n, a in chosen.items()})
        sets: dict[str, set[str]] = {}
        urls: dict[str, list[str]] = {}
        for _, name, version in pinned(read_lines_of(text)):
            if name not in index:
                continue
            if Version(version) not in index[name]:
                raise UserError(
                    f"{name} resolved to {version}, which the releases do not offer "
                    f"({offered(name, index[name])}); it came from "
                    f"{backend.origin(self.settings, name, version)}. Pin a range the releases "
                    f"offer in requirements.in (e.g. {name}=={max(index[name])}). "
                    f"{LOCK} was left as it was"
                )
            release = installable_files(index[name][Version(version)])
            sets[name] = release_hashes(release, files.ensure(release))
            urls[name] = [asset.url for asset in release]
        text = set_hashes(text, sets, urls)
        # --only-binary went to pip for every release package; the lock names those it pins.
        return re.sub(r"(?m)^--only-binary (\S+)\n", lambda m: m[0] if m[1] in sets else "", text)

    def kept_pins(self) -> dict[str, str]:
        """The pins of requirements.txt a compile keeps while the ranges allow: all but those
        upgraded."""
        if self.upgrade and not self.packages:
            return {}
        moving = {canonicalize_name(name) for name in self.packages}
        return {n: v for n, v in read_pins(LOCK).items() if n not in moving}


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


def up_to_date(
    lock: Path, sources: Sequence[Path], pre: bool | None, platforms: Sequence[str]
) -> bool:
    """True when ``lock`` records the digest of its inputs as they are now, and is sealed."""
    held = read_pins(lock)
    recorded = f"{inputs_line(sources)}{inputs_digest(sources, pre, held, platforms)}\n"
    return lock.is_file() and recorded in lock.read_text() and not checks.seal_problems(lock)


@contextmanager
def scratch_copy(lock: Path) -> Iterator[Path]:
    """A temporary copy of ``lock`` (its pins guide pip-compile), removed afterwards. It lives in
    the system's temporary folder, not in build/: a run killed while it compiles (SIGKILL, which
    no cleanup survives) then leaves the project and build/ as they were."""
    handle, name = tempfile.mkstemp(prefix=f"{lock.stem}.", suffix=".txt")
    os.close(handle)
    temp = Path(name)
    try:
        if lock.is_file() and not checks.seal_problems(lock):
            shutil.copyfile(lock, temp)
        elif lock.is_file():  # changed by hand: keep its pins, and nothing else of it
            temp.write_text("".join(f"{n}=={v}\n" for n, v in read_pins(lock).items()))
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def make(settings: Settings, dev: bool, upgrade: bool, quiet: bool = False) -> None:
    """Make requirements.txt (or requirements-dev.txt with ``dev``), unless it is up to date
    with its inputs: compiled into a scratch copy, renamed into place only when it passes."""
    if not REQUIREMENTS_IN.is_file():
        raise UserError(f"{REQUIREMENTS_IN} is missing: this is not a template checkout?")
    lock, sources = lock_and_sources(dev)
    pre = None if dev else settings.pre
    if not upgrade and still_up_to_date(lock, sources, pre, settings.platforms, quiet):
        return
    with scratch_copy(lock) as temp:
        Compile(settings, temp, dev, upgrade).run()
        atomic_write_text(lock, temp.read_text())  # renamed into place beside the lock
    if not quiet:
        print(f"compile: wrote {lock}")
    # Found here, make starts no `compile --dev` to see it (an upgrade re-pins that one too).
    if not dev and not upgrade and DEV_LOCK.is_file():
        still_up_to_date(*lock_and_sources(dev=True), None, settings.platforms, quiet)


def still_up_to_date(
    lock: Path, sources: Sequence[Path], pre: bool | None, platforms: Sequence[str], quiet: bool
) -> bool:
    """``up_to_date``, and when it is, ``lock`` made newer than its inputs again, so that make is
    satisfied too."""
    if not up_to_date(lock, sources, pre, platforms):
        return False
    if any(path.is_file() and path.stat().st_mtime > lock.stat().st_mtime for path in sources):
        os.utime(lock)
    if not quiet:
        print(f"compile: {lock} is up to date with its inputs")
    return True


def content(text: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """What a lock pins, whichever backend wrote it: each (name, version, marker, hashes),
    sorted; no header, seal, option, ``# via`` or other comment."""
    return sorted(
        (name, version, str(line.requirement().marker or ""), tuple(sorted(line.hashes)))
        for line, name, version in pinned(read_lines_of(text))
    )


def check(settings: Settings) -> int:
    """Exit status 0 when requirements.txt (and requirements-dev.txt, if made) say what their
    .in files compile to now: the same pins and hashes (headers and notes aside)."""
    if not LOCK.is_file():
        raise UserError(f"{LOCK} is missing: run `make requirements.txt`")
    status = 0
    for dev, lock in ((False, LOCK), (True, DEV_LOCK)):
        if dev and not (DEV_LOCK.is_file() and DEV_SOURCES[0].is_file()):
            continue
        with scratch_copy(lock) as temp:
            Compile(settings, temp, dev, upgrade=False).run()
            old, new = lock.read_text(), temp.read_text()
        if content(old) == content(new):
            print(f"compile: {lock} is up to date")
            continue
        diff = difflib.unified_diff(
            old.splitlines(), new.splitlines(), str(lock), "compiled now", lineterm=""
        )
        print("\n".join(diff), file=sys.stderr)
        print(
            f"error: {lock} is not what its .in files compile to now (edited by hand, or an .in "
            "file changed): run `make lock` and commit the result",
            file=sys.stderr,
        )
        status = 1
    return status
