"""A copy's whole life, as its users live it: copier or a plain copy, the first install, the
project's own tests, a monthly upgrade, a teammate's `git clone`, and `copier update`.

Like test_workflow.py, every step runs the real make (and just, git, copier) commands against
the loopback stand-in of GitHub and a local package index, with real pip and pip-tools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e import (
    GIT_ENV,
    TOOLS,
    WHEEL_380,
    Project,
    copier_update,
    copy_template,
    make_project,
    publish_model,
    render_template,
)
from packages import make_wheel, model_entry_point

pytestmark = pytest.mark.e2e
WHEEL_381 = "en_core_web_sm-3.8.1-py3-none-any.whl"


@pytest.fixture
def project(project: Project) -> Project:
    """conftest's project, with git's identity for the commits a user makes."""
    project.env.update(GIT_ENV)
    return project


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_copy_lives_its_whole_life(project: Project, tmp_path: Path, template_copy: Path) -> None:
    # The first day, with the template's own requirements.in: install, verify, and the copy's
    # own first test.
    shutil.copy2(template_copy / "requirements.in", project.path / "requirements.in")
    project.run("install")
    project.run("verify")
    first = project.run("test")
    assert "3 passed" in first.stdout  # two pins installed at their versions, the model loads
    assert project.github.downloads(WHEEL_380) == 1

    # A second model, added as the README says; it was released since the links page was made.
    publish_model(project.github, tmp_path / "md", "3.8.0", ">=3.8.0,<3.9.0", "en_core_web_md")
    project.write(
        "requirements.in", project.read("requirements.in") + "en_core_web_md>=3.8.0,<3.9.0\n"
    )
    assert "run `make links` if it was released" in project.run("install", ok=False).stderr
    project.run("links")
    project.run("install")
    project.run("verify")
    assert "5 passed" in project.run("test").stdout

    # The team's own code in src/ and a test of it: importable in .venv, no build, no hash.
    (project.path / "src/pipeline").mkdir(parents=True)
    project.write("src/pipeline/__init__.py", "def words(text):\n    return text.split()\n")
    test = (
        "from pipeline import words\n\n\ndef test_words():\n    assert words('a b') == ['a', 'b']\n"
    )
    project.write("tests/test_pipeline.py", test)
    project.write("settings_of_ours.py", "LANGUAGE = 'en'\n")  # or a plain top-level module
    project.write(
        "tests/test_settings.py",
        "from settings_of_ours import LANGUAGE\n\n\ndef test_language():\n    assert LANGUAGE\n",
    )
    assert "7 passed" in project.run("test").stdout
    project.write("tests/test_pipeline.py", "def test_words():\n    assert False\n")
    failing = project.run("test", ok=False)
    assert failing.returncode != 0 and "1 failed" in failing.stdout
    project.write("tests/test_pipeline.py", "def test_words():\n    assert True\n")

    # Committed, as the README says; then a newer model release, and the monthly upgrade.
    git(project.path, "init", "-q", "-b", "main")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "first install")
    assert "requirements.txt" in git(project.path, "ls-files")
    assert ".venv" not in git(project.path, "ls-files") and "build/" not in git(
        project.path, "ls-files"
    ).replace("build/.gitkeep", "")
    publish_model(project.github, project.path.parent / "releases", "3.8.1", ">=3.8.0,<3.9.0")

    upgrade = project.run("upgrade")

    assert "7 passed" in upgrade.stdout
    body = project.read("build/upgrade-report.md")  # the monthly pull request's description
    page = f"{project.github.url}/explosion/spacy-models/releases/tag/en_core_web_sm-3.8.1"
    assert f"| [en-core-web-sm]({page}) (release) | upgraded | 3.8.0 | 3.8.1 |" in body
    changed = git(project.path, "status", "--porcelain").split()
    assert "requirements.txt" in changed
    git(project.path, "commit", "-q", "-am", "chore: monthly upgrade")
    assert project.github.downloads(WHEEL_381) == 1

    # A teammate's fresh clone: every file as old as the next, no build/, no environments.
    teammate = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", str(project.path), str(teammate))
    clone = Project(teammate, project.github, project.env, project.index_files)
    requests_before = len(project.github.api_requests())

    installed = clone.run("install")

    assert "pip-compile" not in installed.stdout + installed.stderr  # the lock is used as is
    assert clone.python("import en_core_web_sm; print(en_core_web_sm.VERSION)") == "3.8.1"
    assert project.github.downloads(WHEEL_381) == 2  # once, for this machine's build/
    assert (teammate / "build/release-files" / WHEEL_381).is_file()
    assert len(project.github.api_requests()) == requests_before  # the lock says where it is
    assert "7 passed" in clone.run("test").stdout
    clone.run("verify")
    assert project.github.downloads(WHEEL_381) == 2  # verify and test fetched nothing more
    assert git(teammate, "status", "--porcelain") == ""  # nothing tracked changed


def test_the_copys_own_test_loads_every_model_and_passes_over_a_spacy_plugin(
    project: Project,
) -> None:
    """tests/test_environment.py, which every copy ships: a spaCy plugin (as scispacy: it
    requires spacy, and declares no model) is only checked at its pin; every model (each has a
    spacy_models entry point) is loaded; a model that does not load fails the run."""
    releases = project.path.parent / "more-releases"
    plugin = make_wheel(releases, "sciplugin", "0.5.4", ["spacy<3.9.0,>=3.7.0"])  # scispacy's
    project.publish_index(plugin)
    broken = make_wheel(
        releases,
        "en_core_web_md",
        "3.8.0",
        ["spacy>=3.8.0,<3.9.0"],
        code='\ndef load():\n    raise OSError("[E053] Could not read config file")\n',
        entry_points=model_entry_point("en_core_web_md"),
    )
    project.github.add_release(
        "explosion/spacy-models", "en_core_web_md-3.8.0", {broken.name: broken.read_bytes()}
    )
    test = "tests/test_environment.py::test_spacy_model_loads_and_processes_a_sentence"

    project.write("requirements.in", "spacy>=3.8,<3.9\nsciplugin>=0.5\n")  # no model at all
    alone = project.run("test", "PYTEST_ARGS=-v")

    assert "2 passed, 1 skipped" in alone.stdout and f"{test}[no-model] SKIPPED" in alone.stdout
    assert "no spaCy model is installed (no package has a spacy_models entry point)" in (
        alone.stdout
    )

    project.write("requirements.in", project.read("requirements.in") + "en_core_web_sm>=3.8\n")
    with_model = project.run("test", "PYTEST_ARGS=-v")

    assert "4 passed in" in with_model.stdout, with_model.stdout  # three pins and the model
    assert f"{test}[en_core_web_sm] PASSED" in with_model.stdout
    assert (
        "_at_its_pin[sciplugin-0.5.4] PASSED" in with_model.stdout
        and f"{test}[sciplugin]" not in with_model.stdout
    )

    project.write("requirements.in", project.read("requirements.in") + "en_core_web_md>=3.8\n")
    failed = project.run("test", ok=False)

    assert failed.returncode == 2
    assert f"FAILED {test}[en_core_web_md]" in failed.stdout, failed.stdout
    assert "E       OSError: [E053] Could not read config file" in failed.stdout
    assert "= 1 failed, 5 passed in " in failed.stdout  # four pins, and the model that loads


def test_a_plain_copy_works_as_it_is(tmp_path: Path) -> None:
    """GitHub's "Use this template" copies the repository's files as they are: no copier."""
    plain = copy_template(tmp_path / "plain")
    with make_project(tmp_path / "world", plain) as project:
        project.run("install")
        assert "3 passed" in project.run("test").stdout
        project.run("verify")
        assert "selftest" in project.run("help").stdout  # the template's own targets stay


def test_copier_copies_the_answers_and_leaves_the_self_tests_out(tmp_path: Path) -> None:
    made = render_template(
        tmp_path / "made",
        "--data",
        "model_repos=explosion/spacy-models acme/models",
        "--data",
        "python_version=3.12",
    )

    assert (
        "MODEL_REPOS ?= explosion/spacy-models acme/models\n" in (made / "settings.mk").read_text()
    )
    assert (made / ".python-version").read_text() == "3.12\n"
    for template_only in (
        "selftests",
        "benchmarks",
        ".ci",
        "tools",
        "copier.yml",
        "CHANGELOG.md",
        ".github/workflows/selftests.yml",
    ):
        assert not (made / template_only).exists(), template_only
    assert not list(made.rglob("*.jinja"))
    # Only .jinja files are rendered: the justfile and the workflows keep their {{ }}.
    assert "{{ make }}" in (made / "justfile").read_text()
    assert "${{ secrets.GITHUB_TOKEN }}" in (made / ".github/workflows/ci.yml").read_text()
    help_text = subprocess.run(
        ["make", "help"], cwd=made, capture_output=True, text=True, check=True
    ).stdout
    assert "selftest" not in help_text and "install" in help_text


def test_copier_leaves_out_what_make_made_in_a_template_folder(tmp_path: Path) -> None:
    """copier copies a local folder it does not take for a git checkout as it stands (a download,
    or a checkout git refuses to read: another user's, "dubious ownership"): what `make` made
    there (environments, build/, caches) must not land in the project, nor stop the copy."""
    template = copy_template(tmp_path / "template")
    products = [
        ".tools/bin/python",
        ".venv/bin/python",
        "build/links.html",
        "build/index/x.html",
        "scripts/__pycache__/files.cpython-311.pyc",
        ".pytest_cache/v/cache/lastfailed",
        ".ruff_cache/CACHEDIR.TAG",
        ".mypy_cache/3.11/x.json",
        "tools/x.pyc",
        ".run.lock",
    ]
    for name in products:
        (template / name).parent.mkdir(parents=True, exist_ok=True)
        (template / name).write_text("made by make\n")
    # A virtual environment's python links to one outside it: copier refuses such a link even
    # where it would leave it out, unless links are kept as links (copier.yml).
    (template / ".tools/bin/python3").symlink_to(Path(sys.executable).resolve())

    made = render_template(tmp_path / "made", template=template)

    landed = [name for name in [*products, ".tools", ".venv"] if (made / name).exists()]
    assert landed == []
    assert (made / "build/.gitkeep").exists() and (made / "Makefile").exists()


def test_copier_update_brings_a_later_template_version(tmp_path: Path) -> None:
    # The template's history, as its maintainers tag it: v1.0.0, then a change, v1.1.0.
    template = copy_template(tmp_path / "template")
    git(template, "init", "-q", "-b", "main")
    git(template, "add", "-A")
    git(template, "commit", "-q", "--allow-empty", "-m", "v1.0.0")
    git(template, "tag", "v1.0.0")
    copier = str(TOOLS / "copier")
    project = tmp_path / "project"
    subprocess.run(
        [
            copier,
            "copy",
            "--defaults",
            "--quiet",
            "--data",
            "model_repos=acme/models",
            str(template),
            str(project),
        ],
        check=True,
        capture_output=True,
    )
    assert "_commit: v1.0.0" in (project / ".copier-answers.yml").read_text()
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "from the template")
    (project / "requirements.in").write_text("spacy>=3.8,<3.9\n")  # the team's own edit
    git(project, "commit", "-q", "-am", "our dependencies")
    makefile = template / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# a later version of the template\n")
    git(template, "commit", "-q", "-am", "v1.1.0")
    git(template, "tag", "v1.1.0")

    result = copier_update(project)

    assert result.returncode == 0, result.stderr
    assert (project / "Makefile").read_text().endswith("# a later version of the template\n")
    assert "_commit: v1.1.0" in (project / ".copier-answers.yml").read_text()
    assert "MODEL_REPOS ?= acme/models\n" in (project / "settings.mk").read_text()  # kept
    assert (project / "requirements.in").read_text() == "spacy>=3.8,<3.9\n"  # theirs, kept


def test_just_lists_every_make_target_from_a_fresh_copy(project: Project) -> None:
    listing = project.run(tool="just").stdout  # `just` alone: the default recipe lists

    help_text = project.run("help").stdout
    targets = [line.split()[0] for line in help_text.split("Variables")[0].splitlines()[1:]]
    assert len(targets) >= 15 and not any(t.startswith("selftest") for t in targets)
    for target in targets:
        assert f"    {target}" in listing, target


def test_a_python_that_is_missing_is_named_in_one_line(project: Project) -> None:
    """PYTHON names no Python on this machine (needs none other than 3.11, unlike the next)."""
    shutil.rmtree(project.path / ".venv")
    missing = str(project.path.parent / "no-such-python3.11")

    result = project.run("install", f"PYTHON={missing}", ok=False)

    assert result.returncode == 2 and not (project.path / ".venv").exists()
    assert result.stderr.startswith(f"error: PYTHON={missing} is not Python 3.11, the version")
    assert "Traceback" not in result.stderr
    project.run("install")  # the fix: a PYTHON that is Python 3.11 (here, the default)


def other_python() -> str | None:
    """A working Python whose version is not 3.11 (on PATH, or installed by pyenv), or None."""
    candidates = [shutil.which(f"python3.{minor}") for minor in (10, 12, 13)]
    candidates += sorted(map(str, Path.home().glob(".pyenv/versions/3.1[023].*/bin/python3")))
    for candidate in filter(None, candidates):
        check = "import sys; assert sys.version_info[:2] != (3, 11)"
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


def test_a_wrong_python_is_named_in_one_line_and_a_bad_environment_is_remade(
    project: Project,
) -> None:
    other = other_python()
    if other is None:
        pytest.skip("needs a Python other than 3.11 (python3.10, 3.12 or 3.13)")

    project.run("install", f"PYTHON={other}")  # with its environment made, PYTHON is not asked
    shutil.rmtree(project.path / ".venv")

    wrong = project.run("install", f"PYTHON={other}", ok=False)

    assert wrong.returncode != 0 and not (project.path / ".venv").exists()
    assert f"PYTHON={other} is not Python 3.11" in wrong.stderr
    assert "pip" not in wrong.stdout and "Traceback" not in wrong.stderr
    # An environment another Python made (or a run left half-made) is made again.
    subprocess.run([other, "-m", "venv", "--without-pip", ".venv"], cwd=project.path, check=True)

    project.run("install")

    version = project.python("import sys; print('%d.%d' % sys.version_info[:2])")
    assert version == "3.11"


def test_help_needs_no_column(project: Project, tmp_path: Path) -> None:
    """Minimal images lack `column`: `make help` uses only make, bash, awk, grep and sed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "bash", "sh", "awk", "grep", "sed", "cat", "env"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {**project.env, "PATH": str(bin_dir)}

    result = subprocess.run(
        ["make", "help"], cwd=project.path, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert "  install " in result.stdout and "  MODEL_REPOS " in result.stdout


def test_distclean_removes_both_environments(project: Project, tmp_path: Path) -> None:
    tools = tmp_path / "tools-env"  # not the running tools environment, which tests need
    (tools / "bin").mkdir(parents=True)
    assert (project.path / ".venv").is_dir()

    project.run("distclean", f"TOOLS_VENV={tools}")

    assert not tools.exists() and not (project.path / ".venv").exists()
    assert (project.path / "requirements.in").is_file()


def test_check_requirements_works_in_a_fresh_clone(project: Project) -> None:
    project.run("install")
    shutil.rmtree(project.path / "build")

    result = project.run("check-requirements")

    assert "requirements.txt is up to date" in result.stdout


def test_verify_fetches_only_what_is_pinned(project: Project) -> None:
    project.run("install")
    publish_model(project.github, project.path.parent / "releases", "3.8.1", ">=3.8.0,<3.9.0")
    project.run("links")

    project.run("verify")

    assert project.github.downloads(WHEEL_381) == 0  # not pinned: never fetched by verify
    assert project.github.downloads(WHEEL_380) == 1
