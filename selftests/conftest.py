"""Fixtures shared by every test: a pip with no configuration but what a test gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import Project, make_project


@pytest.fixture(autouse=True)
def isolated_pip(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Clear every ``PIP_*`` variable and give pip an empty config file (as pip-tools' tests do).

    This machine's pip config sets find-links and extra index URLs, and so do many developers';
    without this, they would change what the tests resolve. One test sets a hostile config on
    purpose to prove none of it leaks into written files.
    """
    for name in list(os.environ):
        if name.startswith("PIP_") or name in {"GITHUB_TOKEN", "GITHUB_API_URL", "FIND_LINKS"}:
            monkeypatch.delenv(name)
    empty = tmp_path_factory.getbasetemp() / "empty-pip.conf"
    if not empty.exists():
        empty.write_text("")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(empty))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")


@pytest.fixture(scope="session")
def template_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made from the template's checkout by `copier copy`, once per test session."""
    from e2e import render_template

    return render_template(tmp_path_factory.mktemp("rendered") / "project")


@pytest.fixture(scope="session")
def venv_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with pip, made once per test session and copied into each project
    as its .venv (as pip's own test suite does): a copy costs milliseconds, and the Makefile
    keeps an environment that has a working Python of the right version. uv makes it (with
    pip, from the package index) in a fraction of `python -m venv`'s three seconds."""
    venv = tmp_path_factory.mktemp("venv-template") / "venv"
    uv = Path(sys.prefix) / "bin/uv"
    subprocess.run(
        [str(uv), "venv", "--seed", "--quiet", "--python", sys._base_executable, str(venv)],
        check=True,
    )
    return venv


@pytest.fixture(params=["pip-tools", "uv"])
def project(
    request: pytest.FixtureRequest, tmp_path: Path, template_copy: Path, venv_template: Path
) -> Iterator[Project]:
    """A project made from the template, wired to the stand-ins (see selftests/e2e.py): every
    test that uses it runs with each backend (RESOLVER=pip-tools, RESOLVER=uv)."""
    with make_project(tmp_path, template_copy, venv_template, request.param) as made:
        yield made


# `make selftest` (what CI, .ci/run, runs) runs every end-to-end test with both backends. The
# quick subset for the edit loop, `make selftest-quick`, keeps only these, with the backends each
# runs with there: the main line of the workflow and its promises (hashes, the squatter never
# built, no secret written or printed, a tampered file refused) with both, a teammate's clone, a
# second install and the monthly upgrade with the default, and copier leaving out what `make`
# made. Every other end-to-end run is marked slow, which is all `selftest-quick` leaves out.
BOTH = ("pip-tools", "uv")
CORE = {
    "test_install_pins_hashes_and_imports_the_model": BOTH,
    "test_squatting_sdist_on_an_index_is_never_built": BOTH,
    "test_hostile_pip_config_and_secrets_never_land_in_files_or_output": BOTH,
    "test_tampered_release_file_is_refused_by_sync_and_verify": BOTH,
    "test_second_install_does_nothing": ("pip-tools",),
    "test_a_fresh_clone_compiles_nothing_and_fetches_the_model_once": ("pip-tools",),
    "test_upgrade_picks_up_a_new_release_and_reports_it": ("pip-tools",),
    "test_copier_leaves_out_what_make_made_in_a_template_folder": ("pip-tools",),
    "test_audit_finds_an_advisory_on_a_pin_names_the_fix_and_fails": ("pip-tools",),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every end-to-end run outside CORE slow (left out of `make selftest-quick` only)."""
    for item in items:
        name = getattr(item, "originalname", item.name)
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("project", "pip-tools") if callspec else "pip-tools"
        if item.get_closest_marker("e2e") and backend not in CORE.get(name, ()):
            item.add_marker(pytest.mark.slow)
