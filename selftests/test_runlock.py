"""scripts/runlock.py, as the Makefile runs it: a lock per project, held for a make's lifetime.

A ``sleep`` stands in for the make whose lifetime the holder follows (the end-to-end tests in
test_concurrent_runs.py run the real make).
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import scripts
from scripts import runlock

RUNLOCK = Path(scripts.__file__).parent / "runlock.py"


def take(lock: Path, make: subprocess.Popen[bytes], *goals: str) -> subprocess.Popen[str]:
    """Start the lock's taking for ``make`` (as the Makefile's ``$(shell ...)`` does)."""
    return subprocess.Popen(
        [sys.executable, "-I", "-S", str(RUNLOCK), str(lock), str(make.pid), *goals],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def makes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Stand-ins for makes: ``sleep`` processes, stopped when the test ends."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for make in started:
        make.kill()
        make.wait()


def a_make(makes: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    makes.append(subprocess.Popen(["sleep", "60"]))
    return makes[-1]


def test_a_second_run_waits_naming_the_first_until_its_make_ends(
    tmp_path: Path, makes: list[subprocess.Popen[bytes]]
) -> None:
    lock = tmp_path / ".run.lock"
    first = a_make(makes)
    assert take(lock, first, "install").communicate(timeout=10) == ("locked\n", "")

    second = take(lock, a_make(makes), "upgrade")
    assert second.stderr is not None
    line = second.stderr.readline()  # the sign that it waits
    assert (
        line
        == f"waiting for another run in this project to end: make install (process {first.pid})\n"
    )
    assert second.poll() is None

    first.kill()  # SIGKILL: the holder sees its make end, and the lock is free
    out, err = second.communicate(timeout=10)
    assert (out, err) == ("locked\n", "")
    assert lock.read_text() == f"{makes[1].pid} upgrade\n"


def test_the_lock_is_free_again_when_its_make_has_ended(
    tmp_path: Path, makes: list[subprocess.Popen[bytes]]
) -> None:
    lock = tmp_path / ".run.lock"
    first = a_make(makes)
    assert take(lock, first, "install").communicate(timeout=10)[0] == "locked\n"
    first.kill()
    first.wait()

    assert take(lock, a_make(makes), "verify").communicate(timeout=10) == ("locked\n", "")


def test_a_lock_it_cannot_open_is_one_line_saying_what_to_do(
    tmp_path: Path, makes: list[subprocess.Popen[bytes]]
) -> None:
    lock = tmp_path / ".run.lock"
    lock.mkdir()

    out, err = take(lock, a_make(makes), "install").communicate(timeout=10)

    assert out.startswith(f"error: cannot take the run lock {lock}: Is a directory: ")
    assert "remove it when no make runs here" in out and out.count("\n") == 1 and err == ""


def test_a_file_system_with_no_locks_warns_once_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """NFS without its lock daemon answers ENOLCK: a warning, and the run goes on unlocked."""

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "lockf", no_locks)

    assert runlock.take(str(tmp_path / ".run.lock"), "1 install\n") is None
    assert capsys.readouterr().err == (
        f"warning: this file system gives no lock on {tmp_path / '.run.lock'} (No locks"
        " available): two runs at once here are not kept apart\n"
    )


@pytest.mark.parametrize("pidfd", [True, False])
def test_the_holder_sees_its_make_end(
    pidfd: bool, makes: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a pidfd (Linux 5.3 and later), and by asking now and then where there is none."""
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    make = a_make(makes)
    waiting = threading.Thread(target=runlock.wait_for_exit, args=(make.pid,))
    waiting.start()
    assert waiting.is_alive()

    make.kill()
    make.wait()
    waiting.join(timeout=10)

    assert not waiting.is_alive()
