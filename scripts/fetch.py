"""Fetching release files into build/release-files, and recording them (cache.py says why):
one after another, or in a thread of their own while the compile resolves (``Early``), each
stood in for by a stub of its metadata meanwhile (stubs.py). Functions of plain values, which
cache.ReleaseFiles calls.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from . import page, stubs
from .assets import Asset
from .errors import BrokeOff, NotFound, UserError, mask_url
from .files import read_sha256sums, read_stamps, settled_stamp, write_sha256sums, write_stamps
from .settings import (
    BUILD,
    FILES_PAGE,
    LINKS_PAGE,
    RELEASE_FILES,
    RELEASE_STUBS,
    SHA256SUMS,
    STAMPS,
    Settings,
)

if TYPE_CHECKING:
    from .net import Download, Downloader

# Held while release files are fetched (beside the cache: pip and uv read build/release-files).
FETCH_LOCK = BUILD / "release-files.lock"
# The smallest file fetched early: a smaller one arrives about as soon as its metadata would.
EARLY_FROM = 1 << 20


@contextmanager
def downloader() -> Iterator[Downloader]:
    """A downloader with one session, holding the cache's fetch lock. The network modules
    (requests takes 0.1 s to import) are imported here, when a file is to be fetched, so a run
    with every file in the cache (an edit, an install) never pays for them.

    The lock (``flock``: held per open file, so by one process or thread at a time, freed by
    the operating system however it ends) is for the commands one run starts together (`make
    -j`: the install's fetch and `compile --dev` both fetch a missing pinned file): the second
    waits, then finds the file recorded (``fetched``) instead of writing it a second time."""
    from . import net

    RELEASE_FILES.mkdir(parents=True, exist_ok=True)
    with FETCH_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with net.Downloader() as fetch:
            yield fetch


def fetch_all(
    settings: Settings,
    sums: dict[str, str],
    missing: dict[str, Asset],
    assets: Sequence[Asset],
    quiet: bool,
) -> None:
    """Fetch and record each of ``missing`` that no other command fetched meanwhile; the links
    page of ``assets`` (if any) then links them."""
    with downloader() as fetch:
        for filename in fetched(sums, missing):
            del missing[filename]
        for filename in sorted(missing):
            digest = fetch_asset(fetch, settings, missing[filename], RELEASE_FILES / filename)
            keep(sums, filename, digest, quiet)
        if assets:  # under the lock: what another command recorded stays linked
            page.write(LINKS_PAGE, assets, sums)


class Early:
    """The missing files fetched in a thread of its own, on a copy of the sums (recorded under
    the fetch lock, as ever): first the small ones and those no wheel, then the big wheels,
    while a stub (stubs.py) of each is made to stand in for it meanwhile. The making returns
    once the first group is in and every big wheel has its stub (else once all are in);
    ``result`` waits for all. A big wheel is one of at least EARLY_FROM bytes (its size listed);
    its stub is made where its server answers ranges."""

    def __init__(
        self,
        settings: Settings,
        sums: dict[str, str],
        missing: dict[str, Asset],
        assets: Sequence[Asset],
        quiet: bool,
    ) -> None:
        self.sums = dict(sums)
        big = {f: a for f, a in missing.items() if f.endswith(".whl") and a.size >= EARLY_FROM}
        steps = [
            partial(fetch_all, settings, self.sums, part, list(assets), quiet) if part else None
            for part in ({f: a for f, a in missing.items() if f not in big}, big)
        ]
        self.failed: BaseException | None = None
        self.first_in = threading.Event()
        self.thread = threading.Thread(target=self._run, args=steps, daemon=True)
        self.thread.start()
        try:
            self.stubs = _stand_in(settings, big)  # file name: its stub, until ``result``
        except Exception:
            self.thread.join()  # as ReleaseFiles.fetching: the downloads end, this is told
            raise
        self.first_in.wait()
        if self.failed is not None or len(self.stubs) < len(big):
            self.result()

    def _run(self, *steps: Callable[[], None] | None) -> None:
        try:
            for step in steps:
                if step is not None:
                    step()
                self.first_in.set()
        except BaseException as exc:  # raised again by result(), in the caller's thread
            self.failed = exc
        finally:
            self.first_in.set()

    def result(self) -> dict[str, str]:
        """The sums once every download ended (a download's failure is raised here); each file
        fetched must have the metadata its stub gave the resolver."""
        self.thread.join()
        if self.failed is not None:
            raise self.failed
        for filename, stub in sorted(self.stubs.items()):
            if not stubs.same(stub, RELEASE_FILES / filename):
                raise UserError(
                    f"{filename}: its metadata, read before its download ended, is not the "
                    "downloaded file's (the file changed on the server meanwhile); the file is "
                    "kept, checked as ever: run the same command again"
                )
        return self.sums


def _stand_in(settings: Settings, big: dict[str, Asset]) -> dict[str, Path]:
    """{file name: its stub} for each of ``big`` whose server answers ranges (see ``Early``)."""
    from . import net

    made = {}
    with net.Downloader(net.session(netrc=False)) as fetch:
        for filename, asset in sorted(big.items()):
            stub = RELEASE_STUBS / filename
            if stubs.make(fetch, asset_downloads(settings, asset, stub), asset.size, stub):
                made[filename] = stub
    return made


def fetched(sums: dict[str, str], filenames: Iterable[str]) -> list[str]:
    """Of ``filenames``, those another command fetched and recorded meanwhile (read under the
    fetch lock); ``sums`` takes in what SHA256SUMS records now, so nothing recorded is lost."""
    sums.update(read_sha256sums(SHA256SUMS))
    return [name for name in filenames if name in sums and (RELEASE_FILES / name).is_file()]


def keep(sums: dict[str, str], filename: str, sha256: str, quiet: bool) -> None:
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


def asset_downloads(settings: Settings, asset: Asset, target: Path) -> list[Download]:
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


def fetch_asset(fetch: Downloader, settings: Settings, asset: Asset, target: Path) -> str:
    """Download one listed asset, checked (status, not HTML, the API's size and digest); every
    failure one message naming the release and what to do."""
    downloads = asset_downloads(settings, asset, target)
    try:
        return fetch.first_found(*downloads)
    except NotFound as exc:
        if len(downloads) > 1:  # its API URL, with the token, answered 404 too
            raise failed(asset, exc) from None
        raise UserError(
            f"{mask_url(asset.url)} answered 404: if {asset.repo} is private, set the token "
            "that can read it (GITHUB_TOKEN for GITHUB_API_URL's host)"
        ) from None
    except BrokeOff as exc:
        if exc.kept is None:
            raise failed(asset, exc) from None
        raise UserError(
            f"release file of {asset.repo} {asset.tag}: {exc}. Run the same command again "
            "to continue the download"
        ) from None
    except UserError as exc:
        raise failed(asset, exc) from None


def failed(asset: Asset, exc: UserError) -> UserError:
    """The message of a download of ``asset`` that failed and kept nothing."""
    return UserError(
        f"release file of {asset.repo} {asset.tag}: {exc}; nothing was kept. Run the same "
        "command again later; if it fails again, run `make links` to refresh the links "
        f"page (and if a hash differs again, tell the maintainers of {asset.repo})"
    )


def fetch_all_recorded(
    sums: dict[str, str], missing: dict[str, tuple[str, set[str]]], lock: Path, quiet: bool
) -> None:
    """Fetch and record each of ``missing`` ({file name: (its URL, the hashes ``lock`` pins for
    it)}) that no other command fetched meanwhile; a file with another hash is not kept."""
    with downloader() as fetch:
        for filename in fetched(sums, list(missing)):
            del missing[filename]
        for filename in sorted(missing):
            url, pinned_hashes = missing[filename]
            digest = fetch_recorded(fetch, url, RELEASE_FILES / filename)
            if digest not in pinned_hashes:
                (RELEASE_FILES / filename).unlink()
                raise UserError(
                    f"{filename}: its sha256 {digest} is not one {lock} pins for it (the "
                    "file at that URL changed since the lock was made); nothing was kept"
                )
            keep(sums, filename, digest, quiet)


def fetch_recorded(fetch: Downloader, url: str, target: Path) -> str:
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
