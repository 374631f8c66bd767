"""`make index` publishes the release files once for everyone; a project with MODEL_INDEX_URL
installs from such a site, served by a plain static file server, with no releases-API request.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from e2e import MODEL, Project, serving
from packages import make_marker_sdist, make_wheel

pytestmark = pytest.mark.e2e
REPO = "acme/spacy-models"


@contextmanager
def static_site(root: Path) -> Iterator[str]:
    """Serve ``root`` as a plain static site (as GitHub Pages would), on loopback."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    with serving(server) as port:
        yield f"http://127.0.0.1:{port}/models"


def publish(project: Project) -> Path:
    """`make index` of en_core_web_sm from the 1,100 real releases; the site's folder."""
    project.github.load_spacy_models(REPO)
    project.env.update(MODEL_REPOS=REPO, INDEX_PACKAGES="en_core_web_sm")
    project.run("index")
    return project.path / "build/index"


def test_publish_hashes_each_file_once_and_a_republish_fetches_only_new_releases(
    project: Project,
) -> None:
    site = publish(project)

    files = json.loads((site / "index.json").read_text())["files"]
    assert files and {f["project"] for f in files} == {"en-core-web-sm"}
    page = (site / "simple/en-core-web-sm/index.html").read_text()
    assert page.count("<a href=") == len(files) and page.count("#sha256=") == len(files)
    assert (site / "index.html").read_text().count("#sha256=") == len(files)
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    downloads = len([r for r in project.github.requests if r.host == "storage"])
    assert downloads == len(files)  # each file once, to hash it and read its Requires-Python

    project.run("index")  # again: nothing new, nothing downloaded, the same bytes
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == first
    wheel = make_wheel(project.path.parent / "new", MODEL, "3.9.0", requires_python=">=3.10")
    project.github.add_release(REPO, "en_core_web_sm-3.9.0", {wheel.name: wheel.read_bytes()})
    published = project.path.parent / "published/models"
    published.mkdir(parents=True)
    (published / "index.json").write_bytes(first[Path("index.json")])
    shutil.rmtree(site)  # a fresh runner: the hashes come back from the published index.json
    with static_site(project.path.parent / "published") as url:
        project.env["MODEL_INDEX_URL"] = url
        result = project.run("index")

    assert "1 downloaded to hash" in result.stdout
    anchor = f'data-requires-python="&gt;=3.10">{wheel.name}</a>'
    assert anchor in (site / "simple/en-core-web-sm/index.html").read_text()


def test_a_project_with_the_published_index_asks_the_api_nothing(project: Project) -> None:
    site = publish(project)
    served = project.path.parent / "served/models"
    shutil.copytree(site, served)
    release = json.loads((site / "index.json").read_text())["files"]
    shutil.rmtree(project.path / "build")  # a new project, with nothing listed yet
    marker = project.path.parent / "SQUAT-BUILT"
    project.publish_index(make_marker_sdist(project.path.parent / "sq", MODEL, "999.0", marker))
    project.write("requirements.in", "spacy>=3.8,<3.9\nen_core_web_sm>=3.8.0,<3.9.0\n")
    api_before = len(project.github.api_requests())

    with static_site(project.path.parent / "served") as url:
        project.env["MODEL_INDEX_URL"] = url
        result = project.run("install")
        project.run("verify")
        project.run("upgrade")

    assert "listed by the published index (MODEL_INDEX_URL is set" in result.stdout
    assert len(project.github.api_requests()) == api_before  # not one API request
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"
    wheel = next(f for f in release if f["filename"] == "en_core_web_sm-3.8.0-py3-none-any.whl")
    assert f"--hash=sha256:{wheel['sha256']}" in project.read("requirements.txt")
    assert not marker.exists()  # a squatter on the package index is still never built
