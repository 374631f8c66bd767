"""`python -m scripts wheels`: requirements-model.in.raw -> build/wheels, requirements-model.in."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from packages import make_wheel
from scripts import net
from scripts.__main__ import main
from scripts.wheels import HEADER


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` by name; ``/redirect/NAME`` answers 302 to ``/NAME``. Logs each request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.log: list[tuple[str, str | None]] = []  # (path, Authorization header)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self) -> None:
        self.server.log.append((self.path, self.headers.get("Authorization")))
        name = self.path.lstrip("/")
        if name.startswith("redirect/"):
            self.send_response(302)
            self.send_header("Location", "/" + name.removeprefix("redirect/"))
            self.end_headers()
        elif name in self.server.files:
            data = self.server.files[name]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FileServer]:
    httpd = FileServer()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc of the developer's
    return tmp_path


def publish(server: FileServer, tmp_path: Path, name: str, version: str) -> tuple[str, str]:
    """Serve a wheel; return its file name and sha256."""
    wheel = make_wheel(tmp_path / "src", name, version)
    server.files[wheel.name] = wheel.read_bytes()
    return wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest()


def run(*args: str) -> int:
    return main(["wheels", "--quiet", *args])


def state(work: Path) -> dict[str, bytes]:
    files = [work / "requirements-model.in", *sorted((work / "build").rglob("*"))]
    return {str(p): p.read_bytes() for p in files if p.is_file()}


def test_downloads_each_url_once_and_writes_sorted_pins(server: FileServer, work: Path) -> None:
    a, a_hash = publish(server, work, "zeta_model", "1.2.0")
    b, _ = publish(server, work, "Alpha.Model", "0.3")
    (work / "requirements-model.in.raw").write_text(
        "# private models\n\n"
        f"{server.url}/{a}#sha256={a_hash}  # pinned by hash\n"
        f"{server.url}/redirect/{b}\n"
    )

    assert run() == 0
    assert (work / "requirements-model.in").read_text() == (
        HEADER + "alpha-model==0.3\nzeta-model==1.2.0\n"
    )
    assert sorted(p.name for p in (work / "build/wheels").iterdir()) == sorted([a, b])
    requests = len(server.log)
    assert requests == 3  # two files, one redirect
    mtime = (work / "requirements-model.in").stat().st_mtime_ns

    assert run() == 0
    assert len(server.log) == requests  # already there: no request at all
    assert (work / "requirements-model.in").stat().st_mtime_ns == mtime  # unchanged: not rewritten


def test_credentials_stay_out_of_the_file_and_netrc_sends_them(
    server: FileServer, work: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    name, _ = publish(server, work, "private_model", "2.0")
    secret_url = server.url.replace("http://", "http://buyer:licence-k3y@")
    (work / "requirements-model.in.raw").write_text(f"{secret_url}/{name}\n")

    assert main(["wheels"]) == 1  # a credential in a committed file is refused
    err = capsys.readouterr().err
    assert "requirements-model.in.raw:1: the URL holds a credential" in err and "~/.netrc" in err
    assert "licence-k3y" not in err and server.log == []

    netrc = work / "netrc"  # the fix the message gives: the credential in ~/.netrc
    netrc.write_text("machine 127.0.0.1 login buyer password licence-k3y\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    (work / "requirements-model.in.raw").write_text(f"{server.url}/{name}\n")
    assert main(["wheels"]) == 0

    out = capsys.readouterr()
    assert "licence-k3y" not in out.out + out.err
    assert server.log[-1][1] and server.log[-1][1].startswith("Basic ")
    for data in state(work).values():
        assert b"licence-k3y" not in data and b"127.0.0.1" not in data


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not a url", "is not a URL"),
        ("ftp://host/model-1.0-py3-none-any.whl", "is not a URL"),
        ("{url}/model-1.0.txt", "is not a wheel or sdist file name"),
        ("{url}/..%2F..%2Fevil-1.0-py3-none-any.whl", "is not a wheel or sdist file name"),
        ("{url}/model-1.0-py3-none-any.whl#sha256=abc", "is not #sha256=<64 hex digits>"),
        ("{url}/model-1.0-py3-none-any.whl#md5=" + "0" * 32, "is not #sha256=<64 hex digits>"),
        ("{url}/gone-1.0-py3-none-any.whl", "HTTP 404"),
        ("{url}/good_model-1.0-py3-none-any.whl#sha256=" + "0" * 64, "has sha256"),
        ("{url}/good_model-1.0-py3-none-any.whl\n{url}/good_model-1.0.tar.gz", "already on line 2"),
    ],
)
def test_bad_line_gives_one_message_and_changes_nothing(
    server: FileServer, work: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    publish(server, work, "good_model", "1.0")
    old, _ = publish(server, work, "old_model", "0.1")
    (work / "requirements-model.in.raw").write_text(f"{server.url}/{old}\n")
    assert run() == 0
    before = state(work)
    (work / "requirements-model.in.raw").write_text(
        f"{server.url}/{old}\n" + line.format(url=server.url) + "\n"
    )

    assert run() == 1

    err = capsys.readouterr().err
    assert err.startswith("error: requirements-model.in.raw:") and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert state(work) == before
    assert not list((work / "build/wheels").glob(".*.tmp"))


def test_connection_refused_names_the_line(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(net, "RETRIES", 0)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there now
    (work / "requirements-model.in.raw").write_text(
        f"http://127.0.0.1:{port}/model-1.0-py3-none-any.whl\n"
    )

    assert run() == 1

    err = capsys.readouterr().err
    assert "requirements-model.in.raw:1: could not download" in err and "Traceback" not in err
    assert not (work / "requirements-model.in").exists()


def test_comments_only_gives_the_header(work: Path) -> None:
    (work / "requirements-model.in.raw").write_text("# nothing yet\n# https://x/y-1.0.tar.gz\n")

    assert run() == 0
    assert (work / "requirements-model.in").read_text() == HEADER
