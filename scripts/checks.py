"""The offline checks of the inputs and of a lock: what `make verify` and every sync rely on.

An input (an .in file, the .raw file) may name no package source and hold no credential. A lock
must be sealed by make and unchanged since, every requirement pinned with ``==`` and hashed, no
source and no credential in it, and each release package pinned to a version the releases offer
with exactly the hashes of its release files, those files unchanged since they were fetched.
None of it needs the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from .assets import Asset, by_project, installable_files, offered, release_hashes
from .cache import holds
from .errors import UserError
from .requirements import SEAL, Line, read_lines, read_lines_of, seal
from .settings import RELEASE_FILES

SOURCE_OPTIONS = ("-f", "--find-links", "-i", "--index-url", "--extra-index-url", "--trusted-host")
# user:password@ in a URL, and the token formats of GitHub, GitLab and PyPI.
CREDENTIAL = re.compile(
    r"://[^/\s:@]+:[^/\s@]+@|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
    r"|glpat-[\w-]{20,}|pypi-[\w-]{50,})"
)


def credential_problems(path: Path, text: str | None = None) -> list[str]:
    """One problem per line of ``path`` (or of ``text``, to be written there) that holds a
    credential (never quoting it)."""
    if text is None and not path.is_file():
        return []
    text = path.read_text() if text is None else text
    return [
        f"{path}:{number}: holds a credential (a password in a URL or an access token); "
        "remove it and pass it through FIND_LINKS, GITHUB_TOKEN or ~/.netrc instead"
        for number, line in enumerate(text.splitlines(), start=1)
        if CREDENTIAL.search(line)
    ]


def input_problems(paths: Sequence[Path]) -> list[str]:
    """Problems of input files (.in files, the .raw file): a credential anywhere in them, or an
    option that names a package source, which would be used silently and then committed."""
    problems = []
    for path in paths:
        problems += credential_problems(path)
        for line in read_lines(path) if path.suffix == ".in" else []:
            if line.option in SOURCE_OPTIONS:
                problems.append(
                    f"{path}:{line.number}: names a package source ({line.option}); sources "
                    "belong in FIND_LINKS or your pip config, never in a committed file: remove "
                    "the line"
                )
    return problems


def seal_problems(path: Path, text: str | None = None) -> list[str]:
    """A problem when the lock at ``path`` (or ``text``, to be written there) was not written by
    make, or was changed since."""
    text = path.read_text() if text is None else text
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


def release_problems(
    path: Path,
    line: Line,
    releases: dict[Version, list[Asset]],
    sums: Mapping[str, str],
    rehash: bool = False,
) -> list[str]:
    """Problems with one pinned release package: a version or hashes not from the releases, a
    release file changed since it was fetched (hashed again only where its stamp does not prove
    it unchanged, or with ``rehash``: see cache.holds)."""
    name, version = line.pin() or ("", "")
    where = f"{path}:{line.number}: {name}=={version}"
    files = releases.get(Version(version))
    if files is None:
        return [
            f"{where} is not a version the releases offer ({offered(name, releases)}); it came "
            "from another source (an index or find-links location). Pin a range the releases "
            "offer in requirements.in, then run `make lock`"
        ]
    files = installable_files(files)
    problems = [
        f"{RELEASE_FILES / a.filename}: its sha256 is not the one recorded when it was "
        "downloaded (it was changed since); delete it and run `make sync` to fetch it again and "
        "reinstall"
        for a in files
        if (RELEASE_FILES / a.filename).is_file()
        and not holds(a.filename, a.sha256 or sums.get(a.filename), rehash)
    ]
    expected = release_hashes(files, sums)
    if set(line.hashes) != expected:
        problems.append(
            f"{where} carries hashes {sorted(set(line.hashes) - expected) or 'missing some'} "
            f"where the release files have exactly {sorted(expected)}; "
            "run `make lock` (never edit hashes by hand)"
        )
    return problems


def lock_problems(
    path: Path,
    assets: Sequence[Asset],
    sums: Mapping[str, str],
    rehash: bool = False,
    text: str | None = None,
) -> list[str]:
    """Every problem in the compiled lock at ``path`` (or in ``text``, about to be written
    there), one message each; with ``rehash`` every release file is hashed again (`make
    verify`), else only those not provably unchanged."""
    if text is None and not path.is_file():
        raise UserError(f"{path} is missing: run `make {path}`")
    text = path.read_text() if text is None else text
    problems: list[str] = seal_problems(path, text) + credential_problems(path, text)
    index = by_project(assets)
    for line in read_lines_of(text):
        if line.is_option:
            if line.option in SOURCE_OPTIONS:
                problems.append(
                    f"{path}:{line.number}: names a package source ({line.option}); sources "
                    "belong in FIND_LINKS or pip's config, never in the file: run `make lock`"
                )
            continue
        try:
            req = line.requirement(path)
        except UserError as exc:
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
            releases = index[canonicalize_name(req.name)]
            problems += release_problems(path, line, releases, sums, rehash)
    return problems
