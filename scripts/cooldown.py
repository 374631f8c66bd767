"""The release cooldown (COOLDOWN) of one compile, held to what the sources say of upload times.

Most malicious releases are found and removed within days; a compile that takes a release
published an hour ago takes it at its most dangerous. So every compile holds every package to a
cutoff instant (which one, and how the lock seals it: cutoffs.py): index packages through the
resolver's own option (pip's ``--uploaded-prior-to``, which pip-compile passes on; uv's
``--exclude-newer``, for the other platforms' runs too), release packages by their asset's
``created_at``. This module asks the sources what upload times they give.

A file whose source gives no upload time is taken whatever the cutoff. Measured (pip 26.3, uv
0.13.9): pip skips the check for local files (``file://``, folders) but refuses an http(s)
source that gives no upload times ("does not provide upload-time metadata"), and cannot exempt
one source: such a compile runs without the cutoff, and says so. uv keeps find-links files and
direct references, but drops index files with no upload time (``file://`` indexes too): each
such package is exempted (``--exclude-newer-package NAME=false``). Each source is named once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import backend, cutoffs
from .assets import Asset, Index, parse_filename, url_filename
from .errors import UserError, mask_url
from .requirements import read_pins, wanted
from .settings import FILES_PAGE, SOURCES, WHEELS, Settings

TAKEN = "its files are taken whatever COOLDOWN says"
PIP_OFF = (
    "pip refuses such an index under a cutoff and cannot hold back the others alone, so this "
    "compile has no cutoff; RESOLVER=uv keeps it for every other source"
)
TRIES = 20  # compiles one lock may take while sources with no upload time are found
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
Command = Callable[[list[str]], list[str]]  # the resolver's argv, given the cooldown's options


def local_folder(location: str) -> Path | None:
    """The folder a ``file://`` URL or a path names, or None for a remote location."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(location) if not parts.scheme else None


def local_projects(index: str) -> set[str]:
    """The projects a local (``file://``) simple index has: its folders."""
    folder = local_folder(index)
    if folder is None or not folder.is_dir():
        return set()
    return {canonicalize_name(child.name) for child in folder.iterdir() if child.is_dir()}


def uploads(name: str, indexes: Sequence[str]) -> list[cutoffs.Upload]:
    """(version, upload time or None, index) of each file of ``name`` the ``indexes`` list:
    PEP 691 JSON's ``upload-time`` (PEP 700); a local index's or an HTML page's files have
    none."""
    import requests

    from . import hashes, net

    found: list[cutoffs.Upload] = []
    with net.session() as http:
        for index in indexes:
            url = f"{index.rstrip('/')}/{name}/"
            if local_folder(index) is not None:
                files = hashes.read(http, url)
                found += [(v, None, index) for f in files if (v := _version(f.url, name))]
                continue
            try:
                answer = net.get(http, url, {"Accept": f"{SIMPLE_JSON}, text/html;q=0.1"})
            except requests.RequestException:
                continue
            if answer.status != 200:
                continue
            if not answer.headers.get("Content-Type", "").startswith(SIMPLE_JSON):
                files = hashes.from_page(answer.body.decode("utf-8", "replace"), url)
                found += [(v, None, index) for f in files if (v := _version(f.url, name))]
                continue
            try:
                items = answer.json().get("files", [])
            except (ValueError, AttributeError):
                continue
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and (v := _version(str(item.get("filename", "")), name)):
                    found.append((v, cutoffs.parse_time(str(item.get("upload-time") or "")), index))
    return found


def _version(url: str, name: str) -> Version | None:
    parsed = parse_filename(url_filename(url))
    return Version(parsed[1]) if parsed and parsed[0] == canonicalize_name(name) else None


@dataclass
class Cooldown:
    """The cutoff one compile holds to, and the sources found to give no upload times."""

    cutoff: datetime | None
    duration: timedelta
    indexes: list[str]
    lock: Path
    exempt: set[str] = field(default_factory=set)  # uv: taken whatever the cutoff
    pinned: dict[str, str] = field(default_factory=dict)  # the lock's pins: kept, not taken anew
    kept: dict[str, datetime] = field(default_factory=dict)  # uv: pins newer than the cutoff
    release_source: str = ""  # MODEL_INDEX_URL, whose index.json gives no created_at
    untimed_off: str = ""  # pip: the source with no upload times that turned the cutoff off
    named: set[str] = field(default_factory=set)  # the sources named so far

    def args(self, resolver: str, also: Iterable[str] = ()) -> list[str]:
        """The resolver's options; ``also``: more packages exempted (the pins a platform's run
        is held to, chosen under the cutoff already)."""
        return cutoffs.resolver_args(resolver, self.cutoff, self.exempt | set(also), self.kept)

    def seal(self, text: str) -> str:
        """A compiled lock's ``text`` with the header line that seals this compile's cutoff."""
        return cutoffs.with_header(
            text, cutoffs.header_line(self.cutoff, self.untimed_off, self.kept)
        )

    def name(self, source: str, what: str, taken: str = TAKEN) -> None:
        """Say once that ``source`` gives no upload times, so its files are taken anyway."""
        if source not in self.named:
            self.named.add(source)
            print(f"cooldown: {mask_url(source)} gives no upload times ({what}): {taken}")

    def run(self, command: Command, settings: Settings, page: Path, made_by: str) -> str:
        """Run ``command(cooldown options)`` (backend.compile_command), exempting what the
        sources give no upload times for; return the failure's output, or ""."""
        failed = ""
        for _ in range(TRIES):
            # pip refuses a remote link with no upload time under a cutoff, and the resolver's
            # page links GitHub for the release files not fetched: pip gets the page of the
            # fetched ones alone (each release package is its file there, see lock.py).
            pip_page = FILES_PAGE if self.cutoff and settings.resolver != "uv" else page
            failed = backend.run_compile(
                command(self.args(settings.resolver)), settings, pip_page, made_by
            )
            if not failed or self.cutoff is None:
                return failed
            refused = cutoffs.refused_source(failed)
            if refused and settings.resolver != "uv":
                self.name(refused, "an index", PIP_OFF)
                self.untimed_off, self.cutoff = mask_url(refused), None
            elif not self.exempt_untimed(failed):
                return failed
        return failed

    def exempt_untimed(self, failed: str) -> bool:
        """uv's run ``failed`` for packages it dropped under the cutoff: exempt those an index
        lists with no upload time, naming the index. False when there is none (the cooldown
        left a package no candidate, or something else failed)."""
        found = set()
        for name in cutoffs.dropped(failed) - self.exempt:
            untimed = [index for _, when, index in uploads(name, self.indexes) if when is None]
            if untimed:
                found.add(name)
                self.name(untimed[0], "an index")
        self.exempt |= found
        return bool(found)

    def explain(self, failed: str, specs: Mapping[str, SpecifierSet]) -> UserError | None:
        """The cooldown's own message when it left a package with no candidate, else None."""
        if self.cutoff is None:
            return None
        for name in cutoffs.no_candidate(failed):
            spec = specs.get(name, SpecifierSet())
            found = uploads(name, self.indexes)
            if newer := cutoffs.newest_after(found, self.cutoff, spec, True):
                version, when = newer
                return UserError(self.too_new(name, str(version), when))
        return None

    def too_new(self, name: str, version: str, when: datetime) -> str:
        """One line: the cooldown left ``name`` no candidate; COOLDOWN=0 takes it now."""
        return cutoffs.too_new(name, version, when, self.cutoff, self.duration, self.lock)

    def releases(self, index: Index) -> Index:
        """``index`` without the release versions uploaded at or after the cutoff (a file whose
        ``created_at`` is not known counts as old, its source named); every name kept."""
        if self.cutoff is None:
            return index
        for repo in cutoffs.untimed_repos(index):
            self.name(self.release_source or repo, "release files")
        return cutoffs.released_before(index, self.cutoff, self.pinned)

    def release_problem(
        self, names: Iterable[str], index: Index, kept: Index, specs: Mapping[str, SpecifierSet]
    ) -> str:
        """The message for a release package whose range only newer releases than the cutoff
        fill, or ""."""
        held = cutoffs.held_release(names, index, kept, specs)
        return self.too_new(held[0], str(held[1]), held[2]) if held else ""


def start(
    settings: Settings, lock: Path, upgrade: bool, page: Path, now: datetime | None = None
) -> Cooldown:
    """The cooldown of one compile of ``lock``; names the sources that give no upload times."""
    # A lock changed by hand keeps its cutoff as `make lock` keeps its pins: an edit could move
    # either, so the cutoff is no weaker than the pins it came with.
    text = lock.read_text() if lock.is_file() else None
    cutoff = cutoffs.choose(settings, text, upgrade, now or datetime.now(UTC))
    indexes, links = backend.sources(settings, page)
    cooldown = Cooldown(cutoff, settings.cooldown, indexes, lock)
    cooldown.release_source = f"{settings.index_url}/index.json" if settings.index_url else ""
    if cutoff is None:
        return cooldown
    cooldown.pinned = read_pins(lock) if text is not None else {}
    found, before = cutoffs.sealed(text or "")
    if upgrade and found and (before is None or before > cutoff):
        keep_pins(cooldown, settings.resolver, cooldown.pinned)
    elif not upgrade and (names := cutoffs.sealed_kept(text or "")):
        keep_pins(cooldown, settings.resolver, names)
    for index in indexes:
        if local_folder(index) is not None:
            cooldown.exempt |= local_projects(index)  # uv drops them; pip keeps local files
            cooldown.name(index, "a local index")
    for location in links:
        if location == str(WHEELS) or location in settings.find_links:
            cooldown.name(location, "find-links")
    return cooldown


def keep_pins(cooldown: Cooldown, resolver: str, names: Iterable[str]) -> None:
    """An upgrade after a compile with a later cutoff (or none: an urgent fix taken with
    COOLDOWN=0) keeps each pin of ``names`` its fresh cutoff would exclude, rather than move it
    back: uv holds that package to just after its pin's upload (the lock's header names them, so
    later compiles do too); pip, which has one cutoff for all, moves the cutoff there, saying
    so."""
    assert cooldown.cutoff is not None
    for name in sorted(set(names) & cooldown.pinned.keys()):
        version = cooldown.pinned[name]
        times = [t for v, t, _ in uploads(name, cooldown.indexes) if t and str(v) == version]
        if times and max(times) >= cooldown.cutoff:
            cooldown.kept[name] = max(times) + timedelta(seconds=1)
    if cooldown.kept and resolver != "uv":
        cooldown.cutoff = max(cooldown.kept.values())
        moved, cooldown.kept = cooldown.kept, {}
        print(
            f"cooldown: {', '.join(f'{n} {cooldown.pinned[n]}' for n in moved)} in "
            f"{cooldown.lock} was uploaded after the cutoff (taken with COOLDOWN=0): pip has one "
            "cutoff for every package, so this upgrade holds them all to "
            f"{cutoffs.iso(cooldown.cutoff)}"
        )


def held_back(
    settings: Settings, lock: Path, assets: Sequence[Asset], page: Path
) -> list[str] | None:
    """What the cooldown held back in ``lock``: each pin with a newer version in its range
    uploaded after the lock's sealed cutoff, with when a `make upgrade` takes it (one line
    each); None when the lock seals no cutoff."""
    _, cutoff = cutoffs.sealed(lock.read_text()) if lock.is_file() else (False, None)
    if cutoff is None:
        return None
    indexes, _ = backend.sources(settings, page)
    specs = wanted(SOURCES)
    releases: dict[str, list[cutoffs.Upload]] = {}
    for asset in assets:
        releases.setdefault(asset.project, []).append(
            (Version(asset.version), cutoffs.created(asset), asset.repo)
        )
    lines = []
    for name, pin in sorted(read_pins(lock).items()):
        try:
            pinned = Version(pin)
        except InvalidVersion:
            continue
        spec = specs.get(name, SpecifierSet())
        candidates = releases[name] if name in releases else uploads(name, indexes)
        if newer := cutoffs.newest_after(candidates, cutoff, spec, settings.pre or None, pinned):
            version, when = newer
            lines.append(
                f"{name} {version} (uploaded {cutoffs.iso(when)}): taken by a `make upgrade` "
                f"from {cutoffs.iso(cutoffs.eligible(when, settings.cooldown))}"
            )
    return lines
