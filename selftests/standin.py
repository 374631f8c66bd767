"""A loopback stand-in for GitHub's releases API and release downloads, for the tests.

The tests never reach GitHub. This server answers the requests the template makes the way
api.github.com, github.com and the storage host of release files do, so a script that works
against it works against GitHub (each behaviour cites its row of
/work/shared/notes/github-releases-api.md). Three hosts, on their own loopback addresses:

* the API, ``{api_url}`` (127.0.0.1, under /api/ like GitHub Enterprise's /api/v3):

  - ``GET /repos/OWNER/NAME/releases?per_page=N&page=K``: releases newest first, 30 per page
    by default and at most 100, drafts only for authenticated requests, only the first
    ``listing_cap`` (1,000) results (a page past them is a 422), a ``Link`` header with
    rel="prev"/"next"/"last"/"first" pointing at ``{api_url}/repositories/ID/releases``;
  - ``GET .../releases/tags/TAG``: a published release; ``GET .../git/matching-refs/tags/P``:
    the tags starting with P;
  - ``GET .../releases/assets/ID``: the asset's JSON, or with ``Accept:
    application/octet-stream`` a 302 to its signed storage URL;

  each JSON answer gzip-compressed for a client that accepts it, with a weak ``ETag`` (strong
  without gzip) answered with 304 and the strong form on a matching ``If-None-Match``, and
  ``X-RateLimit-*`` headers on every answer but a 401 (a 304 costs nothing; an exhausted limit
  gives GitHub's 403). Anonymous callers share 60 requests an hour, a token has 5,000; a token
  other than ``standin.token`` (any token, when none is set) gets 401 "Bad credentials".
  Private repositories are 404 without the token;
* github.com, ``{url}`` (127.0.0.2): ``GET /OWNER/NAME/releases/download/TAG/FILE`` (an asset's
  ``browser_download_url``) answers 302 to a short-lived signed URL on the storage host, or 404
  for a private repository, token or not;
* the storage host, ``{storage_url}`` (127.0.0.3):
  ``/github-production-release-asset/REPO_ID/UUID?sp=r&...&se=...&sig=...%2B...%3D&jwt=...``
  serves the bytes, whole or a ``Range`` of them (and counts a download, which changes the
  listing's ETag); 403 for a wrong signature or an expired URL, 400 for a request that also
  sends ``Authorization``.

Every request lands in ``standin.requests`` with its host and headers; ``fail_with`` scripts
errors (401, 403, 429, 5xx) and ``secondary_limit`` GitHub's secondary rate limit;
``serve_html_for``, ``truncate`` and ``set_asset_state`` script bad downloads, ``ranges``
and ``if_range`` a storage host that ignores those headers, ``stale_ranges`` a hostile one whose
ranges are of another file, and ``hold`` a slow link with no clock (a whole download waits).

    with run_standin() as github:
        github.add_release("explosion/spacy-models", "en_core_web_sm-3.8.0", {name: data})
        monkeypatch.setenv("GITHUB_API_URL", github.api_url)
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import hmac
import json
import re
import secrets
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from packaging.version import Version

from packages import MODEL_CODE, make_wheel

if TYPE_CHECKING:
    pass

# The real releases of explosion/spacy-models (a snapshot), kept with the tests: none skips.
SPACY_RELEASES_TSV = Path(__file__).resolve().parent / "data/spacy-models-releases.tsv"
DOCS = "https://docs.github.com/rest"
LIST_RELEASES = f"{DOCS}/releases/releases#list-releases"
SECONDARY = f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
RELEASES = re.compile(r"/api/(?:repos/([^/]+/[^/]+)|repositories/(\d+))/releases")
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)  # published_at of release n is EPOCH + n hours
# api.github.com, github.com and the storage host of the signed download URLs each have their
# own address, so a test can see which host got a token: requests drops Authorization when a
# redirect changes host (notes row 7: requests sessions.py should_strip_auth). Binding
# 127.0.0.2 and 127.0.0.3 works on Linux, where all of 127/8 is loopback; where it does not
# (macOS has only 127.0.0.1 by default), run_standin() falls back to 127.0.0.1 with a port each.
HOSTS = {"api": "127.0.0.1", "web": "127.0.0.2", "storage": "127.0.0.3"}
REPO = "acme/models"  # the repository the unit tests publish their releases to
UNICORN = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Unicorn! &middot; GitHub</title></head>
<body><h1>No server is currently available to service your request.</h1>
<p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>
</body></html>
"""


@dataclass(frozen=True)
class Request:
    """One request the stand-in received. Header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    host: str = "api"  # which host got it: "api", "web" (github.com) or "storage"


class Answer(NamedTuple):
    """What the stand-in answers: the handler only moves these bytes."""

    status: int
    headers: dict[str, str]
    body: bytes
    cut_at: int | None = None  # send only this many bytes of ``body``, then close the connection
    held: threading.Event | None = None  # the body is sent once this is set (``hold``)


@dataclass
class StoredAsset:
    id: int
    name: str
    data: bytes
    digest: bool
    content_type: str = "application/octet-stream"
    download_count: int = 0  # GETs answered with its bytes (whole, a range, or cut short)
    state: str = "uploaded"  # or "open"/"starter": an upload in progress or failed (row 9)
    # The storage object: each upload is a blob of its own, an opaque path (notes row 21)
    repo_id: int = 0
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    uploaded: float = field(default_factory=lambda: float(int(time.time())))  # Last-Modified
    bytes_served: int = 0  # bytes the storage host sent of it, in all
    parts_read: int = 0  # of download_count, the ranges asked with an end (a metadata read)


@dataclass
class StoredRelease:
    id: int
    tag: str
    prerelease: bool
    draft: bool
    assets: list[StoredAsset] = field(default_factory=list)
    created_at: datetime | None = None  # None: EPOCH + its id in hours (see _when)


@dataclass
class StoredRepo:
    id: int
    full_name: str
    private: bool = False
    releases: list[StoredRelease] = field(default_factory=list)  # oldest first


@dataclass
class Failure:
    status: int
    headers: dict[str, str]
    body: bytes
    times: int
    path: str
    rate_headers: bool = True  # a secondary limit comes without X-RateLimit-* (notes row 19)


class GitHubStandIn:
    """The stand-in's state and knobs. Made and served by ``run_standin()``."""

    def __init__(self) -> None:
        self.url = ""  # github.com: http://127.0.0.2:PORT, set by run_standin()
        self.api_root = ""  # api.github.com: http://127.0.0.1:PORT; see api_url
        self.storage_url = ""  # the signed URLs' host: http://127.0.0.3:PORT
        self.signed_url_ttl = 300  # seconds a signed download URL is valid; < 0: born expired
        self.ranges = True  # False: the storage host ignores Range, as a server may (RFC 9110 14.2)
        self.if_range = (
            True  # False: it ignores If-Range (GitHub's storage is not known to honour it)
        )
        # The one token GitHub knows: a request with any other (any at all while this is None)
        # gets 401 "Bad credentials", as from GitHub (notes row 13).
        self.token: str | None = None
        # GitHub's primary limits: 60 requests an hour per IP without a token, 5,000 with one
        # (notes rows 12 and 18: PyGithub PublicReleaseAsset.setUp.txt, X-RateLimit-Limit 60).
        # Set a pool's remaining to 0 to get GitHub's "rate limit exceeded" 403.
        self.rate_limit = {"anonymous": 60, "token": 5000}
        self.rate_remaining = dict(self.rate_limit)
        self._pool = "anonymous"  # the pool of the request being answered (under _lock)
        self._request_ids = 0
        self.rate_reset = int(time.time()) + 3600
        self.latency = 0.0  # seconds each API answer waits, like a round trip to GitHub
        self.api_path = "/api"  # "/api/v3" for a GitHub Enterprise Server (run_standin(ghes=True))
        self.listing_cap: int | None = 1000  # releases a listing can reach; None: all of them
        self.requests: list[Request] = []
        self.errors: list[str] = []  # tracebacks of the stand-in's own bugs (answered 500)
        self._repos: dict[str, StoredRepo] = {}  # by lower-case OWNER/NAME
        self._assets: dict[int, StoredAsset] = {}
        self._failures: list[Failure] = []
        self._html_for: dict[str, int] = {}  # asset name: downloads left to answer with HTML
        self._truncate: dict[str, int] = {}  # asset name: downloads left to cut short
        self._truncate_at = 0.5  # the fraction of the bytes a cut download sends
        self._stale: dict[str, bytes] = {}  # asset name: the bytes its ranges are cut from
        self._held: dict[str, threading.Event] = {}  # asset name: set when its downloads may end
        self._next_id = 1000
        self._secret = secrets.token_bytes(16)  # signs the download URLs
        self._lock = threading.RLock()

    @property
    def api_url(self) -> str:
        """The value for GITHUB_API_URL: under ``api_path`` (/api; GitHub Enterprise Server
        serves its API under /api/v3, notes row 16)."""
        return f"{self.api_root}{self.api_path}"

    # --- populating -------------------------------------------------------------------------

    def add_release(
        self,
        repo: str,
        tag: str,
        files: dict[str, bytes],
        prerelease: bool = False,
        draft: bool = False,
        digest: bool = True,
        states: dict[str, str] | None = None,
        created_at: datetime | None = None,
    ) -> None:
        """Publish release ``tag`` (the newest so far) with ``files`` as its assets.

        ``digest=True``: the API gives each asset's ``sha256:<hex>``; False gives null, as for
        every asset uploaded before GitHub started computing digests (all spaCy models today).
        ``states`` gives an asset's ``state`` other than "uploaded" (see ``set_asset_state``).
        ``created_at`` is when it was made and published: the release's ``created_at`` and
        ``published_at`` and its assets' ``created_at``/``updated_at``, the times a cooldown
        reads (locks-audits-cooldowns.md row 9).
        """
        with self._lock:
            stored = self._repo(repo, create=True)
            if any(release.tag == tag for release in stored.releases):
                raise ValueError(f"{repo} already has a release {tag}")
            release = StoredRelease(self._new_id(), tag, prerelease, draft, created_at=created_at)
            for name, data in files.items():
                release.assets.append(self._new_asset(stored, name, data, digest))
                release.assets[-1].state = (states or {}).get(name, "uploaded")
            stored.releases.append(release)

    def replace_asset(
        self, repo: str, tag: str, name: str, data: bytes, digest: bool = True
    ) -> None:
        """Delete asset ``name`` of release ``tag`` and upload ``data`` under the same name.

        As on GitHub, the new upload has a new id (and so a new download object).
        """
        with self._lock:
            release = self._release(repo, tag)
            for index, asset in enumerate(release.assets):
                if asset.name == name:
                    release.assets[index] = self._new_asset(self._repo(repo), name, data, digest)
                    # a later upload: its Last-Modified differs, even within the same second
                    release.assets[index].uploaded = max(time.time() // 1, asset.uploaded + 1)
                    return
            raise KeyError(f"{repo} {tag} has no asset {name}")

    def set_asset_state(
        self, repo: str, tag: str, name: str, state: str, size: int | None = None
    ) -> None:
        """Give asset ``name`` of release ``tag`` the ``state`` "open" or "starter" (an upload
        in progress or failed; notes row 9: releases.json) and, with ``size``, only its first
        ``size`` bytes (0: an empty upload), which its JSON ``size`` and its download show."""
        with self._lock:
            for asset in self._release(repo, tag).assets:
                if asset.name == name:
                    asset.state = state
                    asset.data = asset.data if size is None else asset.data[:size]
                    return
            raise KeyError(f"{repo} {tag} has no asset {name}")

    def serve_html_for(self, filename: str, times: int = 1) -> None:
        """Answer the next ``times`` downloads of ``filename`` from the storage host with a 200
        HTML error page instead of its bytes (notes row 8: microsoft/git#934)."""
        with self._lock:
            self._html_for[filename] = times

    def truncate(self, filename: str, times: int = 1, at: float = 0.5) -> None:
        """Cut the next ``times`` downloads of ``filename`` short: the whole Content-Length is
        announced, the fraction ``at`` of the bytes is sent, then the connection closes."""
        with self._lock:
            self._truncate[filename] = times
            self._truncate_at = at

    def stale_ranges(self, filename: str, data: bytes) -> None:
        """Answer ranges of ``filename`` from ``data`` (the same size): a hostile server, or a
        cache in front of the storage host still holding another upload of that name."""
        with self._lock:
            self._stale[filename] = data

    def hold(self, filename: str) -> threading.Event:
        """Make each whole download of ``filename`` wait (up to 60 s) until the returned event
        is set, its ranges not: a test sees what goes on while a big file is on its way."""
        with self._lock:
            return self._held.setdefault(filename, threading.Event())

    def secondary_limit(
        self, times: int = 1, retry_after: int | None = 60, status: int = 403
    ) -> None:
        """Answer the next ``times`` API requests with GitHub's secondary rate limit: ``status``
        (403; 429 also happens), ``Retry-After`` (none when None) and no X-RateLimit-* headers
        (notes row 19: PyGithub SpecificExceptions.testAuthenticatedRateLimitExceeded.txt;
        row 12: the rate-limit guide, "403 or 429", "retry-after" when given)."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again."
        )
        body = json.dumps(
            {"message": message, "documentation_url": SECONDARY, "status": str(status)}
        )
        with self._lock:
            self._failures.append(
                Failure(status, headers, body.encode(), times, f"{self.api_path}/", False)
            )

    def make_private(self, repo: str) -> None:
        """Answer 404 for ``repo`` to API requests without a token, as GitHub does for private
        ones, and to every request for its ``browser_download_url``s (notes row 6)."""
        with self._lock:
            self._repo(repo, create=True).private = True

    def fail_with(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | bytes | None = None,
        times: int = 1,
        path: str = "/api/",
    ) -> None:
        """Answer the next ``times`` requests whose path starts with ``path`` with ``status``
        (on any host: "/objects/" is the storage host's, "/OWNER/" github.com's).

        ``headers`` are added to (or replace) the rate limit headers, e.g.
        ``{"X-RateLimit-Remaining": "0"}`` for an exhausted limit or ``{"Retry-After": "1"}``
        for a secondary one. The default body is GitHub's message for that case.
        """
        headers = dict(headers or {})
        if body is None:
            body = {"message": _default_message(status, headers), "documentation_url": DOCS}
        if isinstance(body, dict):
            body = json.dumps({**body, "status": str(status)}).encode()
        with self._lock:
            self._failures.append(Failure(status, headers, body, times, path))

    def load_spacy_models(
        self, repo: str = "explosion/spacy-models", limit: int | None = None
    ) -> int:
        """Publish the releases of selftests/data/spacy-models-releases.tsv; return how many.

        Each release has a tiny real wheel with the model's real Requires-Dist, a small .tar.gz,
        and a checksum file pip cannot install. Versions that are pre-releases (2.0.0-alpha4,
        3.0.0a0) are marked prerelease; from 3.7.0 on, the API gives digests (null before).
        """
        rows = [
            line.split("\t")
            for line in SPACY_RELEASES_TSV.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        for tag, package, version, requires, _size in rows[:limit]:
            wheel = _wheel_bytes(package, version, tuple(filter(None, requires.split(";"))))
            files = {
                f"{package}-{version}-py3-none-any.whl": wheel,
                f"{package}-{version}.tar.gz": gzip.compress(f"{tag}\n".encode(), mtime=0),
                f"{package}-{version}.sha256": hashlib.sha256(wheel).hexdigest().encode(),
            }
            parsed = Version(version)
            self.add_release(
                repo,
                tag,
                files,
                prerelease=parsed.is_prerelease,
                digest=parsed >= Version("3.7.0"),
            )
        return len(rows[:limit])

    def add_synthetic(self, repo: str, n_releases: int) -> None:
        """Publish ``n_releases`` releases of 20 made-up models (a wheel and a checksum each).

        The wheels are a few placeholder bytes, not installable: this is for listing benchmarks.
        Every other release has digests.
        """
        for n in range(n_releases):
            name, version = f"synthetic_model_{n % 20}", f"{n // 20}.0.0"
            files = {
                f"{name}-{version}-py3-none-any.whl": f"wheel {n}".encode(),
                f"{name}-{version}.sha256": f"checksum {n}".encode(),
            }
            self.add_release(repo, f"{name}-{version}", files, digest=n % 2 == 0)

    # --- the request log --------------------------------------------------------------------

    def api_requests(self, repo: str | None = None) -> list[Request]:
        """The API host's requests, all or only those for ``repo`` (either URL form)."""
        with self._lock:
            prefixes = [f"{self.api_path}/"]
            if repo is not None:
                stored = self._repos.get(repo.lower())
                prefixes = [f"{self.api_path}/repos/{repo.lower()}/"]
                if stored is not None:
                    prefixes.append(f"{self.api_path}/repositories/{stored.id}/")
            return [
                r
                for r in self.requests
                if r.host == "api" and any((r.path.lower() + "/").startswith(p) for p in prefixes)
            ]

    def downloads(self, filename: str) -> int:
        """How many GETs the storage host answered with the bytes of an asset named ``filename``
        (whole, the rest of a .part, or cut short by ``truncate``; any upload of that name,
        replaced ones too); a range asked with an end (a wheel's metadata read) is none."""
        with self._lock:
            return sum(
                a.download_count - a.parts_read for a in self._assets.values() if a.name == filename
            )

    def asset_data(self, filename: str) -> bytes:
        """The bytes of the newest upload named ``filename``."""
        with self._lock:
            return max(
                (a for a in self._assets.values() if a.name == filename), key=lambda a: a.id
            ).data

    def served(self, filename: str) -> int:
        """How many bytes of assets named ``filename`` the storage host sent, in all."""
        with self._lock:
            return sum(a.bytes_served for a in self._assets.values() if a.name == filename)

    # --- internals --------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _new_asset(self, repo: StoredRepo, name: str, data: bytes, digest: bool) -> StoredAsset:
        asset = StoredAsset(self._new_id(), name, data, digest, repo_id=repo.id)
        self._assets[asset.id] = asset
        return asset

    def _repo(self, repo: str, create: bool = False) -> StoredRepo:
        key = repo.lower()
        if key not in self._repos and create:
            self._repos[key] = StoredRepo(len(self._repos) + 1, repo)
        return self._repos[key]

    def _release(self, repo: str, tag: str) -> StoredRelease:
        for release in self._repo(repo).releases:
            if release.tag == tag:
                return release
        raise KeyError(f"{repo} has no release {tag}")

    def _release_json(self, repo: StoredRepo, release: StoredRelease) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{repo.full_name}/releases"
        when = _when(release)
        return {
            "url": f"{api}/{release.id}",
            "html_url": f"{self.url}/{repo.full_name}/releases/tag/{quote(release.tag, safe='')}",
            "assets_url": f"{api}/{release.id}/assets",
            "id": release.id,
            "node_id": f"RE_{release.id}",
            "tag_name": release.tag,
            "target_commitish": "master",
            "name": release.tag,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "immutable": False,  # every release has it (notes row 11: releases.json)
            "created_at": when,
            "published_at": None if release.draft else when,
            "body": "",
            "assets": [self._asset_json(repo, release, asset) for asset in release.assets],
        }

    def _asset_json(
        self, repo: StoredRepo, release: StoredRelease, asset: StoredAsset
    ) -> dict[str, Any]:
        download = f"{self.url}/{repo.full_name}/releases/download/{quote(release.tag, safe='')}"
        return {
            "url": f"{self.api_url}/repos/{repo.full_name}/releases/assets/{asset.id}",
            "id": asset.id,
            "node_id": f"RA_{asset.id}",
            "name": asset.name,
            "label": None,  # as most recorded assets have it (notes row 20)
            "content_type": asset.content_type,
            "state": asset.state,  # notes row 9: releases.json
            "size": len(asset.data),
            "digest": f"sha256:{hashlib.sha256(asset.data).hexdigest()}" if asset.digest else None,
            # Grows with every download, and so changes the listing's ETag (notes row 3:
            # jizhi0v0/duo-updater#357, release-argus/Argus#175).
            "download_count": asset.download_count,
            "created_at": _when(release),
            "updated_at": _when(release),
            "browser_download_url": f"{download}/{quote(asset.name, safe='')}",
        }

    def _rate_headers(self) -> dict[str, str]:
        """GitHub's X-RateLimit-* headers for the pool of the request being answered (notes row
        18: PyGithub PublicReleaseAsset.setUp.txt)."""
        limit, remaining = self.rate_limit[self._pool], self.rate_remaining[self._pool]
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(self.rate_reset),
            "X-RateLimit-Used": str(limit - remaining),
            "X-RateLimit-Resource": "core",
        }

    def _charge(self) -> None:
        """Count the request being answered against its pool's primary rate limit."""
        self.rate_remaining[self._pool] = max(self.rate_remaining[self._pool] - 1, 0)

    def answer(self, request: Request) -> Answer:
        """The answer to ``request``, by the host it came to; the handler only moves bytes."""
        with self._lock:
            self.requests.append(request)
            self._pool = "token" if request.headers.get("authorization") else "anonymous"
            answer = self._route(request)
            return self._as_api_answer(request, answer) if request.host == "api" else answer

    def _route(self, request: Request) -> Answer:
        for failure in self._failures:
            if failure.times > 0 and request.path.startswith(failure.path):
                failure.times -= 1
                limits = self._rate_headers() if failure.rate_headers else {}
                if request.host != "api":
                    limits = {}
                return Answer(failure.status, {**_JSON, **limits, **failure.headers}, failure.body)
        if request.host == "api":
            return self._answer_api(request)
        if request.host == "storage":
            return self._answer_storage(request)
        return self._answer_web(request)

    def _as_api_answer(self, request: Request, answer: Answer) -> Answer:
        """What every answer of GitHub's API carries as recorded (notes rows 17 and 18: PyGithub
        Repository.testRepoSecrets.txt, Environment.testEnvironmentSecrets.txt,
        PublicReleaseAsset.setUp.txt; octokit scenarios/api.github.com/paginate-issues/
        raw-fixture.json): an X-GitHub-Request-Id; a gzip body for a client that accepts gzip,
        which makes a 200's ETag weak (``W/"..."``; a 304 keeps the strong form); Cache-Control
        ``private`` with a token and ``public`` without."""
        self._request_ids += 1
        headers = dict(answer.headers)
        headers["X-GitHub-Request-Id"] = f"{self._request_ids:04X}:{self._request_ids * 7919:06X}"
        if "Cache-Control" in headers and self._pool == "anonymous":
            headers["Cache-Control"] = headers["Cache-Control"].replace("private", "public")
        body = answer.body
        encodings = request.headers.get("accept-encoding", "").split(",")
        if body and headers.get("Content-Type", "").startswith("application/json"):
            headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding"
            if "gzip" in {encoding.split(";")[0].strip() for encoding in encodings}:
                body = gzip.compress(body, mtime=0)
                headers["Content-Encoding"] = "gzip"
                if answer.status == 200 and headers.get("ETag", "").startswith('"'):
                    headers["ETag"] = f"W/{headers['ETag']}"
        return answer._replace(headers=headers, body=body)

    def _signed_url(self, asset: StoredAsset) -> str:
        """A short-lived signed URL of ``asset``'s blob on the storage host, in the form GitHub
        gives (notes row 21: PyGithub PublicReleaseAsset.testDownload.txt, 2025-08): an opaque
        path, the storage fields, ``se`` (the signature's expiry), ``sig`` (base64,
        percent-encoded: ``%2B``, ``%2F``, ``%3D``) and a ``jwt`` valid for five minutes (notes
        row 5: the URL is short-lived; release-assets.githubusercontent.com)."""
        now = int(time.time())
        path = f"/github-production-release-asset/{asset.repo_id}/{asset.uuid}"
        disposition = f"attachment; filename={asset.name}"
        signed_expiry = _iso(now + self.signed_url_ttl + 3600)  # the jwt expires first
        fields = {
            "sp": "r",
            "sv": "2018-11-09",
            "sr": "b",
            "spr": "https",
            "se": signed_expiry,
            "rscd": disposition,
            "rsct": asset.content_type,
            "skoid": "96c2d410-5711-43a1-aedd-ab1947aa7ab0",
            "sktid": "398a6654-997b-47e9-b12b-9515b896b4de",
            "skt": _iso(now),
            "ske": signed_expiry,
            "sks": "b",
            "skv": "2018-11-09",
        }
        claims = {
            "iss": "github.com",
            "aud": "release-assets.githubusercontent.com",
            "key": "key1",
            "exp": now + self.signed_url_ttl,
            "nbf": now,
            "path": "releaseassetproduction.blob.core.windows.net",
            "blob": path,
        }
        tail = {
            "sig": self._sign(path, signed_expiry),
            "jwt": self._jwt(claims),
            "response-content-disposition": disposition,
            "response-content-type": asset.content_type,
        }
        # rscd as recorded: "attachment%3B+filename%3D..."; the tail with %20 for a space
        return f"{self.storage_url}{path}?{urlencode(fields)}&{urlencode(tail, quote_via=quote)}"

    def _sign(self, path: str, expiry: str) -> str:
        message = f"r\n{path}\n{expiry}".encode()
        return base64.b64encode(hmac.new(self._secret, message, hashlib.sha256).digest()).decode()

    def _jwt(self, claims: dict[str, Any]) -> str:
        def part(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        head = part(b'{"typ":"JWT","alg":"HS256"}') + "." + part(json.dumps(claims).encode())
        mac = hmac.new(self._secret, head.encode(), hashlib.sha256).digest()
        return f"{head}.{part(mac)}"

    def _jwt_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a jwt this stand-in signed, or None."""
        head, _, mac = token.rpartition(".")
        expected = hmac.new(self._secret, head.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_unpart(mac), expected):
            return None
        try:
            claims = json.loads(_unpart(head.partition(".")[2]))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None

    def _answer_web(self, request: Request) -> Answer:
        """github.com: ``browser_download_url`` answers 302 to a signed storage URL."""
        parts = [unquote(part) for part in request.path.split("/")]
        if len(parts) == 7 and parts[3:5] == ["releases", "download"]:
            stored = self._repos.get(f"{parts[1]}/{parts[2]}".lower())
            # A private repository's browser_download_url answers 404 to API tokens, and so
            # to anything a script sends (notes row 6: xaf/omni#907, github3.py#1022).
            if stored is not None and not stored.private:
                for asset in self._download(stored, parts[5], parts[6]):
                    # 302 to a signed URL on another host (notes row 5: packit/ai-workflows#634),
                    # an empty text/html answer like the API's (notes row 21)
                    return Answer(302, {**_REDIRECT, "Location": self._signed_url(asset)}, b"")
        return Answer(404, {"Content-Type": "text/plain"}, b"Not Found")

    def _answer_storage(self, request: Request) -> Answer:
        """The storage host: the bytes of a signed, unexpired URL sent without Authorization,
        whole or a ``Range`` of them."""
        match = re.fullmatch(
            r"/github-production-release-asset/(\d+)/([0-9a-f-]{36})", request.path
        )
        found = [a for a in self._assets.values() if match and a.uuid == match[2]]
        if not found or found[0].repo_id != int(match[1] if match else 0):
            return Answer(404, {"Content-Type": "text/plain"}, b"Not Found")
        asset = found[0]
        if "authorization" in request.headers:
            # The signed URL is the credential; a header too is refused (notes row 6:
            # octokit/rest.js#6, "Only one auth mechanism allowed").
            return Answer(400, {"Content-Type": "text/plain"}, b"Only one auth mechanism allowed")
        expiry = request.query.get("se", "")
        signature = self._sign(request.path, expiry)
        if not hmac.compare_digest(request.query.get("sig", ""), signature):
            return Answer(403, {"Content-Type": "text/plain"}, b"Signature does not match")
        claims = self._jwt_claims(request.query.get("jwt", ""))
        if claims is None or claims.get("blob") != request.path:
            return Answer(403, {"Content-Type": "text/plain"}, b"Signature does not match")
        if claims.get("exp", 0) < time.time() or _parse_iso(expiry) < time.time():
            return Answer(403, {"Content-Type": "text/plain"}, b"Request has expired")  # row 5
        if _take(self._html_for, asset.name):
            # GitHub sometimes answers a download with a 200 HTML "unicorn" page; only the
            # API's size and content_type tell it from the file (notes row 8: microsoft/git#934).
            return Answer(200, {"Content-Type": "text/html; charset=utf-8"}, UNICORN)
        # The storage host's 200 as recorded (notes row 21: PyGithub
        # PublicReleaseAsset.testDownload.txt): octet-stream, Accept-Ranges: bytes, a strong
        # ETag, Last-Modified (the upload's time) and Content-Disposition.
        headers = {
            "Content-Type": asset.content_type,
            "Accept-Ranges": "bytes",
            "ETag": f'"0x{int(asset.uploaded * 10**7) + asset.id:X}"',
            "Last-Modified": format_datetime(datetime.fromtimestamp(asset.uploaded, UTC), True),
            "Content-Disposition": f"attachment; filename={asset.name}",
        }
        status, data = 200, asset.data
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("range", "").strip())
        if_range = request.headers.get("if-range") if self.if_range else None
        if self.ranges and wanted and _if_range_holds(if_range, headers):
            # A range request (RFC 9110 section 14, which "Accept-Ranges: bytes" announces):
            # 206 with Content-Range, 416 for a start past the end; with an If-Range that no
            # longer matches (another upload), the whole file with 200 (RFC 9110 13.1.5).
            start, total = int(wanted[1]), len(asset.data)
            end = min(int(wanted[2]) if wanted[2] else total - 1, total - 1)
            if start >= total:
                return Answer(416, {"Content-Range": f"bytes */{total}"}, b"")
            if start <= end:
                status, data = 206, self._stale.get(asset.name, asset.data)[start : end + 1]
                headers["Content-Range"] = f"bytes {start}-{end}/{total}"
                asset.parts_read += bool(wanted[2])  # bytes=N-M: a part; bytes=N-: the rest
        asset.download_count += 1
        cut_at = int(len(data) * self._truncate_at) if _take(self._truncate, asset.name) else None
        asset.bytes_served += len(data[:cut_at])
        held = self._held.get(asset.name) if status == 200 else None
        return Answer(status, headers, data, cut_at, held)

    def _download(self, stored: StoredRepo, tag: str, name: str) -> list[StoredAsset]:
        releases = [r for r in stored.releases if r.tag == tag]
        return [a for r in releases for a in r.assets if a.name == name]

    def _answer_api(self, request: Request) -> Answer:
        auth = request.headers.get("authorization", "")
        scheme, _, credential = auth.partition(" ")
        authenticated = (
            self.token is not None
            and scheme in ("Bearer", "token")
            and hmac.compare_digest(credential.encode(), self.token.encode())
        )
        if auth and not authenticated:
            # Any credential but the token GitHub knows gets 401, without X-RateLimit-* headers;
            # a request with none is answered as anonymous, public repositories included (notes
            # row 13: brekkylab/backlot#235).
            body = {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            return Answer(401, dict(_JSON), json.dumps(body).encode())
        self._pool = "token" if authenticated else "anonymous"
        if self.rate_remaining[self._pool] <= 0:
            message = f"API rate limit exceeded for {request.headers.get('host', '127.0.0.1')}."
            return self._json(403, {"message": message, "documentation_url": DOCS})
        route_re = r"/(?:repos/([^/]+/[^/]+)|repositories/(\d+))(/.*)"
        match = re.fullmatch(re.escape(self.api_path) + route_re, request.path)
        by_id = {str(repo.id): repo for repo in self._repos.values()}
        stored = None
        if match:
            stored = self._repos.get(match[1].lower()) if match[1] else by_id.get(match[2])
        if stored is None or (stored.private and not authenticated):
            return self._json(404, {"message": "Not Found", "documentation_url": DOCS})
        route = unquote(match[3])
        if route == "/releases":
            return self._list_releases(request, stored, authenticated)
        if found := re.fullmatch(r"/releases/tags/(.+)", route):
            return self._release_by_tag(request, stored, found[1])
        if found := re.fullmatch(r"/releases/assets/(\d+)", route):
            return self._release_asset(request, stored, int(found[1]), authenticated)
        if found := re.fullmatch(r"/git/matching-refs/tags(?:/(.*))?", route):
            return self._matching_tags(request, stored, found[1] or "")
        return self._json(404, {"message": "Not Found", "documentation_url": DOCS})

    def _release_by_tag(self, request: Request, stored: StoredRepo, tag: str) -> Answer:
        """``GET .../releases/tags/TAG``: the published release of that tag. A draft is not one
        ("Get a published release with the specified tag name": releases.json, notes row 10),
        so no one gets it this way, with a token or without."""
        for release in stored.releases:
            if release.tag == tag and not release.draft:
                body = json.dumps(self._release_json(stored, release)).encode()
                return self._cached(request, body, {})
        return self._json(404, {"message": "Not Found", "documentation_url": DOCS})

    def _release_asset(
        self, request: Request, stored: StoredRepo, asset_id: int, authenticated: bool
    ) -> Answer:
        """``GET .../releases/assets/ID``: with ``Accept: application/octet-stream`` a 302 to a
        signed storage URL, else the asset's JSON (notes row 6: releases.json "Get a release
        asset"). A private repository's asset needs the token, as everything of it does."""
        for release in stored.releases:
            for asset in release.assets:
                if asset.id != asset_id or (release.draft and not authenticated):
                    continue
                if "application/octet-stream" in request.headers.get("accept", ""):
                    # 302, empty and text/html, to the signed URL (notes row 21: PyGithub
                    # PublicReleaseAsset.testDownload.txt); it counts against the limit.
                    self._charge()
                    location = {**_REDIRECT, "Location": self._signed_url(asset)}
                    return Answer(302, {**location, **self._rate_headers()}, b"")
                body = json.dumps(self._asset_json(stored, release, asset)).encode()
                return self._cached(request, body, {})
        return self._json(404, {"message": "Not Found", "documentation_url": DOCS})

    def _matching_tags(self, request: Request, stored: StoredRepo, prefix: str) -> Answer:
        """``GET .../git/matching-refs/tags/PREFIX``: the tags starting with PREFIX, by name; a
        draft's tag does not exist until it is published (notes row 10)."""
        api = f"{self.api_url}/repos/{stored.full_name}/git"
        refs = []
        for tag in sorted(r.tag for r in stored.releases if not r.draft):
            if tag.startswith(prefix):
                sha = hashlib.sha1(f"{stored.full_name}/{tag}".encode(), usedforsecurity=False)
                refs.append(
                    {
                        "ref": f"refs/tags/{tag}",
                        "node_id": f"REF_{sha.hexdigest()[:20]}",
                        "url": f"{api}/refs/tags/{quote(tag, safe='')}",
                        "object": {
                            "sha": sha.hexdigest(),
                            "type": "commit",
                            "url": f"{api}/commits/{sha.hexdigest()}",
                        },
                    }
                )
        return self._cached(request, json.dumps(refs).encode(), {})

    def _list_releases(self, request: Request, stored: StoredRepo, authenticated: bool) -> Answer:
        """A page of ``stored``'s releases, newest first, with GitHub's Link header."""
        per_page = min(max(_int(request.query.get("per_page"), 30), 1), 100)
        page = max(_int(request.query.get("page"), 1), 1)
        # Drafts are listed only to users with push access: here, any token (notes row 10).
        visible = [r for r in reversed(stored.releases) if authenticated or not r.draft]
        first = (page - 1) * per_page
        cap = self.listing_cap
        # GitHub serves only the first 1,000 results: a page starting past them is a 422, one
        # straddling them is cut short (notes row 1: iree-org/iree#16506, mislav/hub#2920).
        if cap is not None and first >= cap:
            message = f"Only the first {cap} results are available."
            return self._json(422, {"message": message, "documentation_url": LIST_RELEASES})
        chunk = visible[first : first + per_page if cap is None else min(first + per_page, cap)]
        body = json.dumps([self._release_json(stored, r) for r in chunk]).encode()
        # Link URLs name the repository by its id (notes row 2: google/go-github#3392; row 17:
        # octokit scenarios/api.github.com/paginate-issues/raw-fixture.json), answered above.
        base = f"{self.api_url}/repositories/{stored.id}/releases?per_page={per_page}&page="
        # Counted from every release, so next/last still point past the cap (notes row 1).
        last = max((len(visible) + per_page - 1) // per_page, 1)
        rels = {"prev": page - 1 if page > 1 else None, "next": page + 1 if page < last else None}
        rels |= {"last": last if page < last else None, "first": 1 if page > 1 else None}
        links = [f'<{base}{number}>; rel="{rel}"' for rel, number in rels.items() if number]
        # No Link header on a 304: a client must keep the one it cached with the body.
        return self._cached(request, body, {"Link": ", ".join(links)} if links else {})

    def _cached(self, request: Request, body: bytes, headers: dict[str, str]) -> Answer:
        """200 with ``body`` and its ETag, or 304 when If-None-Match has that ETag, weak or
        strong: a 200 sent gzip has the weak form, its 304 the strong one (notes row 17)."""
        etag = f'"{hashlib.sha256(body).hexdigest()}"'
        wanted = request.headers.get("if-none-match", "")
        if any(tag.strip().removeprefix("W/") in (etag, "*") for tag in wanted.split(",")):
            # A 304 has no body and does not count against the rate limit (notes row 3:
            # rate-limit guide; row 17).
            return Answer(304, {"ETag": etag, **self._rate_headers()}, b"")
        cache = {"ETag": etag, "Cache-Control": "private, max-age=60, s-maxage=60"}
        return self._json(200, body, {**cache, **headers})

    def _json(
        self, status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
    ) -> Answer:
        """An API answer; every one but a 304 counts against the rate limit."""
        if isinstance(body, dict):
            body = json.dumps({**body, "status": str(status)}).encode()
        self._charge()
        return Answer(status, {**_JSON, **(headers or {}), **self._rate_headers()}, body)


_JSON = {
    "Content-Type": "application/json; charset=utf-8",
    "X-GitHub-Media-Type": "github.v3; format=json",
    "X-GitHub-Api-Version-Selected": "2022-11-28",
}
_REDIRECT = {"Content-Type": "text/html;charset=utf-8"}  # a 302's, with no body (notes row 21)


def _iso(epoch: float) -> str:
    """A time as the signed URLs write it: ``2025-08-15T21:58:27Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


def _unpart(text: str) -> bytes:
    """A jwt part's bytes (base64url without padding); b"" when it is not one."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return b""


def _if_range_holds(if_range: str | None, headers: dict[str, str]) -> bool:
    """Whether a Range applies: no If-Range, or one naming the current ETag or Last-Modified
    (RFC 9110 section 13.1.5; a date must equal Last-Modified exactly)."""
    if if_range is None:
        return True
    if if_range.strip().startswith(('"', "W/")):
        return if_range.strip() == headers["ETag"]
    try:
        return parsedate_to_datetime(if_range) == parsedate_to_datetime(headers["Last-Modified"])
    except (TypeError, ValueError):
        return False


def _take(countdown: dict[str, int], name: str) -> bool:
    """Whether ``name`` has a scripted fault left in ``countdown``; uses one up."""
    if countdown.get(name, 0) <= 0:
        return False
    countdown[name] -= 1
    return True


def _when(release: StoredRelease) -> str:
    """The release's created_at and published_at: as given, else EPOCH + its id in hours."""
    when = release.created_at or EPOCH + timedelta(hours=release.id)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default


def _default_message(status: int, headers: dict[str, str]) -> str:
    if status == 401:
        return "Bad credentials"
    if status in (403, 429) and headers.get("X-RateLimit-Remaining") == "0":
        return "API rate limit exceeded for 127.0.0.1."
    if status in (403, 429):
        return "You have exceeded a secondary rate limit. Please wait a few minutes."
    if status == 404:
        return "Not Found"
    return "Server Error"


@functools.cache
def _wheel_bytes(package: str, version: str, requires: tuple[str, ...]) -> bytes:
    with tempfile.TemporaryDirectory() as directory:  # a model that loads (packages.MODEL_CODE)
        return make_wheel(Path(directory), package, version, requires, code=MODEL_CODE).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like GitHub
    standin: GitHubStandIn
    host: str  # "api", "web" or "storage"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        request = Request(
            "GET",
            parts.path,
            dict(parse_qsl(parts.query)),
            {name.lower(): value for name, value in self.headers.items()},
            self.host,
        )
        if self.standin.latency and self.host == "api":
            time.sleep(self.standin.latency)
        try:
            answer = self.standin.answer(request)
        except Exception:
            self.standin.errors.append(traceback.format_exc())
            answer = Answer(500, {}, b"stand-in error")
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.status != 304:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.status == 304:
            return
        if answer.held is not None:  # outside the stand-in's lock: other requests go on
            answer.held.wait(60)
        try:
            self.wfile.write(answer.body[: answer.cut_at])
            if answer.cut_at is not None:  # the connection drops before Content-Length bytes
                self.wfile.flush()
                self.close_connection = True
        except ConnectionError:  # the client hung up mid-body (a download it refused): as GitHub
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is ``standin.requests``."""


def _server(host: str, standin: GitHubStandIn) -> ThreadingHTTPServer:
    """A server for ``host`` on its loopback address (see HOSTS), or on 127.0.0.1."""
    handler = type("Handler", (_Handler,), {"standin": standin, "host": host})
    try:
        server = ThreadingHTTPServer((HOSTS[host], 0), handler)
    except OSError:  # no 127.0.0.2/3 here: a port of its own on 127.0.0.1 still changes host
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    return server


@contextmanager
def run_standin(ghes: bool = False) -> Iterator[GitHubStandIn]:
    """Serve a fresh ``GitHubStandIn`` for the ``with`` block: its API, github.com and storage
    hosts each on a free port of their own loopback address (see HOSTS). With ``ghes`` it is a
    GitHub Enterprise Server: the API under /api/v3 (notes row 16)."""
    standin = GitHubStandIn()
    if ghes:
        standin.api_path = "/api/v3"
    servers = {host: _server(host, standin) for host in HOSTS}
    address, port = servers["api"].server_address[:2]
    standin.api_root = f"http://{address}:{port}"
    address, port = servers["web"].server_address[:2]
    standin.url = f"http://{address}:{port}"
    address, port = servers["storage"].server_address[:2]
    standin.storage_url = f"http://{address}:{port}"
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        for s in servers.values()
    ]
    for thread in threads:
        thread.start()
    try:
        yield standin
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()
