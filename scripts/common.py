"""Small pieces every script in scripts/ shares: clear errors, masked URLs, atomic writes, HTTP.

Each script imports this module from its own folder (``python scripts/x.py`` puts scripts/ on
``sys.path``). Nothing here prints a secret: URLs pass through ``mask_url`` before any message.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
import urllib3
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "model-pipeline-template/1 (release links for pip find-links)"

# user:password@ (or token@) in any URL inside a string.
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


UMASK = os.umask(0)
os.umask(UMASK)


class UserError(Exception):
    """A problem the user can fix: printed as one message, exit status 1, no traceback."""


def guarded(main: Callable[[Sequence[str] | None], int]) -> Callable[..., int]:
    """Wrap a script's ``main``: a UserError, an OSError (a full disk, a name too long) or
    Ctrl-C ends it with one line and an exit status, never a traceback. What the scripts write
    is written whole or not at all (``atomic_writer``), so an interruption loses nothing."""

    @functools.wraps(main)
    def run(argv: Sequence[str] | None = None) -> int:
        try:
            return main(argv)
        except UserError as exc:
            return error(str(exc))
        except KeyboardInterrupt:
            print("interrupted: nothing was changed; run the same command again", file=sys.stderr)
            return 130
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            return error(
                f"{where}{exc.strerror or exc} (nothing was changed): free some disk space or "
                "fix the path, then run the same command again"
            )

    return run


def parser(doc: str | None, examples: str) -> argparse.ArgumentParser:
    """A script's argument parser: its docstring's first paragraph above the options, and its
    examples below them."""
    return argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def mask_url(text: str) -> str:
    """Replace ``user:password@`` (or ``token@``) in every URL of ``text`` with ``****@``."""
    return _CREDENTIALS.sub(r"\g<scheme>****@", text)


def error(message: str) -> int:
    """Print ``message`` (masked) to stderr as the script's one error line; return exit code 1."""
    print(f"error: {mask_url(message)}", file=sys.stderr)
    return 1


@contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    On any exception the temporary file is removed and ``path`` keeps its old content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600: give it the mode a new file gets
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see ``atomic_writer``)."""
    with atomic_writer(path) as handle:
        handle.write(text)


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def http_session(retries: int = 3, backoff: float = 0.5) -> requests.Session:
    """A ``requests`` session with our User-Agent that retries connection errors and 5xx.

    Retries back off exponentially (``backoff`` seconds, doubled each time). 4xx answers are
    returned to the caller, which knows what each means.
    """
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=False,  # a Retry-After of an hour must not hang a build
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


PROGRESS_MIN_BYTES = 10 * 1024 * 1024  # downloads larger than this report their progress


class Progress:
    """A large download's progress on stderr: a bar on a terminal, a line per 10 % in a log."""

    def __init__(self, name: str, total: int) -> None:
        self.name, self.total = name, total
        self.shown = total <= PROGRESS_MIN_BYTES  # small or unknown size: nothing to show
        self.tty = sys.stderr.isatty()
        self.tenths = 0

    def update(self, done: int) -> None:
        """Report that ``done`` bytes of ``total`` have arrived."""
        if self.shown:
            return
        megabytes = f"{done / 2**20:7.1f} / {self.total / 2**20:.1f} MB"
        if self.tty:
            filled = 30 * done // self.total
            end = "" if done < self.total else "\n"
            print(
                f"\r  [{'#' * filled}{' ' * (30 - filled)}] {megabytes}", end=end, file=sys.stderr
            )
        elif 10 * done // self.total > self.tenths:
            self.tenths = 10 * done // self.total
            print(f"  {self.name}: {10 * self.tenths:3d} % ({megabytes})", file=sys.stderr)
        self.shown = done >= self.total


MAX_BODY = 64 * 2**20  # the most an API answer may be: a page of 100 releases is ~1 MB
MAX_DOWNLOAD = 8 * 2**30  # the most a download whose size nobody gave may be
TIMEOUT = (10, 60)  # seconds to connect, and the longest silence while reading
MIN_RATE = 8 * 1024  # bytes per second a transfer must average once GRACE seconds have passed
GRACE = 30.0  # so a 500 MB model completes on a slow link, and a trickle does not hold a run


def blocks(response: requests.Response, limit: int, what: str) -> Iterator[bytes]:
    """The body of ``response`` block by block, refused (UserError) past ``limit`` bytes, or
    when it arrives slower than MIN_RATE on average after the first GRACE seconds."""
    start, done = time.monotonic(), 0
    try:
        # read1: whatever has arrived (at most 64 KiB), so a trickle is seen as one
        while block := response.raw.read1(1 << 16, decode_content=True):
            done += len(block)
            if done > limit:
                raise UserError(f"{what} is larger than the {limit} bytes expected: refused")
            elapsed = time.monotonic() - start
            if elapsed > GRACE and done < MIN_RATE * elapsed:
                raise UserError(
                    f"{what} arrives too slowly ({done} bytes in {elapsed:.0f} s): the server "
                    "or the network is stalling; try again later"
                )
            yield block
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise UserError(
            f"{what} broke off after {done} bytes ({type(exc).__name__}); try again later"
        ) from None


class NotFound(UserError):
    """A download answered 404."""


class _NoAuth(requests.auth.AuthBase):
    """No credentials at all: keeps requests from adding a ~/.netrc entry's (notes row 7)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def download(
    session: requests.Session,
    url: str,
    target: Path,
    sha256: str | None = None,
    size: int | None = None,
    headers: dict[str, str] | None = None,
    netrc: bool = True,
) -> str:
    """Stream ``url`` to ``target`` (a temporary name, renamed when complete); return its sha256.

    ``headers`` go with the first request only: a redirect (GitHub sends downloads to another
    host, with a signed URL) is followed without them, so a token never leaves the host it was
    meant for; with ``netrc=False`` no ~/.netrc credentials are sent either. The answer must be
    200 and not an HTML page (GitHub's error pages and login pages come with 200, notes row 8),
    and the body exactly ``size`` bytes and ``sha256`` when they are given. On any failure
    UserError (NotFound for a 404) is raised, to be prefixed with where and how to fix, and
    ``target`` is left as it was. A large download reports its progress (see ``Progress``).
    """
    auth = None if netrc else _NoAuth()
    try:
        response = session.get(
            url, headers=headers, stream=True, timeout=TIMEOUT, allow_redirects=False, auth=auth
        )
        for _ in range(5):
            if not response.is_redirect:
                break
            response.close()
            url = requests.compat.urljoin(url, response.headers["Location"])
            response = session.get(
                url, stream=True, timeout=TIMEOUT, allow_redirects=False, auth=auth
            )
    except requests.RequestException as exc:
        raise UserError(f"could not download {mask_url(url)}: {type(exc).__name__}") from None
    with response:
        if response.status_code == 404:
            raise NotFound(f"downloading {mask_url(url)} answered HTTP 404")
        if response.status_code != 200:
            raise UserError(f"downloading {mask_url(url)} answered HTTP {response.status_code}")
        if response.headers.get("Content-Type", "").lower().startswith("text/html"):
            raise UserError(
                f"downloading {target.name} answered an HTML page, not the file (an error or "
                "login page)"
            )
        progress = Progress(target.name, size or int(response.headers.get("Content-Length") or 0))
        digest, done = hashlib.sha256(), 0
        with atomic_writer(target, "wb") as handle:
            limit = MAX_DOWNLOAD if size is None else size
            for block in blocks(response, limit, f"the download of {target.name}"):
                done += len(block)
                handle.write(block)
                digest.update(block)
                progress.update(done)
            if size is not None and done != size:
                raise UserError(f"{target.name}: the download gave {done} bytes, not {size}")
            if sha256 and digest.hexdigest() != sha256:
                raise UserError(f"{target.name} has sha256 {digest.hexdigest()}, not {sha256}")
    return digest.hexdigest()


def read_sha256sums(path: Path) -> dict[str, str]:
    """Read a ``sha256sum``-style file (``<hex>  <file name>`` lines) into {file name: hex}."""
    if not path.is_file():
        return {}
    sums: dict[str, str] = {}
    for line in path.read_text().splitlines():
        hexdigest, _, name = line.partition("  ")
        if name and re.fullmatch(r"[0-9a-f]{64}", hexdigest):
            sums[name] = hexdigest
    return sums


def write_sha256sums(path: Path, sums: dict[str, str]) -> None:
    """Write {file name: hex} as a sorted ``sha256sum``-style file, atomically."""
    atomic_write_text(path, "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)))


@dataclass(frozen=True)
class Line:
    """One logical line of a requirements file (continuations joined), comments removed."""

    number: int  # where it starts, 1-based
    text: str  # without comments and continuation backslashes
    hashes: tuple[str, ...]  # the hex of each --hash=sha256:<hex>

    @property
    def is_option(self) -> bool:
        return self.text.startswith("-")

    @property
    def option(self) -> str:
        """The option a line gives (``--extra-index-url`` of ``--extra-index-url=URL``), or ""."""
        return self.text.split()[0].split("=")[0] if self.is_option else ""

    def requirement(self, path: Path | None = None) -> Requirement:
        """The requirement on this line; raises UserError naming ``path:line`` when garbled."""
        try:
            return Requirement(self.text)
        except InvalidRequirement as exc:
            where = f"{path}:{self.number}" if path else f"line {self.number}"
            raise UserError(f"{where}: {self.text!r} is not a requirement ({exc})") from None

    def pin(self) -> tuple[str, str] | None:
        """(canonical name, version) when the line pins with ``==``, else None."""
        req = self.requirement()
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
            return canonicalize_name(req.name), specs[0].version
        return None


_HASH = re.compile(r"--hash[= ]sha256:([0-9a-fA-F]{64})\b")


def read_requirement_lines(path: Path) -> list[Line]:
    """Read a requirements file (``.in`` or pip-compile's ``.txt``) into logical lines.

    Blank lines and comments (``#`` at the start or after white space) are dropped; ``--hash``
    options are taken off the requirement and kept in ``Line.hashes``.
    """
    return read_requirement_lines_of(path.read_text())


def read_requirement_lines_of(text: str) -> list[Line]:
    """``read_requirement_lines`` of the ``text`` of a requirements file."""
    lines: list[Line] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        text = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0].rstrip()
        if not pending:
            start = number
        if text.endswith("\\"):
            pending.append(text[:-1])
            continue
        pending.append(text)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if not joined:
            continue
        hashes = tuple(h.lower() for h in _HASH.findall(joined))
        joined = _HASH.sub("", joined).strip()
        lines.append(Line(start, joined, hashes))
    return lines


def read_pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of the ``name==version`` lines of a requirements file; options
    and garbled lines are passed over (the checks report those)."""
    pins: dict[str, str] = {}
    for line in read_requirement_lines(path) if path.is_file() else []:
        try:
            pin = None if line.is_option else line.pin()
        except UserError:
            continue
        if pin:
            pins[pin[0]] = pin[1]
    return pins


LINKS_PAGE = Path("build/model-links.html")
WHEELS_DIR = Path("build/wheels")
RELEASE_FILES_DIR = Path("build/release-files")
RELEASE_LINE = re.compile(r"^    # release: (\S+)$")  # a lock's record of a release file's URL
PIN_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")  # a lock's `name==version \`


def release_urls(path: Path) -> dict[str, list[str]]:
    """{canonical name: [URL, ...]} of the release files a compiled lock records (the
    ``# release: URL`` lines under a release package's pin), none for an older lock."""
    urls: dict[str, list[str]] = {}
    name = ""
    for line in path.read_text().splitlines() if path.is_file() else []:
        if pin := PIN_LINE.match(line):
            name = canonicalize_name(pin[1])
        elif (found := RELEASE_LINE.match(line)) and name:
            urls.setdefault(name, []).append(found[1])
    return urls


def pip_env(**extra: str) -> dict[str, str]:
    """The environment pip runs in (pip-compile, pip-sync, pip): the links page, the verified
    release files in build/release-files (so a fresh clone needs no links page to install),
    build/wheels, FIND_LINKS and the user's own PIP_FIND_LINKS as find-links, in this order and
    in the environment, so that no credential is ever on a command line that `ps` shows; and no
    GitHub token, which neither pip nor a build it runs needs."""
    links = [str(LINKS_PAGE)] if LINKS_PAGE.is_file() else []
    links += [str(d) for d in (RELEASE_FILES_DIR, WHEELS_DIR) if d.is_dir()]
    links += os.environ.get("FIND_LINKS", "").split() + os.environ.get("PIP_FIND_LINKS", "").split()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_TOKEN")}
    return {**env, "PIP_FIND_LINKS": " ".join(links), **extra}
