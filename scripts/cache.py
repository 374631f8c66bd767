"""build/release-files/: each release file a compile or an install needs, fetched once and hashed
once.

Model wheels are big. Left alone, pip-compile downloads a release file to read its metadata and
again to hash it, and pip-sync downloads it once more to install it. ``ReleaseFiles`` downloads
each chosen file once, hashing it as it arrives (net.Downloader), checks it (the API's size and
digest, or the hash a lock pins), records its sha256 in build/release-files/SHA256SUMS and,
whenever that changes, re-renders the links page, whose link for a cached file points at the
local copy (page.py).

Each file's stamp is recorded beside its sha256 (SHA256SUMS.stamps, see files.py), so a later
check (``holds``: every install, every compile) trusts the recorded sha256 without reading the
file while the file is provably the one hashed, and hashes it again when it may not be (changed
in place, or restored from a CI cache: a new inode). `make verify` hashes every file whatever
its stamp.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from . import page
from .assets import Asset, by_project, installable_files, linkable, url_filename
from .errors import BrokeOff, NotFound, UserError, mask_url
from .files import (
    Stamp,
    read_sha256sums,
    read_stamps,
    settled_stamp,
    sha256_file,
    write_sha256sums,
    write_stamps,
)
from .requirements import pinned, read_lines, release_urls
from .settings import (
    BUILD,
    FILES_PAGE,
    LINKS_PAGE,
    RELEASE_FILES,
    RESOLVER_PAGE,
    SHA256SUMS,
    STAMPS,
    Settings,
)

if TYPE_CHECKING:
    from .net import Download, Downloader

# Held while release files are fetched (beside the cache: pip and uv read build/release-files).
FETCH_LOCK = BUILD / "release-files.lock"

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

    ``assets`` are the listing's (the manifest), which the links page shows; none in a fresh
    clone, which fetches what its lock records and needs no page. ``quiet``: no line per file
    fetched."""

    def __init__(self, settings: Settings, assets: Sequence[Asset] = (), quiet: bool = False):
        self.settings = settings
        self.assets = list(assets)
        self.quiet = quiet
        self.sums = read_sha256sums(SHA256SUMS)

    def has(self, filename: str) -> bool:
        """Is ``filename`` fetched and recorded?"""
        return filename in self.sums and (RELEASE_FILES / filename).is_file()

    def ensure(self, assets: Iterable[Asset]) -> dict[str, str]:
        """Fetch every asset not fetched yet; return SHA256SUMS as {file name: sha256}."""
        missing = {asset.filename: asset for asset in assets if not self.has(asset.filename)}
        if missing:
            with _downloader() as fetch:
                for filename in _fetched(self.sums, missing):
                    del missing[filename]
                for filename in sorted(missing):
                    target = RELEASE_FILES / filename
                    digest = _fetch_asset(fetch, self.settings, missing[filename], target)
                    _keep(self.sums, filename, digest, self.quiet)
                if self.assets:  # under the lock: what another command recorded stays linked
                    page.write(LINKS_PAGE, self.assets, self.sums)
        return self.sums

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
            with _downloader() as fetch:
                for filename in _fetched(self.sums, list(missing)):
                    del missing[filename]
                for filename in sorted(missing):
                    url, pinned_hashes = missing[filename]
                    digest = _fetch_recorded(fetch, url, RELEASE_FILES / filename)
                    if digest not in pinned_hashes:
                        (RELEASE_FILES / filename).unlink()
                        raise UserError(
                            f"{filename}: its sha256 {digest} is not one {lock} pins for it (the "
                            "file at that URL changed since the lock was made); nothing was kept"
                        )
                    _keep(self.sums, filename, digest, self.quiet)

    def download_to(self, asset: Asset, target: Path) -> str:
        """Download ``asset`` to ``target``, outside the cache, checked; return its sha256."""
        with _downloader() as fetch:
            return _fetch_asset(fetch, self.settings, asset, target)

    def render(self) -> None:
        """Write the links page of every listed asset, and the page of the fetched files."""
        page.write(LINKS_PAGE, self.assets, self.sums)
        page.write_files(FILES_PAGE, self.sums)

    def render_resolver(self, reachable: Iterable[str]) -> None:
        """Write the resolver's page: the files of the release packages ``reachable`` names."""
        names = set(reachable)
        page.write(RESOLVER_PAGE, [a for a in self.assets if a.project in names], self.sums)


# Fetching and recording one release file: functions of plain values, which ReleaseFiles calls.


@contextmanager
def _downloader() -> Iterator[Downloader]:
    """A downloader with one session, holding the cache's fetch lock. The network modules
    (requests takes 0.1 s to import) are imported here, when a file is to be fetched, so a run
    with every file in the cache (an edit, an install) never pays for them.

    The lock (``flock``: held per open file, so by one process or thread at a time, freed by
    the operating system however it ends) is for the commands one run starts together (`make
    -j`: the install's fetch and `compile --dev` both fetch a missing pinned file): the second
    waits, then finds the file recorded (``_fetched``) instead of writing it a second time."""
    from . import net

    RELEASE_FILES.mkdir(parents=True, exist_ok=True)
    with FETCH_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with net.Downloader() as fetch:
            yield fetch


def _fetched(sums: dict[str, str], filenames: Iterable[str]) -> list[str]:
    """Of ``filenames``, those another command fetched and recorded meanwhile (read under the
    fetch lock); ``sums`` takes in what SHA256SUMS records now, so nothing recorded is lost."""
    sums.update(read_sha256sums(SHA256SUMS))
    return [name for name in filenames if name in sums and (RELEASE_FILES / name).is_file()]


def _keep(sums: dict[str, str], filename: str, sha256: str, quiet: bool) -> None:
    """Record a file just fetched into the cache (hashed as it arrived): its sha256 in ``sums``
    and SHA256SUMS, its stamp, and its link on the page of fetched files."""
    sums[filename] = sha256
    write_sha256sums(SHA256SUMS, sums)
    stamps = read_stamps(STAMPS)
    stamp = settled_stamp(RELEASE_FILES / filename)
    if stamp is None:
        stamps.pop(filename, None)  # hashed again at its next check
    else:
        stamps[filename] = (sha256, stamp)
    write_stamps(STAMPS, stamps)
    page.write_files(FILES_PAGE, sums)
    if not quiet:
        print(f"release-files: cached {filename}")


def _asset_downloads(settings: Settings, asset: Asset, target: Path) -> list[Download]:
    """Where a listed asset comes from, in the order to ask: its download URL, with no token;
    then, for a private repository (its download URL answers 404 to a token: GitHub's docs)
    where a token for its API is set, its API URL with ``Accept: application/octet-stream`` and
    the token, which goes to the API alone (the redirect to the storage host is followed
    without it)."""
    from .net import Download

    public = Download(asset.url, target, asset.sha256, asset.size or None, netrc=False)
    token = settings.token_for(asset.api_url) if asset.api_url else None
    if token is None:
        return [public]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/octet-stream"}
    private = Download(asset.api_url, target, public.sha256, public.size, headers, False)
    return [public, private]


def _fetch_asset(fetch: Downloader, settings: Settings, asset: Asset, target: Path) -> str:
    """Download one listed asset, checked (status, not HTML, the API's size and digest); every
    failure one message naming the release and what to do."""
    downloads = _asset_downloads(settings, asset, target)
    try:
        return fetch.first_found(*downloads)
    except NotFound as exc:
        if len(downloads) > 1:  # its API URL, with the token, answered 404 too
            raise _failed(asset, exc) from None
        raise UserError(
            f"{mask_url(asset.url)} answered 404: if {asset.repo} is private, set the token "
            "that can read it (GITHUB_TOKEN for GITHUB_API_URL's host)"
        ) from None
    except BrokeOff as exc:
        if exc.kept is None:
            raise _failed(asset, exc) from None
        raise UserError(
            f"release file of {asset.repo} {asset.tag}: {exc}. Run the same command again "
            "to continue the download"
        ) from None
    except UserError as exc:
        raise _failed(asset, exc) from None


def _failed(asset: Asset, exc: UserError) -> UserError:
    """The message of a download of ``asset`` that failed and kept nothing."""
    return UserError(
        f"release file of {asset.repo} {asset.tag}: {exc}; nothing was kept. Run the same "
        "command again later; if it fails again, run `make links` to refresh the links "
        f"page (and if a hash differs again, tell the maintainers of {asset.repo})"
    )


def _fetch_recorded(fetch: Downloader, url: str, target: Path) -> str:
    """Download a file a lock records; return its sha256 (the caller checks it)."""
    from .net import Download

    try:
        return fetch(Download(url, target, netrc=False))
    except NotFound:
        raise UserError(
            f"{mask_url(url)} answered 404: if the repository is private, run "
            "`make links` with the token that can read it, then the same command again"
        ) from None
    except BrokeOff as exc:
        if exc.kept is None:
            raise
        raise UserError(f"{exc}. Run the same command again to continue the download") from None
