"""Write build/model-links.html: a pip ``--find-links`` page of installable GitHub release files.

spaCy's models (en_core_web_sm, ...) are not on PyPI: they exist only as assets of the GitHub
releases of explosion/spacy-models. This script reads every release of one or more repositories
through the GitHub REST API, keeps the assets pip can install (.whl, .tar.gz, .zip) and writes

* build/model-assets.json, a manifest of those assets that other scripts read, then
* build/model-links.html, one link per asset (``#sha256=`` when GitHub knows the digest).

Each API page is cached with its ETag under build/cache/github/: a repeat run only asks GitHub
"changed?" (If-None-Match), which costs no rate limit when nothing changed, and ``--offline``
rebuilds both files from that cache alone. GitHub lists only the newest 1,000 releases; older
ones are looked up by tag when a requirement names them. A token (GITHUB_TOKEN for
GITHUB_API_URL's host, GITHUB_TOKEN_<HOST> for another) is sent in the Authorization header to
its own API and nowhere else: it is never printed, logged, put in a URL or written to a file.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import requests
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from common import (
    MAX_BODY,
    TIMEOUT,
    UserError,
    atomic_write_text,
    blocks,
    error,
    guarded,
    http_session,
    mask_url,
    read_requirement_lines,
    read_sha256sums,
)
from common import (
    parser as parser_for,
)

DEFAULT_REPOS = ("explosion/spacy-models",)
DEFAULT_API_URL = "https://api.github.com"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100  # the most GitHub gives per page
LISTING_CAP = 1000  # the releases GitHub's listing reaches (notes row 1); a page past it: 422
MAX_PAGES = 1000  # 100,000 releases: more means the Link headers loop
RETRY_AFTER_TRIES = 3  # retries on a secondary rate limit (403/429 with Retry-After)
INSTALLABLE = (".whl", ".tar.gz", ".zip")
# OWNER/NAME as GitHub allows them.
REPO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
# Characters a wheel or sdist file name may hold: anything else never becomes a path or HTML.
SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')
# A release tag NAME-VERSION, as explosion/spacy-models names them (en_core_web_sm-3.8.0).
TAG = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[0-9][A-Za-z0-9.!+_-]*)")
# What a compile reads: its requirements name the releases to look up past the listing's cap.
REQUIREMENT_FILES = (
    Path("requirements.in"),
    Path("requirements-model.in"),
    Path("requirements.txt"),
)

EXAMPLES = """\
examples:
  python scripts/model_links.py                      # build/model-links.html of spacy-models
  python scripts/model_links.py --pre                # also releases marked prerelease
  python scripts/model_links.py --repo explosion/spacy-models --repo acme/models
  GITHUB_TOKEN=... python scripts/model_links.py     # a personal token: 5,000 requests an hour
  MODEL_REPOS="explosion/spacy-models ghe.example.com/ml/models" python scripts/model_links.py
  python scripts/model_links.py --offline            # rebuild from build/cache/github only
  pip install --find-links build/model-links.html en_core_web_sm

environment:
  MODEL_REPOS            repositories to read when no --repo is given (space separated):
                         OWNER/NAME on GITHUB_API_URL, or HOST/OWNER/NAME on another host
  GITHUB_API_URL         API base (default https://api.github.com; GitHub Enterprise: .../api/v3)
  GITHUB_TOKEN           token for GITHUB_API_URL's host: a higher rate limit, private repositories
  GITHUB_TOKEN_<HOST>    token for another host (GITHUB_TOKEN_GHE_EXAMPLE_COM), never sent elsewhere
  MODEL_OWNERS           NAME=REPOSITORY entries: which repository owns a name two offer
  MODEL_INDEX_URL        a site `make index` published: list release files from it, not the API
  MODEL_LINKS_MAX_WAIT   longest Retry-After (seconds) to wait on a secondary limit (default 60)
  MODEL_LINKS_BACKOFF    first backoff (seconds) when retrying connection errors and 5xx (0.5)
"""


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


@dataclass(frozen=True)
class Repo:
    """A repository whose releases are linked, with the API that serves it and its token."""

    name: str  # OWNER/NAME
    api_url: str  # https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise
    token_variable: str  # GITHUB_TOKEN for GITHUB_API_URL's host; GITHUB_TOKEN_<HOST> elsewhere

    @property
    def token(self) -> str | None:
        """The token for this repository's API (never sent to any other host), or None."""
        return os.environ.get(self.token_variable, "").strip() or None

    @property
    def label(self) -> str:
        """How messages name it: OWNER/NAME, with the host when it is not the default API."""
        if self.token_variable == "GITHUB_TOKEN":
            return self.name
        return f"{urlsplit(self.api_url).netloc}/{self.name}"


@dataclass
class RepoStats:
    """What one repository's summary line reports."""

    releases: int = 0
    linked: int = 0
    unsafe: int = 0
    unfinished: int = 0  # assets whose upload failed or is under way, or empty
    capped: bool = False  # the listing stopped at GitHub's cap (older releases not listed)
    by_tag: int = 0  # older releases looked up by tag because a requirement names them


def parse_repo(entry: str, default_api: str) -> Repo:
    """An entry of MODEL_REPOS: OWNER/NAME on GITHUB_API_URL, or HOST/OWNER/NAME (or the
    repository's URL, https://HOST/OWNER/NAME) on that host: api.github.com for github.com,
    https://HOST/api/v3 for GitHub Enterprise Server."""
    scheme, _, rest = entry.rpartition("://")
    parts = rest.strip("/").split("/")
    if (
        scheme not in ("", "https", "http")
        or len(parts) not in (2, 3)
        or (scheme and len(parts) != 3)
    ):
        raise UserError(
            f"{entry!r} in MODEL_REPOS is not a repository: use OWNER/NAME, HOST/OWNER/NAME "
            "or https://HOST/OWNER/NAME"
        )
    name = "/".join(parts[-2:])
    if not REPO_NAME.fullmatch(name) or name.endswith(("/.", "/..")):
        raise UserError(f"{entry!r} in MODEL_REPOS is not a repository name: use OWNER/NAME")
    if len(parts) == 2:
        return Repo(name, default_api, "GITHUB_TOKEN")
    host = parts[0].lower()
    if not re.fullmatch(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?|[a-z0-9.-]+:\d+", host):
        raise UserError(
            f"{entry!r} in MODEL_REPOS: {host!r} is not a host name (ghe.example.com): use "
            "OWNER/NAME, HOST/OWNER/NAME or https://HOST/OWNER/NAME"
        )
    scheme = scheme or "https"
    api = "https://api.github.com" if host == "github.com" else f"{scheme}://{host}/api/v3"
    if api == default_api:
        return Repo(name, api, "GITHUB_TOKEN")
    return Repo(name, api, "GITHUB_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", host.upper()))


def configured_repos(entries: Sequence[str] | None = None) -> list[Repo]:
    """The repositories of ``entries`` (default: MODEL_REPOS, else explosion/spacy-models)."""
    entries = entries or os.environ.get("MODEL_REPOS", "").split() or list(DEFAULT_REPOS)
    return [parse_repo(entry, api_url_setting()) for entry in entries]


def token_for(url: str) -> tuple[str, str] | None:
    """(variable, token) for a request to ``url`` when it is on the API of a configured
    repository whose token is set, else None: a token goes to its own API and nowhere else."""
    for repo in configured_repos():
        if url.startswith(repo.api_url + "/") and repo.token:
            return repo.token_variable, repo.token
    return None


def parse_asset_name(filename: str) -> tuple[str, str] | None:
    """Return (canonical project, normalized version) of a wheel or sdist name, or None.

    The name becomes part of a path (files-dir/<name>) and of the page, so only plain file names
    of ASCII letters, digits and ``._-+!`` that parse as a wheel or sdist name are accepted.
    """
    if not SAFE_FILENAME.fullmatch(filename) or ".." in filename:
        return None
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
        return canonicalize_name(name, validate=True), str(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidName):
        return None


def linkable(filename: str, url: str) -> tuple[str, str] | None:
    """(canonical project, version) of a release file that may be linked, else None: a safe
    wheel or sdist name (``parse_asset_name``) whose http(s) URL names that very file."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or unquote(parts.path).rsplit("/", 1)[-1] != filename:
        return None
    return parse_asset_name(filename)


def sorted_assets(assets: list[Asset]) -> list[Asset]:
    """Sort by (project, version, file name), keeping the first asset of each file name."""
    unique: dict[str, Asset] = {}
    for asset in assets:
        unique.setdefault(asset.filename, asset)
    return sorted(unique.values(), key=lambda a: (a.project, Version(a.version), a.filename))


def release_assets(
    releases: list[dict[str, Any]], repo: str, pre: bool, stats: RepoStats | None = None
) -> tuple[list[Asset], RepoStats]:
    """Pick the installable assets of the published releases (prereleases only with ``pre``).

    An asset is left out when its name is not a safe wheel or sdist name, when its download URL
    names another file, or when its upload is not finished (``state`` other than ``uploaded``,
    or a size of 0: GitHub lists failed and running uploads too).
    """
    stats = stats or RepoStats()
    assets: list[Asset] = []
    seen: set[object] = set()
    for release in releases:
        if release.get("id") in seen:  # a release published mid-run shifts the pages by one
            continue
        seen.add(release.get("id"))
        stats.releases += 1
        if release.get("draft") or (release.get("prerelease") and not pre):
            continue
        items = release.get("assets")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            name, url = str(item.get("name", "")), str(item.get("browser_download_url", ""))
            if not name.endswith(INSTALLABLE):
                continue  # checksums, notes, ...
            parsed = linkable(name, url)
            if parsed is None:
                stats.unsafe += 1
                continue
            size = item.get("size")
            if item.get("state") != "uploaded" or not isinstance(size, int) or size <= 0:
                stats.unfinished += 1
                continue
            api_url = str(item.get("url") or "")
            digest = str(item.get("digest") or "")
            sha256 = digest[7:] if digest.startswith("sha256:") else None
            if sha256 is not None and not SHA256_HEX.fullmatch(sha256):
                sha256 = None
            tag, prerelease = str(release.get("tag_name", "")), bool(release.get("prerelease"))
            page = str(release.get("html_url") or "")
            page = page if urlsplit(page).scheme in ("https", "http") else ""
            assets.append(
                Asset(*parsed, name, url, sha256, repo, tag, prerelease, page, size, api_url)
            )
    stats.linked = len(assets)
    return assets, stats


class GitHubAPI:
    """GET JSON from the GitHub API: ETag cache, clear errors, bounded waits, thread-safe counts."""

    def __init__(
        self,
        api_url: str,
        token: str | None,
        cache_dir: Path,
        *,
        token_variable: str = "GITHUB_TOKEN",
        offline: bool = False,
        save_cache: bool = True,
        max_wait: float = 60.0,
        backoff: float = 0.5,
    ) -> None:
        self.api_url = api_url
        self.token_set = bool(token)
        self.token_variable = token_variable
        self.cache_dir = cache_dir
        self.offline = offline
        self.save_cache = save_cache
        self.max_wait = max_wait
        self.session = http_session(backoff=backoff)
        self.session.headers.update(API_HEADERS)
        if token:
            # As the session's auth, not a header: requests would let a ~/.netrc entry for the
            # API host replace a header (notes row 7), and drops it on a redirect to another host.
            self.session.auth = BearerAuth(token)
        self.requests = 0
        self.not_modified = 0
        self._lock = threading.Lock()

    def get(self, url: str, repo: str, missing_ok: bool = False) -> tuple[Any, dict[str, str]]:
        """Return (JSON body, {rel: url} from the Link header) of ``url``, using the cache.

        With ``missing_ok``, a 404 (no release for a tag) and GitHub's 422 past the listing's
        cap answer (None, {}) instead of an error.
        """
        cache_file = self.cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()}.json"
        try:
            cached = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cached = None
        if not (
            isinstance(cached, dict)
            and {"etag", "links", "body", "sha256"} <= cached.keys()
            and cached["sha256"] == _digest(cached["body"])
        ):
            cached = None  # missing, damaged, or not written by this script: ask GitHub afresh
        if self.offline:
            if cached is None:
                raise UserError(
                    f"{mask_url(url)} is not in the cache {cache_file.parent}: "
                    "run once without --offline to fill it"
                )
            return cached["body"], cached["links"]
        headers = {"If-None-Match": cached["etag"]} if cached else {}
        response = self._send(url, headers)
        if response.status_code == 304 and cached:
            with self._lock:
                self.not_modified += 1
            return cached["body"], cached["links"]
        if missing_ok and (response.status_code == 404 or _past_the_cap(response)):
            return None, {}
        if response.status_code != 200:
            raise UserError(self._explain(response, url, repo))
        try:
            body = response.json()
        except ValueError:
            raise UserError(f"{mask_url(url)} did not answer JSON: check GITHUB_API_URL") from None
        links = {rel: link for link, rel in LINK.findall(response.headers.get("Link", ""))}
        etag = response.headers.get("ETag")
        if etag and self.save_cache:
            entry = {"url": mask_url(url), "etag": etag, "links": links, "body": body}
            entry["sha256"] = _digest(body)
            atomic_write_text(cache_file, json.dumps(entry, sort_keys=True) + "\n")
        return body, links

    def _send(self, url: str, headers: dict[str, str]) -> requests.Response:
        """GET ``url``; wait out a secondary rate limit's Retry-After (if short) and try again."""
        for attempt in range(RETRY_AFTER_TRIES + 1):
            try:
                response = self.session.get(url, headers=headers, timeout=TIMEOUT, stream=True)
                # The whole body, within a size cap and a minimum rate (common.blocks).
                response._content = b"".join(blocks(response, MAX_BODY, mask_url(url)))
            except requests.RequestException as exc:
                raise UserError(
                    f"cannot reach {mask_url(url)} ({_reason(exc)}), even after retries: "
                    "check your network connection and GITHUB_API_URL"
                ) from None
            with self._lock:
                self.requests += 1
            wait = _retry_after(response)
            if wait is None or wait > self.max_wait or attempt == RETRY_AFTER_TRIES:
                break
            time.sleep(wait)
        return response

    def _explain(self, response: requests.Response, url: str, repo: str) -> str:
        """One message saying what went wrong at ``url`` and how to fix it."""
        status, where = response.status_code, mask_url(url)
        remaining = response.headers.get("X-RateLimit-Remaining")
        if status == 401 and self.token_set:
            return (
                f"GitHub rejected the token in {self.token_variable} (401 at {where}): it is "
                f"wrong, expired or revoked; set a valid one, or unset {self.token_variable} for "
                "public repositories"
            )
        if status == 401:
            return f"GitHub asks for authentication (401 at {where}): set {self.token_variable}"
        if status in (403, 429) and remaining == "0":
            return (
                f"GitHub API rate limit exhausted ({status} at {where}); it resets at "
                f"{_utc(response.headers.get('X-RateLimit-Reset'))}. "
                + (
                    "Wait until then."
                    if self.token_set
                    else f"Set {self.token_variable} for a higher limit."
                )
            )
        if status in (403, 429) and _retry_after(response) is not None:
            return (
                f"GitHub's secondary rate limit ({status} at {where}) asks to wait "
                f"{response.headers['Retry-After']} s (this script waits at most "
                f"MODEL_LINKS_MAX_WAIT={self.max_wait:g} s, {RETRY_AFTER_TRIES} times): "
                "try again later"
            )
        if status == 404:
            return (
                f"repository {repo} not found ({where}): check --repo or MODEL_REPOS; "
                f"if it is private, set {self.token_variable} to a token that can read it"
            )
        if status >= 500:
            return (
                f"GitHub answered {status} {response.reason} at {where}, even after retries: "
                "it may be down (see https://www.githubstatus.com); try again later"
            )
        return f"GitHub answered {status} {response.reason} at {where}: {_api_message(response)}"


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` on each request the session sends itself."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _past_the_cap(response: requests.Response) -> bool:
    """GitHub's answer for a listing page past the first 1,000 results (notes row 1)."""
    return response.status_code == 422 and "Only the first" in _api_message(response)


def _retry_after(response: requests.Response) -> float | None:
    """Seconds a secondary rate limit (403/429 with Retry-After) asks to wait, else None."""
    if response.status_code not in (403, 429):
        return None
    if response.headers.get("X-RateLimit-Remaining") == "0":
        return None  # the primary limit: the wait is until X-RateLimit-Reset, often an hour
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _digest(body: Any) -> str:
    """A sha256 of a cached JSON body, so a damaged cache entry is not trusted."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _utc(epoch: str | None) -> str:
    """An X-RateLimit-Reset epoch as ``YYYY-MM-DD HH:MM:SS UTC``."""
    try:
        return datetime.fromtimestamp(int(epoch or ""), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):
        return "an unknown time"


def _api_message(response: requests.Response) -> str:
    """The ``message`` of a GitHub error body, shortened, or the start of the body."""
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text
    return " ".join(message.split())[:200] or "no details"


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause of a requests error (e.g. "Connection refused"), without any URL."""
    cause: BaseException = exc
    inner = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else None
    if isinstance(inner, BaseException):
        cause = inner
    while cause.__cause__ is not None:
        cause = cause.__cause__
    return getattr(cause, "strerror", None) or type(cause).__name__


def _with_page(url: str, page: int) -> str:
    """``url`` with its ``page`` query parameter set to ``page``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"] + [("page", str(page))]
    return parts._replace(query=urlencode(query)).geturl()


def fetch_releases(api: GitHubAPI, repo: str, jobs: int = 4) -> tuple[list[dict[str, Any]], bool]:
    """Every release of ``repo`` the listing gives, newest first, and whether it was capped.

    The pages follow the Link headers to the last one. GitHub gives only the first 1,000
    results and answers 422 past them (notes row 1): the listing then stops there, capped.
    When the first page names the last one, pages 2..last are fetched ``jobs`` at a time; the
    result is the same as following rel="next" one page after another (``jobs=1``).
    """
    body, links = api.get(f"{api.api_url}/repos/{repo}/releases?per_page={PER_PAGE}", repo)
    pages = [body]
    capped = False
    last = links.get("last", "")
    page_count = dict(parse_qsl(urlsplit(last).query)).get("page", "")
    if jobs > 1 and "next" in links and page_count.isdigit():
        pages_to_cap = LISTING_CAP // PER_PAGE  # past them, one page at a time finds the 422
        urls = [_with_page(last, page) for page in range(2, min(int(page_count), pages_to_cap) + 1)]
        if urls and urls[0] == links["next"] and all(map(_inside(api), urls)):
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(lambda url: api.get(url, repo, missing_ok=True), urls))
            for page, page_links in results:
                if page is None:
                    capped, links = True, {}
                    break
                pages.append(page)
                links = page_links
    while "next" in links:  # one page after another; also catches releases published meanwhile
        if len(pages) >= MAX_PAGES or not _inside(api)(links["next"]):
            raise UserError(f"unexpected pagination from {api.api_url} for {repo}: try again later")
        body, links = api.get(links["next"], repo, missing_ok=True)
        if body is None:
            capped = True
            break
        pages.append(body)
    if not all(isinstance(page, list) for page in pages):
        raise UserError(f"{api.api_url} did not answer a list of releases for {repo}")
    releases = [release for page in pages for release in page if isinstance(release, dict)]
    return releases, capped


def wanted_requirements(paths: Sequence[Path]) -> dict[str, SpecifierSet]:
    """{canonical name: specifier} of what the requirement files name (pins included)."""
    wanted: dict[str, SpecifierSet] = {}
    for path in paths:
        for line in read_requirement_lines(path) if path.is_file() else []:
            try:
                req = None if line.is_option else Requirement(line.text)
            except InvalidRequirement:
                continue  # the compile reports a garbled line with its own words
            if req is not None:
                name = canonicalize_name(req.name)
                wanted[name] = wanted.get(name, SpecifierSet()) & req.specifier
    return wanted


def releases_by_tag(
    api: GitHubAPI, repo: str, listed: list[dict[str, Any]], wanted: dict[str, SpecifierSet]
) -> list[dict[str, Any]]:
    """The releases older than the capped listing that a requirement asks for, looked up by tag.

    One request lists every tag (``git/matching-refs/tags/``, not paginated); a tag not listed
    whose ``NAME-VERSION`` matches a requirement is read with ``releases/tags/TAG``. Both are
    cached with their ETags like the listing, so a repeat costs only 304s.
    """
    base = f"{api.api_url}/repos/{repo}"
    refs, _ = api.get(f"{base}/git/matching-refs/tags/", repo, missing_ok=True)
    if not isinstance(refs, list):
        return []
    seen = {str(release.get("tag_name")) for release in listed}
    found = []
    for ref in refs:
        tag = str(ref.get("ref", "") if isinstance(ref, dict) else "").removeprefix("refs/tags/")
        match = TAG.fullmatch(tag)
        if tag in seen or match is None:
            continue
        try:
            name, version = canonicalize_name(match["name"]), Version(match["version"])
        except InvalidVersion:
            continue
        if name in wanted and wanted[name].contains(version, prereleases=True):
            release, _ = api.get(f"{base}/releases/tags/{quote(tag, safe='')}", repo, True)
            if isinstance(release, dict):
                found.append(release)
    return found


def _inside(api: GitHubAPI) -> Callable[[str], bool]:
    """A predicate: does a URL stay under the API base (so the token goes nowhere else)?"""
    return lambda url: url.startswith(api.api_url + "/")


def write_manifest(path: Path, assets: list[Asset]) -> None:
    """Write ``{"assets": [...]}`` sorted like the page, atomically."""
    data = {"assets": [asdict(asset) for asset in sorted_assets(assets)]}
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def read_manifest(path: Path) -> list[Asset]:
    """Read the assets ``write_manifest`` wrote."""
    try:
        return [Asset(**item) for item in json.loads(path.read_text())["assets"]]
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `make links` first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"{path} is not a model_links.py manifest ({exc}): run `make links`"
        ) from None


def write_links_page(assets: list[Asset], output: Path, files_dir: Path) -> None:
    """Write the find-links page for ``assets`` to ``output``, atomically.

    A file already in ``files_dir`` and listed in its SHA256SUMS is linked by a relative path with
    the recorded hash, so pip reads it locally; any other asset links to GitHub.
    """
    recorded = read_sha256sums(files_dir / "SHA256SUMS")
    lines = []
    for asset in sorted_assets(assets):
        local = files_dir / asset.filename
        if asset.filename in recorded and local.is_file():
            relative = Path(os.path.relpath(local, output.parent)).as_posix()
            href = f"{quote(relative)}#sha256={recorded[asset.filename]}"
        else:
            href = asset.url + (f"#sha256={asset.sha256}" if asset.sha256 else "")
        lines.append(f'<a href="{html.escape(href)}">{html.escape(asset.filename)}</a><br>\n')
    atomic_write_text(
        output,
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Model release files</title>\n</head>\n<body>\n"
        "<!-- Written by scripts/model_links.py from GitHub releases; do not edit. -->\n"
        f"{''.join(lines)}</body>\n</html>\n",
    )


def _seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment variable ``name``."""
    value = os.environ.get(name, "").strip()
    try:
        seconds = float(value) if value else default
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86400:
        raise UserError(f"{name}={value!r} is not a number of seconds: set it to e.g. {default:g}")
    return seconds


def api_url_setting() -> str:
    """GITHUB_API_URL (or the default), checked: http(s) and no credentials in it."""
    url = (os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UserError(f"GITHUB_API_URL={mask_url(url)!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise UserError("GITHUB_API_URL must not hold credentials: put the token in GITHUB_TOKEN")
    return url


def _parser() -> argparse.ArgumentParser:
    parser = parser_for(__doc__, EXAMPLES)
    parser.add_argument(
        "--repo",
        action="append",
        metavar="OWNER/NAME",
        help="repository to read (repeatable; default: $MODEL_REPOS, else explosion/spacy-models)",
    )
    parser.add_argument("-o", "--output", type=Path, default=Path("build/model-links.html"))
    parser.add_argument("--manifest", type=Path, default=Path("build/model-assets.json"))
    parser.add_argument("--cache-dir", type=Path, default=Path("build/cache/github"))
    parser.add_argument(
        "--files-dir",
        type=Path,
        default=Path("build/release-files"),
        help="downloaded release files (with SHA256SUMS) to link locally instead of GitHub",
    )
    parser.add_argument("--pre", action="store_true", help="also link releases marked prerelease")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary lines")
    parser.add_argument("-n", "--dry-run", action="store_true", help="fetch and report only")
    parser.add_argument("--offline", action="store_true", help="use the ETag cache, no network")
    parser.add_argument(
        "--jobs",
        type=int,
        default=4,
        metavar="N",
        help="API pages fetched at once (default 4; 1 follows rel=next one page at a time)",
    )
    return parser


def index_assets(index_url: str, pre: bool) -> list[Asset]:
    """The release files a published index lists (``{index_url}/index.json``, written by
    `make index`), each checked like an API asset: its name, its URL's file name, its sha256.
    The index's hashes become the release hashes: the index is a root of trust (SECURITY.md)."""
    url = f"{index_url}/index.json"
    with http_session() as session:
        try:
            response = session.get(url, timeout=TIMEOUT, stream=True)
            body = b"".join(blocks(response, MAX_BODY, mask_url(url)))
        except requests.RequestException as exc:
            raise UserError(
                f"cannot reach {mask_url(url)} ({_reason(exc)}): check MODEL_INDEX_URL"
            ) from None
    if response.status_code != 200:
        raise UserError(
            f"{mask_url(url)} answered HTTP {response.status_code}: check MODEL_INDEX_URL"
        )
    try:
        files = json.loads(body)["files"]
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
        if Version(parsed[1]).is_prerelease and not pre:
            continue
        size = item["size"] if isinstance(item.get("size"), int) else 0
        assets.append(Asset(
            *parsed, name, link, sha256, str(item.get("repo", "")), str(item.get("tag", "")),
            Version(parsed[1]).is_prerelease, "", size, str(item.get("api_url", "")),
        ))  # fmt: skip
    return assets


def one_owner_each(assets: list[Asset], owners: Sequence[str]) -> list[Asset]:
    """``assets`` with each package from one repository: a package that two repositories offer
    is an error naming both, unless MODEL_OWNERS (``NAME=REPOSITORY`` entries) says which one
    owns it; then the other's files of that name are not linked."""
    owner: dict[str, str] = {}
    for entry in owners:
        name, _, repo = entry.partition("=")
        if not name or not repo:
            raise UserError(f"{entry!r} in MODEL_OWNERS is not NAME=REPOSITORY")
        owner[canonicalize_name(name)] = repo
    repos: dict[str, set[str]] = {}
    for asset in assets:
        repos.setdefault(asset.project, set()).add(asset.repo)
    for project, offered in sorted(repos.items()):
        if len(offered) > 1 and owner.get(project) not in offered:
            first, second = sorted(offered)[:2]
            raise UserError(
                f"{project} is offered by both {first} and {second}: a package must come from "
                f"one repository. Say which owns it in settings.mk, e.g. "
                f"MODEL_OWNERS ?= {project}={first}"
            )
    return [a for a in assets if owner.get(a.project, a.repo) == a.repo]


def link_repo(
    api: GitHubAPI, repo: Repo, args: argparse.Namespace, wanted: dict[str, SpecifierSet]
) -> list[Asset]:
    """The assets to link from ``repo``; prints its summary line unless ``--quiet``."""
    requests_before, cached_before = api.requests, api.not_modified
    listed, capped = fetch_releases(api, repo.name, max(args.jobs, 1))
    older = releases_by_tag(api, repo.name, listed, wanted) if capped else []
    stats = RepoStats(capped=capped, by_tag=len(older))
    assets, stats = release_assets(listed + older, repo.label, args.pre, stats)
    if args.offline:
        traffic = "offline: read from the cache"
    else:
        traffic = (
            f"{api.requests - requests_before} API requests, "
            f"{api.not_modified - cached_before} served from cache (304)"
        )
    if not args.quiet:
        skipped = f", {stats.unfinished} unfinished uploads skipped" if stats.unfinished else ""
        print(
            f"{repo.label}: {stats.releases} releases read, {stats.linked} assets linked, "
            f"{stats.unsafe} unsafe names skipped{skipped}; {traffic}"
        )
        if capped:
            print(
                f"{repo.label}: GitHub lists only the newest {len(listed)} releases; older ones "
                f"are looked up by tag when requirements.in names them ({stats.by_tag} found)"
            )
    return assets


@guarded
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    index_url = os.environ.get("MODEL_INDEX_URL", "").strip().rstrip("/")
    if index_url and not args.repo:
        assets = index_assets(index_url, args.pre)
        if not args.quiet:
            print(
                f"{mask_url(index_url)}: {len(assets)} release files listed by the published "
                "index (MODEL_INDEX_URL is set, so MODEL_REPOS is not listed through the API)"
            )
        write_manifest(args.manifest, assets)
        write_links_page(assets, args.output, args.files_dir)
        return 0
    try:
        repos = configured_repos(args.repo)
        wanted = wanted_requirements(REQUIREMENT_FILES)
        apis: dict[tuple[str, str], GitHubAPI] = {}
        for repo in repos:
            if (repo.api_url, repo.token_variable) not in apis:
                apis[repo.api_url, repo.token_variable] = GitHubAPI(
                    repo.api_url,
                    repo.token,
                    args.cache_dir,
                    token_variable=repo.token_variable,
                    offline=args.offline,
                    save_cache=not args.dry_run,
                    max_wait=_seconds("MODEL_LINKS_MAX_WAIT", 60.0),
                    backoff=_seconds("MODEL_LINKS_BACKOFF", 0.5),
                )
        try:
            assets = [
                asset
                for repo in repos
                for asset in link_repo(apis[repo.api_url, repo.token_variable], repo, args, wanted)
            ]
        finally:
            for api in apis.values():
                api.session.close()
        assets = one_owner_each(assets, os.environ.get("MODEL_OWNERS", "").split())
        if not args.dry_run:
            write_manifest(args.manifest, assets)
            write_links_page(assets, args.output, args.files_dir)  # last: the page pip reads
    except UserError as exc:
        return error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
