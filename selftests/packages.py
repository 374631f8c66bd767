"""Build tiny, valid distributions for the tests: wheels, and sdists that leave a marker when built.

Nothing here touches the network. Each wheel holds one module that sets ``VERSION``, so a test
can import it and see which file pip installed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import textwrap
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    requires: tuple[str, ...] | list[str] = (),
    payload: bytes = b"",
    code: str = "",
    requires_python: str = "",
    tag: str = "py3-none-any",
    entry_points: dict[str, dict[str, str]] | None = None,
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` into ``directory`` and return its path.

    ``payload`` adds a data file, to make a wheel bigger or to change its hash; ``code`` is
    added to the module after its ``VERSION``; a ``tag`` other than py3-none-any makes a
    platform's wheel (``cp311-cp311-win_amd64``), its module unchanged; ``entry_points``
    ({group: {name: object}}) go in its entry_points.txt (see ``model_entry_point``).
    """
    module = name.replace("-", "_").lower()
    dist_info = f"{module}-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {req}" for req in requires),
        *([f"Requires-Python: {requires_python}"] if requires_python else []),
    ]
    # The .dist-info last, as wheel builders write it (PEP 427's recommended archiver features).
    files = {f"{module}/__init__.py": f'VERSION = "{version}"\n{code}'.encode()}
    if payload:
        files[f"{module}/payload.bin"] = payload
    files[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: tests\n"
        f"Root-Is-Purelib: {'true' if tag == 'py3-none-any' else 'false'}\nTag: {tag}\n"
    ).encode()
    if entry_points:
        groups = (
            f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in names.items())
            for group, names in entry_points.items()
        )
        files[f"{dist_info}/entry_points.txt"] = "\n".join(groups).encode()
    record = [_record_line(path, data) for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{module}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name_in_zip, data in files.items():
            info = zipfile.ZipInfo(name_in_zip, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, data)
    return path


# A stand-in for spaCy on the tests' index: spacy.load(name) calls the model package's load(),
# which returns a pipeline that splits a text into words. Enough for a copy's own first test
# (tests/test_environment.py), which loads each installed model and processes a sentence.
SPACY_CODE = """
import importlib


def load(name):
    return importlib.import_module(name).load()
"""
MODEL_CODE = """

def load():
    return str.split
"""


def model_entry_point(name: str) -> dict[str, dict[str, str]]:
    """The entry point a spaCy model's wheel declares itself with, as every package `spacy
    package` builds does (the wheels on explosion/spacy-models: ``[spacy_models]
    en_core_web_sm = en_core_web_sm`` in entry_points.txt); a copy's own test finds its models by
    it. A spaCy plugin (scispacy, spacy-llm) requires spacy too, but declares no model."""
    module = name.replace("-", "_").lower()
    return {"spacy_models": {module: module}}


def make_marker_sdist(directory: Path, name: str, version: str, marker: Path) -> Path:
    """Write an sdist whose build backend creates ``marker`` as soon as pip asks it anything.

    It needs no download to build (an in-tree backend, no build requirements), so if a resolver
    ever prepares it, the marker appears: a test that asserts the marker is absent can fail.
    """
    module = name.replace("-", "_").lower()
    root = f"{module}-{version}"
    backend = textwrap.dedent(
        f"""
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("built {name} {version}")

        def get_requires_for_build_wheel(config_settings=None):
            return []

        def prepare_metadata_for_build_wheel(directory, config_settings=None):
            raise RuntimeError("squatting package: this code should never run")

        def build_wheel(directory, config_settings=None, metadata_directory=None):
            raise RuntimeError("squatting package: this code should never run")
        """
    ).encode()
    files = {
        f"{root}/pyproject.toml": (
            b"[build-system]\nrequires = []\n"
            b'build-backend = "squat_backend"\nbackend-path = ["."]\n'
        ),
        f"{root}/squat_backend.py": backend,
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    }
    return _write_sdist(directory / f"{module}-{version}.tar.gz", files)


def write_simple_index(root: Path, files: list[Path]) -> str:
    """Write a PEP 503 index of ``files`` under ``root`` and return its ``file://`` URL."""
    by_project: dict[str, list[Path]] = {}
    for path in files:
        project = canonicalize_name(path.name.split("-")[0])
        by_project.setdefault(project, []).append(path)
    for project, paths in by_project.items():
        page = root / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        links = "".join(f'<a href="{p.resolve().as_uri()}">{p.name}</a>\n' for p in paths)
        page.write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    return root.resolve().as_uri() + "/"


def make_recording_sdist(directory: Path, name: str, version: str, record: Path) -> Path:
    """Write an sdist that builds for real and, each time pip builds it, writes the names of the
    environment variables it was built with to ``record`` (one a line): to prove what a build,
    run by pip-compile or pip-sync, can see."""
    module = name.replace("-", "_").lower()
    root = f"{module}-{version}"
    backend = textwrap.dedent(
        f"""
        import base64, hashlib, os, pathlib, zipfile

        def _record():
            pathlib.Path({str(record)!r}).write_text("\\n".join(sorted(os.environ)) + "\\n")

        def get_requires_for_build_wheel(config_settings=None):
            return []

        def build_wheel(directory, config_settings=None, metadata_directory=None):
            _record()
            dist = "{module}-{version}.dist-info"
            files = {{
                "{module}/__init__.py": b"VERSION = '{version}'\\n",
                dist + "/METADATA": b"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
                dist + "/WHEEL": (
                    b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
                ),
            }}
            lines = []
            for path, data in files.items():
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                lines.append(f"{{path}},sha256={{digest.decode()}},{{len(data)}}")
            files[dist + "/RECORD"] = ("\\n".join(lines + [dist + "/RECORD,,"]) + "\\n").encode()
            wheel = "{module}-{version}-py3-none-any.whl"
            with zipfile.ZipFile(os.path.join(directory, wheel), "w") as archive:
                for path, data in files.items():
                    archive.writestr(path, data)
            return wheel
        """
    ).encode()
    files = {
        f"{root}/pyproject.toml": (
            b"[build-system]\nrequires = []\n"
            b'build-backend = "record_backend"\nbackend-path = ["."]\n'
        ),
        f"{root}/record_backend.py": backend,
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    }
    return _write_sdist(directory / f"{module}-{version}.tar.gz", files)


def _write_sdist(path: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` as the .tar.gz at ``path`` (fixed times, so the bytes repeat)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name_in_tar, data in files.items():
            info = tarfile.TarInfo(name_in_tar)
            info.size = len(data)
            info.mtime = 1577836800
            archive.addfile(info, io.BytesIO(data))
    return path
