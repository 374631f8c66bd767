"""The release cooldown (COOLDOWN): a compile takes only versions uploaded before a cutoff.

Most malicious releases are found and removed within days; a compile that takes a release
published an hour ago takes it at its most dangerous. So every compile holds every package to a
cutoff instant: index packages through the resolver's own option (pip's ``--uploaded-prior-to``,
which pip-compile passes on; uv's ``--exclude-newer``, for the other platforms' runs too),
release packages by their asset's ``created_at``.

Which cutoff: `make upgrade` (``compile --upgrade``) takes a fresh one, now minus COOLDOWN
(rounded down to the day, see ``grain``);
every other compile (after an edit of requirements.in, `make verify`, a teammate's) takes the
one the lock seals in its header (``# cooldown: ...``), so it agrees with the lock, and a new
requirement gets no version newer than the last upgrade's cutoff; a lock with none (the first
compile) takes a fresh one. ``COOLDOWN=0`` turns it off for that run, and the lock seals that.

A file whose source gives no upload time is taken whatever the cutoff. Measured (pip 26.3, uv
0.13.9): pip skips the check for local files (``file://``, folders) but refuses an http(s)
source that gives no upload times ("does not provide upload-time metadata"), and cannot exempt
one source: such a compile runs without the cutoff, and says so. uv keeps find-links files and
direct references, but drops index files with no upload time (``file://`` indexes too): each
such package is exempted (``--exclude-newer-package NAME=false``). Each source is named once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import backend
from .assets import Asset, Index, parse_filename, url_filename
from .errors import UserError, mask_url
from .requirements import read_pins, wanted
from .settings import FILES_PAGE, SOURCES, UNITS, WHEELS, Settings

HEADER = "# cooldown: "  # the lock's header line recording the cutoff its compile used
# What uv says of a package it dropped under a cutoff: the hint of a range, or of a pin.
FILTERED = r"`([^`]+)` was filtered by `exclude-newer`"
NO_TIME = r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==\S+ has no publish time"
TAKEN = "its files are taken whatever COOLDOWN says"
PIP_OFF = (
    "pip refuses such an index under a cutoff and cannot hold back the others alone, so this "
    "compile has no cutoff; RESOLVER=uv keeps it for every other source"
)
TRIES = 20  # compiles one lock may take while sources with no upload time are found
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def iso(moment: datetime) -> str:
    """``moment`` as the header, pip and uv write it: UTC, to the second, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 instant (``...Z`` or with an offset; none means UTC), or None."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def label(duration: timedelta) -> str:
    """COOLDOWN as written: ``7 days``, ``12 hours``, ``0``."""
    seconds = int(duration.total_seconds())
    if not seconds:
        return "0"
    unit = max((u for u, s in UNITS.items() if seconds % s == 0), key=lambda u: UNITS[u])
    count = seconds // UNITS[unit]
    return f"{count} {unit}{'s' if count != 1 else ''}"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def grain(duration: timedelta) -> timedelta:
    """What a fresh cutoff is rounded down to: a whole UTC day for a COOLDOWN in days, an hour
    for one in hours, else a minute. Two compiles the same day then agree (a teammate's first
    compile, `make upgrade`'s two locks), at the price of a cooldown up to a grain longer."""
    for step in (timedelta(days=1), timedelta(hours=1)):
        if duration % step == timedelta(0):
            return step
    return timedelta(minutes=1)


def fresh(now: datetime, duration: timedelta) -> datetime:
    """The cutoff an upgrade at ``now`` takes: now minus ``duration``, rounded down."""
    moment = now - duration
    return moment - (moment - EPOCH) % grain(duration)


def eligible(uploaded: datetime, duration: timedelta) -> datetime:
    """When an upgrade first takes a version ``uploaded`` then: its fresh cutoff is past it."""
    step = grain(duration)
    return uploaded - (uploaded - EPOCH) % step + step + duration


def sealed(text: str) -> tuple[bool, datetime | None]:
    """(whether a lock's header records a cutoff, the cutoff or None for "no cooldown")."""
    for line in text.splitlines():
        if line.startswith(HEADER):
            found = re.match(r"uploaded before (\S+)", line.removeprefix(HEADER))
            return True, parse_time(found[1]) if found else None
    return False, None


def sealed_kept(text: str) -> list[str]:
    """The pins a lock's header says were kept though uploaded after its cutoff."""
    found = re.search(rf"(?m)^{HEADER}uploaded before \S+ \(and the pins of ([^)]*)\)$", text)
    return found[1].split(", ") if found else []


def choose(
    settings: Settings, lock_text: str | None, upgrade: bool, now: datetime
) -> datetime | None:
    """The cutoff a compile holds to: none with COOLDOWN=0; a fresh one (now minus COOLDOWN) for
    an upgrade or a lock that records none; else the one the lock seals."""
    if not settings.cooldown:
        return None
    if not upgrade and lock_text is not None:
        found, cutoff = sealed(lock_text)
        if found:
            return cutoff
    return fresh(now, settings.cooldown)


def header_line(cutoff: datetime | None, untimed_off: str = "", kept: Iterable[str] = ()) -> str:
    """The header line that seals ``cutoff`` into a lock, and the pins uploaded after it that
    an upgrade ``kept`` (uv)."""
    if cutoff is not None:
        names = f" (and the pins of {', '.join(sorted(kept))})" if kept else ""
        return f"{HEADER}uploaded before {iso(cutoff)}{names}\n"
    # No source is ever written into a lock: the compile's output names it.
    why = "a source gives no upload times" if untimed_off else "COOLDOWN=0"
    return f"{HEADER}none ({why})\n"


def with_header(text: str, line: str) -> str:
    """A compiled lock's text with ``line`` at the end of its first comments (any older
    ``# cooldown:`` line replaced)."""
    lines = [row for row in text.splitlines(keepends=True) if not row.startswith(HEADER)]
    end = next((i for i, row in enumerate(lines) if not row.startswith("#")), len(lines))
    return "".join([*lines[:end], line, *lines[end:]])


def resolver_args(resolver: str, cutoff: datetime | None, exempt: Iterable[str] = ()) -> list[str]:
    """The resolver's own options for ``cutoff``: pip-compile's ``--uploaded-prior-to`` (pip
    has no per-package exemption), uv's ``--exclude-newer`` with ``exempt`` opted out."""
    if cutoff is None:
        return []
    if resolver != "uv":
        return ["--uploaded-prior-to", iso(cutoff)]
    args = ["--exclude-newer", iso(cutoff)]
    return args + [
        a for name in sorted(set(exempt)) for a in ("--exclude-newer-package", f"{name}=false")
    ]


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


Upload = tuple[Version, datetime | None, str]  # a file's version, upload time, index


def uploads(name: str, indexes: Sequence[str]) -> list[Upload]:
    """(version, upload time or None, index) of each file of ``name`` the ``indexes`` list:
    PEP 691 JSON's ``upload-time`` (PEP 700); a local index's or an HTML page's files have
    none."""
    import requests

    from . import hashes, net

    found: list[Upload] = []
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
                    found.append((v, parse_time(str(item.get("upload-time") or "")), index))
    return found


def _version(url: str, name: str) -> Version | None:
    parsed = parse_filename(url_filename(url))
    return Version(parsed[1]) if parsed and parsed[0] == canonicalize_name(name) else None


def created(asset: Asset) -> datetime | None:
    """When a release file was uploaded (the API's ``created_at``), or None if not known."""
    return parse_time(asset.created_at) if asset.created_at else None


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
        args = resolver_args(resolver, self.cutoff, self.exempt | set(also))
        if args and resolver == "uv":
            args += [
                arg
                for name, when in sorted(self.kept.items())
                if name not in self.exempt | set(also)
                for arg in ("--exclude-newer-package", f"{name}={iso(when)}")
            ]
        return args

    def header(self) -> str:
        """The line this compile seals into its lock's header."""
        return header_line(self.cutoff, self.untimed_off, self.kept)

    def name(self, source: str, what: str, taken: str = TAKEN) -> None:
        """Say once that ``source`` gives no upload times, so its files are taken anyway."""
        if source not in self.named:
            self.named.add(source)
            print(f"cooldown: {mask_url(source)} gives no upload times ({what}): {taken}")

    def run(
        self,
        command: Callable[[list[str]], list[str]],
        settings: Settings,
        page: Path,
        made_by: str,
    ) -> str:
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
            refused = re.search(r"Index (\S+?)\.? does not provide upload-time metadata", failed)
            if refused and settings.resolver != "uv":
                source = re.sub(r"[^/]+/?$", "", refused[1].rstrip("/")) or refused[1]
                self.name(source, "an index", PIP_OFF)
                self.untimed_off, self.cutoff = mask_url(source), None
            elif not self.exempt_untimed(failed):
                return failed
        return failed

    def exempt_untimed(self, failed: str) -> bool:
        """uv's run ``failed`` for packages it dropped under the cutoff: exempt those an index
        lists with no upload time, naming the index. False when there is none (the cooldown
        left a package no candidate, or something else failed)."""
        names = re.findall(FILTERED, failed) + re.findall(NO_TIME, " ".join(failed.split()))
        found = set()
        for name in {canonicalize_name(n) for n in names} - self.exempt:
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
        names = re.findall(FILTERED, failed)
        names += re.findall(r"No matching distribution found for ([A-Za-z0-9._-]+)", failed)
        for name in map(canonicalize_name, names):
            spec = specs.get(name, SpecifierSet())
            newer = sorted(
                (v, t)
                for v, t, _ in uploads(name, self.indexes)
                if t and t >= self.cutoff and spec.contains(v, True)
            )
            if newer:
                version, when = newer[-1]
                return UserError(self.too_new(name, str(version), when))
        return None

    def too_new(self, name: str, version: str, when: datetime) -> str:
        """One line: the cooldown left ``name`` no candidate; COOLDOWN=0 takes it now."""
        return (
            f"{name}: the cooldown leaves no version in the range asked for: the newest, "
            f"{version}, was uploaded {iso(when)}, after this compile's cutoff "
            f"{iso(self.cutoff or when)} (COOLDOWN, {label(self.duration)}; the cutoff "
            f"{self.lock} seals), and a `make upgrade` takes it from "
            f"{iso(eligible(when, self.duration))}. To take it now, run the same command with "
            "COOLDOWN=0 (e.g. `make requirements.txt COOLDOWN=0`)"
        )

    def releases(self, index: Index) -> Index:
        """``index`` without the release versions uploaded at or after the cutoff (a file whose
        ``created_at`` is not known counts as old, its source named); every name kept."""
        if self.cutoff is None:
            return index
        kept: Index = {}
        for name, versions in index.items():
            kept[name] = {}
            for version, files in versions.items():
                times = [created(a) for a in files]
                if any(t is None for t in times):
                    self.name(self.release_source or files[0].repo, "release files")
                old = self.pinned.get(name) == str(version)  # a pin is kept, not taken anew
                if old or all(t is None or t < self.cutoff for t in times):
                    kept[name][version] = files
        return kept

    def release_problem(
        self, names: Iterable[str], index: Index, kept: Index, specs: Mapping[str, SpecifierSet]
    ) -> str:
        """The message for a release package whose range only newer releases than the cutoff
        fill, or ""."""
        for name in sorted(names):
            spec = specs.get(name, SpecifierSet())
            if name in index and not list(spec.filter(kept.get(name, {}), True)):
                newer = sorted(v for v in spec.filter(index[name], True))
                if newer:
                    when = min(t for a in index[name][newer[-1]] if (t := created(a)))
                    return self.too_new(name, str(newer[-1]), when)
        return ""


def start(
    settings: Settings, lock: Path, upgrade: bool, page: Path, now: datetime | None = None
) -> Cooldown:
    """The cooldown of one compile of ``lock``; names the sources that give no upload times."""
    # A lock changed by hand keeps its cutoff as `make lock` keeps its pins: an edit could move
    # either, so the cutoff is no weaker than the pins it came with.
    text = lock.read_text() if lock.is_file() else None
    cutoff = choose(settings, text, upgrade, now or datetime.now(UTC))
    indexes, links = backend.sources(settings, page)
    cooldown = Cooldown(cutoff, settings.cooldown, indexes, lock)
    cooldown.release_source = f"{settings.index_url}/index.json" if settings.index_url else ""
    if cutoff is None:
        return cooldown
    cooldown.pinned = read_pins(lock) if text is not None else {}
    found, before = sealed(text or "")
    if upgrade and found and (before is None or before > cutoff):
        keep_pins(cooldown, settings.resolver, cooldown.pinned)
    elif not upgrade and (names := sealed_kept(text or "")):
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
            f"cutoff for every package, so this upgrade holds them all to {iso(cooldown.cutoff)}"
        )


def held_back(
    settings: Settings, lock: Path, assets: Sequence[Asset], page: Path
) -> list[str] | None:
    """What the cooldown held back in ``lock``: each pin with a newer version in its range
    uploaded after the lock's sealed cutoff, with when a `make upgrade` takes it (one line
    each); None when the lock seals no cutoff."""
    _, cutoff = sealed(lock.read_text()) if lock.is_file() else (False, None)
    if cutoff is None:
        return None
    indexes, _ = backend.sources(settings, page)
    specs = wanted(SOURCES)
    releases: dict[str, list[Upload]] = {}
    for asset in assets:
        releases.setdefault(asset.project, []).append(
            (Version(asset.version), created(asset), asset.repo)
        )
    lines = []
    for name, pin in sorted(read_pins(lock).items()):
        try:
            pinned = Version(pin)
        except InvalidVersion:
            continue
        spec = specs.get(name, SpecifierSet())
        candidates = releases[name] if name in releases else uploads(name, indexes)
        newer = sorted(
            (v, t)
            for v, t, _ in candidates
            if v > pinned
            and t is not None
            and t >= cutoff
            and spec.contains(v, settings.pre or None)
        )
        if newer:
            version, when = newer[-1]
            lines.append(
                f"{name} {version} (uploaded {iso(when)}): taken by a `make upgrade` from "
                f"{iso(eligible(when, settings.cooldown))}"
            )
    return lines
