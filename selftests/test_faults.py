"""Faults, as a hostile server or an unlucky machine makes them: every one is one line naming
what and where, an exit status, no traceback, and nothing changed.

The hostile server here is a loopback HTTP server whose answers trickle, never end, lie about
their size or carry nonsense; the scripts run in-process (their ``main``) or, for signals and
file-size limits, as processes of their own.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from e2e import ROOT  # where `python -m scripts` finds the package
from scripts import net
from scripts.__main__ import main
from scripts.errors import UserError
from standin import REPO, GitHubStandIn, run_standin


class Hostile(BaseHTTPRequestHandler):
    """Answers by path: /trickle (a byte every 0.2 s), /endless (never ends), /nonsense
    (releases whose assets are not a list), /reset (an exhausted limit resetting in year 10^12)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if "/repos/trickle/" in path or path.endswith(".whl"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"[")
                self.wfile.flush()
                time.sleep(0.2)
        elif "/repos/endless/" in path:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()  # no length: read until the connection closes, which it never does
            try:
                while True:
                    self.wfile.write(b" " * 65536)
            except OSError:
                return
        elif "/repos/nonsense/" in path:
            body = json.dumps([{"id": 1, "tag_name": "v1", "assets": "not a list"}]).encode()
            self._send(200, body)
        elif "/repos/reset/" in path:
            self._send(
                403,
                b'{"message": "API rate limit exceeded"}',
                {
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": "9" * 30,
                },
            )
        else:
            self._send(404, b'{"message": "Not Found"}')

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(net, "BACKOFF", 0)
    monkeypatch.setenv("MODEL_REPOS", REPO)
    (tmp_path / "build").mkdir()
    return tmp_path


@pytest.fixture
def github(work: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    with run_standin() as standin:
        monkeypatch.setenv("GITHUB_API_URL", standin.api_url)
        yield standin


def links(capsys: pytest.CaptureFixture[str], api: str, owner: str) -> tuple[int, str]:
    os.environ["GITHUB_API_URL"] = f"{api}/api"
    try:
        os.environ["MODEL_REPOS"] = f"{owner}/models"
        code = main(["links"])
    finally:
        del os.environ["GITHUB_API_URL"]
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    return code, err


def test_a_trickling_api_cannot_hold_a_run(work, hostile, capsys, monkeypatch) -> None:
    monkeypatch.setattr(net, "GRACE", 0.3)
    monkeypatch.setattr(net, "MIN_RATE", 100)
    start = time.monotonic()

    code, err = links(capsys, hostile, "trickle")

    assert code == 1 and "arrives too slowly" in err
    assert time.monotonic() - start < 10  # not the 20 s the whole body would take


def test_an_endless_api_answer_is_cut_off(work, hostile, capsys, monkeypatch) -> None:
    monkeypatch.setattr(net, "MAX_BODY", 2**20)

    code, err = links(capsys, hostile, "endless")

    assert code == 1 and "is larger than the 1048576 bytes expected" in err


def test_nonsense_in_the_listing_is_passed_over(work, hostile, capsys) -> None:
    code, _ = links(capsys, hostile, "nonsense")

    assert code == 0
    assert "<a href" not in (work / "build/model-links.html").read_text()


def test_an_absurd_rate_limit_reset_time_is_one_line(work, hostile, capsys) -> None:
    code, err = links(capsys, hostile, "reset")

    assert code == 1 and "rate limit exhausted" in err and "an unknown time" in err


def test_a_trickling_download_cannot_hold_a_run(work, hostile, monkeypatch) -> None:
    monkeypatch.setattr(net, "GRACE", 0.3)
    monkeypatch.setattr(net, "MIN_RATE", 100)
    target = work / "build/x-1.0-py3-none-any.whl"

    with pytest.raises(UserError, match="arrives too slowly"):
        net.Downloader()(net.Download(f"{hostile}/x-1.0-py3-none-any.whl", target))

    assert not target.exists() and list((work / "build").iterdir()) == []  # no leftovers


def test_a_download_larger_than_github_says_is_refused(work, github: GitHubStandIn) -> None:
    github.add_release(REPO, "v1", {"m-1.0-py3-none-any.whl": b"x" * 5000})
    url = f"{github.url}/{REPO}/releases/download/v1/m-1.0-py3-none-any.whl"
    target = work / "build/m-1.0-py3-none-any.whl"

    with pytest.raises(UserError, match="larger than the 4000 bytes expected"):
        net.Downloader()(net.Download(url, target, size=4000))

    assert not target.exists()


def test_a_damaged_cache_entry_is_not_trusted(work, github: GitHubStandIn, capsys) -> None:
    github.add_release(REPO, "v1", {"m-1.0-py3-none-any.whl": b"wheel"})
    assert main(["links"]) == 0
    page = (work / "build/model-links.html").read_text()
    damaged = 0
    for entry in (work / "build/cache/github").glob("*.json"):
        data = json.loads(entry.read_text())
        data["body"] = [{"id": 1, "tag_name": "evil", "assets": []}]  # its ETag still valid
        entry.write_text(json.dumps(data))
        damaged += 1
    assert damaged > 0, "no cache entry to damage"
    before = len(github.api_requests())

    assert main(["links"]) == 0

    assert (work / "build/model-links.html").read_text() == page
    again = github.api_requests()[before:]  # asked afresh: no ETag of a damaged entry sent
    assert again and not [r for r in again if "if-none-match" in r.headers]
    capsys.readouterr()


def command(*args: str, **options: object) -> subprocess.Popen[str]:
    """``python -m scripts ARGS`` in a process of its own, in the current folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "scripts", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def test_a_full_disk_is_one_line_and_changes_nothing(work, github: GitHubStandIn) -> None:
    github.add_synthetic(REPO, 300)
    page = work / "build/model-links.html"
    page.write_text("the old page\n")

    def small_files() -> None:  # as a full disk does: writes past 10 KB fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))

    process = command("links", preexec_fn=small_files)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 1
    assert err.startswith("error: ") and "File too large" in err and "Traceback" not in err
    assert page.read_text() == "the old page\n"
    assert [p.name for p in (work / "build").iterdir() if p.name.startswith(".")] == []


def test_ctrl_c_is_one_line_and_changes_nothing(work, github: GitHubStandIn) -> None:
    github.add_synthetic(REPO, 300)
    github.latency = 0.5  # so the run is still listing when the signal comes
    page = work / "build/model-links.html"
    page.write_text("the old page\n")

    process = command("links")
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)

    assert process.returncode == 130
    assert err.strip() == "interrupted: nothing was changed; run the same command again"
    assert page.read_text() == "the old page\n"
