"""The locks: requirements.txt from requirements.in and requirements-model.in, and
requirements-dev.txt from requirements-dev.in; pinned, hashed, sealed, safe.

pip-compile runs with every source the workflow uses but writes none of them into the file.
Release packages (those with an asset in the listing) are held to their releases: each chosen
one is required and constrained as a direct reference to its verified release file, every other
one constrained to no version, all binary-only, so a look-alike on an index is never downloaded,
let alone built; the lock gets exactly the release files' hashes and records their URLs. The
result passes the offline checks before it replaces the lock; on any failure the old file stays.

One compile, read top to bottom (``compile_lock`` is what `python -m scripts compile` runs):

1. ``Target``: the lock, its sources and the settings, decided once; the cutoff the cooldown
   holds it to (cooldown.py).
2. ``resolve_rounds`` (requirements.txt) or ``resolve_dev`` (requirements-dev.txt): the
   release files chosen (choose.py), then ``resolve``: the resolver's run into its own output
   file, every pin hashed (``hashes.with_hashes``), the other platforms covered (platforms.py). A
   round that fails is explained (explain.py) and returns the next round's plan.
3. ``with_release_hashes``: each release package its release files' hashes and URLs.
4. The cutoff's header line, then ``record_inputs``, seal the text; the offline checks read it
   (checks.py).
5. ``compile_lock`` writes it, once, over the lock; ``check_fresh`` compares it instead.
"""

from __future__ import annotations

import difflib
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from packaging.version import Version

from . import backend, checks, choose, cooldown, fresh, listing, platforms
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
from .choose import Plan
from .errors import UserError
from .explain import CompileFailed, explain
from .files import atomic_write_text, read_sha256sums
from .requirements import (
    pinned,
    pins_of,
    read_lines_of,
    read_pins,
    record_inputs,
    set_hashes,
    unreference,
    wanted,
)
from .settings import (
    BEFORE_UPGRADE,
    CONSTRAINTS,
    DEV_LOCK,
    DEV_SOURCES,
    LOCK,
    MANIFEST,
    MODEL_RAW,
    RELEASE_INPUT,
    REQUIREMENTS_IN,
    RESOLVER_PAGE,
    SHA256SUMS,
    SOURCES,
    Settings,
)
from .warm import warming

TRIES = 20  # rounds one lock may take before giving up (other releases, conflicts)


@dataclass(frozen=True)
class Target:
    """What one compile makes: requirements.txt, or with ``dev`` requirements-dev.txt."""

    settings: Settings
    dev: bool
    upgrade: bool

    @property
    def lock(self) -> Path:
        return DEV_LOCK if self.dev else LOCK

    @property
    def sources(self) -> tuple[Path, ...]:
        return DEV_SOURCES if self.dev else SOURCES

    @property
    def pre(self) -> bool | None:
        """PRE, for requirements.txt; requirements-dev.txt ignores it (None)."""
        return None if self.dev else self.settings.pre

    @property
    def packages(self) -> tuple[str, ...]:
        """What an upgrade re-pins (PACKAGES; none: everything); none without an upgrade."""
        return tuple(self.settings.packages) if self.upgrade else ()

    @property
    def made_by(self) -> str:
        """The command a lock's header says made it."""
        return f"make {self.lock}"


def compile_lock(
    settings: Settings, dev: bool, upgrade: bool, quiet: bool = False, warm: bool = True
) -> None:
    """Make requirements.txt (or requirements-dev.txt with ``dev``), unless it is up to date
    with its inputs: compiled, checked, then renamed into place whole; with ``warm``, uv's
    cache filled meanwhile for the install that follows (warm.py)."""
    if not REQUIREMENTS_IN.is_file():
        raise UserError(f"{REQUIREMENTS_IN} is missing: this is not a template checkout?")
    target = Target(settings, dev, upgrade)
    if not upgrade and fresh.still_up_to_date(
        target.lock, target.sources, target.pre, settings.platforms, quiet
    ):
        return
    if upgrade and not dev:  # what the upgrade report compares the new lock with
        BEFORE_UPGRADE.parent.mkdir(exist_ok=True)
        if LOCK.is_file():
            shutil.copyfile(LOCK, BEFORE_UPGRADE)
        else:
            BEFORE_UPGRADE.unlink(missing_ok=True)
    atomic_write_text(target.lock, compiled(target, warm=warm and not dev))
    if not quiet:
        print(f"compile: wrote {target.lock}")
    # Found here, make starts no `compile --dev` to see it (an upgrade re-pins that one too).
    if not dev and not upgrade and DEV_LOCK.is_file():
        fresh.still_up_to_date(DEV_LOCK, DEV_SOURCES, None, settings.platforms, quiet)


def compiled(target: Target, warm: bool = False) -> str:
    """The text of ``target``'s lock as its inputs compile to now: resolved, hashed, guarded,
    sealed and checked; raise UserError if it cannot be made (the lock is then left alone).
    With ``warm``, uv's cache is filled with its pins' files while the release files arrive."""
    problems = checks.input_problems([*(p for p in target.sources if p.suffix == ".in"), MODEL_RAW])
    if problems:
        raise UserError("\n".join(problems) + "\nnothing was compiled")
    if target.dev and not LOCK.is_file():
        raise UserError(f"{LOCK} is missing: run `make requirements.txt` first")
    assets = (
        read_manifest(MANIFEST, missing_ok=True) if target.dev else listing.listed(target.settings)
    )
    listed = by_project(assets)
    files = ReleaseFiles(target.settings, assets)
    # COOLDOWN (cooldown.py): the cutoff this compile holds to, sealed into the lock below.
    cool = cooldown.start(target.settings, target.lock, target.upgrade, RESOLVER_PAGE)
    with (
        warming(target.settings) as start_warming,
        files.fetching(),
        fresh.scratch_copy(target.lock) as scratch,
    ):
        if target.dev:
            index = listed
            text, chosen = resolve_dev(target, scratch, index, files, cool)
        else:
            index = cool.releases(listed)  # only the releases made before the cutoff
            text, chosen = resolve_rounds(target, scratch, index, files, cool, listed)
        if warm and files.downloading():  # uv's cache filled while they arrive (warm.py)
            start_warming(text, listed.keys())
    text = with_release_hashes(target, text, index, chosen, files)
    text = cool.seal(text)  # the cutoff, in the header
    text = record_inputs(text, target.sources, target.pre, target.settings.platforms)
    problems = checks.lock_problems(target.lock, assets, read_sha256sums(SHA256SUMS), text=text)
    if problems:
        raise UserError("\n".join(problems) + f"\n{target.lock} was left as it was")
    return text


Resolved = tuple[str, dict[str, Asset]]  # the resolver's lock text, and the release files chosen


def resolve_rounds(
    target: Target,
    scratch: Path,
    index: Index,
    files: ReleaseFiles,
    cool: cooldown.Cooldown,
    listed: Index,
) -> Resolved:
    """requirements.txt resolved with each release package its release file (see
    ``choose.compile_inputs``): the version its pin keeps while the ranges allow, else the
    newest. Where a chosen file requires another release package outside the release chosen
    for it, the next round's plan matches them before the compile (``choose.matched``). When
    the resolver finds a chosen version in conflict with another requirement, the next round
    tries the next lower one, then re-resolves the conflict's other packages once
    (``choose.after``). ``index`` holds the releases the cooldown leaves, ``listed`` all of them:
    a range only newer releases fill stops the compile with the cooldown's own message."""
    plan = Plan(
        names=frozenset(wanted([*SOURCES, LOCK]).keys() & index.keys()),
        specs=wanted(SOURCES),
        keep=choose.kept(read_pins(LOCK), target.upgrade, target.packages),
        packages=target.packages,
        retry_conflict=not target.upgrade and LOCK.is_file(),
        pre=target.settings.pre,
    )
    files.render()  # the pages as the manifest and the cache say, whatever became of them
    for _ in range(TRIES):
        chosen = choose.releases(plan, index)
        if held := cool.release_problem(plan.names - chosen.keys(), listed, index, plan.specs):
            raise UserError(held)
        # the resolver reads them from build/, once; the ones not fetched yet arrive as it runs
        files.ensure(chosen.values(), early=True)
        requires = choose.requirements_of(chosen, files.path)
        if following := choose.widened(plan, requires, index) or choose.matched(
            plan, requires, chosen, index
        ):
            plan = following
            continue
        files.render_resolver(plan.names)
        try:
            return resolve(target, scratch, index, chosen, cool, files.path, plan.packages), chosen
        except CompileFailed as failure:
            following = choose.after(plan, failure, chosen, index)
            if following is None:
                raise
            plan = following
    raise UserError(
        f"pip-compile found no resolution in {TRIES} tries (release packages: "
        f"{', '.join(sorted(plan.names))}): narrow the ranges in requirements.in. "
        f"{LOCK} was left as it was"
    )


def resolve_dev(
    target: Target, scratch: Path, index: Index, files: ReleaseFiles, cool: cooldown.Cooldown
) -> Resolved:
    """requirements-dev.txt resolved with each release package requirements.txt pins as its
    pinned release file and every other one as nothing: a test tool that needs a model gets
    the model requirements.txt pins, and no file of a release package's name comes from an
    index."""
    chosen = {
        name: choose.wheel_first(release)
        for name, version in read_pins(LOCK).items()
        if name in index and (release := installable_files(index[name].get(Version(version), [])))
    }
    files.ensure(chosen.values())
    try:
        return resolve(target, scratch, index, chosen, cool, files.path, target.packages), chosen
    except CompileFailed as failure:
        unpinned = sorted(({failure.missing} | failure.conflict) & (index.keys() - chosen))
        if unpinned:
            raise UserError(
                f"{', '.join(unpinned)}: a release package that {LOCK} does not pin; "
                f"{DEV_LOCK} takes release packages from {LOCK} only: ask for it in "
                f"{REQUIREMENTS_IN}. {DEV_LOCK} was left as it was"
            ) from None
        raise


def resolve(
    target: Target,
    scratch: Path,
    index: Index,
    chosen: Mapping[str, Asset],
    cool: cooldown.Cooldown,
    where: Callable[[str], Path],
    packages: Sequence[str] = (),
) -> str:
    """The resolver run into ``scratch`` (its own output file, whose pins guide it), with
    ``chosen`` as the release files (read where ``where`` says: a stub while one downloads)
    and ``packages`` re-resolved afresh, and beside it for each other platform of PLATFORMS;
    return the lock's text, every pin hashed, held on every platform."""
    for path, text in choose.compile_inputs(index, chosen, where).items():
        atomic_write_text(path, text)
    inputs = [p for p in target.sources if p.is_file() and p.suffix == ".in"]
    inputs += [] if target.dev else [RELEASE_INPUT]
    only_binary = choose.with_wheels(index)

    def command(
        output: Path, cutoff: list[str], hashed: bool = True, here: bool = True, held: bool = False
    ) -> Argv:
        """The resolver's command into ``output`` with the cooldown's options ``cutoff``: this
        machine's (``here``), or uv's for another platform: beside this machine's run, re-pinning
        what it re-pins (platforms.beside), or ``held`` to its pins (platforms.cover)."""
        settings = target.settings if here else replace(target.settings, resolver="uv")
        return backend.compile_command(
            settings,
            output,
            inputs,
            constraints=(CONSTRAINTS,),
            only_binary=only_binary,
            upgrade=target.upgrade and not held,
            packages=() if held else packages,
            hashes=hashed,
            cooldown=cutoff,
        )

    cutoff = cool.args("uv")
    beside = partial(command, cutoff=cutoff, here=False)
    with platforms.beside(target.settings, beside, RESOLVER_PAGE, target.made_by, scratch) as early:
        text = resolve_here(target, scratch, index, cool, command)
        # Taken only if this machine's run kept the cooldown's options they were started with.
        found = early() if cool.args("uv") == cutoff else {}
    made = [name for _, name, _ in pinned(read_lines_of(text))]  # chosen under the cutoff
    return platforms.cover(
        target.settings,
        text,
        # Asked at each run: a run again exempts what the last found untimed.
        lambda output: command(output, cool.args("uv", made), here=False, held=True),
        RESOLVER_PAGE,
        target.made_by,
        cool.exempt_untimed,
        found,
    )


Argv = list[str]


def resolve_here(
    target: Target,
    scratch: Path,
    index: Index,
    cool: cooldown.Cooldown,
    command: Callable[..., Argv],
) -> str:
    """This machine's resolver run into ``scratch``, the cooldown exempting what the sources give
    no upload times for; raise CompileFailed with the reason explained. pip-compile's hashes
    come from what the sources say of their files (``hashes.with_hashes``); only where they say
    nothing does it make them, in a second run."""
    for hashed in (False, True):
        run = partial(command, scratch, hashed=hashed)
        if failed := cool.run(run, target.settings, RESOLVER_PAGE, target.made_by):
            specs = wanted(target.sources)
            raise cool.explain(failed, specs) or explain(failed, index, target.sources)
        text = scratch.read_text()
        if hashed or target.settings.resolver == "uv":
            return text
        from . import hashes  # the network modules, only for pip-compile's hashes

        text, complete = hashes.with_hashes(target.settings, text)
        if complete:
            return text
        atomic_write_text(scratch, text)  # the hashes found guide pip-compile's own hashing
    return text


def with_release_hashes(
    target: Target, text: str, index: Index, chosen: Mapping[str, Asset], files: ReleaseFiles
) -> str:
    """The resolved ``text`` with each release package pinned by version, with exactly its
    release files' hashes and their URLs; a version the releases do not offer is refused."""
    text = unreference(text, {name: asset.version for name, asset in chosen.items()})
    sets: dict[str, set[str]] = {}
    urls: dict[str, list[str]] = {}
    for _, name, version in pinned(read_lines_of(text)):
        if name not in index:
            continue
        if Version(version) not in index[name]:
            raise UserError(
                f"{name} resolved to {version}, which the releases do not offer "
                f"({offered(name, index[name])}); it came from "
                f"{backend.origin(target.settings, name, version)}. Pin a range the releases "
                f"offer in requirements.in (e.g. {name}=={max(index[name])}). "
                f"{target.lock} was left as it was"
            )
        release = installable_files(index[name][Version(version)])
        sets[name] = release_hashes(release, files.ensure(release))
        urls[name] = [asset.url for asset in release]
    text = set_hashes(text, sets, urls)
    # --only-binary went to pip for every release package; the lock names those it pins.
    return re.sub(r"(?m)^--only-binary (\S+)\n", lambda m: m[0] if m[1] in sets else "", text)


def check_fresh(settings: Settings) -> int:
    """Exit status 0 when requirements.txt (and requirements-dev.txt, if made) say what their
    .in files compile to now: the same pins and hashes (headers and notes aside)."""
    if not LOCK.is_file():
        raise UserError(f"{LOCK} is missing: run `make requirements.txt`")
    status = 0
    for target in (Target(settings, False, False), Target(settings, True, False)):
        lock = target.lock
        if target.dev and not (DEV_LOCK.is_file() and DEV_SOURCES[0].is_file()):
            continue
        old, new = lock.read_text(), compiled(target)
        if pins_of(old) == pins_of(new):
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
