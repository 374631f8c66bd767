"""The GitHub client: the releases of a repository, read through the REST API.

Every answer is cached with its ETag under build/cache/github/, so a repeat run only asks "changed?"
(If-None-Match), which costs no rate limit when nothing changed. GitHub lists only a repository's
newest 1,000 releases and answers 422 past them (GitHub's REST docs, "List releases"): older
releases are looked up by tag when a requirement names them. A token is sent in the Authorization
header to its own API and nowhere else: it is never printed, logged, put in a URL or written to a
file. Each behaviour relied on is GitHub's documented one (its REST docs and rate-limit guide) or
one seen in public recordings of real traffic (PyGithub's tests/ReplayData), as the template's
stand-in of GitHub (selftests/standin.py) cites them.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import net
from .assets import INSTALLABLE, SHA256_HEX, Asset, linkable
from .errors import UserError, mask_url
from .files import atomic_write_text

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100  # the most GitHub gives per page
MAX_PAGES = 1000  # 100,000 releases: more means the Link headers loop
MAX_WAIT = 60.0  # the longest secondary limit waited out (once a run); a longer one fails
LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')
# A release tag NAME-VERSION, as explosion/spacy-models names them (en_core_web_sm-3.8.0).
TAG = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[0-9][A-Za-z0-9.!+_-]*)")


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` on each request the session sends itself."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class GitHubAPI:
    """GET JSON from one GitHub API: ETag cache, clear errors, bounded waits, counted requests."""

    def __init__(self, api_url: str, token: str | None, token_variable: str, cache: Path) -> None:
        self.api_url = api_url
        self.token_set = bool(token)
        self.token_variable = token_variable
        self.cache = cache
        # No ~/.netrc: its entry for the API host would replace the token, and a `default`
        # entry meant for a package index would go to GitHub (requests' netrc handling).
        self.session = net.session(netrc=False)
        self.session.headers.update(API_HEADERS)
        if token:
            # As the session's auth, which requests drops on a redirect to another host.
            self.session.auth = BearerAuth(token)
        self.requests = 0
        self.not_modified = 0
        self.waited = False  # for a secondary rate limit: once a run, then it fails at once

    def get(self, url: str, repo: str, missing_ok: bool = False) -> tuple[Any, dict[str, str]]:
        """Return (JSON body, {rel: url} from the Link header) of ``url``, using the cache.

        With ``missing_ok``, a 404 (no release for a tag) and GitHub's 422 past the listing's
        cap answer (None, {}) instead of an error.
        """
        cache_file = self.cache / f"{hashlib.sha256(url.encode()).hexdigest()}.json"
        try:
            cached = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cached = None
        if not (
            isinstance(cached, dict)
            and {"etag", "links", "body", "sha256"} <= cached.keys()
            and cached["sha256"] == _digest(cached["body"])
        ):
            cached = None  # missing, damaged, or not written by this client: ask GitHub afresh
        answer = self._send(url, {"If-None-Match": cached["etag"]} if cached else {})
        if answer.status == 304 and cached:
            self.not_modified += 1
            return cached["body"], cached["links"]
        if missing_ok and (answer.status == 404 or _past_the_cap(answer)):
            return None, {}
        if answer.status != 200:
            raise UserError(failure(self, answer, url, repo))
        try:
            body = answer.json()
        except ValueError:
            raise UserError(f"{mask_url(url)} did not answer JSON: check GITHUB_API_URL") from None
        links = {rel: link for link, rel in LINK.findall(answer.headers.get("Link", ""))}
        if etag := answer.headers.get("ETag"):
            entry = {"url": mask_url(url), "etag": etag, "links": links, "body": body}
            entry["sha256"] = _digest(body)
            atomic_write_text(cache_file, json.dumps(entry, sort_keys=True) + "\n")
        return body, links

    def _send(self, url: str, headers: dict[str, str]) -> net.Answer:
        """GET ``url``. The first secondary rate limit of a run that asks for at most MAX_WAIT
        seconds is waited out, saying so in one line, and the request sent once more; any
        other is answered as it is (``failure`` says when to try again)."""
        while True:
            try:
                answer = net.get(self.session, url, headers)
            except requests.RequestException as exc:
                raise UserError(
                    f"cannot reach {mask_url(url)} ({net.reason(exc)}), even after retries: "
                    "check your network connection and GITHUB_API_URL"
                ) from None
            self.requests += 1
            wait = _retry_after(answer)
            if wait is None or wait > MAX_WAIT or self.waited:
                return answer
            self.waited = True
            print(
                f"GitHub's secondary rate limit ({answer.status} at {mask_url(url)}): waiting "
                f"{wait:g} s, as GitHub asks, then trying once more",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(wait)


def failure(api: GitHubAPI, answer: net.Answer, url: str, repo: str) -> str:
    """One message saying what went wrong at ``url`` (asked by ``api``) and how to fix it."""
    status, where = answer.status, mask_url(url)
    if status == 401 and api.token_set:
        return (
            f"GitHub rejected the token in {api.token_variable} (401 at {where}): it is "
            f"wrong, expired or revoked; set a valid one, or unset {api.token_variable} for "
            "public repositories"
        )
    if status == 401:
        return f"GitHub asks for authentication (401 at {where}): set {api.token_variable}"
    if status in (403, 429) and answer.headers.get("X-RateLimit-Remaining") == "0":
        return (
            f"GitHub API rate limit exhausted ({status} at {where}); it resets at "
            f"{_utc(answer.headers.get('X-RateLimit-Reset'))}. "
            + (
                "Wait until then."
                if api.token_set
                else f"Set {api.token_variable} for a higher limit."
            )
        )
    wait = _retry_after(answer)
    if status in (403, 429) and wait is not None:
        again = ", a second time in this run" if api.waited else ""
        return (
            f"GitHub's secondary rate limit ({status} at {where}) asks to wait {wait:g} s"
            f"{again}: try again after {_utc(str(int(time.time() + wait + 1)))} (a run "
            f"waits once, at most {MAX_WAIT:g} s)"
        )
    if status == 404:
        return (
            f"repository {repo} not found ({where}): check MODEL_REPOS; if it is private, "
            f"set {api.token_variable} to a token that can read it"
        )
    if status >= 500:
        return (
            f"GitHub answered {status} {answer.reason} at {where}, even after retries: "
            "it may be down (see https://www.githubstatus.com); try again later"
        )
    return f"GitHub answered {status} {answer.reason} at {where}: {_api_message(answer)}"


def _past_the_cap(answer: net.Answer) -> bool:
    """GitHub's answer for a listing page past the first 1,000 results (GitHub's REST docs)."""
    return answer.status == 422 and "Only the first" in _api_message(answer)


def _retry_after(answer: net.Answer) -> float | None:
    """Seconds a secondary rate limit asks to wait, else None: a 403 or 429 with Retry-After
    (seconds, or an HTTP date), or one whose message says so without it, which asks for "at
    least a minute" (GitHub's rate-limit guide; PyGithub's recorded traffic has a 403 with
    `Retry-After: 60`)."""
    if answer.status not in (403, 429):
        return None
    if answer.headers.get("X-RateLimit-Remaining") == "0":
        return None  # the primary limit: the wait is until X-RateLimit-Reset, often an hour
    value = answer.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(email.utils.parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return 60.0 if "secondary rate limit" in _api_message(answer).lower() else None


def _digest(body: Any) -> str:
    """A sha256 of a cached JSON body, so a damaged cache entry is not trusted."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _utc(epoch: str | None) -> str:
    """An X-RateLimit-Reset epoch as ``YYYY-MM-DD HH:MM:SS UTC``."""
    try:
        return datetime.fromtimestamp(int(epoch or ""), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):
        return "an unknown time"


def _api_message(answer: net.Answer) -> str:
    """The ``message`` of a GitHub error body, shortened, or the start of the body."""
    try:
        message = str(answer.json().get("message", ""))
    except (ValueError, AttributeError):
        message = answer.body.decode("utf-8", "replace")
    return " ".join(message.split())[:200] or "no details"


def fetch_releases(api: GitHubAPI, repo: str) -> tuple[list[dict[str, Any]], bool]:
    """Every release of ``repo`` the listing gives, newest first, and whether it was capped.

    The pages follow the Link headers to the last one. GitHub gives only the first 1,000
    results and answers 422 past them: the listing then stops there, capped.
    """
    body, links = api.get(f"{api.api_url}/repos/{repo}/releases?per_page={PER_PAGE}", repo)
    pages, capped = [body], False
    while "next" in links:
        if len(pages) >= MAX_PAGES or not links["next"].startswith(api.api_url + "/"):
            raise UserError(f"unexpected pagination from {api.api_url} for {repo}: try again later")
        body, links = api.get(links["next"], repo, missing_ok=True)
        if body is None:
            capped = True
            break
        pages.append(body)
    if not all(isinstance(page, list) for page in pages):
        raise UserError(f"{api.api_url} did not answer a list of releases for {repo}")
    return [release for page in pages for release in page if isinstance(release, dict)], capped


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


@dataclass
class Skipped:
    """The assets of a listing that were not linked, for its summary line."""

    releases: int = 0
    unsafe: int = 0
    unfinished: int = 0  # assets whose upload failed or is under way, or empty


def release_assets(
    releases: list[dict[str, Any]], repo: str, pre: bool
) -> tuple[list[Asset], Skipped]:
    """Pick the installable assets of the published releases (prereleases only with ``pre``).

    An asset is left out when its name is not a safe wheel or sdist name, when its download URL
    names another file, or when its upload is not finished (``state`` other than ``uploaded``,
    or a size of 0: GitHub lists failed and running uploads too).
    """
    skipped = Skipped()
    assets: list[Asset] = []
    seen: set[object] = set()
    for release in releases:
        if release.get("id") in seen:  # a release published mid-run shifts the pages by one
            continue
        seen.add(release.get("id"))
        skipped.releases += 1
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
                skipped.unsafe += 1
                continue
            size = item.get("size")
            if item.get("state") != "uploaded" or not isinstance(size, int) or size <= 0:
                skipped.unfinished += 1
                continue
            digest = str(item.get("digest") or "")
            sha256 = digest[7:] if digest.startswith("sha256:") else None
            if sha256 is not None and not SHA256_HEX.fullmatch(sha256):
                sha256 = None
            tag, prerelease = str(release.get("tag_name", "")), bool(release.get("prerelease"))
            page = str(release.get("html_url") or "")
            page = page if urlsplit(page).scheme in ("https", "http") else ""
            api_url = str(item.get("url") or "")
            created = str(item.get("created_at") or "")  # what a cooldown reads (cooldown.py)
            assets.append(
                Asset(
                    *parsed, name, url, sha256, repo, tag, prerelease, page, size, api_url, created
                )
            )
    return assets, skipped
