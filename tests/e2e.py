"""A copy of the template wired to loopback stand-ins, for the end-to-end tests and benchmarks.

``make_project`` copies the template into a temporary folder, starts the stand-in of GitHub
(tests/standin.py) with two releases of a small ``en_core_web_sm`` and writes a local PEP 503
index with a fake ``spacy``; ``Project.run`` runs the real make (or just) targets there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packages import make_marker_sdist, make_wheel, write_simple_index
from standin import GitHubStandIn, run_standin

ROOT = Path(__file__).resolve().parent.parent
MODEL = "en_core_web_sm"
WHEEL_380 = "en_core_web_sm-3.8.0-py3-none-any.whl"
WHEEL_371 = "en_core_web_sm-3.7.1-py3-none-any.whl"
TEMPLATE_FILES = [
    "Makefile",
    "justfile",
    "requirements-tools.in",
    "requirements-tools.txt",
    "requirements-model.in.raw",
    "requirements-model.in",
    "pyproject.toml",
    "scripts",
    "tools",  # with node_modules when `make test` installed it, so no npm run here
]


@dataclass
class Project:
    """A copy of the template with its own build/, run against the stand-ins."""

    path: Path
    github: GitHubStandIn
    env: dict[str, str]
    index_dir: Path
    log: list[str] = field(default_factory=list)

    def run(self, *args: str, ok: bool = True, tool: str = "make") -> subprocess.CompletedProcess:
        """Run ``make ARGS`` (or ``just ARGS``); with ``ok`` assert it succeeded."""
        command = [tool, "--no-print-directory", *args] if tool == "make" else [tool, *args]
        if tool == "just":
            command[0] = str(Path(sys.prefix) / "bin" / "just")
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
        """Put ``files`` (and the fake spacy wheels) on the local package index."""
        write_simple_index(self.path.parent / "simple", [*self.index_dir.iterdir(), *files])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show that a failed command changed nothing."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def publish_model(github: GitHubStandIn, folder: Path, version: str, spacy_range: str) -> None:
    """Publish en_core_web_sm VERSION as a release: a wheel, an sdist that must never be built,
    and a checksum file. Like spaCy's real assets, they have no API digest."""
    wheel = make_wheel(folder, MODEL, version, [f"spacy{spacy_range}"], payload=b"x" * 4096)
    sdist = make_marker_sdist(folder, MODEL, version, folder / "RELEASE-SDIST-BUILT")
    files = {
        wheel.name: wheel.read_bytes(),
        sdist.name: sdist.read_bytes(),
        f"{MODEL}-{version}.sha256": b"not a package\n",
    }
    github.add_release("explosion/spacy-models", f"{MODEL}-{version}", files, digest=False)


@contextmanager
def make_project(tmp_path: Path) -> Iterator[Project]:
    """A template copy with releases 3.7.1 and 3.8.0 of the model and spacy 3.7.5 and 3.8.2.

    Its tools environment is the running one (``sys.prefix``), made by `make tools`.
    """
    marker = Path(sys.prefix) / ".installed"
    if not marker.is_file():
        raise RuntimeError(f"run this through `make test`: {marker} (the tools marker) is missing")
    copy = tmp_path / "project"
    copy.mkdir()
    for name in TEMPLATE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    (copy / "build").mkdir()
    (copy / "tests").mkdir()
    (copy / "tests/test_pipeline.py").write_text(
        "def test_pipeline():\n    assert 1 + 1 == 2\n"  # the user's own tests, run by upgrade
    )
    (copy / "requirements.in").write_text("spacy>=3.7,<3.9\nen_core_web_sm>=3.7.0,<3.9.0\n")
    index_dir = tmp_path / "index-files"
    make_wheel(index_dir, "spacy", "3.7.5")
    make_wheel(index_dir, "spacy", "3.8.2")
    with run_standin() as github:
        publish_model(github, tmp_path / "releases", "3.7.1", ">=3.7.2,<3.8.0")
        publish_model(github, tmp_path / "releases", "3.8.0", ">=3.8.0,<3.9.0")
        mine = ("PIP_", "GITHUB_", "MAKE", "FIND_LINKS", "MODEL_REPOS", "PRE", "PACKAGES")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(mine)},
            "PIP_CONFIG_FILE": os.devnull,  # this machine's pip config must not change results
            "GITHUB_API_URL": github.api_url,
            "PIP_INDEX_URL": write_simple_index(tmp_path / "simple", list(index_dir.iterdir())),
            "TOOLS_VENV": sys.prefix,
            "PIP_NO_CACHE_DIR": "1",  # so every GET of a model file reaches the stand-in
        }
        yield Project(copy, github, env, index_dir)
