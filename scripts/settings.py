"""Every path and every setting, in one place: read once, then passed down as ``Settings``.

Standard library only, like errors.py and backend.py, so that `python -m scripts tools-install`
runs before the tools environment holds anything but uv.

Paths are relative to the project's root (make runs there). Settings come from the environment
alone, which is how make hands them over (``export`` in the Makefile), so no value (a token, a
licence key in a find-links URL) is ever on a command line that make echoes or ``ps`` shows.
``Settings`` never shows a secret: the fields that may hold one are left out of its repr.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from .errors import UserError, mask_url

# What the user writes, and the locks made from it.
REQUIREMENTS_IN = Path("requirements.in")
MODEL_IN = Path("requirements-model.in")  # written by `make wheels` from the .raw file
MODEL_RAW = Path("requirements-model.in.raw")
DEV_IN = Path("requirements-dev.in")
LOCK = Path("requirements.txt")
DEV_LOCK = Path("requirements-dev.txt")
DEPLOY_LOCK = Path("requirements-deploy.txt")
TOOLS_IN = Path("requirements-tools.in")
TOOLS_LOCK = Path("requirements-tools.txt")
SOURCES = (REQUIREMENTS_IN, MODEL_IN)  # what requirements.txt is compiled from
DEV_SOURCES = (DEV_IN, LOCK)  # requirements-dev.in starts with `-c requirements.txt`
INPUTS = (REQUIREMENTS_IN, MODEL_IN, DEV_IN, MODEL_RAW)  # searched for sources and secrets
AUDIT_ALLOW = Path("audit-allow.toml")  # advisories `make audit` lets pass, each until a date

# What the commands make, all under build/ (never committed).
BUILD = Path("build")
MANIFEST = BUILD / "model-assets.json"  # every linked release file, as the listing found it
LINKS_PAGE = BUILD / "model-links.html"  # the find-links page of every release file
RESOLVER_PAGE = BUILD / "resolver-links.html"  # only the release packages the inputs reach
RELEASE_FILES = BUILD / "release-files"  # the release files fetched once, with SHA256SUMS
SHA256SUMS = RELEASE_FILES / "SHA256SUMS"
RELEASE_STUBS = BUILD / "release-stubs"  # what a wheel still downloading says of itself (stubs.py)
STAMPS = RELEASE_FILES / "SHA256SUMS.stamps"  # which files are provably the ones hashed (cache.py)
FILES_PAGE = BUILD / "release-files.html"  # every fetched release file, with its hash
WHEELS = BUILD / "wheels"  # the files of requirements-model.in.raw
API_CACHE = BUILD / "cache/github"  # GitHub's answers, with their ETags
CONSTRAINTS = BUILD / "release-constraints.txt"
RELEASE_INPUT = BUILD / "release-requirements.in"
INDEX_SITE = BUILD / "index"  # what `make index` publishes
BEFORE_UPGRADE = BUILD / "requirements-before.txt"
UPGRADE_REPORT = BUILD / "upgrade-report.md"
AUDIT_CACHE = BUILD / "cache/pip-audit"  # pip-audit's HTTP cache, kept out of the user's home
SBOM = BUILD / "sbom.cdx.json"  # what `make sbom` writes

DEFAULT_REPOS = ("explosion/spacy-models",)
# The platforms a lock can be made to hold on (PLATFORMS): each with the target uv resolves and
# installs for, and the environment markers that pick it out (PEP 508).
PLATFORM_TARGETS = {
    "linux-x86_64": ("x86_64-unknown-linux-gnu", "sys_platform == 'linux'", "x86_64"),
    "linux-aarch64": ("aarch64-unknown-linux-gnu", "sys_platform == 'linux'", "aarch64"),
    "macos-arm64": ("aarch64-apple-darwin", "sys_platform == 'darwin'", "arm64"),
    "macos-x86_64": ("x86_64-apple-darwin", "sys_platform == 'darwin'", "x86_64"),
    "windows-x86_64": ("x86_64-pc-windows-msvc", "sys_platform == 'win32'", "AMD64"),
}
DEFAULT_PLATFORMS = "linux macos windows"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_OSV_URL = "https://api.osv.dev/v1/query"  # OSV's query API, as pip-audit asks it
DEFAULT_COOLDOWN = "7 days"
# COOLDOWN's units, as uv's --exclude-newer durations name them ("7 days"; "1 week").
UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
# OWNER/NAME as GitHub allows them.
REPO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


@dataclass(frozen=True)
class Repo:
    """A repository whose releases are linked, with the API that serves it and its token's name."""

    name: str  # OWNER/NAME
    api_url: str  # https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise
    token_variable: str  # GITHUB_TOKEN for GITHUB_API_URL's host; GITHUB_TOKEN_<HOST> elsewhere

    @property
    def label(self) -> str:
        """How messages name it: OWNER/NAME, with the host when it is not the default API."""
        if self.token_variable == "GITHUB_TOKEN":
            return self.name
        return f"{urlsplit(self.api_url).netloc}/{self.name}"


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


def api_url_setting(value: str) -> str:
    """GITHUB_API_URL (or the default), checked: http(s) and no credentials in it."""
    url = (value or DEFAULT_API_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UserError(f"GITHUB_API_URL={mask_url(url)!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise UserError("GITHUB_API_URL must not hold credentials: put the token in GITHUB_TOKEN")
    return url


def platforms_setting(value: str) -> tuple[str, ...]:
    """PLATFORMS: platform names (``linux`` stands for every Linux of PLATFORM_TARGETS, and so
    on), expanded, checked and in the table's order; empty for this machine only."""
    named: set[str] = set()
    for entry in value.split():
        found = {n for n in PLATFORM_TARGETS if n == entry or n.split("-")[0] == entry}
        if not found:
            raise UserError(
                f"{entry!r} in PLATFORMS is not a platform: use {', '.join(PLATFORM_TARGETS)}, "
                "or linux, macos and windows for all of one system's (settings.mk)"
            )
        named |= found
    return tuple(name for name in PLATFORM_TARGETS if name in named)


def osv_url_setting(value: str) -> str:
    """OSV_URL (or the default), checked: an http(s) URL. A mirror's may hold credentials: they
    are never shown."""
    url = value.strip() or DEFAULT_OSV_URL
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UserError(
            f"OSV_URL={mask_url(url)!r} is not an http(s) URL: use OSV's query API, "
            f"{DEFAULT_OSV_URL}, or a mirror's"
        )
    return url


def cooldown_setting(value: str) -> timedelta:
    """COOLDOWN: how long a version must have been out before a compile takes it ("7 days",
    "12 hours", "2 weeks"); ``0`` turns the cooldown off (a zero timedelta)."""
    text = value.strip() or DEFAULT_COOLDOWN
    if text == "0":
        return timedelta(0)
    match = re.fullmatch(r"(\d+) *([a-z]+?)s?", text.lower())
    if not match or match[2] not in UNITS:
        raise UserError(
            f"COOLDOWN={text!r} is not a duration: write a number and a unit (seconds, minutes, "
            f"hours, days or weeks), such as COOLDOWN=7 days, or 0 for none (settings.mk)"
        )
    return timedelta(seconds=int(match[1]) * UNITS[match[2]])


def owners_setting(value: str) -> dict[str, str]:
    """MODEL_OWNERS: ``NAME=REPOSITORY`` entries, as {name: repository}."""
    owners: dict[str, str] = {}
    for entry in value.split():
        name, _, repo = entry.partition("=")
        if not name or not repo:
            raise UserError(f"{entry!r} in MODEL_OWNERS is not NAME=REPOSITORY")
        owners[name] = repo
    return owners


@dataclass(frozen=True)
class Settings:
    """What the user set (settings.mk, make's command line, the environment), checked once."""

    repos: tuple[Repo, ...]  # MODEL_REPOS (default: explosion/spacy-models)
    owners: dict[str, str]  # MODEL_OWNERS: which repository owns a name two of them offer
    index_url: str  # MODEL_INDEX_URL: a site `make index` published, listed instead of the API
    index_packages: tuple[str, ...]  # INDEX_PACKAGES: what `make index` covers
    pre: bool  # PRE=1: releases marked prerelease too
    packages: tuple[str, ...]  # PACKAGES: what `make upgrade` re-pins (default: all)
    resolver: str  # RESOLVER: pip-tools (the default) or uv
    platforms: tuple[str, ...]  # PLATFORMS, expanded: where every lock must install (or here)
    # May hold credentials: kept out of the repr, never printed or written.
    find_links: tuple[str, ...] = field(repr=False)  # FIND_LINKS, then the user's PIP_FIND_LINKS
    tokens: dict[str, str] = field(repr=False)  # GITHUB_TOKEN and GITHUB_TOKEN_<HOST>
    osv_url: str = field(default=DEFAULT_OSV_URL, repr=False)  # OSV_URL: what `make audit` asks
    cooldown: timedelta = timedelta(days=7)  # COOLDOWN: how old a version must be (0: off)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check every setting; a bad one raises UserError naming it."""
        api_url = api_url_setting(environ.get("GITHUB_API_URL", ""))
        entries = environ.get("MODEL_REPOS", "").split() or list(DEFAULT_REPOS)
        resolver = environ.get("RESOLVER", "").strip() or "pip-tools"
        if resolver not in ("pip-tools", "uv"):
            raise UserError(f"RESOLVER={resolver!r} is not a resolver: use pip-tools or uv")
        return cls(
            repos=tuple(parse_repo(entry, api_url) for entry in entries),
            owners=owners_setting(environ.get("MODEL_OWNERS", "")),
            index_url=environ.get("MODEL_INDEX_URL", "").strip().rstrip("/"),
            index_packages=tuple(environ.get("INDEX_PACKAGES", "").split()),
            pre=bool(environ.get("PRE", "").strip()),
            packages=tuple(environ.get("PACKAGES", "").split()),
            resolver=resolver,
            platforms=platforms_setting(environ.get("PLATFORMS", DEFAULT_PLATFORMS)),
            find_links=tuple(
                environ.get("FIND_LINKS", "").split() + environ.get("PIP_FIND_LINKS", "").split()
            ),
            tokens={
                name: value.strip()
                for name, value in environ.items()
                if name.startswith("GITHUB_TOKEN") and value.strip()
            },
            osv_url=osv_url_setting(environ.get("OSV_URL", "")),
            cooldown=cooldown_setting(environ.get("COOLDOWN", "")),
        )

    def token(self, repo: Repo) -> str | None:
        """The token for ``repo``'s API (never sent to any other host), or None."""
        return self.tokens.get(repo.token_variable)

    def token_for(self, url: str) -> str | None:
        """The token for a request to ``url`` when it is on the API of a configured repository
        whose token is set, else None: a token goes to its own API and nowhere else."""
        for repo in self.repos:
            if url.startswith(repo.api_url + "/") and self.token(repo):
                return self.token(repo)
        return None
