"""Count requests to GitHub's API and downloads of the model wheel, per flow (not a test).

Prints figures; asserts nothing. Run it from the template's root with the tools environment
(after `make selftest` made build/selftest-wheels):

    .tools/bin/python benchmarks/bench_requests.py

The same world as the end-to-end tests (selftests/e2e.py: the loopback stand-in of GitHub, here
with the 1,100 real spacy-models releases, and a local package index), and four flows: a first
install, a teammate's fresh clone (the lock committed), a CI run (a fresh clone whose
build/release-files a cache restored) and a monthly upgrade; once with MODEL_REPOS listed
through the API, once with MODEL_INDEX_URL pointing at a site `make index` published.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "selftests"), str(ROOT / "scripts")]

from e2e import Project, make_project, render_template  # noqa: E402
from packages import MODEL_CODE, make_wheel  # noqa: E402

REPO = "acme/spacy-models"
WHEEL = "en_core_web_sm-3.8.0-py3-none-any.whl"


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def measure(project: Project, label: str, flows: list[tuple[str, int, int]], *args: str) -> None:
    """Run ``make ARGS`` and record its API requests and wheel downloads under ``label``."""
    api, gets = len(project.github.api_requests()), project.github.downloads(WHEEL)
    project.run(*args)
    flows.append(
        (label, len(project.github.api_requests()) - api, project.github.downloads(WHEEL) - gets)
    )


def run(tmp: Path, index_url: str | None) -> list[tuple[str, int, int]]:
    flows: list[tuple[str, int, int]] = []
    with make_project(tmp, render_template(tmp / "rendered")) as project:
        project.github.load_spacy_models(REPO)  # the 1,100 real releases, behind the cap
        project.env["MODEL_REPOS"] = REPO
        if index_url is not None:
            project.env.update(INDEX_PACKAGES="en_core_web_sm")
            project.run("index")
            site = tmp / "site/models"
            shutil.copytree(project.path / "build/index", site)
            shutil.rmtree(project.path / "build")
            server = ThreadingHTTPServer(
                ("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp / "site"))
            )
            threading.Thread(target=server.serve_forever, daemon=True).start()
            project.env["MODEL_INDEX_URL"] = f"http://127.0.0.1:{server.server_address[1]}/models"
        measure(project, "first install", flows, "install")
        git(project.path, "init", "-q")
        git(project.path, "add", "-A")
        git(project.path, "commit", "-q", "-m", "lock")
        clone = tmp / "clone"
        git(tmp, "clone", "-q", str(project.path), str(clone))
        teammate = Project(clone, project.github, project.env, project.index_files)
        measure(teammate, "teammate's fresh clone: make install", flows, "install")
        ci = tmp / "ci"
        git(tmp, "clone", "-q", str(project.path), str(ci))
        shutil.copytree(project.path / "build/release-files", ci / "build/release-files")
        runner = Project(ci, project.github, project.env, project.index_files)
        measure(runner, "CI run (cached release files): install, verify", flows, "install")
        measure(runner, "", flows, "verify")
        new = make_wheel(
            tmp / "new", "en_core_web_sm", "3.8.1", ["spacy>=3.8.0,<3.9.0"], code=MODEL_CODE
        )
        project.github.add_release(REPO, "en_core_web_sm-3.8.1", {new.name: new.read_bytes()})
        measure(project, "monthly upgrade (one new model release)", flows, "upgrade")
    return flows


def main() -> int:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        api, index = run(Path(a), None), run(Path(b), "published")
    print(f"API requests and GETs of {WHEEL}, 1,100 releases behind GitHub's listing cap")
    print(f"  {'flow':<48} {'API, via API':>13} {'GETs':>5} {'API, via index':>15} {'GETs':>5}")
    for (label, requests, gets), (_, requests2, gets2) in zip(api, index, strict=True):
        print(f"  {label or '  + verify':<48} {requests:>13} {gets:>5} {requests2:>15} {gets2:>5}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
