"""A project made with copier has a README of its own, and keeps the template's manual beside it:
README.md (from README.md.jinja) is the team's from the first copy on, and `copier update` never
overwrites it (copier.yml's _skip_if_exists); TEMPLATE.md is the manual, brought up to date by
every update."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from e2e import GIT_ENV, ROOT, TOOLS, copier_update, copy_template, render_template

pytestmark = pytest.mark.e2e


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


def test_a_copy_has_a_readme_of_its_own_and_the_manual_beside_it(tmp_path: Path) -> None:
    made = render_template(tmp_path / "acme-ner")

    readme = (made / "README.md").read_text()
    manual = (ROOT / "README.md").read_text()
    assert readme.startswith("# acme-ner\n")  # the project's name: its folder's, by default
    for command in ("make install", "make test", "make upgrade", "make help"):
        assert command in readme, command
    assert "[TEMPLATE.md](TEMPLATE.md)" in readme and "copier update" in readme
    assert manual.splitlines()[0] not in readme and len(readme) < len(manual) / 5
    # The manual, byte for byte (its GitHub Actions expression included), under another name.
    assert (made / "TEMPLATE.md").read_bytes() == (ROOT / "README.md").read_bytes()
    assert "${{ secrets.GITHUB_TOKEN }}" in (made / "TEMPLATE.md").read_text()
    named = render_template(tmp_path / "other", "--data", "project_name=Entity finder")
    assert (named / "README.md").read_text().startswith("# Entity finder\n")


def test_copier_update_never_overwrites_the_teams_readme(tmp_path: Path) -> None:
    template = copy_template(tmp_path / "template")
    git(template, "init", "-q", "-b", "main")
    git(template, "add", "-A")
    git(template, "commit", "-q", "-m", "v1.0.0")
    git(template, "tag", "v1.0.0")
    copier = str(TOOLS / "copier")
    project = tmp_path / "project"
    subprocess.run(
        [copier, "copy", "--defaults", "--quiet", str(template), str(project)],
        check=True,
        capture_output=True,
    )
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "from the template")
    ours = "# Our pipeline\n\nWhat we run, and how.\n"
    (project / "README.md").write_text(ours)
    git(project, "commit", "-q", "-am", "our README")
    # A later version of the template changes both its manual and the README it gives a copy.
    for name in ("README.md", "README.md.jinja"):
        path = template / name
        path.write_text(path.read_text() + f"\nA later version's {name}.\n")
    git(template, "commit", "-q", "-am", "v1.1.0")
    git(template, "tag", "v1.1.0")

    result = copier_update(project)

    assert result.returncode == 0, result.stderr
    assert "_commit: v1.1.0" in (project / ".copier-answers.yml").read_text()
    assert (project / "README.md").read_text() == ours  # the team's, untouched
    assert (project / "TEMPLATE.md").read_text() == (template / "README.md").read_text()
    assert not list(project.glob("README.md.*"))  # no conflict file left beside it
