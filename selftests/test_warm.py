"""scripts/warm.py: while a compile waits for a big release file, uv's cache is filled with
the files of the pins it has made, and the filling ends with the compile.

The stand-in holds the big file's download until the test lets it go (``hold``), so the compile
is seen in its wait with no clock.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from e2e import Project
from packages import make_wheel
from scripts import backend, warm
from scripts.settings import Settings

LOCK = "spacy==3.8.2 \\\n    --hash=sha256:" + "0" * 64 + "\n"  # a lock's pin, as uv writes it


def wait_for(path: Path, done: threading.Event) -> bool:
    """Has ``path`` appeared before ``done`` (or 40 s, well before the fetch gives up on a held
    download)?"""
    for _ in range(400):
        if path.exists():
            return True
        if done.is_set():
            return False
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("project", ["uv"], indirect=True)  # pip-tools: the last test
def test_a_compile_waiting_for_a_big_file_fills_uv_s_cache_and_leaves_nothing(
    project: Project,
) -> None:
    big = make_wheel(project.path.parent / "big", "acme_big", "1.0.0", payload=os.urandom(2 << 20))
    project.github.add_release(
        "explosion/spacy-models", "acme_big-1.0.0", {big.name: big.read_bytes()}, digest=False
    )
    project.write("requirements.in", project.read("requirements.in") + "acme_big>=1,<2\n")
    project.run("links")
    arrived = project.github.hold(big.name)
    done = threading.Event()
    results: list[subprocess.CompletedProcess] = []

    def compile_() -> None:
        results.append(project.run("requirements.txt", ok=False))
        done.set()

    thread = threading.Thread(target=compile_)
    thread.start()
    warmed = project.path / "build/warm-target/spacy/__init__.py"  # the index's spacy, in
    try:
        filled = wait_for(warmed, done)
        pins = (project.path / "build/warm-requirements.txt").read_text() if filled else ""
    finally:
        arrived.set()
        thread.join()

    assert results[0].returncode == 0, results[0].stderr
    assert filled, "uv's cache was not filled while the big file downloaded"
    assert "spacy==3.8.2 --hash=sha256:" in pins
    assert "acme" not in pins and "en-core-web-sm" not in pins  # release files: not from it
    assert not (project.path / "build/warm-target").exists()
    assert not (project.path / "build/warm-requirements.txt").exists()
    project.run("install")
    assert project.python("import acme_big; print(acme_big.VERSION)") == "1.0.0"
    assert "spacy==3.8.2" in project.read("requirements.txt")


def test_the_filling_is_stopped_when_its_block_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source that accepts and never answers: uv would wait for ever; the block's end stops it
    (terminated by a signal, not finished) and leaves nothing behind."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    silent.settimeout(60)
    monkeypatch.chdir(tmp_path)
    index = f"http://127.0.0.1:{silent.getsockname()[1]}/simple"
    # the user's pip sources, as `pip config list` gives them (its answer is cached per process)
    monkeypatch.setattr(backend, "pip_config", lambda: {"index-url": [index]})
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("RESOLVER", "uv")
    (tmp_path / "build").mkdir()
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def spawn(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        started.append(popen(*args, **kwargs))  # type: ignore[call-overload]
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", spawn)
    try:
        with warm.warming(Settings.from_environ(os.environ)) as start:
            start(LOCK, set())
            assert warm.WARM_PINS.is_file()
            connection, _ = silent.accept()  # uv is on its way, and gets no answer
            connection.close()
    finally:
        silent.close()
    uv = [p for p in started if p.args[0] == str(backend.UV)]  # type: ignore[index]
    assert len(uv) == 1 and uv[0].returncode == -signal.SIGTERM
    assert not warm.WARM_TARGET.exists() and not warm.WARM_PINS.exists()


def test_with_pip_tools_nothing_is_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RESOLVER", "pip-tools")
    (tmp_path / "build").mkdir()
    started: list[object] = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))
    with warm.warming(Settings.from_environ(os.environ)) as start:
        start(LOCK, set())
    assert not started and not warm.WARM_PINS.exists()


def test_make_lock_asks_for_no_filling(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make lock` (no install follows) runs `compile --no-warm`; a plain compile warms."""
    from scripts import lock
    from scripts.__main__ import main

    asked: list[bool] = []
    monkeypatch.setattr(lock, "compile_lock", lambda *args, warm: asked.append(warm))
    assert main(["compile", "--no-warm"]) == 0 and main(["compile"]) == 0
    assert asked == [False, True]
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "lock"],
        cwd=Path(__file__).parents[1],
        env={**os.environ, "RUN_LOCKED": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "-m scripts compile --no-warm\n" in dry.stdout
