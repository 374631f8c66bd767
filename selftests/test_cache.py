"""scripts/cache.py: each release file hashed once, as it arrives, then trusted without a read
only while it is provably the file hashed.

The reads are counted honestly: an audit hook (PEP 578) sees every ``open`` this process makes,
whatever opens it (``sha256_file``, ``zipfile``, pip's code run in-process), and the tests count
those of the release file that can read it. The end-to-end test counts the same way in every
Python that `make` starts (a ``sitecustomize`` on PYTHONPATH): the template's commands and pip.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import WHEEL_380, Project, http_index
from scripts import checks, pylock
from scripts.cache import ReleaseFiles, holds
from scripts.errors import UserError
from scripts.files import Stamp, read_stamps
from scripts.settings import RELEASE_FILES, STAMPS
from standin import GitHubStandIn
from test_net import WHEEL, fetch, github  # noqa: F401 (github: a fixture)

_WATCHED: list[list[str]] = []  # the lists the audit hook appends to, while a test watches


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not _WATCHED or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path, mode, flags = args
    reads = ("r" in mode or "+" in mode) if mode else (flags or 0) & os.O_ACCMODE != os.O_WRONLY
    if reads:
        for watched in _WATCHED:
            watched.append(os.fsdecode(path))


sys.addaudithook(_audit)  # hooks cannot be removed: it records only while a test watches


@pytest.fixture
def reads() -> Iterator[list[str]]:
    """The paths this process opens for reading while the test runs."""
    seen: list[str] = []
    _WATCHED.append(seen)
    yield seen
    _WATCHED.remove(seen)


def of(seen: list[str], name: str) -> int:
    return sum(Path(path).name == name for path in seen)


@pytest.fixture
def fetched(request: pytest.FixtureRequest) -> ReleaseFiles:
    """acme_model 1.0.0 (no API digest, as spaCy's models) listed and fetched into a fresh
    build/release-files, as `make install` fetches it (test_net's stand-in and fetch)."""
    request.getfixturevalue("github")
    return fetch()


def lock_for(files: ReleaseFiles) -> Path:
    """A lock pinning acme_model with its release file's hash (the seal aside: not asked)."""
    lock = Path("requirements.txt")
    lock.write_text(f"acme-model==1.0.0 \\\n    --hash=sha256:{files.sums[WHEEL]}\n")
    return lock


def release_problems(files: ReleaseFiles, rehash: bool = False) -> list[str]:
    problems = checks.lock_problems(lock_for(files), files.assets, files.sums, rehash)
    return [p for p in problems if "sha256 is not the one recorded" in p]


def test_a_file_is_hashed_as_it_arrives_and_then_trusted_unread(
    fetched: ReleaseFiles, reads: list[str]
) -> None:
    """The download hashed it; every later check (each install's, each compile's) trusts that
    while the file is the one hashed: not one read."""
    digest = hashlib.sha256((RELEASE_FILES / WHEEL).read_bytes()).hexdigest()
    reads.clear()

    for _ in range(3):
        assert release_problems(fetched) == []
    assert holds(WHEEL, digest)

    assert of(reads, WHEEL) == 0
    assert fetched.sums[WHEEL] == digest == read_stamps(STAMPS)[WHEEL][0]


def test_a_byte_changed_in_place_with_size_and_times_restored_is_refused(
    fetched: ReleaseFiles, reads: list[str]
) -> None:
    """Size and modification time put back (os.utime) cannot tell; the change time can."""
    cached = RELEASE_FILES / WHEEL
    before = cached.stat()
    with cached.open("r+b") as handle:  # in place: the same inode
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(before.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(cached, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = cached.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    reads.clear()

    problems = release_problems(fetched)

    assert len(problems) == 1 and f"{RELEASE_FILES / WHEEL}: its sha256" in problems[0]
    assert of(reads, WHEEL) == 1
    assert len(release_problems(fetched)) == 1  # and again: its new stamp holds what it hashed


def test_a_file_restored_from_a_ci_cache_is_hashed_again_and_accepted(
    fetched: ReleaseFiles, reads: list[str], tmp_path: Path
) -> None:
    """A cache restore writes a new file (a new inode and change time, the old modification
    time): hashed once, accepted as identical, then trusted again."""
    cached = RELEASE_FILES / WHEEL
    saved = tmp_path / "ci-cache"
    shutil.copytree(RELEASE_FILES, saved, copy_function=shutil.copy2)
    shutil.rmtree(RELEASE_FILES)
    shutil.copytree(saved, RELEASE_FILES, copy_function=shutil.copy2)
    assert read_stamps(STAMPS)[WHEEL][1] != Stamp.of(cached)
    reads.clear()

    assert release_problems(fetched) == []
    assert of(reads, WHEEL) == 1
    assert release_problems(fetched) == []
    assert of(reads, WHEEL) == 1  # the second check trusts the new stamp


def test_a_restored_file_that_differs_is_refused(
    fetched: ReleaseFiles, reads: list[str], tmp_path: Path
) -> None:
    cached = RELEASE_FILES / WHEEL
    stat = cached.stat()
    data = bytearray(cached.read_bytes())
    data[-100] ^= 0x01
    cached.unlink()
    cached.write_bytes(bytes(data))
    os.utime(cached, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert len(release_problems(fetched)) == 1


def test_export_takes_the_recorded_sha256_unread_and_refuses_a_changed_file(
    fetched: ReleaseFiles, reads: list[str]
) -> None:
    """pylock.toml's sha256 of a release file is the one recorded as it arrived: not read while
    its stamp holds; a file changed since is refused, with the fix, not exported."""
    digest = fetched.sums[WHEEL]
    reads.clear()

    assert pylock.release_sha256(fetched.sums, WHEEL) == digest
    assert of(reads, WHEEL) == 0

    cached = RELEASE_FILES / WHEEL
    data = bytearray(cached.read_bytes())
    data[-100] ^= 0x01
    cached.unlink()
    cached.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"changed since\); delete it and run `make sync`"):
        pylock.release_sha256(fetched.sums, WHEEL)


def test_verify_hashes_every_file_whatever_its_stamp_once_a_run(
    fetched: ReleaseFiles, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make verify` trusts no record: each release file is read, once in a process even where
    two locks pin it."""
    import scripts.cache

    monkeypatch.setattr(scripts.cache, "_HASHED_HERE", set())
    reads.clear()

    assert release_problems(fetched, rehash=True) == []
    assert release_problems(fetched, rehash=True) == []

    assert of(reads, WHEEL) == 1


def test_a_garbled_record_trusts_nothing(fetched: ReleaseFiles, reads: list[str]) -> None:
    STAMPS.write_text("{not json")
    reads.clear()

    assert release_problems(fetched) == []

    assert of(reads, WHEEL) == 1


def test_a_fresh_clone_fetch_is_recorded_too(
    fetched: ReleaseFiles, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a lock records (``# release: URL``), fetched with no API request, is stamped the
    same way."""
    url = next(a.url for a in fetched.assets if a.filename == WHEEL)
    digest = fetched.sums[WHEEL]
    shutil.rmtree(RELEASE_FILES)
    lock = Path("requirements.txt")
    lock.write_text(f"acme-model==1.0.0 \\\n    --hash=sha256:{digest}\n    # release: {url}\n")
    clone = ReleaseFiles(fetched.settings, quiet=True)
    clone.fetch_recorded(lock)
    reads.clear()

    assert holds(WHEEL, digest)

    assert of(reads, WHEEL) == 0


@pytest.mark.e2e
def test_install_then_sync_read_no_release_file(project: Project, tmp_path: Path) -> None:
    """After `touch requirements.in`, `make install`, `make sync` and then `make export` (whose
    pylock.toml carries the file's size and sha256) open the unchanged release file 0 times for
    reading in any Python they start (the template's commands, pip); `make verify` reads it.
    uv, a program of its own, is not seen here."""
    # The packages served over HTTP, as a team's index is: pylock.toml names public URLs only.
    with http_index(project.index_files, tmp_path / "http-index") as index:
        project.env["PIP_INDEX_URL"] = index
        project.env["PLATFORMS"] = "linux"  # the index has no colorama (pytest on Windows)
        project.run("install")
        hook = tmp_path / "hook"
        hook.mkdir()
        log = tmp_path / "opens.log"
        (hook / "sitecustomize.py").write_text(
            "import os, sys\n"
            f"_log = os.open({str(log)!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)\n"
            "def _audit(event, args):\n"
            "    if event == 'open' and isinstance(args[0], (str, bytes, os.PathLike)):\n"
            "        path, mode, flags = args\n"
            "        if mode: reading = 'r' in mode or '+' in mode\n"
            "        else: reading = (flags or 0) & os.O_ACCMODE != os.O_WRONLY\n"
            f"        if reading and os.path.basename(os.fsdecode(path)) == {WHEEL_380!r}:\n"
            "            os.write(_log, (' '.join(sys.argv[:3]) + '\\n').encode())\n"
            "sys.addaudithook(_audit)\n"
        )
        project.env["PYTHONPATH"] = str(hook)

        (project.path / "requirements.in").touch()
        install = project.run("install")
        sync = project.run("sync")
        exported = project.run("export")
        opened = log.read_text() if log.exists() else ""

        assert "scripts install" in install.stdout and "scripts install" in sync.stdout  # synced
        assert "export: wrote pylock.toml" in exported.stdout
        assert WHEEL_380 in project.read("pylock.toml")
        assert opened == ""
        project.run("verify")
        assert log.read_text() != ""  # the hook sees reads: verify hashes the file


def test_two_commands_fetching_one_missing_file_at_once_download_it_once(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make -j install` runs the install's fetch and `compile --dev` together, and both fetch
    a pinned release file that is missing: the second waits for the first, then finds it
    recorded. Each download waits (up to 2 s) for the other to start, so without the fetch lock
    both would write the same file at once."""
    from scripts import net

    standin: GitHubStandIn = request.getfixturevalue("github")
    files = fetch()
    shutil.rmtree(RELEASE_FILES)
    meet = threading.Barrier(2, timeout=2)
    download = net.Downloader.first_found

    def met_first(self: net.Downloader, *downloads: net.Download) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other waits for the lock
            meet.wait()
        return download(self, *downloads)

    monkeypatch.setattr(net.Downloader, "first_found", met_first)
    before = standin.downloads(WHEEL)
    both = [ReleaseFiles(files.settings, files.assets, quiet=True) for _ in range(2)]
    threads = [threading.Thread(target=one.ensure, args=(one.assets,)) for one in both]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert standin.downloads(WHEEL) == before + 1
    assert both[0].sums[WHEEL] == both[1].sums[WHEEL] == files.sums[WHEEL]
    assert holds(WHEEL, files.sums[WHEEL])
