"""The package in scripts/: its imports run one way, and every command has help with examples."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import scripts
from scripts.__main__ import main

PACKAGE = Path(scripts.__file__).parent
# The order scripts/__init__.py lists the modules in: each may import only those before it.
ORDER = [
    name
    for line in (scripts.__doc__ or "").splitlines()
    if line.startswith("* ")
    for name in re.findall(r"(\w+)(?=[,:])", line.split(":")[0] + ":")
]


def imports(module: Path) -> set[str]:
    """The package's modules that ``module`` imports."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found


def test_every_module_is_listed_once_in_order() -> None:
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("__"))
    assert sorted(ORDER) == modules and len(set(ORDER)) == len(ORDER)


@pytest.mark.parametrize("name", ORDER)
def test_a_module_imports_only_those_before_it(name: str) -> None:
    later = imports(PACKAGE / f"{name}.py") - set(ORDER[: ORDER.index(name)])
    assert later == set(), f"{name} imports {later}, listed after it in scripts/__init__.py"


def test_help_lists_every_command_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0 and "examples:" in out
    commands = ("links", "wheels", "compile", "install", "verify", "audit", "sbom", "export")
    for command in (*commands, "index", "report"):
        assert f"    {command} " in out


def test_a_user_error_is_one_line_per_problem_and_exit_1(tmp_path: Path) -> None:
    """Run as make runs it, in a folder that is not a project: one line, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "scripts", "compile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(PACKAGE.parent)},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == "error: requirements.in is missing: this is not a template checkout?\n"


@pytest.mark.parametrize("module", ["scripts.lock", "scripts.install", "scripts.wheels"])
def test_a_run_that_needs_no_network_imports_no_network_library(module: str) -> None:
    """An edit's compile, an install from the cache and `compile --dev` run at every edit, and
    `wheels` at a first install, mostly with no URL: the network modules (requests and urllib3,
    0.1 s of a 0.2 s start) wait until a file or a listing is to be fetched."""
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m in NET))"
    result = subprocess.run(
        [sys.executable, "-c", f"NET = {{'requests', 'urllib3'}}\n{code}"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "[]\n"


def test_the_tools_install_imports_only_the_standard_library(tmp_path: Path) -> None:
    """`make tools` runs `python -m scripts tools-install` in a new environment that has only uv:
    what that command imports must need nothing else (no packaging, no requests)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from scripts import __main__, backend\n"
        "assert 'packaging' not in sys.modules and 'requests' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(PACKAGE.parent)],  # -S: no site-packages
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
