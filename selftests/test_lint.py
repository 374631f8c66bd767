"""`make lint`: the pre-commit hooks pass on the template itself, and do catch problems."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e import ROOT, TOOLS


def test_make_lint_passes_on_the_template() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("pre-commit needs a git checkout")
    result = subprocess.run(
        ["make", "--no-print-directory", "lint", f"TOOLS_VENV={sys.prefix}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed" not in result.stdout


def test_the_hooks_catch_bad_files(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".pre-commit-config.yaml", tmp_path)
    (tmp_path / "broken.yml").write_text("key: [unclosed\n")
    (tmp_path / "broken.toml").write_text("a = \n")
    (tmp_path / "unused.py").write_text("import os\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts/typed.py").write_text('count: int = "many"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.mypy]\nfiles = ["scripts"]\n')
    (tmp_path / "notes.txt").write_text("trailing   \n")
    key = "-----BEGIN " + "RSA PRIVATE KEY-----\nxyz\n"  # split, so this file holds none
    (tmp_path / "id_rsa").write_text(key)
    env = {**os.environ, "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)

    result = subprocess.run(
        [str(TOOLS / "pre-commit"), "run", "--all-files"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    for hook in (
        "ruff check",
        "mypy (types of scripts/)",
        "YAML is well-formed",
        "TOML is well-formed",
        "no trailing whitespace",
        "no private keys",
    ):
        line = next(line for line in result.stdout.splitlines() if line.startswith(hook))
        assert line.endswith("Failed"), line
