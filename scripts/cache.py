"""build/release-files/: each release file a compile or an install needs, fetched once.

Model wheels are big. Left alone, pip-compile downloads a release file to read its metadata and
again to hash it, and pip-sync downloads it once more to install it. ``ReleaseFiles`` downloads
each chosen file once, checks it (the API's size and digest, or the hash a lock pins), records
its sha256 in build/release-files/SHA256SUMS and, whenever that changes, re-renders the links
page, whose link for a cached file points at the local copy (page.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from packaging.version import Version

from . import page
from .assets import Asset, by_project, installable_files, linkable, url_filename
from .errors import BrokeOff, NotFound, UserError, mask_url
from .files import read_sha256sums, write_sha256sums
from .requirements import pinned, read_lines, release_urls
from .settings import FILES_PAGE, LINKS_PAGE, RELEASE_FILES, RESOLVER_PAGE, SHA256SUMS, Settings

Download = Callable[..., str]  # net.download with a session bound: (url, target, ...) -> sha256
Fetcher = Callable[[Download, Path], str]  # downloads one file there, returns its sha256


@contextmanager
def downloader() -> Iterator[Download]:
    """``net.download`` with one session bound. The network modules (requests takes 0.1 s to
    import) are imported here, when a file is to be fetched, so a run with every file in the
    cache (an edit, an install) never pays for them."""
    from . import net

    with net.session() as http:
        yield functools.partial(net.download, http)


class ReleaseFiles:
    """The fetched release files and their recorded hashes, and the pages that link them.

    ``assets`` are the listing's (the manifest), which the links page shows; none in a fresh
    clone, which fetches what its lock records and needs no page."""

    def __init__(self, settings: Settings, assets: Sequence[Asset] = ()) -> None:
        self.settings = settings
        self.assets = list(assets)
        self.sums = read_sha256sums(SHA256SUMS)
        self.quiet = False

    def has(self, filename: str) -> bool:
        """Is ``filename`` fetched and recorded?"""
        return filename in self.sums and (RELEASE_FILES / filename).is_file()

    def ensure(self, assets: Iterable[Asset]) -> dict[str, str]:
        """Fetch every asset not fetched yet; return SHA256SUMS as {file name: sha256}."""
        self._fetch_each({a.filename: self._fetcher(a) for a in assets})
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
        fetchers = {}
        for name, urls in sorted(release_urls(lock).items()):
            for url in urls:
                filename = url_filename(url)
                parsed = linkable(filename, url)
                if parsed is None or parsed[0] != name:
                    raise UserError(
                        f"{lock}: {filename!r} is not a file of {name}: run `make lock`"
                    )
                fetchers[filename] = self._recorded_fetcher(
                    url, filename, hashes.get(name, set()), lock
                )
        self._fetch_each(fetchers)

    def download_to(self, asset: Asset, target: Path) -> str:
        """Download ``asset`` to ``target``, outside the cache, checked; return its sha256."""
        with downloader() as download:
            return self._fetcher(asset)(download, target)

    def render(self) -> None:
        """Write the links page of every listed asset, and the page of the fetched files."""
        page.write(LINKS_PAGE, self.assets, self.sums)
        page.write_files(FILES_PAGE, self.sums)

    def render_resolver(self, reachable: Iterable[str]) -> None:
        """Write the resolver's page: the files of the release packages ``reachable`` names."""
        names = set(reachable)
        page.write(RESOLVER_PAGE, [a for a in self.assets if a.project in names], self.sums)

    def _fetch_each(self, fetchers: dict[str, Fetcher]) -> None:
        """Run the fetcher of each file not fetched yet (sorted by name), recording each file's
        sha256 as soon as it is in place; re-render the page when anything was fetched."""
        missing = sorted(name for name in fetchers if not self.has(name))
        if not missing:
            return
        RELEASE_FILES.mkdir(parents=True, exist_ok=True)
        with downloader() as download:
            for filename in missing:
                self.sums[filename] = fetchers[filename](download, RELEASE_FILES / filename)
                write_sha256sums(SHA256SUMS, self.sums)
                page.write_files(FILES_PAGE, self.sums)
                if not self.quiet:
                    print(f"release-files: cached {filename}")
        if self.assets:
            page.write(LINKS_PAGE, self.assets, self.sums)

    def _fetcher(self, asset: Asset) -> Fetcher:
        """Download one listed asset, checked (status, not HTML, the API's size and digest).

        A public asset comes from its download URL, with no token. Where that answers 404 and a
        token for the asset's API is set (a private repository: notes row 6), it comes from the
        asset's API URL with ``Accept: application/octet-stream`` and the token, which goes to
        the API alone: the redirect to the storage host is followed without it.
        """

        def fetch(download: Download, target: Path) -> str:
            size = asset.size or None
            try:
                try:
                    return download(asset.url, target, asset.sha256, size, netrc=False)
                except NotFound:
                    token = self.settings.token_for(asset.api_url) if asset.api_url else None
                    if token is None:
                        raise UserError(
                            f"{mask_url(asset.url)} answered 404: if {asset.repo} is private, "
                            "set the token that can read it (GITHUB_TOKEN for GITHUB_API_URL's "
                            "host)"
                        ) from None
                    headers = {
                        "Authorization": f"Bearer {token}",
                        "Accept": "application/octet-stream",
                    }
                    return download(asset.api_url, target, asset.sha256, size, headers, False)
            except UserError as exc:
                if isinstance(exc, BrokeOff) and exc.kept is not None:
                    raise UserError(
                        f"release file of {asset.repo} {asset.tag}: {exc}. Run the same command "
                        "again to continue the download"
                    ) from None
                raise UserError(
                    f"release file of {asset.repo} {asset.tag}: {exc}; nothing was kept. Run "
                    "the same command again later; if it fails again, run `make links` to "
                    "refresh the links page (and if a hash differs again, tell the maintainers "
                    f"of {asset.repo})"
                ) from None

        return fetch

    def _recorded_fetcher(self, url: str, filename: str, hashes: set[str], lock: Path) -> Fetcher:
        """Download a file a lock records; its sha256 must be one the lock pins."""

        def fetch(download: Download, target: Path) -> str:
            try:
                digest = download(url, target, netrc=False)
            except NotFound:
                raise UserError(
                    f"{mask_url(url)} answered 404: if the repository is private, run "
                    "`make links` with the token that can read it, then the same command again"
                ) from None
            except BrokeOff as exc:
                if exc.kept is None:
                    raise
                raise UserError(
                    f"{exc}. Run the same command again to continue the download"
                ) from None
            if digest not in hashes:
                target.unlink()
                raise UserError(
                    f"{filename}: its sha256 {digest} is not one {lock} pins for it (the file at "
                    "that URL changed since the lock was made); nothing was kept"
                )
            return digest

        return fetch
