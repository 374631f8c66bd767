"""Running the resolver and the installer (pip-tools), with every source and no secret shown.

The find-links order and the pip-compile flags are defined here once, for the project's locks
and the tools lock alike. Sources reach pip through its environment only (``PIP_FIND_LINKS``),
never its command line, so no credential in a FIND_LINKS URL is ever shown by ``ps`` or make;
the GitHub token is taken out of the environment, since neither pip nor a build it runs needs
it. Nothing a source names is written into a lock (``--no-emit-*``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError, mask_url
from .settings import FILES_PAGE, LINKS_PAGE, WHEELS, Settings

# pip-compile as every lock is compiled: hashes, and no source or option of this machine's.
COMPILE = [
    sys.executable, "-m", "piptools", "compile", "--quiet", "--no-config",
    "--generate-hashes", "--allow-unsafe", "--strip-extras",
    "--no-emit-index-url", "--no-emit-find-links", "--no-emit-trusted-host",
]  # fmt: skip


def pip_env(settings: Settings, page: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment pip runs in: as find-links, ``page`` (a links page), the page of the
    verified release files in build/release-files (linked with their hashes, so pip prefers them
    to a file of the same name and version anywhere else), build/wheels, then FIND_LINKS and the
    user's own PIP_FIND_LINKS, in this order; and no GitHub token."""
    pages = [page, FILES_PAGE] if page is not None else [FILES_PAGE]
    links = [str(path) for path in pages if path.is_file()]
    links += [str(WHEELS)] if WHEELS.is_dir() else []
    links += settings.find_links
    return {**_without_tokens(), "PIP_FIND_LINKS": " ".join(links), **extra}


def compile_command(
    output: Path,
    inputs: Sequence[Path],
    *,
    constraints: Sequence[Path] = (),
    only_binary: Sequence[str] = (),
    pre: bool = False,
    upgrade: bool = False,
    packages: Sequence[str] = (),
) -> list[str]:
    """The pip-compile command that writes ``output`` from ``inputs``; ``output``'s pins, if
    any, guide it."""
    command = [*COMPILE, "--output-file", str(output)]
    command += [arg for path in constraints for arg in ("--constraint", str(path))]
    if only_binary:
        command += ["--pip-args", "--only-binary=" + ",".join(sorted(only_binary))]
    if pre:
        command.append("--pre")
    if upgrade and not packages:
        command.append("--upgrade")
    command += [arg for package in packages for arg in ("--upgrade-package", package)]
    return command + [str(path) for path in inputs]


def run_compile(command: list[str], settings: Settings, page: Path, made_by: str) -> str:
    """Run a pip-compile ``command``; return its (masked) output when it fails, else ""."""
    env = pip_env(settings, page, CUSTOM_COMPILE_COMMAND=made_by)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return "" if result.returncode == 0 else mask_url(result.stderr + result.stdout)


def lock_tools(upgrade: bool) -> None:
    """Re-pin the template's own tools (requirements-tools.in) with the same flags, and with
    only the user's pip configuration as the source."""
    command = [*COMPILE, "--output-file", "requirements-tools.txt", "requirements-tools.in"]
    command += ["--upgrade"] if upgrade else []
    result = subprocess.run(
        command, env={**_without_tokens(), "CUSTOM_COMPILE_COMMAND": "make tools-lock"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        tail = [line for line in mask_url(result.stderr).splitlines() if line.strip()][-3:]
        raise UserError("pip-compile failed for requirements-tools.txt: " + " | ".join(tail))


def sync(settings: Settings, python: Path, locks: Sequence[Path]) -> None:
    """pip-sync the environment of ``python`` to exactly ``locks``, every hash required."""
    result = subprocess.run(
        [sys.executable, "-m", "piptools", "sync", "--quiet",
         "--python-executable", str(python),
         "--pip-args", "--require-hashes --no-deps", *map(str, locks)],
        env=pip_env(settings), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise UserError(explain_sync(result.stdout + result.stderr))


def explain_sync(output: str) -> str:
    """One line for a failed pip-sync: pip's first error, and the packages a hash check named."""
    output = mask_url(output)
    errors = [line.removeprefix("ERROR: ") for line in output.splitlines() if "ERROR:" in line]
    named = re.findall(r"^\s+(\S+==\S+) from ", output, flags=re.MULTILINE)
    if "DO NOT MATCH THE HASHES" in output:
        return (
            f"pip refused {', '.join(named) or 'a file'}: its file does not match the hash in "
            "the lock. Run `make verify` to see which file changed"
        )
    first = errors[0] if errors else (output.strip().splitlines() or ["no output"])[-1]
    return f"pip-sync failed: {first.strip()[:300]}"


def origin(settings: Settings, name: str, version: str) -> str:
    """Where pip finds ``name==version`` (masked URL), asking pip for a report; wheels only."""
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps",
        "--ignore-installed", "--only-binary=:all:", "--report", "-", f"{name}=={version}",
    ]  # fmt: skip
    env = pip_env(settings, LINKS_PAGE)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return report_url(result.stdout)


def report_url(report: str) -> str:
    """The (masked) URL of the file a ``pip install --report`` would install."""
    try:
        return mask_url(json.loads(report)["install"][0]["download_info"]["url"])
    except (ValueError, LookupError, TypeError):
        return "a package index or find-links location, not the releases"


def _without_tokens() -> dict[str, str]:
    """This process's environment without any GITHUB_TOKEN*."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_TOKEN")}
