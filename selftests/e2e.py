"""A copy of the template wired to loopback stand-ins, for the end-to-end tests and benchmarks.

``render_template`` makes a project from the template with copier, as a user does;
``make_project`` copies such a project into a temporary folder, starts the stand-in of GitHub
(selftests/standin.py) with two releases of a small ``en_core_web_sm`` and one of OSV's query
API (selftests/osv_standin.py, with no advisory until a test adds one), writes a local PEP 503
index with a stand-in ``spacy`` and the wheels a copy's tests need (pytest, from
build/selftest-wheels, which `make selftest` downloads); ``Project.run`` runs the real make (or
just) targets there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from osv_standin import OSVStandIn, run_osv
from packages import (
    MODEL_CODE,
    SPACY_CODE,
    make_marker_sdist,
    make_wheel,
    model_entry_point,
    write_simple_index,
)
from standin import GitHubStandIn, run_standin

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(sys.prefix) / "bin"  # the tools environment running the tests, made by `make tools`
WHEELHOUSE = ROOT / "build/selftest-wheels"
MODEL = "en_core_web_sm"
WHEEL_380 = "en_core_web_sm-3.8.0-py3-none-any.whl"
WHEEL_371 = "en_core_web_sm-3.7.1-py3-none-any.whl"
# Only the tests' own settings reach a project: this machine's pip, GitHub and make settings
# would change what it resolves.
MINE = (
    "PIP_",
    "UV_",
    "GITHUB_",
    "MAKE",
    "FIND_LINKS",
    "MODEL_REPOS",
    "PRE",
    "PACKAGES",
    "PYTEST_",
    "RESOLVER",
    "PLATFORMS",
    "COOLDOWN",
)


# git with its own identity and none of this machine's config, for the commits a user makes.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
MADE_BY_MAKE = {
    ".git",
    ".tools",
    ".venv",
    ".run.lock",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
}


def copy_template(dest: Path) -> Path:
    """Copy the template's checkout to ``dest`` as a plain folder of its files, as "Use this
    template" or a download gives them: the working tree (uncommitted work included) without
    .git and what `make` made (build/ keeps its placeholder). Nothing here asks git: copier's
    handling of a local git checkout failed on a CI machine's clone, and git refuses to read a
    checkout another user owns ("dubious ownership")."""

    def made_by_make(folder: str, names: list[str]) -> set[str]:
        if Path(folder) == ROOT / "build":
            return {name for name in names if name != ".gitkeep"}
        special = {n for n in names if not (Path(folder, n).is_file() or Path(folder, n).is_dir())}
        return {name for name in names if name in MADE_BY_MAKE} | special  # a socket, a FIFO

    shutil.copytree(ROOT, dest, ignore=made_by_make, symlinks=True)
    return dest


def copier_update(project: Path) -> subprocess.CompletedProcess[str]:
    """Run ``copier update`` in ``project`` with the default answers, as its team would."""
    return subprocess.run(
        [str(TOOLS / "copier"), "update", "--defaults", "--quiet"],
        cwd=project,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
    )


def render_template(dest: Path, *answers: str, template: Path | None = None) -> Path:
    """Make a project at ``dest`` with ``copier copy`` from ``template`` (a plain copy of the
    template's checkout unless given), the default answers unless ``answers`` gives ``--data
    key=value``."""
    with tempfile.TemporaryDirectory() as scratch:
        source = template or copy_template(Path(scratch) / "template")
        result = subprocess.run(
            [
                str(TOOLS / "copier"),
                "copy",
                "--defaults",
                "--quiet",
                *answers,
                str(source),
                str(dest),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, f"copier copy failed:\n{result.stderr}"
    return dest


@dataclass
class Project:
    """A copy of the template with its own build/, run against the stand-ins."""

    path: Path
    github: GitHubStandIn
    env: dict[str, str]
    index_files: list[Path]
    mirror: str = ""  # a private mirror's URL: find-links pages under any */wheels/ path
    mirror_log: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)
    mirror_hooks: list[Callable[[], None]] = field(default_factory=list)  # run at each request
    log: list[str] = field(default_factory=list)
    osv: OSVStandIn = field(default_factory=OSVStandIn)  # OSV's query API (OSV_URL): no advisory

    def run(self, *args: str, ok: bool = True, tool: str = "make") -> subprocess.CompletedProcess:
        """Run ``make ARGS`` (or ``just ARGS``); with ``ok`` assert it succeeded."""
        command = [tool, "--no-print-directory", *args] if tool == "make" else [tool, *args]
        if tool == "just":
            command[0] = str(TOOLS / "just")
        result = subprocess.run(
            command, cwd=self.path, env=self.env, capture_output=True, text=True, check=False
        )
        self.log.append(result.stdout + result.stderr)
        if ok:
            assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def python(self, code: str) -> str:
        """Run ``code`` in the project's .venv and return what it printed."""
        result = subprocess.run(
            [str(self.path / ".venv/bin/python"), "-c", code],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def write(self, name: str, text: str) -> None:
        (self.path / name).write_text(text)

    def read(self, name: str) -> str:
        return (self.path / name).read_text()

    def publish_index(self, *files: Path) -> None:
        """Put ``files`` on the local package index, beside what it holds."""
        self.index_files += files
        write_simple_index(self.path.parent / "simple", self.index_files)


def session_commands(session: int) -> dict[int, list[str]]:
    """The command line of each running process of ``session`` (a process started with
    ``start_new_session=True`` leads its own, and its children inherit it), by pid, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # after "(name) ": state, ppid, pgrp, session (proc(5)); a name may hold ") "
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:
                args = (stat.parent / "cmdline").read_bytes().split(b"\0")
                found[int(stat.parent.name)] = [a.decode(errors="replace") for a in args if a]
        except (OSError, IndexError, ValueError):  # ended while we looked
            continue
    return found


def commands_in(folder: Path) -> list[list[str]]:
    """The command line of each running process whose working folder is ``folder``."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.readlink() == folder.resolve():
                args = (cwd.parent / "cmdline").read_bytes().split(b"\0")
                found.append([a.decode(errors="replace") for a in args if a])
        except OSError:  # ended while we looked, or not ours to read
            continue
    return found


def is_resolver(args: list[str]) -> bool:
    """Whether ``args`` is pip-compile's or uv's compile writing a lock (not the scripts'
    ``compile`` command that runs it)."""
    compiling = "compile" in args and "--output-file" in args
    return compiling and ("piptools" in args or Path(args[0]).name == "uv")


def run_watched(
    project: Project, *args: str, ok: bool = True
) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run ``make ARGS`` in a session of its own, sampling every few milliseconds the command
    lines of the processes it starts (pip, pip-compile, uv, ...); return its result and every
    command line seen."""
    process = subprocess.Popen(
        ["make", "--no-print-directory", *args],
        cwd=project.path,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: list[list[str]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for command in session_commands(process.pid).values():
                if command not in seen:
                    seen.append(command)
            done.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=600)
    finally:
        done.set()
        sampler.join()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    project.log.append(stdout + stderr)
    if ok:
        assert result.returncode == 0, f"{args} failed:\n{stdout}\n{stderr}"
    return result, seen


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show that a failed command changed nothing."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def publish_model(
    github: GitHubStandIn,
    folder: Path,
    version: str,
    spacy_range: str,
    model: str = MODEL,
    created_at: datetime | None = None,
) -> None:
    """Publish ``model`` VERSION as a release: a wheel, an sdist that must never be built, and a
    checksum file. Like spaCy's real assets, they have no API digest. ``created_at``: when its
    assets were uploaded (default: years ago, see standin.py)."""
    wheel = make_wheel(
        folder,
        model,
        version,
        [f"spacy{spacy_range}"],
        payload=b"x" * 4096,
        code=MODEL_CODE,
        entry_points=model_entry_point(model),
    )
    sdist = make_marker_sdist(folder, model, version, folder / "RELEASE-SDIST-BUILT")
    files = {
        wheel.name: wheel.read_bytes(),
        sdist.name: sdist.read_bytes(),
        f"{model}-{version}.sha256": b"not a package\n",
    }
    github.add_release(
        "explosion/spacy-models", f"{model}-{version}", files, digest=False, created_at=created_at
    )


@contextmanager
def private_mirror(
    log: list[tuple[str, str]], hooks: list[Callable[[], None]] | None = None
) -> Iterator[str]:
    """A user's private package mirror on 127.0.0.4: an empty find-links page at every path
    ending in /wheels/ (pip and uv read it), nothing elsewhere (404); each request is logged
    with its Authorization header, to show its credentials were used and never shown. Each of
    ``hooks`` runs at every request, before it is answered: while the asker waits."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            for hook in hooks or ():
                hook()
            log.append((self.path, self.headers.get("Authorization", "")))
            found = self.path.split("?")[0].endswith("/wheels/")
            body = b"<!DOCTYPE html><html><body></body></html>\n" if found else b""
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.4", 0), Handler)) as port:
        yield f"http://127.0.0.4:{port}"


@contextmanager
def http_index(
    files: list[Path], root: Path, uploaded: dict[str, str] | None = None
) -> Iterator[str]:
    """A simple index of ``files`` served over HTTP on 127.0.0.3, as a team's package index is:
    PEP 691 JSON (with each file's size, and its ``upload-time`` where ``uploaded`` gives one by
    file name: PEP 700, as PyPI's JSON has them) to a client that asks for it, as PyPI answers
    pip and uv, else PEP 503 HTML (which has no upload times); links relative, with their
    sha256. Gives its simple/ URL."""
    pages: dict[str, list[dict[str, Any]]] = {}
    (root / "files").mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, root / "files" / path.name)
        data = path.read_bytes()
        entry: dict[str, Any] = {
            "filename": path.name,
            "url": f"../../files/{path.name}",
            "size": len(data),
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
        }
        if uploaded and path.name in uploaded:
            entry["upload-time"] = uploaded[path.name]
        pages.setdefault(canonicalize_name(path.name.split("-")[0]), []).append(entry)

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] != "simple" or len(parts) != 2:
                return super().do_GET()
            found = pages.get(canonicalize_name(parts[1]))
            if found is None:
                return self.send_error(404)
            if "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", ""):
                kind = "application/vnd.pypi.simple.v1+json"
                meta = {"api-version": "1.1"}
                body = json.dumps({"meta": meta, "name": parts[1], "files": found}).encode()
            else:
                kind = "text/html"
                links = "".join(
                    f'<a href="{f["url"]}#sha256={f["hashes"]["sha256"]}">{f["filename"]}</a>\n'
                    for f in found
                )
                body = f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.3", 0), Handler)) as port:
        yield f"http://127.0.0.3:{port}/simple/"


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[int]:
    """Run ``server`` in a thread of its own while the block runs; give its port."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def make_project(
    tmp_path: Path, template: Path, venv: Path | None = None, resolver: str = "pip-tools"
) -> Iterator[Project]:
    """A copy of the project ``template`` (see ``render_template``) with releases 3.7.1 and
    3.8.0 of the model, and spacy 3.7.5 and 3.8.2 on the index, run with RESOLVER=``resolver``.

    Its tools environment is the running one (``sys.prefix``), made by `make tools`.
    """
    marker = Path(sys.prefix) / ".installed"
    if not marker.is_file():
        raise RuntimeError(f"run this through `make selftest`: {marker} is missing")
    wheelhouse = sorted(WHEELHOUSE.glob("*.whl"))
    if not wheelhouse:
        raise RuntimeError(f"run this through `make selftest`: {WHEELHOUSE} has no wheels")
    copy = tmp_path / "project"
    shutil.copytree(template, copy, symlinks=True)
    (copy / "build").mkdir(exist_ok=True)
    if venv is not None:  # a copy of a fresh environment, made once (see conftest.py)
        shutil.copytree(venv, copy / ".venv", symlinks=True)
    # The tools environment is the running one, made from this very lock: as old as its marker,
    # so make does not install the tools again (into the environment the tests run in).
    tools_time = marker.stat().st_mtime - 1
    for name in ("requirements-tools.txt", ".python-version"):
        os.utime(copy / name, (tools_time, tools_time))
    (copy / "requirements.in").write_text("spacy>=3.7,<3.9\nen_core_web_sm>=3.7.0,<3.9.0\n")
    index_dir = tmp_path / "index-files"
    spacy = [make_wheel(index_dir, "spacy", v, code=SPACY_CODE) for v in ("3.7.5", "3.8.2")]
    mirror_log: list[tuple[str, str]] = []
    hooks: list[Callable[[], None]] = []
    with run_standin() as github, private_mirror(mirror_log, hooks) as mirror, run_osv() as osv:
        publish_model(github, tmp_path / "releases", "3.7.1", ">=3.7.2,<3.8.0")
        publish_model(github, tmp_path / "releases", "3.8.0", ">=3.8.0,<3.9.0")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(MINE)},
            "PIP_CONFIG_FILE": os.devnull,  # this machine's pip config must not change results
            "GITHUB_API_URL": github.api_url,
            "PIP_INDEX_URL": write_simple_index(tmp_path / "simple", [*spacy, *wheelhouse]),
            "TOOLS_VENV": sys.prefix,
            "PIP_NO_CACHE_DIR": "1",  # so every GET of a model file reaches the stand-in
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),  # uv's cache: this project's alone
            "RESOLVER": resolver,
            "OSV_URL": osv.url,  # `make audit` and the upgrade report ask the stand-in
        }
        yield Project(copy, github, env, [*spacy, *wheelhouse], mirror, mirror_log, hooks, osv=osv)
