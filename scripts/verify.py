"""Check a compiled requirements.txt on its own, so CI and a reviewer can trust any commit.

Every requirement must be pinned with ``==`` and carry hashes; no line may name a package source
(--find-links, --index-url, --extra-index-url, --trusted-host) or hold a credential; and every
release package (one with an asset on the links page) must be pinned to a version the releases
offer, with exactly the hashes of the release files. The .in files are searched for credentials
too. Whether requirements.txt is what the .in files compile to now is `compile.py --check`'s job;
`make verify` runs both.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

import common
from model_links import Asset, read_manifest
from release_files import (
    FILES_DIR,
    MANIFEST,
    by_project,
    ensure_cached,
    installable_files,
    offered,
    release_hashes,
    wanted_pinned,
)

INPUTS = (
    Path("requirements.in"),
    Path("requirements-model.in"),
    Path("requirements-dev.in"),
    Path("requirements-model.in.raw"),
)
SOURCE_OPTIONS = ("-f", "--find-links", "-i", "--index-url", "--extra-index-url", "--trusted-host")
# user:password@ in a URL, and the token formats of GitHub, GitLab and PyPI.
CREDENTIAL = re.compile(
    r"://[^/\s:@]+:[^/\s@]+@|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
    r"|glpat-[\w-]{20,}|pypi-[\w-]{50,})"
)
EXAMPLES = """\
examples:
  python scripts/verify.py                      # requirements.txt, requirements.in
  python scripts/verify.py other.txt --in other.in
"""


def credential_problems(path: Path) -> list[str]:
    """One problem per line of ``path`` that holds a credential (never quoting it)."""
    if not path.is_file():
        return []
    return [
        f"{path}:{number}: holds a credential (a password in a URL or an access token); "
        "remove it and pass it through FIND_LINKS, GITHUB_TOKEN or ~/.netrc instead"
        for number, text in enumerate(path.read_text().splitlines(), start=1)
        if CREDENTIAL.search(text)
    ]


def input_problems(path: Path) -> list[str]:
    """Problems of an input file (an .in file, the .raw file): a credential anywhere in it, or
    an option that names a package source, which would be used silently and then committed."""
    problems = credential_problems(path)
    if path.suffix != ".in" or not path.is_file():
        return problems
    for line in common.read_requirement_lines(path):
        if line.option in SOURCE_OPTIONS:
            problems.append(
                f"{path}:{line.number}: names a package source ({line.option}); sources belong in "
                "FIND_LINKS or your pip config, never in a committed file: remove the line"
            )
    return problems


def release_problems(
    path: Path, line: common.Line, releases: dict[Version, list[Asset]], sums: dict[str, str]
) -> list[str]:
    """Problems with one pinned release package: a version or hashes not from the releases."""
    name, version = line.pin() or ("", "")
    where = f"{path}:{line.number}: {name}=={version}"
    files = releases.get(Version(version))
    if files is None:
        return [
            f"{where} is not a version the releases offer ({offered(name, releases)}); "
            "it came from "
            "another source (an index or find-links location). Pin a range the releases offer "
            "in requirements.in, then run `make lock`"
        ]
    files = installable_files(files)
    problems = [
        f"{FILES_DIR / a.filename}: its sha256 is not the one recorded when it was downloaded "
        f"(it was changed since); delete it and run `make sync` to fetch it again and reinstall"
        for a in files
        if (FILES_DIR / a.filename).is_file()
        and common.sha256_file(FILES_DIR / a.filename) != (a.sha256 or sums.get(a.filename))
    ]
    expected = release_hashes(files, sums)
    if set(line.hashes) != expected:
        problems.append(
            f"{where} carries hashes {sorted(set(line.hashes) - expected) or 'missing some'} "
            f"where the release files have exactly {sorted(expected)}; "
            "run `make lock` (never edit hashes by hand)"
        )
    return problems


SEAL = "# lock sha256: "  # the digest of the rest of the lock, recorded when make wrote it


def seal(text: str) -> str:
    """``text`` (a compiled lock) with a ``# lock sha256:`` line recording the digest of the rest,
    after its header's inputs line: any later change to the file shows."""
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(SEAL)]
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# inputs (")), len(lines))
    return "".join([*lines[:at], f"{SEAL}{digest}\n", *lines[at:]])


def seal_problems(path: Path) -> list[str]:
    """A problem when the lock at ``path`` was not written by make, or was changed since."""
    text = path.read_text()
    if SEAL not in text:
        return [
            f"{path} has no `{SEAL.strip()}` line, so make did not write it (or an older "
            f"template did): run `make lock` to remake it, keeping its pins, and review "
            f"`git diff {path}`"
        ]
    if seal(text) != text:
        return [
            f"{path} was changed since make wrote it (edited by hand, or merged): restore it "
            f"(`git checkout -- {path}`), or run `make lock` to remake it keeping its pins, and "
            f"review `git diff {path}`"
        ]
    return []


def check(path: Path, assets: list[Asset], sums: dict[str, str]) -> list[str]:
    """Every problem in the compiled requirements file at ``path``, one message each; none of
    them needs the network."""
    problems: list[str] = seal_problems(path) + credential_problems(path)
    index = by_project(assets)
    for line in common.read_requirement_lines(path):
        if line.is_option:
            if line.option in SOURCE_OPTIONS:
                problems.append(
                    f"{path}:{line.number}: names a package source ({line.option}); sources "
                    "belong in FIND_LINKS or pip's config, never in the file: run `make lock`"
                )
            continue
        try:
            req = line.requirement(path)
        except common.UserError as exc:
            problems.append(str(exc))
            continue
        pin = line.pin()
        if req.url or pin is None:
            problems.append(
                f"{path}:{line.number}: {line.text} is not pinned with == to a version; "
                "run `make lock`"
            )
        elif not line.hashes:
            problems.append(f"{path}:{line.number}: {line.text} has no --hash; run `make lock`")
        elif canonicalize_name(req.name) in index:
            problems += release_problems(path, line, index[canonicalize_name(req.name)], sums)
    return problems


@common.guarded
def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser(__doc__, EXAMPLES)
    parser.add_argument(
        "requirements", nargs="*", type=Path, default=[Path("requirements.txt")],
        help="compiled requirement files (default: requirements.txt)",
    )  # fmt: skip
    parser.add_argument(
        "--in",
        dest="sources",
        type=Path,
        action="append",
        help="an input file to search for credentials and source options (default: "
        "requirements.in, requirements-model.in, requirements-dev.in, requirements-model.in.raw)",
    )
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    problems: list[str] = []
    try:
        assets = read_manifest(args.manifest) if args.manifest.is_file() else []
        for lock in args.requirements:
            if not lock.is_file():
                raise common.UserError(f"{lock} is missing: run `make {lock}`")
            sums = ensure_cached(wanted_pinned(lock, assets), FILES_DIR, quiet=True)
            problems += check(lock, assets, sums)
        for source in args.sources or INPUTS:
            problems += input_problems(source)
    except common.UserError as exc:
        return common.error(str(exc))
    for problem in problems:
        common.error(problem)
    if problems:
        return 1
    if not args.quiet:
        names = " and ".join(str(lock) for lock in args.requirements)
        print(f"verify: {names} pinned, hashed and free of sources and secrets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
