"""Write build/index/: a static package index of the model release files, for everyone to share.

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
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.version import Version

import common
import release_files
from model_links import Asset, read_manifest, wanted_requirements
from release_files import MANIFEST

OUTPUT = Path("build/index")
EXAMPLES = """\
examples:
  make index                              # build/index/ for the models requirements.in names
  INDEX_PACKAGES="en_core_web_* de_core_news_*" make index
  python scripts/index.py --previous https://acme.github.io/models/index.json
"""


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
            with common.http_session() as session:
                response = session.get(source, timeout=common.TIMEOUT)
                if response.status_code != 200:
                    return {}
                data = response.json()
        elif Path(source).is_file():
            data = json.loads(Path(source).read_text())
        else:
            return {}
        return {item["filename"]: IndexFile(**item) for item in data["files"]}
    except (ValueError, KeyError, TypeError, common.requests.RequestException):
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
    asset: Asset, previous: dict[str, IndexFile], session: common.requests.Session
) -> tuple[IndexFile, bool]:
    """The index entry of ``asset``, and whether it had to be downloaded to make it."""
    known = previous.get(asset.filename)
    if known and known.url == asset.url and (not asset.sha256 or asset.sha256 == known.sha256):
        return IndexFile(**{**asdict(known), "api_url": asset.api_url}), False
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / asset.filename
        digest = release_files.download(asset, Path(scratch), session)  # token if private
        entry = IndexFile(
            asset.project, asset.version, asset.filename, asset.url, digest,
            requires_python(path), asset.size, asset.repo, asset.tag, asset.api_url,
        )  # fmt: skip
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

    common.atomic_write_text(output / "index.html", page("Model release files", "".join(
        anchor(entry) for entry in files
    )))  # fmt: skip
    projects = sorted({entry.project for entry in files})
    common.atomic_write_text(output / "simple/index.html", page("Simple index", "".join(
        f'<a href="{p}/">{p}</a><br>\n' for p in projects
    )))  # fmt: skip
    for project in projects:
        body = "".join(anchor(entry) for entry in files if entry.project == project)
        common.atomic_write_text(output / "simple" / project / "index.html", page(project, body))
    data = {"meta": {"version": 1}, "files": [asdict(entry) for entry in files]}
    common.atomic_write_text(
        output / "index.json", json.dumps(data, indent=1, sort_keys=True) + "\n"
    )


@common.guarded
def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(__doc__, EXAMPLES)
    parser.add_argument(
        "--previous", metavar="PATH_OR_URL",
        help="the last published index.json, whose hashes are kept (default: "
        "build/index/index.json, else MODEL_INDEX_URL's)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not MANIFEST.is_file():
        raise common.UserError(f"{MANIFEST} is missing: run `make links` first")
    patterns = os.environ.get("INDEX_PACKAGES", "").split() or sorted(
        wanted_requirements([Path("requirements.in"), Path("requirements-model.in")])
    )
    assets = covered(read_manifest(MANIFEST), patterns)
    published = os.environ.get("MODEL_INDEX_URL", "").rstrip("/")
    previous = read_previous(args.previous or str(OUTPUT / "index.json"))
    if not previous and not args.previous and published:
        previous = read_previous(f"{published}/index.json")
    downloaded = 0
    with common.http_session() as session:
        files = []
        for asset in assets:
            entry, fetched = describe(asset, previous, session)
            files.append(entry)
            downloaded += fetched
    write_site(files, OUTPUT)
    print(
        f"index: {len(files)} files of {len({f.project for f in files})} packages in {OUTPUT}/; "
        f"{downloaded} downloaded to hash, {len(files) - downloaded} known"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
