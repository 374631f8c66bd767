"""Compile requirements.txt from requirements.in and requirements-model.in: pinned, hashed, safe.

pip-compile runs with every source the workflow uses (the links page, build/wheels, FIND_LINKS,
and the user's own pip configuration) but writes none of them into the file, and its header names
`make requirements.txt`. Release packages (those with an asset on the links page) are held to the
releases: no version above the newest release, and wheels only, so an sdist of the same name on
an index is never built; their hashes are set to exactly those of the release files. The result
passes verify.check before it replaces requirements.txt; on any failure the old file stays.

When an edit to requirements.in conflicts with a pin already in requirements.txt (say
``spacy<3.8`` while a model built for 3.8 is pinned), the packages in the conflict are
re-resolved; when no resolution exists, the message names the conflict and what to run.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

import common
import model_links
import verify
from model_links import Asset, read_manifest, wanted_requirements, write_links_page
from release_files import (
    FILES_DIR,
    MANIFEST,
    by_project,
    ensure_cached,
    installable_files,
    offered,
    release_hashes,
)

SOURCES = (Path("requirements.in"), Path("requirements-model.in"))
OUTPUT = Path("requirements.txt")
# The test tools' layer: requirements-dev.in starts with `-c requirements.txt`.
DEV_SOURCES = (Path("requirements-dev.in"), OUTPUT)
DEV_OUTPUT = Path("requirements-dev.txt")
CONSTRAINTS = Path("build/release-constraints.txt")
RELEASE_INPUT = Path("build/release-requirements.in")
EXAMPLES = """\
examples:
  python scripts/compile.py                       # requirements.txt from the .in files
  python scripts/compile.py --upgrade             # newest versions the ranges allow
  PACKAGES="spacy en_core_web_sm" python scripts/compile.py --upgrade
  python scripts/compile.py --dev                 # requirements-dev.txt (the test tools)
  python scripts/compile.py --check               # are both locks up to date?
"""


Index = dict[str, dict[Version, list[Asset]]]  # {project: {version: its release files}}


class CompileFailed(common.UserError):
    """pip-compile failed; ``conflict`` names the packages of a ResolutionImpossible."""

    def __init__(self, message: str, conflict: set[str]) -> None:
        super().__init__(message)
        self.conflict = conflict


def release_names(paths: Sequence[Path], index: dict[str, dict[Version, list[Asset]]]) -> set[str]:
    """The release packages the requirement files at ``paths`` name (or pin)."""
    return set(wanted_requirements(paths)) & index.keys()


def write_constraints(names: set[str], index: dict[str, dict[Version, list[Asset]]]) -> None:
    """Hold each release package at or below its newest release: an index's 999.9.9 never wins."""
    lines = [f"{name}<={max(index[name])}\n" for name in sorted(names)]
    header = "# Made by scripts/compile.py: release packages stay within their releases.\n"
    common.atomic_write_text(CONSTRAINTS, header + "".join(lines))


def conflicts(stderr: str) -> list[tuple[str, str, str | None]]:
    """(name, specifier, parent file or None) for each requirement in pip's ResolutionImpossible."""
    found: list[tuple[str, str, str | None]] = []
    for match in re.finditer(
        r"SpecifierRequirement\('([A-Za-z0-9._-]+)([^']*)'\), parent=(?:None|\w+\('([^']*)')",
        stderr,
    ):
        parent = match.group(3)
        if parent:
            parent = parent.split("#")[0].split(" ")[0].rsplit("/", 1)[-1]
        found.append((canonicalize_name(match.group(1)), match.group(2), parent))
    return found


def conflict_names(found: list[tuple[str, str, str | None]]) -> set[str]:
    """The packages in a conflict: each requirement's name and each requiring file's project."""
    names = {name for name, _, _ in found}
    for _, _, parent in found:
        if not parent:
            continue
        parse = parse_wheel_filename if parent.endswith(".whl") else parse_sdist_filename
        try:
            names.add(canonicalize_name(parse(parent)[0]))
        except ValueError:  # not a file name: pip named the candidate some other way
            continue
    return names


def model_range(spacy_spec: str, name: str, versions: Sequence[Version]) -> str:
    """The range of model ``name`` built for the spaCy versions ``spacy_spec`` allows, or "".

    spaCy's models are built for one spaCy minor version: model 3.8.x needs spacy 3.8.x.
    """
    spec = SpecifierSet(spacy_spec)
    minors = sorted(
        (v.major, v.minor)
        for v in set(versions)
        if any(spec.contains(f"{v.major}.{v.minor}.{patch}", True) for patch in range(20))
    )
    if not minors:
        return ""
    (low_major, low_minor), (high_major, high_minor) = minors[0], minors[-1]
    return f"{name}>={low_major}.{low_minor}.0,<{high_major}.{high_minor + 1}.0"


def explain(stderr: str, index: Index, sources: Sequence[Path]) -> CompileFailed:
    """Turn pip-compile's output into one message (no traceback), naming file, line or package."""
    found = conflicts(stderr)
    match = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)", stderr)
    missing = match.group(1) if match else None
    # A release package whose range holds no release: pip says "no match", or, since the
    # release constraint takes part, reports a conflict.
    for name, spec, parent in found:
        releases = index.get(name, {}) if parent is None else {}
        if missing is None and releases and not list(SpecifierSet(spec).filter(releases, True)):
            missing = name
    if missing:
        name = canonicalize_name(missing)
        where = str(sources[0])
        for path in sources:
            if path.is_file():
                for line in common.read_requirement_lines(path):
                    if not line.is_option and name in line.text.lower().replace("_", "-"):
                        where = f"{path}:{line.number}"
        if name in index:
            return CompileFailed(
                f"{where}: no release of {name} is in the range asked for "
                f"({offered(name, index[name])}); write a range that holds one of them, or run "
                "`make links` if the release is new",
                set(),
            )
        return CompileFailed(
            f"{where}: no source offers {missing} in the range asked for (looked on "
            "your package indexes, the release links page, build/wheels and FIND_LINKS); check "
            "the name and the range, and run `make links` if it was released since the links "
            "page was made",
            set(),
        )
    if found:
        names = conflict_names(found)
        details = "; ".join(
            f"{parent or sources[0]} requires {name}{spec}" for name, spec, parent in found
        )
        advice = [f"Loosen or change one of these ranges in {sources[0]}"]
        spacy = [spec for name, spec, parent in found if name == "spacy" and parent is None]
        for model in sorted(names & index.keys()):
            if spacy and (fits := model_range(spacy[0], model, sorted(index[model]))):
                advice.append(f"a model is built for one spaCy version: with spacy{spacy[0]}, "
                              f"ask for {fits}")  # fmt: skip
            advice.append(offered(model, index[model]))
        return CompileFailed(
            f"no versions satisfy {sources[0]} together: {details}. " + "; ".join(advice),
            names,
        )
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-3:]
    return CompileFailed("pip-compile failed: " + " | ".join(tail), set())


def check_inputs(sources: Sequence[Path]) -> None:
    """Refuse to compile from input files that name a package source or hold a credential."""
    problems = [p for path in sources if path.suffix == ".in" for p in verify.input_problems(path)]
    problems += verify.input_problems(Path("requirements-model.in.raw"))
    if problems:
        raise common.UserError("\n".join(problems) + "\nnothing was compiled")


def run_pip_compile(
    output: Path,
    only_binary: set[str],
    upgrade: bool,
    packages: Sequence[str],
    index: Index,
    sources: Sequence[Path] = SOURCES,
) -> None:
    """Run pip-compile into ``output`` (whose old content serves as the existing pins)."""
    command = [
        sys.executable, "-m", "piptools", "compile", "--quiet", "--no-config",
        "--generate-hashes", "--allow-unsafe", "--strip-extras",
        "--no-emit-index-url", "--no-emit-find-links", "--no-emit-trusted-host",
        "--output-file", str(output),
    ]  # fmt: skip
    if sources == SOURCES:
        command += ["--constraint", str(CONSTRAINTS)]
    if only_binary:
        command += ["--pip-args", "--only-binary=" + ",".join(sorted(only_binary))]
    if os.environ.get("PRE"):
        command.append("--pre")
    if upgrade and not packages:
        command.append("--upgrade")
    for package in packages:
        command += ["--upgrade-package", package]
    check_inputs(sources)
    command += [str(path) for path in sources if path.is_file() and path.suffix == ".in"]
    if sources == SOURCES:
        command.append(str(RELEASE_INPUT))
    env = common.pip_env(CUSTOM_COMPILE_COMMAND=f"make {output_name(sources)}")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise explain(common.mask_url(result.stderr + result.stdout), index, sources)


def output_name(sources: Sequence[Path]) -> Path:
    """The lock compiled from ``sources``: requirements.txt or requirements-dev.txt."""
    return DEV_OUTPUT if sources == DEV_SOURCES else OUTPUT


def origin(name: str, version: str) -> str:
    """Where pip finds ``name==version`` (masked URL), asking pip for a report; wheels only."""
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps",
        "--ignore-installed", "--only-binary=:all:", "--report", "-", f"{name}=={version}",
    ]  # fmt: skip
    result = subprocess.run(
        command, env=common.pip_env(), capture_output=True, text=True, check=False
    )
    return report_url(result.stdout)


def report_url(report: str) -> str:
    """The (masked) URL of the file a ``pip install --report`` would install."""
    try:
        return common.mask_url(json.loads(report)["install"][0]["download_info"]["url"])
    except (ValueError, LookupError, TypeError):
        return "a package index or find-links location, not the releases"


def set_release_hashes(
    text: str, hashes: dict[str, set[str]], urls: dict[str, list[str]] | None = None
) -> str:
    """Replace the --hash lines of each ``name==version`` in ``hashes`` with exactly its set,
    and record where each of its release files lives (``urls``) as ``# release: URL`` lines:
    a fresh clone fetches them from there, with no API request."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if skipping and line.lstrip().startswith("--hash="):
            continue
        skipping = False
        name = canonicalize_name(re.split(r"[=\s\\\[;]", line, maxsplit=1)[0] or "-")
        if name in hashes and re.match(r"^[A-Za-z0-9._-]+==", line):
            out.append(line.split(" \\")[0].rstrip("\n") + " \\\n")
            block = [f"    --hash=sha256:{h}" for h in sorted(hashes[name])]
            out.append(" \\\n".join(block) + "\n")
            out += [f"    # release: {url}\n" for url in sorted((urls or {}).get(name, []))]
            skipping = True
        else:
            out.append(line)
    return "".join(out)


def kept_pins(upgrade: bool, packages: Sequence[str]) -> dict[str, str]:
    """The pins of requirements.txt a compile keeps while the ranges allow: all but upgraded."""
    if (upgrade and not packages) or not OUTPUT.is_file():
        return {}
    moving = {canonicalize_name(name) for name in packages}
    return {n: v for n, v in common.read_pins(OUTPUT).items() if n not in moving}


def choose_releases(
    names: set[str],
    index: Index,
    specs: dict[str, SpecifierSet],
    keep: dict[str, str],
    tried: dict[str, set[Version]],
) -> dict[str, Asset]:
    """The release file to compile with for each release package in ``names``: of the versions
    its ranges in the .in files (``specs``) allow (any, for one that came in as a dependency)
    and not yet ``tried``, the one ``keep`` pins, else the newest. A package with none left is
    left out, so that pip's own message says why."""
    pre = bool(os.environ.get("PRE"))
    chosen = {}
    for name in sorted(names):
        allowed = [
            version
            for version in specs.get(name, SpecifierSet()).filter(index[name], pre or None)
            if version not in tried.get(name, set())
        ]
        kept = Version(keep[name]) if name in keep else None
        version = kept if kept in allowed else max(allowed, default=None)
        files = installable_files(index[name][version]) if version is not None else []
        if files:
            chosen[name] = sorted(files, key=lambda a: not a.filename.endswith(".whl"))[0]
    return chosen


def write_release_input(chosen: dict[str, Asset]) -> None:
    """Name each chosen release package as a direct reference to its file in build/: pip then
    takes that file and nothing else for the name, so no look-alike on an index or in
    find-links (another version, a local version, a wheel with other tags, an sdist) is ever
    read, let alone built."""
    lines = [
        f"{name} @ {(FILES_DIR / asset.filename).resolve().as_uri()}\n"
        for name, asset in sorted(chosen.items())
    ]
    header = "# Made by scripts/compile.py: each release package is its release file.\n"
    common.atomic_write_text(RELEASE_INPUT, header + "".join(lines))


def unreference(text: str, chosen: dict[str, Asset]) -> str:
    """pip-compile's output with each ``name @ file:...`` of ``chosen`` written ``name==VERSION``
    and no ``-r build/release-requirements.in`` among the reasons it gives."""
    for name, asset in chosen.items():
        text = re.sub(rf"(?m)^{re.escape(name)} @ file:\S+", f"{name}=={asset.version}", text)
    text = re.sub(rf"(?m)^    #   -r {re.escape(str(RELEASE_INPUT))}\n", "", text)
    return re.sub(r"(?m)^    # via\n    #   (\S.*)\n(?!    #   )", r"    # via \1\n", text)


def compile_to(output: Path, upgrade: bool, packages: Sequence[str]) -> None:
    """Compile into ``output`` and make it pass the guard; raise UserError if it cannot.

    Each release package is compiled as a direct reference to a release file (see
    ``write_release_input``): the version its pin keeps while the ranges allow, else the newest.
    When pip finds that version in conflict with another requirement, the next lower one is
    tried, then the non-release packages in the conflict are re-resolved once.
    """
    if not MANIFEST.is_file() and model_links.main(["--pre"] if os.environ.get("PRE") else []):
        raise common.UserError(f"{MANIFEST} could not be made: see above")
    assets = read_manifest(MANIFEST)
    index = by_project(assets)
    names = release_names([*SOURCES, OUTPUT], index)
    keep = kept_pins(upgrade, packages)
    specs = wanted_requirements(SOURCES)
    tried: dict[str, set[Version]] = {}
    conflict_retry = not upgrade and OUTPUT.is_file()
    # Every release package, named or not (one may come in as a dependency): at or below its
    # newest release, and never built from an sdist found elsewhere.
    write_constraints(set(index), index)
    wheel_only = {n for n in index if any(a.filename.endswith(".whl") for a in _all(index[n]))}
    for _ in range(20):
        chosen = choose_releases(names, index, specs, keep, tried)
        ensure_cached(chosen.values(), FILES_DIR)  # pip reads them from build/, once
        write_links_page(assets, common.LINKS_PAGE, FILES_DIR)
        write_release_input(chosen)
        try:
            run_pip_compile(output, wheel_only, upgrade, packages, index)
        except CompileFailed as failure:
            moving = failure.conflict & chosen.keys()
            for name in moving:  # a lower release of each, if its range allows one
                tried.setdefault(name, set()).add(Version(chosen[name].version))
                keep.pop(name, None)
            if moving and choose_releases(moving, index, specs, keep, tried).keys() == moving:
                continue
            if not (conflict_retry and failure.conflict - chosen.keys()):
                raise
            conflict_retry = False  # once: re-resolve the other conflicting packages afresh
            packages = sorted(set(packages) | (failure.conflict - chosen.keys()))
            tried.clear()
            continue
        pinned = release_names([output], index)
        if pinned <= names:
            break
        names |= pinned  # a release package came in as a dependency: hold it too, recompile
    else:
        raise common.UserError(
            f"pip-compile found no resolution in 20 tries (release packages: "
            f"{', '.join(sorted(names))}): narrow the ranges in requirements.in. "
            f"{OUTPUT} was left as it was"
        )
    hashes: dict[str, set[str]] = {}
    urls: dict[str, list[str]] = {}
    text = unreference(output.read_text(), chosen)
    for line in common.read_requirement_lines_of(text):
        name, version = (None if line.is_option else line.pin()) or ("", "")
        if name not in index:
            continue
        if Version(version) not in index[name]:
            raise common.UserError(
                f"{name} resolved to {version}, which the releases do not offer "
                f"({offered(name, index[name])}); it came from {origin(name, version)}. "
                "Pin a range the releases "
                f"offer in requirements.in (e.g. {name}=={max(index[name])}). "
                f"{OUTPUT} was left as it was"
            )
        files = installable_files(index[name][Version(version)])
        hashes[name] = release_hashes(files, ensure_cached(files, FILES_DIR, quiet=True))
        urls[name] = [asset.url for asset in files]
    text = set_release_hashes(text, hashes, urls)
    # --only-binary went to pip for every release package; the lock names those it pins.
    text = re.sub(r"(?m)^--only-binary (\S+)\n", lambda m: m[0] if m[1] in hashes else "", text)
    common.atomic_write_text(output, record_inputs(text, SOURCES))
    sums = common.read_sha256sums(FILES_DIR / "SHA256SUMS")
    guard(output, OUTPUT, assets, sums)


def compile_dev_to(output: Path, upgrade: bool, packages: Sequence[str] = ()) -> None:
    """Compile requirements-dev.in into ``output``, held to requirements.txt's pins; with
    ``upgrade``, to the newest versions its ranges allow (only ``packages``, when given)."""
    if not OUTPUT.is_file():
        raise common.UserError(f"{OUTPUT} is missing: run `make requirements.txt` first")
    assets = read_manifest(MANIFEST) if MANIFEST.is_file() else []
    run_pip_compile(output, set(), upgrade, packages, by_project(assets), DEV_SOURCES)
    common.atomic_write_text(output, record_inputs(output.read_text(), DEV_SOURCES))
    guard(output, DEV_OUTPUT, assets, common.read_sha256sums(FILES_DIR / "SHA256SUMS"))


def guard(output: Path, name: Path, assets: list[Asset], sums: dict[str, str]) -> None:
    """Raise UserError listing every problem verify.check finds in ``output`` (to be ``name``)."""
    problems = verify.check(output, assets, sums)
    if problems:
        raise common.UserError(
            "\n".join(p.replace(str(output), str(name)) for p in problems)
            + f"\n{name} was left as it was"
        )


def inputs_line(sources: Sequence[Path]) -> str:
    """The header line that records the digest of ``sources`` (without the digest)."""
    return f"# inputs ({', '.join(str(path) for path in sources)}) sha256: "


def inputs_digest(sources: Sequence[Path]) -> str:
    """A sha256 over what a lock is compiled from: its input files, the Python it is compiled
    with (and so for), and PRE for the main one."""
    python = f"PYTHON={sys.version_info.major}.{sys.version_info.minor}\n"
    digest = hashlib.sha256(f"{python}PRE={os.environ.get('PRE', '')}\n".encode())
    if sources == DEV_SOURCES:
        digest = hashlib.sha256(python.encode())
    for path in sources:
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def record_inputs(text: str, sources: Sequence[Path]) -> str:
    """Put the inputs' digest in the header of pip-compile's output (after its first block),
    then seal it (verify.seal): a later hand edit shows."""
    header, _, rest = text.partition("\n\n")
    return verify.seal(f"{header}\n{inputs_line(sources)}{inputs_digest(sources)}\n\n{rest}")


def up_to_date(sources: Sequence[Path]) -> bool:
    """True when the lock of ``sources`` records the digest of its inputs as they are now."""
    lock = output_name(sources)
    recorded = f"{inputs_line(sources)}{inputs_digest(sources)}\n"
    return lock.is_file() and recorded in lock.read_text() and not verify.seal_problems(lock)


def _all(versions: dict[Version, list[Asset]]) -> list[Asset]:
    return [asset for files in versions.values() for asset in files]


@common.guarded
def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(__doc__, EXAMPLES)
    parser.add_argument(
        "-U", "--upgrade", action="store_true",
        help="re-pin to the newest versions the ranges allow (only PACKAGES when set)",
    )  # fmt: skip
    parser.add_argument(
        "--dev", action="store_true",
        help="compile requirements-dev.txt (the test tools) instead of requirements.txt",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="compile both locks into temporary files and fail if either differs",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    packages = os.environ.get("PACKAGES", "").split() if args.upgrade else []
    sources = DEV_SOURCES if args.dev else SOURCES
    lock = output_name(sources)
    try:
        if not Path("requirements.in").is_file():
            raise common.UserError("requirements.in is missing: this is not a template checkout?")
        if args.check:
            return check_locks()
        if not args.upgrade and up_to_date(sources):
            if any(
                path.is_file() and path.stat().st_mtime > lock.stat().st_mtime for path in sources
            ):
                os.utime(lock)  # newer than its inputs again, so make is satisfied too
            if not args.quiet:
                print(f"compile: {lock} is up to date with its inputs")
            return 0
        with scratch_copy(lock) as temp:
            if args.dev:
                compile_dev_to(temp, args.upgrade, packages)
            else:
                compile_to(temp, args.upgrade, packages)
            temp.chmod(0o644)
            os.replace(temp, lock)
    except common.UserError as exc:
        return common.error(str(exc))
    if not args.quiet:
        print(f"compile: wrote {lock}")
    return 0


@contextmanager
def scratch_copy(lock: Path) -> Iterator[Path]:
    """A temporary copy of ``lock`` in build/ (its pins guide pip-compile), removed afterwards."""
    Path("build").mkdir(exist_ok=True)
    handle, name = tempfile.mkstemp(dir="build", prefix=f".{lock.stem}.", suffix=".txt")
    os.close(handle)
    temp = Path(name)
    try:
        if lock.is_file() and not verify.seal_problems(lock):
            shutil.copyfile(lock, temp)
        elif lock.is_file():  # changed by hand: keep its pins, and nothing else of it
            pins = common.read_pins(lock)
            temp.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def check_locks() -> int:
    """Exit status 0 when requirements.txt (and requirements-dev.txt, if made) are what their
    .in files compile to now."""
    if not OUTPUT.is_file():
        raise common.UserError(f"{OUTPUT} is missing: run `make requirements.txt`")
    status = 0
    with scratch_copy(OUTPUT) as temp:
        compile_to(temp, False, [])
        status |= check_same(temp, OUTPUT)
    if DEV_OUTPUT.is_file() and DEV_SOURCES[0].is_file():
        with scratch_copy(DEV_OUTPUT) as temp:
            compile_dev_to(temp, False)
            status |= check_same(temp, DEV_OUTPUT)
    return status


def check_same(compiled: Path, lock: Path) -> int:
    """Exit status 0 when ``lock`` equals what its .in files compile to now (``compiled``)."""
    old, new = lock.read_text(), compiled.read_text()
    if old == new:
        print(f"compile: {lock} is up to date")
        return 0
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), str(lock), "compiled now", lineterm=""
    )
    print("\n".join(diff), file=sys.stderr)
    return common.error(
        f"{lock} is not what its .in files compile to now (edited by hand, or an .in file "
        f"changed): run `make {lock}` and commit the result"
    )


if __name__ == "__main__":
    raise SystemExit(main())
