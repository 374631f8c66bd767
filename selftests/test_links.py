"""Tests of `python -m scripts links` (scripts/listing.py, github.py, page.py) against the
loopback GitHub stand-in (selftests/standin.py).

Each test runs ``main()`` in-process in a fresh folder (so ``build/`` is the command's
output) and checks what it wrote, what it printed and, in the stand-in's log, what it asked.
"""

from __future__ import annotations

import hashlib
import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from packages import make_wheel
from scripts import github as github_client
from scripts import net
from scripts import page as pages
from scripts.__main__ import main
from scripts.assets import Asset, read_manifest
from scripts.files import write_sha256sums
from scripts.net import USER_AGENT
from standin import REPO, GitHubStandIn, run_standin

TOKEN = "ghp_standinSECRET0123456789abcdefABCDEF"
WHEEL = "acme_model-1.0.0-py3-none-any.whl"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GitHubStandIn]:
    """A running stand-in, GITHUB_API_URL pointing at it, and a fresh working folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODEL_REPOS", raising=False)
    monkeypatch.setattr(net, "BACKOFF", 0)
    with run_standin() as standin:
        monkeypatch.setenv("GITHUB_API_URL", standin.api_url)
        yield standin
        assert not standin.errors, standin.errors


class Anchors(HTMLParser):
    """The page's <a> elements as (href, text), and whether the page has what HTML5 needs."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self.tags: set[str] = set()
        self.doctype = ""
        self._href: str | None = None
        self.feed(text)
        self.close()

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag if tag != "meta" else f"meta charset={dict(attrs).get('charset')}")
        if tag == "a":
            self._href = dict(attrs)["href"]

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.anchors.append((self._href, data))
            self._href = None


def page() -> Path:
    return Path("build/model-links.html")


def anchors() -> dict[str, str]:
    """{anchor text: href} of the page; fails on a duplicate anchor."""
    found = Anchors(page().read_text()).anchors
    assert len({text for _, text in found}) == len(found)
    return {text: href for href, text in found}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel_bytes(tmp_path: Path, name: str = "acme_model", version: str = "1.0.0") -> bytes:
    return make_wheel(tmp_path / "made", name, version).read_bytes()


def run(
    capsys: pytest.CaptureFixture[str],
    repos: str | None = REPO,
    pre: bool = False,
    quiet: bool = False,
) -> tuple[int, str, str]:
    """`python -m scripts links` in-process with MODEL_REPOS=``repos`` (None: as it is set) and
    PRE=1 when ``pre`` -> (exit code, stdout, stderr)."""
    with pytest.MonkeyPatch.context() as patch:
        if repos is not None:
            patch.setenv("MODEL_REPOS", repos)
        if pre:
            patch.setenv("PRE", "1")
        code = main(["links", *(["--quiet"] if quiet else [])])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_failure(code: int, err: str, before: bytes | None) -> str:
    """One readable message, no traceback, the old page untouched, no temporary file left."""
    assert code == 1
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    if before is not None:
        assert page().read_bytes() == before
    assert not [p.name for p in Path("build").rglob("*") if p.name.endswith(".tmp")]
    return err


def test_pagination_reads_every_page_with_per_page_100(github: GitHubStandIn, capsys) -> None:
    github.add_synthetic(REPO, 250)
    code, out, _ = run(capsys, REPO)
    assert code == 0
    sent = github.api_requests()
    assert len(sent) == math.ceil(250 / 100)
    assert sent[0].path == f"/api/repos/{REPO}/releases"
    assert {r.path for r in sent[1:]} == {"/api/repositories/1/releases"}  # GitHub's Link form
    assert sorted(r.query.get("page", "1") for r in sent) == ["1", "2", "3"]  # 2, 3 at once
    assert all(r.query["per_page"] == "100" for r in sent)
    assert len(github.requests) == len(sent)  # nothing downloaded, no other path asked
    assert len(anchors()) == 250  # one wheel per release; the checksum files are not linked
    assert out == (
        f"{REPO}: 250 releases read, 250 assets linked, 0 unsafe names skipped; "
        "3 API requests, 0 served from cache (304)\n"
    )


def test_api_headers_and_no_authorization_without_token(github: GitHubStandIn, capsys) -> None:
    github.add_synthetic(REPO, 3)
    assert run(capsys, REPO)[0] == 0
    (sent,) = github.api_requests()
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["user-agent"] == USER_AGENT
    assert "authorization" not in sent.headers


def test_warm_run_is_all_304_and_byte_identical(github: GitHubStandIn, capsys) -> None:
    github.add_synthetic(REPO, 150)
    assert run(capsys, REPO)[0] == 0
    first, remaining = page().read_bytes(), github.rate_remaining["anonymous"]
    github.requests.clear()
    code, out, _ = run(capsys, REPO)
    assert code == 0
    assert page().read_bytes() == first
    assert "2 API requests, 2 served from cache (304)" in out
    assert all(r.headers["if-none-match"].startswith('W/"') for r in github.api_requests())
    assert len(github.api_requests()) == 2
    assert github.rate_remaining["anonymous"] == remaining  # a 304 costs no rate limit


def test_a_new_release_shows_up_on_the_next_run(github: GitHubStandIn, tmp_path, capsys) -> None:
    github.add_synthetic(REPO, 120)
    assert run(capsys, REPO)[0] == 0
    assert WHEEL not in anchors()
    github.add_release(REPO, "acme_model-1.0.0", {WHEEL: wheel_bytes(tmp_path)})
    code, out, _ = run(capsys, REPO)
    assert code == 0 and "121 releases read" in out
    assert WHEEL in anchors()


def test_drafts_never_and_prereleases_only_with_pre(
    github: GitHubStandIn, monkeypatch, capsys
) -> None:
    github.token = TOKEN
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.add_release(REPO, "v1", {"final-1.0.tar.gz": b"1"})
    github.add_release(REPO, "v2rc1", {"final-2.0rc1.tar.gz": b"2"}, prerelease=True)
    github.add_release(REPO, "v3", {"draft-3.0.tar.gz": b"3"}, draft=True)
    # GitHub shows drafts to an authenticated client, so the script sees this one.
    listed = requests.get(
        f"{github.api_url}/repos/{REPO}/releases", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    assert [r["tag_name"] for r in listed] == ["v3", "v2rc1", "v1"]

    assert run(capsys, REPO)[0] == 0
    assert set(anchors()) == {"final-1.0.tar.gz"}
    assert run(capsys, REPO, pre=True)[0] == 0
    assert set(anchors()) == {"final-1.0.tar.gz", "final-2.0rc1.tar.gz"}
    manifest = read_manifest(Path("build/model-assets.json"))
    assert [(a.filename, a.prerelease) for a in manifest] == [
        ("final-1.0.tar.gz", False),
        ("final-2.0rc1.tar.gz", True),
    ]


def test_digest_gives_sha256_fragment_and_null_a_plain_link(github: GitHubStandIn, capsys) -> None:
    github.add_release(REPO, "a-1.0", {"a-1.0.tar.gz": b"with digest"}, digest=True)
    github.add_release(REPO, "b-1.0", {"b-1.0.tar.gz": b"no digest"}, digest=False)
    assert run(capsys, REPO)[0] == 0
    links = anchors()
    download = f"{github.url}/{REPO}/releases/download"
    assert links["a-1.0.tar.gz"] == f"{download}/a-1.0/a-1.0.tar.gz#sha256={sha256(b'with digest')}"
    assert links["b-1.0.tar.gz"] == f"{download}/b-1.0/b-1.0.tar.gz"


def test_only_installable_assets_are_linked(github: GitHubStandIn, tmp_path, capsys) -> None:
    files = {
        WHEEL: wheel_bytes(tmp_path),
        "acme_model-1.0.0.tar.gz": b"sdist",
        "acme_model-1.0.0.zip": b"zip sdist",
        "acme_model-1.0.0.sha256": b"checksum",
        "SHA256SUMS": b"sums",
        "release-notes.md": b"notes",
        "meta.json": b"{}",
    }
    github.add_release(REPO, "acme_model-1.0.0", files)
    code, out, _ = run(capsys, REPO)
    assert code == 0 and "3 assets linked, 0 unsafe names skipped" in out
    assert list(anchors()) == [WHEEL, "acme_model-1.0.0.tar.gz", "acme_model-1.0.0.zip"]


BAD_NAMES = [
    "../evil-1.0-py3-none-any.whl",
    "..\\evil-1.0.tar.gz",
    "sub/dir-1.0.tar.gz",
    "a<b>-1.0.tar.gz",
    '"quoted"-1.0.tar.gz',
    "it's-1.0.zip",
    "with space-1.0-py3-none-any.whl",
    "control\x07-1.0.tar.gz",
    "new\nline-1.0.tar.gz",
    "a..b-1.0.tar.gz",
    "%2e%2e-1.0.tar.gz",
    "ünïcode-1.0-py3-none-any.whl",
    "-1.0.tar.gz",
    "noversion.tar.gz",
    "bad-version-x.y.z-py3-none-any.whl",
    "name-1.0-notatag.whl",
]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_unsafe_asset_names_are_skipped_and_counted(
    github: GitHubStandIn, tmp_path, capsys, bad: str
) -> None:
    github.add_release(REPO, "v1", {WHEEL: wheel_bytes(tmp_path), bad: b"x"})
    # A release-files folder whose SHA256SUMS names the bad file must not make it a path either.
    files = Path("build/release-files")
    files.mkdir(parents=True)
    write_sha256sums(files / "SHA256SUMS", {bad: sha256(b"x")})
    code, out, _ = run(capsys, REPO)
    assert code == 0
    assert "1 assets linked, 1 unsafe names skipped" in out
    assert list(anchors()) == [WHEEL]
    text = page().read_text()
    assert "evil" not in text and "<b>" not in text and "\x07" not in text
    assert bad not in Path("build/model-assets.json").read_text()


def test_names_are_escaped_in_the_page(tmp_path: Path) -> None:
    # Asset names are checked before they get here; the page escapes every href and text anyway.
    asset = Asset(
        "a", "1.0", "a-1.0.tar.gz", 'https://example.org/x?a=1&b="<q>"', None, REPO, "v1", False
    )
    pages.write(tmp_path / "page.html", [asset], {})
    text = (tmp_path / "page.html").read_text()
    assert 'href="https://example.org/x?a=1&amp;b=&quot;&lt;q&gt;&quot;"' in text
    assert Anchors(text).anchors == [('https://example.org/x?a=1&b="<q>"', "a-1.0.tar.gz")]


def test_only_files_present_and_recorded_are_linked_locally(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = tmp_path / "build/release-files"
    files.mkdir(parents=True)
    (files / "kept-1.0.tar.gz").write_bytes(b"kept")
    (files / "unrecorded-1.0.tar.gz").write_bytes(b"not in SHA256SUMS")
    recorded = {"kept-1.0.tar.gz": sha256(b"kept"), "deleted-1.0.tar.gz": sha256(b"gone")}
    write_sha256sums(files / "SHA256SUMS", recorded)
    assets = [
        Asset(name, "1.0", f"{name}-1.0.tar.gz", f"https://x.test/{name}", None, REPO, "v", False)
        for name in ("kept", "unrecorded", "deleted")
    ]
    pages.write(tmp_path / "build/model-links.html", assets, recorded)
    links = {
        text: href
        for href, text in Anchors((tmp_path / "build/model-links.html").read_text()).anchors
    }
    assert links == {
        "deleted-1.0.tar.gz": "https://x.test/deleted",
        "kept-1.0.tar.gz": f"release-files/kept-1.0.tar.gz#sha256={sha256(b'kept')}",
        "unrecorded-1.0.tar.gz": "https://x.test/unrecorded",
    }


def test_page_is_html5_sorted_and_matches_the_manifest(github: GitHubStandIn, capsys) -> None:
    github.add_release(REPO, "v1", {"b-1.10.tar.gz": b"1", "Zed_Model-2.0.tar.gz": b"2"})
    github.add_release(REPO, "v2", {"b-1.9.tar.gz": b"3", "a-0.1.zip": b"4"})
    assert run(capsys, REPO, quiet=True) == (0, "", "")
    parsed = Anchors(page().read_text())
    assert parsed.doctype == "DOCTYPE html"
    assert {"html", "head", "title", "body", "meta charset=utf-8"} <= parsed.tags
    names = ["a-0.1.zip", "b-1.9.tar.gz", "b-1.10.tar.gz", "Zed_Model-2.0.tar.gz"]
    assert [text for _, text in parsed.anchors] == names  # by project, then Version order
    manifest = read_manifest(Path("build/model-assets.json"))
    assert [a.filename for a in manifest] == names
    assert manifest[-1].project == "zed-model" and manifest[-1].version == "2.0"
    raw = Path("build/model-assets.json").read_text()
    assert raw.endswith("}\n") and raw.startswith('{\n "assets": [\n')


def test_one_line_per_repository_and_quiet_prints_nothing(github: GitHubStandIn, capsys) -> None:
    github.add_synthetic(REPO, 5)
    assert run(capsys, REPO) == (
        0,
        f"{REPO}: 5 releases read, 5 assets linked, 0 unsafe names skipped; "
        "1 API requests, 0 served from cache (304)\n",
        "",
    )
    Path("build/model-links.html").unlink()
    assert run(capsys, REPO, quiet=True) == (0, "", "")
    assert page().is_file()


def test_repos_from_model_repos_and_repeated_repo(
    github: GitHubStandIn, monkeypatch, capsys
) -> None:
    github.add_release("acme/one", "v1", {"one-1.0.tar.gz": b"1"})
    github.add_release("acme/two", "v1", {"two-1.0.tar.gz": b"2"})
    monkeypatch.setenv("MODEL_REPOS", "acme/one acme/two")
    code, out, _ = run(capsys, None)
    assert code == 0 and [line.split(":")[0] for line in out.splitlines()] == [
        "acme/one",
        "acme/two",
    ]
    assert set(anchors()) == {"one-1.0.tar.gz", "two-1.0.tar.gz"}
    monkeypatch.setenv("MODEL_REPOS", "acme/two")
    assert run(capsys, None)[0] == 0
    assert set(anchors()) == {"two-1.0.tar.gz"}


def test_default_repo_is_spacy_models(github: GitHubStandIn, capsys) -> None:
    github.add_release("explosion/spacy-models", "v1", {"en_core_web_sm-3.8.0.tar.gz": b"1"})
    assert run(capsys, None)[0] == 0
    assert github.api_requests()[0].path == "/api/repos/explosion/spacy-models/releases"


def test_realistic_spacy_models_releases_behind_the_listing_cap(
    github: GitHubStandIn, capsys
) -> None:
    count = github.load_spacy_models()
    assert count > 1000  # so GitHub lists only the newest 1,000 (notes row 1)

    code, out, err = run(capsys, None)

    assert code == 0, err
    # ten pages, the 422 past the cap, one request for every tag; no release looked up by tag,
    # as nothing here asks for one
    assert len(github.api_requests()) == 10 + 1 + 1
    assert "GitHub lists only the newest 1000 releases; older ones are looked up by tag" in out
    final = anchors()
    assert "ca_core_news_lg-3.1.0-py3-none-any.whl" not in final  # the oldest: past the cap
    assert "en_core_web_sm-3.8.0-py3-none-any.whl" in final
    assert "en_core_web_sm-2.0.0a4-py3-none-any.whl" not in final  # tag ...-2.0.0-alpha4
    assert not any(name.endswith(".sha256") for name in final)
    assert any("#sha256=" in href for href in final.values())
    assert any("#" not in href for href in final.values())
    assert run(capsys, None, pre=True)[0] == 0
    everything = anchors()
    assert "en_core_web_sm-2.0.0a4-py3-none-any.whl" in everything
    assert len(everything) == 2 * 1000 > len(final)


def test_a_release_past_the_cap_is_looked_up_by_tag_when_asked_for(
    github: GitHubStandIn, capsys
) -> None:
    github.load_spacy_models()
    Path("requirements.in").write_text("spacy>=3.1,<3.2\nca_core_news_lg>=3.1.0,<3.2.0\n")

    code, out, err = run(capsys, None)

    assert code == 0, err
    assert "ca_core_news_lg-3.1.0-py3-none-any.whl" in anchors()
    assert "(1 found)" in out
    by_tag = [r.path for r in github.api_requests() if "/releases/tags/" in r.path]
    assert by_tag == ["/api/repos/explosion/spacy-models/releases/tags/ca_core_news_lg-3.1.0"]
    before = len(github.api_requests())
    assert run(capsys, None)[0] == 0  # again: answered from the ETag cache, but for the 422
    again = [r for r in github.api_requests()[before:] if r.query.get("page") != "11"]
    assert len(again) == 12 and all("if-none-match" in r.headers for r in again)


# --- failures ---------------------------------------------------------------------------------


@pytest.fixture
def previous(github: GitHubStandIn, capsys) -> bytes:
    """A page from a good run, which every failing run must leave as it was."""
    github.add_synthetic(REPO, 120)
    assert run(capsys, REPO)[0] == 0
    return page().read_bytes()


def test_rejected_token(github: GitHubStandIn, previous: bytes, monkeypatch, capsys) -> None:
    github.token = "the-right-token"
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    code, out, err = run(capsys, REPO)
    assert_clean_failure(code, err, previous)
    assert "rejected the token in GITHUB_TOKEN" in err and "401" in err
    assert TOKEN not in out + err


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_exhausted(github: GitHubStandIn, previous: bytes, capsys, status: int) -> None:
    if status == 403:
        github.rate_remaining["anonymous"] = 0  # the stand-in's own GitHub-like 403
    else:
        github.fail_with(429, {"X-RateLimit-Remaining": "0"})
    code, _, err = run(capsys, REPO)
    assert_clean_failure(code, err, previous)
    reset = datetime.fromtimestamp(github.rate_reset, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert "rate limit exhausted" in err and reset in err and "Set GITHUB_TOKEN" in err


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_limit_is_waited_out_once_saying_so(
    github: GitHubStandIn, capsys, status: int
) -> None:
    """GitHub's secondary limit as recorded (notes row 19): a short Retry-After is waited out
    once, with one line saying so (issue 19: it used to wait in silence, three times)."""
    github.add_synthetic(REPO, 10)
    github.secondary_limit(times=1, retry_after=1, status=status)
    start = time.monotonic()

    code, out, err = run(capsys, REPO)

    took = time.monotonic() - start
    with capsys.disabled():
        print(f"\n  secondary limit with Retry-After: 1 answered: the run took {took:.2f} s")
    assert code == 0 and "2 API requests" in out and len(anchors()) == 10
    assert err == (
        f"GitHub's secondary rate limit ({status} at {github.api_url}/repos/{REPO}/releases?****)"
        ": waiting 1 s, as GitHub asks, then trying once more\n"
    )


def test_a_second_secondary_limit_in_a_run_fails_at_once_with_the_time(
    github: GitHubStandIn, previous: bytes, monkeypatch, capsys
) -> None:
    github.secondary_limit(times=2, retry_after=30)
    waits: list[float] = []
    monkeypatch.setattr(github_client.time, "sleep", waits.append)

    code, _, err = run(capsys, REPO)

    assert code == 1 and waits == [30] and page().read_bytes() == previous
    waited, failed = err.splitlines()
    assert "waiting 30 s" in waited and failed.startswith("error: GitHub's secondary rate limit")
    assert "a second time in this run" in failed and "try again after 20" in failed
    assert failed.endswith(" UTC (a run waits once, at most 60 s)")
    assert len(github.api_requests()) == 2 + 2


@pytest.mark.parametrize("retry_after", [61, 3600])
def test_a_secondary_limit_longer_than_a_minute_fails_at_once(
    github: GitHubStandIn, previous: bytes, monkeypatch, capsys, retry_after: int
) -> None:
    github.secondary_limit(times=10, retry_after=retry_after)
    waits: list[float] = []
    monkeypatch.setattr(github_client.time, "sleep", waits.append)
    before = time.time()

    code, _, err = run(capsys, REPO)

    assert_clean_failure(code, err, previous)
    assert waits == [] and f"asks to wait {retry_after} s" in err
    again = datetime.strptime(err.split("try again after ")[1][:19], "%Y-%m-%d %H:%M:%S")
    assert 0 <= again.replace(tzinfo=UTC).timestamp() - (before + retry_after) < 60


def test_a_secondary_limit_without_retry_after_waits_a_minute(
    github: GitHubStandIn, monkeypatch, capsys
) -> None:
    """No Retry-After: "wait at least a minute" (notes row 12: the rate-limit guide)."""
    github.add_synthetic(REPO, 3)
    github.secondary_limit(times=1, retry_after=None, status=429)
    waits: list[float] = []
    monkeypatch.setattr(github_client.time, "sleep", waits.append)

    code, _, err = run(capsys, REPO)

    assert code == 0 and waits == [60] and "waiting 60 s" in err


def test_unknown_repository(github: GitHubStandIn, previous: bytes, capsys) -> None:
    code, _, err = run(capsys, "acme/nothing-here")
    assert_clean_failure(code, err, previous)
    assert "repository acme/nothing-here not found" in err and "GITHUB_TOKEN" in err


def test_private_repository_needs_a_token(github: GitHubStandIn, monkeypatch, capsys) -> None:
    github.add_synthetic("acme/secret", 2)
    github.make_private("acme/secret")
    code, _, err = run(capsys, "acme/secret")
    assert_clean_failure(code, err, None)
    assert "private, set GITHUB_TOKEN" in err
    github.token = TOKEN
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert run(capsys, "acme/secret")[0] == 0
    assert len(anchors()) == 2


def test_server_errors_are_retried(github: GitHubStandIn, capsys) -> None:
    github.add_synthetic(REPO, 10)
    github.fail_with(502, times=2)
    assert run(capsys, REPO)[0] == 0
    assert len(github.api_requests()) == 3 and len(anchors()) == 10


def test_persistent_server_errors(github: GitHubStandIn, previous: bytes, capsys) -> None:
    github.fail_with(500, times=100)
    code, _, err = run(capsys, REPO)
    assert_clean_failure(code, err, previous)
    assert f"500 Internal Server Error at {github.api_url}/repos/{REPO}/releases" in err
    assert len(github.api_requests()) == 2 + 4  # the good run, then a try and 3 retries


def test_connection_refused(previous: bytes, monkeypatch, capsys) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}/api")
    code, _, err = run(capsys, REPO)
    assert_clean_failure(code, err, previous)
    assert f"cannot reach http://127.0.0.1:{port}/api/repos/{REPO}/releases" in err
    assert "Connection refused" in err


def test_credentials_in_api_url_are_refused(previous: bytes, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GITHUB_API_URL", f"https://user:{TOKEN}@ghe.example.org/api/v3")
    code, _, err = run(capsys, REPO)
    assert_clean_failure(code, err, previous)
    assert "GITHUB_TOKEN" in err and TOKEN not in err


@pytest.mark.parametrize(
    "repo", ["models", "acme/models/extra", "../models", "acme/..", "-acme/models", "a/b/c/d"]
)
def test_invalid_repository_names(github: GitHubStandIn, capsys, repo: str) -> None:
    code, _, err = run(capsys, repo)
    assert_clean_failure(code, err, None)
    assert "OWNER/NAME" in err and github.requests == []


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["links", "--no-such-flag"])
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_token_is_sent_only_as_a_header_and_never_written(
    github: GitHubStandIn, monkeypatch, capsys
) -> None:
    github.token = TOKEN
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.add_synthetic(REPO, 150)
    printed = ""
    for _ in range(2):
        code, out, err = run(capsys, REPO)
        assert code == 0
        printed += out + err
    github.fail_with(500, times=100)
    code, out, err = run(capsys, REPO)
    assert code == 1
    printed += out + err
    sent = github.api_requests()
    assert len(sent) == 2 + 2 + 4  # cold, warm (304s), the failing run's tries
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in sent)
    assert not any(TOKEN in r.path or TOKEN in str(r.query) for r in sent)
    assert TOKEN not in printed
    written = [p for p in Path("build").rglob("*") if p.is_file()]
    assert len(written) == 3 + 2  # the pages of links and of files, manifest, two cached pages
    assert not [p for p in written if TOKEN.encode() in p.read_bytes()]


# --- pip reads the page ------------------------------------------------------------------------


def pip_install(page_path: Path, target: Path, requirement: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(page_path)]
    return subprocess.run(
        [*command, "--target", str(target), requirement], capture_output=True, text=True
    )


@pytest.mark.parametrize("local", [False, True], ids=["from-github", "from-release-files"])
def test_pip_installs_through_the_page(
    github: GitHubStandIn, tmp_path: Path, capsys, local: bool
) -> None:
    data = wheel_bytes(tmp_path, version="1.0.0")
    github.add_release(REPO, "acme_model-0.9.0", {"acme_model-0.9.0.tar.gz": b"old"})
    github.add_release(REPO, "acme_model-1.0.0", {WHEEL: data}, digest=not local)
    assert run(capsys, REPO)[0] == 0
    if local:  # as the cache does: a downloaded copy recorded in SHA256SUMS
        files = Path("build/release-files")
        files.mkdir()
        (files / WHEEL).write_bytes(data)
        write_sha256sums(files / "SHA256SUMS", {WHEEL: sha256(data)})
        manifest = read_manifest(Path("build/model-assets.json"))
        pages.write(page(), manifest, {WHEEL: sha256(data)})
        assert anchors()[WHEEL] == f"release-files/{WHEEL}#sha256={sha256(data)}"
    else:
        assert anchors()[WHEEL].endswith(f"/{WHEEL}#sha256={sha256(data)}")
    result = pip_install(page(), tmp_path / "target", "acme-model")
    assert result.returncode == 0, result.stderr
    installed = (tmp_path / "target/acme_model/__init__.py").read_text()
    assert installed == 'VERSION = "1.0.0"\n'
    assert github.downloads(WHEEL) == (0 if local else 1)


def test_pip_refuses_a_file_that_does_not_match_the_digest(
    github: GitHubStandIn, tmp_path: Path, capsys
) -> None:
    github.add_release(REPO, "acme_model-1.0.0", {WHEEL: wheel_bytes(tmp_path)})
    assert run(capsys, REPO)[0] == 0
    other = make_wheel(tmp_path / "other", "acme_model", "1.0.0", payload=b"changed").read_bytes()
    github.replace_asset(REPO, "acme_model-1.0.0", WHEEL, other, digest=False)
    result = pip_install(page(), tmp_path / "target", "acme-model")
    assert result.returncode != 0
    assert "hash" in result.stderr.lower()


def test_a_name_two_repositories_offer_needs_an_owner(
    github: GitHubStandIn, capsys, monkeypatch
) -> None:
    github.add_release(REPO, "v1", {WHEEL: wheel_bytes(Path("a"), "acme_model", "1.0.0")})
    github.add_release("evil/models", "v9", {"acme_model-9.0.0-py3-none-any.whl": b"squat"})

    code, _, err = run(capsys, f"{REPO} evil/models")

    assert code == 1
    assert "acme-model is offered by both acme/models and evil/models" in err
    assert "MODEL_OWNERS ?= acme-model=acme/models" in err
    monkeypatch.setenv("MODEL_OWNERS", "acme_model=acme/models")
    assert run(capsys, f"{REPO} evil/models")[0] == 0
    assert list(anchors()) == [WHEEL]


def test_an_asset_whose_url_names_another_file_is_not_linked(github: GitHubStandIn, capsys) -> None:
    github.add_release(REPO, "v1", {WHEEL: b"wheel"})
    original = github._release_json

    def lying(repo, release):  # the listing says one name, the download URL another
        body = original(repo, release)
        for asset in body["assets"]:
            asset["browser_download_url"] = asset["browser_download_url"].replace(WHEEL, "x.whl")
        return body

    github._release_json = lying

    code, out, _ = run(capsys, REPO)

    assert code == 0 and "1 unsafe names skipped" in out and anchors() == {}
