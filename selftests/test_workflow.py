"""End-to-end: the real make (and just) targets, in a copy of the template, as a user runs them.

Each test copies the template into a temporary folder, points GITHUB_API_URL at the loopback
stand-in of GitHub (serving small model wheels built here) and PIP_INDEX_URL at a local PEP 503
index (a fake `spacy`, and squatting packages where a test wants them), then runs make with real
pip-tools and pip into a real virtual environment. The tools environment is the one running these
tests (TOOLS_VENV), so no test downloads anything from PyPI.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e import (
    MODEL,
    WHEEL_380,
    Project,
    commands_in,
    is_resolver,
    publish_model,
    run_watched,
    snapshot,
)
from packages import MODEL_CODE, make_marker_sdist, make_wheel, model_entry_point

pytestmark = pytest.mark.e2e


def requirement_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]


def without_release_urls(text: str) -> str:
    """A lock without its ``# release: URL`` lines (the public URLs of the release files)."""
    return "".join(line for line in text.splitlines(True) if not line.startswith("    # release:"))


def test_install_pins_hashes_and_imports_the_model(project: Project) -> None:
    result = project.run("install")

    assert project.python("import en_core_web_sm, spacy; print(en_core_web_sm.VERSION)") == "3.8.0"
    assert project.python("import spacy; print(spacy.VERSION)") == "3.8.2"
    text = project.read("requirements.txt")
    pins = requirement_lines(text)
    assert pins == [
        "--only-binary en-core-web-sm",
        "en-core-web-sm==3.8.0 \\",
        "spacy==3.8.2 \\",
    ], text
    for block in text.split("\n\n")[1].split("# via"):
        if "==" in block:
            assert "--hash=sha256:" in block
    assert "make requirements.txt" in text
    # The lock records where the release file lives (the release's public download URL, here
    # the stand-in's github.com), and nothing else of any source.
    release = f"    # release: {project.github.url}/explosion/spacy-models/releases/download/"
    assert f"{release}en_core_web_sm-3.8.0/{WHEEL_380}\n" in text
    for name in ("requirements.txt", "requirements-model.in"):
        written = without_release_urls(project.read(name))
        for leak in ("127.0.0.", "file:", "--find-links", "--index-url", "/tmp", "simple"):
            assert leak not in written, f"{leak} leaked into {name}"
    # One GET of the model wheel in all (compile reads and hashes the cached copy; sync too),
    # and the release's sdist is never fetched, let alone built.
    assert project.github.downloads(WHEEL_380) == 1
    assert project.github.downloads("en_core_web_sm-3.8.0.tar.gz") == 0
    assert not list(project.path.parent.glob("releases/RELEASE-SDIST-BUILT"))
    assert "Traceback" not in result.stderr
    project.run("verify")


def test_a_lock_made_by_either_backend_passes_the_others_checks(project: Project) -> None:
    """A team may mix backends: what one writes, the other finds up to date and installs (the
    header and the `# via` notes differ; the pins and hashes may not)."""
    project.run("install")
    mine = project.env["RESOLVER"]
    other = "uv" if mine == "pip-tools" else "pip-tools"
    lock = project.read("requirements.txt")

    project.run("verify", f"RESOLVER={other}")
    project.run("sync", f"RESOLVER={other}")

    assert project.read("requirements.txt") == lock  # verified and installed, not rewritten
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"


def test_second_install_does_nothing(project: Project) -> None:
    project.run("install")
    requests_before = len(project.github.requests)
    venv = project.path / ".venv/lib"
    installed = {p: p.stat().st_mtime_ns for p in venv.rglob("*.dist-info")}

    result = project.run("install")

    assert "Nothing to be done for 'install'" in result.stdout  # nothing compiled or synced
    assert len(project.github.requests) == requests_before
    assert {p: p.stat().st_mtime_ns for p in venv.rglob("*.dist-info")} == installed
    assert (
        subprocess.run(["make", "-q", "install"], cwd=project.path, env=project.env).returncode == 0
    )


def test_editing_requirements_in_fetches_no_model_again(project: Project) -> None:
    project.run("install")
    extra = make_wheel(project.path.parent / "more", "smalldep", "1.0")
    project.publish_index(extra)
    project.write("requirements.in", project.read("requirements.in") + "smalldep\n")
    dev_lock = project.read("requirements-dev.txt")

    result = project.run("install")

    assert "smalldep==1.0" in project.read("requirements.txt")
    assert project.github.downloads(WHEEL_380) == 1  # still the one GET of the first install
    # The test tools' lock shares no pin with what changed: it is not compiled again (the compile
    # of requirements.txt found that; with two jobs, make may still start `compile --dev` beside
    # the sync, which finds the same).
    assert "requirements-dev.txt is up to date with its inputs" in result.stdout
    assert "wrote requirements-dev.txt" not in result.stdout
    assert project.read("requirements-dev.txt") == dev_lock
    # One job at a time, make sees the lock marked up to date and starts no second compile.
    project.publish_index(make_wheel(project.path.parent / "more", "otherdep", "1.0"))
    project.write("requirements.in", project.read("requirements.in") + "otherdep\n")
    assert "compile --dev" not in project.run("install", "-j1").stdout
    # A package both locks pin: the test tools' lock is compiled again, and stays consistent.
    project.write("requirements.in", project.read("requirements.in") + "pluggy\n")
    result = project.run("install")
    assert "compile: wrote requirements-dev.txt" in result.stdout
    project.run("verify")


def test_tightening_spacy_moves_the_model_back(project: Project) -> None:
    project.run("install")
    project.write("requirements.in", "spacy>=3.7,<3.8\nen_core_web_sm>=3.7.0,<3.9.0\n")

    result = project.run("install")

    pins = requirement_lines(project.read("requirements.txt"))
    assert "en-core-web-sm==3.7.1 \\" in pins and "spacy==3.7.5 \\" in pins, result.stderr
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.7.1"
    project.run("verify")


def test_tightening_a_release_library_moves_the_release_model_built_on_it_back(
    project: Project,
) -> None:
    """acme_model and the library it is built on, corelib, are both release packages (of the
    same repository): model 3.8.0 needs corelib 3.8, model 3.7.0 corelib 3.7. Tightening
    corelib's range moves the model back, as it does when corelib is on an index; asking for the
    newer model moves the library on."""
    folder = project.path.parent / "releases"
    for version, needs in (("3.7.0", ">=3.7,<3.8"), ("3.8.0", ">=3.8,<3.9")):
        for wheel in (
            make_wheel(folder, "corelib", version),
            make_wheel(folder, "acme_model", version, [f"corelib{needs}"]),
        ):
            tag = wheel.name.split("-py3")[0]
            project.github.add_release(
                "explosion/spacy-models", tag, {wheel.name: wheel.read_bytes()}
            )
    project.write("requirements.in", "corelib>=3.7,<3.9\nacme_model>=3.7,<3.9\n")
    project.run("install")
    pins = requirement_lines(project.read("requirements.txt"))
    assert "acme-model==3.8.0 \\" in pins and "corelib==3.8.0 \\" in pins, pins
    project.write("requirements.in", "corelib>=3.7,<3.8\nacme_model>=3.7,<3.9\n")

    result = project.run("install", ok=False)

    assert result.returncode == 0, result.stderr
    pins = requirement_lines(project.read("requirements.txt"))
    assert "acme-model==3.7.0 \\" in pins and "corelib==3.7.0 \\" in pins, pins
    assert project.python("import acme_model; print(acme_model.VERSION)") == "3.7.0"
    project.run("verify")
    project.write("requirements.in", "corelib>=3.7,<3.9\nacme_model>=3.8,<3.9\n")
    project.run("install")  # the other way: the model moves on, the library pinned follows it
    later = requirement_lines(project.read("requirements.txt"))
    assert "acme-model==3.8.0 \\" in later and "corelib==3.8.0 \\" in later, later
    project.write("requirements.in", "corelib>=3.7,<3.8\nacme_model>=3.7,<3.9\n")
    (project.path / "requirements.txt").unlink()  # from nothing: the newest model would not fit
    project.run("install")
    assert requirement_lines(project.read("requirements.txt")) == pins


def test_impossible_ranges_say_which_packages_conflict(project: Project) -> None:
    project.run("install")
    before = project.read("requirements.txt")
    project.write("requirements.in", "spacy>=3.8,<3.9\nen_core_web_sm>=3.7.0,<3.8.0\n")

    result = project.run("install", ok=False)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "spacy" in result.stderr and "en-core-web-sm" in result.stderr, result.stderr
    assert "requirements.in" in result.stderr
    # The model built for the spaCy asked for, and the versions that exist; no `make upgrade`,
    # which could not help.
    assert "with spacy<3.9,>=3.8, ask for en-core-web-sm>=3.8.0,<3.9.0" in result.stderr
    assert "the releases offer en-core-web-sm 3.7.1, 3.8.0" in result.stderr
    assert "make upgrade" not in result.stderr
    assert project.read("requirements.txt") == before


def test_a_range_no_release_offers_lists_the_releases(project: Project) -> None:
    project.write("requirements.in", "spacy>=3.8,<3.9\nen_core_web_sm>=3.9,<4\n")

    result = project.run("install", ok=False)

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "requirements.in:2: no release of en-core-web-sm is in the range asked for" in (
        result.stderr
    )
    assert "the releases offer en-core-web-sm 3.7.1, 3.8.0" in result.stderr
    assert "make upgrade" not in result.stderr


def test_unknown_package_names_its_line_and_changes_nothing(project: Project) -> None:
    project.run("install")
    before_txt = project.read("requirements.txt")
    before_build = snapshot(project.path / "build")
    project.write("requirements.in", project.read("requirements.in") + "no_such_package>=1\n")

    result = project.run("install", ok=False)

    assert result.returncode != 0
    assert "requirements.in:3" in result.stderr and "no_such_package" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.read("requirements.txt") == before_txt
    assert snapshot(project.path / "build") == before_build


def test_upgrade_picks_up_a_new_release_and_reports_it(project: Project) -> None:
    project.run("install")
    publish_model(project.github, project.path.parent / "releases", "3.8.1", ">=3.8.0,<3.9.0")

    result = project.run("upgrade")

    assert "en-core-web-sm==3.8.1 \\" in requirement_lines(project.read("requirements.txt"))
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.1"
    report = (project.path / "build/upgrade-report.md").read_text()
    assert "3.8.0" in report and "3.8.1" in report
    assert "3.8.1" in result.stdout  # printed, too
    # The copy's own first test ran in .venv: two pins installed, and the model loads.
    assert "3 passed" in result.stdout
    page = f"{project.github.url}/explosion/spacy-models/releases/tag/en_core_web_sm-3.8.1"
    assert f"[en-core-web-sm]({page}) (release)" in report


def test_upgrade_fails_when_the_tests_fail(project: Project) -> None:
    project.run("install")
    project.write("tests/test_pipeline.py", "def test_pipeline():\n    assert False\n")

    result = project.run("upgrade", ok=False)

    # It failed in its last step, the tests, for that test alone: the rest of the upgrade ran.
    assert result.returncode == 2
    assert "FAILED tests/test_pipeline.py::test_pipeline - assert False" in result.stdout
    assert "= 1 failed, 3 passed in " in result.stdout
    make_said = r"\[Makefile:\d+: test\] Error 1\n.*\[Makefile:\d+: upgrade\] Error 2\n$"
    assert re.search(make_said, result.stderr), result.stderr
    assert "No package changed: every pin is as it was." in result.stdout
    assert "Traceback" not in result.stderr


def test_just_recipes_do_what_make_does(project: Project, tmp_path: Path) -> None:
    project.run("install", tool="just")
    by_just = project.read("requirements.txt")
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"
    (project.path / "requirements.txt").unlink()

    project.run("install")

    assert project.read("requirements.txt") == by_just
    listing = project.run("--list", tool="just").stdout
    for recipe in ("install", "links", "wheels", "upgrade", "verify", "test", "lint", "clean"):
        assert f"    {recipe}" in listing


def files_holding(folder: Path, *secrets: str, since: float = 0) -> list[str]:
    """The files under ``folder`` (changed at or after ``since``) holding any of ``secrets``."""
    found = []
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= since:
                data = path.read_bytes()
                found += [f"{path}: {s[:4]}..." for s in secrets if s.encode() in data]
        except OSError:
            continue
    return found


def test_hostile_pip_config_and_secrets_never_land_in_files_or_output(project: Project) -> None:
    secret, token = "s3cret-licence-key", "ghp_" + "T0ken" * 8
    project.github.token = token
    base = project.mirror.replace("http://", f"http://buyer:{secret}@")
    config = project.path.parent / "hostile-pip.conf"
    config.write_text(
        "[global]\n"
        f"find-links = {base}/private/wheels/\n"
        f"extra-index-url = {base}/private/simple/\n"
        "trusted-host = 127.0.0.1\n"
    )
    # Everywhere the run may write, each a folder of this test's own: home, caches (pip's
    # included: not switched off here), temporary files.
    places = {name: project.path.parent / name for name in ("home", "cache", "uv-cache", "tmp")}
    for folder in places.values():
        folder.mkdir(exist_ok=True)
    del project.env["PIP_NO_CACHE_DIR"]
    project.env.update(
        PIP_CONFIG_FILE=str(config),
        PIP_FIND_LINKS=f"{base}/env/wheels/",
        FIND_LINKS=f"{base}/make/wheels/",
        GITHUB_TOKEN=token,
        HOME=str(places["home"]),
        XDG_CACHE_HOME=str(places["cache"]),
        UV_CACHE_DIR=str(places["uv-cache"]),
        TMPDIR=str(places["tmp"]),
    )
    # The command lines of the project's processes, taken at each request to the mirror (while
    # the resolver or pip that asked waits), and every few milliseconds through each run.
    asking: list[list[str]] = []
    project.mirror_hooks.append(lambda: asking.extend(commands_in(project.path)))
    start = time.time() - 1

    install, during_install = run_watched(project, "install")
    verify, during_verify = run_watched(project, "verify")

    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"
    for output in (install, verify):
        assert secret not in output.stdout + output.stderr
        assert token not in output.stdout + output.stderr
    written = files_holding(project.path, secret, token)  # .venv and build/ included
    for folder in places.values():
        written += files_holding(folder, secret, token)
    written += files_holding(Path(sys.prefix), secret, token, since=start)  # the tools' venv
    assert not written, written
    commands = asking + during_install + during_verify
    # The compile and the installer (pip install, or uv pip sync) asked the mirror as it ran,
    # their temporary files in this test's TMPDIR, so every one of them was seen.
    assert any(is_resolver(c) for c in asking), asking
    assert any("pip" in c and ("install" in c or "sync" in c) for c in asking), asking
    assert any(str(places["tmp"]) in " ".join(c) for c in commands), commands
    leaks = [c for c in commands if secret in " ".join(c) or token in " ".join(c)]
    assert not leaks, leaks
    text = without_release_urls(project.read("requirements.txt"))
    for option in ("--find-links", "--extra-index-url", "--trusted-host", "--index-url", "127.0.0"):
        assert option not in text
    assert any(r.headers.get("authorization") == f"Bearer {token}" for r in project.github.requests)
    # Every hostile source was really read (with its credentials), so the test can fail.
    seen = {path.split("/")[1] for path, authorization in project.mirror_log if authorization}
    assert {"private", "env", "make"} <= seen, seen


# The supply-chain guard: release packages come from their releases, and nothing else runs.


def squat(project: Project, version: str) -> Path:
    """Put a squatting en-core-web-sm sdist on the index; return the marker its build writes."""
    marker = project.path.parent / f"SQUAT-{version}-BUILT"
    sdist = make_marker_sdist(project.path.parent / "squat", "en-core-web-sm", version, marker)
    project.publish_index(sdist)
    return marker


def test_squatting_sdist_on_an_index_is_never_built(project: Project) -> None:
    marker = squat(project, "999.9.9")
    project.write("requirements.in", "spacy>=3.7,<3.9\nen_core_web_sm\n")  # a bare name

    project.run("install")

    assert not marker.exists()
    text = project.read("requirements.txt")
    assert "en-core-web-sm==3.8.0 \\" in requirement_lines(text)
    release = project.path.parent / "releases" / WHEEL_380
    block = without_release_urls(text).split("en-core-web-sm==3.8.0 \\\n")[1].split("# via")[0]
    assert block.split() == [f"--hash=sha256:{hashlib.sha256(release.read_bytes()).hexdigest()}"]
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"


def test_plain_pip_compile_does_build_the_squatter(project: Project) -> None:
    """The control for the test above: without the guard the marker appears, so it can fail."""
    project.run("links")
    marker = squat(project, "999.9.9")
    project.write("requirements.in", "en_core_web_sm\n")

    subprocess.run(
        [
            sys.executable,
            "-m",
            "piptools",
            "compile",
            "--find-links",
            "build/model-links.html",
            "-o",
            "plain.txt",
            "requirements.in",
        ],
        cwd=project.path,
        env=project.env,
        capture_output=True,
        check=False,
    )

    assert marker.exists()


def test_squatting_wheel_of_a_release_version_gets_no_hash(project: Project) -> None:
    fake = make_wheel(project.path.parent / "squat", MODEL, "3.8.0", ["spacy>=3.8,<3.9"])
    project.publish_index(fake)

    project.run("install")

    text = project.read("requirements.txt")
    block = without_release_urls(text).split("en-core-web-sm==3.8.0 \\\n")[1].split("# via")[0]
    assert len(block.split()) == 1
    assert hashlib.sha256(fake.read_bytes()).hexdigest() not in text
    payload = "import en_core_web_sm, pathlib; print(pathlib.Path(en_core_web_sm.__file__)"
    assert project.python(payload + ".with_name('payload.bin').exists())") == "True"


def test_tampered_release_file_is_refused_by_sync_and_verify(project: Project) -> None:
    project.run("install")
    cached = project.path / "build/release-files" / WHEEL_380
    # One byte changed in the middle, the size and the times as they were: only a check of the
    # contents can tell (a size or time check cannot).
    before = cached.stat()
    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached.write_bytes(bytes(data))
    os.utime(cached, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = cached.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    project.python(
        "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', "
        "'uninstall', '-y', '-q', 'en_core_web_sm'], check=True)"
    )

    sync = project.run("sync", ok=False)
    verify = project.run("verify", ok=False)

    assert sync.returncode != 0 and "nothing was installed" in sync.stderr
    assert verify.returncode != 0
    assert WHEEL_380 in verify.stderr and "Traceback" not in verify.stderr
    advice = f"build/release-files/{WHEEL_380}: its sha256 is not the one recorded"
    assert advice in verify.stderr and "delete it and run `make sync`" in verify.stderr
    # The fix, as the message gives it, works:
    cached.unlink()
    project.run("sync")
    project.run("verify")
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda t: t.replace("en-core-web-sm==3.8.0", "en-core-web-sm==3.7.1"),
            "en-core-web-sm==3.7.1 carries hashes",
            id="hand-edited-version",
        ),
        pytest.param(
            lambda t: t.replace("spacy==3.8.2 \\\n", "spacy==3.8.2\n#"),
            "has no --hash",
            id="removed-hash",
        ),
        pytest.param(
            lambda t: "--extra-index-url https://pypi.example/simple\n" + t,
            "names a package source",
            id="source-option",
        ),
        pytest.param(
            lambda t: t.replace("spacy==3.8.2", "spacy>=3.8.2"),
            "not pinned",
            id="unpinned",
        ),
    ],
)
def test_verify_refuses_a_bad_requirements_txt(project: Project, edit, expected: str) -> None:
    project.run("install")
    project.write("requirements.txt", edit(project.read("requirements.txt")))

    result = project.run("verify", ok=False)

    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_verify_finds_a_lock_its_in_files_no_longer_compile_to(project: Project) -> None:
    """requirements.in changed and the lock was not made again (a commit that forgot it): CI's
    `make verify` says so, and the fix it gives works."""
    project.run("install")
    project.publish_index(make_wheel(project.path.parent / "more", "smalldep", "1.0"))
    project.write("requirements.in", project.read("requirements.in") + "smalldep\n")

    result = project.run("verify", ok=False)

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "error: requirements.txt is not what its .in files compile to now (edited by hand, or an "
        ".in file changed): run `make lock` and commit the result"
    ) in result.stderr, result.stderr
    assert "+smalldep==1.0" in result.stderr  # the difference, shown
    project.run("lock")  # as the message says
    project.run("verify")
    assert "smalldep==1.0 \\" in project.read("requirements.txt")


def test_verify_refuses_a_credential_in_an_in_file(project: Project) -> None:
    project.run("install")
    project.write(
        "requirements.in",
        project.read("requirements.in") + "# mirror: https://bob:hunter2@wheels.example/\n",
    )

    result = project.run("verify", ok=False)

    assert "requirements.in:3: holds a credential" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_a_version_the_releases_do_not_offer_neither_gets_in_nor_stops_the_compile(
    project: Project,
) -> None:
    project.run("install")
    fake = make_wheel(project.path.parent / "squat", MODEL, "3.7.9", ["spacy>=3.7.2,<3.8.0"])
    project.publish_index(fake)
    project.write("requirements.in", "spacy>=3.7,<3.8\nen_core_web_sm>=3.7.0,<3.8.0\n")

    project.run("install")

    text = project.read("requirements.txt")
    assert "en-core-web-sm==3.7.1 \\" in text  # the release, not the index's higher 3.7.9
    assert hashlib.sha256(fake.read_bytes()).hexdigest() not in text
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.7.1"
    project.run("verify")


def test_a_pin_the_releases_no_longer_offer_is_refused_and_the_fix_works(
    project: Project,
) -> None:
    """The team moves MODEL_REPOS to its own fork of the models, which offers only 3.7.1: the
    lock's en-core-web-sm 3.8.0 comes from no release now, and the fix the message gives works."""
    project.run("install")
    needs = ["spacy>=3.7.2,<3.8.0"]
    fork = make_wheel(
        project.path.parent / "fork",
        MODEL,
        "3.7.1",
        needs,
        code=MODEL_CODE,
        entry_points=model_entry_point(MODEL),
    )
    project.github.add_release("acme/models", f"{MODEL}-3.7.1", {fork.name: fork.read_bytes()})
    project.env["MODEL_REPOS"] = "acme/models"
    project.run("links")

    result = project.run("verify", ok=False)

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.search(
        r"requirements\.txt:\d+: en-core-web-sm==3\.8\.0 is not a version the releases offer "
        r"\(the releases offer en-core-web-sm 3\.7\.1\)",
        result.stderr,
    ), result.stderr
    assert "Pin a range the releases offer in requirements.in, then run `make lock`" in (
        result.stderr
    )
    project.write("requirements.in", "spacy>=3.7,<3.8\nen_core_web_sm>=3.7.0,<3.8.0\n")
    project.run("lock")
    project.run("install")
    project.run("verify")
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.7.1"


def test_make_links_lists_1500_releases_to_the_cap_then_reuses_them_with_304s(
    project: Project,
) -> None:
    project.github.add_synthetic("acme/models", 1500)
    project.env["MODEL_REPOS"] = "acme/models"
    page = project.path / "build/model-links.html"

    project.run("links")
    cold = len(project.github.api_requests("acme/models"))
    first = page.read_bytes()
    project.run("links")
    warm = project.github.api_requests("acme/models")[cold:]

    anchors = first.decode().count("<a href=")
    assert anchors == 1000  # the newest 1,000 (notes row 1), a wheel each; no checksum files
    assert first.decode().count("#sha256=") == 500  # every other release has a digest
    assert cold == 10 + 1 + 1  # ten pages, the 422 past the cap, the list of tags
    warm = [r for r in warm if r.query.get("page") != "11"]  # the 422 comes with no ETag
    assert len(warm) == 11 and all("if-none-match" in r.headers for r in warm)
    assert page.read_bytes() == first

    project.github.fail_with(401)
    project.env["GITHUB_TOKEN"] = "ghp_" + "x" * 36
    failed = project.run("links", ok=False)

    assert failed.returncode != 0
    assert "GITHUB_TOKEN" in failed.stderr and "Traceback" not in failed.stderr
    assert "ghp_" not in failed.stdout + failed.stderr
    assert page.read_bytes() == first


def test_clean_empties_build_but_keeps_tracked_files(project: Project) -> None:
    (project.path / "build/.gitkeep").write_text("")
    project.run("install")
    assert len(list((project.path / "build").iterdir())) > 1

    project.run("clean")

    assert [p.name for p in (project.path / "build").iterdir()] == [".gitkeep"]
    for tracked in ("requirements.txt", "requirements.in", "requirements-model.in", "Makefile"):
        assert (project.path / tracked).is_file()


def test_unknown_target_says_so(project: Project) -> None:
    result = project.run("instal", ok=False)

    assert result.returncode == 2
    assert "'instal' is neither a target" in result.stderr and "make help" in result.stderr


def test_raw_wheel_urls_are_downloaded_once_and_pinned_by_name(project: Project) -> None:
    wheel = make_wheel(project.path.parent / "private", "private_model", "1.2.0", ["spacy>=3.8"])
    project.github.add_release("acme/private", "v1.2.0", {wheel.name: wheel.read_bytes()})
    url = f"{project.github.url}/acme/private/releases/download/v1.2.0/{wheel.name}"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    project.write("requirements-model.in.raw", f"# ours\n{url}#sha256={digest}\n")

    project.run("install")

    assert project.python("import private_model; print(private_model.VERSION)") == "1.2.0"
    assert project.read("requirements-model.in").splitlines()[1:] == ["private-model==1.2.0"]
    text = project.read("requirements.txt")
    assert "private-model==1.2.0 \\" in requirement_lines(text)
    assert "127.0.0." not in without_release_urls(text)
    assert project.github.downloads(wheel.name) == 1
    project.run("install")
    assert project.github.downloads(wheel.name) == 1


def test_a_bad_raw_line_names_it_and_changes_nothing(project: Project) -> None:
    project.run("install")
    before_txt, before_build = project.read("requirements.txt"), snapshot(project.path / "build")
    before_in = project.read("requirements-model.in")
    project.write("requirements-model.in.raw", "# ours\nhttps://example.invalid/notes.txt\n")

    result = project.run("install", ok=False)

    assert "requirements-model.in.raw:2:" in result.stderr and "Traceback" not in result.stderr
    assert project.read("requirements-model.in") == before_in
    assert project.read("requirements.txt") == before_txt
    assert snapshot(project.path / "build") == before_build


def test_a_fresh_clone_compiles_nothing_and_fetches_the_model_once(project: Project) -> None:
    project.run("install")
    committed = project.read("requirements.txt")
    gets = project.github.downloads(WHEEL_380)
    # A teammate's fresh clone: the committed files, every one of them "new", and no build/.
    shutil.rmtree(project.path / "build")
    shutil.rmtree(project.path / ".venv")
    (project.path / "build").mkdir()
    for name in ("requirements.in", "requirements-model.in.raw", "requirements-model.in"):
        (project.path / name).touch()
    api_before = len(project.github.api_requests())

    result = project.run("install")

    assert "is up to date with its inputs" in result.stdout  # no pip-compile
    assert len(project.github.api_requests()) == api_before  # the lock says where files are
    assert project.read("requirements.txt") == committed
    assert project.github.downloads(WHEEL_380) == gets + 1  # once, into build/release-files
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"
    project.write("requirements.in", project.read("requirements.in") + "\n")  # a later edit
    project.run("install")
    assert project.github.downloads(WHEEL_380) == gets + 1


def test_the_deploy_lock_installs_with_plain_pip_and_nothing_else(project: Project) -> None:
    project.run("install")

    project.run("export")

    deploy = project.read("requirements-deploy.txt")
    url = f"{project.github.url}/explosion/spacy-models/releases/download/en_core_web_sm-3.8.0"
    assert f"en-core-web-sm @ {url}/{WHEEL_380} \\\n" in deploy
    assert "spacy==3.8.2 \\\n" in deploy and "--find-links" not in deploy
    # A Dockerfile's `pip install`: a fresh environment, no pip config, no links page, no token;
    # PIP_INDEX_URL stands for PyPI.
    venv = project.path.parent / "deployed"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "PIP_CONFIG_FILE": os.devnull,
        "HOME": str(venv),
        "PIP_INDEX_URL": project.env["PIP_INDEX_URL"],
        "PIP_NO_CACHE_DIR": "1",
    }
    api_before = len(project.github.api_requests())
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--require-hashes", "-r"]

    def install(lock: str) -> subprocess.CompletedProcess[str]:
        command = [*pip, str(project.path / lock)]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    plain = install("requirements.txt")
    assert "No matching distribution found for en-core-web-sm" in plain.stderr  # the control
    result = install("requirements-deploy.txt")
    assert result.returncode == 0, result.stderr
    check = "import en_core_web_sm, spacy; print(en_core_web_sm.VERSION, spacy.VERSION)"
    version = subprocess.run(
        [str(venv / "bin/python"), "-c", check], capture_output=True, text=True, check=True
    )
    assert version.stdout.split() == ["3.8.0", "3.8.2"]
    assert len(project.github.api_requests()) == api_before  # no API request


def test_make_j_in_a_fresh_clone_fetches_the_model_once_for_both_locks(project: Project) -> None:
    """`make -j2 install` in a fresh clone whose requirements-dev.in was edited: the install and
    `compile --dev` run together, both need the missing model; it is downloaded once and both
    locks come out right. (Here the fetches rarely meet: test_cache forces them to, to show
    the fetch lock's work.)"""
    project.run("install")
    gets = project.github.downloads(WHEEL_380)
    shutil.rmtree(project.path / "build")
    shutil.rmtree(project.path / ".venv")
    (project.path / "build").mkdir()
    project.publish_index(make_wheel(project.path.parent / "more", "smalldep", "1.0"))
    project.write("requirements-dev.in", project.read("requirements-dev.in") + "smalldep\n")

    result = project.run("-j2", "install")

    assert "compile: wrote requirements-dev.txt" in result.stdout
    assert "smalldep==1.0" in project.read("requirements-dev.txt")
    assert project.github.downloads(WHEEL_380) == gets + 1
    assert project.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.0"
    project.run("verify")
