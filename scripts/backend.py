"""Running the resolver and the installer: pip-tools (the default) or uv (RESOLVER=uv).

The find-links order and the compile flags are defined here once, for the project's locks and
the tools lock alike. Sources reach the tools through their environment only, never their
command line, so no credential in a FIND_LINKS URL is ever shown by ``ps`` or make: pip gets
``PIP_FIND_LINKS``; uv, which reads no pip configuration, gets the same sources and the user's
pip configuration (``pip config list``: its files and ``PIP_*`` variables) as ``UV_*``
variables. The GitHub token is taken out of the environment, since neither tool nor a build it
runs needs it. Nothing a source names is written into a lock.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError, mask_url
from .settings import FILES_PAGE, LINKS_PAGE, TOOLS_IN, TOOLS_LOCK, WHEELS, Settings

# pip-compile as every lock is compiled: no source or option of this machine's written. The
# hashes are added afterwards from what the sources say (hashes.py), or by pip-compile itself
# (--generate-hashes) where a source says nothing of a file.
PIP_COMPILE = [
    *(sys.executable, "-m", "piptools", "compile", "--quiet", "--no-config"),
    *("--allow-unsafe", "--strip-extras"),
    *("--no-emit-index-url", "--no-emit-find-links", "--no-emit-trusted-host"),
]
# uv's: the same lock, for the Python running this (the tools' Python, as pip-compile's), with
# its --only-binary lines as pip-compile writes them. uv writes neither index URLs nor
# find-links, strips extras and keeps pip and setuptools.
UV = Path(sys.executable).parent / "uv"
UV_COMPILE = [
    *(str(UV), "pip", "compile", "--quiet", "--no-config", "--generate-hashes"),
    *("--emit-build-options", "--python", sys.executable),
]
# What uv is told so that it resolves as pip does: every index weighed (not the first that has
# a name), no Python downloaded from GitHub.
UV_AS_PIP = {"UV_INDEX_STRATEGY": "unsafe-best-match", "UV_PYTHON_DOWNLOADS": "never"}
DEFAULT_INDEX = "https://pypi.org/simple"  # pip's, where its configuration names none


def find_links(settings: Settings, page: Path | None) -> list[str]:
    """The find-links locations, in order: ``page`` (a links page), the page of the verified
    release files (linked with their hashes, so they are preferred to a file of the same name and
    version anywhere else), build/wheels, then FIND_LINKS and the user's own PIP_FIND_LINKS."""
    pages = [page, FILES_PAGE] if page is not None else [FILES_PAGE]
    links = [str(path) for path in pages if path.is_file()]
    return links + ([str(WHEELS)] if WHEELS.is_dir() else []) + list(settings.find_links)


def environment(settings: Settings, page: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment the resolver (given its links ``page``) or the installer runs in: the
    sources, and no GitHub token."""
    links = find_links(settings, page)
    if settings.resolver == "uv":
        sources = uv_sources(links, resolving=page is not None)
    else:
        sources = {"PIP_FIND_LINKS": " ".join(links)}
    return {**_without_tokens(), **sources, **extra}


@functools.cache
def read_pip_config() -> subprocess.Popen[str]:
    """Start ``pip config list`` (slow to start: pip's imports), so that it runs while this
    process does other work, such as importing what it needs; ``pip_config`` takes the answer.
    A run that ends without asking for it stops it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pip", "config", "list"],
        env=_without_tokens(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    atexit.register(process.kill)
    return process


@functools.cache
def pip_config() -> dict[str, list[str]]:
    """The sources of the user's pip configuration, its files and ``PIP_*`` variables alike
    (``pip config list``): {"index-url": [...], "extra-index-url": [...], "find-links": [...],
    "constraint": [...]}."""
    stdout, _ = read_pip_config().communicate()
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"[^.]*\.([a-z-]+)='(.*)'", line.strip())
        if match and match[1] in ("index-url", "extra-index-url", "find-links", "constraint"):
            for value in match[2].split():
                if value not in found.setdefault(match[1], []):
                    found[match[1]].append(value)
    return found


def pip_sources(links: list[str]) -> tuple[list[str], list[str]]:
    """(index URLs, find-links locations): the indexes of the user's pip configuration
    (pypi.org when it names none), and ``links`` followed by its find-links."""
    pip = pip_config()
    indexes = (pip.get("index-url") or [DEFAULT_INDEX])[-1:] + pip.get("extra-index-url", [])
    return indexes, list(dict.fromkeys(links + pip.get("find-links", [])))


def uv_sources(links: list[str], resolving: bool) -> dict[str, str]:
    """``links`` and the user's pip sources as uv's variables (uv reads no pip configuration);
    pip's constraint files too when ``resolving`` (a sync installs only what the lock pins)."""
    indexes, every = pip_sources(links)
    sources = {**UV_AS_PIP, "UV_INDEX_URL": indexes[0], "UV_FIND_LINKS": ",".join(every)}
    if indexes[1:]:
        sources["UV_EXTRA_INDEX_URL"] = " ".join(indexes[1:])
    if resolving and (constraints := pip_config().get("constraint")):
        sources["UV_CONSTRAINT"] = " ".join(constraints)
    return sources


def compile_command(
    settings: Settings,
    output: Path,
    inputs: Sequence[Path],
    *,
    constraints: Sequence[Path] = (),
    only_binary: Sequence[str] = (),
    upgrade: bool = False,
    packages: Sequence[str] = (),
    hashes: bool = True,
    cooldown: Sequence[str] = (),
) -> list[str]:
    """The command that writes ``output`` from ``inputs``; ``output``'s pins, if any, guide it.
    With pip-tools and ``hashes=False``, the lock has no hashes yet (see hashes.py); ``cooldown``
    is the resolver's own cutoff options (cutoffs.py)."""
    uv = settings.resolver == "uv"
    command = [*(UV_COMPILE if uv else PIP_COMPILE), "--output-file", str(output)]
    command += ["--generate-hashes"] if hashes and not uv else []
    command += [arg for path in constraints for arg in ("--constraint", str(path))]
    if only_binary and uv:
        command += [arg for name in sorted(only_binary) for arg in ("--only-binary", name)]
    elif only_binary:
        command += ["--pip-args", "--only-binary=" + ",".join(sorted(only_binary))]
    if settings.pre:
        command += ["--prerelease", "allow"] if uv else ["--pre"]
    if upgrade and not packages:
        command.append("--upgrade")
    command += [arg for package in packages for arg in ("--upgrade-package", package)]
    return command + list(cooldown) + [str(path) for path in inputs]


def sources(settings: Settings, page: Path) -> tuple[list[str], list[str]]:
    """(index URLs, find-links locations) a compile with the links ``page`` reads."""
    return pip_sources(find_links(settings, page))


def run_compile(command: list[str], settings: Settings, page: Path, made_by: str) -> str:
    """Run a compile ``command``; return its (masked) output when it fails, else ""."""
    _need_uv(settings)
    env = environment(
        settings, page, CUSTOM_COMPILE_COMMAND=made_by, UV_CUSTOM_COMPILE_COMMAND=made_by
    )
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return "" if result.returncode == 0 else mask_url(result.stderr + result.stdout)


def install_tools() -> None:
    """Install requirements-tools.txt into this (the tools) environment with uv, every hash
    required, from the user's pip sources, byte-compiled as pip does (where
    PYTHONDONTWRITEBYTECODE is set, nothing would ever be): seconds where pip takes 15."""
    if not UV.is_file():
        raise UserError(f"{UV} is missing: install it first (its line of {TOOLS_LOCK})")
    result = subprocess.run(
        [
            *(str(UV), "pip", "install", "--quiet", "--no-config", "--require-hashes"),
            *("--no-deps", "--compile-bytecode", "--python", sys.executable, "-r", str(TOOLS_LOCK)),
        ],
        env={**_without_tokens(), **uv_sources([], resolving=False)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise UserError(explain_sync(result.stdout + result.stderr) + f" ({TOOLS_LOCK})")


def lock_tools(upgrade: bool) -> None:
    """Re-pin the template's own tools (requirements-tools.in) with pip-tools and the same
    flags, and with only the user's pip configuration as the source."""
    command = [*PIP_COMPILE, "--generate-hashes", "--output-file", str(TOOLS_LOCK), str(TOOLS_IN)]
    command += ["--upgrade"] if upgrade else []
    result = subprocess.run(
        command,
        env={**_without_tokens(), "CUSTOM_COMPILE_COMMAND": "make tools-lock"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise UserError(f"pip-compile failed for {TOOLS_LOCK}: " + one_line(result.stderr))


def install(settings: Settings, python: Path, locks: Sequence[Path]) -> None:
    """Make the environment of ``python`` match exactly ``locks`` (what pip-sync and `uv pip
    sync` do), every hash required."""
    _need_uv(settings)
    if settings.resolver == "uv":
        command = [str(UV), "pip", "sync", "--quiet", "--no-config", "--require-hashes"]
        command += ["--python", str(python), *map(str, locks)]
        _run_install(command, settings)
        return
    # pip-sync's work, done with pip itself: pip-sync hands every source it finds (the user's
    # pip configuration, PIP_FIND_LINKS), credentials included, to the pip it starts on its
    # command line, where `ps` shows them to anyone on the machine. pip reads them from its
    # environment and configuration, as pip-sync's pip would: the same sources, none shown.
    # Imported here: `make tools` installs the tools with this module before `packaging` is in.
    from .requirements import pinned, read_lines

    names = {name for lock in locks for _, name, _ in pinned(read_lines(lock))}
    listing = subprocess.run(
        [str(python), "-c", INSTALLED], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise UserError(f"{python} cannot list what it has installed: {listing.stderr.strip()}")
    extra = sorted(set(listing.stdout.split()) - names - KEEP)
    pip = [str(python), "-m", "pip"]
    if extra:
        _run_install([*pip, "uninstall", "--yes", "--quiet", *extra], settings)
    requirements = [arg for lock in locks for arg in ("-r", str(lock))]
    command = [*pip, "install", "--quiet", "--require-hashes", "--no-deps", *requirements]
    _run_install(command, settings)


# The canonical names of the distributions an environment has (a .pth file is none).
INSTALLED = (
    "import importlib.metadata as m, re\n"
    "for d in m.distributions():\n"
    "    print(re.sub(r'[-_.]+', '-', d.metadata['Name']).lower())"
)
# What a sync leaves in an environment whatever the locks say (pip-sync's PACKAGES_TO_IGNORE):
# the installer and its companions.
KEEP = {"pip", "setuptools", "wheel", "distribute", "pkg-resources", "pip-tools", "pip-review"}


def _run_install(command: list[str], settings: Settings) -> None:
    """Run one step of a sync with the sources in its environment; one line if it fails."""
    result = subprocess.run(
        command, env=environment(settings), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise UserError(explain_sync(result.stdout + result.stderr))


def explain_sync(output: str) -> str:
    """One line for a failed sync (pip's or uv's): its first error, and the packages a hash
    check named."""
    output = mask_url(output)
    named = re.findall(r"^\s+(\S+==\S+) from ", output, flags=re.MULTILINE)
    named += re.findall(r"Hash mismatch for `([^`]+)`", output)
    if "DO NOT MATCH THE HASHES" in output or "Hash mismatch" in output:
        return (
            f"pip refused {', '.join(named) or 'a file'}: its file does not match the hash in "
            "the lock (the file its source serves now is not the one pinned: replaced or "
            "tampered with since); nothing was installed from it. Find out why from whoever runs "
            "that source, and run the same command once it serves the pinned file again"
        )
    uv = output.lstrip().startswith("error:")
    return f"{'uv pip sync' if uv else 'pip-sync'} failed: {one_line(output)[:300]}"


TRACEBACK = "Traceback (most recent call last):"


def one_line(output: str) -> str:
    """A failed tool's output (masked) as one line with no traceback or fragment of one: pip's
    first ``ERROR:`` line; else, where Python printed a traceback (pip-compile does, for a
    download that fails), the message of the exception it ends with, without the exception's
    module path; uv's error and its causes (a line each); else the last three lines."""
    output = mask_url(output)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.split("ERROR:", 1)[1].strip() for line in lines if "ERROR:" in line]
    errors = [error for error in errors if error != "Exception:"]  # pip's, before a traceback
    if errors:
        return errors[0]
    if TRACEBACK in output:
        frames = output.rsplit(TRACEBACK, 1)[1].splitlines()
        for line in frames:  # the frames are indented; the exception's line is not
            if line.strip() and not line[0].isspace():
                kind, _, message = line.partition(": ")
                return message.strip() or kind.rsplit(".", 1)[-1]
    if output.lstrip().startswith("error:"):  # uv: the error, then its causes, a line each
        return " | ".join(line.removeprefix("error:").strip() for line in lines)
    return " | ".join(lines[-3:]) or "no output"


def origin(settings: Settings, name: str, version: str) -> str:
    """Where pip finds ``name==version`` (masked URL), asking pip for a report; wheels only."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps"]
    command += ["--ignore-installed", "--only-binary=:all:", "--report", "-", f"{name}=={version}"]
    env = {**_without_tokens(), "PIP_FIND_LINKS": " ".join(find_links(settings, LINKS_PAGE))}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return report_url(result.stdout)


def report_url(report: str) -> str:
    """The (masked) URL of the file a ``pip install --report`` would install."""
    try:
        return mask_url(json.loads(report)["install"][0]["download_info"]["url"])
    except (ValueError, LookupError, TypeError):
        return "a package index or find-links location, not the releases"


def _need_uv(settings: Settings) -> None:
    """Refuse RESOLVER=uv where the tools environment has no uv."""
    if settings.resolver == "uv" and not UV.is_file():
        raise UserError(
            f"RESOLVER=uv, but {UV} is missing: run `make tools` (uv is in requirements-tools.txt)"
        )


def _without_tokens() -> dict[str, str]:
    """This process's environment without any GITHUB_TOKEN*."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_TOKEN")}
