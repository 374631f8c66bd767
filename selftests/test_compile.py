"""scripts/lock.py's (and backend.py's) reading of pip and pip-tools, against their real
output saved in selftests/data (made by pip 26.3, pip-tools 7.6 and uv 0.13.9 in the e2e world): an
upgrade of either that changes what they print fails here, in a second, not in an end-to-end run.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from scripts import backend, checks, choose, cooldown, explain, lock, requirements
from scripts.assets import Asset, Index
from scripts.cache import ReleaseFiles
from scripts.settings import CONSTRAINTS, RELEASE_INPUT, RESOLVER_PAGE, SOURCES, Settings

DATA = Path(__file__).resolve().parent / "data"
SM = "en-core-web-sm"


def release(version: str) -> Asset:
    name = f"en_core_web_sm-{version}-py3-none-any.whl"
    return Asset(
        SM,
        version,
        name,
        f"https://example.org/{name}",
        None,
        "explosion/spacy-models",
        f"en_core_web_sm-{version}",
        False,
    )


INDEX = {SM: {Version(v): [release(v)] for v in ("3.7.1", "3.8.0")}}


def test_a_resolution_impossible_is_read_as_its_requirements() -> None:
    stderr = (DATA / "pip-compile-resolution-impossible.txt").read_text()

    found = explain.conflicts(stderr)

    assert found == [
        ("spacy", "<3.9,>=3.8", None),
        ("spacy", "<3.8.0,>=3.7.2", "en_core_web_sm-3.7.1-py3-none-any.whl"),
    ]
    assert explain.conflict_names(found) == {"spacy", SM}


def test_a_resolution_impossible_becomes_one_message_with_the_model_range() -> None:
    stderr = (DATA / "pip-compile-resolution-impossible.txt").read_text()

    failure = explain.explain(stderr, INDEX, SOURCES)

    message = str(failure)
    assert message.startswith("no versions satisfy requirements.in together: ")
    assert "en_core_web_sm-3.7.1-py3-none-any.whl requires spacy<3.8.0,>=3.7.2" in message
    assert f"with spacy<3.9,>=3.8, ask for {SM}>=3.8.0,<3.9.0" in message
    assert "Traceback" not in message and failure.conflict == {"spacy", SM}


def test_uvs_account_of_a_conflict_becomes_the_same_message() -> None:
    """uv 0.13 words a failed resolution its own way ("Because ... we can conclude ..."): read,
    it gives the message pip's gives, with the model range built for the spaCy asked for."""
    output = (DATA / "uv-resolution-impossible.txt").read_text()

    failure = explain.explain(output, INDEX, SOURCES)

    message = str(failure)
    assert message.startswith("no versions satisfy requirements.in together: Because only")
    assert f"with spacy<3.9,>=3.8, ask for {SM}>=3.8.0,<3.9.0" in message
    assert ".." not in message and failure.conflict == {"spacy", SM}


def test_uvs_unknown_package_names_its_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.in").write_text("spacy>=3.8,<3.9\nno_such_package>=1\n")

    failure = explain.explain((DATA / "uv-no-version.txt").read_text(), INDEX, SOURCES)

    assert str(failure).startswith("requirements.in:2: no source offers no_such_package in the")
    assert failure.missing == "no-such-package"


def test_a_direct_reference_is_written_back_as_a_pin_with_the_release_hashes() -> None:
    compiled = (DATA / "pip-compile-direct-reference.txt").read_text()
    compiled = compiled.replace("-r rel.in", f"-r {RELEASE_INPUT}")

    text = requirements.unreference(compiled, {SM: "3.7.1"})
    text = requirements.set_hashes(text, {SM: {"1" * 64}})

    assert "file:" not in text and str(RELEASE_INPUT) not in text
    assert f"{SM}==3.7.1 \\\n    --hash=sha256:{'1' * 64}\n    # via -r requirements.in\n" in text
    assert "spacy==3.7.5 \\\n" in text and "    #   en-core-web-sm\n" in text  # untouched


def test_the_compiles_own_inputs_are_no_reason_in_the_lock() -> None:
    made = f"    #   -c {CONSTRAINTS}\n    #   -r {RELEASE_INPUT}\n"
    compiled = (
        f"{SM} @ file:///b/release-files/x.whl\n    # via\n{made}    #   -r requirements.in\n"
        f"corelib @ file:///b/release-files/y.whl\n    # via\n{made}spacy==3.8.2\n"
    )

    text = requirements.unreference(compiled, {SM: "3.8.0", "corelib": "3.8.0"})

    assert text == f"{SM}==3.8.0\n    # via -r requirements.in\ncorelib==3.8.0\nspacy==3.8.2\n"


def test_a_download_that_failed_is_one_line_without_the_traceback() -> None:
    """pip-compile prints a traceback when a download fails (an index answering 500): its
    message is the exception's, without a frame, a code line or a module path; uv's is its
    error and causes."""
    pip = (DATA / "pip-compile-download-500.txt").read_text()
    uv = (DATA / "uv-download-500.txt").read_text()

    messages = [str(explain.explain(output, INDEX, SOURCES)) for output in (pip, uv)]

    assert messages[0] == (
        "the compile failed: HTTPConnectionPool(host='127.0.0.5', port=8000): Max retries "
        "exceeded with url: /files/helpful-1.0-py3-none-any.whl (Caused by "
        "ResponseError('too many 500 error responses'))"
    )
    assert messages[1].startswith("the compile failed: Request failed after 3 retries in ")
    cause = "HTTP status server error (500 Internal Server Error) for url (http://127.0.0.5:8000"
    assert messages[1].endswith(f"| cause: {cause}/files/helpful-1.0-py3-none-any.whl)")
    for message in messages:
        assert "\n" not in message and 'File "' not in message and "_vendor" not in message
    assert backend.explain_sync(pip) == "pip-sync failed: " + messages[0].split(": ", 1)[1]


def library_and_model() -> Index:
    """corelib 3.7.0 and 3.8.0, and acme-model 3.7.0 (needs corelib 3.7) and 3.8.0 (3.8)."""

    def asset(name: str, version: str) -> Asset:
        filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        url = f"https://example.org/{filename}"
        return Asset(name, version, filename, url, None, "explosion/spacy-models", filename, False)

    versions = ("3.7.0", "3.8.0")
    return {
        name: {Version(v): [asset(name, v)] for v in versions} for name in ("corelib", "acme-model")
    }


def needs(chosen: dict[str, Asset]) -> dict[str, list[Requirement]]:
    """What each chosen acme-model needs: the corelib of its minor version."""
    minor = {name: asset.version.rsplit(".", 1)[0] for name, asset in chosen.items()}
    return {"acme-model": [Requirement(f"corelib=={minor['acme-model']}.*")], "corelib": []}


@pytest.mark.parametrize(
    ("ranges", "kept", "expected"),
    [
        ({"corelib": "<3.8"}, {"acme-model": "3.8.0", "corelib": "3.8.0"}, "3.7.0"),  # tightened
        ({"acme-model": ">=3.8"}, {"acme-model": "3.7.0", "corelib": "3.7.0"}, "3.8.0"),
        ({}, {"acme-model": "3.8.0", "corelib": "3.7.0"}, "3.8.0"),  # the library follows
    ],
)
def test_a_release_that_needs_another_release_is_matched_to_it(
    ranges: dict[str, str], kept: dict[str, str], expected: str
) -> None:
    index = library_and_model()
    specs = {name: SpecifierSet(spec) for name, spec in ranges.items()}
    plan = choose.Plan(names=frozenset(index), specs=specs, keep=kept)
    chosen = choose.releases(plan, index)
    moves = 0
    while following := choose.matched(plan, needs(chosen), chosen, index):
        plan = following
        chosen = choose.releases(plan, index)
        moves += 1

    assert moves == 1
    assert {name: asset.version for name, asset in chosen.items()} == dict.fromkeys(index, expected)


def test_a_release_that_no_release_fits_is_left_to_the_compile_to_explain() -> None:
    index = library_and_model()
    specs = {"corelib": SpecifierSet("<3.8"), "acme-model": SpecifierSet(">=3.8")}
    plan = choose.Plan(names=frozenset(index), specs=specs)
    chosen = choose.releases(plan, index)

    assert choose.matched(plan, needs(chosen), chosen, index) is None


def test_a_report_names_where_pip_found_the_file() -> None:
    report = (DATA / "pip-install-report.json").read_text()

    assert backend.report_url(report) == "file:///tmp/index-files/spacy-3.8.2-py3-none-any.whl"
    unknown = "a package index or find-links location, not the releases"
    assert backend.report_url("not json") == unknown


def test_a_sealed_lock_shows_any_change(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    text = (
        "# header\n# inputs (requirements.in) sha256: 00\n\nspacy==3.8.2 \\\n    --hash=sha256:22\n"
    )

    path.write_text(requirements.seal(text))
    assert checks.seal_problems(path) == []
    assert requirements.seal(path.read_text()) == path.read_text()  # sealing twice changes nothing
    path.write_text(path.read_text().replace("3.8.2", "3.8.3"))
    assert "was changed since make wrote it" in checks.seal_problems(path)[0]


def test_the_python_a_lock_is_compiled_with_is_one_of_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changing .python-version remakes the tools with that Python, whose locks then differ."""
    monkeypatch.chdir(tmp_path)
    Path("requirements.in").write_text("spacy>=3.8,<3.9\n")
    now = requirements.inputs_digest(SOURCES, pre=False)
    other = collections.namedtuple("version_info", "major minor micro")(3, 99, 0)
    monkeypatch.setattr(sys, "version_info", other)

    assert requirements.inputs_digest(SOURCES, pre=False) != now


@pytest.mark.parametrize("resolver", ["pip-tools", "uv"])
def test_no_credential_is_on_the_compile_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resolver: str
) -> None:
    """`ps` shows a process's arguments to every user of the machine: find-links (which may hold
    a licence key) go to pip-compile or uv through its environment, and the GitHub token not at
    all."""
    monkeypatch.chdir(tmp_path)
    Path("requirements.in").write_text("spacy\n")
    monkeypatch.setenv("FIND_LINKS", "https://buyer:s3cret@wheels.example/simple/")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "t" * 36)
    monkeypatch.setenv("RESOLVER", resolver)
    seen = {}

    def run(command, env, **_):  # the compile (and `pip config list`), as the lock starts them
        seen.update(command=command, env=env)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(backend.subprocess, "run", run)
    settings = Settings.from_environ(os.environ)
    command = backend.compile_command(settings, tmp_path / "out.txt", SOURCES, only_binary=[SM])
    assert backend.run_compile(command, settings, tmp_path / "page.html", "make x") == ""

    assert seen["command"] == command and not any("s3cret" in arg for arg in command)
    links = seen["env"]["UV_FIND_LINKS" if resolver == "uv" else "PIP_FIND_LINKS"]
    assert "s3cret" in links
    assert not any(name.startswith("GITHUB_TOKEN") for name in seen["env"])


@pytest.mark.parametrize("dev", [False, True])
def test_an_upgrade_of_named_packages_re_pins_only_those_in_either_lock(
    dev: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the compile's inputs go to build/ there
    (tmp_path / "build").mkdir()
    commands: list[list[str]] = []

    def run_compile(command: list[str], *_: object) -> str:
        commands.append(command)
        return ""

    monkeypatch.setattr(backend, "run_compile", run_compile)
    environ = {"PACKAGES": "pytest", "RESOLVER": "uv", "PLATFORMS": "", "COOLDOWN": "0"}
    target = lock.Target(Settings.from_environ(environ), dev, upgrade=True)
    scratch = tmp_path / "scratch.txt"
    scratch.write_text("")
    files = ReleaseFiles(target.settings, [])
    cool = cooldown.start(target.settings, target.lock, True, RESOLVER_PAGE)
    if dev:
        lock.resolve_dev(target, scratch, {}, files, cool)
    else:
        lock.resolve_rounds(target, scratch, {}, files, cool, {})

    assert commands and "--upgrade" not in commands[0]
    assert commands[0][commands[0].index("--upgrade-package") + 1] == "pytest"
