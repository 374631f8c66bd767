"""The hashes of every file of each pinned version, from what the sources say of their files.

pip-compile --generate-hashes asks PyPI's JSON API for them; on any other index (a mirror,
devpi, a ``file://`` index) it downloads every file of every pinned version to hash it:
gigabytes for spaCy's pins. Yet the simple API gives each file's sha256 (PEP 691's ``hashes``,
PEP 503's ``#sha256=``), and so do links pages. Here the hashes come from there; a local file is
read, and only a file whose source gives no hash is downloaded. Every file of the version counts,
whatever its platform, as PyPI's JSON API gives them to pip-tools and as uv writes them.
``with_hashes`` completes a lock pip-compile wrote without hashes.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urljoin, urlsplit

import requests
from packaging.version import Version

from . import backend, net
from .assets import parse_filename, url_filename
from .checks import seal_problems
from .files import sha256_file
from .requirements import pinned, read_lines, read_lines_of, set_hashes
from .settings import BUILD, DEV_LOCK, LOCK, RESOLVER_PAGE, Settings

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class File(NamedTuple):
    """A file a source lists: its URL or path, and its sha256 and size where the source says."""

    url: str
    sha256: str | None
    size: int | None = None


class Anchors(HTMLParser):
    """The href of every <a> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def from_page(text: str, base: str) -> list[File]:
    """The files an HTML page (a simple-index page or a links page) links, with their hashes."""
    parser = Anchors()
    parser.feed(text)
    files = []
    for href in parser.hrefs:
        url, _, fragment = urljoin(base, href).partition("#")
        name, _, value = fragment.partition("=")
        files.append(File(url, value.lower() if name == "sha256" and value else None))
    return files


def from_json(data: object, base: str) -> list[File]:
    """The files of a PEP 691 project page at ``base``, with their hashes and sizes (PEP 700)."""
    items = data.get("files", []) if isinstance(data, dict) else []
    return [
        File(
            urljoin(base, str(item["url"])),
            (item.get("hashes") or {}).get("sha256"),
            item["size"] if isinstance(item.get("size"), int) else None,
        )
        for item in items
        if isinstance(item, dict) and "url" in item
    ]


def local_path(location: str) -> Path | None:
    """The file or folder a location names on this machine (a path or a file:// URL), or None."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(location) if not parts.scheme else None


def read(http: requests.Session, location: str) -> list[File]:
    """The files a location lists: a local folder or page, or an http(s) or file:// page."""
    path = local_path(location)
    if path is not None:
        if path.is_dir():
            index = path / "index.html"
            if not index.is_file():
                return [File(str(child), None) for child in sorted(path.iterdir())]
            path = index
        if not path.is_file():
            return []
        return from_page(path.read_text(errors="replace"), path.resolve().as_uri())
    try:
        answer = net.get(http, location, {"Accept": f"{SIMPLE_JSON}, text/html;q=0.1"})
    except requests.RequestException:
        return []  # as pip does: an unreachable location offers nothing
    if answer.status != 200:
        return []
    if answer.headers.get("Content-Type", "").startswith(SIMPLE_JSON):
        try:
            return from_json(answer.json(), location)
        except ValueError:
            return []  # not JSON after all: as an unreadable page, it offers nothing
    return from_page(answer.body.decode("utf-8", "replace"), location)


def hash_of(http: requests.Session, file: File) -> str:
    """The sha256 of a file: as its source gives it, else read (local) or downloaded (hashed as
    it arrives)."""
    url, sha256 = file.url, file.sha256
    if sha256 and re.fullmatch(r"[0-9a-f]{64}", sha256):
        return sha256
    path = local_path(url)
    if path is not None:
        return sha256_file(path)
    with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
        return net.Downloader(http)(
            net.Download(url, Path(scratch) / (url_filename(url) or "file"))
        )


def version_of(url: str) -> tuple[str, Version] | None:
    """(canonical project, version) of the distribution a URL or path names, or None."""
    parsed = parse_filename(url_filename(url))
    return (parsed[0], Version(parsed[1])) if parsed else None


def pinned_files(
    pins: Mapping[str, str], indexes: Iterable[str], find_links: Iterable[str]
) -> dict[str, list[File]]:
    """{name: every file of its pinned version the sources list} for each of ``pins``
    ({canonical name: version}); a name none lists is left out."""
    wanted = {name: Version(version) for name, version in pins.items()}
    found: dict[str, list[File]] = {}
    with net.session() as http:
        listed: list[File] = [file for location in find_links for file in read(http, location)]
        for name in sorted(wanted):
            files = listed + [
                file for index in indexes for file in read(http, f"{index.rstrip('/')}/{name}/")
            ]
            found[name] = [file for file in files if version_of(file.url) == (name, wanted[name])]
    return {name: files for name, files in found.items() if files}


def pinned_hashes(
    pins: Mapping[str, str], indexes: Iterable[str], find_links: Iterable[str]
) -> dict[str, set[str]]:
    """{name: the sha256 of every file of its pinned version} for each of ``pins`` ({canonical
    name: version}) any source lists; a name none lists is left out."""
    found = pinned_files(pins, indexes, find_links)
    with net.session() as http:
        return {name: {hash_of(http, file) for file in files} for name, files in found.items()}


def with_hashes(settings: Settings, text: str) -> tuple[str, bool]:
    """A compiled lock's ``text`` with every pin that has no hash hashed (not the release
    packages, whose hashes are set later): as the sealed locks already hash that very version,
    else from its sources (``pinned_hashes``). False beside it when a pin is left unhashed."""
    pins = {name: version for line, name, version in pinned(read_lines_of(text)) if not line.hashes}
    found = {
        name: set(line.hashes)
        for lock in (LOCK, DEV_LOCK)
        if lock.is_file() and not seal_problems(lock)
        for line, name, version in pinned(read_lines(lock))
        if pins.get(name) == version and line.hashes
    }
    missing = {name: version for name, version in pins.items() if name not in found}
    if missing:
        indexes, links = backend.sources(settings, RESOLVER_PAGE)
        found |= pinned_hashes(missing, indexes, links)
    return set_hashes(text, found), found.keys() >= pins.keys()
