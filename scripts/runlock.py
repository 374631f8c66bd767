"""One run at a time per project: the lock the outermost make takes before it does anything.

The Makefile runs ``python -I -S scripts/runlock.py LOCKFILE PID GOAL...`` as it starts, PID
being that make's process. It may run before the tools environment exists, with whatever Python
PYTHON is, so it uses the standard library alone and imports nothing of the package.

It forks a holder, which takes an exclusive lock on LOCKFILE (``fcntl.lockf``: a POSIX lock,
which the operating system frees when its holder ends, however it ends; on Linux and macOS, and
on NFS), waiting with one line that names the run holding it. The holder records PID and the
goals there for the next run to name, prints ``locked`` through this process (make's
``$(shell ...)`` reads it) and stays, out of the terminal's signals, until the make of PID ends.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import sys
import time

USAGE = "usage: runlock.py LOCKFILE PID GOAL..."


def main(argv: list[str]) -> int:
    """Take the lock for the make of ``argv[1]``; print ``locked``, or why not."""
    if len(argv) < 3 or not argv[1].isdigit():
        print(USAGE)
        return 2
    path, make, goals = argv[0], int(argv[1]), argv[2:]
    reader, writer = os.pipe()
    if os.fork() == 0:  # the holder
        os.close(reader)
        try:
            lock = take(path, f"{make} {' '.join(goals)}\n")
        except OSError as error:
            advice = f"make writes in this folder; if {path} is another user's, remove it"
            advice += " when no make runs here"
            message = f"error: cannot take the run lock {path}: {error.strerror}: {advice}"
            os.write(writer, message.encode())
            os._exit(1)
        os.write(writer, b"locked")
        os.close(writer)
        if lock is not None:
            stay(lock, make)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        print(answer.read().decode() or f"error: the run lock {path} was not taken: interrupted")
    return 0


def take(path: str, holder: str) -> int | None:
    """Lock ``path`` (waiting while another run holds it) and write ``holder`` there; give the
    locked file, or None (with a warning) on a file system that has no locks."""
    lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        wait_for_lock(lock)
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
            raise
        why = f"this file system gives no lock on {path} ({error.strerror})"
        print(f"warning: {why}: two runs at once here are not kept apart", file=sys.stderr)
        return None
    os.ftruncate(lock, 0)
    os.pwrite(lock, holder.encode(), 0)
    return lock


def stay(lock: int, make: int) -> None:
    """Hold ``lock`` until process ``make`` ends: off make's output (whoever reads it sees its
    end when make ends) and out of its session (Ctrl-C and a closed terminal stop make, whose
    end then frees the lock)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, lock)
    os.closerange(lock + 1, 1024)
    os.setsid()
    wait_for_exit(make)


def wait_for_lock(lock: int) -> None:
    """Lock ``lock``; while another run holds it, wait, saying once on stderr which run it is."""
    holder = ""
    for _ in range(100):  # a holder writes its name as soon as it has the lock
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
        pid, _, goals = os.pread(lock, 4096, 0).decode(errors="replace").strip().partition(" ")
        if pid.isdigit() and alive(int(pid)):
            holder = f"make {goals} (process {pid})"
            break
        time.sleep(0.01)
    holder = holder or "one that left no name"
    print(f"waiting for another run in this project to end: {holder}", file=sys.stderr, flush=True)
    fcntl.lockf(lock, fcntl.LOCK_EX)


def alive(pid: int) -> bool:
    """Does process ``pid`` run?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def wait_for_exit(pid: int) -> None:
    """Return when process ``pid`` (not a child of this one) has ended."""
    try:
        if sys.platform == "linux":
            with_pidfd = os.pidfd_open(pid)
            select.select([with_pidfd], [], [])
            return
        if sys.platform == "darwin":
            queue = select.kqueue()
            exit_event = select.kevent(
                pid, select.KQ_FILTER_PROC, select.KQ_EV_ADD, select.KQ_NOTE_EXIT
            )
            queue.control([exit_event], 1, None)
            return
    except ProcessLookupError:  # it has ended already
        return
    except (OSError, AttributeError):  # no pidfd (Linux before 5.3, Python 3.8): ask now and then
        pass
    while alive(pid):
        time.sleep(0.2)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C while waiting: make stops too, and says so
        sys.exit(130)
