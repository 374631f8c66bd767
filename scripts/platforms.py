"""Locks that hold on every platform of PLATFORMS, and the proof that they do.

pip-compile (and uv without ``--python-platform``) resolves for the machine it runs on: markers
are evaluated there, so a package only another platform needs (colorama on Windows, through
tqdm and click; the CUDA packages on Linux, through torch) is not in the lock, and
``--require-hashes`` refuses to install there without it. So beside the compile on this
machine, uv resolves the same inputs for each other platform, guided by the same pins; a
platform whose result keeps every pin made here is taken as it is (the usual case, which costs
no time of its own), and any other is resolved again, held to the pins made here: every package
keeps one version everywhere, and what a platform adds comes into the lock with a marker naming
where it is needed. Every pin then carries the hashes of its files for every
platform. uv resolves for exactly the Python of .python-version (``--python-version`` with
``--python-platform`` is that version, where ``--universal`` would mean "this or newer").

``install_problems`` proves a lock complete for each platform: a real install of that platform's
files into an empty folder (``uv pip install --python-platform --target --no-build``), every
hash checked, which runs no code of the packages. (``--dry-run`` would accept a wrong hash.)
"""

from __future__ import annotations

import platform as _platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from . import backend
from .errors import UserError, mask_url
from .explain import uv_reason
from .requirements import pin_lines, read_lines_of, read_pins
from .settings import BUILD, PLATFORM_TARGETS, Settings

PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"  # the tools' = the locks'


@dataclass(frozen=True)
class Platform:
    """A platform a lock holds on: its PLATFORMS name, uv's target for it (None for this
    machine, which the compile itself resolves for) and the markers that pick it out."""

    name: str
    target: str | None
    marker: str


def named(name: str) -> Platform:
    """The platform PLATFORMS calls ``name`` (a key of PLATFORM_TARGETS)."""
    target, system, machine = PLATFORM_TARGETS[name]
    return Platform(name, target, f"{system} and platform_machine == '{machine}'")


def this_machine() -> Platform:
    """The platform the compile runs on (one of PLATFORM_TARGETS, or described as it is)."""
    machine = _platform.machine()
    for name, (_, system, arch) in PLATFORM_TARGETS.items():
        if system == f"sys_platform == '{sys.platform}'" and arch.lower() == machine.lower():
            return replace(named(name), target=None)
    marker = f"sys_platform == '{sys.platform}' and platform_machine == '{machine}'"
    return Platform(f"{sys.platform}-{machine}", None, marker)


def covered(settings: Settings) -> list[Platform]:
    """The platforms the locks hold on: this machine first (a lock always installs where it is
    made), then the others of PLATFORMS; only this machine when PLATFORMS is empty."""
    here = this_machine()
    return [here, *(named(n) for n in settings.platforms if n != here.name)]


def marker_for(present: set[str], platforms: Sequence[Platform]) -> str:
    """The marker of a package the ``present`` platforms (names) need and the others do not:
    a whole system where every platform of it that the lock covers needs it, else each one."""
    terms: list[str] = []
    for system in dict.fromkeys(p.marker.split(" and ")[0] for p in platforms):
        mine = [p for p in platforms if p.marker.startswith(system)]
        if all(p.name in present for p in mine):
            terms.append(system)
        else:
            terms += [p.marker for p in mine if p.name in present]
    return " or ".join(
        f"({term})" if " and " in term and len(terms) > 1 else term for term in terms
    )


@dataclass
class Entry:
    """One requirement of a lock: its first line (without hashes), hashes and notes."""

    name: str
    version: str  # "" for a direct reference
    head: str  # `name==version` or `name @ URL`, without marker
    hashes: set[str]
    notes: list[str]  # the comment lines under it (# via ..., # release: ...)


def entries(text: str) -> tuple[str, dict[str, Entry]]:
    """(header, {canonical name: Entry}) of a compiled lock: the header is every line before
    the first requirement (comments, options such as --only-binary)."""
    header, *blocks = re.split(r"(?m)^(?=[A-Za-z0-9])", text)
    found: dict[str, Entry] = {}
    for block in blocks:
        line = read_lines_of(block)[0]
        requirement = line.requirement()
        pin = None if requirement.url else line.pin()
        head = line.text.split(";")[0].strip()
        notes = [row for row in block.splitlines() if row.lstrip().startswith("#")]
        name = canonicalize_name(requirement.name)
        found[name] = Entry(name, pin[1] if pin else "", head, set(line.hashes), notes)
    return header, found


def render(header: str, found: Mapping[str, Entry], markers: Mapping[str, str]) -> str:
    """A lock's text from its header and entries, sorted by name, each with its marker."""
    blocks = []
    for name in sorted(found):
        entry = found[name]
        first = entry.head + (f" ; {markers[name]}" if markers.get(name) else "")
        lines = [first, *(f"    --hash=sha256:{h}" for h in sorted(entry.hashes))]
        blocks.append(" \\\n".join(lines) + "\n" + "".join(f"{n}\n" for n in entry.notes))
    return header + "".join(blocks)


def merge(base: str, resolved: Mapping[str, str], platforms: Sequence[Platform]) -> str:
    """The lock made on this machine (``base``, platforms[0]'s) with what uv resolved for each
    other platform (``resolved``: {platform name: lock text}): a package some platforms lack
    gets a marker, one only others need is added with one, every version's hashes are joined."""
    header, found = entries(base)
    present = {name: {platforms[0].name} for name in found}
    for platform in platforms[1:]:
        for name, entry in entries(resolved[platform.name])[1].items():
            mine = found.setdefault(name, entry)
            if mine.version != entry.version:
                raise UserError(
                    f"{name} is {mine.version or mine.head} here but {entry.version} on "
                    f"{platform.name}: one version cannot serve both"
                )
            mine.hashes |= entry.hashes if mine.version else set()
            present.setdefault(name, set()).add(platform.name)
    every = {p.name for p in platforms}
    markers = {n: marker_for(p, platforms) for n, p in present.items() if p != every}
    return render(with_platforms(header, platforms), found, markers)


PLATFORMS_LINE = "# platforms: "  # the header line naming the platforms a lock holds on


def with_platforms(header: str, platforms: Sequence[Platform]) -> str:
    """A lock's header with the line naming ``platforms`` at the end of its first comments."""
    lines = [
        line for line in header.splitlines(keepends=True) if not line.startswith(PLATFORMS_LINE)
    ]
    end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    order = list(PLATFORM_TARGETS)
    names = sorted(
        (p.name for p in platforms),
        key=lambda n: (n not in order, order.index(n) if n in order else 0, n),
    )
    line = f"{PLATFORMS_LINE}{' '.join(names)} (made on {platforms[0].name})\n"
    return "".join([*lines[:end], line, *lines[end:]])


def refusal(lock: Path, here: Platform) -> str:
    """Why ``lock`` must not be installed on ``here``, or "": a lock names the platforms it
    holds on, and a machine outside them would get a half-installed environment."""
    listed = lock_platforms(lock.read_text()) if lock.is_file() else []
    if not listed or here.name in listed:
        return ""
    fix = (
        f"add {here.name} to PLATFORMS in settings.mk and run `make lock`"
        if here.name in PLATFORM_TARGETS
        else "PLATFORMS cannot name it: run `make lock PLATFORMS=` here for a lock of its own"
    )
    return f"{lock} holds on {', '.join(listed)}, not on this machine ({here.name}): {fix}"


def lock_platforms(text: str) -> list[str]:
    """The platforms a lock's header says it holds on (none: a lock for where it was made)."""
    for line in text.splitlines():
        if line.startswith(PLATFORMS_LINE):
            return line.removeprefix(PLATFORMS_LINE).split(" (")[0].split()
    return []


def target_args(platform: Platform) -> list[str]:
    """uv's options that resolve for ``platform``, with the Python of .python-version."""
    return ["--python-platform", str(platform.target), "--python-version", PYTHON_VERSION]


def uv_environment(settings: Settings, page: Path, made_by: str) -> dict[str, str]:
    """The environment of uv's runs for the other platforms, whatever RESOLVER says."""
    uv = replace(settings, resolver="uv")
    return backend.environment(uv, page, UV_CUSTOM_COMPILE_COMMAND=made_by)


@contextmanager
def beside(
    settings: Settings, command: Callable[[Path], list[str]], page: Path, made_by: str, guide: Path
) -> Iterator[Callable[[], dict[str, str]]]:
    """uv's compile for each other platform of PLATFORMS, started at once, beside this machine's
    compile: ``command(output)`` resolves the same inputs, not held to any pin, each run guided
    by the pins of ``guide`` (the lock's scratch copy, which guides this machine's run too).
    Yields ``finished()``: waits for them and returns {platform name: lock text} of those that
    succeeded, for ``cover`` to take where they agree with this machine's pins. Where they
    agree (the usual case), the platforms cost no time of their own; a run still going when the
    block ends is stopped."""
    if not settings.platforms:
        yield dict
        return
    env = uv_environment(settings, page, made_by)
    # The pins alone: uv keeps the hashes an output file lists for a version it keeps, and
    # those are this machine's files, not the platform's.
    pins = pin_lines(read_pins(guide).items())
    with tempfile.TemporaryDirectory(prefix="platforms.") as scratch:
        runs = {}
        for platform in covered(settings)[1:]:
            output = Path(scratch, f"{platform.name}.txt")
            output.write_text(pins)
            argv = [*command(output), *target_args(platform)]
            quiet = subprocess.DEVNULL
            runs[platform.name] = (
                output,
                subprocess.Popen(argv, env=env, stdout=quiet, stderr=quiet),
            )

        def finished() -> dict[str, str]:
            return {name: out.read_text() for name, (out, run) in runs.items() if run.wait() == 0}

        try:
            yield finished
        finally:
            for _, run in runs.values():
                run.kill()
                run.wait()


def agrees(base: Mapping[str, Entry], other: Mapping[str, Entry]) -> bool:
    """True when every package of ``base`` that ``other`` pins too has the same version there
    (a direct reference: the same URL)."""
    for name, mine in base.items():
        theirs = other.get(name)
        if theirs is not None and (mine.version or mine.head) != (theirs.version or theirs.head):
            return False
    return True


def cover(
    settings: Settings,
    base: str,
    command: Callable[[Path], list[str]],
    page: Path,
    made_by: str,
    again: Callable[[str], bool] = lambda output: False,
    early: Mapping[str, str] | None = None,
) -> str:
    """``base`` (the lock this machine's compile wrote) made to hold on every platform of
    PLATFORMS. A platform's run from ``beside`` (``early``: {platform name: lock text}) that
    agrees with every pin of ``base`` is taken as it is; for each other platform,
    ``command(output)``, uv's compile of the same inputs into ``output`` (see
    backend.compile_command), is run, all at once, held to ``base``'s pins. The results are
    merged. A run that fails is run again while ``again(its output)`` says so (the cooldown
    exempted a package its index gives no upload times for, cooldown.py)."""
    if not settings.platforms:
        return base
    platforms = covered(settings)
    _, found = entries(base)
    resolved = {
        name: text for name, text in (early or {}).items() if agrees(found, entries(text)[1])
    }
    held = pin_lines((e.name, e.version) for e in found.values() if e.version)
    BUILD.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD, prefix=".platforms.") as scratch:
        pins = Path(scratch, "pins.txt")
        pins.write_text(held)
        env = uv_environment(settings, page, made_by)

        def start(platform: Platform) -> tuple[Path, subprocess.Popen[str]]:
            output = Path(scratch, f"{platform.name}.txt")
            argv = [*command(output), "--constraint", str(pins), *target_args(platform)]
            return output, subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )

        runs = {p.name: start(p) for p in platforms[1:] if p.name not in resolved}
        for name, (output, process) in runs.items():
            out, _ = process.communicate()
            while process.returncode != 0 and again(out):
                output, process = start(named(name))
                out, _ = process.communicate()
            if process.returncode != 0:
                raise UserError(
                    f"the lock made here cannot hold on {name} (PLATFORMS): "
                    f"{uv_reason(out)}; loosen the range that holds it in your .in "
                    f"file, or take {name} out of PLATFORMS in settings.mk"
                )
            resolved[name] = output.read_text()
    return merge(base, resolved, platforms)


# What a lock that does not install on a platform of PLATFORMS needs: {name} is the platform.
LOCK_FIX = (
    "Run `make lock` to lock for every platform of PLATFORMS, or take {name} out of PLATFORMS "
    "in settings.mk"
)


def install_problems(
    settings: Settings, locks: Sequence[Path], named: Sequence[Path], fix: str = LOCK_FIX
) -> list[str]:
    """One problem for each platform of PLATFORMS that ``locks`` do not install on: a real
    install of that platform's files into an empty folder, every hash required, nothing built
    or run. ``locks`` are the copies of the locks ``named`` whose release packages are direct
    references to their files (install.exact): ``==3.8.0`` alone would take a ``3.8.0+local``."""
    uv = replace(settings, resolver="uv")
    problems = []
    BUILD.mkdir(exist_ok=True)
    for name in settings.platforms:
        target = PLATFORM_TARGETS[name][0]
        with tempfile.TemporaryDirectory(dir=BUILD, prefix=".platform-check.") as empty:
            command = [str(backend.UV), "pip", "install", "--quiet", "--no-config"]
            command += ["--no-build", "--require-hashes", "--python-platform", target]
            command += ["--python-version", PYTHON_VERSION, "--target", empty]
            command += ["--python", sys.executable]
            command += [arg for lock in locks for arg in ("-r", str(lock))]
            result = subprocess.run(
                command, env=backend.environment(uv), capture_output=True, text=True, check=False
            )
        if result.returncode != 0:
            problems.append(platform_failure(name, named, result.stderr + result.stdout, fix))
    return problems


def platform_failure(name: str, locks: Sequence[Path], output: str, fix: str = LOCK_FIX) -> str:
    """One line for a lock that does not install on platform ``name``, naming the package."""
    flat = " ".join(mask_url(output).split())  # uv wraps its lines to the terminal's width
    if found := re.search(r"no trusted hash was provided for: ((?:`[^`]+`(?:, )?)+)", flat):
        what = f"it needs {found[1].replace('`', '')}, which the lock does not pin"
    elif found := re.search(r"Hash mismatch for `([^`]+)`", flat):
        what = f"the file of {found[1]} there has a hash the lock does not list"
    elif found := re.search(r"Because (\S+) has no wheels with a matching platform tag", flat):
        what = f"{found[1]} has no wheel for it, and nothing is built to check a lock"
    else:
        what = flat.removeprefix("error: ")[:300] or "uv failed"
    files = " and ".join(map(str, locks))
    return f"{files} do not install on {name} (PLATFORMS): {what}. {fix.format(name=name)}"
