"""The guard holds against every way in, each test written as the attack on one promise (the
README's "Supply chain" section), with the control that shows the attack is real.

A squatter's build writes a marker file: its absence proves no code of it ran. A recording
sdist writes the names of the environment variables its build saw.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from e2e import (
    MODEL,
    WHEEL_380,
    Project,
    is_resolver,
    serving,
    session_commands,
    snapshot,
)
from packages import (
    SPACY_CODE,
    make_marker_sdist,
    make_recording_sdist,
    make_wheel,
    write_simple_index,
)

pytestmark = pytest.mark.e2e
SECRET = "s3cret-licence-key"
TOKEN = "ghp_" + "Gu4rdT0ken" * 4


def squatting_index(project: Project, name: str) -> tuple[str, Path, str]:
    """A second index holding only ``name`` 1.0 as an sdist whose build writes a marker: its
    URL, the marker, and the sdist's sha256."""
    marker = project.path.parent / f"{name}-BUILT"
    sdist = make_marker_sdist(project.path.parent / "squat-files", name, "1.0", marker)
    url = write_simple_index(project.path.parent / "squat-index", [sdist])
    return url, marker, hashlib.sha256(sdist.read_bytes()).hexdigest()


@contextmanager
def failing_index(files: list[Path], log: list[str]) -> Iterator[str]:
    """A squatter's PEP 503 index on 127.0.0.5 that lists ``files`` but answers 500 to every
    download of one (a squatter can make a download fail at will): its URL. Each request's path
    (GET or HEAD) goes to ``log``."""
    pages: dict[str, list[str]] = {}
    for path in files:
        project = path.name.split("-")[0].replace("_", "-").lower()
        pages.setdefault(f"/simple/{project}/", []).append(path.name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer()

        def do_HEAD(self) -> None:  # uv asks a file's size first, to read its metadata alone
            self.answer()

        def answer(self) -> None:
            log.append(self.path)
            names = pages.get(self.path.split("?")[0])
            if names is None:
                status = 500 if self.path.startswith("/files/") else 404
                body = b""
            else:
                status = 200
                body = "".join(f'<a href="/files/{n}">{n}</a>\n' for n in names).encode()
                body = b"<!DOCTYPE html><html><body>\n" + body + b"</body></html>\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the log is ``log``."""

    with serving(ThreadingHTTPServer(("127.0.0.5", 0), Handler)) as port:
        yield f"http://127.0.0.5:{port}/simple/"


def test_a_hand_edited_lock_is_refused_before_anything_is_built(project: Project) -> None:
    project.run("install")
    url, marker, digest = squatting_index(project, "helpful")
    clean = project.read("requirements.txt")
    tampered = f"--extra-index-url {url}\n{clean}helpful==1.0 \\\n    --hash=sha256:{digest}\n"
    project.write("requirements.txt", tampered)  # newer than .venv/.synced: make will sync

    result = project.run("install", ok=False)

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "requirements.txt:1: names a package source (--extra-index-url)" in result.stderr
    assert "requirements.txt was changed since make wrote it" in result.stderr
    assert "nothing was installed" in result.stderr
    assert not marker.exists()
    # The control: plain pip-sync of the attacker's lines runs the squatter's code.
    control = project.path.parent / "control"
    (project.path / "control.txt").write_text(tampered.replace(clean, ""))
    subprocess.run([sys.executable, "-m", "venv", str(control)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "piptools",
            "sync",
            "--python-executable",
            str(control / "bin/python"),
            "control.txt",
        ],
        cwd=project.path,
        env=project.env,
        capture_output=True,
        check=False,
    )
    assert marker.exists()
    marker.unlink()
    (project.path / "control.txt").unlink()
    # The fix the message gives works: `make lock` remakes the lock without the edit.
    project.run("lock")
    assert project.read("requirements.txt") == clean
    project.run("install")
    project.run("verify")
    assert not marker.exists()


def test_source_options_and_credentials_in_inputs_are_refused_at_compile(
    project: Project,
) -> None:
    url, marker, _ = squatting_index(project, "helpful")
    project.write("requirements.in", f"--extra-index-url {url}\nhelpful\n")

    result = project.run("install", ok=False)

    assert "requirements.in:1: names a package source (--extra-index-url)" in result.stderr
    assert "nothing was compiled" in result.stderr and not marker.exists()
    assert not (project.path / "requirements.txt").exists()
    project.write("requirements.in", "spacy>=3.8,<3.9\n")
    project.write(
        "requirements-model.in.raw", f"https://bob:{SECRET}@wheels.example/m-1.0-py3-none-any.whl\n"
    )
    raw = project.run("install", ok=False)
    assert "requirements-model.in.raw:1: the URL holds a credential" in raw.stderr
    assert SECRET not in raw.stdout + raw.stderr


def test_no_secret_is_printed_when_pip_fails(project: Project) -> None:
    project.run("install")
    base = project.mirror.replace("http://", f"http://buyer:{SECRET}@")
    project.github.token = TOKEN  # GitHub knows it: a token it does not know gets 401
    project.env.update(FIND_LINKS=f"{base}/private/wheels/", GITHUB_TOKEN=TOKEN)
    project.publish_index()  # spacy 3.8.2 leaves the index, and so the machine:
    (project.path.parent / "simple/spacy/index.html").unlink()
    project.python(
        "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', "
        "'uninstall', '-y', '-q', 'spacy'], check=True)"
    )

    result = project.run("sync", ok=False)

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "sync failed:" in result.stderr and "spacy" in result.stderr.lower()
    assert SECRET not in result.stdout + result.stderr and TOKEN not in result.stderr


def test_a_file_changed_on_the_index_after_it_was_pinned_is_refused_by_pip(
    project: Project,
) -> None:
    """The index now serves other bytes under spacy 3.8.2's name (a re-upload, or a tampered
    mirror), to a machine that has no copy yet: pip's (or uv's) own hash check refuses it, in
    one line, and the same command works once the index serves the pinned file again."""
    project.run("install")
    lock = project.read("requirements.txt")
    wheel = project.path.parent / "index-files/spacy-3.8.2-py3-none-any.whl"
    pinned = wheel.read_bytes()
    make_wheel(wheel.parent, "spacy", "3.8.2", payload=b"not the pinned file", code=SPACY_CODE)
    assert wheel.read_bytes() != pinned
    uninstall = "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', 'uninstall', "
    project.python(uninstall + "'-y', '-q', 'spacy'], check=True)")
    project.env["UV_CACHE_DIR"] = str(project.path.parent / "new-uv-cache")  # no copy yet

    result = project.run("sync", ok=False)

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "error: pip refused spacy==3.8.2: its file does not match the hash in the lock (the file "
        "its source serves now is not the one pinned"
    ), result.stderr
    assert project.read("requirements.txt") == lock
    find = "import importlib.util; print(importlib.util.find_spec('spacy'))"
    assert project.python(find) == "None"  # nothing installed from it
    # The fix, as the message gives it: once the index serves the pinned file, the same command.
    wheel.write_bytes(pinned)
    project.run("sync")
    assert project.python("import spacy; print(spacy.VERSION)") == "3.8.2"
    assert project.read("requirements.txt") == lock


def test_builds_run_without_the_github_token(project: Project) -> None:
    record = project.path.parent / "build-environment.txt"
    sdist = make_recording_sdist(project.path.parent / "sdists", "builtpkg", "1.0", record)
    project.publish_index(sdist)
    project.write("requirements.in", project.read("requirements.in") + "builtpkg\n")
    project.github.token = TOKEN  # GitHub knows it: a token it does not know gets 401
    project.env.update(GITHUB_TOKEN=TOKEN, GITHUB_TOKEN_GHE_EXAMPLE_COM=TOKEN)

    project.run("install")

    assert project.python("import builtpkg; print(builtpkg.VERSION)") == "1.0"
    seen = record.read_text().split()  # the last build: pip-sync's
    assert "PATH" in seen and not [name for name in seen if name.startswith("GITHUB_TOKEN")]


def test_a_closed_pipe_never_deletes_the_lock(project: Project) -> None:
    project.run("install")
    project.write("requirements.in", project.read("requirements.in") + "# a comment\n")
    pins = [line for line in project.read("requirements.txt").splitlines() if line[:1] != "#"]

    result = subprocess.run(
        ["bash", "-c", 'make --no-print-directory install | head -c 1; echo " ${PIPESTATUS[*]}"'],
        cwd=project.path,
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
    )

    # head took one byte and ended; make's next write met the closed pipe and it stopped, with
    # one true line (the lock is written whole, so what was done is kept), no traceback.
    assert result.stdout[1:] == " 2 0\n", result.stdout
    assert "error: the output was closed before the end" in result.stderr, result.stderr
    assert "disk space" not in result.stderr and "Traceback" not in result.stderr

    lock = project.path / "requirements.txt"
    assert lock.is_file() and "en-core-web-sm==3.8.0" in lock.read_text()
    assert [line for line in lock.read_text().splitlines() if line[:1] != "#"] == pins
    project.run("install")
    project.run("verify")


def test_generated_files_are_not_private(project: Project) -> None:
    project.run("install")

    for name in (
        "requirements.txt",
        "requirements-dev.txt",
        "build/model-links.html",
        "build/model-assets.json",
        f"build/release-files/{WHEEL_380}",
    ):
        mode = stat.S_IMODE((project.path / name).stat().st_mode)
        assert mode & 0o044 == 0o044, f"{name} is {oct(mode)}"


def test_a_look_alike_wheel_with_other_tags_neither_gets_in_nor_stops_the_compile(
    project: Project,
) -> None:
    """A squatter's wheel of the release version with a more specific tag, whose metadata
    brings in a package of its choosing: pip would prefer it for its metadata."""
    evil = make_wheel(project.path.parent / "evil", "evilpkg", "1.0")
    fake = make_wheel(project.path.parent / "squat", MODEL, "3.8.0", ["spacy>=3.8,<3.9", "evilpkg"])
    specific = fake.with_name(
        f"{MODEL}-3.8.0-py{sys.version_info[0]}{sys.version_info[1]}-none-any.whl"
    )
    fake.rename(specific)
    local = make_wheel(project.path.parent / "squat2", MODEL, "3.8.0+local", ["evilpkg"])
    project.publish_index(evil, specific, local)

    project.run("install")

    text = project.read("requirements.txt")
    assert "evilpkg" not in text
    assert "en-core-web-sm==3.8.0 \\" in text
    project.run("verify")


def test_a_truncated_links_page_or_manifest_is_recovered_as_the_message_says(
    project: Project,
) -> None:
    project.run("install")
    page = project.path / "build/model-links.html"
    page.write_bytes(page.read_bytes()[:100])
    project.write("requirements.in", project.read("requirements.in") + "# an edit\n")

    project.run("install")  # the compile writes the page anew from the manifest

    assert page.read_text().endswith("</html>\n")
    manifest = project.path / "build/model-assets.json"
    manifest.write_bytes(manifest.read_bytes()[:100])
    project.write("requirements.in", project.read("requirements.in") + "# another\n")
    failed = project.run("install", ok=False)
    assert "is not a manifest of `make links`" in failed.stderr and "make links" in failed.stderr
    assert "Traceback" not in failed.stderr
    project.run("links")  # as the message says
    project.run("install")
    project.run("verify")


@contextmanager
def held_links() -> Iterator[tuple[str, threading.Event]]:
    """A find-links location that holds every request until the block ends: its URL, and an
    event set when the first request arrives. A resolver that asked it is provably in the middle
    of its compile, waiting."""
    arrived, release = threading.Event(), threading.Event()

    class Held(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived.set()
            release.wait(60)
            body = b"<!DOCTYPE html><html><body></body></html>\n"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the asker was killed
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Held)) as port:
        try:
            yield f"http://127.0.0.1:{port}/wheels/", arrived
        finally:
            release.set()


def test_a_killed_run_leaves_nothing_in_the_way(project: Project) -> None:
    project.run("install")
    project.write("requirements.in", project.read("requirements.in") + "# an edit\n")
    before = {p.name for p in project.path.iterdir()}
    lock, build = project.read("requirements.txt"), snapshot(project.path / "build")
    with held_links() as (url, arrived):
        running = subprocess.Popen(
            ["make", "--no-print-directory", "install"],
            cwd=project.path,
            env={**project.env, "FIND_LINKS": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # The sign: the resolver (pip-compile, or uv) asks the held location, and waits.
        while not arrived.wait(0.05):
            assert running.poll() is None, "the run ended before its compile asked for links"
        compiling = [c for c in session_commands(running.pid).values() if is_resolver(c)]
        assert compiling, "a find-links location was read, but not by the compile"
        os.killpg(running.pid, signal.SIGKILL)
        running.wait()

    assert {p.name for p in project.path.iterdir()} == before  # no leftovers beside the lock
    assert project.read("requirements.txt") == lock
    assert snapshot(project.path / "build") == build, "the killed run left build/ changed"
    project.run("install")
    project.run("verify")


def test_a_release_package_that_enters_as_a_dependency_is_never_built_from_an_index(
    project: Project,
) -> None:
    """acme_bundle (a release) requires en_core_web_sm, which requirements.in does not name; a
    squatter's en-core-web-sm sdist on the index, higher than any release, must never run."""
    bundle = make_wheel(project.path.parent / "bundle", "acme_bundle", "1.0.0", [MODEL])
    project.github.add_release(
        "explosion/spacy-models", "acme_bundle-1.0.0", {bundle.name: bundle.read_bytes()}
    )
    marker = project.path.parent / "SQUAT-BUILT"
    project.publish_index(
        make_marker_sdist(project.path.parent / "squat", "en-core-web-sm", "999.0", marker)
    )
    project.write("requirements.in", "spacy>=3.8,<3.9\nacme_bundle\n")

    project.run("install")

    assert not marker.exists()
    text = project.read("requirements.txt")
    assert "en-core-web-sm==3.8.0 \\" in text and "acme-bundle==1.0.0 \\" in text
    project.run("verify")


def test_a_look_alike_whose_download_fails_is_never_asked_for(project: Project) -> None:
    """A squatter's en_core_web_sm 3.8.0+evil wheel on an index (a local version: the release's
    own range and cap allow it), whose download answers 500: a resolver that asks for it fails.
    The compile must never download a file of a release package's name but its release files,
    whether requirements.in names the package, requirements-dev.in does, or it enters as a
    dependency of an index's package."""
    evil = make_wheel(project.path.parent / "evil", MODEL, "3.8.0+evil", ["spacy>=3.8,<3.9"])
    log: list[str] = []
    with failing_index([evil], log) as url:
        project.env["PIP_EXTRA_INDEX_URL"] = url
        project.write("requirements.in", "spacy>=3.8,<3.9\n")
        project.write("requirements-dev.in", project.read("requirements-dev.in") + f"{MODEL}\n")

        refused = project.run("install", ok=False)

        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert (
            "en-core-web-sm: a release package that requirements.txt does not pin; "
            "requirements-dev.txt takes release packages from requirements.txt only: ask for it "
            "in requirements.in" in refused.stderr
        ), refused.stderr
        project.write("requirements.in", f"spacy>=3.8,<3.9\n{MODEL}>=3.7.0,<3.9.0\n")  # as told
        project.run("install")
        for lock in ("requirements.txt", "requirements-dev.txt"):
            assert "en-core-web-sm==3.8.0 \\" in project.read(lock), lock
        project.run("verify")
        user = make_wheel(project.path.parent / "user", "model_user", "1.0", [MODEL])
        project.publish_index(user)
        project.write("requirements.in", "spacy>=3.8,<3.9\nmodel_user\n")
        (project.path / "requirements.txt").unlink()  # the model is in no lock, nor .in file
        project.run("install")
        assert "en-core-web-sm==3.8.0 \\" in project.read("requirements.txt")
        assert "model-user==1.0" in project.read("requirements.txt")
    assert "/simple/spacy/" in log  # the compile read the squatter's index
    assert not [path for path in log if path.startswith("/files/")], log


def test_a_failed_download_from_an_index_is_one_line_without_a_traceback(
    project: Project,
) -> None:
    helpful = make_wheel(project.path.parent / "helpful", "helpful", "1.0")
    log: list[str] = []
    with failing_index([helpful], log) as url:
        project.env["PIP_EXTRA_INDEX_URL"] = url
        project.write("requirements.in", project.read("requirements.in") + "helpful\n")

        result = project.run("install", ok=False)

    assert "/files/helpful-1.0-py3-none-any.whl" in log  # it was asked for, and answered 500
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "helpful-1.0-py3-none-any.whl" in errors[0], result.stderr
    assert "500" in errors[0], errors
    for fragment in ("Traceback", 'File "', "line ", "raise ", "^^^", "site-packages"):
        assert fragment not in result.stderr, result.stderr
    assert not (project.path / "requirements.txt").exists()
