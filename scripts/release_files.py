"""Fetch each release file a compile or an install needs once, into build/release-files/.

Model wheels are big. Left alone, pip-compile downloads a release file to read its metadata and
again to hash it, and pip-sync downloads it once more to install it. This script downloads the
chosen files once, checks each against the sha256 digest the releases API gave (when it gave
one), records every file's sha256 in build/release-files/SHA256SUMS, and rewrites the links page
so that its link for a cached file points at the copy in build/: pip and pip-compile then read
and hash it locally.

compile.py fetches the files it compiles with; `make install` runs this script with
``--pinned requirements.txt`` to fetch the pinned ones (once per machine: a fresh clone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename
from packaging.version import Version

import common
import model_links
from model_links import Asset, linkable, read_manifest, token_for, write_links_page

MANIFEST = Path("build/model-assets.json")
FILES_DIR = common.RELEASE_FILES_DIR
LINKS_PAGE = common.LINKS_PAGE
EXAMPLES = """\
examples:
  python scripts/release_files.py --pinned requirements.txt
"""


def installable_files(assets: Iterable[Asset]) -> list[Asset]:
    """The files pip would take for one version: wheels for this interpreter, else its sdists."""
    assets = list(assets)
    supported = set(sys_tags())
    wheels = [
        a
        for a in assets
        if a.filename.endswith(".whl") and parse_wheel_filename(a.filename)[3] & supported
    ]
    return wheels or [a for a in assets if not a.filename.endswith(".whl")]


def by_project(assets: Iterable[Asset]) -> dict[str, dict[Version, list[Asset]]]:
    """Index the links page's assets as {project: {version: [assets]}}."""
    index: dict[str, dict[Version, list[Asset]]] = {}
    for asset in assets:
        index.setdefault(asset.project, {}).setdefault(Version(asset.version), []).append(asset)
    return index


def offered(name: str, releases: Iterable[Version]) -> str:
    """``the releases offer NAME 1.0, 1.1``: the newest few of a release package's versions."""
    versions = sorted(releases)
    shown = ", ".join(str(v) for v in versions[-8:])
    return f"the releases offer {name} {'..., ' if len(versions) > 8 else ''}{shown}"


def wanted_pinned(path: Path, assets: list[Asset]) -> list[Asset]:
    """Release files of each release package pinned (``==``) in ``path``."""
    index = by_project(assets)
    wanted: list[Asset] = []
    for line in common.read_requirement_lines(path):
        pin = None if line.is_option else line.pin()
        if pin and pin[0] in index and Version(pin[1]) in index[pin[0]]:
            wanted.extend(installable_files(index[pin[0]][Version(pin[1])]))
    return wanted


def fetch_recorded(lock: Path, files_dir: Path, quiet: bool = False) -> None:
    """Fetch the release files ``lock`` records (its ``# release: URL`` lines), with no API
    request, into ``files_dir``: each must have one of the hashes the lock pins for it."""
    sums = common.read_sha256sums(files_dir / "SHA256SUMS")
    lines = (line for line in common.read_requirement_lines(lock) if not line.is_option)
    hashes = {pin[0]: set(line.hashes) for line in lines if (pin := line.pin())}
    session = common.http_session()
    for name, urls in sorted(common.release_urls(lock).items()):
        for url in urls:
            filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            parsed = linkable(filename, url)
            if parsed is None or parsed[0] != name:
                raise common.UserError(
                    f"{lock}: {filename!r} is not a file of {name}: run `make lock`"
                )
            if filename in sums and (files_dir / filename).is_file():
                continue
            try:
                digest = common.download(session, url, files_dir / filename, netrc=False)
            except common.NotFound:
                raise common.UserError(
                    f"{common.mask_url(url)} answered 404: if the repository is private, run "
                    "`make links` with the token that can read it, then the same command again"
                ) from None
            if digest not in hashes.get(name, set()):
                (files_dir / filename).unlink()
                raise common.UserError(
                    f"{filename}: its sha256 {digest} is not one {lock} pins for {name} (the "
                    "file at that URL changed since the lock was made); nothing was kept"
                )
            sums[filename] = digest
            common.write_sha256sums(files_dir / "SHA256SUMS", sums)
            if not quiet:
                print(f"release-files: cached {filename}")


def download(asset: Asset, files_dir: Path, session: common.requests.Session) -> str:
    """Download one asset into ``files_dir``, checked (status, not HTML, the API's size and
    digest); return its sha256.

    A public asset comes from its download URL, with no token. Where that answers 404 and a
    token for the asset's API is set (a private repository: notes row 6), it comes from the
    asset's API URL with ``Accept: application/octet-stream`` and the token, which goes to the
    API alone: the redirect to the storage host is followed without it.
    """
    target, size = files_dir / asset.filename, asset.size or None
    try:
        try:
            return common.download(session, asset.url, target, asset.sha256, size, netrc=False)
        except common.NotFound:
            token = token_for(asset.api_url) if asset.api_url else None
            if token is None:
                raise common.UserError(
                    f"{common.mask_url(asset.url)} answered 404: if {asset.repo} is private, "
                    "set the token that can read it (GITHUB_TOKEN for GITHUB_API_URL's host)"
                ) from None
            headers = {"Authorization": f"Bearer {token[1]}", "Accept": "application/octet-stream"}
            return common.download(session, asset.api_url, target, asset.sha256, size, headers)
    except common.UserError as exc:
        raise common.UserError(
            f"release file of {asset.repo} {asset.tag}: {exc}; nothing was kept. Run the same "
            f"command again later; if it fails again, run `make links` to refresh the links "
            f"page (and if a hash differs again, tell the maintainers of {asset.repo})"
        ) from None


def ensure_cached(
    assets: Iterable[Asset], files_dir: Path = FILES_DIR, quiet: bool = False
) -> dict[str, str]:
    """Make sure every asset is in ``files_dir``; return SHA256SUMS as {file name: sha256}.

    Files already recorded in SHA256SUMS are not downloaded again.
    """
    sums = common.read_sha256sums(files_dir / "SHA256SUMS")
    missing = {
        a.filename: a
        for a in assets
        if a.filename not in sums or not (files_dir / a.filename).is_file()
    }
    if not missing:
        return sums
    files_dir.mkdir(parents=True, exist_ok=True)
    session = common.http_session()
    for _, asset in sorted(missing.items()):
        sums[asset.filename] = download(asset, files_dir, session)
        common.write_sha256sums(files_dir / "SHA256SUMS", sums)
        if not quiet:
            print(f"release-files: cached {asset.filename}")
    return sums


def release_hashes(assets: Iterable[Asset], sums: dict[str, str]) -> set[str]:
    """The sha256 of each asset: the API's digest, else the hash recorded when it was cached."""
    return {a.sha256 or sums[a.filename] for a in assets if a.sha256 or a.filename in sums}


@common.guarded
def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(__doc__, EXAMPLES)
    parser.add_argument(
        "--pinned", type=Path, metavar="FILE", required=True,
        help="fetch the release files of the versions this compiled lock pins",
    )  # fmt: skip
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--files-dir", type=Path, default=FILES_DIR)
    parser.add_argument("-o", "--output", type=Path, default=LINKS_PAGE, help="the links page")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.manifest.is_file() and common.release_urls(args.pinned):
        fetch_recorded(args.pinned, args.files_dir, args.quiet)  # a fresh clone: no API request
        return 0
    if not args.manifest.is_file() and model_links.main([]):  # an older lock records no URLs
        raise common.UserError(f"{args.manifest} could not be made: see above")
    assets = read_manifest(args.manifest)
    ensure_cached(wanted_pinned(args.pinned, assets), args.files_dir, args.quiet)
    write_links_page(assets, args.output, args.files_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
