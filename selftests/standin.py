"""A loopback stand-in for GitHub's releases API and release downloads, for the tests.

The tests never reach GitHub. This server answers the requests the template makes the way
api.github.com and github.com do, so a script that works against it works against GitHub:

* ``GET {api_url}/repos/OWNER/NAME/releases?per_page=N&page=K``: releases newest first, 30 per page
  by default and at most 100, drafts only for authenticated requests, a ``Link`` header with
  rel="prev"/"next"/"last"/"first" pointing at ``{api_url}/repositories/ID/releases`` (as
  GitHub does), a weak ``ETag`` answered with 304 on ``If-None-Match``, and ``X-RateLimit-*``
  headers on every answer (a 304 costs nothing; an exhausted limit gives GitHub's 403);
* ``GET {url}/OWNER/NAME/releases/download/TAG/FILE``: a 302 to ``{url}/objects/ASSET_ID``
  (github.com -> objects.githubusercontent.com), which serves the bytes.

Every request lands in ``standin.requests``; ``fail_with`` scripts errors (401, 403, 429, 5xx).

    with run_standin() as github:
        github.add_release("explosion/spacy-models", "en_core_web_sm-3.8.0", {name: data})
        monkeypatch.setenv("GITHUB_API_URL", github.api_url)
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from packaging.version import Version

from packages import make_wheel

if TYPE_CHECKING:
    import pytest

SPACY_RELEASES_TSV = Path(__file__).resolve().parents[2] / "shared/data/spacy-models-releases.tsv"
DOCS = "https://docs.github.com/rest"
RELEASES = re.compile(r"/api/(?:repos/([^/]+/[^/]+)|repositories/(\d+))/releases")
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)  # published_at of release n is EPOCH + n hours


@dataclass(frozen=True)
class Request:
    """One request the stand-in received. Header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class StoredAsset:
    id: int
    name: str
    data: bytes
    digest: bool
    content_type: str = "application/octet-stream"


@dataclass
class StoredRelease:
    id: int
    tag: str
    prerelease: bool
    draft: bool
    assets: list[StoredAsset] = field(default_factory=list)


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


class GitHubStandIn:
    """The stand-in's state and knobs. Made and served by ``run_standin()``."""

    def __init__(self) -> None:
        self.url = ""  # http://127.0.0.1:PORT, set by run_standin()
        self.token: str | None = None  # when set, API requests need "Authorization: Bearer <it>"
        self.rate_limit = 5000  # GitHub gives 60 an hour without a token, 5000 with one
        self.rate_remaining = 5000  # set to 0 to get GitHub's "rate limit exceeded" 403
        self.rate_reset = int(time.time()) + 3600
        self.latency = 0.0  # seconds each API answer waits, like a round trip to GitHub
        self.requests: list[Request] = []
        self.errors: list[str] = []  # tracebacks of the stand-in's own bugs (answered 500)
        self._repos: dict[str, StoredRepo] = {}  # by lower-case OWNER/NAME
        self._assets: dict[int, StoredAsset] = {}
        self._failures: list[Failure] = []
        self._next_id = 1000
        self._lock = threading.RLock()

    @property
    def api_url(self) -> str:
        """The value for GITHUB_API_URL."""
        return f"{self.url}/api"

    # --- populating -------------------------------------------------------------------------

    def add_release(
        self,
        repo: str,
        tag: str,
        files: dict[str, bytes],
        prerelease: bool = False,
        draft: bool = False,
        digest: bool = True,
    ) -> None:
        """Publish release ``tag`` (the newest so far) with ``files`` as its assets.

        ``digest=True``: the API gives each asset's ``sha256:<hex>``; False gives null, as for
        every asset uploaded before GitHub started computing digests (all spaCy models today).
        """
        with self._lock:
            stored = self._repo(repo, create=True)
            if any(release.tag == tag for release in stored.releases):
                raise ValueError(f"{repo} already has a release {tag}")
            release = StoredRelease(self._new_id(), tag, prerelease, draft)
            for name, data in files.items():
                release.assets.append(self._new_asset(name, data, digest))
            stored.releases.append(release)

    def add_release_from_paths(
        self, repo: str, tag: str, paths: list[Path], **options: Any
    ) -> None:
        """``add_release`` with the files at ``paths`` (named as on disk)."""
        self.add_release(repo, tag, {path.name: path.read_bytes() for path in paths}, **options)

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
                    release.assets[index] = self._new_asset(name, data, digest)
                    return
            raise KeyError(f"{repo} {tag} has no asset {name}")

    def make_private(self, repo: str) -> None:
        """Answer 404 for ``repo`` to requests without a token, as GitHub does for private ones."""
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
        """Answer the next ``times`` requests whose path starts with ``path`` with ``status``.

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
        """Publish the releases of /work/shared/data/spacy-models-releases.tsv; return how many.

        Each release has a tiny real wheel with the model's real Requires-Dist, a small .tar.gz,
        and a checksum file pip cannot install. Versions that are pre-releases (2.0.0-alpha4,
        3.0.0a0) are marked prerelease; from 3.7.0 on, the API gives digests (null before).
        Skips the calling test when the data file is missing.
        """
        if not SPACY_RELEASES_TSV.is_file():
            import pytest

            pytest.skip(f"no spaCy release data at {SPACY_RELEASES_TSV}")
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
        """The API requests received, all or only those for ``repo`` (either URL form)."""
        with self._lock:
            prefixes = ["/api/"]
            if repo is not None:
                stored = self._repos.get(repo.lower())
                prefixes = [f"/api/repos/{repo.lower()}/"]
                if stored is not None:
                    prefixes.append(f"/api/repositories/{stored.id}/")
            return [
                r
                for r in self.requests
                if any((r.path.lower() + "/").startswith(p) for p in prefixes)
            ]

    def downloads(self, filename: str) -> int:
        """How many times the bytes of an asset named ``filename`` were downloaded."""
        with self._lock:
            ids = {f"/objects/{i}" for i, asset in self._assets.items() if asset.name == filename}
            return sum(1 for r in self.requests if r.method == "GET" and r.path in ids)

    # --- internals --------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _new_asset(self, name: str, data: bytes, digest: bool) -> StoredAsset:
        asset = StoredAsset(self._new_id(), name, data, digest)
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
        when = (EPOCH + timedelta(hours=release.id)).strftime("%Y-%m-%dT%H:%M:%SZ")
        download = f"{self.url}/{repo.full_name}/releases/download/{quote(release.tag, safe='')}"
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
            "created_at": when,
            "published_at": None if release.draft else when,
            "body": "",
            "assets": [
                {
                    "url": f"{api}/assets/{asset.id}",
                    "id": asset.id,
                    "node_id": f"RA_{asset.id}",
                    "name": asset.name,
                    "label": "",
                    "content_type": asset.content_type,
                    "state": "uploaded",
                    "size": len(asset.data),
                    "digest": f"sha256:{hashlib.sha256(asset.data).hexdigest()}"
                    if asset.digest
                    else None,
                    "download_count": 0,
                    "created_at": when,
                    "updated_at": when,
                    "browser_download_url": f"{download}/{quote(asset.name, safe='')}",
                }
                for asset in release.assets
            ],
        }

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self.rate_remaining),
            "X-RateLimit-Reset": str(self.rate_reset),
            "X-RateLimit-Used": str(self.rate_limit - self.rate_remaining),
            "X-RateLimit-Resource": "core",
        }

    def answer(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for ``request``; the handler only moves bytes."""
        with self._lock:
            self.requests.append(request)
            for failure in self._failures:
                if failure.times > 0 and request.path.startswith(failure.path):
                    failure.times -= 1
                    headers = {**self._rate_headers(), **failure.headers}
                    return failure.status, {**_JSON, **headers}, failure.body
            if request.path.startswith("/api/"):
                return self._answer_api(request)
            if match := re.fullmatch(r"/objects/(\d+)", request.path):
                asset = self._assets.get(int(match[1]))
                if asset is not None:
                    return 200, {"Content-Type": asset.content_type}, asset.data
            parts = [unquote(part) for part in request.path.split("/")]
            if len(parts) == 7 and parts[3:5] == ["releases", "download"]:
                for asset in self._download(f"{parts[1]}/{parts[2]}", parts[5], parts[6]):
                    return 302, {"Location": f"{self.url}/objects/{asset.id}"}, b""
            return 404, {"Content-Type": "text/plain"}, b"Not Found"

    def _download(self, repo: str, tag: str, name: str) -> list[StoredAsset]:
        stored = self._repos.get(repo.lower())
        releases = [r for r in stored.releases if r.tag == tag] if stored else []
        return [a for r in releases for a in r.assets if a.name == name]

    def _answer_api(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        auth = request.headers.get("authorization", "")
        authenticated = auth.startswith(("Bearer ", "token ")) and (
            self.token is None or auth.split(" ", 1)[1] == self.token
        )
        if (auth or self.token is not None) and not authenticated:
            return self._json(401, {"message": "Bad credentials", "documentation_url": DOCS})
        if self.rate_remaining <= 0:
            message = f"API rate limit exceeded for {request.headers.get('host', '127.0.0.1')}."
            return self._json(403, {"message": message, "documentation_url": DOCS})
        match = re.fullmatch(
            r"/api/(?:repos/([^/]+/[^/]+)|repositories/(\d+))/releases", request.path
        )
        by_id = {str(repo.id): repo for repo in self._repos.values()}
        stored = None
        if match:
            stored = self._repos.get(match[1].lower()) if match[1] else by_id.get(match[2])
        if stored is None or (stored.private and not authenticated):
            return self._json(404, {"message": "Not Found", "documentation_url": DOCS})

        per_page = min(max(_int(request.query.get("per_page"), 30), 1), 100)
        page = max(_int(request.query.get("page"), 1), 1)
        visible = [r for r in reversed(stored.releases) if authenticated or not r.draft]
        last = max((len(visible) + per_page - 1) // per_page, 1)
        chunk = visible[(page - 1) * per_page : page * per_page]
        body = json.dumps([self._release_json(stored, r) for r in chunk]).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()}"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=60, s-maxage=60"}
        base = f"{self.api_url}/repositories/{stored.id}/releases?per_page={per_page}&page="
        rels = {"prev": page - 1 if page > 1 else None, "next": page + 1 if page < last else None}
        rels |= {"last": last if page < last else None, "first": 1 if page > 1 else None}
        links = [f'<{base}{number}>; rel="{rel}"' for rel, number in rels.items() if number]
        if links:
            headers["Link"] = ", ".join(links)
        wanted = request.headers.get("if-none-match", "")
        if any(tag.strip().removeprefix("W/") in (etag[2:], "*") for tag in wanted.split(",")):
            # No Link header on a 304: a client must keep the one it cached with the body.
            return 304, {"ETag": etag, **self._rate_headers()}, b""
        return self._json(200, body, headers)

    def _json(
        self, status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """An API answer; every one but a 304 counts against the rate limit."""
        if isinstance(body, dict):
            body = json.dumps({**body, "status": str(status)}).encode()
        self.rate_remaining = max(self.rate_remaining - 1, 0)
        return status, {**_JSON, **(headers or {}), **self._rate_headers()}, body


_JSON = {
    "Content-Type": "application/json; charset=utf-8",
    "X-GitHub-Media-Type": "github.v3; format=json",
    "X-GitHub-Api-Version-Selected": "2022-11-28",
}


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
    with tempfile.TemporaryDirectory() as directory:
        return make_wheel(Path(directory), package, version, requires).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like GitHub
    standin: GitHubStandIn

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        request = Request(
            "GET",
            parts.path,
            dict(parse_qsl(parts.query)),
            {name.lower(): value for name, value in self.headers.items()},
        )
        if self.standin.latency and parts.path.startswith("/api/"):
            time.sleep(self.standin.latency)
        try:
            status, headers, body = self.standin.answer(request)
        except Exception:
            self.standin.errors.append(traceback.format_exc())
            status, headers, body = 500, {}, b"stand-in error"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is ``standin.requests``."""


@contextmanager
def run_standin() -> Iterator[GitHubStandIn]:
    """Serve a fresh ``GitHubStandIn`` on 127.0.0.1 (a free port) for the ``with`` block."""
    standin = GitHubStandIn()
    handler = type("Handler", (_Handler,), {"standin": standin})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    """A pytest fixture body: a running stand-in with GITHUB_API_URL pointing at it.

    Register it in conftest.py with ``github = pytest.fixture(standin.github)``. Retries back
    off for 0 s (MODEL_LINKS_BACKOFF), so scripted 5xx answers cost no time.
    """
    with run_standin() as standin:
        monkeypatch.setenv("GITHUB_API_URL", standin.api_url)
        monkeypatch.setenv("MODEL_LINKS_BACKOFF", "0")
        yield standin
