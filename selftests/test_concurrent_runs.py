"""End-to-end: one run at a time per project (an editor's task and a terminal, two terminals).

The outermost make holds the project's run lock (.run.lock) until it ends; a second run waits,
with one line naming the first's target and process, then finds what the first made. The makes
a run starts itself never wait for it, and a killed run leaves nothing in the way.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e import GIT_ENV, Project, publish_model

pytestmark = pytest.mark.e2e

WAITING = re.compile(
    r"^waiting for another run in this project to end: make (.+) \(process (\d+)\)$"
)


class Running:
    """``make ARGS`` (or ``just ARGS``) started in the background in its own session (as a
    terminal's job is), its output (stdout and stderr as one) read line by line as it comes."""

    def __init__(self, project: Project, *args: str, tool: str = "make") -> None:
        command = ["make", "--no-print-directory", *args] if tool == "make" else [tool, *args]
        self.process = subprocess.Popen(
            command,
            cwd=project.path,
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append("")  # the end of the output
            self.changed.notify_all()

    def wait_for(self, sign: Callable[[str], bool], timeout: float = 120) -> str:
        """Wait until a line of the output shows ``sign``; give that line."""
        with self.changed:
            found = self.changed.wait_for(
                lambda: any(sign(line) for line in self.lines) or "" in self.lines, timeout
            )
            line = next((line for line in self.lines if sign(line)), None)
        assert found and line is not None, f"no sign in the output:\n{self.output()}"
        return line

    def finish(self, timeout: float = 300) -> tuple[int, str]:
        """Wait for the run to end; give its exit status and its output."""
        status = self.process.wait(timeout)
        self.reader.join()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return status, self.output()

    def stop(self) -> None:
        """End the run and what it started, if it still runs (a failed test's)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.finish()

    def output(self) -> str:
        return "".join(self.lines)


Start = Callable[..., Running]


@pytest.fixture
def start(project: Project) -> Iterator[Start]:
    """``start(ARGS...)`` starts ``make ARGS`` in ``project`` (``tool=`` another command); every
    run still going when the test ends is stopped."""
    runs: list[Running] = []

    def started(*args: str, tool: str = "make") -> Running:
        runs.append(Running(project, *args, tool=tool))
        return runs[-1]

    yield started
    for run in runs:
        run.stop()


def waiting_lines(output: str) -> list[re.Match[str]]:
    return [m for line in output.splitlines() if (m := WAITING.match(line))]


def assert_venv_matches_the_locks(project: Project, *locks: str) -> None:
    """`make verify` passes, and .venv holds exactly the pins of ``locks`` (requirements.txt
    unless given) and the installers pip-sync keeps."""
    project.run("verify")
    pins = {
        match.group(1): match.group(2)
        for lock in locks or ("requirements.txt",)
        for match in re.finditer(r"^([a-z0-9-]+)==(\S+) \\$", project.read(lock), re.M)
    }
    code = (
        "import importlib.metadata as m, re\n"
        "for d in m.distributions():\n"
        "    print(re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(), d.version)"
    )
    installed = dict(line.split() for line in project.python(code).splitlines())
    extra = set(installed) - set(pins) - {"pip", "setuptools", "wheel"}
    assert {name: installed.get(name) for name in pins} == pins and not extra, installed


def in_the_compile(line: str) -> bool:
    return "-m scripts compile" in line


def making_the_venv(line: str) -> bool:
    return line.rstrip().endswith(" venv .venv") or " venv --quiet" in line


def test_two_installs_at_once_both_succeed(project: Project, start: Start) -> None:
    """Two `make install` in a fresh project, the second started while the first makes .venv:
    the second waits with one line naming the first, then finds everything made."""
    shutil.rmtree(project.path / ".venv")  # both would make it
    first = start("install")
    first.wait_for(making_the_venv)
    second = start("install")

    (first_status, first_output), (second_status, second_output) = first.finish(), second.finish()

    assert first_status == 0, first_output
    assert second_status == 0, second_output
    assert [m.groups() for m in waiting_lines(second_output)] == [
        ("install", str(first.process.pid))
    ], second_output
    assert not waiting_lines(first_output)
    assert "Traceback" not in first_output + second_output
    assert_venv_matches_the_locks(project)


def test_upgrade_while_sync_runs(project: Project, start: Start) -> None:
    project.run("install")
    publish_model(project.github, project.path.parent / "releases", "3.8.1", ">=3.8.0,<3.9.0")
    shutil.rmtree(project.path / "build/release-files")  # so the sync fetches, and takes time
    sync = start("sync")
    sync.wait_for(lambda line: "-m scripts install" in line)
    upgrade = start("upgrade")

    (sync_status, sync_output), (upgrade_status, upgrade_output) = sync.finish(), upgrade.finish()

    assert sync_status == 0, sync_output
    assert upgrade_status == 0, upgrade_output
    assert [m.groups() for m in waiting_lines(upgrade_output)] == [
        ("sync", str(sync.process.pid))
    ], upgrade_output
    assert "en-core-web-sm==3.8.1 \\" in project.read("requirements.txt")
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.1"
    assert_venv_matches_the_locks(project, "requirements.txt", "requirements-dev.txt")  # its test


def test_make_j4_install_from_nothing(project: Project, start: Start) -> None:
    """Its jobs and the makes it starts share its lock: none waits for it (a wait would hang)."""
    shutil.rmtree(project.path / ".venv")

    status, output = start("-j4", "install").finish()

    assert status == 0, output
    assert "Traceback" not in output and not waiting_lines(output)
    assert_venv_matches_the_locks(project)


def test_just_install_holds_the_lock_as_make_does(project: Project, start: Start) -> None:
    shutil.rmtree(project.path / ".venv")
    first = start("install", tool=str(Path(project.env["TOOLS_VENV"], "bin/just")))
    first.wait_for(in_the_compile)
    second = start("install")

    (first_status, first_output), (second_status, second_output) = first.finish(), second.finish()

    assert first_status == 0 and second_status == 0, first_output + second_output
    [waiting] = waiting_lines(second_output)
    assert waiting.group(1) == "install"  # the make that `just install` runs holds it
    assert_venv_matches_the_locks(project)


def kill_the_group(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)  # as a cancelled CI job is stopped: nothing can clean up


def kill_the_make(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)  # `kill N`, as the waiting line's README entry advises


@pytest.mark.parametrize("kill", [kill_the_group, kill_the_make])
def test_a_run_killed_while_holding_the_lock_leaves_nothing_in_the_way(
    project: Project, start: Start, kill: Callable[[int], None]
) -> None:
    """The run holding the lock is killed while it compiles, with a second run waiting: the
    second proceeds and finishes the job."""
    shutil.rmtree(project.path / ".venv")
    first = start("install")
    first.wait_for(in_the_compile)
    second = start("install")
    second.wait_for(lambda line: bool(WAITING.match(line)))

    kill(first.process.pid)
    assert first.finish()[0] != 0
    status, output = second.finish()

    assert status == 0, output
    assert_venv_matches_the_locks(project)
    # and the lock is free again: a third run never waits
    assert not waiting_lines(project.run("install").stderr)


def test_make_lint_runs_the_hook_that_calls_make_without_waiting(
    project: Project, start: Start
) -> None:
    """A hook of `make lint` runs `make check-requirements`: a make that `make lint` started, so
    it goes on under its lock (a wait would hang)."""
    project.run("install")
    for command in (["init", "-q"], ["add", "-A"]):
        subprocess.run(
            ["git", *command], cwd=project.path, env={**os.environ, **GIT_ENV}, check=True
        )

    status, output = start("lint").finish(timeout=120)

    assert "requirements.txt is what the .in files compile to" in output, output
    assert status == 0 and not waiting_lines(output), output


def test_the_lock_works_before_the_tools_environment_exists(project: Project, start: Start) -> None:
    """In a fresh clone, the first run (`make tools`) has no .tools yet: PYTHON takes the lock."""
    first = start("install")
    first.wait_for(in_the_compile)
    second = start("-n", "tools", f"TOOLS_VENV={project.path.parent / 'no-tools-yet'}")

    second.wait_for(lambda line: bool(WAITING.match(line)))
    (first_status, first_output), (second_status, second_output) = first.finish(), second.finish()

    assert first_status == 0 and second_status == 0, first_output + second_output
    assert [m.groups() for m in waiting_lines(second_output)] == [
        ("install", str(first.process.pid))
    ]


def test_clean_and_distclean_keep_the_lock_file(project: Project) -> None:
    project.run("install")
    lock = project.path / ".run.lock"
    assert lock.is_file()

    project.run("clean")
    project.run("distclean", f"TOOLS_VENV={project.path / '.tools'}")  # not the running tools

    assert lock.is_file() and not (project.path / ".venv").exists()
    assert [p.name for p in (project.path / "build").iterdir()] == [".gitkeep"]
