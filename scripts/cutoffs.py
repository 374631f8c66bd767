"""The release cooldown's rule as values (pure): the cutoff a compile holds to, the lock header
line that seals it, each resolver's options for it, what a resolver says when the cutoff drops
a package, and the message when it leaves a requirement no version. cooldown.py applies the
rule to one compile; nothing here reads a file or asks a source.

Which cutoff: `make upgrade` (``compile --upgrade``) takes a fresh one, now minus COOLDOWN
(rounded down to the day, see ``grain``);
every other compile (after an edit of requirements.in, `make verify`, a teammate's) takes the
one the lock seals in its header (``# cooldown: ...``), so it agrees with the lock, and a new
requirement gets no version newer than the last upgrade's cutoff; a lock with none (the first
compile) takes a fresh one. ``COOLDOWN=0`` turns it off for that run, and the lock seals that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .assets import Asset, Index
from .settings import UNITS, Settings

HEADER = "# cooldown: "  # the lock's header line recording the cutoff its compile used
# What uv says of a package it dropped under a cutoff: the hint of a range, or of a pin.
FILTERED = r"`([^`]+)` was filtered by `exclude-newer`"
NO_TIME = r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==\S+ has no publish time"
# What pip says of an index that gives no upload times, which it refuses under a cutoff.
REFUSED = r"Index (\S+?)\.? does not provide upload-time metadata"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Upload = tuple[Version, datetime | None, str]  # a file's version, upload time, and where listed


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


def created(asset: Asset) -> datetime | None:
    """When a release file was uploaded (the API's ``created_at``), or None if not known."""
    return parse_time(asset.created_at) if asset.created_at else None


def label(duration: timedelta) -> str:
    """COOLDOWN as written: ``7 days``, ``12 hours``, ``0``."""
    seconds = int(duration.total_seconds())
    if not seconds:
        return "0"
    unit = max((u for u, s in UNITS.items() if seconds % s == 0), key=lambda u: UNITS[u])
    count = seconds // UNITS[unit]
    return f"{count} {unit}{'s' if count != 1 else ''}"


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


def resolver_args(
    resolver: str,
    cutoff: datetime | None,
    exempt: Iterable[str] = (),
    kept: Mapping[str, datetime] | None = None,
) -> list[str]:
    """The resolver's own options for ``cutoff``: pip-compile's ``--uploaded-prior-to`` (pip
    has no per-package exemption), uv's ``--exclude-newer`` with ``exempt`` opted out and each
    pin an upgrade ``kept`` held to its own cutoff."""
    if cutoff is None:
        return []
    if resolver != "uv":
        return ["--uploaded-prior-to", iso(cutoff)]
    exempt = set(exempt)
    args = ["--exclude-newer", iso(cutoff)]
    args += [a for name in sorted(exempt) for a in ("--exclude-newer-package", f"{name}=false")]
    return args + [
        arg
        for name, when in sorted((kept or {}).items())
        if name not in exempt
        for arg in ("--exclude-newer-package", f"{name}={iso(when)}")
    ]


def dropped(failed: str) -> set[str]:
    """The packages uv's failed output ``failed`` says it dropped under the cutoff."""
    names = re.findall(FILTERED, failed) + re.findall(NO_TIME, " ".join(failed.split()))
    return {canonicalize_name(n) for n in names}


def refused_source(failed: str) -> str:
    """The source pip's failed output says gives no upload times (its index, not the project
    page named), or ""."""
    refused = re.search(REFUSED, failed)
    if not refused:
        return ""
    return re.sub(r"[^/]+/?$", "", refused[1].rstrip("/")) or refused[1]


def no_candidate(failed: str) -> list[str]:
    """The packages a failed output says had no version left, in the order it names them."""
    names = re.findall(FILTERED, failed)
    names += re.findall(r"No matching distribution found for ([A-Za-z0-9._-]+)", failed)
    return [canonicalize_name(n) for n in names]


def newest_after(
    found: Iterable[Upload],
    cutoff: datetime,
    spec: SpecifierSet,
    prereleases: bool | None,
    above: Version | None = None,
) -> tuple[Version, datetime] | None:
    """The newest of ``found`` in ``spec`` (and newer than ``above``) uploaded at or after
    ``cutoff``, with its upload time; None when there is none."""
    newer = sorted(
        (v, t)
        for v, t, _ in found
        if (above is None or v > above)
        and t is not None
        and t >= cutoff
        and spec.contains(v, prereleases)
    )
    return newer[-1] if newer else None


def released_before(index: Index, cutoff: datetime, pinned: Mapping[str, str]) -> Index:
    """``index`` without the release versions uploaded at or after ``cutoff`` (a file whose
    ``created_at`` is not known counts as old; a version ``pinned`` is kept, not taken anew);
    every name kept."""
    kept: Index = {}
    for name, versions in index.items():
        kept[name] = {}
        for version, files in versions.items():
            times = [created(a) for a in files]
            old = pinned.get(name) == str(version)
            if old or all(t is None or t < cutoff for t in times):
                kept[name][version] = files
    return kept


def untimed_repos(index: Index) -> list[str]:
    """The repository of each release version in ``index`` with a file of no known upload
    time."""
    return [
        files[0].repo
        for versions in index.values()
        for files in versions.values()
        if any(created(a) is None for a in files)
    ]


def held_release(
    names: Iterable[str], index: Index, kept: Index, specs: Mapping[str, SpecifierSet]
) -> tuple[str, Version, datetime] | None:
    """The first release package of ``names`` whose range only releases of ``index`` that the
    cooldown did not keep fill: its newest such version and that one's upload time."""
    for name in sorted(names):
        spec = specs.get(name, SpecifierSet())
        if name in index and not list(spec.filter(kept.get(name, {}), True)):
            newer = sorted(v for v in spec.filter(index[name], True))
            if newer:
                when = min(t for a in index[name][newer[-1]] if (t := created(a)))
                return name, newer[-1], when
    return None


def too_new(
    name: str,
    version: str,
    when: datetime,
    cutoff: datetime | None,
    duration: timedelta,
    lock: Path,
) -> str:
    """One line: the cooldown (``duration``, the ``cutoff`` ``lock`` seals) left ``name`` no
    candidate, its newest ``version`` uploaded ``when``; COOLDOWN=0 takes it now."""
    return (
        f"{name}: the cooldown leaves no version in the range asked for: the newest, "
        f"{version}, was uploaded {iso(when)}, after this compile's cutoff "
        f"{iso(cutoff or when)} (COOLDOWN, {label(duration)}; the cutoff "
        f"{lock} seals), and a `make upgrade` takes it from "
        f"{iso(eligible(when, duration))}. To take it now, run the same command with "
        "COOLDOWN=0 (e.g. `make requirements.txt COOLDOWN=0`)"
    )
