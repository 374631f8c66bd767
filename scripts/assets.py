"""Release files: the rule for their names, the ``Asset`` record, and the asset index.

One rule decides which file names are distributions we accept (``parse_filename``): it serves the
GitHub listing, the published index, the lock's recorded URLs and requirements-model.in.raw
alike. The manifest (build/model-assets.json) is the list of every linked asset; the asset index
(``by_project``) answers "which release files does each version of a package have?".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.tags import sys_tags
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .errors import UserError
from .files import atomic_write_text

INSTALLABLE = (".whl", ".tar.gz", ".zip")
# Characters a wheel or sdist file name may hold: anything else never becomes a path or HTML.
SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def parse_filename(filename: str) -> tuple[str, str] | None:
    """(canonical project, normalized version) of a wheel or sdist file name, or None.

    The name becomes part of a path (build/release-files/<name>) and of a page, so only plain
    file names of ASCII letters, digits and ``._-+!`` that parse as a wheel or sdist are taken.
    """
    if not SAFE_FILENAME.fullmatch(filename) or ".." in filename:
        return None
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
        return canonicalize_name(name, validate=True), str(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidName):
        return None


def url_filename(url: str) -> str:
    """The file name a URL's path ends with."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def linkable(filename: str, url: str) -> tuple[str, str] | None:
    """(canonical project, version) of a release file that may be linked, else None: a safe
    wheel or sdist name (``parse_filename``) whose http(s) URL names that very file."""
    if urlsplit(url).scheme not in ("https", "http") or url_filename(url) != filename:
        return None
    return parse_filename(filename)


@dataclass(frozen=True)
class Asset:
    """One installable release file; ``project`` is canonicalized, ``version`` normalized."""

    project: str
    version: str
    filename: str
    url: str
    sha256: str | None
    repo: str
    tag: str
    prerelease: bool
    page: str = ""  # the release's page on GitHub (html_url), for people
    size: int = 0  # bytes, as the API gives them: a download of another size is refused
    api_url: str = ""  # the asset's API URL: a private repository's files come from there
    created_at: str = ""  # when it was uploaded (ISO 8601, the API's); "": not known (cutoffs.py)


Index = dict[str, dict[Version, list[Asset]]]  # {project: {version: its release files}}


def sorted_assets(assets: Iterable[Asset]) -> list[Asset]:
    """Sort by (project, version, file name), keeping the first asset of each file name."""
    unique: dict[str, Asset] = {}
    for asset in assets:
        unique.setdefault(asset.filename, asset)
    return sorted(unique.values(), key=lambda a: (a.project, Version(a.version), a.filename))


def by_project(assets: Iterable[Asset]) -> Index:
    """The asset index: {project: {version: [assets]}}."""
    index: Index = {}
    for asset in assets:
        index.setdefault(asset.project, {}).setdefault(Version(asset.version), []).append(asset)
    return index


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


def release_hashes(assets: Iterable[Asset], sums: Mapping[str, str]) -> set[str]:
    """The sha256 of each asset: the API's digest, else the hash recorded when it was cached."""
    return {a.sha256 or sums[a.filename] for a in assets if a.sha256 or a.filename in sums}


def offered(name: str, releases: Iterable[Version]) -> str:
    """``the releases offer NAME 1.0, 1.1``: the newest few of a release package's versions."""
    versions = sorted(releases)
    shown = ", ".join(str(v) for v in versions[-8:])
    return f"the releases offer {name} {'..., ' if len(versions) > 8 else ''}{shown}"


def one_owner_each(assets: list[Asset], owners: Mapping[str, str]) -> list[Asset]:
    """``assets`` with each package from one repository: a package that two repositories offer
    is an error naming both, unless ``owners`` (MODEL_OWNERS) says which one owns it; then the
    other's files of that name are left out."""
    owners = {canonicalize_name(name): repo for name, repo in owners.items()}
    repos: dict[str, set[str]] = {}
    for asset in assets:
        repos.setdefault(asset.project, set()).add(asset.repo)
    for project, offering in sorted(repos.items()):
        if len(offering) > 1 and owners.get(project) not in offering:
            first, second = sorted(offering)[:2]
            raise UserError(
                f"{project} is offered by both {first} and {second}: a package must come from "
                f"one repository. Say which owns it in settings.mk, e.g. "
                f"MODEL_OWNERS ?= {project}={first}"
            )
    return [a for a in assets if owners.get(a.project, a.repo) == a.repo]


def write_manifest(path: Path, assets: Sequence[Asset]) -> None:
    """Write ``{"assets": [...]}`` sorted like the page, atomically."""
    data = {"assets": [asdict(asset) for asset in sorted_assets(assets)]}
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def read_manifest(path: Path, missing_ok: bool = False) -> list[Asset]:
    """Read the assets ``write_manifest`` wrote; with ``missing_ok``, none before the first
    listing wrote any."""
    if missing_ok and not path.is_file():
        return []
    try:
        return [Asset(**item) for item in json.loads(path.read_text())["assets"]]
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `make links` first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"{path} is not a manifest of `make links` ({exc}): run `make links`"
        ) from None
