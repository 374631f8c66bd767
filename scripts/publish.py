"""build/index/: a static package index of the model release files, for everyone to share.

Every repository, CI run and teammate otherwise lists the releases through GitHub's API. One
repository can instead publish this site (to GitHub Pages, `.github/workflows/index.yml`), and
everyone points MODEL_INDEX_URL at it. It holds, for the release files of the packages it covers:

* ``index.html``: a flat find-links page;
* ``simple/``: a PEP 503 simple index, one page per project (normalised names);
* ``index.json``: every file with its URL, sha256, Requires-Python, size and release, for tools
  and for the next publish.

Every link carries ``#sha256=``: GitHub's digest where it has one, else computed here once (the
file is streamed, never kept) and read back on the next publish from the last ``index.json``
(``--previous``, a path or the published site's URL), so a republish downloads only new
releases. ``data-requires-python`` comes from each wheel's metadata. The output is sorted and
has no timestamps: the same releases give the same bytes.
"""

from __future__ import annotations

import fnmatch
import html
import json
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.parser import HeaderParser
from pathlib import Path

import requests
from packaging.version import Version

from . import net
from .assets import Asset
from .cache import ReleaseFiles
from .errors import UserError
from .files import atomic_write_text
from .requirements import wanted
from .settings import INDEX_SITE, SOURCES, Settings


@dataclass(frozen=True)
class IndexFile:
    """One file of the index: what index.json lists."""

    project: str
    version: str
    filename: str
    url: str
    sha256: str
    requires_python: str
    size: int
    repo: str
    tag: str
    api_url: str = ""


def covered(assets: Sequence[Asset], patterns: Sequence[str]) -> list[Asset]:
    """The assets whose project matches one of ``patterns`` (names or shell patterns such as
    ``en_core_web_*``, compared in normalised form)."""
    wanted = [pattern.lower().replace("_", "-").replace(".", "-") for pattern in patterns]
    return [a for a in assets if any(fnmatch.fnmatchcase(a.project, w) for w in wanted)]


def read_previous(source: str) -> dict[str, IndexFile]:
    """The files of a previous index.json (a path or a URL) by file name; none if it is absent."""
    try:
        if "://" in source:
            with net.session() as http:
                answer = net.get(http, source)
            if answer.status != 200:
                return {}
            data = answer.json()
        elif Path(source).is_file():
            data = json.loads(Path(source).read_text())
        else:
            return {}
        return {item["filename"]: IndexFile(**item) for item in data["files"]}
    except (ValueError, KeyError, TypeError, requests.RequestException, UserError):
        return {}  # no usable previous index: everything is hashed again


def requires_python(wheel: Path) -> str:
    """The Requires-Python of a wheel's metadata ("" for an sdist or none given)."""
    if not wheel.name.endswith(".whl"):
        return ""
    with zipfile.ZipFile(wheel) as archive:
        name = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), "")
        if not name:
            return ""
        metadata = HeaderParser().parsestr(archive.read(name).decode("utf-8", "replace"))
    return str(metadata.get("Requires-Python") or "")


def describe(
    asset: Asset, previous: dict[str, IndexFile], files: ReleaseFiles
) -> tuple[IndexFile, bool]:
    """The index entry of ``asset``, and whether it had to be downloaded to make it."""
    known = previous.get(asset.filename)
    if known and known.url == asset.url and (not asset.sha256 or asset.sha256 == known.sha256):
        return IndexFile(**{**asdict(known), "api_url": asset.api_url}), False
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / asset.filename
        digest = files.download_to(asset, path)  # with the token, if private
        entry = IndexFile(
            asset.project,
            asset.version,
            asset.filename,
            asset.url,
            digest,
            requires_python(path),
            asset.size,
            asset.repo,
            asset.tag,
            asset.api_url,
        )
    return entry, True


def write_site(files: list[IndexFile], output: Path) -> None:
    """Write the flat page, the simple index and index.json of ``files`` under ``output``."""
    files = sorted(files, key=lambda f: (f.project, Version(f.version), f.filename))

    def anchor(entry: IndexFile) -> str:
        requires = entry.requires_python
        data = f' data-requires-python="{html.escape(requires)}"' if requires else ""
        href = html.escape(f"{entry.url}#sha256={entry.sha256}")
        return f'<a href="{href}"{data}>{html.escape(entry.filename)}</a><br>\n'

    def page(title: str, body: str) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
        )

    atomic_write_text(
        output / "index.html",
        page("Model release files", "".join(anchor(entry) for entry in files)),
    )
    projects = sorted({entry.project for entry in files})
    atomic_write_text(
        output / "simple/index.html",
        page("Simple index", "".join(f'<a href="{p}/">{p}</a><br>\n' for p in projects)),
    )
    for project in projects:
        body = "".join(anchor(entry) for entry in files if entry.project == project)
        atomic_write_text(output / "simple" / project / "index.html", page(project, body))
    data = {"meta": {"version": 1}, "files": [asdict(entry) for entry in files]}
    atomic_write_text(output / "index.json", json.dumps(data, indent=1, sort_keys=True) + "\n")


def publish(settings: Settings, assets: list[Asset], previous_source: str | None) -> None:
    """Write the site of the release files INDEX_PACKAGES covers (default: the models the .in
    files name) to build/index/, hashing only files no previous index.json knows."""
    patterns = settings.index_packages or tuple(sorted(wanted(SOURCES)))
    chosen = covered(assets, patterns)
    previous = read_previous(previous_source or str(INDEX_SITE / "index.json"))
    if not previous and not previous_source and settings.index_url:
        previous = read_previous(f"{settings.index_url}/index.json")
    files, downloaded = [], 0
    release_files = ReleaseFiles(settings)
    for asset in chosen:
        entry, fetched = describe(asset, previous, release_files)
        files.append(entry)
        downloaded += fetched
    write_site(files, INDEX_SITE)
    print(
        f"index: {len(files)} files of {len({f.project for f in files})} packages in "
        f"{INDEX_SITE}/; {downloaded} downloaded to hash, {len(files) - downloaded} known"
    )
