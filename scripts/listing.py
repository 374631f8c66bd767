"""The listing: every installable release file of MODEL_REPOS, or of a published index.

``refresh`` reads the releases of each repository through the GitHub API (github.py), or, when
MODEL_INDEX_URL is set, the ``index.json`` of a site `make index` published, with no API request
at all. It keeps the assets pip can install, one repository per package name (MODEL_OWNERS),
writes the manifest (build/model-assets.json) and has the cache re-render the links page.

The network modules (github, net, and requests, which takes 0.1 s to import) are imported only
where a listing is read, so a run that reads the manifest alone never pays for them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from packaging.version import Version

from .assets import SHA256_HEX, Asset, linkable, one_owner_each, read_manifest, write_manifest
from .cache import ReleaseFiles
from .errors import UserError, mask_url
from .requirements import wanted
from .settings import API_CACHE, LOCK, MANIFEST, SOURCES, Repo, Settings

if TYPE_CHECKING:
    from .github import GitHubAPI


def refresh(settings: Settings, quiet: bool = False) -> list[Asset]:
    """List the release files, write the manifest and the links page; return the assets."""
    if settings.index_url:
        assets = index_assets(settings.index_url, settings.pre)
        if not quiet:
            print(
                f"{mask_url(settings.index_url)}: {len(assets)} release files listed by the "
                "published index (MODEL_INDEX_URL is set, so MODEL_REPOS is not listed through "
                "the API)"
            )
    else:
        assets = api_assets(settings, quiet)
    write_manifest(MANIFEST, assets)
    ReleaseFiles(settings, assets).render()  # last: the page pip reads
    return assets


def listed(settings: Settings) -> list[Asset]:
    """The manifest's assets, listing the releases first when there is no manifest yet."""
    return read_manifest(MANIFEST) if MANIFEST.is_file() else refresh(settings)


def api_assets(settings: Settings, quiet: bool) -> list[Asset]:
    """The release files of every repository of MODEL_REPOS, through the GitHub API."""
    from .github import GitHubAPI

    names = wanted([*SOURCES, LOCK])  # what a requirement names: looked up past the cap
    apis: dict[tuple[str, str], GitHubAPI] = {}
    assets: list[Asset] = []
    try:
        for repo in settings.repos:
            key = (repo.api_url, repo.token_variable)
            if key not in apis:
                apis[key] = GitHubAPI(
                    repo.api_url, settings.token(repo), repo.token_variable, API_CACHE
                )
            assets += repo_assets(apis[key], repo, settings.pre, names, quiet)
    finally:
        for api in apis.values():
            api.session.close()
    return one_owner_each(assets, settings.owners)


def repo_assets(api: GitHubAPI, repo: Repo, pre: bool, names: dict, quiet: bool) -> list[Asset]:
    """The assets to link from ``repo``; prints its summary line unless ``quiet``."""
    from .github import fetch_releases, release_assets, releases_by_tag

    requests_before, cached_before = api.requests, api.not_modified
    releases, capped = fetch_releases(api, repo.name)
    older = releases_by_tag(api, repo.name, releases, names) if capped else []
    assets, skipped = release_assets(releases + older, repo.label, pre)
    if not quiet:
        unfinished = (
            f", {skipped.unfinished} unfinished uploads skipped" if skipped.unfinished else ""
        )
        print(
            f"{repo.label}: {skipped.releases} releases read, {len(assets)} assets linked, "
            f"{skipped.unsafe} unsafe names skipped{unfinished}; "
            f"{api.requests - requests_before} API requests, "
            f"{api.not_modified - cached_before} served from cache (304)"
        )
        if capped:
            print(
                f"{repo.label}: GitHub lists only the newest {len(releases)} releases; older ones "
                f"are looked up by tag when requirements.in names them ({len(older)} found)"
            )
    return assets


def index_assets(index_url: str, pre: bool) -> list[Asset]:
    """The release files a published index lists (``{index_url}/index.json``, written by
    `make index`), each checked like an API asset: its name, its URL's file name, its sha256.
    The index's hashes become the release hashes: the index is a root of trust (SECURITY.md)."""
    import requests

    from . import net

    url = f"{index_url}/index.json"
    try:
        with net.session() as http:
            answer = net.get(http, url)
    except requests.RequestException as exc:
        raise UserError(
            f"cannot reach {mask_url(url)} ({net.reason(exc)}): check MODEL_INDEX_URL"
        ) from None
    if answer.status != 200:
        raise UserError(f"{mask_url(url)} answered HTTP {answer.status}: check MODEL_INDEX_URL")
    try:
        files = json.loads(answer.body)["files"]
        assert isinstance(files, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise UserError(f"{mask_url(url)} is not an index.json of `make index`") from None
    assets = []
    for item in files:
        if not isinstance(item, dict):
            continue
        name, link = str(item.get("filename", "")), str(item.get("url", ""))
        parsed, sha256 = linkable(name, link), str(item.get("sha256", ""))
        if parsed is None or not SHA256_HEX.fullmatch(sha256):
            continue
        prerelease = Version(parsed[1]).is_prerelease
        if prerelease and not pre:
            continue
        size = item["size"] if isinstance(item.get("size"), int) else 0
        assets.append(
            Asset(
                *parsed,
                name,
                link,
                sha256,
                str(item.get("repo", "")),
                str(item.get("tag", "")),
                prerelease,
                "",
                size,
                str(item.get("api_url", "")),
            )
        )
    return assets
