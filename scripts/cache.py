"""build/release-files/: each release file a compile or an install needs, fetched once and hashed
once.

Model wheels are big. Left alone, pip-compile downloads a release file to read its metadata and
again to hash it, and pip-sync downloads it once more to install it. ``ReleaseFiles`` downloads
each chosen file once, hashing it as it arrives (net.Downloader), checks it (the API's size and
digest, or the hash a lock pins), records its sha256 in build/release-files/SHA256SUMS and,
whenever that changes, re-renders the links page, whose link for a cached file points at the
local copy (page.py). Fetching is fetch.py's: a compile's files arrive while it resolves.

Each file's stamp is recorded beside its sha256 (SHA256SUMS.stamps, see files.py), so a later
check (``holds``: every install, every compile) trusts the recorded sha256 without reading the
file while the file is provably the one hashed, and hashes it again when it may not be (changed
in place, or restored from a CI cache: a new inode). `make verify` hashes every file whatever
its stamp.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from packaging.version import Version

from . import fetch, page
from .assets import Asset, by_project, installable_files, linkable, url_filename
from .errors import UserError
from .files import (
    Stamp,
    read_sha256sums,
    read_stamps,
    settled_stamp,
    sha256_file,
    write_stamps,
)
from .requirements import pinned, read_lines, release_urls
from .settings import (
    FILES_PAGE,
    LINKS_PAGE,
    RELEASE_FILES,
    RELEASE_STUBS,
    RESOLVER_PAGE,
    SHA256SUMS,
    STAMPS,
    Settings,
)

# The files this process hashed itself, by name and stamp: `make verify` checks two locks that
# pin the same model, and hashes it once.
_HASHED_HERE: set[tuple[str, Stamp]] = set()


def holds(filename: str, sha256: str | None, rehash: bool = False) -> bool:
    """Whether build/release-files/FILENAME is the file whose sha256 is ``sha256``.

    While its stamp is the one recorded when it was hashed, the recorded sha256 answers and the
    file is not read; otherwise (or with ``rehash``, unless this process hashed it) it is
    hashed, and its new stamp recorded with what it hashed to."""
    path = RELEASE_FILES / filename
    stamps = read_stamps(STAMPS)
    recorded = stamps.get(filename)
    now = Stamp.of(path)
    if recorded and recorded[1] == now and (not rehash or (filename, now) in _HASHED_HERE):
        return recorded[0] == sha256
    before = settled_stamp(path)
    digest = sha256_file(path)
    if before is not None and Stamp.of(path) == before:  # not changed while it was read
        stamps[filename] = (digest, before)
        write_stamps(STAMPS, stamps)
        _HASHED_HERE.add((filename, before))
    return digest == sha256


class ReleaseFiles:
    """The fetched release files and their recorded hashes, and the pages that link them.

    ``assets``: the listing's (the manifest), which the links page shows; none in a fresh clone
    (it fetches what its lock records, with no page). ``quiet``: no line per file fetched."""

    def __init__(self, settings: Settings, assets: Sequence[Asset] = (), quiet: bool = False):
        self.settings, self.assets, self.quiet = settings, list(assets), quiet
        self.sums = read_sha256sums(SHA256SUMS)
        self._early: fetch.Early | None = None
        self._reachable: set[str] | None = None  # the resolver page's release packages

    def has(self, filename: str) -> bool:
        """Is ``filename`` fetched and recorded?"""
        return filename in self.sums and (RELEASE_FILES / filename).is_file()

    def ensure(self, assets: Iterable[Asset], early: bool = False) -> dict[str, str]:
        """Fetch every asset not fetched yet; return SHA256SUMS as {file name: sha256}. With
        ``early``, return once a stub stands in for each (``path``), the files downloading
        meanwhile (fetch.Early): each next call waits for them."""
        self.wait()
        missing = {asset.filename: asset for asset in assets if not self.has(asset.filename)}
        if missing and early:
            self._early = fetch.Early(self.settings, self.sums, missing, self.assets, self.quiet)
        elif missing:
            fetch.fetch_all(self.settings, self.sums, missing, self.assets, self.quiet)
        return self.sums

    def path(self, filename: str) -> Path:
        """Where the resolver reads ``filename``: its stub while it downloads, else the file."""
        return (self._early.stubs if self._early else {}).get(filename, RELEASE_FILES / filename)

    def downloading(self) -> bool:
        """Are files fetched early still arriving?"""
        return self._early is not None and self._early.thread.is_alive()

    def wait(self) -> None:
        """Wait for the files fetched early; take in what they recorded, and link them."""
        early, self._early = self._early, None
        if early is not None:
            self.sums = early.result()
            if self._reachable is not None:
                self.render_resolver(self._reachable)

    @contextmanager
    def fetching(self) -> Iterator[None]:
        """A block that may fetch early: when it fails, its downloads still end (the next run
        finds the files), unless it is interrupted; its stubs are removed."""
        try:
            yield
            self.wait()
        except Exception:
            with suppress(UserError):  # the block's own failure is the one to tell
                self.wait()
            raise
        finally:
            shutil.rmtree(RELEASE_STUBS, ignore_errors=True)

    def ensure_pinned(self, lock: Path) -> dict[str, str]:
        """Fetch the release files of each release package ``lock`` pins."""
        index = by_project(self.assets)
        return self.ensure(
            asset
            for _, name, version in pinned(read_lines(lock))
            if Version(version) in index.get(name, {})
            for asset in installable_files(index[name][Version(version)])
        )

    def fetch_recorded(self, lock: Path) -> None:
        """Fetch the release files ``lock`` records (its ``# release: URL`` lines), with no API
        request: each must have one of the hashes the lock pins for it."""
        hashes = {name: set(line.hashes) for line, name, _ in pinned(read_lines(lock))}
        missing: dict[str, tuple[str, set[str]]] = {}
        for name, urls in sorted(release_urls(lock).items()):
            for url in urls:
                filename = url_filename(url)
                parsed = linkable(filename, url)
                if parsed is None or parsed[0] != name:
                    raise UserError(
                        f"{lock}: {filename!r} is not a file of {name}: run `make lock`"
                    )
                if not self.has(filename):
                    missing[filename] = (url, hashes.get(name, set()))
        if missing:
            fetch.fetch_all_recorded(self.sums, missing, lock, self.quiet)

    def download_to(self, asset: Asset, target: Path) -> str:
        """Download ``asset`` to ``target``, outside the cache, checked; return its sha256."""
        with fetch.downloader() as get:
            return fetch.fetch_asset(get, self.settings, asset, target)

    def render(self) -> None:
        """Write the links page of every listed asset, and the page of the fetched files."""
        page.write(LINKS_PAGE, self.assets, self.sums)
        page.write_files(FILES_PAGE, self.sums)

    def render_resolver(self, reachable: Iterable[str]) -> None:
        """Write the resolver's page: the files of the release packages ``reachable`` names."""
        self._reachable = names = set(reachable)
        page.write(RESOLVER_PAGE, [a for a in self.assets if a.project in names], self.sums)
