"""scripts/net.py and the downloads of release files through it, against the GitHub stand-in:
the progress of a large download, ~/.netrc kept off GitHub's requests, no signed URL in a
message, and a download that broke off resuming where it stopped.

The release files are fetched in-process, as `make install` fetches them (``ReleaseFiles``),
in a fresh folder with HOME pointing at it (so the developer's own ~/.netrc is never read).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from packages import make_wheel
from scripts import net
from scripts.__main__ import main
from scripts.assets import read_manifest
from scripts.cache import ReleaseFiles
from scripts.errors import UserError, mask_url
from scripts.files import read_sha256sums
from scripts.settings import MANIFEST, RELEASE_FILES, SHA256SUMS, Settings
from standin import REPO, GitHubStandIn, run_standin

TOKEN = "ghp_netTEST0123456789abcdefABCDEFghijkl"
NETRC_SECRET = "netrc-s3cret"
WHEEL = "acme_model-1.0.0-py3-none-any.whl"


def test_a_large_download_reports_progress_in_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    """In a CI log (no terminal) a large download prints a line per 10 %, not a bar."""
    progress = net.Progress("big.whl", 50 * 2**20)

    for done in range(0, 50 * 2**20 + 1, 2**20):
        progress.update(done)

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("  big.whl:  10 %") and lines[-1].startswith("  big.whl: 100 %")


def test_a_small_download_reports_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    progress = net.Progress("small.whl", 2**20)

    progress.update(2**20)

    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "at https://release-assets.githubusercontent.com/gh/1/u?sp=r&sig=a%2Bb%3D&jwt=eyJ.x.y)",
            "at https://release-assets.githubusercontent.com/gh/1/u?****)",
        ),
        (
            "get https://u:p@h.example/a?X-Amz-Signature=abc, then",
            "get https://****@h.example/a?****, then",
        ),
        ("https://h.example/x.whl#sha256=00ff", "https://h.example/x.whl#sha256=00ff"),
        ("https://h.example/x?a=1#frag: done", "https://h.example/x?****#frag: done"),
        ("(https://h.example/p?q=1).", "(https://h.example/p?****)."),
    ],
)
def test_messages_mask_every_query_and_credential(text: str, masked: str) -> None:
    assert mask_url(text) == masked


# --- release files through the stand-in -------------------------------------------------------


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    """A stand-in with acme_model 1.0.0 (no digest, as spaCy's models) in REPO; a fresh folder
    that is also HOME."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setattr(net, "BACKOFF", 0)
    monkeypatch.setenv("MODEL_REPOS", REPO)
    with run_standin() as standin:
        monkeypatch.setenv("GITHUB_API_URL", standin.api_url)
        data = make_wheel(tmp_path / "made", "acme_model", "1.0.0", payload=os.urandom(200_000))
        standin.add_release(REPO, "acme_model-1.0.0", {WHEEL: data.read_bytes()}, digest=False)
        yield standin
        assert not standin.errors, standin.errors


def fetch() -> ReleaseFiles:
    """`make links`, then fetch every listed release file, as `make install` does."""
    with pytest.MonkeyPatch.context():
        assert main(["links", "--quiet"]) == 0
    files = ReleaseFiles(Settings.from_environ(os.environ), read_manifest(MANIFEST), quiet=True)
    files.ensure(files.assets)
    return files


def published(github: GitHubStandIn) -> bytes:
    return github.asset_data(WHEEL)


NETRC = {
    "machine": f"machine 127.0.0.1 login someone password {NETRC_SECRET}\n",  # the API's host
    "default": f"default login someone password {NETRC_SECRET}\n",  # every host
}


@pytest.mark.parametrize("shape", list(NETRC))
@pytest.mark.parametrize("private", [True, False], ids=["private", "public"])
def test_netrc_never_reaches_github_and_the_storage_host_gets_no_credential(
    github: GitHubStandIn, tmp_path: Path, monkeypatch, shape: str, private: bool
) -> None:
    """requests puts ~/.netrc's entry in place of an Authorization header unless auth is given
    explicitly, and applies a `default` entry to every host (notes row 7): the token must stay
    the only credential GitHub gets, and the signed storage URL the only one the storage host
    gets."""
    (tmp_path / ".netrc").write_text(NETRC[shape])
    (tmp_path / ".netrc").chmod(0o600)
    if private:
        github.make_private(REPO)
        github.token = TOKEN
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)

    fetch()

    assert hashlib.sha256((RELEASE_FILES / WHEEL).read_bytes()).hexdigest() == (
        hashlib.sha256(published(github)).hexdigest()
    )
    sent = {(r.host, r.headers.get("authorization")) for r in github.requests}
    api = f"Bearer {TOKEN}" if private else None  # a private file: through the API, with it
    assert sent == {("api", api), ("web", None), ("storage", None)}


def test_a_failed_download_prints_no_signed_url(github: GitHubStandIn) -> None:
    """A 500 from the storage host: the message names the file and the host, not the signed
    URL's query (sig, jwt: a credential for minutes)."""
    github.fail_with(500, path="/github-production-release-asset/", times=100)

    with pytest.raises(UserError) as failure:
        fetch()

    message = str(failure.value)
    (signed, *_) = [r for r in github.requests if r.host == "storage"]
    assert WHEEL in message and "HTTP 500" in message and github.storage_url in message
    for secret in (signed.query["sig"], signed.query["jwt"], "sig=", "jwt=", "se="):
        assert secret not in message
    assert not (RELEASE_FILES / WHEEL).exists()


def storage_gets(github: GitHubStandIn) -> list[dict[str, str]]:
    return [r.headers for r in github.requests if r.host == "storage"]


def test_a_download_cut_at_90_percent_resumes_where_it_broke_off(
    github: GitHubStandIn, capsys
) -> None:
    """What arrived is kept as NAME.part (never recorded or linked); the next try asks for the
    rest with Range, and checks the whole file."""
    size = len(published(github))
    github.truncate(WHEEL, at=0.9)

    with pytest.raises(UserError, match="broke off") as failure:
        fetch()

    part = RELEASE_FILES / f"{WHEEL}.part"
    assert 0.85 * size < part.stat().st_size < size
    assert f"{WHEEL}.part" in str(failure.value)
    assert not (RELEASE_FILES / WHEEL).exists() and WHEEL not in read_sha256sums(SHA256SUMS)
    assert "release-files/" not in Path("build/model-links.html").read_text()

    files = fetch()

    assert (RELEASE_FILES / WHEEL).read_bytes() == published(github) and not part.exists()
    assert files.sums[WHEEL] == hashlib.sha256(published(github)).hexdigest()
    first, again = storage_gets(github)
    assert "range" not in first and again["range"] == f"bytes={part_size(github)}-"
    served = github.served(WHEEL)
    with capsys.disabled():
        print(f"\n  resumed: {served} bytes served for a file of {size} ({served / size:.2f}x)")
    assert served < 1.3 * size


def part_size(github: GitHubStandIn) -> int:
    """The size of the .part the first try left: what the stand-in sent before the cut."""
    return int(len(published(github)) * 0.9)


def test_a_server_that_ignores_range_starts_over(github: GitHubStandIn) -> None:
    github.truncate(WHEEL, at=0.9)
    with pytest.raises(UserError, match="broke off"):
        fetch()
    github.ranges = False  # answers 200 with the whole file to a Range request (RFC 9110 14.2)

    fetch()

    assert (RELEASE_FILES / WHEEL).read_bytes() == published(github)
    assert "range" in storage_gets(github)[-1]
    assert not (RELEASE_FILES / f"{WHEEL}.part").exists()
    assert github.served(WHEEL) == part_size(github) + len(published(github))  # from zero


@pytest.mark.parametrize("if_range", [True, False], ids=["if-range", "if-range-ignored"])
def test_a_file_replaced_since_the_break_is_downloaded_whole(
    github: GitHubStandIn, tmp_path: Path, if_range: bool
) -> None:
    """The .part is of another upload: its rest would make a file that is neither. If-Range
    (the .part's Last-Modified) gets the whole new file; where the server ignores If-Range, the
    206's Last-Modified shows it is another upload, and the whole file is asked for again."""
    github.if_range = if_range
    github.truncate(WHEEL, at=0.9)
    with pytest.raises(UserError, match="broke off"):
        fetch()
    other = make_wheel(tmp_path / "other", "acme_model", "1.0.0", payload=os.urandom(200_000))
    github.replace_asset(REPO, "acme_model-1.0.0", WHEEL, other.read_bytes(), digest=False)

    files = fetch()

    assert (RELEASE_FILES / WHEEL).read_bytes() == other.read_bytes()
    assert files.sums[WHEEL] == hashlib.sha256(other.read_bytes()).hexdigest()
    gets = storage_gets(github)  # the cut one, the Range, then (If-Range ignored) the whole
    assert "range" in gets[1] and len(gets) == (2 if if_range else 3)


def test_a_resumed_file_whose_hash_is_wrong_is_not_kept(github: GitHubStandIn) -> None:
    """The whole file's size and sha256 are checked after a resume, as after any download."""
    github.truncate(WHEEL, at=0.9)
    with pytest.raises(UserError, match="broke off"):
        fetch()
    part = RELEASE_FILES / f"{WHEEL}.part"
    damaged = bytearray(part.read_bytes())
    damaged[100] ^= 0xFF  # same size, same time: only the hash can tell
    stamp = part.stat()
    part.write_bytes(bytes(damaged))
    os.utime(part, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    github._release(REPO, "acme_model-1.0.0").assets[0].digest = True  # the API gives one now

    with pytest.raises(UserError, match="sha256") as failure:
        fetch()

    assert "nothing was kept" in str(failure.value)
    assert not part.exists() and not (RELEASE_FILES / WHEEL).exists()
    assert "range" in storage_gets(github)[-1]  # it was resumed


def test_a_file_a_lock_records_resumes_too(github: GitHubStandIn, tmp_path: Path) -> None:
    """A fresh clone fetches what its lock records (``# release: URL``), with no API request:
    a break there is resumed the same way, and the whole file must have a hash the lock pins."""
    digest = hashlib.sha256(published(github)).hexdigest()
    url = f"{github.url}/{REPO}/releases/download/acme_model-1.0.0/{WHEEL}"
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"acme-model==1.0.0 \\\n    --hash=sha256:{digest}\n    # release: {url}\n")
    files = ReleaseFiles(Settings.from_environ(os.environ), quiet=True)
    github.truncate(WHEEL, at=0.9)

    with pytest.raises(UserError, match="Run the same command again to continue"):
        files.fetch_recorded(lock)
    files.fetch_recorded(lock)

    assert files.sums[WHEEL] == digest and (RELEASE_FILES / WHEEL).read_bytes() == published(github)
    assert storage_gets(github)[-1]["range"] == f"bytes={part_size(github)}-"
    assert github.api_requests() == []
