"""HTTP as every command uses it: one session setup, bounded reads, checked downloads.

Every answer is read within a size cap and a minimum rate, so a hostile or broken server can
neither fill the disk nor hold a run for ever; every failure is a ``UserError`` with the URL
masked. A download follows redirects by hand, so a credential never leaves the host it was
meant for (GitHub sends downloads to another host, which refuses an ``Authorization`` header).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import BrokeOff, NotFound, UserError, mask_url
from .files import UMASK

USER_AGENT = "model-pipeline-template/1 (release links for pip find-links)"
MAX_BODY = 64 * 2**20  # the most an API answer may be: a page of 100 releases is ~1 MB
MAX_DOWNLOAD = 8 * 2**30  # the most a download whose size nobody gave may be
TIMEOUT = (10, 60)  # seconds to connect, and the longest silence while reading
MIN_RATE = 8 * 1024  # bytes per second a transfer must average once GRACE seconds have passed
GRACE = 30.0  # so a 500 MB model completes on a slow link, and a trickle does not hold a run
PROGRESS_MIN_BYTES = 10 * 1024 * 1024  # downloads larger than this report their progress
RETRIES = 3  # of a connection error or a 5xx answer
BACKOFF = 0.5  # seconds before the second retry, doubled for each next one


def session(netrc: bool = True) -> requests.Session:
    """A ``requests`` session with our User-Agent that retries connection errors and 5xx.

    Retries (RETRIES) back off exponentially (BACKOFF). 4xx answers are returned to the
    caller, which knows what each means. With ``netrc=False`` it never sends ~/.netrc
    credentials (GitHub's requests: a ``default`` entry meant for a package index must not
    reach GitHub, nor replace its token; requests' rebuild_auth); give it ``auth`` for a credential.
    """
    made = requests.Session() if netrc else _NoNetrcSession()
    if not netrc:
        made.auth = _NoAuth()
    made.headers["User-Agent"] = USER_AGENT
    retry = Retry(
        total=RETRIES,
        backoff_factor=BACKOFF,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=False,  # a Retry-After of an hour must not hang a build
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    made.mount("http://", adapter)
    made.mount("https://", adapter)
    return made


def reason(exc: requests.RequestException) -> str:
    """The innermost cause of a requests error (e.g. "Connection refused"), without any URL."""
    cause: BaseException = exc
    inner = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else None
    if isinstance(inner, BaseException):
        cause = inner
    while cause.__cause__ is not None:
        cause = cause.__cause__
    return getattr(cause, "strerror", None) or type(cause).__name__


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
                raise BrokeOff(
                    f"{what} arrives too slowly ({done} bytes in {elapsed:.0f} s): the server "
                    "or the network is stalling; try again later"
                )
            yield block
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise BrokeOff(
            f"{what} broke off after {done} bytes ({type(exc).__name__}); try again later"
        ) from None


@dataclass(frozen=True)
class Answer:
    """A whole HTTP answer, read within MAX_BODY."""

    status: int
    reason: str
    headers: requests.structures.CaseInsensitiveDict
    body: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body)


def get(http: requests.Session, url: str, headers: dict[str, str] | None = None) -> Answer:
    """GET ``url`` and read its whole body within MAX_BODY and the minimum rate; a network
    failure (after the session's retries) raises ``requests.RequestException``."""
    with http.get(url, headers=headers, timeout=TIMEOUT, stream=True) as response:
        body = b"".join(blocks(response, MAX_BODY, mask_url(url)))
        return Answer(response.status_code, response.reason, response.headers, body)


class _NoAuth(requests.auth.AuthBase):
    """No credentials but a request's own headers: keeps requests from putting a ~/.netrc
    entry's in place of them (requests' rebuild_auth)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class _NoNetrcSession(requests.Session):
    """A session that never reads ~/.netrc, not even on a redirect (requests' rebuild_auth
    applies the new host's entry, or a ``default`` one); proxies still come from the
    environment. It strips Authorization when a redirect changes host, as requests does."""

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        headers = prepared_request.headers
        if "Authorization" in headers and self.should_strip_auth(
            response.request.url or "", prepared_request.url or ""
        ):
            del headers["Authorization"]


def _auth(download: Download) -> requests.auth.AuthBase | None:
    """No ~/.netrc credentials for a download that asks for none or carries its own."""
    if not download.netrc or any(name.lower() == "authorization" for name in download.headers):
        return _NoAuth()
    return None


def _epoch(http_date: str | None) -> int | None:
    """An HTTP date (Last-Modified) as whole seconds since the epoch, or None."""
    try:
        return int(email.utils.parsedate_to_datetime(http_date or "").timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _continues(response: requests.Response, offset: int, size: int | None, stamp: int) -> bool:
    """Whether a 206 is the rest of the file from ``offset``, of the same upload as the .part
    (its Last-Modified, which the .part's mtime keeps), and of the size the API lists."""
    found = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
    return (
        found is not None
        and int(found[1]) == offset
        and (size is None or found[2] == str(size))
        and _epoch(response.headers.get("Last-Modified")) == stamp
    )


@dataclass(frozen=True)
class Download:
    """One file to fetch: where from, what it must be (``size`` bytes, ``sha256``, each when
    known), where it goes, and what the first request carries.

    ``headers`` go with the first request only: a redirect (GitHub sends downloads to another
    host, with a signed URL) is followed without them, so a token never leaves the host it was
    meant for. With ``netrc=False``, or when ``headers`` carry an Authorization of their own, no
    request sends ~/.netrc credentials (requests would put them in the token's place, and send a
    ``default`` entry to the storage host too). A public file and a private one
    (its API URL, a token and ``Accept: application/octet-stream``) are the same kind of value,
    fetched the same way."""

    url: str
    target: Path
    sha256: str | None = None
    size: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    netrc: bool = True

    @property
    def part(self) -> Path:
        """Where the bytes arrive until the whole file is checked."""
        return self.target.with_name(f"{self.target.name}.part")


class Downloader:
    """Fetches each ``Download`` given it over one session, as pip's ``Downloader`` does
    (pip's src/pip/_internal/network/download.py): called with what to fetch, it returns the
    sha256 of the file it put in place, hashed as the bytes arrived (the file is not read
    again to hash it).

    The answer must be 200 (206 when resuming) and not an HTML page (GitHub's error pages and
    login pages come with 200, as users report), and the whole file exactly the size and sha256 the
    ``Download`` gives. A transfer that breaks off (or stalls) keeps what arrived in
    ``NAME.part``, stamped with the server's Last-Modified, and raises BrokeOff: the next call
    asks for the rest (``Range``, with ``If-Range``) and continues only when the server answers
    206 for that same upload, else it starts over. The .part is never the file: only the whole,
    checked file is renamed to the target. Any other failure raises UserError (NotFound for a
    404), to be prefixed with where and how to fix; the target is left as it was, and a .part
    only when this try did not read it (a 500, say). A large download reports its progress.
    """

    def __init__(self, http: requests.Session | None = None) -> None:
        self.http = http or session()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def __call__(self, download: Download) -> str:
        """Fetch ``download`` into its target; return the file's sha256."""
        # bytes as stored, so a Range counts the stored bytes
        headers = {"Accept-Encoding": "identity", **download.headers}
        auth = _auth(download)
        size, part = download.size, download.part
        kept = part.stat() if part.is_file() else None
        offset = kept.st_size if kept and (size is None or kept.st_size < size) else 0
        stamp = int(kept.st_mtime) if kept else 0
        ask = {"Range": f"bytes={offset}-", "If-Range": email.utils.formatdate(stamp, usegmt=True)}
        url, response = self._open(download.url, {**headers, **ask} if offset else headers, auth)
        if offset and not (
            response.status_code == 206 and _continues(response, offset, size, stamp)
        ):
            if response.status_code in (206, 416):  # not the rest of this .part: start over
                response.close()
                url, response = self._open(download.url, headers, auth)
            offset = 0  # a 200 is the whole file: the server ignored the Range (or If-Range)
        with response:
            _refuse(response, url, download.target.name, 206 if offset else 200)
            return _receive(response, download, offset)

    def read_range(self, download: Download, start: int, end: int) -> bytes | None:
        """Bytes ``start`` to ``end`` (inclusive) of ``download``'s file, asked with a ``Range``
        (GitHub's storage host answers ranges: it announces ``Accept-Ranges: bytes``, as
        recorded in gm3dmo/the-power#393); None when the server answers anything but exactly
        that range of a file of the ``Download``'s size (NotFound for a 404)."""
        headers = {"Accept-Encoding": "identity", **download.headers}
        asked = {**headers, "Range": f"bytes={start}-{end}"}
        url, response = self._open(download.url, asked, _auth(download))
        with response:
            if response.status_code == 404:
                raise NotFound(f"downloading {mask_url(url)} answered HTTP 404")
            asked_for = f"bytes {start}-{end}/{download.size}"
            if response.status_code != 206 or response.headers.get("Content-Range") != asked_for:
                return None
            return b"".join(blocks(response, end - start + 1, f"a range of {mask_url(url)}"))

    def first_found(self, *downloads: Download) -> str:
        """Fetch the first of ``downloads`` its server has: each next one is asked only when
        the one before answered 404 (a private repository's file, say, from its API URL)."""
        for download in downloads[:-1]:
            try:
                return self(download)
            except NotFound:
                continue
        return self(downloads[-1])

    def _open(
        self, url: str, headers: dict[str, str], auth: requests.auth.AuthBase | None
    ) -> tuple[str, requests.Response]:
        """GET ``url``, following up to five redirects by hand; ``headers`` go with the first
        request only, so a token never leaves the host it was meant for. -> (the final URL, its
        answer)."""
        ranged = {k: v for k, v in headers.items() if k in ("Range", "If-Range", "Accept-Encoding")}
        try:
            response = self._get(url, headers, auth)
            for _ in range(5):
                if not response.is_redirect:
                    break
                response.close()
                url = requests.compat.urljoin(url, response.headers["Location"])
                response = self._get(url, ranged, auth)
        except requests.RequestException as exc:
            raise UserError(f"could not download {mask_url(url)}: {type(exc).__name__}") from None
        return url, response

    def _get(
        self, url: str, headers: dict[str, str], auth: requests.auth.AuthBase | None
    ) -> requests.Response:
        """One GET of a download: streamed, redirects not followed (``_open`` does that)."""
        return self.http.get(
            url, headers=headers, stream=True, timeout=TIMEOUT, allow_redirects=False, auth=auth
        )


def _refuse(response: requests.Response, url: str, name: str, expected: int) -> None:
    """Raise the UserError for an answer that is not the file: a 404 (NotFound), another status
    than ``expected``, an HTML page."""
    status = response.status_code
    if status == 404:
        raise NotFound(f"downloading {mask_url(url)} answered HTTP 404")
    if status != expected:
        raise UserError(f"downloading {name} from {mask_url(url)} answered HTTP {status}")
    if response.headers.get("Content-Type", "").lower().startswith("text/html"):
        raise UserError(
            f"downloading {name} answered an HTML page, not the file (an error or login page)"
        )


def _receive(response: requests.Response, download: Download, offset: int) -> str:
    """Append the body of ``response`` to ``part`` from ``offset`` (0: a new .part), check the
    whole, rename it to the target; return its sha256 (see ``Downloader``)."""
    part, target, size, sha256 = download.part, download.target, download.size, download.sha256
    total = size or offset + int(response.headers.get("Content-Length") or 0)
    progress = Progress(target.name, total)
    digest, done = hashlib.sha256(), offset
    stamp = _epoch(response.headers.get("Last-Modified"))
    part.parent.mkdir(parents=True, exist_ok=True)
    try:
        with part.open("r+b" if offset else "w+b") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):  # what the .part holds
                digest.update(block)
            limit = MAX_DOWNLOAD if size is None else size
            for block in blocks(response, limit - offset, f"the download of {target.name}"):
                done += len(block)
                handle.write(block)
                digest.update(block)
                progress.update(done)
    except BrokeOff as exc:
        if stamp is None or done == 0:  # no Last-Modified: nothing could tell a later try
            part.unlink(missing_ok=True)  # whether the rest is of the same upload
            raise
        os.utime(part, (stamp, stamp))  # closed: so no later write changes it
        happened = str(exc).removesuffix("; try again later")
        of = f" of {total}" if total else ""
        raise BrokeOff(f"{happened}; the first {done}{of} bytes are kept in {part}", part) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if size is not None and done != size:
        part.unlink()
        raise UserError(f"{target.name}: the download gave {done} bytes, not {size}")
    if sha256 and digest.hexdigest() != sha256:
        part.unlink()
        raise UserError(f"{target.name} has sha256 {digest.hexdigest()}, not {sha256}")
    os.chmod(part, 0o666 & ~UMASK)
    os.replace(part, target)
    return digest.hexdigest()
